package worker_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/db/dbtest"
	"github.com/roamnode/roamnode/domain/session"
	"github.com/roamnode/roamnode/worker"
)

// The charge-session lanes (session_drain.go) claim from the whole
// database, so each test here has a database of its own: the package's
// shared one holds other tests' pending sessions.
func ownDB(t *testing.T) *dbtest.Database {
	t.Helper()
	d, err := dbtest.New(context.Background())
	require.NoError(t, err)
	t.Cleanup(d.Close)
	return d
}

func testRedis(t *testing.T) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(dbtest.RedisURL())
	require.NoError(t, err)
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// receive stores n MSP sessions of party at EVSEs E0…E4, which no
// location matches, and returns their ids.
func receive(t *testing.T, pool *pgxpool.Pool, party string, n int) []uuid.UUID {
	t.Helper()
	ctx := context.Background()
	end := time.Now().UTC().Add(-time.Hour)
	ids := make([]uuid.UUID, n)
	for i := range ids {
		rec, _, err := db.ReceiveChargeSession(ctx, pool, db.Intake{Channel: db.ChannelOCPIPush, Payload: []byte(`{}`), Session: session.ChargeSession{
			Side: session.MSP, CountryCode: "NL", PartyID: party, CdrID: fmt.Sprintf("%s-%d", party, i), Start: end.Add(-time.Hour), End: end,
			Token: session.Token{UID: "T"}, Location: session.Place{LocationID: "L", EvseUID: fmt.Sprintf("E%d", i%5), ConnectorID: "1"},
			Currency: "EUR", TotalEnergy: decimal.NewFromInt(1), TotalTime: decimal.NewFromInt(1)}})
		require.NoError(t, err)
		ids[i] = rec.ID
	}
	return ids
}

// drain runs p's lanes until the test ends.
func drain(t *testing.T, p *worker.SessionProcessor) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); p.Drain(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
}

// waitCount waits until query counts want rows.
func waitCount(t *testing.T, pool *pgxpool.Pool, want int, query string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		require.NoError(t, pool.QueryRow(context.Background(), query, args...).Scan(&n))
		if n == want {
			return
		}
		require.True(t, time.Now().Before(deadline), "%d rows, want %d: %s", n, want, query)
		time.Sleep(20 * time.Millisecond)
	}
}

// Two transactions claim different sessions (two lanes or two workers
// never hold the same one); a session not yet due, or backed off, is not
// claimed; retries that are due come before fresh sessions, fresh ones
// after the cursor;
// ready_for_pricing sessions are claimed only for sides with pricers.
func TestClaimDueSessions(t *testing.T) {
	ctx := context.Background()
	d := ownDB(t)
	ids := receive(t, d.Pool, "CLM", 10)
	now := time.Now().UTC()
	set := func(id uuid.UUID, state string, next *time.Time) {
		_, err := d.Pool.Exec(ctx, "UPDATE charge_session SET state = $2, next_attempt_at = $3 WHERE id = $1", id, state, next)
		require.NoError(t, err)
	}
	past, future := now.Add(-time.Minute), now.Add(time.Hour)
	set(ids[8], "matching", &past)   // a retry that is due
	set(ids[9], "matching", &future) // a retry that is not
	set(ids[7], "ready_for_pricing", nil)
	skipped := ids[6]

	claimAfter := func(after uuid.UUID, limit int, hold bool, sides ...session.Side) []uuid.UUID {
		tx, err := d.Pool.Begin(ctx)
		require.NoError(t, err)
		if hold {
			t.Cleanup(func() { _ = tx.Rollback(ctx) }) // held to the end: its claim stays locked
		} else {
			defer func() { _ = tx.Rollback(ctx) }()
		}
		recs, err := db.ClaimDueSessions(ctx, tx, now, limit, sides, []uuid.UUID{skipped}, after)
		require.NoError(t, err)
		out := make([]uuid.UUID, len(recs))
		for i, r := range recs {
			out[i] = r.ID
		}
		return out
	}
	claim := func(limit int, sides ...session.Side) []uuid.UUID { return claimAfter(uuid.Nil, limit, true, sides...) }
	require.Equal(t, []uuid.UUID{ids[8], ids[4], ids[5]}, claimAfter(ids[3], 100, false),
		"fresh sessions after the cursor only; a retry whatever its id")
	require.Equal(t, []uuid.UUID{ids[8], ids[0], ids[1]}, claim(3), "the due retry, then fresh sessions in arrival order")
	require.Equal(t, ids[2:6], claim(100), "what another transaction holds is skipped; not due, backed off and ready_for_pricing are not claimed")
	require.Equal(t, []uuid.UUID{ids[7]}, claim(100, session.MSP), "ready_for_pricing is due on a side with pricers")
	require.Empty(t, claim(100, session.MSP))
}

