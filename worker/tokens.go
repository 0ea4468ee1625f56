package worker

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/roaming"
)

// Task names of the pull of partners' tokens (we are CPO; mod_tokens →
// Pull model; roaming.TokenPuller does the walking).
const (
	// TaskTokenPull pulls (or resumes pulling) one connection's tokens.
	TaskTokenPull = "tokens:pull"
	// TaskTokenPullSweep enqueues the pulls that are due: on schedule,
	// requested by an operator, or interrupted.
	TaskTokenPullSweep = "tokens:pull-sweep"
)

// TokenPullOptions configure the token pull.
type TokenPullOptions struct {
	// Interval is how often each connection's tokens are pulled
	// (incrementally, with date_from, after the first full pull). Default 1h.
	Interval time.Duration
	// SweepEvery is how often due pulls are enqueued (default 1 min): the
	// delay of a scheduled pull, and of a requested one whose enqueue Redis lost.
	SweepEvery time.Duration
	// PageLimit is the page size asked of the partner (0: its default).
	PageLimit int
	// Client configures the outbound client.
	Client roaming.Options
	// ExchangeBodyBytes is how much of each body the exchange log keeps.
	ExchangeBodyBytes int
}

// tokenPullPayload is the payload of TaskTokenPull: an id, never a row.
type tokenPullPayload struct {
	ConnectionID uuid.UUID `json:"connection_id"`
}

// EnqueueTokenPull enqueues the pull of one connection. The task id is
// derived from the connection, so a pull already queued or running is not
// queued twice (asynq.ErrTaskIDConflict is not an error here).
func EnqueueTokenPull(ctx context.Context, c *asynq.Client, connID uuid.UUID) error {
	payload, _ := json.Marshal(tokenPullPayload{ConnectionID: connID})
	_, err := c.EnqueueContext(ctx, asynq.NewTask(TaskTokenPull, payload),
		asynq.TaskID(TaskTokenPull+":"+connID.String()), asynq.MaxRetry(0), asynq.Retention(0))
	if errors.Is(err, asynq.ErrTaskIDConflict) {
		return nil
	}
	return err
}

// TokenPull registers the token pull and its sweeper. Postgres holds the
// state (partner_token_pull): a pull that fails or whose worker dies keeps
// its cursor and is re-enqueued by the sweeper, which resumes it at the
// page where it stopped.
func TokenPull(o TokenPullOptions) Registration {
	return func(d Deps, mux *asynq.ServeMux, sched *asynq.Scheduler) error {
		if o.Interval <= 0 {
			o.Interval = time.Hour
		}
		if o.SweepEvery <= 0 {
			o.SweepEvery = time.Minute
		}
		if o.ExchangeBodyBytes > 0 {
			o.Client.LogBodyBytes = o.ExchangeBodyBytes
		}
		// As for the push: the exchange log flushes in the background; at
		// most the entries of the last moment before a kill are lost.
		rec := db.NewExchangeLog(d.Pool, d.Log, 10000)
		puller := &roaming.TokenPuller{Client: roaming.NewClient(o.Client, rec), Store: db.PartnerTokenStore{Pool: d.Pool}, PageLimit: o.PageLimit}
		client := asynq.NewClientFromRedisClient(d.Redis)
		mux.HandleFunc(TaskTokenPull, func(ctx context.Context, t *asynq.Task) error {
			var p tokenPullPayload
			if err := json.Unmarshal(t.Payload(), &p); err != nil {
				return errors.Join(err, asynq.SkipRetry)
			}
			return RunTokenPull(ctx, d, puller, p.ConnectionID)
		})
		mux.HandleFunc(TaskTokenPullSweep, func(ctx context.Context, _ *asynq.Task) error {
			ids, err := db.TokenPullsDue(ctx, d.Pool, o.Interval)
			if err != nil {
				return err
			}
			for _, id := range ids {
				if err := EnqueueTokenPull(ctx, client, id); err != nil {
					return err
				}
			}
			return nil
		})
		_, err := sched.Register("@every "+o.SweepEvery.String(), asynq.NewTask(TaskTokenPullSweep, nil),
			asynq.Unique(o.SweepEvery), asynq.MaxRetry(0))
		return err
	}
}

// RunTokenPull pulls one connection's tokens. A partner that fails is
// recorded on the pull (last_error, cursor kept) and logged, not retried by
// asynq: the sweeper resumes it on its next round. Only storage trouble is
// returned as an error.
func RunTokenPull(ctx context.Context, d Deps, puller *roaming.TokenPuller, connID uuid.UUID) error {
	conn, err := db.Connection(ctx, d.Pool, &connID, "", false)
	if fault.Is(err, fault.KindNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	own, err := db.AllOwnParties(ctx, d.Pool)
	if err != nil {
		return err
	}
	start := time.Now()
	res, err := puller.Pull(ctx, conn, own)
	var re *roaming.Error
	var pe *roaming.PageError
	switch {
	case errors.Is(err, roaming.ErrNoTokensSender):
		return nil
	case errors.As(err, &re), errors.As(err, &pe):
		d.Log.Warn("token pull stopped; it resumes at the failed page", "connection_id", connID, "pages", res.Pages, "err", err)
		return nil
	case err != nil:
		return err
	case res.Busy:
		return nil
	}
	d.Log.Info("token pull completed", "connection_id", connID, "pages", res.Pages, "tokens", res.Tokens,
		"skipped", res.Skipped, "duration_ms", time.Since(start).Milliseconds())
	return nil
}
