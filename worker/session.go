package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/domain/credit"
	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/rateplan"
	"github.com/roamnode/roamnode/domain/roamingcost"
	"github.com/roamnode/roamnode/domain/session"
)

// Charge-session tasks (issue 5): session:process runs the steps owed on
// one session; session:sweep re-enqueues every pending session that is
// due, so that a Redis flush or a crash loses nothing.
const (
	TaskSessionProcess = "session:process"
	TaskSessionSweep   = "session:sweep"
	// TaskDropoutPrune deletes resolved drop-out cases older than the
	// retention (hourly).
	TaskDropoutPrune = "session:prune-dropouts"
)

// SessionQueue implements session.Queue on asynq. The task id is derived
// from the session, its state and attempt count, so a duplicate enqueue
// (the intake's and the sweeper's, say) is a no-op, while the next attempt
// of a retried match is a new task.
type SessionQueue struct{ c *asynq.Client }

var _ session.Queue = SessionQueue{}

// NewSessionQueue returns a queue on the node's Redis client.
func NewSessionQueue(rdb redis.UniversalClient) SessionQueue {
	return SessionQueue{c: asynq.NewClientFromRedisClient(rdb)}
}

type sessionPayload struct {
	ID uuid.UUID `json:"id"`
}

// SessionTaskID is the task id of the step owed on a session in a state
// after attempts failed match attempts.
func SessionTaskID(id uuid.UUID, state session.State, attempts int) string {
	return fmt.Sprintf("session:%s:%s:%d", id, state, attempts)
}

// Enqueue implements session.Queue.
func (q SessionQueue) Enqueue(ctx context.Context, id uuid.UUID, state session.State, attempts int, at time.Time) error {
	payload, _ := json.Marshal(sessionPayload{ID: id})
	_, err := q.c.EnqueueContext(ctx, asynq.NewTask(TaskSessionProcess, payload), asynq.TaskID(SessionTaskID(id, state, attempts)),
		asynq.ProcessAt(at), asynq.MaxRetry(10), asynq.Timeout(time.Minute))
	if errors.Is(err, asynq.ErrTaskIDConflict) || errors.Is(err, asynq.ErrDuplicateTask) {
		return nil
	}
	return err
}

