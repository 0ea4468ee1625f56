package worker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/event"
	"github.com/roamnode/roamnode/domain/webhook"
)

// Webhook task names.
const (
	TaskWebhookDrain = "webhook:drain" // payload: the subscription id (16 bytes), plus one byte for a continuation
	TaskWebhookPrune = "webhook:prune-deliveries"
)

// WebhookOptions tune webhook delivery (ROAMNODE_WEBHOOK_* settings).
type WebhookOptions struct {
	AllowPrivate     bool          // allow targets on loopback, link-local and private addresses (tests, on-premise)
	Timeout          time.Duration // per request, connection included (default 10s)
	FailingAfter     time.Duration // a head message failing this long turns the subscription "failing" (default 15m)
	BaseBackoff      time.Duration // wait after the first failure (default 1s), doubling per attempt
	MaxBackoff       time.Duration // longest wait between attempts (default 5m)
	Poll             time.Duration // how often the dispatcher looks for new events (default 50ms)
	IdleWait         time.Duration // how long a caught-up drain keeps watching before it ends (default 2s)
	RunFor           time.Duration // how long one drain task delivers before it hands over to a continuation (default 10s)
	Lease            time.Duration // how long a drain holds a subscription without renewing (default Timeout+20s)
	LogRetention     time.Duration // delivery log retention (default 720h)
	MaxResponseBytes int64         // response bytes read at most (default 64 KiB)
}

func (o *WebhookOptions) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.Timeout, 10*time.Second)
	def(&o.FailingAfter, 15*time.Minute)
	def(&o.BaseBackoff, time.Second)
	def(&o.MaxBackoff, 5*time.Minute)
	def(&o.Poll, 50*time.Millisecond)
	def(&o.IdleWait, 2*time.Second)
	def(&o.RunFor, 10*time.Second)
	def(&o.Lease, o.Timeout+20*time.Second)
	def(&o.LogRetention, 720*time.Hour)
	if o.MaxResponseBytes <= 0 {
		o.MaxResponseBytes = 64 << 10
	}
}

// Webhooks registers webhook delivery (issue 7; DESIGN.md → How data
// moves, step 4):
//
//   - A dispatcher goroutine per worker process polls every Poll: it
//     advances the outbox horizon (db.Horizon: below it every event is
//     final, so cursors never skip a late commit) and enqueues a
//     "webhook:drain" task for each subscription that is owed events, is
//     not backing off and is not held by a drain. A short poll rather than
//     LISTEN/NOTIFY: NOTIFY serialises every committing writer on a global
//     queue lock and needs a dedicated connection per process, while the
//     horizon needs a second look after commit anyway; at 50 ms the poll
//     costs two tiny queries and stays far inside the 1 s latency target.
//     Because the dispatcher derives the work from Postgres every time, it
//     is also the sweeper: tasks lost with Redis are re-created at once.
//   - A drain task holds a lease on its subscription in Postgres (so two
//     workers never deliver one subscription at once, and a killed worker's
//     lease expires), then delivers in seq order, one request in flight,
//     until caught up and idle for IdleWait; after RunFor, if other tasks
//     wait for a worker slot, it enqueues its own continuation and yields
//     (fairness), otherwise it goes on (no gap of asynq's idle poll). Tasks are de-duplicated with asynq's uniqueness lock on
//     the subscription id rather than a task id: a task id stays taken by
//     an archived task (a crashed handler), a lock expires.
//   - The cursor, attempts, backoff, failing state and the delivery log are
//     all in Postgres, and every cursor move is fenced by the lease and the
//     cursor value read, so an operator's skip or replay always wins.
//
// The dispatcher stops when ctx ends.
func Webhooks(ctx context.Context, o WebhookOptions) Registration {
	o.defaults()
	return func(d Deps, mux *asynq.ServeMux, sched *asynq.Scheduler) error {
		w := &webhooks{d: d, o: o, client: newWebhookClient(o), queue: asynq.NewClientFromRedisClient(d.Redis),
			inspect: asynq.NewInspectorFromRedisClient(d.Redis)}
		mux.HandleFunc(TaskWebhookDrain, w.drain)
		mux.HandleFunc(TaskWebhookPrune, func(ctx context.Context, _ *asynq.Task) error {
			_, err := db.Q(d.Pool).PruneWebhookDeliveries(ctx, time.Now().Add(-o.LogRetention))
			return err
		})
		if _, err := sched.Register("@every 1h", asynq.NewTask(TaskWebhookPrune, nil), asynq.Unique(55*time.Minute), asynq.MaxRetry(3)); err != nil {
			return err
		}
		go w.dispatch(ctx)
		return nil
	}
}

