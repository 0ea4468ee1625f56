-- Charge credits of MSP token subscriptions (guide 003 → Charge credits):
-- grants with a balance that never goes negative, and their ledger.

-- name: InsertChargeCredit :exec
-- A grant: the credit with its whole amount as balance, and the grant's
-- movement, in one statement.
WITH c AS (
    INSERT INTO charge_credit (id, subscription_id, administration_id, external_reference, kind, currency, granted, balance,
        valid_from, valid_until, description, created_at, updated_at)
    VALUES (@id, @subscription_id, @administration_id, sqlc.narg(external_reference), @kind, sqlc.narg(currency), @granted, @granted,
        @valid_from, sqlc.narg(valid_until), sqlc.narg(description), @created_at, @created_at)
    RETURNING id, subscription_id, administration_id, granted, balance, created_at
)
INSERT INTO charge_credit_movement (id, credit_id, subscription_id, administration_id, kind, amount, balance_after, created_at)
SELECT @movement_id, c.id, c.subscription_id, c.administration_id, 'grant', c.granted, c.balance, c.created_at FROM c;

-- name: GetChargeCredit :one
SELECT * FROM charge_credit WHERE id = $1;

-- name: GetChargeCreditByRef :one
SELECT * FROM charge_credit WHERE external_reference = $1;

-- name: ListChargeCredits :many
-- A page of credits in id order, scoped to administrations, with the
-- list filters.
SELECT * FROM charge_credit
WHERE (sqlc.arg(all_admins)::bool OR administration_id = ANY(sqlc.arg(admin_ids)::uuid[]))
  AND id > sqlc.arg(after)::uuid
  AND (sqlc.narg(subscription_id)::uuid IS NULL OR subscription_id = sqlc.narg(subscription_id))
  AND (sqlc.narg(kind)::text IS NULL OR kind = sqlc.narg(kind))
  AND (sqlc.narg(external_reference)::text IS NULL OR external_reference = sqlc.narg(external_reference))
  AND (sqlc.narg(valid_at)::timestamptz IS NULL OR tstzrange(valid_from, valid_until, '[)') @> sqlc.narg(valid_at)::timestamptz)
ORDER BY id
LIMIT sqlc.arg(page_limit);

-- name: ListChargeCreditMovements :many
-- A page of the ledger in id (time) order, scoped to administrations.
SELECT * FROM charge_credit_movement
WHERE (sqlc.arg(all_admins)::bool OR administration_id = ANY(sqlc.arg(admin_ids)::uuid[]))
  AND id > sqlc.arg(after)::uuid
  AND (sqlc.narg(subscription_id)::uuid IS NULL OR subscription_id = sqlc.narg(subscription_id))
  AND (sqlc.narg(credit_id)::uuid IS NULL OR credit_id = sqlc.narg(credit_id))
  AND (sqlc.narg(charge_session_id)::uuid IS NULL OR charge_session_id = sqlc.narg(charge_session_id))
  AND (sqlc.narg(kind)::text IS NULL OR kind = sqlc.narg(kind))
ORDER BY id
LIMIT sqlc.arg(page_limit);

-- name: SubscriptionCreditBalances :many
-- The balances of a subscription's credits usable at @at (valid then),
-- per kind and currency.
SELECT kind, coalesce(currency, '')::text AS currency, sum(balance)::numeric AS balance, count(*)::int AS credits
FROM charge_credit
WHERE subscription_id = @subscription_id AND valid_from <= @at AND (valid_until IS NULL OR valid_until > @at)
GROUP BY kind, currency
ORDER BY kind, currency;

-- name: SessionChargeCredits :many
-- What pricing needs of charge credits for one session: the credits of
-- the subscription valid at the session start, and any credit the session
-- consumed before (of whatever subscription: a correction may have moved
-- its token), each with what the session consumed of it (consumption less
-- reversal), soonest-expiring first.
SELECT c.id, c.kind, c.currency, c.balance, c.valid_from, c.valid_until,
    coalesce((SELECT -sum(m.amount) FROM charge_credit_movement m
        WHERE m.credit_id = c.id AND m.charge_session_id = sqlc.arg(session_id)::uuid AND m.kind IN ('consumption', 'reversal')), 0)::numeric AS consumed,
    (c.subscription_id = sqlc.arg(subscription_id)::uuid AND c.valid_from <= @start_at
        AND (c.valid_until IS NULL OR c.valid_until > @start_at))::bool AS eligible
FROM charge_credit c
WHERE (c.subscription_id = sqlc.arg(subscription_id)::uuid AND c.valid_from <= @start_at AND (c.valid_until IS NULL OR c.valid_until > @start_at))
   OR c.id IN (SELECT m.credit_id FROM charge_credit_movement m WHERE m.charge_session_id = sqlc.arg(session_id)::uuid)
ORDER BY c.valid_until NULLS LAST, c.valid_from, c.id;

-- name: SessionCreditNet :many
-- What a session has consumed and not yet been given back, per credit and
-- component (the reversal a new pricing result starts with), in credit
-- order (the order locks are taken in).
SELECT credit_id, component::text AS component, (-sum(amount))::numeric AS consumed, coalesce(sum(covered_excl_vat), 0)::numeric AS covered
FROM charge_credit_movement
WHERE charge_session_id = @session_id AND kind IN ('consumption', 'reversal')
GROUP BY credit_id, component
HAVING sum(amount) < 0
ORDER BY credit_id, component;

-- name: ApplyChargeCreditMovement :one
-- One movement: the credit's balance changes by @amount (the CHECK on the
-- balance refuses to go below zero, failing the whole transaction) and
-- the movement is recorded with the balance it left.
WITH u AS (
    UPDATE charge_credit SET balance = charge_credit.balance + sqlc.arg(amount), updated_at = sqlc.arg(created_at)
    WHERE charge_credit.id = sqlc.arg(credit_id)
    RETURNING charge_credit.id, charge_credit.subscription_id, charge_credit.administration_id, charge_credit.balance
)
INSERT INTO charge_credit_movement (id, credit_id, subscription_id, administration_id, kind, amount, balance_after,
    charge_session_id, price_id, component, covered_excl_vat, created_at)
SELECT sqlc.arg(id), u.id, u.subscription_id, u.administration_id, sqlc.arg(kind), sqlc.arg(amount), u.balance,
    sqlc.narg(charge_session_id), sqlc.narg(price_id), sqlc.narg(component), sqlc.narg(covered_excl_vat), sqlc.arg(created_at)
FROM u
RETURNING *;

-- name: ExpiringChargeCredits :many
-- Credits whose validity ended by @now that still hold a balance, locked
-- (others skipped: a concurrent sweep takes them).
SELECT * FROM charge_credit
WHERE valid_until IS NOT NULL AND valid_until <= @now AND balance > 0
ORDER BY id
LIMIT @lim
FOR UPDATE SKIP LOCKED;