// Two workers drain one backlog at once: every session takes each of its
// two steps once (a miss, then a miss again after a millisecond: two
// update events each) and drops out into the case of its EVSE, though both
// workers open the same five cases concurrently from batches committed in
// one transaction.
func TestDrainTwoWorkers(t *testing.T) {
	d := ownDB(t)
	rdb := testRedis(t)
	ids := receive(t, d.Pool, "TWO", 200)
	for range 2 {
		drain(t, worker.NewSessionProcessor(worker.Deps{Pool: d.Pool, Redis: rdb, Log: webhookLog()},
			worker.SessionOptions{Schedule: session.Schedule{time.Millisecond}, Lanes: 3, Batch: 8, IdlePoll: 50 * time.Millisecond}))
	}
	waitCount(t, d.Pool, len(ids), "SELECT count(*) FROM charge_session WHERE state = 'dropped_out' AND dropout_reason = 'Location not found'")
	waitCount(t, d.Pool, len(ids), `SELECT count(*) FROM (SELECT data->>'id' FROM outbox_event WHERE kind = 'msp-charge-session' AND modification_kind = 'update'
		GROUP BY 1 HAVING count(*) = 2) twice`)
	waitCount(t, d.Pool, 2*len(ids), "SELECT count(*) FROM outbox_event WHERE kind = 'msp-charge-session' AND modification_kind = 'update'")
	waitCount(t, d.Pool, 5, "SELECT count(*) FROM dropout_case WHERE party_id = 'TWO' AND state = 'open'")
	waitCount(t, d.Pool, len(ids), "SELECT count(DISTINCT id) FROM charge_session WHERE dropout_case_id IS NOT NULL AND attempts = 2")
}

// A session whose step fails (here a trigger refusing its update) rolls
// its batch back, and the batch's other sessions are processed one by one;
// the failing one stays pending and is backed off, not claimed again in a
// loop; once the fault is gone it goes on.
func TestDrainIsolatesAndBacksOffAFailingSession(t *testing.T) {
	ctx := context.Background()
	d := ownDB(t)
	rdb := testRedis(t)
	ids := receive(t, d.Pool, "BAD", 20)
	poison := ids[3]
	_, err := d.Pool.Exec(ctx, `CREATE SEQUENCE poison_attempts;
		CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF NEW.id = '`+poison.String()+`' THEN
				PERFORM nextval('poison_attempts');
				RAISE EXCEPTION 'refused by the test';
			END IF;
			RETURN NEW;
		END $$;
		CREATE TRIGGER refuse_poison BEFORE UPDATE ON charge_session FOR EACH ROW EXECUTE FUNCTION refuse_poison();`)
	require.NoError(t, err)
	drain(t, worker.NewSessionProcessor(worker.Deps{Pool: d.Pool, Redis: rdb, Log: webhookLog()},
		worker.SessionOptions{Schedule: session.Schedule{time.Hour}, Lanes: 2, Batch: 8, IdlePoll: 20 * time.Millisecond}))
	waitCount(t, d.Pool, len(ids)-1, "SELECT count(*) FROM charge_session WHERE state = 'matching' AND attempts = 1")
	s, err := db.ChargeSession(ctx, d.Pool, poison)
	require.NoError(t, err)
	require.Equal(t, session.Received, s.State)
	time.Sleep(1500 * time.Millisecond) // the lanes poll every 20 ms meanwhile
	var attempts int
	require.NoError(t, d.Pool.QueryRow(ctx, "SELECT last_value FROM poison_attempts").Scan(&attempts))
	// In its batch, alone, then (after the 1 s backoff) in a batch and
	// alone again: without the backoff it would be dozens.
	require.LessOrEqual(t, attempts, 6, "a failing session is backed off")

	_, err = d.Pool.Exec(ctx, "DROP TRIGGER refuse_poison ON charge_session")
	require.NoError(t, err)
	waitCount(t, d.Pool, len(ids), "SELECT count(*) FROM charge_session WHERE state = 'matching' AND attempts = 1")
}

