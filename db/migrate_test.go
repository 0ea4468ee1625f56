package db_test

import (
	"context"
	"io/fs"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/db/dbtest"
)

// Two replicas starting together must not race: three migrate a fresh
// database at once, all succeed, and each migration is applied once.
func TestConcurrentMigrate(t *testing.T) {
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, dbtest.WithDB(dbtest.ServerURL(), "postgres"))
	require.NoError(t, err)
	defer admin.Close(ctx)
	name := "roamnode_migrate_" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	_, err = admin.Exec(ctx, "CREATE DATABASE "+name)
	require.NoError(t, err)
	defer admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") //nolint:errcheck

	dsn := dbtest.WithDB(dbtest.ServerURL(), name)
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			pool, err := db.Open(ctx, dsn, 2)
			if err != nil {
				errs[i] = err
				return
			}
			defer pool.Close()
			errs[i] = db.Migrate(ctx, pool, nil)
		}(i)
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	pool, err := db.Open(ctx, dsn, 2)
	require.NoError(t, err)
	defer pool.Close()
	var applied int
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM goose_db_version WHERE version_id > 0").Scan(&applied))
	files, err := fs.Glob(db.MigrationsFS(), "*.sql")
	require.NoError(t, err)
	require.Equal(t, len(files), applied)
}
