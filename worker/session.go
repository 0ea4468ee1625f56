package worker

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/domain/credit"
	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/rateplan"
	"github.com/roamnode/roamnode/domain/roamingcost"
	"github.com/roamnode/roamnode/domain/session"
)

// TaskDropoutPrune deletes resolved drop-out cases older than the
// retention (hourly). Charge sessions themselves are not tasks: the
// worker's lanes claim them from Postgres in batches (session_drain.go).
const TaskDropoutPrune = "session:prune-dropouts"

// SessionOptions configure the pipeline.
type SessionOptions struct {
	// Schedule is the delays between match attempts (default
	// session.DefaultSchedule).
	Schedule session.Schedule
	// Thresholds are the default validity thresholds.
	Thresholds session.Thresholds
	// Lanes is how many batches the worker processes at once (default 12;
	// at most half the pool's connections: a lane holds one for its batch
	// and reads on another, so more lanes could hold every connection and
	// wait for one forever).
	Lanes int
	// Batch is how many due sessions a lane claims and commits in one
	// transaction (default 16).
	Batch int
	// IdlePoll is how often an idle lane looks for due sessions when no
	// wake-up arrives (default 250 ms): retries coming due, and sessions
	// whose wake-up was lost with Redis.
	IdlePoll time.Duration
	// PruneBatch is how many resolved drop-out cases a prune deletes per
	// statement (default 1000).
	PruneBatch int
	// DropoutRetention is how long resolved drop-out cases are kept for
	// traceability (default DefaultDropoutRetention).
	DropoutRetention time.Duration
	// Pricing turns on the node's pricers (NodePricers): sessions go on
	// from ready_for_pricing to priced. Off (tests and benchmarks of the
	// earlier steps), the pipeline ends at ready_for_pricing.
	Pricing bool
	// Pricers, when not nil, replace the node's pricers (tests).
	Pricers map[session.Side][]session.Pricer
}

// NodePricers are the pricers the node runs per side (issue 6): MSP
// pricing on the MSP side; roaming cost and reimbursement on the CPO side.
// Each capability adds its pricer here in one line.
func NodePricers(d Deps) map[session.Side][]session.Pricer {
	return map[session.Side][]session.Pricer{
		session.MSP: {credit.Pricer{MSP: rateplan.Pricer{Loader: db.NewMSPPricingLoader(d.Pool, thresholdTTL)}, Store: db.CreditStore{Pool: d.Pool}}},
		session.CPO: {roamingcost.Pricer{Loader: db.RoamingCostLoader{Pool: d.Pool}}, db.ReimbursementPricer{Pool: d.Pool, VAT: db.NewVATCache(thresholdTTL)}},
	}
}

// thresholdTTL is how long the worker reuses threshold overrides: a change
// made through the Admin API applies to sessions validated a few seconds
// later.
const thresholdTTL = 5 * time.Second

// DefaultDropoutRetention keeps resolved drop-out cases for 90 days.
const DefaultDropoutRetention = 90 * 24 * time.Hour

// Sessions registers the charge-session lanes (session_drain.go), which
// run for as long as the worker does, and the hourly prune of resolved
// drop-out cases.
func Sessions(o SessionOptions) Registration {
	return func(d Deps, mux *asynq.ServeMux, sched *asynq.Scheduler) error {
		p := NewSessionProcessor(d, o)
		mux.HandleFunc(TaskDropoutPrune, func(ctx context.Context, _ *asynq.Task) error {
			n, err := p.PruneDropouts(ctx, time.Now())
			if n > 0 {
				d.Log.Info("resolved drop-out cases pruned", "count", n)
			}
			return err
		})
		if _, err := sched.Register("@every 1h", asynq.NewTask(TaskDropoutPrune, nil), asynq.Unique(55*time.Minute), asynq.MaxRetry(0)); err != nil {
			return err
		}
		return d.Loop(p.Drain)
	}
}

// SessionProcessor runs pipeline steps, in batches (Drain) or for one
// session (Process).
type SessionProcessor struct {
	d        Deps
	pipeline session.Pipeline
	o        SessionOptions
	// backoff holds the sessions whose processing failed on their own.
	backoff *backoff
	// cursor is where the lanes claim fresh sessions from.
	cursor *cursor
	// kick wakes the push worker for a CDR published by a pricing commit.
	kick *PushKicker
	// now is the clock (tests may set it).
	now func() time.Time
	// claimsFailing is set while the lanes' claims fail (Postgres down), so
	// that the outage is logged once, not by every lane at every poll.
	claimsFailing atomic.Bool
}

