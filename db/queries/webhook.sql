-- Webhook subscriptions, their delivery state and log, and the outbox
-- horizon (see db/migrations/00003_webhook.sql and db/webhook.go).

-- name: GetWebhookSubscription :one
SELECT * FROM webhook_subscription WHERE id = $1;

-- name: LockWebhookSubscription :one
SELECT * FROM webhook_subscription WHERE id = $1 FOR UPDATE;

-- name: GetWebhookSubscriptionByRef :one
SELECT * FROM webhook_subscription WHERE external_reference = $1;

-- name: LockWebhookSubscriptionByRef :one
SELECT * FROM webhook_subscription WHERE external_reference = $1 FOR UPDATE;

-- name: ListWebhookSubscriptions :many
-- A page of the subscriptions the caller may see: those whose owner's
-- administrations are all among the caller's (webhook.OwnerVisible).
SELECT * FROM webhook_subscription
WHERE id > sqlc.arg(after)::uuid
  AND (sqlc.narg(state)::text IS NULL OR state = sqlc.narg(state))
  AND (sqlc.narg(external_reference)::text IS NULL OR external_reference = sqlc.narg(external_reference))
  AND (sqlc.arg(all_admins)::bool OR EXISTS (SELECT 1 FROM api_account a WHERE a.id = owner_account_id
      AND NOT a.all_administrations AND a.administration_ids <@ sqlc.arg(admin_ids)::uuid[]))
ORDER BY id
LIMIT sqlc.arg(page_limit);

-- name: DeleteWebhookDeliveriesOf :exec
DELETE FROM webhook_delivery WHERE subscription_id = $1;

-- name: DeleteWebhookSubscription :execrows
DELETE FROM webhook_subscription WHERE id = $1;

-- name: InsertWebhookSubscription :exec
INSERT INTO webhook_subscription (id, external_reference, owner_account_id, name, url, kinds, headers, secret,
    previous_secret, previous_secret_expires_at, batch_size, batch_linger_ms, state, cursor_seq, attempts,
    failing_since, next_attempt_at, last_error, last_delivered_at, external_updated_at, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22);

