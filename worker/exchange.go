package worker

import (
	"context"
	"time"

	"github.com/hibiken/asynq"

	"github.com/roamnode/roamnode/db"
)

// TaskPruneExchanges deletes exchange-log entries older than the retention.
const TaskPruneExchanges = "roaming:prune-exchanges"

// ExchangeRetention registers the hourly pruning of the exchange log. Every
// worker's scheduler enqueues it; asynq's uniqueness lock makes one of them
// win each hour, and pruning twice would be harmless anyway.
func ExchangeRetention(retention time.Duration) Registration {
	return func(d Deps, mux *asynq.ServeMux, sched *asynq.Scheduler) error {
		mux.HandleFunc(TaskPruneExchanges, func(ctx context.Context, _ *asynq.Task) error {
			n, err := PruneExchanges(ctx, d, retention)
			if err == nil && n > 0 {
				d.Log.Info("exchange log pruned", "deleted", n, "retention", retention.String())
			}
			return err
		})
		_, err := sched.Register("@every 1h", asynq.NewTask(TaskPruneExchanges, nil), asynq.Unique(55*time.Minute), asynq.MaxRetry(3))
		return err
	}
}

// PruneExchanges deletes entries older than retention and says how many.
func PruneExchanges(ctx context.Context, d Deps, retention time.Duration) (int64, error) {
	cutoff := time.Now().Add(-retention)
	return db.Q(d.Pool).PruneExchanges(ctx, cutoff)
}