// NewSessionProcessor returns a processor on d's Postgres and Redis.
func NewSessionProcessor(d Deps, o SessionOptions) *SessionProcessor {
	if o.Lanes <= 0 {
		o.Lanes = 12
	}
	if d.Pool != nil {
		o.Lanes = max(1, min(o.Lanes, int(d.Pool.Config().MaxConns)/2))
	}
	if o.Batch <= 0 {
		o.Batch = 16
	}
	if o.IdlePoll <= 0 {
		o.IdlePoll = 250 * time.Millisecond
	}
	if o.PruneBatch <= 0 {
		o.PruneBatch = 1000
	}
	if len(o.Schedule) == 0 {
		o.Schedule = session.DefaultSchedule
	}
	if o.Thresholds == (session.Thresholds{}) {
		o.Thresholds = session.DefaultThresholds
	}
	if o.DropoutRetention <= 0 {
		o.DropoutRetention = DefaultDropoutRetention
	}
	pricers := o.Pricers
	if pricers == nil && o.Pricing {
		pricers = NodePricers(d)
	}
	return &SessionProcessor{d: d, o: o, backoff: newBackoff(), cursor: &cursor{}, now: time.Now,
		kick: NewPushKicker(d.Redis, d.Log),
		pipeline: session.Pipeline{Matcher: db.SessionMatcher{Pool: d.Pool}, Lookup: db.SessionLookup{Pool: d.Pool, Cache: db.NewThresholdCache(thresholdTTL)},
			Schedule: o.Schedule, Defaults: o.Thresholds, Pricers: pricers, Credited: db.CreditLookup{Pool: d.Pool}}}
}

// Pipeline is the processor's pipeline (its pricers price quotes through
// the same code path as sessions).
func (p *SessionProcessor) Pipeline() session.Pipeline { return p.pipeline }

// maxSteps bounds how many steps run back to back on one session (match,
// then validation, then later steps): enough for the whole pipeline.
const maxSteps = 8

// Process runs the steps owed on one session now, each committed in its
// own transaction (repricing, and the sessions of a batch that failed:
// session_drain.go). A session that is not pending, not yet due, or gone
// is left alone, so a duplicate or stale call is harmless.
func (p *SessionProcessor) Process(ctx context.Context, id uuid.UUID) error {
	rec, err := db.ChargeSession(ctx, p.d.Pool, id)
	if fault.Is(err, fault.KindNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	kicks, _, err := p.advance(ctx, p.d.Pool, false, rec)
	p.kickCDRs(ctx, kicks)
	return err
}

// deferredStep is a step computed in a batch whose commit must run in a
// transaction of its own (db.CommitsAlone), after the batch's.
type deferredStep struct {
	rec db.ChargeSessionRecord
	o   session.Outcome
	now time.Time
}

// advance runs the steps owed on rec for as long as the next one is due,
// each committed through c. In a batch (c is the batch's transaction) a
// step whose commit locks shared rows is not committed but returned, for
// the caller to commit after the batch. It returns the CPO sessions it priced, whose
// CDRs are pushed once c has committed. A match miss stops at its next
// attempt, which the lanes claim when it is due.
func (p *SessionProcessor) advance(ctx context.Context, c db.Conn, batch bool, rec db.ChargeSessionRecord) ([]session.ChargeSession, *deferredStep, error) {
	var kicks []session.ChargeSession
	for range maxSteps {
		now := p.now().UTC()
		if !p.pipeline.Owes(rec.ChargeSession) || (rec.NextAttemptAt != nil && rec.NextAttemptAt.After(now)) {
			return kicks, nil, nil
		}
		o, err := p.pipeline.Step(ctx, rec.ChargeSession, now)
		if err != nil {
			return kicks, nil, err
		}
		if batch && db.CommitsAlone(rec, o) {
			return kicks, &deferredStep{rec: rec, o: o, now: now}, nil
		}
		out, committed, err := db.CommitRecordStep(ctx, c, rec, o, now)
		if err != nil {
			return kicks, nil, err
		}
		if !committed {
			// Someone moved the session on first (an operator, another
			// worker), or a charge credit's balance changed under the
			// price: look it up again.
			rec, err = db.ChargeSession(ctx, c, rec.ID)
			if fault.Is(err, fault.KindNotFound) {
				return kicks, nil, nil
			}
			if err != nil {
				return kicks, nil, err
			}
			continue
		}
		rec = out
		if out.State == session.Priced && out.Side == session.CPO {
			kicks = append(kicks, out.ChargeSession)
		}
	}
	return kicks, nil, nil
}

// pricedSides are the sides whose ready_for_pricing sessions are owed the
// pricing step.
func (p *SessionProcessor) pricedSides() []session.Side {
	var out []session.Side
	for _, side := range []session.Side{session.MSP, session.CPO} {
		if p.pipeline.Prices(side) {
			out = append(out, side)
		}
	}
	return out
}

// Reprice prices a priced session again now, through the pipeline's
// pricers, and appends version n+1 of each result with reason (older
// versions are kept). Sessions not priced yet are left to the pipeline.
func (p *SessionProcessor) Reprice(ctx context.Context, id uuid.UUID, reason string) error {
	if _, requested, err := db.Reprice(ctx, p.d.Pool, id, reason, p.now()); err != nil || !requested {
		return err
	}
	return p.Process(ctx, id)
}

// PruneDropouts deletes the drop-out cases resolved longer than the
// retention before now and says how many.
func (p *SessionProcessor) PruneDropouts(ctx context.Context, now time.Time) (int, error) {
	return db.PruneDropoutCases(ctx, p.d.Pool, now.Add(-p.o.DropoutRetention), p.o.PruneBatch)
}
