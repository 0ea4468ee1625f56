// Package dbtest gives each test package its own Postgres database, cloned
// from a migrated template so that it is fast, and drops it afterwards.
//
// The server comes from DATABASE_URL (scripts/test sets it; default
// postgres://postgres@127.0.0.1:5432/postgres). The template's name carries a
// hash of the migrations, so a changed migration builds a new template and
// concurrent test processes never see a half-migrated one.
package dbtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/redis/go-redis/v9"

	"github.com/roamnode/roamnode/db"
)

// ServerURL is the DSN of the Postgres server tests run against.
func ServerURL() string {
	if u := os.Getenv("DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// RedisURL is the Redis server tests run against.
func RedisURL() string {
	if u := os.Getenv("REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// Redis databases of the tests that run asynq workers. asynq has no
// namespace: a worker takes any task queued in its database, so a test whose
// worker must see only its own tasks gets a database of its own, here in one
// place, because test packages run in parallel. RedisURL's database (1 under
// scripts/test) is shared by every other test. Benchmarks use 7 and above.
const (
	RedisDBPullSync    = 2  // worker: pull sync through a real worker
	RedisDBNetworkCPO  = 3  // ocpi/module: two-node network, the CPO node
	RedisDBNetworkMSP  = 4  // ocpi/module: two-node network, the eMSP node
	RedisDBCDRFaults   = 5  // ocpi/module: CDR intake fault test (flushes it)
	RedisDBWebhooks    = 6  // worker: webhook delivery (flushes it)
	RedisDBSessionPull = 11 // worker: pull of sessions and CDRs through a real worker
	RedisDBCPOSessions = 13 // ocpi/module: CPO sessions, CDR publication and push through a real worker
	RedisDBPricing     = 14 // db, adminapi: charge-session pricing through a real worker
)

// RedisDB returns RedisURL's server with database db; see the RedisDB*
// constants.
func RedisDB(db int) *redis.Options {
	opt, err := redis.ParseURL(RedisURL())
	if err != nil {
		panic("dbtest: REDIS_URL: " + err.Error())
	}
	opt.DB = db
	return opt
}

// WithDB returns dsn with its database name replaced.
func WithDB(dsn, name string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		panic(fmt.Sprintf("dbtest: bad DATABASE_URL: %v", err))
	}
	u.Path = "/" + name
	return u.String()
}

func migrationsHash() string {
	h := sha256.New()
	_ = fs.WalkDir(db.MigrationsFS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := fs.ReadFile(db.MigrationsFS(), p)
		h.Write([]byte(p))
		h.Write(b)
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// Database is one test package's database.
type Database struct {
	Name string
	DSN  string
	Pool *pgxpool.Pool
}

// New creates a fresh database cloned from the migrated template. Call
// Close (usually from TestMain) to drop it.
func New(ctx context.Context) (*Database, error) {
	admin, err := pgx.Connect(ctx, WithDB(ServerURL(), "postgres"))
	if err != nil {
		return nil, fmt.Errorf("dbtest: connect to Postgres at %s: %w", ServerURL(), err)
	}
	defer admin.Close(ctx)

	tmpl := "roamnode_tmpl_" + migrationsHash()
	if err := ensureTemplate(ctx, admin, tmpl); err != nil {
		return nil, err
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	name := "roamnode_test_" + hex.EncodeToString(rnd[:])
	// CREATE DATABASE … TEMPLATE fails while another session is connected
	// to the template; retry briefly because parallel packages clone at once.
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err = admin.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", name, tmpl))
		if err == nil || time.Now().After(deadline) || !strings.Contains(err.Error(), "being accessed by other users") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		return nil, fmt.Errorf("dbtest: create %s: %w", name, err)
	}
	dsn := WithDB(ServerURL(), name)
	pool, err := db.Open(ctx, dsn, 20)
	if err != nil {
		return nil, err
	}
	return &Database{Name: name, DSN: dsn, Pool: pool}, nil
}

// ensureTemplate creates and migrates the template once, under an advisory
// lock so that parallel test processes wait for the first one.
func ensureTemplate(ctx context.Context, admin *pgx.Conn, tmpl string) error {
	if _, err := admin.Exec(ctx, "SELECT pg_advisory_lock(727274)"); err != nil {
		return err
	}
	defer admin.Exec(ctx, "SELECT pg_advisory_unlock(727274)") //nolint:errcheck
	var exists bool
	if err := admin.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", tmpl).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	building := tmpl + "_build"
	_, _ = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+building)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+building); err != nil {
		return fmt.Errorf("dbtest: create template: %w", err)
	}
	pool, err := db.Open(ctx, WithDB(ServerURL(), building), 2)
	if err != nil {
		return err
	}
	err = db.Migrate(ctx, pool, nil)
	pool.Close()
	if err != nil {
		return err
	}
	_, err = admin.Exec(ctx, fmt.Sprintf("ALTER DATABASE %s RENAME TO %s", building, tmpl))
	return err
}

// Close closes the pool and drops the database.
func (d *Database) Close() {
	d.Pool.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, WithDB(ServerURL(), "postgres"))
	if err != nil {
		return
	}
	defer admin.Close(ctx)
	_, _ = admin.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", d.Name))
}

// Main runs a test package's tests with its own database, exported as
// *out, and drops the database afterwards. Use from TestMain:
//
//	func TestMain(m *testing.M) { dbtest.Main(m, &testDB) }
func Main(m *testing.M, out **Database) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	d, err := New(ctx)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	*out = d
	code := m.Run()
	d.Close()
	os.Exit(code)
}
