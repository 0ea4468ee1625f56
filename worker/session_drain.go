package worker

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/domain/session"
)

// Charge sessions are processed in batches claimed from Postgres, not as
// one asynq task each (issue 6: the pipeline including pricing ≥ 600
// CDRs/s end to end; docs/performance.md, "Pipeline with pricing", round
// 6). A lane claims up to Batch due sessions FOR UPDATE SKIP LOCKED in one
// transaction, runs their steps, commits in that transaction every step
// that writes only the session's own rows (the others right after it:
// db.CommitsAlone) and commits once: no Redis round trips per session, no
// task to load, one WAL flush per batch. Postgres stays the only record of pending work —
// the claim is the sweep — so a flushed or unreachable Redis delays
// nothing by more than IdlePoll, and two workers (or lanes) never process
// the same session at once: a locked session is skipped, and a crashed
// lane's claim ends with its connection.

// wakeChannel is the Redis channel on which intake tells the idle lanes
// of the workers on pool's database that sessions are due (per database,
// so that nodes of other databases sharing the Redis are not woken).
func wakeChannel(pool *pgxpool.Pool) string {
	return "roamnode:sessions:due:" + pool.Config().ConnConfig.Database
}

// wakeCoalesce is how long a wake-up waits for more sessions before it is
// published: a burst of CDRs wakes the lanes once, not once per CDR.
const wakeCoalesce = 5 * time.Millisecond

// settleDelay is how long a lane that found less than a full batch waits
// before it claims again, so that arrivals gather into batches.
const settleDelay = 200 * time.Millisecond

// batchTimeout bounds the processing of one claimed batch.
const batchTimeout = time.Minute

// SessionQueue implements session.Queue: it wakes the worker's idle lanes
// through Redis. Nothing is queued in Redis: a session is due in Postgres
// (state and next_attempt_at), and the lanes claim it from there.
type SessionQueue struct {
	rdb     redis.UniversalClient
	channel string
	pending atomic.Bool
}

var _ session.Queue = (*SessionQueue)(nil)

// NewSessionQueue returns a queue that wakes the workers of pool's
// database through the node's Redis client.
func NewSessionQueue(rdb redis.UniversalClient, pool *pgxpool.Pool) *SessionQueue {
	return &SessionQueue{rdb: rdb, channel: wakeChannel(pool)}
}

// Enqueue implements session.Queue. A step due later needs nothing: the
// lanes' poll claims it when it is due. A step due now wakes the lanes
// within wakeCoalesce. It never fails: a lost wake-up (Redis down) costs
// at most the lanes' IdlePoll.
func (q *SessionQueue) Enqueue(_ context.Context, _ uuid.UUID, _ session.State, _ int, at time.Time) error {
	if at.After(time.Now()) {
		return nil
	}
	q.Wake()
	return nil
}

// Wake publishes one wake-up for every call within wakeCoalesce.
func (q *SessionQueue) Wake() {
	if !q.pending.CompareAndSwap(false, true) {
		return
	}
	go func() {
		time.Sleep(wakeCoalesce)
		q.pending.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = q.rdb.Publish(ctx, q.channel, "").Err()
	}()
}

// Drain runs the processor's lanes until ctx ends (Sessions registers it
// as a worker loop); each lane finishes the batch it claimed.
func (p *SessionProcessor) Drain(ctx context.Context) {
	wakes := make([]chan struct{}, p.o.Lanes)
	var wg sync.WaitGroup
	for i := range wakes {
		wakes[i] = make(chan struct{}, 1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.lane(ctx, wakes[i])
		}()
	}
	p.listen(ctx, wakes)
	wg.Wait()
}

