package worker_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/db/dbtest"
	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/worker"
)

var testDB *dbtest.Database

func TestMain(m *testing.M) { dbtest.Main(m, &testDB) }

func TestPruneExchanges(t *testing.T) {
	ctx := context.Background()
	insert := func(at time.Time) uuid.UUID {
		id := uuid.Must(uuid.NewV7())
		require.NoError(t, db.Q(testDB.Pool).InsertExchange(ctx, gen.InsertExchangeParams{ID: id, At: at, Direction: "inbound",
			Method: "GET", Url: "http://x/ocpi/versions", HttpStatus: 200}))
		return id
	}
	old := insert(time.Now().Add(-31 * 24 * time.Hour))
	recent := insert(time.Now().Add(-29 * 24 * time.Hour))
	d := worker.Deps{Pool: testDB.Pool, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	n, err := worker.PruneExchanges(ctx, d, 30*24*time.Hour)
	require.NoError(t, err)
	require.Equal(t, int64(1), n)
	_, err = db.Q(testDB.Pool).GetExchange(ctx, old)
	require.Error(t, err)
	_, err = db.Q(testDB.Pool).GetExchange(ctx, recent)
	require.NoError(t, err)
	// Running it again changes nothing (idempotent).
	n, err = worker.PruneExchanges(ctx, d, 30*24*time.Hour)
	require.NoError(t, err)
	require.Zero(t, n)
}