type webhooks struct {
	d       Deps
	o       WebhookOptions
	client  *http.Client
	queue   *asynq.Client
	inspect *asynq.Inspector
	horizon db.Horizon
}

// dispatch advances the horizon and enqueues due drains every Poll.
func (w *webhooks) dispatch(ctx context.Context) {
	t := time.NewTicker(w.o.Poll)
	defer t.Stop()
	var lastErr time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := w.dispatchOnce(ctx); err != nil && ctx.Err() == nil && time.Since(lastErr) > 10*time.Second {
			lastErr = time.Now() // Postgres or Redis away: say so every 10 s, keep trying
			w.d.Log.Warn("webhook dispatcher", "err", err)
		}
	}
}

// dispatchOnce is one round of the dispatcher.
func (w *webhooks) dispatchOnce(ctx context.Context) error {
	h, err := w.horizon.Advance(ctx, w.d.Pool)
	if err != nil {
		return err
	}
	due, err := db.Q(w.d.Pool).DueWebhookSubscriptions(ctx, h)
	if err != nil {
		return err
	}
	for _, id := range due {
		if err := w.enqueue(ctx, id, false); err != nil {
			return err
		}
	}
	return nil
}

// drainTimeout is about how long one drain task may run before it hands
// over to a continuation even when no other task waits.
const drainTimeout = 10 * time.Minute

// enqueue adds a drain task unless one is already queued for the
// subscription. A continuation has its own uniqueness key, because the
// running task still holds the first one.
func (w *webhooks) enqueue(ctx context.Context, id uuid.UUID, continuation bool) error {
	payload := id[:]
	if continuation {
		payload = append(append([]byte{}, id[:]...), 1)
	}
	_, err := w.queue.EnqueueContext(ctx, asynq.NewTask(TaskWebhookDrain, payload), asynq.Unique(5*time.Second),
		asynq.MaxRetry(0), asynq.Timeout(drainTimeout+w.o.RunFor+w.o.Lease+w.o.Timeout))
	if errors.Is(err, asynq.ErrDuplicateTask) {
		return nil
	}
	return err
}

// drain delivers one subscription's owed events in order. It never returns
// an error to asynq: failures are recorded in Postgres (backoff, delivery
// log) and the dispatcher comes back; an error would only archive the task.
func (w *webhooks) drain(ctx context.Context, t *asynq.Task) error {
	if len(t.Payload()) < 16 {
		return nil
	}
	id, _ := uuid.FromBytes(t.Payload()[:16])
	if err := w.drainSubscription(ctx, id); err != nil && ctx.Err() == nil {
		w.d.Log.Error("webhook drain", "subscription_id", id, "err", err)
	}
	return nil
}