-- name: UpdateWebhookSubscription :exec
-- Everything an operator can change; never the lease (the drain's).
UPDATE webhook_subscription SET external_reference = $2, name = $3, url = $4, kinds = $5, headers = $6, secret = $7,
    previous_secret = $8, previous_secret_expires_at = $9, batch_size = $10, batch_linger_ms = $11, state = $12,
    cursor_seq = $13, attempts = $14, failing_since = $15, next_attempt_at = $16, last_error = $17,
    external_updated_at = $18, updated_at = $19
WHERE id = $1;

-- name: MaxOutboxSeq :one
SELECT COALESCE(max(seq), 0)::bigint FROM outbox_event;

-- name: StillRunning :many
-- Which of these transactions (xid8 as bigint) are still in progress.
SELECT x::bigint FROM unnest(sqlc.arg(xids)::bigint[]) x WHERE pg_xact_status(x::text::xid8) = 'in progress';

-- name: WebhookHorizon :one
SELECT seq FROM webhook_horizon;

-- name: AdvanceWebhookHorizon :exec
UPDATE webhook_horizon SET seq = sqlc.arg(seq)::bigint WHERE seq < sqlc.arg(seq)::bigint;

-- name: OutboxEventByID :one
SELECT seq, id, occurred_at FROM outbox_event WHERE id = $1;

-- name: FirstOutboxSeqAt :one
-- The first event that occurred at or after t. Event ids are UUIDv7 made
-- together with occurred_at, and seq is drawn moments later in the same
-- transaction, so the search starts at the first id from one minute before
-- t (the id index) and walks seq from there.
SELECT seq FROM outbox_event
WHERE seq >= COALESCE((SELECT o.seq FROM outbox_event o WHERE o.id >= sqlc.arg(id_floor)::uuid ORDER BY o.id LIMIT 1), 0)
  AND occurred_at >= sqlc.arg(at)::timestamptz
ORDER BY seq
LIMIT 1;

-- name: WebhookEvents :many
-- The events a subscription is owed after its cursor, up to the horizon,
-- matching its kinds and its owner's administrations, in seq order. An
-- event without an administration is node-wide (partners' networks, say),
-- except for the scoped kinds (webhook.ScopedKinds): a charge session whose
-- administration is unknown is hidden from limited accounts in the Admin
-- API, so its events are too.
SELECT seq, id, occurred_at, kind, modification_kind, data FROM outbox_event
WHERE seq > sqlc.arg(cursor_seq)::bigint AND seq <= sqlc.arg(horizon)::bigint
  AND (cardinality(sqlc.arg(kinds)::text[]) = 0 OR kind = ANY(sqlc.arg(kinds)::text[])
       OR (kind || '.' || modification_kind) = ANY(sqlc.arg(kinds)::text[]))
  AND (sqlc.arg(all_admins)::bool OR administration_id = ANY(sqlc.arg(admin_ids)::uuid[])
       OR (administration_id IS NULL AND NOT kind = ANY(sqlc.arg(scoped_kinds)::text[])))
ORDER BY seq
LIMIT sqlc.arg(max_rows);

-- name: DueWebhookSubscriptions :many
-- Subscriptions with final events after their cursor, not backing off, not
-- held by a drain, whose owner is enabled.
SELECT s.id FROM webhook_subscription s JOIN api_account a ON a.id = s.owner_account_id
WHERE s.state <> 'paused' AND s.cursor_seq < sqlc.arg(horizon)::bigint
  AND (s.next_attempt_at IS NULL OR s.next_attempt_at <= now())
  AND (s.lease_until IS NULL OR s.lease_until < now())
  AND NOT a.disabled;

-- name: AcquireWebhookLease :one
UPDATE webhook_subscription SET lease_owner = sqlc.arg(owner)::uuid, lease_until = sqlc.arg(until)::timestamptz
WHERE id = sqlc.arg(id)::uuid AND state <> 'paused' AND (lease_until IS NULL OR lease_until < now())
  AND (next_attempt_at IS NULL OR next_attempt_at <= now())
RETURNING *;

-- name: RenewWebhookLease :one
-- Extends the lease and returns the subscription as it is now (an operator
-- may have paused it, changed its settings, skipped or replayed).
UPDATE webhook_subscription SET lease_until = sqlc.arg(until)::timestamptz
WHERE id = sqlc.arg(id)::uuid AND lease_owner = sqlc.arg(owner)::uuid
RETURNING *;

-- name: ReleaseWebhookLease :exec
UPDATE webhook_subscription SET lease_owner = NULL, lease_until = NULL
WHERE id = sqlc.arg(id)::uuid AND lease_owner = sqlc.arg(owner)::uuid;

-- name: MoveWebhookCursor :execrows
-- After a delivery (or when nothing matched): the cursor moves only if this
-- drain still holds the lease and nobody moved the cursor meanwhile (an
-- operator's skip or replay wins).
UPDATE webhook_subscription SET cursor_seq = sqlc.arg(new_cursor)::bigint, attempts = 0, failing_since = NULL,
    next_attempt_at = NULL, last_error = NULL,
    last_delivered_at = COALESCE(sqlc.narg(delivered_at)::timestamptz, last_delivered_at),
    state = CASE WHEN state = 'failing' AND sqlc.narg(delivered_at)::timestamptz IS NOT NULL THEN 'active' ELSE state END
WHERE id = sqlc.arg(id)::uuid AND lease_owner = sqlc.arg(owner)::uuid AND cursor_seq = sqlc.arg(old_cursor)::bigint;

-- name: WebhookAttemptFailed :execrows
UPDATE webhook_subscription SET attempts = sqlc.arg(attempts)::integer, failing_since = sqlc.narg(failing_since)::timestamptz,
    next_attempt_at = sqlc.arg(next_attempt_at)::timestamptz, last_error = sqlc.narg(last_error)::text,
    state = sqlc.arg(state)::text, lease_owner = NULL, lease_until = NULL
WHERE id = sqlc.arg(id)::uuid AND lease_owner = sqlc.arg(owner)::uuid AND cursor_seq = sqlc.arg(old_cursor)::bigint;

-- name: InsertWebhookDelivery :exec
-- Nothing is logged for a subscription deleted meanwhile (a drain may
-- finish a request after an operator deleted its subscription).
INSERT INTO webhook_delivery (id, subscription_id, at, outcome, first_event_id, last_event_id, event_count, attempt,
    http_status, duration_ms, error)
SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11
WHERE EXISTS (SELECT 1 FROM webhook_subscription s WHERE s.id = $2);

-- name: ListWebhookDeliveries :many
SELECT * FROM webhook_delivery
WHERE subscription_id = sqlc.arg(subscription_id)::uuid AND id > sqlc.arg(after)::uuid
  AND (sqlc.narg(outcome)::text IS NULL OR outcome = sqlc.narg(outcome))
ORDER BY id
LIMIT sqlc.arg(page_limit);

-- name: PruneWebhookDeliveries :execrows
DELETE FROM webhook_delivery WHERE at < $1;

-- name: CountWebhookEvents :one
-- How many events a skip passes over (same filters as WebhookEvents).
SELECT count(*) FROM outbox_event
WHERE seq > sqlc.arg(cursor_seq)::bigint AND seq <= sqlc.arg(through)::bigint
  AND (cardinality(sqlc.arg(kinds)::text[]) = 0 OR kind = ANY(sqlc.arg(kinds)::text[])
       OR (kind || '.' || modification_kind) = ANY(sqlc.arg(kinds)::text[]))
  AND (sqlc.arg(all_admins)::bool OR administration_id = ANY(sqlc.arg(admin_ids)::uuid[])
       OR (administration_id IS NULL AND NOT kind = ANY(sqlc.arg(scoped_kinds)::text[])));
