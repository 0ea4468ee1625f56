-- name: UpsertPartnerToken :one
-- Stores a token unless the stored version is newer (last_updated ordering:
-- an older update never overwrites a newer one; an equal one replaces it,
-- so a repeated push is harmless). inserted tells a new token from an
-- update; no row comes back when the stored version was newer.
INSERT INTO partner_token AS t (id, connection_id, country_code, party_id, uid, type, contract_id, valid, whitelist,
    last_updated, received_via, object, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)
ON CONFLICT (country_code, party_id, lower(uid), type) DO UPDATE
SET connection_id = EXCLUDED.connection_id, uid = EXCLUDED.uid, contract_id = EXCLUDED.contract_id,
    valid = EXCLUDED.valid, whitelist = EXCLUDED.whitelist, last_updated = EXCLUDED.last_updated,
    received_via = EXCLUDED.received_via, object = EXCLUDED.object, updated_at = EXCLUDED.updated_at
WHERE t.last_updated <= EXCLUDED.last_updated
RETURNING (xmax = 0)::boolean AS inserted;

-- name: GetPartnerTokenByKey :one
SELECT * FROM partner_token
WHERE country_code = sqlc.arg(country_code) AND party_id = sqlc.arg(party_id) AND lower(uid) = lower(sqlc.arg(uid)) AND type = sqlc.arg(type);

-- name: LockPartnerTokenByKey :one
SELECT * FROM partner_token
WHERE country_code = sqlc.arg(country_code) AND party_id = sqlc.arg(party_id) AND lower(uid) = lower(sqlc.arg(uid)) AND type = sqlc.arg(type)
FOR UPDATE;

-- name: GetPartnerToken :one
SELECT * FROM partner_token WHERE id = $1;

-- name: PartnerTokensByUID :many
-- Every cached token with this uid and type, whichever party owns it; the
-- authorization picks among them (newest valid first).
SELECT * FROM partner_token
WHERE lower(uid) = lower(sqlc.arg(uid)) AND type = sqlc.arg(type)
ORDER BY valid DESC, last_updated DESC, id
LIMIT 20;

-- name: ListPartnerTokens :many
SELECT * FROM partner_token
WHERE id > sqlc.arg(after)::uuid
  AND (sqlc.narg(connection_id)::uuid IS NULL OR connection_id = sqlc.narg(connection_id))
  AND (sqlc.narg(country_code)::text IS NULL OR (country_code = sqlc.narg(country_code) AND party_id = sqlc.narg(party_id)))
  AND (sqlc.narg(uid)::text IS NULL OR lower(uid) = lower(sqlc.narg(uid)))
  AND (sqlc.narg(type)::text IS NULL OR type = sqlc.narg(type))
  AND (sqlc.narg(valid)::boolean IS NULL OR valid = sqlc.narg(valid))
  AND (sqlc.narg(contract_id)::text IS NULL OR lower(contract_id) = lower(sqlc.narg(contract_id)))
ORDER BY id
LIMIT sqlc.arg(page_limit);

-- name: ConnectionHasEMSPParty :one
-- Whether an eMSP party (role EMSP, or OTHER, which OCPI routes like an
-- eMSP) is reached through the connection: from its credentials roles, or
-- reported by the hub behind it.
SELECT EXISTS (
    SELECT 1 FROM roaming_party_id
    WHERE connection_id = $1 AND country_code = $2 AND party_id = $3 AND role IN ('EMSP', 'OTHER')
)::boolean;

-- name: EMSPPartyRoutes :many
-- The eMSP parties (role EMSP, or OTHER, which OCPI routes like an eMSP)
-- known as roaming partner party ids, optionally one party only: the
-- connection they are reached through (null when none), and whether their
-- roaming partner has a cpo roaming agreement (its customers charge at our
-- charge points) valid at sqlc.arg(at).
SELECT r.country_code, r.party_id, r.connection_id,
    EXISTS (
        SELECT 1 FROM roaming_agreement a
        WHERE a.partner_id = r.partner_id AND a.role = 'cpo'
          AND (a.valid_from IS NULL OR a.valid_from <= sqlc.arg(at)::timestamptz)
          AND (a.valid_until IS NULL OR a.valid_until > sqlc.arg(at)::timestamptz)
    )::boolean AS agreement