// drainSubscription is a drain with errors. See Webhooks.
func (w *webhooks) drainSubscription(ctx context.Context, id uuid.UUID) error {
	me := uuid.New()
	row, err := db.Q(w.d.Pool).AcquireWebhookLease(ctx, gen.AcquireWebhookLeaseParams{ID: id, Owner: me, Until: time.Now().Add(w.o.Lease)})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil // held by another drain, paused, backing off or gone
	}
	if err != nil {
		return err
	}
	held := true
	release := func() {
		if held {
			held = false
			c, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			_ = db.Q(w.d.Pool).ReleaseWebhookLease(c, gen.ReleaseWebhookLeaseParams{ID: id, Owner: me})
		}
	}
	defer release()

	sub := db.WebhookSubscriptionOf(row)
	owner, err := db.APIAccount(ctx, w.d.Pool, &sub.OwnerAccountID, "", false)
	if err != nil || owner.Disabled {
		return err // a disabled owner's subscriptions wait (the dispatcher skips them)
	}
	start, renewed := time.Now(), time.Now()
	var idleSince, lingerSince time.Time
	for ctx.Err() == nil {
		// Renew the lease now and then, which also picks up what an
		// operator changed (pause, settings, skip, replay).
		if time.Since(renewed) > min(w.o.Lease/3, time.Second) {
			r, err := db.Q(w.d.Pool).RenewWebhookLease(ctx, gen.RenewWebhookLeaseParams{ID: id, Owner: me, Until: time.Now().Add(w.o.Lease)})
			if errors.Is(err, pgx.ErrNoRows) {
				held = false // expired and taken over: stop at once
				return nil
			}
			if err != nil {
				return err
			}
			sub, renewed = db.WebhookSubscriptionOf(r), time.Now()
		}
		if sub.State == webhook.Paused {
			return nil
		}
		if time.Since(start) > w.o.RunFor {
			// Hand the worker slot over only when other tasks wait for
			// one: a continuation can wait up to asynq's idle poll (1 s)
			// before it starts, which the latency target cannot afford
			// when nobody needed the slot.
			// Near the task's own timeout it hands over in any case.
			dl, _ := ctx.Deadline()
			if info, err := w.inspect.GetQueueInfo("default"); err == nil && info.Pending == 0 && time.Until(dl) > w.o.Lease+w.o.Timeout {
				start = time.Now()
			} else {
				release()
				return w.enqueue(ctx, id, true)
			}
		}
		horizon, err := db.Q(w.d.Pool).WebhookHorizon(ctx)
		if err != nil {
			return err
		}
		rows, err := db.Q(w.d.Pool).WebhookEvents(ctx, gen.WebhookEventsParams{CursorSeq: sub.Cursor, Horizon: horizon, Kinds: sub.Kinds,
			AllAdmins: owner.AllAdministrations, AdminIds: nonNilIDs(owner.AdministrationIDs), ScopedKinds: webhook.ScopedKinds(), MaxRows: int32(sub.BatchSize + 1)})
		if err != nil {
			return err
		}
		if len(rows) == 0 {
			if sub.Cursor < horizon { // nothing for this subscription up to the horizon
				if ok, err := w.moveCursor(ctx, &sub, me, horizon, nil); err != nil || !ok {
					return err
				}
			}
			if idleSince.IsZero() {
				idleSince = time.Now()
			} else if time.Since(idleSince) > w.o.IdleWait {
				return nil
			}
			sleep(ctx, w.o.Poll)
			continue
		}
		idleSince = time.Time{}
		full := len(rows) > sub.BatchSize
		if !full && sub.BatchLingerMs > 0 {
			// A partial batch waits up to the linger for more events.
			if lingerSince.IsZero() {
				lingerSince = time.Now()
			}
			if time.Since(lingerSince) < time.Duration(sub.BatchLingerMs)*time.Millisecond {
				sleep(ctx, w.o.Poll)
				continue
			}
		}
		lingerSince = time.Time{}
		batch, next := rows, horizon // every matching event up to the horizon is in this batch
		if full {
			batch, next = rows[:sub.BatchSize], rows[sub.BatchSize-1].Seq
		}
		msgs := make([]webhook.Message, 0, len(batch))
		for _, r := range batch {
			// The owner's permissions decide which kinds it may see (the
			// administrations were filtered in SQL).
			if webhook.MaySee(owner, r.Kind, nil) {
				msgs = append(msgs, webhook.Message{ID: r.ID, OccurredAt: r.OccurredAt, ModificationKind: r.ModificationKind, Kind: r.Kind, Data: r.Data})
			}
		}
		if len(msgs) == 0 {
			if ok, err := w.moveCursor(ctx, &sub, me, next, nil); err != nil || !ok {
				return err
			}
			continue
		}
		res := w.send(ctx, sub, msgs)
		if ctx.Err() != nil {
			return nil // shutting down: the outcome is unknown, the next drain sends the same ids again
		}
		if res.err != nil {
			held = false // WebhookAttemptFailed releases the lease
			return w.failed(ctx, sub, me, msgs, res)
		}
		if ok, err := w.delivered(ctx, &sub, me, next, msgs, res); err != nil || !ok {
			return err
		}
	}
	return nil
}

