package worker

import (
	"context"
	"time"

	"github.com/hibiken/asynq"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/roaming"
)

// Task names of the pull of partners' sessions and CDRs (issue 5: "Pull
// CDRs and sessions from partners' senders with date_from on a schedule,
// like locations").
const (
	// TaskSessionPull runs (or resumes) the pull of one module (sessions
	// or cdrs) from one connection; its task id is derived from both, so
	// a pull is queued at most once.
	TaskSessionPull = "roaming:pull-sessions"
	// TaskSessionPullSweep enqueues the pulls Postgres says are due:
	// scheduled, requested through the Admin API (POST
	// /roaming-connection/{id}/sync?module=sessions|cdrs), failed, or
	// whose run died.
	TaskSessionPullSweep = "roaming:pull-sessions-sweep"
)

// SessionPullOptions configure the pull of sessions and CDRs. The
// schedule is the location sync's (ROAMNODE_SYNC_INTERVAL,
// ROAMNODE_SYNC_MARGIN).
type SessionPullOptions struct {
	// Interval between the end of a pull and the next scheduled one
	// (default 15 min).
	Interval time.Duration
	// Sweep is how often due pulls are looked for (default 5 s): the
	// delay of an on-demand pull.
	Sweep time.Duration
	// Margin is subtracted from the last successful run's start to give
	// the next date_from (default 5 min).
	Margin time.Duration
	// Stale is how long a run may go without a heartbeat before another
	// worker resumes it (default 2 min).
	Stale time.Duration
	// Retry is how long after a failed run it is resumed (default 1 min,
	// at most Interval).
	Retry time.Duration
	// Window is how far back a first or full run asks (default 31 days).
	Window time.Duration
	// PageLimit, when positive, is sent as limit.
	PageLimit int
	// Client tunes the outbound calls; Recorder receives them (nil: an
	// exchange log of the worker's own).
	Client   roaming.Options
	Recorder roaming.Recorder
	// ExchangeBodyBytes is how much of each body the exchange log keeps
	// (0 = 4096).
	ExchangeBodyBytes int
}

func (o *SessionPullOptions) defaults() {
	pullDefaults(&o.Interval, &o.Sweep, &o.Margin, &o.Stale, &o.Retry)
	if o.ExchangeBodyBytes > 0 {
		o.Client.LogBodyBytes = o.ExchangeBodyBytes
	}
}

// NewSessionPuller returns the puller the tasks run: d's Postgres for the
// cursor and the stored objects, d's Redis for the new charge sessions'
// pipeline tasks, check for pulled CDRs (module.CheckPulledCDR).
func NewSessionPuller(d Deps, o SessionPullOptions, check roaming.CDRCheck) *roaming.SessionPuller {
	o.defaults()
	rec := o.Recorder
	if rec == nil {
		// The worker process's own exchange log; flushed every 200 ms.
		rec = db.NewExchangeLog(d.Pool, d.Log, 1000)
	}
	return &roaming.SessionPuller{Store: db.SessionPullStore{SyncStore: db.SyncStore{Pool: d.Pool}}, Client: roaming.NewClient(o.Client, rec),
		Check: check, Queue: NewSessionQueue(d.Redis, d.Pool), Log: d.Log, Margin: o.Margin, Stale: o.Stale, Window: o.Window, PageLimit: o.PageLimit}
}

// SessionPull registers the pull of partners' sessions and CDRs: the
// sweep (every o.Sweep, on every worker; asynq's uniqueness lock lets one
// win) enqueues due pulls, the pull task runs them. Postgres holds the
// state (roaming_sync), so a pull lost by Redis is enqueued again by the
// next sweep and a dead run is resumed from its cursor.
func SessionPull(o SessionPullOptions, check roaming.CDRCheck) Registration {
	return func(d Deps, mux *asynq.ServeMux, sched *asynq.Scheduler) error {
		o.defaults()
		puller := NewSessionPuller(d, o, check)
		return registerPull(mux, sched, d, TaskSessionPull, TaskSessionPullSweep, o.Sweep,
			func(ctx context.Context, p pullPayload) { _, _ = puller.Pull(ctx, p.ConnectionID, p.Module) },
			func(ctx context.Context, client *asynq.Client) error {
				_, err := SweepSessionPulls(ctx, d, client, o)
				return err
			})
	}
}

// SweepSessionPulls enqueues every due pull of sessions and CDRs and says
// how many it enqueued (a pull already queued or running is not enqueued
// twice).
func SweepSessionPulls(ctx context.Context, d Deps, client *asynq.Client, o SessionPullOptions) (int, error) {
	o.defaults()
	return sweepPulls(ctx, d, client, TaskSessionPull, db.DueSessionPulls, o.Stale, o.Interval, o.Retry)
}
