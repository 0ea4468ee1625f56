// Command webhookbench measures webhook delivery (README → Webhooks,
// docs/performance.md): a real worker delivers outbox events to a local
// HTTP receiver that verifies every signature.
//
//  1. throughput: writers commit -events events as fast as they can while
//     -subs subscriptions (batch size -batch) deliver them; the figure is
//     deliveries (events × subscriptions) per second from the first commit
//     to the last event received by every subscription;
//  2. latency: one writer commits -rate events/s, one per transaction, for
//     -duration; the figure is the time from each commit to its arrival at
//     the receiver, per subscription (p50, p99, max).
//
// It makes its own database (dropped at the end) on the server of
// DATABASE_URL, and uses Redis database -redis-db of REDIS_URL (flushed).
// Usage: go run ./scripts/webhookbench [flags]   (or scripts/bench-webhooks)
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/db/dbtest"
	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/access"
	"github.com/roamnode/roamnode/domain/event"
	"github.com/roamnode/roamnode/domain/webhook"
	"github.com/roamnode/roamnode/worker"
)

func main() {
	subs := flag.Int("subs", 10, "subscriptions")
	batch := flag.Int("batch", 100, "batch size of each subscription")
	events := flag.Int("events", 20000, "events written in the throughput phase")
	writers := flag.Int("writers", 4, "concurrent writers in the throughput phase")
	perTx := flag.Int("per-tx", 10, "events per transaction in the throughput phase")
	rate := flag.Int("rate", 500, "events/s in the latency phase")
	duration := flag.Duration("duration", 20*time.Second, "length of the latency phase")
	redisDB := flag.Int("redis-db", 7, "Redis database index (flushed)")
	conc := flag.Int("concurrency", 0, "worker concurrency (default subs+4)")
	flag.Parse()
	if *conc == 0 {
		*conc = *subs + 4
	}
	if err := run(*subs, *batch, *events, *writers, *perTx, *rate, *duration, *redisDB, *conc); err != nil {
		fmt.Fprintln(os.Stderr, "webhookbench:", err)
		os.Exit(1)
	}
}

// receiver records the first arrival of each (subscription, event).
type receiver struct {
	secrets  map[string]string // path → secret
	mu       sync.Mutex
	arrivals map[string]map[uuid.UUID]time.Time // path → event → first arrival
	count    atomic.Int64                       // deliveries (events, repeats included)
	forged   atomic.Int64
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	now := time.Now()
	if !webhook.Verify(r.secrets[req.URL.Path], req.Header.Get(webhook.HeaderTimestamp), req.Header.Get(webhook.HeaderSignature), body, now, time.Minute) {
		r.forged.Add(1)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var msgs []struct {
		ID uuid.UUID `json:"id"`
	}
	if err := json.Unmarshal(body, &msgs); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	m := r.arrivals[req.URL.Path]
	for _, x := range msgs {
		if _, seen := m[x.ID]; !seen {
			m[x.ID] = now
		}
	}
	r.mu.Unlock()
	r.count.Add(int64(len(msgs)))
	w.WriteHeader(http.StatusNoContent)
}

// complete reports how many subscriptions have received every id.
func (r *receiver) complete(ids []uuid.UUID) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, m := range r.arrivals {
		all := true
		for _, id := range ids {
			if _, ok := m[id]; !ok {
				all = false
				break
			}
		}
		if all {
			n++
		}
	}
	return n
}

