package module_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/db/dbtest"
	"github.com/roamnode/roamnode/domain/session"
	"github.com/roamnode/roamnode/worker"
)

// faultRedisDB is a Redis database index of this test's own: it is
// flushed on purpose, and its queue must not meet other tests' workers.
const faultRedisDB = dbtest.RedisDBCDRFaults

func faultRedisURL(t *testing.T) string {
	u, err := url.Parse(dbtest.RedisURL())
	require.NoError(t, err)
	u.Path = fmt.Sprintf("/%d", faultRedisDB)
	return u.String()
}

// faultWorker runs a real asynq worker (worker.Run with the session
// registration) until stop is called.
type faultWorker struct {
	cancel context.CancelFunc
	done   chan error
}

func startFaultWorker(t *testing.T, b *cdrBench, rdb *redis.Client, sched session.Schedule) *faultWorker {
	ctx, cancel := context.WithCancel(context.Background())
	w := &faultWorker{cancel: cancel, done: make(chan error, 1)}
	go func() {
		w.done <- worker.Run(ctx, worker.Deps{Pool: b.db.Pool, Redis: rdb, Log: testLog()},
			worker.Options{Concurrency: 4, ShutdownTimeout: 300 * time.Millisecond}, worker.Sessions(worker.SessionOptions{Schedule: sched}))
	}()
	return w
}

func (w *faultWorker) stop(t *testing.T) {
	w.cancel()
	select {
	case err := <-w.done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("worker did not stop")
	}
}

// cdrPoster posts CDRs the way a partner does: a CDR that was not
// acknowledged (a 5xx, a broken connection) is posted again until it is.
type cdrPoster struct {
	b        *cdrBench
	mu       sync.Mutex
	accepted map[string]uuid.UUID // CDR id → session id from the Location
	retries  int
}

