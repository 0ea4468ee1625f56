package worker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/db/dbtest"
	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/access"
	"github.com/roamnode/roamnode/domain/event"
	"github.com/roamnode/roamnode/domain/webhook"
	"github.com/roamnode/roamnode/worker"
)

// The webhook tests run a real worker (asynq on Redis) against the
// package's database and a real HTTP receiver. They use a Redis database
// of their own (webhookRedisDB), because asynq servers of other test
// packages on the shared one would take these tasks, and because one test
// flushes it. They are not parallel: they share that queue.
const webhookRedisDB = dbtest.RedisDBWebhooks

// receiver is a webhook endpoint that verifies signatures and records the
// messages it accepted, in arrival order.
type receiver struct {
	t        *testing.T
	srv      *httptest.Server
	secret   atomic.Value // string
	failing  atomic.Bool  // answer 503
	hang     atomic.Value // chan struct{}: block until closed
	mu       sync.Mutex
	got      []webhook.Message
	bodies   []string // "object" or "array" per accepted request
	sizes    []int
	forged   int // requests whose signature did not verify
	requests int
	hungOnce chan struct{} // closed when a request starts hanging
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{t: t, hungOnce: make(chan struct{})}
	r.secret.Store("")
	r.hang.Store((chan struct{})(nil))
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.requests++
	r.mu.Unlock()
	if ch := r.hang.Load().(chan struct{}); ch != nil {
		select {
		case <-r.hungOnce:
		default:
			close(r.hungOnce)
		}
		select {
		case <-ch:
		case <-req.Context().Done():
			return
		}
	}
	if r.failing.Load() {
		http.Error(w, "receiver down", http.StatusServiceUnavailable)
		return
	}
	ok := webhook.Verify(r.secret.Load().(string), req.Header.Get(webhook.HeaderTimestamp), req.Header.Get(webhook.HeaderSignature), body, time.Now(), 5*time.Minute)
	r.mu.Lock()
	defer r.mu.Unlock()
	if !ok {
		r.forged++
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var msgs []webhook.Message
	kind := "array"
	if bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")) {
		var m webhook.Message
		require.NoError(r.t, json.Unmarshal(body, &m))
		msgs, kind = []webhook.Message{m}, "object"
	} else {
		require.NoError(r.t, json.Unmarshal(body, &msgs))
	}
	require.Equal(r.t, msgs[0].ID.String(), req.Header.Get(webhook.HeaderID))
	require.Equal(r.t, "k-"+r.t.Name()[:4], req.Header.Get("X-Api-Key")) // custom header
	r.got = append(r.got, msgs...)
	r.bodies = append(r.bodies, kind)
	r.sizes = append(r.sizes, len(msgs))
}

// ids returns the accepted message ids in arrival order.
func (r *receiver) ids() []uuid.UUID {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]uuid.UUID, len(r.got))
	for i, m := range r.got {
		out[i] = m.ID
	}
	return out
}

