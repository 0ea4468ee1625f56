package worker

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/domain/session"
)

// Sessions at our own charge points (issue 5, CPO side): the CDR push
// kicked after a pricing commit published it, and the consumption of the
// drop-out reprocessing requests that turning an EVSE's
// dropout_all_chargesessions off with reprocess_dropouts records (guide
// 003 → Safe EVSE configuration).

// TaskDropoutReprocess retries the CPO sessions that EVSEs' dropped while
// their dropout_all_chargesessions flag was on, for every open request
// (every minute; the request rows in Postgres are the work to do).
const TaskDropoutReprocess = "session:reprocess-dropouts"

// kickCDR wakes the push worker for the CDR a pricing commit published
// (db.PublishCPOCDR, in that commit's transaction). It never fails the
// step: the push sweeper sends what a lost kick missed.
func (p *SessionProcessor) kickCDR(ctx context.Context, s session.ChargeSession) {
	refs, err := db.CDRPushRefs(ctx, p.d.Pool, s)
	if err != nil {
		p.d.Log.Warn("CDR push not kicked; the push sweeper will send it", "session_id", s.ID, "err", err)
		return
	}
	p.kick.Kick(ctx, refs...)
}

// DropoutReprocess registers the consumption of drop-out reprocessing
// requests: a task every minute that handles every open request.
func DropoutReprocess() Registration {
	return func(d Deps, mux *asynq.ServeMux, sched *asynq.Scheduler) error {
		r := NewDropoutReprocessor(d)
		mux.HandleFunc(TaskDropoutReprocess, func(ctx context.Context, _ *asynq.Task) error {
			n, err := r.Run(ctx, time.Now())
			if n > 0 {
				d.Log.Info("dropped-out CPO sessions sent back to the pipeline", "count", n)
			}
			return err
		})
		_, err := sched.Register("@every 1m", asynq.NewTask(TaskDropoutReprocess, nil), asynq.Unique(55*time.Second), asynq.MaxRetry(0))
		return err
	}
}

// DropoutReprocessor consumes drop-out reprocessing requests.
type DropoutReprocessor struct {
	d     Deps
	queue session.Queue
}

// NewDropoutReprocessor returns a reprocessor on d's Postgres and Redis.
func NewDropoutReprocessor(d Deps) *DropoutReprocessor {
	return &DropoutReprocessor{d: d, queue: NewSessionQueue(d.Redis, d.Pool)}
}

// Run consumes every open request (db.ConsumeDropoutReprocess: the EVSE's
// sessions dropped out by the flag go back to received, the request is
// marked consumed, in one transaction) and hands the sessions to the
// pipeline; it says how many sessions it sent back. Safe to run twice: a
// consumed request is not consumed again, and a failed enqueue is caught
// up by the worker's idle poll (the sessions are pending in Postgres).
func (r *DropoutReprocessor) Run(ctx context.Context, now time.Time) (int, error) {
	n := 0
	seen := map[uuid.UUID]bool{}
	for {
		reqs, err := db.OpenDropoutReprocessRequests(ctx, r.d.Pool, 100)
		if err != nil {
			return n, err
		}
		progress := false
		for _, q := range reqs {
			if seen[q.ID] {
				continue // another worker holds it; the next run takes it
			}
			seen[q.ID] = true
			progress = true
			recs, _, err := db.ConsumeDropoutReprocess(ctx, r.d.Pool, q.ID, now)
			if err != nil {
				return n, err
			}
			for _, s := range recs {
				if err := r.queue.Enqueue(ctx, s.ID, s.State, s.Attempts, now); err != nil {
					r.d.Log.Warn("worker not woken for a reprocessed session; it claims it on its next poll", "session_id", s.ID, "err", err)
				}
				n++
			}
		}
		if !progress || len(reqs) < 100 {
			return n, nil
		}
	}
}
