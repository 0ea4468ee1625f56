// Package worker runs roamnode's background tasks on asynq over the same
// go-redis client the node uses. Task names are "area:verb"; payloads carry
// ids, never copies of rows; every handler loads its state from Postgres,
// acts, commits, and is safe to run twice (DESIGN.md → Workers). Postgres is
// the record of pending work: sweepers re-enqueue what Redis lost.
package worker

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
)

// Deps are what task handlers need.
type Deps struct {
	Pool  *pgxpool.Pool
	Redis redis.UniversalClient
	Log   *slog.Logger
	// loops collects what registrations start with Loop (set by Run).
	loops *[]func(ctx context.Context)
}

// Loop asks Run to run f, a long-running loop that is not a task (the
// charge-session lanes poll Postgres: session_drain.go), from the start of
// the worker until it stops; Run waits for f to return. Outside Run (a
// Deps built by hand) it is an error.
func (d Deps) Loop(f func(ctx context.Context)) error {
	if d.loops == nil {
		return errors.New("worker: Loop outside Run")
	}
	*d.loops = append(*d.loops, f)
	return nil
}

// Registration adds a capability's task handlers and periodic tasks. Each
// capability (sessions, webhooks, OCPI push, …) contributes one.
type Registration func(d Deps, mux *asynq.ServeMux, sched *asynq.Scheduler) error

// Options tune the worker.
type Options struct {
	Concurrency     int
	ShutdownTimeout time.Duration
}

// Run processes tasks until ctx is cancelled, then stops taking new tasks
// and waits up to ShutdownTimeout for the running ones.
func Run(ctx context.Context, d Deps, opts Options, regs ...Registration) error {
	mux := asynq.NewServeMux()
	sched := asynq.NewSchedulerFromRedisClient(d.Redis, &asynq.SchedulerOpts{Location: time.UTC})
	var loops []func(ctx context.Context)
	d.loops = &loops
	for _, reg := range regs {
		if err := reg(d, mux, sched); err != nil {
			return err
		}
	}
	srv := asynq.NewServerFromRedisClient(d.Redis, asynq.Config{
		Concurrency:     opts.Concurrency,
		ShutdownTimeout: opts.ShutdownTimeout,
		Logger:          slogAdapter{d.Log},
		LogLevel:        asynq.WarnLevel,
	})
	if err := srv.Start(mux); err != nil {
		return err
	}
	if err := sched.Start(); err != nil {
		srv.Shutdown()
		return err
	}
	var wg sync.WaitGroup
	for _, f := range loops {
		wg.Add(1)
		go func() { defer wg.Done(); f(ctx) }()
	}
	d.Log.Info("worker started", "concurrency", opts.Concurrency, "loops", len(loops))
	<-ctx.Done()
	sched.Shutdown()
	srv.Shutdown()
	wg.Wait()
	d.Log.Info("worker stopped")
	return nil
}

// slogAdapter lets asynq log through slog.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Debug(args ...any) { a.l.Debug("asynq", "msg", args) }
func (a slogAdapter) Info(args ...any)  { a.l.Info("asynq", "msg", args) }
func (a slogAdapter) Warn(args ...any)  { a.l.Warn("asynq", "msg", args) }
func (a slogAdapter) Error(args ...any) { a.l.Error("asynq", "msg", args) }
func (a slogAdapter) Fatal(args ...any) { a.l.Error("asynq fatal", "msg", args) }
