// Package db is roamnode's Postgres layer: the connection pool, embedded
// migrations, the transaction helper and the stores that persist domain
// records. Postgres is the source of truth for every fact (DESIGN.md).
package db

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"

	pgxdecimal "github.com/jackc/pgx-shopspring-decimal"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	pgxuuid "github.com/vgarvardt/pgx-google-uuid/v5"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Open connects a pool to dsn and checks that the server answers.
func Open(ctx context.Context, dsn string, maxConns int32) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse DATABASE_URL: %w", err)
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	// numeric columns scan into shopspring decimals, never floats; uuid
	// columns into google/uuid natively (not through database/sql's text
	// round trip, which was a tenth of the CPU of a list page).
	cfg.AfterConnect = func(_ context.Context, c *pgx.Conn) error {
		pgxdecimal.Register(c.TypeMap())
		pgxuuid.Register(c.TypeMap())
		return nil
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to Postgres: %w", err)
	}
	return pool, nil
}

// Migrate applies every pending embedded migration. It holds goose's
// Postgres session advisory lock for the duration, so that two replicas
// starting together apply each migration once and the second one waits.
func Migrate(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) error {
	sqlDB := stdlib.OpenDBFromPool(pool)
	defer sqlDB.Close()
	return migrate(ctx, sqlDB, log)
}

func migrate(ctx context.Context, sqlDB *sql.DB, log *slog.Logger) error {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return err
	}
	// Out-of-order is allowed because capabilities are built in parallel:
	// a database that already has a later migration still gets an earlier
	// one that landed after it (each migration touches its own tables).
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, sub, goose.WithSessionLocker(locker), goose.WithAllowOutofOrder(true))
	if err != nil {
		return err
	}
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for _, r := range results {
		if log != nil {
			log.Info("migration applied", "version", r.Source.Version, "file", r.Source.Path, "duration_ms", r.Duration.Milliseconds())
		}
	}
	return nil
}

// Querier is what both a pool and a transaction offer; stores take it so
// that one store method works inside or outside a transaction.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Conn is a pool or a transaction: what a store function needs that runs
// on its own or inside a caller's transaction (the worker commits a batch
// of sessions in one, worker/session_drain.go). InTx on a transaction is a
// savepoint.
type Conn interface {
	Querier
	Begin(ctx context.Context) (pgx.Tx, error)
}

// InTx runs fn in a transaction and commits when fn returns nil; any error
// or panic rolls back, so a request never half-writes. On a transaction
// (c a pgx.Tx) it runs fn in a savepoint.
func InTx(ctx context.Context, c Conn, fn func(tx pgx.Tx) error) (err error) {
	tx, err := c.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback(ctx)
			panic(p)
		}
		if err != nil {
			_ = tx.Rollback(ctx)
		}
	}()
	if err = fn(tx); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// Postgres error codes the stores translate into domain errors.
const (
	codeUniqueViolation     = "23505"
	codeForeignKeyViolation = "23503"
	codeExclusionViolation  = "23P01"
	codeCheckViolation      = "23514"
)

// pgCode returns the SQLSTATE and constraint name of a Postgres error.
func pgCode(err error) (code, constraint string) {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code, pe.ConstraintName
	}
	return "", ""
}

// MigrationsFS exposes the embedded migrations (for the test template hash).
func MigrationsFS() fs.FS {
	sub, _ := fs.Sub(migrations, "migrations")
	return sub
}

// convert maps a query's rows to domain records with a conversion that can
// fail (a stored JSON document that no longer decodes, say): the first
// failure fails the whole page, never a partial one. Call it on a query
// directly: convert(recordOf)(Q(q).ListX(ctx, p)).
func convert[R, T any](of func(R) (T, error)) func([]R, error) ([]T, error) {
	return func(rows []R, err error) ([]T, error) {
		if err != nil {
			return nil, err
		}
		out := make([]T, len(rows))
		for i, r := range rows {
			if out[i], err = of(r); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
}