// listen forwards wake-ups from Redis to the lanes until ctx ends. The
// subscription reconnects by itself after Redis comes back.
func (p *SessionProcessor) listen(ctx context.Context, wakes []chan struct{}) {
	sub := p.d.Redis.Subscribe(ctx, wakeChannel(p.d.Pool))
	defer sub.Close()
	ch := sub.Channel()
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-ch:
			if !ok {
				return
			}
			for _, w := range wakes {
				select {
				case w <- struct{}{}:
				default:
				}
			}
		}
	}
}

// claimBackoffMax bounds the wait of a lane whose claims keep failing.
const claimBackoffMax = 5 * time.Second

// lane claims and processes batches until ctx ends: at once after a full
// batch, else after settleDelay and a wake-up or IdlePoll. While claims
// fail (Postgres unreachable) the lane waits longer each time, up to
// claimBackoffMax, and the processor logs the outage once and its end
// once, whatever the number of lanes.
func (p *SessionProcessor) lane(ctx context.Context, wake <-chan struct{}) {
	idle := time.NewTimer(p.o.IdlePoll)
	defer idle.Stop()
	failures := 0
	for {
		n, err := p.drainBatch(ctx)
		if ctx.Err() != nil {
			return
		}
		switch {
		case err != nil:
			failures++
			if !p.claimsFailing.Swap(true) {
				p.d.Log.Warn("charge-session claims failing; the lanes retry with backoff", "err", err)
			}
		case failures > 0:
			failures = 0
			if p.claimsFailing.Swap(false) {
				p.d.Log.Info("charge-session claims succeed again")
			}
		}
		if err == nil && n == p.o.Batch {
			continue
		}
		idle.Reset(settleDelay)
		select {
		case <-ctx.Done():
			return
		case <-idle.C:
		}
		wait := p.o.IdlePoll
		for i := 1; i < failures && wait < claimBackoffMax; i++ {
			wait *= 2
		}
		idle.Reset(min(wait, claimBackoffMax))
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-idle.C:
		}
	}
}

// drainBatch claims up to Batch due sessions, runs the steps owed on each
// and commits them in one transaction; it says how many it claimed. When
// the batch fails (a store error on one session, a deadlock with another
// lane over a drop-out case or a charge credit), it is rolled back and
// each session is processed on its own (Process), so that one session
// cannot hold back the others; a session that fails on its own is backed
// off (1 s, doubling up to 5 min) while the others go on.
func (p *SessionProcessor) drainBatch(ctx context.Context) (int, error) {
	now := p.now().UTC()
	tx, err := p.d.Pool.Begin(ctx)
	if err != nil {
		return 0, err
	}
	recs, err := db.ClaimDueSessions(ctx, tx, now, p.o.Batch, p.pricedSides(), p.backoff.active(now), p.cursor.from(now))
	if err != nil || len(recs) == 0 {
		_ = tx.Rollback(context.WithoutCancel(ctx))
		return 0, err
	}
	p.cursor.claimed(recs)
	// A claimed batch is finished even when the worker is stopping.
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), batchTimeout)
	defer cancel()
	var kicks []session.ChargeSession
	var alone []deferredStep
	err = func() error {
		for _, rec := range recs {
			k, d, err := p.advance(bctx, tx, true, rec)
			if err != nil {
				return fmt.Errorf("session %s: %w", rec.ID, err)
			}
			kicks = append(kicks, k...)
			if d != nil {
				alone = append(alone, *d)
			}
		}
		return tx.Commit(bctx)
	}()
	if err != nil {
		_ = tx.Rollback(bctx)
		p.d.Log.Warn("charge-session batch rolled back; processing its sessions one by one", "sessions", len(recs), "err", err)
		for _, rec := range recs {
			p.settle(p.Process(bctx, rec.ID), rec.ID)
		}
		return len(recs), nil
	}
	p.kickCDRs(bctx, kicks)
	for _, d := range alone {
		// Committed as computed in the batch, checked against the state
		// it was computed from; then any step owed after it.
		out, committed, err := db.CommitRecordStep(bctx, p.d.Pool, d.rec, d.o, d.now)
		if err == nil && !committed {
			// A lost race for a charge credit's balance: the session is
			// still due, behind the cursor; the next claim starts over.
			p.cursor.rewind()
		}
		if err == nil && committed {
			var k []session.ChargeSession
			if out.State == session.Priced && out.Side == session.CPO {
				k = append(k, out.ChargeSession)
			}
			more, _, aerr := p.advance(bctx, p.d.Pool, false, out)
			p.kickCDRs(bctx, append(k, more...))
			err = aerr
		}
		p.settle(err, d.rec.ID)
	}
	return len(recs), nil
}

