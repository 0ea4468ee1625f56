package worker

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/roaming"
)

// Task names of the OCPI push (see roaming/push.go for the design).
const (
	// TaskPush sends the pending items of one group to one connection.
	TaskPush = "ocpi:push"
	// TaskPushSweep re-enqueues groups with due work (lost kicks, crashed
	// workers, retries whose task Redis lost).
	TaskPushSweep = "ocpi:push-sweep"
)

// PushOptions configure the push worker.
type PushOptions struct {
	roaming.PushOptions
	// Client configures the outbound client (timeouts, retries within one
	// send).
	Client roaming.Options
	// SweepEvery is how often due groups are re-enqueued (default 30 s).
	SweepEvery time.Duration
	// ExchangeBodyBytes is how much of each body the exchange log keeps.
	ExchangeBodyBytes int
}

// Renderers builds the push renderer of each module; it gets the pool
// because renderers load the current state of what they send.
type Renderers func(d Deps) map[string]roaming.Renderer

// Push registers the push task and its sweeper. Every send is recorded in
// the exchange log.
func Push(o PushOptions, renderers Renderers) Registration {
	return func(d Deps, mux *asynq.ServeMux, sched *asynq.Scheduler) error {
		if o.SweepEvery <= 0 {
			o.SweepEvery = 30 * time.Second
		}
		if o.ExchangeBodyBytes > 0 {
			o.Client.LogBodyBytes = o.ExchangeBodyBytes
		}
		// The exchange log writes in the background and flushes every
		// batch within a second; the worker has no stop hook, so at most
		// the entries of the last second before a kill are lost.
		rec := db.NewExchangeLog(d.Pool, d.Log, 10000)
		pusher := roaming.NewPusher(db.PushStore{Pool: d.Pool}, roaming.NewClient(o.Client, rec), renderers(d), o.PushOptions)
		kick := NewPushKicker(d.Redis, d.Log)
		mux.HandleFunc(TaskPush, func(ctx context.Context, t *asynq.Task) error {
			var ref roaming.PushRef
			if err := json.Unmarshal(t.Payload(), &ref); err != nil {
				return errors.Join(err, asynq.SkipRetry)
			}
			retryAt, err := pusher.Run(ctx, ref)
			if err != nil {
				return err // store trouble: asynq retries; the sweeper covers the rest
			}
			if retryAt != nil {
				ref.Attempts++
				kick.at(ctx, ref, *retryAt)
			}
			return nil
		})
		mux.HandleFunc(TaskPushSweep, func(ctx context.Context, _ *asynq.Task) error {
			_, err := SweepPushes(ctx, d, kick)
			return err
		})
		_, err := sched.Register("@every "+o.SweepEvery.String(), asynq.NewTask(TaskPushSweep, nil),
			asynq.Unique(o.SweepEvery), asynq.MaxRetry(0))
		return err
	}
}

// SweepPushes enqueues every group with due work (at most 1000 per sweep)
// and says how many.
func SweepPushes(ctx context.Context, d Deps, k *PushKicker) (int, error) {
	refs, err := db.DuePushGroups(ctx, d.Pool, 1000)
	if err != nil {
		return 0, err
	}
	for _, r := range refs {
		// A sweep's kick is unique per minute, not per change: the group
		// row is what says what to send.
		r.Seq, r.Attempts = time.Now().Unix()/60, -1
		k.at(ctx, r, time.Time{})
	}
	return len(refs), nil
}

// PushKicker enqueues push tasks. Capabilities call Kick after the commit
// of a transaction in which they called db.EnqueuePush.
type PushKicker struct {
	client *asynq.Client
	log    *slog.Logger
}

// NewPushKicker returns a kicker on the node's Redis client.
func NewPushKicker(rdb redis.UniversalClient, log *slog.Logger) *PushKicker {
	return &PushKicker{client: asynq.NewClientFromRedisClient(rdb), log: log}
}

// Kick enqueues a task per group. It never fails the caller: Postgres
// holds the pushes, and the sweeper enqueues what a failed kick missed.
func (k *PushKicker) Kick(ctx context.Context, refs ...roaming.PushRef) {
	for _, r := range refs {
		k.at(ctx, r, time.Time{})
	}
}

func (k *PushKicker) at(ctx context.Context, r roaming.PushRef, at time.Time) {
	payload, _ := json.Marshal(roaming.PushRef{ConnectionID: r.ConnectionID, Module: r.Module, Group: r.Group})
	opts := []asynq.Option{asynq.TaskID(r.TaskID()), asynq.MaxRetry(3), asynq.Retention(0)}
	if !at.IsZero() {
		opts = append(opts, asynq.ProcessAt(at))
	}
	_, err := k.client.EnqueueContext(context.WithoutCancel(ctx), asynq.NewTask(TaskPush, payload), opts...)
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		k.log.Warn("push: enqueue failed, the sweeper will retry", "connection_id", r.ConnectionID, "module", r.Module,
			"group", r.Group, "err", err)
	}
}