// moveCursor moves the cursor (fenced); false when the drain must stop
// because it lost the lease or an operator moved the cursor.
func (w *webhooks) moveCursor(ctx context.Context, sub *webhook.Subscription, me uuid.UUID, to int64, deliveredAt *time.Time) (bool, error) {
	n, err := db.Q(w.d.Pool).MoveWebhookCursor(ctx, gen.MoveWebhookCursorParams{ID: sub.ID, Owner: me, OldCursor: sub.Cursor, NewCursor: to, DeliveredAt: deliveredAt})
	if err != nil || n == 0 {
		return false, err
	}
	sub.Cursor = to
	return true, nil
}

// delivered records a successful request: cursor, delivery log and, when
// the subscription was failing, its recovery (an event) in one transaction.
func (w *webhooks) delivered(ctx context.Context, sub *webhook.Subscription, me uuid.UUID, next int64, msgs []webhook.Message, res sendResult) (bool, error) {
	now := time.Now().UTC()
	moved := false
	err := db.InTx(ctx, w.d.Pool, func(tx pgx.Tx) error {
		n, err := db.Q(tx).MoveWebhookCursor(ctx, gen.MoveWebhookCursorParams{ID: sub.ID, Owner: me, OldCursor: sub.Cursor, NewCursor: next, DeliveredAt: &now})
		if err != nil {
			return err
		}
		if err := w.log(ctx, tx, sub.ID, "delivered", msgs, sub.Attempts+1, res); err != nil {
			return err
		}
		moved = n > 0
		if moved && sub.State == webhook.Failing {
			sub.State, sub.Attempts, sub.FailingSince, sub.NextAttemptAt, sub.LastError, sub.LastDeliveredAt = webhook.Active, 0, nil, nil, nil, &now
			return db.AppendEvent(ctx, tx, event.New("webhook-subscription", event.Update, nil, webhook.ViewOf(*sub)))
		}
		return nil
	})
	if err != nil || !moved {
		return false, err
	}
	sub.Cursor, sub.Attempts, sub.FailingSince = next, 0, nil
	return true, nil
}

// failed records a failed attempt: backoff with jitter, the failing state
// once the head message has failed for FailingAfter (with an event saying
// so), and the delivery log; it releases the lease.
func (w *webhooks) failed(ctx context.Context, sub webhook.Subscription, me uuid.UUID, msgs []webhook.Message, res sendResult) error {
	now := time.Now().UTC()
	attempts := sub.Attempts + 1
	since := now
	if sub.FailingSince != nil {
		since = *sub.FailingSince
	}
	wait := webhook.Backoff(attempts, w.o.BaseBackoff, w.o.MaxBackoff)
	state := sub.State
	turned := state == webhook.Active && now.Sub(since) >= w.o.FailingAfter
	if turned {
		state = webhook.Failing
	}
	msg := res.err.Error()
	c, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return db.InTx(c, w.d.Pool, func(tx pgx.Tx) error {
		n, err := db.Q(tx).WebhookAttemptFailed(c, gen.WebhookAttemptFailedParams{ID: sub.ID, Owner: me, OldCursor: sub.Cursor,
			Attempts: int32(attempts), FailingSince: &since, NextAttemptAt: now.Add(wait), LastError: &msg, State: string(state)})
		if err != nil {
			return err
		}
		if err := w.log(c, tx, sub.ID, "failed", msgs, attempts, res); err != nil {
			return err
		}
		if n > 0 && turned {
			sub.State, sub.Attempts, sub.FailingSince, sub.LastError = state, attempts, &since, &msg
			next := now.Add(wait)
			sub.NextAttemptAt = &next
			w.d.Log.Warn("webhook subscription failing", "subscription_id", sub.ID, "since", since, "err", msg)
			return db.AppendEvent(c, tx, event.New("webhook-subscription", event.Update, nil, webhook.ViewOf(sub)))
		}
		return nil
	})
}

