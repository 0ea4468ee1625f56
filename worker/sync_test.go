package worker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/db/dbtest"
	"github.com/roamnode/roamnode/domain/network"
	"github.com/roamnode/roamnode/domain/partner"
	"github.com/roamnode/roamnode/roaming"
	"github.com/roamnode/roamnode/worker"
)

// TestPullSyncThroughWorker: the sweep enqueues a due sync once (task id
// per connection and module), and the worker runs it to completion.
func TestPullSyncThroughWorker(t *testing.T) {
	ctx := context.Background()
	// A Redis database of this test's own: its queue must not meet other
	// tests' workers.
	rdb := redis.NewClient(dbtest.RedisDB(dbtest.RedisDBPullSync))
	t.Cleanup(func() { rdb.Close() })
	require.NoError(t, rdb.FlushDB(ctx).Err())

	cpo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		var locs []any
		for i := 0; i < 3; i++ {
			locs = append(locs, map[string]any{"country_code": "NL", "party_id": "WKR", "id": fmt.Sprintf("W%d", i), "publish": true,
				"address": "A 1", "city": "Utrecht", "country": "NLD", "coordinates": map[string]any{"latitude": "52.100000", "longitude": "5.100000"},
				"time_zone": "Europe/Amsterdam", "last_updated": "2024-01-01T00:00:00Z"})
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"data": locs, "status_code": 1000, "timestamp": "2024-01-01T00:00:00Z"})
	}))
	t.Cleanup(cpo.Close)
	now := time.Now().UTC()
	c := partner.Connection{ID: uuid.Must(uuid.NewV7()), Name: "worker cpo", Kind: partner.PeerToPeer, TokenBase64: true, CreatedAt: now, UpdatedAt: now}
	c.Registered(partner.NewToken(), "their", cpo.URL+"/versions", "2.2.1",
		[]partner.Endpoint{{Identifier: "locations", Role: "SENDER", URL: cpo.URL + "/locations"}}, nil, "us", now)
	require.NoError(t, db.SaveConnection(ctx, testDB.Pool, c, true))
	require.NoError(t, db.RoamingStore{Pool: testDB.Pool}.InTx(ctx, func(tx roaming.Tx) error {
		return tx.LinkParties(ctx, c.ID, []partner.CredentialsRole{{Role: partner.RoleCPO, CountryCode: "NL", PartyID: "WKR", Name: "W"}})
	}))

	d := worker.Deps{Pool: testDB.Pool, Redis: rdb, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	o := worker.SyncOptions{Interval: time.Hour, Sweep: 200 * time.Millisecond}
	client := asynq.NewClientFromRedisClient(rdb)
	mine := func(n int, err error) int {
		require.NoError(t, err)
		return n
	}
	// Other connections in the package's database may be due as well; this
	// one is enqueued by the first sweep and not by the second.
	first := mine(worker.SweepSyncs(ctx, d, client, o))
	require.GreaterOrEqual(t, first, 1)
	require.Zero(t, mine(worker.SweepSyncs(ctx, d, client, o)), "a queued sync is not enqueued twice")

	wctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- worker.Run(wctx, d, worker.Options{Concurrency: 2, ShutdownTimeout: 5 * time.Second}, worker.PullSync(o))
	}()
	t.Cleanup(func() { cancel(); <-done })
	deadline := time.Now().Add(20 * time.Second)
	for {
		st, err := db.Syncs(ctx, testDB.Pool, c.ID)
		require.NoError(t, err)
		if len(st) == 1 && st[0].Status == "idle" && st[0].LastSuccessStartedAt != nil {
			require.Equal(t, string(network.ModuleLocations), st[0].Module)
			require.Zero(t, st[0].Rejected, "%v", st[0].LastRejection)
			break
		}
		require.True(t, time.Now().Before(deadline), "the worker did not complete the sync: %+v", st)
		time.Sleep(50 * time.Millisecond)
	}
	var n int
	require.NoError(t, testDB.Pool.QueryRow(ctx, "SELECT count(*) FROM partner_location WHERE connection_id = $1", c.ID).Scan(&n))
	require.Equal(t, 3, n)
}
