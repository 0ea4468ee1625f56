package worker

import (
	"context"
	"time"

	"github.com/hibiken/asynq"

	"github.com/roamnode/roamnode/db"
)

// TaskChargeCreditExpire records the expiry of charge credits whose
// validity ended (guide 003 → Charge credits; issue 6: credit movements
// include the expiry): what is left of them goes to zero with an expiry
// movement. It carries no payload and reads what is due from Postgres, so
// running it twice, or after a Redis flush, is harmless.
const TaskChargeCreditExpire = "credit:expire"

// ChargeCreditExpiry registers the expiry of charge credits, every ten
// minutes.
func ChargeCreditExpiry() Registration {
	return func(d Deps, mux *asynq.ServeMux, sched *asynq.Scheduler) error {
		mux.HandleFunc(TaskChargeCreditExpire, func(ctx context.Context, _ *asynq.Task) error {
			n, err := db.ExpireChargeCredits(ctx, d.Pool, time.Now(), 500)
			if n > 0 {
				d.Log.Info("charge credits expired", "count", n)
			}
			return err
		})
		_, err := sched.Register("@every 10m", asynq.NewTask(TaskChargeCreditExpire, nil), asynq.Unique(9*time.Minute), asynq.MaxRetry(3))
		return err
	}
}
