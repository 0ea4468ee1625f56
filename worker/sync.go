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
	if o.Interval <= 0 {
		o.Interval = 15 * time.Minute
	}
	if o.Sweep <= 0 {
		o.Sweep = 5 * time.Second
	}
	if o.Margin <= 0 {
		o.Margin = 5 * time.Minute
	}
	if o.Stale <= 0 {
		o.Stale = 2 * time.Minute
	}
	if o.Retry <= 0 {
		o.Retry = min(time.Minute, o.Interval)
	}
}

type syncPayload struct {
	ConnectionID uuid.UUID      `json:"connection_id"`
	Module       network.Module `json:"module"`
}

// syncTaskID is the task id of a sync: one queued task per connection
// and module, whatever the number of sweeps and nodes.
func syncTaskID(connID uuid.UUID, m network.Module) string {
	return TaskSync + ":" + connID.String() + ":" + string(m)
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
		client := asynq.NewClientFromRedisClient(d.Redis)
		mux.HandleFunc(TaskSync, func(ctx context.Context, t *asynq.Task) error {
			var p syncPayload
			if err := json.Unmarshal(t.Payload(), &p); err != nil {
				return fmt.Errorf("%w: %v", asynq.SkipRetry, err)
			}
			// Outcomes, errors included, are recorded in roaming_sync (the
			// syncer logs them); the sweep retries and resumes a failed run.
			// The task itself always completes, so that its id is free for
			// the next sweep (an archived task would keep it).
			_, _ = syncer.Sync(ctx, p.ConnectionID, p.Module)
			return nil
		})
		mux.HandleFunc(TaskSyncSweep, func(ctx context.Context, _ *asynq.Task) error {
			_, err := SweepSyncs(ctx, d, client, o)
			return err
		})
		_, err := sched.Register(fmt.Sprintf("@every %s", o.Sweep), asynq.NewTask(TaskSyncSweep, nil),
			asynq.Unique(o.Sweep), asynq.MaxRetry(0))
		return err
	}
}

// SweepSyncs enqueues every due sync and says how many it enqueued (a sync
// already queued or running is not enqueued twice).
func SweepSyncs(ctx context.Context, d Deps, client *asynq.Client, o SyncOptions) (int, error) {
	o.defaults()
	now := time.Now().UTC()
	due, err := db.DueSyncs(ctx, d.Pool, now.Add(-o.Stale), now.Add(-o.Interval), now.Add(-o.Retry))
	if err != nil {
		return 0, err
	}
	n := 0
	for _, s := range due {
		payload, _ := json.Marshal(syncPayload{ConnectionID: s.ConnectionID, Module: s.Module})
		_, err := client.EnqueueContext(ctx, asynq.NewTask(TaskSync, payload), asynq.TaskID(syncTaskID(s.ConnectionID, s.Module)),
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