func run(subs, batch, events, writers, perTx, rate int, duration time.Duration, redisDB, conc int) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	d, err := dbtest.New(ctx) // its own database, cloned from the migrated template
	if err != nil {
		return err
	}
	defer d.Close()
	opt, err := redis.ParseURL(dbtest.RedisURL())
	if err != nil {
		return err
	}
	opt.DB = redisDB
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	if err := rdb.FlushDB(ctx).Err(); err != nil {
		return err
	}

	rcv := &receiver{secrets: map[string]string{}, arrivals: map[string]map[uuid.UUID]time.Time{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: rcv}
	go srv.Serve(ln) //nolint:errcheck
	defer srv.Close()

	owner := uuid.Must(uuid.NewV7())
	if err := db.Q(d.Pool).UpsertBootstrapAccount(ctx, gen.UpsertBootstrapAccountParams{ID: owner, PublicID: "bench-owner",
		SecretHash: access.HashSecret(access.NewSecret()), CreatedAt: time.Now()}); err != nil {
		return err
	}
	for i := range subs {
		path := fmt.Sprintf("/hook/%d", i)
		now := time.Now().UTC()
		s := webhook.Subscription{ID: uuid.Must(uuid.NewV7()), OwnerAccountID: owner, URL: "http://" + ln.Addr().String() + path,
			Kinds: []string{"bench"}, Headers: map[string]string{}, Secret: access.NewSecret(), BatchSize: batch, State: webhook.Active,
			CreatedAt: now, UpdatedAt: now}
		if err := db.SaveWebhookSubscription(ctx, d.Pool, s, true); err != nil {
			return err
		}
		rcv.secrets[path], rcv.arrivals[path] = s.Secret, map[uuid.UUID]time.Time{}
	}
	wctx, stopWorker := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- worker.Run(wctx, worker.Deps{Pool: d.Pool, Redis: rdb, Log: log}, worker.Options{Concurrency: conc, ShutdownTimeout: 5 * time.Second},
			worker.Webhooks(wctx, worker.WebhookOptions{AllowPrivate: true}))
	}()
	defer func() { stopWorker(); <-done }()

	payload := map[string]any{"id": uuid.NewString(), "administration_id": uuid.NewString(), "external_reference": "C-000123",
		"name": "Mr. Grain", "country": "NL", "entity_type": "person", "billing_email": "grain@example.com", "billing_phone": "+31 20 123 4567",
		"locale_id": "nl-NL", "reimbursement_vat": "applies", "withhold_billing": false, "company_reg_num": nil, "vat_number": nil,
		"created_at": time.Now().UTC(), "updated_at": time.Now().UTC(), "external_updated_at": nil}
	commit := func(n int) ([]uuid.UUID, error) {
		ids := make([]uuid.UUID, n)
		err := db.InTx(ctx, d.Pool, func(tx pgx.Tx) error {
			for i := range n {
				ev := event.New("bench", event.Update, nil, payload)
				if err := db.AppendEvent(ctx, tx, ev); err != nil {
					return err
				}
				ids[i] = ev.ID
			}
			return nil
		})
		return ids, err
	}
	fmt.Printf("webhookbench: %d subscriptions, batch %d, worker concurrency %d, GOMAXPROCS %d, %d CPUs\n", subs, batch, conc, runtime.GOMAXPROCS(0), runtime.NumCPU())

	// 1. Throughput.
	var all []uuid.UUID
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	var werr atomic.Value
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w * perTx; i < events; i += writers * perTx {
				ids, err := commit(min(perTx, events-i))
				if err != nil {
					werr.Store(err)
					return
				}
				mu.Lock()
				all = append(all, ids...)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err, _ := werr.Load().(error); err != nil {
		return err
	}
	written := time.Since(start)
	deadline := time.Now().Add(5 * time.Minute)
	for rcv.complete(all) < subs {
		if time.Now().After(deadline) {
			return fmt.Errorf("throughput: not every subscription got every event within 5 minutes")
		}
		time.Sleep(20 * time.Millisecond)
	}
	elapsed := time.Since(start)
	fmt.Printf("throughput: %d events written in %.2fs (%.0f/s); %d deliveries (events × subscriptions) in %.2fs = %.0f deliveries/s; %d requests re-sent events, %d forged\n",
		len(all), written.Seconds(), float64(len(all))/written.Seconds(), len(all)*subs, elapsed.Seconds(),
		float64(len(all)*subs)/elapsed.Seconds(), rcv.count.Load()-int64(len(all)*subs), rcv.forged.Load())

	// 2. Latency at a steady rate: a few paced writers (one commit takes a
	// few milliseconds, so one writer alone could not keep the rate).
	const pacers = 5
	committed := map[uuid.UUID]time.Time{}
	var ids []uuid.UUID
	end := time.Now().Add(duration)
	for p := range pacers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			interval := time.Second * pacers / time.Duration(rate)
			next := time.Now().Add(interval * time.Duration(p) / pacers)
			for next.Before(end) {
				time.Sleep(time.Until(next))
				next = next.Add(interval)
				got, err := commit(1)
				if err != nil {
					werr.Store(err)
					return
				}
				at := time.Now()
				mu.Lock()
				committed[got[0]] = at
				ids = append(ids, got[0])
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err, _ := werr.Load().(error); err != nil {
		return err
	}
	behind := rate*int(duration/time.Second) - len(ids)
	deadline = time.Now().Add(time.Minute)
	for rcv.complete(ids) < subs {
		if time.Now().After(deadline) {
			return fmt.Errorf("latency: not every subscription got every event within a minute")
		}
		time.Sleep(20 * time.Millisecond)
	}
	var lat []time.Duration
	rcv.mu.Lock()
	for _, m := range rcv.arrivals {
		for _, id := range ids {
			lat = append(lat, max(0, m[id].Sub(committed[id])))
		}
	}
	rcv.mu.Unlock()
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[int(p*float64(len(lat)-1))] }
	fmt.Printf("latency: %d events at %d/s for %s (%d short of the rate), %d deliveries: commit→delivery p50 %s, p99 %s, max %s\n",
		len(ids), rate, duration, behind, len(lat), pct(0.5).Round(time.Millisecond), pct(0.99).Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond))
	return nil
}
