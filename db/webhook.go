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
// snapshot S is final once every transaction that had an xid when S was
// taken has ended, i.e. once a later snapshot's xmin reaches S's xmax; the
// outbox trigger draws the xid before the seq, so no transaction starting
// after S can hold a smaller seq.
//
// Each call observes once: it resolves the candidates whose transactions
// have all ended and records a new candidate, so the horizon trails the
// outbox by about one call interval (plus the length of the longest
// transaction in flight — a long-running write transaction anywhere in the
// cluster delays deliveries, it never loses them). Several processes may
// run a Horizon each: the table keeps the greatest value any of them
// proved, which is safe because each one's value is.
type Horizon struct {
	mu         sync.Mutex
	candidates []horizonCandidate // increasing max seq, oldest first
}

type horizonCandidate struct{ seq, xmax int64 }

// Advance observes the outbox and moves the stored horizon forward when it
// can; it returns the stored horizon.
func (h *Horizon) Advance(ctx context.Context, q Querier) (int64, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	snap, err := Q(q).OutboxSnapshot(ctx)
	if err != nil {
		return 0, err
	}
	switch n := len(h.candidates); {
	case n > 0 && h.candidates[n-1].xmax == snap.Xmax:
		// No transaction began since the last candidate: the newer max
		// seq resolves at the same moment, so it replaces it.
		h.candidates[n-1].seq = max(h.candidates[n-1].seq, snap.MaxSeq)
	case n == 0 || h.candidates[n-1].seq < snap.MaxSeq:
		h.candidates = append(h.candidates, horizonCandidate{seq: snap.MaxSeq, xmax: snap.Xmax})
	}
	var final int64 = -1
	for len(h.candidates) > 0 && h.candidates[0].xmax <= snap.Xmin {
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
