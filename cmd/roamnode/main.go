// Command roamnode is the roaming node: `serve` runs the HTTP surfaces (and
// by default the worker), `worker` runs only the worker, `migrate` applies
// the embedded migrations, `seed demo` loads the demo tenant, `tariff` is the
// offline tariff tool, and `version` prints the product version. This file
// and its siblings only wire configuration, pools and servers together.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

	"github.com/roamnode/roamnode/adminapi"
	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/access"
	"github.com/roamnode/roamnode/node"
	"github.com/roamnode/roamnode/ocpi/module"
	"github.com/roamnode/roamnode/roaming"
	"github.com/roamnode/roamnode/worker"

	"github.com/google/uuid"
)

// version is the product version; release builds set it with
// -ldflags "-X main.version=…".
var version = "0.1.0-dev"

const usage = `usage: roamnode <command>

commands:
  serve [--no-worker] [--no-migrate]   run the node (OCPI, Admin API, App API; worker in-process by default)
  worker                               run background workers only
  migrate                              apply database migrations
  seed demo                            load the demo tenant (idempotent)
  tariff <price|validate|lint|explain> offline OCPI tariff tool (no database)
  version                              print the product version

configuration is read from the environment (see README.md)`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "roamnode", version)
		return 0
	case "help", "--help", "-h":
		fmt.Fprintln(stdout, usage)
		return 0
	case "tariff":
		return runTariff(rest, stdout, stderr)
	case "serve", "worker", "migrate", "seed":
	default:
		fmt.Fprintf(stderr, "roamnode: unknown command %q\n%s\n", cmd, usage)
		return 2
	}
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	noWorker := fs.Bool("no-worker", false, "serve: do not run the worker in this process")
	noMigrate := fs.Bool("no-migrate", false, "serve: do not apply migrations at start")
	if err := fs.Parse(rest); err != nil {
		return 2
	}
	cfg, err := loadConfig(true, cmd == "serve" || cmd == "worker")
	if err != nil {
		fmt.Fprintln(stderr, "roamnode: configuration error:", err)
		return 1
	}
	log := newLogger(stdout, cfg.LogLevel)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	switch cmd {
	case "migrate":
		err = withPool(ctx, cfg, func(pool *pgxpool.Pool) error { return db.Migrate(ctx, pool, log) })
	case "seed":
		if fs.Arg(0) != "demo" {
			fmt.Fprintln(stderr, "usage: roamnode seed demo")
			return 2
		}
		err = withPool(ctx, cfg, func(pool *pgxpool.Pool) error { return seedDemo(ctx, pool, log) })
	case "serve":
		err = serve(ctx, cfg, log, !*noWorker, !*noMigrate && cfg.AutoMigrate)
	case "worker":
		err = runWorker(ctx, cfg, log)
	}
	if err != nil {
		log.Error("roamnode "+cmd+" failed", "err", err)
		return 1
	}
	return 0
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

func withPool(ctx context.Context, cfg Config, f func(*pgxpool.Pool) error) error {
	pool, err := db.Open(ctx, cfg.DatabaseURL, 4)
	if err != nil {
		return err
	}
	defer pool.Close()
	return f(pool)
}

func openRedis(cfg Config) (*redis.Client, error) {
	opt, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return nil, err
	}
	// Short timeouts: Redis holds work and rate limits, never the only copy
	// of a fact, so a slow Redis must not stall API requests.
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = time.Second, time.Second, time.Second
	return redis.NewClient(opt), nil
}