// settle records the end of a session's processing outside a batch: a
// failure backs it off, a success clears its backoff.
func (p *SessionProcessor) settle(err error, id uuid.UUID) {
	if err == nil {
		p.backoff.ok(id)
		return
	}
	wait := p.backoff.fail(id, p.now())
	p.d.Log.Warn("charge session step failed; backing off", "session_id", id, "retry_in", wait, "err", err)
}

// cursor is where a processor's lanes claim fresh sessions from: after the
// highest id claimed so far (ids are UUIDv7, in arrival order), so that a
// claim does not walk the index entries of every session processed since
// the last vacuum. A session left behind it (locked by an operator when
// the lanes passed, or backed off) is claimed when the cursor starts
// over from the beginning, every cursorRestart.
type cursor struct {
	mu      sync.Mutex
	after   uuid.UUID
	restart time.Time
}

// cursorRestart is how often the cursor starts over.
const cursorRestart = 5 * time.Second

// from returns the id to claim fresh sessions after at now.
func (c *cursor) from(now time.Time) uuid.UUID {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !now.Before(c.restart) {
		c.after, c.restart = uuid.Nil, now.Add(cursorRestart)
	}
	return c.after
}

// rewind makes the next claim start from the beginning.
func (c *cursor) rewind() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.restart = time.Time{}
}

// claimed moves the cursor past the fresh sessions of a claim.
func (c *cursor) claimed(recs []db.ChargeSessionRecord) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range recs {
		if r.NextAttemptAt == nil && r.State.Pending() && bytes.Compare(r.ID[:], c.after[:]) > 0 {
			c.after = r.ID
		}
	}
}

// kickCDRs wakes the push worker for the CDRs of CPO sessions priced by a
// committed step.
func (p *SessionProcessor) kickCDRs(ctx context.Context, priced []session.ChargeSession) {
	for _, s := range priced {
		p.kickCDR(ctx, s)
	}
}

// backoff remembers the sessions whose steps failed on their own, so that
// a session that keeps failing (a store error that persists) is not
// claimed in a loop. It is per worker: another worker tries on its own
// schedule, which is harmless.
type backoff struct {
	mu sync.Mutex
	m  map[uuid.UUID]backoffEntry
}

type backoffEntry struct {
	until    time.Time
	failures int
}

const (
	backoffMin = time.Second
	backoffMax = 5 * time.Minute
)

func newBackoff() *backoff { return &backoff{m: map[uuid.UUID]backoffEntry{}} }

// fail records a failure of id at now and returns how long it is skipped.
func (b *backoff) fail(id uuid.UUID, now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.m[id]
	e.failures++
	wait := backoffMin << min(e.failures-1, 16)
	wait = min(wait, backoffMax)
	e.until = now.Add(wait)
	b.m[id] = e
	return wait
}

// ok forgets id after a success.
func (b *backoff) ok(id uuid.UUID) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.m, id)
}

// active returns the sessions still skipped at now; entries long past
// their wait are forgotten (the session succeeded elsewhere or is gone).
func (b *backoff) active(now time.Time) []uuid.UUID {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []uuid.UUID
	for id, e := range b.m {
		switch {
		case now.Before(e.until):
			out = append(out, id)
		case now.Sub(e.until) > backoffMax:
			delete(b.m, id)
		}
	}
	return out
}
