package worker

import (
	"context"
	"time"

	"github.com/hibiken/asynq"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/roaming"
)

// TaskTokenBoundaries pushes the MSP tokens whose valid flag changed
// because a validity boundary passed without any write (a link's or
// subscription's valid_from or valid_until reached), and the tokens whose
// valid or whitelist a charge authorization rule changed (a rule written,
// or its valid_from or valid_until reached).
const TaskTokenBoundaries = "msp:token-boundaries"

// TokenBoundaryOptions configure the boundary task.
type TokenBoundaryOptions struct {
	// Every is how often passed boundaries are looked for (default 30 s).
	// Boundaries are whole minutes, so a token's new valid flag reaches
	// the CPOs at most this long (plus the push itself) after it flips.
	Every time.Duration
	// Batch bounds the boundaries handled per transaction (default 1000).
	Batch int32
}

// TokenBoundaries registers the boundary task. Every change written
// through the Admin API pushes the token itself (adminapi/msp_token.go);
// this task covers the changes that happen by time alone. The watermark in
// Postgres (db.PushPassedTokenBoundaries) makes it safe to run on several
// workers and twice: a boundary is enqueued once.
func TokenBoundaries(o TokenBoundaryOptions) Registration {
	return func(d Deps, mux *asynq.ServeMux, sched *asynq.Scheduler) error {
		if o.Every <= 0 {
			o.Every = 30 * time.Second
		}
		if o.Batch <= 0 {
			o.Batch = 1000
		}
		kick := NewPushKicker(d.Redis, d.Log)
		rules := db.NewAuthorizationRules(d.Pool)
		mux.HandleFunc(TaskTokenBoundaries, func(ctx context.Context, _ *asynq.Task) error {
			if _, err := PushTokenBoundaries(ctx, d, kick, o.Batch); err != nil {
				return err
			}
			_, err := PushTokenRuleChanges(ctx, d, kick, rules, o.Batch)
			return err
		})
		_, err := sched.Register("@every "+o.Every.String(), asynq.NewTask(TaskTokenBoundaries, nil),
			asynq.Unique(o.Every), asynq.MaxRetry(0))
		return err
	}
}

// PushTokenBoundaries enqueues the pushes of every token whose validity
// boundary passed since the last run, batch by batch, kicks them, and says
// how many tokens (per batch, summed) it pushed.
func PushTokenBoundaries(ctx context.Context, d Deps, k *PushKicker, batch int32) (int, error) {
	return pushTokenBatches(ctx, d, k, "token push: validity boundaries passed",
		func(now time.Time) ([]roaming.PushRef, int, bool, error) {
			return db.PushPassedTokenBoundaries(ctx, d.Pool, now, batch)
		})
}

// PushTokenRuleChanges works off the queued charge authorization rule
// changes (db.RecheckTokenRules) batch by batch, one transaction each —
// an administration-wide rule may concern 100,000 tokens, which is why
// this runs here and not in the Admin API request — kicks the pushes, and
// says how many tokens it pushed.
func PushTokenRuleChanges(ctx context.Context, d Deps, k *PushKicker, rules *db.AuthorizationRules, batch int32) (int, error) {
	return pushTokenBatches(ctx, d, k, "token push: charge authorization rules changed tokens",
		func(now time.Time) ([]roaming.PushRef, int, bool, error) {
			return db.RecheckTokenRules(ctx, d.Pool, rules, now, batch)
		})
}

// pushTokenBatches runs next (one committed batch: its push refs, how many
// tokens it pushed, whether nothing is left) until done, kicking each
// batch's pushes after its commit.
func pushTokenBatches(ctx context.Context, d Deps, k *PushKicker, msg string,
	next func(now time.Time) ([]roaming.PushRef, int, bool, error)) (int, error) {
	total := 0
	for {
		refs, n, done, err := next(time.Now())
		if err != nil {
			return total, err
		}
		total += n
		k.Kick(ctx, refs...)
		if n > 0 {
			d.Log.Info(msg, "tokens", n)
		}
		if done {
			return total, nil
		}
	}
}