// log writes one delivery-log entry.
func (w *webhooks) log(ctx context.Context, q db.Querier, sub uuid.UUID, outcome string, msgs []webhook.Message, attempt int, res sendResult) error {
	var errText *string
	if res.err != nil {
		s := res.err.Error()
		errText = &s
	}
	var status *int32
	if res.status != 0 {
		s := int32(res.status)
		status = &s
	}
	return db.Q(q).InsertWebhookDelivery(ctx, gen.InsertWebhookDeliveryParams{ID: uuid.Must(uuid.NewV7()), SubscriptionID: sub,
		At: time.Now().UTC(), Outcome: outcome, FirstEventID: msgs[0].ID, LastEventID: msgs[len(msgs)-1].ID, EventCount: int32(len(msgs)),
		Attempt: int32(attempt), HttpStatus: status, DurationMs: int32(res.duration.Milliseconds()), Error: errText})
}

// sendResult is the outcome of one request.
type sendResult struct {
	status   int
	duration time.Duration
	err      error // nil only for a 2xx answer read in time
}

// send POSTs one message or batch, signed, and reads a bounded response.
func (w *webhooks) send(ctx context.Context, sub webhook.Subscription, msgs []webhook.Message) sendResult {
	body, err := webhook.Body(msgs, sub.BatchSize > 1)
	if err != nil {
		return sendResult{err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, w.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, sub.URL, bytes.NewReader(body))
	if err != nil {
		return sendResult{err: err}
	}
	for k, v := range sub.Headers {
		req.Header.Set(k, v)
	}
	now := time.Now()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "roamnode-webhooks/1")
	req.Header.Set(webhook.HeaderID, msgs[0].ID.String())
	req.Header.Set(webhook.HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(webhook.HeaderSignature, webhook.SignatureHeader(sub.Secrets(now), now.Unix(), body))
	res, err := w.client.Do(req)
	if err != nil {
		return sendResult{duration: time.Since(now), err: err}
	}
	defer res.Body.Close()
	head := make([]byte, 256)
	n, _ := io.ReadFull(res.Body, head)
	_, rerr := io.Copy(io.Discard, io.LimitReader(res.Body, w.o.MaxResponseBytes-int64(n)))
	r := sendResult{status: res.StatusCode, duration: time.Since(now)}
	switch {
	case res.StatusCode < 200 || res.StatusCode > 299:
		r.err = fmt.Errorf("HTTP %d: %q", res.StatusCode, bytes.ToValidUTF8(head[:n], nil))
	case rerr != nil:
		r.err = fmt.Errorf("reading the response: %w", rerr)
	}
	return r
}

// newWebhookClient is the HTTP client of all deliveries: kept-alive
// connections (one per subscription in flight), no redirects (a 3xx is a
// failure, not a reason to post the events elsewhere), and unless allowed,
// a dialer that refuses non-public addresses at connect time — after DNS
// resolution, so a name that resolves differently later (DNS rebinding)
// cannot reach the internal network either.
func newWebhookClient(o WebhookOptions) *http.Client {
	dialer := &net.Dialer{Timeout: o.Timeout, KeepAlive: 30 * time.Second}
	if !o.AllowPrivate {
		dialer.Control = func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil || !webhook.PublicAddr(ap.Addr()) {
				return fmt.Errorf("refusing to connect to %s: loopback, link-local and private addresses are not allowed (ROAMNODE_WEBHOOK_ALLOW_PRIVATE)", address)
			}
			return nil
		}
	}
	tr := &http.Transport{DialContext: dialer.DialContext, ForceAttemptHTTP2: true, MaxIdleConns: 200, MaxIdleConnsPerHost: 32,
		IdleConnTimeout: 90 * time.Second, TLSHandshakeTimeout: o.Timeout, ResponseHeaderTimeout: o.Timeout}
	return &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func nonNilIDs(ids []uuid.UUID) []uuid.UUID {
	if ids == nil {
		return []uuid.UUID{}
	}
	return ids
}