// serve runs the HTTP app (and the worker unless disabled) until a signal,
// then stops accepting, drains in-flight requests and tasks within the
// shutdown timeout, and closes the pools.
func serve(ctx context.Context, cfg Config, log *slog.Logger, withWorker, migrate bool) error {
	// The node's heap is small; collecting half as often buys CPU for
	// requests (GC was 3–8 % of it under load). GOGC, when set, wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(200)
	}
	pool, err := db.Open(ctx, cfg.DatabaseURL, cfg.DBMaxConns)
	if err != nil {
		return err
	}
	defer pool.Close()
	if migrate {
		if err := db.Migrate(ctx, pool, log); err != nil {
			return err
		}
	}
	if cfg.AdminID != "" {
		if err := bootstrapAccount(ctx, pool, cfg.AdminID, cfg.AdminSecret); err != nil {
			return fmt.Errorf("bootstrap API account: %w", err)
		}
		log.Info("bootstrap API account ready", "public_id", cfg.AdminID)
	}
	rdb, err := openRedis(cfg)
	if err != nil {
		return err
	}
	defer rdb.Close()

	exchanges := db.NewExchangeLog(pool, log, 10000)
	defer exchanges.Close() // after the app has drained: flushes what is queued
	app := node.App(node.Deps{Pool: pool, Redis: rdb, Log: log, Version: version, PublicURL: cfg.PublicURL, AccessLog: cfg.AccessLog,
		Recorder: exchanges, ExchangeBodyBytes: cfg.ExchangeBody, Admin: adminapi.Options{Version: version, RateRPS: cfg.RateRPS, RateBurst: cfg.RateBurst, AccountCache: cfg.AccountCacheTTL, WebhookAllowPrivate: cfg.WebhookAllowPrivate,
			CPOTokens: adminapi.CPOTokenOptions{AuthorizeTimeout: cfg.AuthorizeTimeout, AuthorizeFallback: cfg.AuthorizeFallback}}})

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		log.Info("roamnode listening", "listen", cfg.Listen, "public_url", cfg.PublicURL, "version", version)
		return app.Listen(cfg.Listen)
	})
	g.Go(func() error {
		<-gctx.Done()
		log.Info("shutting down", "timeout", cfg.ShutdownTimeout.String())
		return app.ShutdownWithTimeout(cfg.ShutdownTimeout)
	})
	if withWorker {
		g.Go(func() error {
			return worker.Run(gctx, worker.Deps{Pool: pool, Redis: rdb, Log: log},
				worker.Options{Concurrency: cfg.WorkerConc, ShutdownTimeout: cfg.ShutdownTimeout}, registrations(gctx, cfg)...)
		})
	}
	err = g.Wait()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

func runWorker(ctx context.Context, cfg Config, log *slog.Logger) error {
	pool, err := db.Open(ctx, cfg.DatabaseURL, cfg.DBMaxConns)
	if err != nil {
		return err
	}
	defer pool.Close()
	rdb, err := openRedis(cfg)
	if err != nil {
		return err
	}
	defer rdb.Close()
	return worker.Run(ctx, worker.Deps{Pool: pool, Redis: rdb, Log: log},
		worker.Options{Concurrency: cfg.WorkerConc, ShutdownTimeout: cfg.ShutdownTimeout}, registrations(ctx, cfg)...)
}

// registrations lists every capability's worker tasks; ctx bounds their
// background loops (the webhook dispatcher).
func registrations(ctx context.Context, cfg Config) []worker.Registration {
	return []worker.Registration{worker.ExchangeRetention(cfg.ExchangeKeep), worker.Webhooks(ctx, cfg.webhookOptions()),
		worker.PullSync(worker.SyncOptions{Interval: cfg.SyncInterval, Margin: cfg.SyncMargin, ExchangeBodyBytes: cfg.ExchangeBody}),
		worker.SessionPull(worker.SessionPullOptions{Interval: cfg.SyncInterval, Margin: cfg.SyncMargin, ExchangeBodyBytes: cfg.ExchangeBody},
			module.CheckPulledCDR),
		worker.TokenPull(worker.TokenPullOptions{Interval: cfg.TokenPullInterval, ExchangeBodyBytes: cfg.ExchangeBody}),
		worker.Sessions(cfg.sessionOptions()), worker.DropoutReprocess(),
		worker.Push(cfg.pushOptions(), func(d worker.Deps) map[string]roaming.Renderer { return module.PushRenderers(d.Pool) }),
		worker.TokenBoundaries(worker.TokenBoundaryOptions{}), worker.ChargeCreditExpiry()}
}

// bootstrapAccount creates or updates the API account named by
// ROAMNODE_ADMIN_ID with every permission on every administration.
func bootstrapAccount(ctx context.Context, pool *pgxpool.Pool, publicID, secret string) error {
	now := time.Now().UTC()
	return db.Q(pool).UpsertBootstrapAccount(ctx, gen.UpsertBootstrapAccountParams{
		ID: uuid.Must(uuid.NewV7()), PublicID: publicID, SecretHash: access.HashSecret(secret), CreatedAt: now})
}
