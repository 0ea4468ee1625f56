package db

import (
	"context"
	"encoding/json"
	"sync"

	"github.com/google/uuid"

	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/webhook"
)

// WebhookSubscription loads a subscription by id or external reference.
func WebhookSubscription(ctx context.Context, q Querier, id *uuid.UUID, ref string, lock bool) (webhook.Subscription, error) {
	r, err := lookup(ctx, "webhook-subscription", id, ref, lock, Q(q).GetWebhookSubscription, Q(q).LockWebhookSubscription,
		Q(q).GetWebhookSubscriptionByRef, Q(q).LockWebhookSubscriptionByRef)
	if err != nil {
		return webhook.Subscription{}, err
	}
	return WebhookSubscriptionOf(r), nil
}

// WebhookSubscriptionOf maps a row to the domain type.
func WebhookSubscriptionOf(r gen.WebhookSubscription) webhook.Subscription {
	h := map[string]string{}
	_ = json.Unmarshal(r.Headers, &h) // written by SaveWebhookSubscription only
	kinds := r.Kinds
	if kinds == nil {
		kinds = []string{}
	}
	return webhook.Subscription{ID: r.ID, ExternalReference: r.ExternalReference, OwnerAccountID: r.OwnerAccountID, Name: r.Name,
		URL: r.Url, Kinds: kinds, Headers: h, Secret: r.Secret, PreviousSecret: r.PreviousSecret,
		PreviousSecretExpiresAt: r.PreviousSecretExpiresAt, BatchSize: int(r.BatchSize), BatchLingerMs: int(r.BatchLingerMs),
		State: webhook.State(r.State), Cursor: r.CursorSeq, Attempts: int(r.Attempts), FailingSince: r.FailingSince,
		NextAttemptAt: r.NextAttemptAt, LastError: r.LastError, LastDeliveredAt: r.LastDeliveredAt,
		ExternalUpdatedAt: r.ExternalUpdatedAt, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

// ListWebhookSubscriptions returns a page of subscriptions.
func ListWebhookSubscriptions(ctx context.Context, q Querier, p gen.ListWebhookSubscriptionsParams) ([]webhook.Subscription, error) {
	rows, err := Q(q).ListWebhookSubscriptions(ctx, p)
	return mapAll(rows, WebhookSubscriptionOf), err
}

// DeleteWebhookSubscription removes a subscription and its delivery log
// (the caller holds its row lock).
func DeleteWebhookSubscription(ctx context.Context, q Querier, id uuid.UUID) error {
	if err := Q(q).DeleteWebhookDeliveriesOf(ctx, id); err != nil {
		return err
	}
	_, err := Q(q).DeleteWebhookSubscription(ctx, id)
	return err
}

// SaveWebhookSubscription inserts or updates what an operator controls
// (settings, state, cursor); the lease stays the drain's.
func SaveWebhookSubscription(ctx context.Context, q Querier, s webhook.Subscription, isNew bool) error {
	if s.Headers == nil {
		s.Headers = map[string]string{}
	}
	headers, err := json.Marshal(s.Headers)
	if err != nil {
		return err
	}
	if s.Kinds == nil {
		s.Kinds = []string{}
	}
	if isNew {
		return Translate(Q(q).InsertWebhookSubscription(ctx, gen.InsertWebhookSubscriptionParams{ID: s.ID, ExternalReference: s.ExternalReference,
			OwnerAccountID: s.OwnerAccountID, Name: s.Name, Url: s.URL, Kinds: s.Kinds, Headers: headers, Secret: s.Secret,
			PreviousSecret: s.PreviousSecret, PreviousSecretExpiresAt: s.PreviousSecretExpiresAt, BatchSize: int32(s.BatchSize),
			BatchLingerMs: int32(s.BatchLingerMs), State: string(s.State), CursorSeq: s.Cursor, Attempts: int32(s.Attempts),
			FailingSince: s.FailingSince, NextAttemptAt: s.NextAttemptAt, LastError: s.LastError, LastDeliveredAt: s.LastDeliveredAt,
			ExternalUpdatedAt: s.ExternalUpdatedAt, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt}))
	}
	return Translate(Q(q).UpdateWebhookSubscription(ctx, gen.UpdateWebhookSubscriptionParams{ID: s.ID, ExternalReference: s.ExternalReference,
		Name: s.Name, Url: s.URL, Kinds: s.Kinds, Headers: headers, Secret: s.Secret, PreviousSecret: s.PreviousSecret,
		PreviousSecretExpiresAt: s.PreviousSecretExpiresAt, BatchSize: int32(s.BatchSize), BatchLingerMs: int32(s.BatchLingerMs),
		State: string(s.State), CursorSeq: s.Cursor, Attempts: int32(s.Attempts), FailingSince: s.FailingSince,
		NextAttemptAt: s.NextAttemptAt, LastError: s.LastError, ExternalUpdatedAt: s.ExternalUpdatedAt, UpdatedAt: s.UpdatedAt}))
}

// Horizon advances webhook_horizon: the greatest outbox seq below which
// every event is final (committed and visible, or rolled back), so that a
// cursor never moves past an event that commits later. seq values become
// visible out of order (a transaction holding seq 10 may commit after seq
// 11 is visible); the proof that the horizon is safe is in
// db/migrations/00003_webhook.sql. In short: max(seq) read together with
// snapshot S is final once every transaction of this database that was in
// progress at S has ended; the outbox trigger draws the xid before the
// seq, so no transaction without an xid at S can hold a smaller seq.
// Transactions of other databases on the same server cannot write this
// outbox and are ignored (pg_stat_activity tells which database a running
// transaction belongs to; the node's own role writes the outbox, so it
// sees those rows).
//
// Each call observes once: it resolves the candidates whose transactions
// have all ended and records a new candidate, so the horizon trails the
// outbox by about one call interval, plus the length of the longest write
// transaction of this database in flight: a long-running transaction
// delays deliveries, it never loses them. Several processes may run a
// Horizon each: the table keeps the greatest value any of them proved,
// which is safe because each one's value is.
type Horizon struct {
	mu         sync.Mutex
	candidates []horizonCandidate // increasing seq, oldest first
}

type horizonCandidate struct {
	seq     int64
	running []int64 // xid8 of this database's transactions in progress at the snapshot
}

// outboxSnapshot is horizon step 2, in one statement (one snapshot). Not
// generated by sqlc, whose catalog lacks pg_stat_activity.
const outboxSnapshot = `SELECT COALESCE((SELECT max(seq) FROM outbox_event), 0)::bigint,
       ARRAY(SELECT x::text::bigint FROM pg_snapshot_xip(pg_current_snapshot()) x
             WHERE (x::text::bigint % 4294967296) IN (
                 SELECT a.backend_xid::text::bigint FROM pg_stat_activity a
                 WHERE a.datname = current_database() AND a.backend_xid IS NOT NULL))::bigint[]`

// Advance observes the outbox and moves the stored horizon forward when it
// can; it returns the stored horizon.
func (h *Horizon) Advance(ctx context.Context, q Querier) (int64, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var c horizonCandidate
	if err := q.QueryRow(ctx, outboxSnapshot).Scan(&c.seq, &c.running); err != nil {
		return 0, err
	}
	if n := len(h.candidates); n == 0 || h.candidates[n-1].seq < c.seq {
		h.candidates = append(h.candidates, c)
	}
	// Which of the candidates' transactions are still in progress.
	var xids []int64
	for _, k := range h.candidates {
		xids = append(xids, k.running...)
	}
	running := map[int64]bool{}
	if len(xids) > 0 {
		still, err := Q(q).StillRunning(ctx, xids)
		if err != nil {
			return 0, err
		}
		for _, x := range still {
			running[x] = true
		}
	}
	var final int64 = -1
	for len(h.candidates) > 0 && !anyIn(h.candidates[0].running, running) {
		final = h.candidates[0].seq
		h.candidates = h.candidates[1:]
	}
	if final >= 0 {
		if err := Q(q).AdvanceWebhookHorizon(ctx, final); err != nil {
			return 0, err
		}
	}
	return Q(q).WebhookHorizon(ctx)
}

func anyIn(xs []int64, set map[int64]bool) bool {
	for _, x := range xs {
		if set[x] {
			return true
		}
	}
	return false
}
