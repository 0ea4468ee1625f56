package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/domain/network"
	"github.com/roamnode/roamnode/roaming"
)

// Task names of pull synchronisation.
const (
	// TaskSync runs (or resumes) the pull sync of one module from one
	// connection; its task id is derived from both, so a sync is queued at
	// most once.
	TaskSync = "roaming:sync"
	// TaskSyncSweep enqueues the syncs Postgres says are due: scheduled,
	// requested through the Admin API, or whose run died.
	TaskSyncSweep = "roaming:sync-sweep"
)

// SyncOptions configure pull synchronisation.
type SyncOptions struct {
	// Interval between the end of a sync and the next scheduled one
	// (ROAMNODE_SYNC_INTERVAL).
	Interval time.Duration
	// Sweep is how often due syncs are looked for (default 5 s): the delay
	// of an on-demand sync.
	Sweep time.Duration
	// Margin is subtracted from the last successful run's start to give
	// the next date_from (ROAMNODE_SYNC_MARGIN, default 5 min).
	Margin time.Duration
	// Stale is how long a run may go without a heartbeat before it is
	// considered dead and resumed elsewhere (default 2 min).
	Stale time.Duration
	// Retry is how long after a failed run it is resumed (default 1 min,
	// at most Interval).
	Retry time.Duration
	// Client tunes the outbound calls; Recorder receives them (the
	// exchange log). A nil Recorder gets an exchange log of the worker's own.
	Client   roaming.Options
	Recorder roaming.Recorder
	// ExchangeBodyBytes is how much of each body the exchange log keeps
	// (ROAMNODE_EXCHANGE_BODY_BYTES; 0 = 4096).
	ExchangeBodyBytes int
}

func (o *SyncOptions) defaults() {
	pullDefaults(&o.Interval, &o.Sweep, &o.Margin, &o.Stale, &o.Retry)
}

// pullDefaults fills the zero schedule of a pull (SyncOptions,
// SessionPullOptions): every 15 min, swept every 5 s, date_from margin
// 5 min, a run stale after 2 min without a heartbeat, a failed run
// retried after 1 min (at most the interval).
func pullDefaults(interval, sweep, margin, stale, retry *time.Duration) {
	if *interval <= 0 {
		*interval = 15 * time.Minute
	}
	if *sweep <= 0 {
		*sweep = 5 * time.Second
	}
	if *margin <= 0 {
		*margin = 5 * time.Minute
	}
	if *stale <= 0 {
		*stale = 2 * time.Minute
	}
	if *retry <= 0 {
		*retry = min(time.Minute, *interval)
	}
}

// pullPayload is the payload of a pull task (TaskSync, TaskSessionPull):
// ids only, the handler loads the rest from Postgres.
type pullPayload struct {
	ConnectionID uuid.UUID      `json:"connection_id"`
	Module       network.Module `json:"module"`
}

// pullTaskID is the task id of a pull of task: one queued task per
// connection and module, whatever the number of sweeps and nodes.
func pullTaskID(task string, connID uuid.UUID, m network.Module) string {
	return task + ":" + connID.String() + ":" + string(m)
}

// PullSync registers the pull synchronisation of partners' Locations and
// Tariffs: the sweep (every o.Sweep, on every worker; asynq's uniqueness
// lock lets one win) enqueues due syncs, the sync task runs them. Postgres
// holds the state (roaming_sync), so a sync lost by Redis is enqueued again
// by the next sweep and a dead run is resumed from its cursor.
func PullSync(o SyncOptions) Registration {
	return func(d Deps, mux *asynq.ServeMux, sched *asynq.Scheduler) error {
		o.defaults()
		if o.ExchangeBodyBytes > 0 {
			o.Client.LogBodyBytes = o.ExchangeBodyBytes
		}
		rec := o.Recorder
		if rec == nil {
			// The worker process's own exchange log; flushed every 200 ms.
			rec = db.NewExchangeLog(d.Pool, d.Log, 1000)
		}
		syncer := &roaming.Syncer{Store: db.SyncStore{Pool: d.Pool}, Client: roaming.NewClient(o.Client, rec), Log: d.Log,
			Margin: o.Margin, Stale: o.Stale}
		return registerPull(mux, sched, d, TaskSync, TaskSyncSweep, o.Sweep,
			func(ctx context.Context, p pullPayload) { _, _ = syncer.Sync(ctx, p.ConnectionID, p.Module) },
			func(ctx context.Context, client *asynq.Client) error {
				_, err := SweepSyncs(ctx, d, client, o)
				return err
			})
	}
}

// registerPull registers a scheduled pull (the location sync, the session
// pull): task runs one pull with run, sweepTask (every sweep, on every
// worker; asynq's uniqueness lock lets one win) enqueues the due ones.
// Outcomes, errors included, are recorded in roaming_sync (the pull logs
// them); the sweep retries and resumes a failed run. The task itself
// always completes, so that its id is free for the next sweep (an archived
// task would keep it).
func registerPull(mux *asynq.ServeMux, sched *asynq.Scheduler, d Deps, task, sweepTask string, sweep time.Duration,
	run func(context.Context, pullPayload), sweepDue func(context.Context, *asynq.Client) error) error {
	client := asynq.NewClientFromRedisClient(d.Redis)
	mux.HandleFunc(task, func(ctx context.Context, t *asynq.Task) error {
		var p pullPayload
		if err := json.Unmarshal(t.Payload(), &p); err != nil {
			return fmt.Errorf("%w: %v", asynq.SkipRetry, err)
		}
		run(ctx, p)
		return nil
	})
	mux.HandleFunc(sweepTask, func(ctx context.Context, _ *asynq.Task) error {
		return sweepDue(ctx, client)
	})
	_, err := sched.Register(fmt.Sprintf("@every %s", sweep), asynq.NewTask(sweepTask, nil),
		asynq.Unique(sweep), asynq.MaxRetry(0))
	return err
}

// SweepSyncs enqueues every due sync and says how many it enqueued (a sync
// already queued or running is not enqueued twice).
func SweepSyncs(ctx context.Context, d Deps, client *asynq.Client, o SyncOptions) (int, error) {
	o.defaults()
	return sweepPulls(ctx, d, client, TaskSync, db.DueSyncs, o.Stale, o.Interval, o.Retry)
}

// sweepPulls enqueues task for every pull that due (db.DueSyncs,
// db.DueSessionPulls) says is due: its run went stale, it last ended
// interval ago, or it failed retry ago. It says how many it enqueued; a
// pull already queued or running keeps its task id and is not enqueued
// twice.
func sweepPulls(ctx context.Context, d Deps, client *asynq.Client, task string,
	due func(ctx context.Context, q db.Querier, staleBefore, dueBefore, retryBefore time.Time) ([]db.DueSync, error),
	stale, interval, retry time.Duration) (int, error) {
	now := time.Now().UTC()
	pulls, err := due(ctx, d.Pool, now.Add(-stale), now.Add(-interval), now.Add(-retry))
	if err != nil {
		return 0, err
	}
	n := 0
	for _, s := range pulls {
		payload, _ := json.Marshal(pullPayload{ConnectionID: s.ConnectionID, Module: s.Module})
		_, err := client.EnqueueContext(ctx, asynq.NewTask(task, payload), asynq.TaskID(pullTaskID(task, s.ConnectionID, s.Module)),
			asynq.MaxRetry(0), asynq.Timeout(6*time.Hour))
		switch {
		case errors.Is(err, asynq.ErrTaskIDConflict), errors.Is(err, asynq.ErrDuplicateTask):
		case err != nil:
			return n, err
		default:
			n++
		}
	}
	return n, nil
}