// distinct returns the distinct ids in order of first arrival.
func distinct(ids []uuid.UUID) []uuid.UUID {
	seen := map[uuid.UUID]bool{}
	var out []uuid.UUID
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// whHarness is one test's worker, owner account and event kind.
type whHarness struct {
	t     *testing.T
	ctx   context.Context
	rdb   *redis.Client
	owner uuid.UUID
	kind  string // this test's event kind, so tests never see each other's events
	opts  worker.WebhookOptions
	stops []func()
}

func newWebhookHarness(t *testing.T, opts worker.WebhookOptions) *whHarness {
	ctx := context.Background()
	rdb := redis.NewClient(dbtest.RedisDB(webhookRedisDB))
	t.Cleanup(func() { rdb.Close() })
	require.NoError(t, rdb.FlushDB(ctx).Err())
	owner := uuid.Must(uuid.NewV7())
	require.NoError(t, db.Q(testDB.Pool).UpsertBootstrapAccount(ctx, gen.UpsertBootstrapAccountParams{ID: owner,
		PublicID: "wh-" + owner.String()[:13], SecretHash: access.HashSecret(access.NewSecret()), CreatedAt: time.Now()}))
	opts.AllowPrivate = true
	if opts.Poll == 0 {
		opts.Poll = 10 * time.Millisecond
	}
	if opts.BaseBackoff == 0 {
		opts.BaseBackoff, opts.MaxBackoff = 20*time.Millisecond, 200*time.Millisecond
	}
	h := &whHarness{t: t, ctx: ctx, rdb: rdb, owner: owner, kind: "t-" + uuid.NewString()[:8], opts: opts}
	t.Cleanup(func() {
		for _, stop := range h.stops {
			stop()
		}
	})
	return h
}

func webhookLog() *slog.Logger {
	if os.Getenv("ROAMNODE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// start runs a worker (as a node would) until the returned stop is called.
func (h *whHarness) start() (stop func()) {
	ctx, cancel := context.WithCancel(h.ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		err := worker.Run(ctx, worker.Deps{Pool: testDB.Pool, Redis: h.rdb, Log: webhookLog()},
			worker.Options{Concurrency: 8, ShutdownTimeout: 2 * time.Second}, worker.Webhooks(ctx, h.opts))
		require.NoError(h.t, err)
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	h.stops = append(h.stops, stop)
	return stop
}

// subscribe creates a subscription to r for this test's kind.
func (h *whHarness) subscribe(r *receiver, batch int) webhook.Subscription {
	ctx := h.ctx
	seq, err := db.Q(testDB.Pool).MaxOutboxSeq(ctx)
	require.NoError(h.t, err)
	now := time.Now().UTC()
	s := webhook.Subscription{ID: uuid.Must(uuid.NewV7()), OwnerAccountID: h.owner, URL: r.srv.URL + "/hook", Kinds: []string{h.kind},
		Headers: map[string]string{"X-Api-Key": "k-" + h.t.Name()[:4]}, Secret: access.NewSecret(), BatchSize: batch,
		State: webhook.Active, Cursor: seq, CreatedAt: now, UpdatedAt: now}
	require.NoError(h.t, s.Validate())
	require.NoError(h.t, db.SaveWebhookSubscription(ctx, testDB.Pool, s, true))
	r.secret.Store(s.Secret)
	h.t.Cleanup(func() { // stop it from being drained by later tests
		_, _ = testDB.Pool.Exec(context.Background(), "UPDATE webhook_subscription SET state = 'paused' WHERE id = $1", s.ID)
	})
	return s
}

// write commits n events of the test's kind, one transaction each, and
// returns their ids in commit order.
func (h *whHarness) write(n int, data func(i int) any) []uuid.UUID {
	ids := make([]uuid.UUID, n)
	for i := range n {
		ev := event.New(h.kind, event.Update, nil, data(i))
		require.NoError(h.t, db.InTx(h.ctx, testDB.Pool, func(tx pgx.Tx) error { return db.AppendEvent(h.ctx, tx, ev) }))
		ids[i] = ev.ID
	}
	return ids
}

func (h *whHarness) load(id uuid.UUID) webhook.Subscription {
	s, err := db.WebhookSubscription(h.ctx, testDB.Pool, &id, "", false)
	require.NoError(h.t, err)
	return s
}

// eventually waits for cond with a deadline (no sleeps for synchronisation).
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// seqs maps event ids to their outbox seq.
func seqs(t *testing.T, ids []uuid.UUID) map[uuid.UUID]int64 {
	rows, err := testDB.Pool.Query(context.Background(), "SELECT id, seq FROM outbox_event WHERE id = ANY($1)", ids)
	require.NoError(t, err)
	out := map[uuid.UUID]int64{}
	for rows.Next() {
		var id uuid.UUID
		var s int64
		require.NoError(t, rows.Scan(&id, &s))
		out[id] = s
	}
	require.NoError(t, rows.Err())
	return out
}

// requireInOrder asserts that got holds exactly want's ids, each first
// received in outbox order, and that repeats are re-sends of ids already
// received (the at-least-once contract: same id).
func requireInOrder(t *testing.T, want []uuid.UUID, got []uuid.UUID) {
	t.Helper()
	first := distinct(got)
	require.ElementsMatch(t, want, first, "every event exactly once (by id)")
	seq := seqs(t, want)
	for i := 1; i < len(first); i++ {
		require.Less(t, seq[first[i-1]], seq[first[i]], "delivered out of commit order at %d", i)
	}
}

// Order under concurrent writers, with transactions that hold a low seq
// and commit late: nothing is skipped, every subscription gets outbox
// order; singles arrive as objects, batches as arrays; all are signed.
func TestWebhookOrderUnderConcurrentWrites(t *testing.T) {
	h := newWebhookHarness(t, worker.WebhookOptions{})
	single, batched := newReceiver(t), newReceiver(t)
	h.subscribe(single, 1)
	h.subscribe(batched, 50)
	h.start()

	const writers, per = 8, 60
	var mu sync.Mutex
	var all []uuid.UUID
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				ev := event.New(h.kind, event.Update, nil, map[string]int{"writer": w, "i": i})
				err := db.InTx(h.ctx, testDB.Pool, func(tx pgx.Tx) error {
					if err := db.AppendEvent(h.ctx, tx, ev); err != nil {
						return err
					}
					if i%10 == 3 { // hold the seq while others commit later ones
						time.Sleep(time.Duration(rand.IntN(300)) * time.Millisecond)
					}
					return nil
				})
				require.NoError(t, err)
				mu.Lock()
				all = append(all, ev.ID)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for _, r := range []*receiver{single, batched} {
		eventually(t, 60*time.Second, "all events", func() bool { return len(distinct(r.ids())) >= len(all) })
		requireInOrder(t, all, r.ids())
		// Per writer, versions arrive in the order they were written.
		last := map[float64]float64{}
		r.mu.Lock()
		for _, m := range distinctMsgs(r.got) {
			var d map[string]float64
			require.NoError(t, json.Unmarshal(m.Data, &d))
			if prev, ok := last[d["writer"]]; ok {
				require.Greater(t, d["i"], prev)
			}
			last[d["writer"]] = d["i"]
			require.Equal(t, h.kind, m.Kind)
			require.Equal(t, "update", m.ModificationKind)
		}
		require.Zero(t, r.forged)
		r.mu.Unlock()
	}
	require.NotContains(t, single.bodies, "array")
	require.NotContains(t, batched.bodies, "object")
	for _, n := range batched.sizes {
		require.LessOrEqual(t, n, 50)
	}
	require.Greater(t, len(all)/len(batched.sizes), 1, "batches carry several messages under load")
}

func distinctMsgs(ms []webhook.Message) []webhook.Message {
	seen := map[uuid.UUID]bool{}
	var out []webhook.Message
	for _, m := range ms {
		if !seen[m.ID] {
			seen[m.ID] = true
			out = append(out, m)
		}
	}
	return out
}

// A receiver that fails for a while: retries with backoff, the
// subscription turns failing (and an event says so), then it recovers and
// gets every event, in order, with the same ids; the log has each attempt.
func TestWebhookFailingReceiverRecovers(t *testing.T) {
	h := newWebhookHarness(t, worker.WebhookOptions{FailingAfter: 300 * time.Millisecond})
	r := newReceiver(t)
	r.failing.Store(true)
	sub := h.subscribe(r, 5)
	h.start()
	want := h.write(23, func(i int) any { return map[string]int{"i": i} })
	eventually(t, 30*time.Second, "failing state", func() bool { return h.load(sub.ID).State == webhook.Failing })
	s := h.load(sub.ID)
	require.Greater(t, s.Attempts, 1)
	require.NotNil(t, s.LastError)
	require.Contains(t, *s.LastError, "503")
	var failingEvents int
	require.NoError(t, testDB.Pool.QueryRow(h.ctx, `SELECT count(*) FROM outbox_event WHERE kind = 'webhook-subscription'
		AND data->>'id' = $1 AND data->>'state' = 'failing'`, sub.ID.String()).Scan(&failingEvents))
	require.Equal(t, 1, failingEvents, "one event reports the failing state")
	require.Empty(t, r.ids())

	r.failing.Store(false)
	eventually(t, 30*time.Second, "recovery", func() bool { return len(distinct(r.ids())) == len(want) })
	requireInOrder(t, want, r.ids())
	require.Equal(t, want, r.ids(), "the receiver accepted nothing while failing, so no duplicates at all")
	eventually(t, 5*time.Second, "active again", func() bool { return h.load(sub.ID).State == webhook.Active })
	s = h.load(sub.ID)
	require.Zero(t, s.Attempts)
	require.Nil(t, s.FailingSince)

	// The log entry of the last request commits just after the receiver
	// answered it.
	var log []gen.WebhookDelivery
	eventually(t, 5*time.Second, "the whole log", func() bool {
		var err error
		log, err = db.Q(testDB.Pool).ListWebhookDeliveries(h.ctx, gen.ListWebhookDeliveriesParams{SubscriptionID: sub.ID, PageLimit: 1000})
		require.NoError(t, err)
		n := 0
		for _, e := range log {
			if e.Outcome == "delivered" {
				n += int(e.EventCount)
			}
		}
		return n >= len(want)
	})
	var failed, delivered int
	for _, e := range log {
		switch e.Outcome {
		case "failed":
			failed++
			require.Equal(t, int32(503), *e.HttpStatus)
			require.Equal(t, want[0], e.FirstEventID, "retries repeat the head message")
		case "delivered":
			delivered += int(e.EventCount)
		}
	}
	require.GreaterOrEqual(t, failed, 2)
	require.Equal(t, len(want), delivered)
}

// Paused subscriptions receive nothing and keep their position; resumed,
// they get everything; a replay sends again from an event, same ids.
func TestWebhookPauseResumeReplay(t *testing.T) {
	h := newWebhookHarness(t, worker.WebhookOptions{})
	r := newReceiver(t)
	sub := h.subscribe(r, 1)
	h.start()
	first := h.write(3, func(i int) any { return map[string]int{"i": i} })
	eventually(t, 10*time.Second, "first events", func() bool { return len(r.ids()) == 3 })

	_, err := testDB.Pool.Exec(h.ctx, "UPDATE webhook_subscription SET state = 'paused' WHERE id = $1", sub.ID)
	require.NoError(t, err)
	time.Sleep(1100 * time.Millisecond) // a running drain notices a pause at its next lease renewal (≤ 1 s)
	second := h.write(4, func(i int) any { return map[string]int{"i": 10 + i} })
	time.Sleep(300 * time.Millisecond) // deliberately give a (wrong) delivery the chance to happen
	require.Len(t, r.ids(), 3, "paused: nothing delivered")

	_, err = testDB.Pool.Exec(h.ctx, "UPDATE webhook_subscription SET state = 'active' WHERE id = $1", sub.ID)
	require.NoError(t, err)
	eventually(t, 10*time.Second, "resumed", func() bool { return len(r.ids()) == 7 })
	require.Equal(t, append(append([]uuid.UUID{}, first...), second...), r.ids())

	// Replay from the second event: the same ids again, in order.
	seq := seqs(t, first)[first[1]]
	_, err = testDB.Pool.Exec(h.ctx, "UPDATE webhook_subscription SET cursor_seq = $2 WHERE id = $1", sub.ID, seq-1)
	require.NoError(t, err)
	eventually(t, 10*time.Second, "replayed", func() bool { return len(r.ids()) == 13 })
	require.Equal(t, append(append([]uuid.UUID{}, first[1:]...), second...), r.ids()[7:])
}

// Faults: a worker stopped while a request is in flight, a crashed
// worker's lease, Redis flushed, and the node down while events are
// written. Nothing is lost, repeats carry the same ids, order holds.
func TestWebhookFaults(t *testing.T) {
	h := newWebhookHarness(t, worker.WebhookOptions{Lease: 2 * time.Second})
	r := newReceiver(t)
	sub := h.subscribe(r, 3)
	var want []uuid.UUID
	data := func(i int) any { return map[string]int{"i": i} }

	// 1. The worker dies while the receiver holds the first request.
	hang := make(chan struct{})
	r.hang.Store(hang)
	stopA := h.start()
	want = append(want, h.write(5, data)...)
	<-r.hungOnce
	stopA()
	r.hang.Store((chan struct{})(nil))
	close(hang)
	// 2. Redis loses everything while no worker runs.
	require.NoError(t, h.rdb.FlushDB(h.ctx).Err())
	// 3. Events written while the node is down.
	want = append(want, h.write(5, data)...)
	stopB := h.start()
	eventually(t, 20*time.Second, "after restart", func() bool { return len(distinct(r.ids())) == len(want) })
	// 4. Redis flushed while the worker runs.
	require.NoError(t, h.rdb.FlushDB(h.ctx).Err())
	want = append(want, h.write(5, data)...)
	eventually(t, 20*time.Second, "after flush", func() bool { return len(distinct(r.ids())) == len(want) })
	stopB()

	// 5. A crashed worker left its lease: delivery waits for it to expire,
	// then resumes.
	_, err := testDB.Pool.Exec(h.ctx, "UPDATE webhook_subscription SET lease_owner = $2, lease_until = now() + interval '1 second' WHERE id = $1",
		sub.ID, uuid.New())
	require.NoError(t, err)
	h.start()
	want = append(want, h.write(5, data)...)
	eventually(t, 20*time.Second, "after lease expiry", func() bool { return len(distinct(r.ids())) == len(want) })
	requireInOrder(t, want, r.ids())
	require.Zero(t, r.forged)
}

// Two workers at once never deliver one subscription concurrently.
func TestWebhookTwoWorkersOneInFlight(t *testing.T) {
	h := newWebhookHarness(t, worker.WebhookOptions{})
	var inFlight, maxInFlight atomic.Int32
	r := newReceiver(t)
	inner := r.srv.Config.Handler
	r.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		n := inFlight.Add(1)
		for {
			m := maxInFlight.Load()
			if n <= m || maxInFlight.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(5 * time.Millisecond)
		inner.ServeHTTP(w, req)
		inFlight.Add(-1)
	})
	h.subscribe(r, 1)
	h.start()
	h.start()
	want := h.write(40, func(i int) any { return map[string]int{"i": i} })
	eventually(t, 30*time.Second, "all", func() bool { return len(distinct(r.ids())) == len(want) })
	requireInOrder(t, want, r.ids())
	require.Equal(t, int32(1), maxInFlight.Load(), "one message in flight per subscription")
}

// Without the operator's permission, private targets are refused at
// connect time (SSRF), and the refusal is in the delivery log.
func TestWebhookRefusesPrivateTargets(t *testing.T) {
	h := newWebhookHarness(t, worker.WebhookOptions{})
	h.opts.AllowPrivate = false
	r := newReceiver(t)
	sub := h.subscribe(r, 1)
	h.start()
	h.write(1, func(i int) any { return map[string]int{"i": i} })
	eventually(t, 10*time.Second, "a refused attempt", func() bool {
		s := h.load(sub.ID)
		return s.LastError != nil
	})
	require.Contains(t, *h.load(sub.ID).LastError, "not allowed")
	require.Empty(t, r.ids())
}