FROM roaming_party_id r
WHERE r.role IN ('EMSP', 'OTHER')
  AND (sqlc.narg(country_code)::text IS NULL OR (r.country_code = sqlc.narg(country_code) AND r.party_id = sqlc.narg(party_id)))
ORDER BY r.country_code, r.party_id, r.role;

-- name: GetTokenPull :one
SELECT * FROM partner_token_pull WHERE connection_id = $1;

-- name: RequestTokenPull :one
-- An operator asks for a pull (full: forget the cursor and pull everything).
INSERT INTO partner_token_pull AS p (connection_id, requested_at, full_requested, updated_at)
VALUES ($1, $2, $3, $2)
ON CONFLICT (connection_id) DO UPDATE
SET requested_at = EXCLUDED.requested_at, full_requested = p.full_requested OR EXCLUDED.full_requested,
    updated_at = EXCLUDED.updated_at
RETURNING *;

-- name: ClaimTokenPull :one
-- Takes the lease on a connection's pull (created on first use); no row
-- when another worker holds it.
INSERT INTO partner_token_pull AS p (connection_id, lease_until, updated_at)
VALUES (sqlc.arg(connection_id), sqlc.arg(lease_until), sqlc.arg(now))
ON CONFLICT (connection_id) DO UPDATE
SET lease_until = EXCLUDED.lease_until, updated_at = EXCLUDED.updated_at
WHERE p.lease_until IS NULL OR p.lease_until < sqlc.arg(now)
RETURNING *;

-- name: StartTokenPull :exec
-- Begins a run at next_url; a full run forgets date_from.
UPDATE partner_token_pull
SET next_url = sqlc.arg(next_url), run_started_at = sqlc.arg(now), run_date_to = NULL, run_pages = 0, run_tokens = 0,
    run_skipped = 0, date_from = CASE WHEN sqlc.arg(full_run)::boolean THEN NULL ELSE date_from END,
    full_requested = false, requested_at = NULL, updated_at = sqlc.arg(now)
WHERE connection_id = sqlc.arg(connection_id);

-- name: AdvanceTokenPull :exec
-- Records a processed page (in the transaction that stored its tokens) and
-- renews the lease. run_date_to is set by the first page only.
UPDATE partner_token_pull
SET next_url = sqlc.narg(next_url), run_pages = run_pages + 1, run_tokens = run_tokens + sqlc.arg(tokens),
    run_skipped = run_skipped + sqlc.arg(skipped), run_date_to = COALESCE(run_date_to, sqlc.narg(run_date_to)),
    lease_until = sqlc.arg(lease_until), updated_at = sqlc.arg(now)
WHERE connection_id = sqlc.arg(connection_id);

-- name: FinishTokenPull :exec
-- Ends a run: the next incremental run asks from the partner's clock at
-- the start of this one.
UPDATE partner_token_pull
SET next_url = NULL, date_from = COALESCE(run_date_to, run_started_at), last_completed_at = sqlc.arg(now),
    last_error = NULL, last_error_at = NULL, lease_until = NULL, updated_at = sqlc.arg(now)
WHERE connection_id = sqlc.arg(connection_id);

-- name: FailTokenPull :exec
-- Releases the lease after a failure; next_url stays where the run stopped.
UPDATE partner_token_pull
SET last_error = sqlc.arg(last_error), last_error_at = sqlc.arg(now), lease_until = NULL, updated_at = sqlc.arg(now)
WHERE connection_id = sqlc.arg(connection_id);

-- name: TokenPullsDue :many
-- Connections whose partner has a Tokens Sender endpoint and whose pull is
-- due: requested by an operator, interrupted (next_url set, lease expired),
-- or not completed within sqlc.arg(interval_start).
SELECT c.id
FROM roaming_connection c
LEFT JOIN partner_token_pull p ON p.connection_id = c.id
WHERE c.status = 'registered'
  AND c.their_endpoints @> '[{"identifier": "tokens", "role": "SENDER"}]'::jsonb
  AND (p.lease_until IS NULL OR p.lease_until < sqlc.arg(now)::timestamptz)
  AND (p.connection_id IS NULL OR p.requested_at IS NOT NULL OR p.next_url IS NOT NULL
       OR p.last_completed_at IS NULL OR p.last_completed_at < sqlc.arg(interval_start)::timestamptz)
ORDER BY c.id;