func (p *cdrPoster) post(t *testing.T, id string, body []byte) {
	for attempt := 0; ; attempt++ {
		st, loc, err := p.b.tryPost(body)
		if err == nil && st == 201 {
			p.mu.Lock()
			defer p.mu.Unlock()
			sid := sessionIDOf(t, loc)
			if prev, ok := p.accepted[id]; ok {
				require.Equal(t, prev, sid, "a CDR posted again is the same session")
			}
			p.accepted[id] = sid
			return
		}
		require.Less(t, attempt, 50, "CDR %s never accepted: %d %v", id, st, err)
		p.mu.Lock()
		p.retries++
		p.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCDRFaultsWorkerStoppedRedisFlushedPostgresDropped: CDRs arrive while
// the worker is stopped in the middle of a task, Redis is flushed, and
// Postgres drops every connection of the node; afterwards every CDR that
// was acknowledged is exactly one session, in the state its facts call
// for, and nothing else was stored.
func TestCDRFaultsWorkerStoppedRedisFlushedPostgresDropped(t *testing.T) {
	ctx := context.Background()
	opt, err := redis.ParseURL(faultRedisURL(t))
	require.NoError(t, err)
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { _ = rdb.FlushDB(ctx).Err(); rdb.Close() })
	require.NoError(t, rdb.FlushDB(ctx).Err())

	sched := session.Schedule{100 * time.Millisecond}
	b := startCDRs(t, faultRedisURL(t), sched)
	b.addEVSE()
	addToken(t, b.db, "012345678")
	p := &cdrPoster{b: b, accepted: map[string]uuid.UUID{}}
	// A CDR's content is fixed: a resent CDR is the same CDR.
	end := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	at := func(m map[string]any) {
		m["start_date_time"], m["end_date_time"] = end.Add(-2*time.Hour).Format(time.RFC3339), end.Format(time.RFC3339)
	}
	known := func(i int) (string, []byte) { id := fmt.Sprintf("K-%04d", i); return id, cdr(id, at) }
	unknown := func(i int) (string, []byte) {
		id := fmt.Sprintf("U-%04d", i)
		return id, cdr(id, func(m map[string]any) {
			at(m)
			l := m["cdr_location"].(map[string]any)
			l["id"], l["evse_uid"], l["evse_id"] = "NOWHERE", "NOPE", "BE*BEC*E999"
		})
	}
	pick := func(i int) (string, []byte) {
		if i%5 == 0 {
			return unknown(i)
		}
		return known(i)
	}
	postAll := func(from, to int) {
		var wg sync.WaitGroup
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := from + w; i < to; i += 4 {
					id, body := pick(i)
					p.post(t, id, body)
				}
			}(w)
		}
		wg.Wait()
	}

	// Phase 1: the worker runs while CDRs arrive; a session's row is
	// locked by someone else (an operator's transaction): the worker's
	// lanes skip it and go on with the others; it is stopped while the
	// row is still locked.
	w1 := startFaultWorker(t, b, rdb, sched)
	postAll(0, 150)
	var victim uuid.UUID
	for i := 150; victim == uuid.Nil; i++ {
		require.Less(t, i, 200, "the worker took every CDR before it could be blocked")
		id, body := pick(i)
		p.post(t, id, body)
		tx, err := b.db.Pool.Begin(ctx)
		require.NoError(t, err)
		var st string
		require.NoError(t, tx.QueryRow(ctx, "SELECT state FROM charge_session WHERE id = $1 FOR UPDATE", p.accepted[id]).Scan(&st))
		if st != string(session.Received) {
			_ = tx.Rollback(ctx) // the worker was quicker; try the next one
			continue
		}
		victim = p.accepted[id]
		postAll(i+1, 200)
		waitUntil(t, 30*time.Second, "every session but the locked one past received", func() bool {
			return b.countWhere("state = 'received' AND id <> '"+victim.String()+"'") == 0
		})
		require.Equal(t, 1, b.countWhere("state = 'received' AND id = '"+victim.String()+"'"), "the locked session was skipped")
		w1.stop(t)
		require.NoError(t, tx.Rollback(ctx))
	}

	// Phase 2: no worker; Redis is flushed (it holds no session work);
	// Postgres drops the node's connections while more CDRs (and
	// duplicates) arrive.
	require.NoError(t, rdb.FlushDB(ctx).Err())
	var dropped int
	require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid()`).Scan(&dropped))
	postAll(200, 400)
	postAll(0, 50)    // a partner resends what it is unsure about
	b.db.Pool.Reset() // the test's own queries start on fresh connections
	pending := b.countWhere("state IN ('received', 'matching', 'validating')")
	require.Positive(t, pending, "work is owed that Redis no longer knows about")

	// Phase 3: a new worker claims what Postgres says is pending.
	w2 := startFaultWorker(t, b, rdb, sched)
	defer w2.stop(t)
	waitUntil(t, 90*time.Second, "every session in a terminal state", func() bool {
		return b.countWhere("state IN ('received', 'matching', 'validating')") == 0
	})

	// Count: one session per acknowledged CDR, none else, each where its
	// facts lead.
	require.Len(t, p.accepted, 400)
	require.Equal(t, 400, b.count("charge_session"))
	require.Equal(t, 400, b.count("charge_session_original"))
	require.Zero(t, b.countWhere("cdr_key IN (SELECT cdr_key FROM charge_session GROUP BY cdr_key HAVING count(*) > 1)"))
	ids := map[uuid.UUID]bool{}
	for _, sid := range p.accepted {
		ids[sid] = true
	}
	require.Len(t, ids, 400, "every CDR has a session of its own")
	rows, err := b.db.Pool.Query(ctx, "SELECT id, cdr_id, state, coalesce(dropout_reason, '') FROM charge_session")
	require.NoError(t, err)
	type row struct {
		id                  uuid.UUID
		cdr, state, dropout string
	}
	all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var x row
		return x, r.Scan(&x.id, &x.cdr, &x.state, &x.dropout)
	})
	require.NoError(t, err)
	byState := map[string]int{}
	for _, r := range all {
		require.True(t, ids[r.id], "session %s was acknowledged", r.cdr)
		require.Equal(t, p.accepted[r.cdr], r.id)
		byState[r.state]++
		if r.cdr[0] == 'U' {
			require.Equal(t, string(session.DroppedOut), r.state, r.cdr)
			require.Equal(t, string(session.LocationNotFound), r.dropout, r.cdr)
		} else {
			require.Equal(t, string(session.ReadyForPricing), r.state, r.cdr)
		}
	}
	require.Equal(t, map[string]int{"ready_for_pricing": 320, "dropped_out": 80}, byState)
	// Every session's history is in the outbox: its creation and its
	// final state, once each.
	require.Equal(t, 400, b.countEvents("create", ""))
	require.Equal(t, 320, b.countEvents("update", "ready_for_pricing"))
	require.Equal(t, 80, b.countEvents("update", "dropped_out"))
	// Each session's latest event carries the session as GET renders it
	// (the intake and step commits build it without reading it back).
	evs, err := b.db.Pool.Query(ctx, `SELECT DISTINCT ON (data->>'id') (data->>'id')::uuid, data FROM outbox_event
		WHERE kind = 'msp-charge-session' ORDER BY data->>'id', seq DESC`)
	require.NoError(t, err)
	latest, err := pgx.CollectRows(evs, func(r pgx.CollectableRow) (struct {
		id   uuid.UUID
		data []byte
	}, error) {
		var x struct {
			id   uuid.UUID
			data []byte
		}
		return x, r.Scan(&x.id, &x.data)
	})
	require.NoError(t, err)
	require.Len(t, latest, 400)
	for _, e := range latest {
		view, err := json.Marshal(db.ChargeSessionViewOf(b.state(e.id)))
		require.NoError(t, err)
		require.JSONEq(t, string(view), string(e.data))
	}
	t.Logf("posts retried: %d; connections dropped: %d; pending after the flush: %d", p.retries, dropped, pending)
}

// tryPost posts a CDR body and reports the status and Location, or the
// transport error, without failing the test.
func (b *cdrBench) tryPost(body []byte) (int, string, error) {
	req, err := http.NewRequest("POST", b.base+"/ocpi/2.2.1/emsp/cdrs", bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Authorization", "Token "+base64.StdEncoding.EncodeToString([]byte(b.token)))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	return res.StatusCode, res.Header.Get("Location"), nil
}

func (b *cdrBench) countWhere(cond string) int {
	b.t.Helper()
	var n int
	require.NoError(b.t, b.db.Pool.QueryRow(context.Background(), "SELECT count(*) FROM charge_session WHERE "+cond).Scan(&n))
	return n
}

func (b *cdrBench) countEvents(mod, state string) int {
	b.t.Helper()
	var n int
	require.NoError(b.t, b.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM outbox_event
		WHERE kind = 'msp-charge-session' AND modification_kind = $1 AND ($2 = '' OR data->>'state' = $2)`, mod, state).Scan(&n))
	return n
}

// waitUntil polls cond until it holds or the deadline passes.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