// Sessions are claimed from Postgres, so a worker whose Redis is gone
// still processes them (on its idle poll); with Redis, a queue's wake-up
// reaches lanes that would otherwise sleep for an hour.
func TestDrainWithoutRedisAndWakeUp(t *testing.T) {
	ctx := context.Background()
	d := ownDB(t)
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 50 * time.Millisecond})
	t.Cleanup(func() { dead.Close() })
	ids := receive(t, d.Pool, "NOR", 5)
	offline := worker.NewSessionProcessor(worker.Deps{Pool: d.Pool, Redis: dead, Log: webhookLog()},
		worker.SessionOptions{Schedule: session.Schedule{time.Hour}, IdlePoll: 50 * time.Millisecond})
	oc, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); offline.Drain(oc) }()
	waitCount(t, d.Pool, len(ids), "SELECT count(*) FROM charge_session WHERE state = 'matching'")
	stop()
	<-done

	rdb := testRedis(t)
	drain(t, worker.NewSessionProcessor(worker.Deps{Pool: d.Pool, Redis: rdb, Log: webhookLog()},
		worker.SessionOptions{Schedule: session.Schedule{time.Hour}, IdlePoll: time.Hour}))
	time.Sleep(100 * time.Millisecond) // past the lanes' first (empty) claim
	late := receive(t, d.Pool, "WAK", 1)[0]
	q := worker.NewSessionQueue(rdb, d.Pool)
	deadline := time.Now().Add(10 * time.Second)
	for {
		// Repeated: the lanes' subscription may not be up for the first.
		require.NoError(t, q.Enqueue(ctx, late, session.Received, 0, time.Now()))
		s, err := db.ChargeSession(ctx, d.Pool, late)
		require.NoError(t, err)
		if s.State == session.Matching {
			break
		}
		require.True(t, time.Now().Before(deadline), "the wake-up did not reach the lanes")
		time.Sleep(50 * time.Millisecond)
	}
}

// countingLog counts the records logged at each level.
type countingLog struct {
	mu     sync.Mutex
	counts map[slog.Level]int
	msgs   []string
}

func (c *countingLog) Enabled(context.Context, slog.Level) bool { return true }
func (c *countingLog) Handle(_ context.Context, r slog.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counts[r.Level]++
	c.msgs = append(c.msgs, r.Message)
	return nil
}
func (c *countingLog) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *countingLog) WithGroup(string) slog.Handler      { return c }
func (c *countingLog) count(l slog.Level) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counts[l]
}

// While the lanes' claims fail (here: the table is gone, as when Postgres
// is unreachable), twelve lanes log the outage once, not at every poll,
// and its end once; then the sessions are processed.
func TestDrainClaimOutageLoggedOnce(t *testing.T) {
	ctx := context.Background()
	d := ownDB(t)
	ids := receive(t, d.Pool, "OUT", 3)
	cfg := d.Pool.Config()
	cfg.MaxConns = 24
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	_, err = d.Pool.Exec(ctx, "ALTER TABLE charge_session RENAME TO charge_session_away")
	require.NoError(t, err)
	logs := &countingLog{counts: map[slog.Level]int{}}
	drain(t, worker.NewSessionProcessor(worker.Deps{Pool: pool, Redis: testRedis(t), Log: slog.New(logs)},
		worker.SessionOptions{Schedule: session.Schedule{time.Hour}, Lanes: 12, IdlePoll: 20 * time.Millisecond}))
	deadline := time.Now().Add(10 * time.Second)
	for logs.count(slog.LevelWarn) == 0 {
		require.True(t, time.Now().Before(deadline), "the outage was not logged")
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(time.Second) // every lane fails several times meanwhile
	require.Equal(t, 1, logs.count(slog.LevelWarn), "%v", logs.msgs)

	_, err = d.Pool.Exec(ctx, "ALTER TABLE charge_session_away RENAME TO charge_session")
	require.NoError(t, err)
	waitCount(t, d.Pool, len(ids), "SELECT count(*) FROM charge_session WHERE state = 'matching'")
	for logs.count(slog.LevelInfo) == 0 {
		require.True(t, time.Now().Before(deadline), "the recovery was not logged")
		time.Sleep(20 * time.Millisecond)
	}
	require.Equal(t, 1, logs.count(slog.LevelWarn), "%v", logs.msgs)
	require.Equal(t, 1, logs.count(slog.LevelInfo), "%v", logs.msgs)
}