// SessionOptions configure the pipeline.
type SessionOptions struct {
	// Schedule is the delays between match attempts (default
	// session.DefaultSchedule).
	Schedule session.Schedule
	// Thresholds are the default validity thresholds.
	Thresholds session.Thresholds
	// SweepBatch is how many sessions a sweep reads per query (default 1000).
	SweepBatch int
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

// Sessions registers the charge-session tasks: the processing of one
// session and the sweep every minute.
func Sessions(o SessionOptions) Registration {
	return func(d Deps, mux *asynq.ServeMux, sched *asynq.Scheduler) error {
		p := NewSessionProcessor(d, o)
		mux.HandleFunc(TaskSessionProcess, func(ctx context.Context, t *asynq.Task) error {
			var pl sessionPayload
			if err := json.Unmarshal(t.Payload(), &pl); err != nil {
				return fmt.Errorf("%w: %v", asynq.SkipRetry, err)
			}
			return p.Process(ctx, pl.ID)
		})
		mux.HandleFunc(TaskSessionSweep, func(ctx context.Context, _ *asynq.Task) error {
			n, err := p.Sweep(ctx, time.Now())
			if n > 0 {
				d.Log.Info("pending charge sessions re-enqueued", "count", n)
			}
			return err
		})
		mux.HandleFunc(TaskDropoutPrune, func(ctx context.Context, _ *asynq.Task) error {
			n, err := p.PruneDropouts(ctx, time.Now())
			if n > 0 {
				d.Log.Info("resolved drop-out cases pruned", "count", n)
			}
			return err
		})
		if _, err := sched.Register("@every 1m", asynq.NewTask(TaskSessionSweep, nil), asynq.Unique(55*time.Second), asynq.MaxRetry(0)); err != nil {
			return err
		}
		_, err := sched.Register("@every 1h", asynq.NewTask(TaskDropoutPrune, nil), asynq.Unique(55*time.Minute), asynq.MaxRetry(0))
		return err
	}
}

// SessionProcessor runs pipeline steps and sweeps.
type SessionProcessor struct {
	d        Deps
	pipeline session.Pipeline
	queue    session.Queue
	batch    int
	retain   time.Duration
	// kick wakes the push worker for a CDR published by a pricing commit.
	kick *PushKicker
	// now is the clock (tests may set it).
	now func() time.Time
}

// NewSessionProcessor returns a processor on d's Postgres and Redis.
func NewSessionProcessor(d Deps, o SessionOptions) *SessionProcessor {
	if o.SweepBatch <= 0 {
		o.SweepBatch = 1000
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
	return &SessionProcessor{d: d, queue: NewSessionQueue(d.Redis), batch: o.SweepBatch, retain: o.DropoutRetention, now: time.Now,
		kick: NewPushKicker(d.Redis, d.Log),
		pipeline: session.Pipeline{Matcher: db.SessionMatcher{Pool: d.Pool}, Lookup: db.SessionLookup{Pool: d.Pool, Cache: db.NewThresholdCache(thresholdTTL)},
			Schedule: o.Schedule, Defaults: o.Thresholds, Pricers: pricers, Credited: db.CreditLookup{Pool: d.Pool}}}
}

// Pipeline is the processor's pipeline (its pricers price quotes through
// the same code path as sessions).
func (p *SessionProcessor) Pipeline() session.Pipeline { return p.pipeline }

// maxStepsPerTask bounds how many steps one task runs back to back (match,
// then validation, then later steps): enough for the whole pipeline.
const maxStepsPerTask = 8

// Process runs the steps owed on a session, each committed on its own, for
// as long as the next one is due now. A session that is not pending, not
// yet due, or gone is left alone, so a duplicate or stale task is
// harmless. A match miss schedules the next attempt at its RetryAt.
func (p *SessionProcessor) Process(ctx context.Context, id uuid.UUID) error {
	var rec db.ChargeSessionRecord
	loaded := false
	for range maxStepsPerTask {
		if !loaded {
			var err error
			rec, err = db.ChargeSession(ctx, p.d.Pool, id)
			if fault.Is(err, fault.KindNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
		}
		now := p.now().UTC()
		if !p.pipeline.Owes(rec.ChargeSession) {
			return nil
		}
		if rec.NextAttemptAt != nil && rec.NextAttemptAt.After(now) {
			// Early (a sweep raced the schedule): make sure the due task exists.
			return p.queue.Enqueue(ctx, id, rec.State, rec.Attempts, *rec.NextAttemptAt)
		}
		o, err := p.pipeline.Step(ctx, rec.ChargeSession, now)
		if err != nil {
			return err
		}
		out, committed, err := db.CommitRecordStep(ctx, p.d.Pool, rec, o, now)
		if err != nil {
			return err
		}
		// The committed record is the state the next step starts from; a
		// step someone else moved on first is looked up again.
		rec, loaded = out, committed
		if !committed {
			continue
		}
		if out.State == session.Priced && out.Side == session.CPO {
			p.kickCDR(ctx, out.ChargeSession)
		}
		if out.State == session.Matching && out.NextAttemptAt != nil {
			if err := p.queue.Enqueue(ctx, id, out.State, out.Attempts, *out.NextAttemptAt); err != nil {
				p.d.Log.Warn("next match attempt not enqueued; the sweeper will pick it up", "session_id", id, "err", err)
			}
			return nil
		}
		if !p.pipeline.Owes(out.ChargeSession) {
			return nil
		}
	}
	return nil
}

// Sweep enqueues every pending session that is due at now and says how
// many it handed over. Sessions already queued keep their task (same id).
func (p *SessionProcessor) Sweep(ctx context.Context, now time.Time) (int, error) {
	n := 0
	after := uuid.Nil
	for {
		due, err := db.DueSessions(ctx, p.d.Pool, now, after, p.batch, p.pricedSides())
		if err != nil {
			return n, err
		}
		for _, s := range due {
			if err := p.queue.Enqueue(ctx, s.ID, s.State, s.Attempts, now); err != nil {
				return n, err
			}
			n++
		}
		if len(due) < p.batch {
			return n, nil
		}
		after = due[len(due)-1].ID
	}
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
	return db.PruneDropoutCases(ctx, p.d.Pool, now.Add(-p.retain), p.batch)
}
