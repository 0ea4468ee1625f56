-- name: CommitChargeSessionPriced :execrows
-- The pricing step in one statement (one round trip, one commit): the
-- session moves to priced (optimistic check on the state and attempts it
-- was priced from, so a step run twice commits once), every result is
-- stored as the next version of its (kind, subject) with its reason, and
-- the outbox gets the session's event and one event per result (the
-- result's view with the version and reason the statement assigned).
-- @prices is a JSON array of {id, kind, subject_id, currency, excl_vat,
-- vat, incl_vat, components, detail, event_id, event_kind, event_data,
-- credit_of} (credit_of: the result a credit CDR's result reverses);
-- event_data is the result's view without its components and detail,
-- which the statement adds from the row (each is sent once).
-- A credit CDR waiting for its credited session (next_attempt_at) is
-- due no more once priced; one waiting for this session (wake) is due at
-- once instead of at its next retry. A waiting credit locked by a lane
-- right now is skipped, not waited for (two batches waking each other's
-- credits would deadlock): that lane read this session before this
-- commit, so the credit keeps its retry schedule, as without the wake.
WITH old AS (
    SELECT cs.pricing_reason FROM charge_session cs WHERE cs.id = @id
), u AS (
    UPDATE charge_session SET state = 'priced', pricing_reason = NULL, updated_at = @updated_at, attempts = @attempts, next_attempt_at = NULL,
        administration_id = coalesce(sqlc.narg(administration_id), charge_session.administration_id),
        match_location_id = coalesce(sqlc.narg(match_location_id)::uuid, charge_session.match_location_id),
        match_evse_id = coalesce(sqlc.narg(match_evse_id)::uuid, charge_session.match_evse_id),
        match_evse_uid = coalesce(sqlc.narg(match_evse_uid)::text, charge_session.match_evse_uid),
        match_connector_id = coalesce(sqlc.narg(match_connector_id)::text, charge_session.match_connector_id),
        match_max_power_kw = coalesce(sqlc.narg(match_max_power_kw)::numeric, charge_session.match_max_power_kw),
        match_dropout_all = coalesce(sqlc.narg(match_dropout_all)::boolean, charge_session.match_dropout_all),
        match_time_zone = coalesce(sqlc.narg(match_time_zone)::text, charge_session.match_time_zone)
    WHERE charge_session.id = @id AND charge_session.state = @from_state AND charge_session.attempts = @from_attempts
    RETURNING charge_session.id, charge_session.administration_id
), wake AS (
    UPDATE charge_session w SET next_attempt_at = @updated_at
    WHERE w.id IN (SELECT c.id FROM u JOIN charge_session c ON c.credited_session_id = u.id
                   WHERE c.state = 'ready_for_pricing' AND c.next_attempt_at > @updated_at
                   FOR UPDATE OF c SKIP LOCKED)
), p AS (
    SELECT (e->>'id')::uuid AS id, e->>'kind' AS kind, (e->>'subject_id')::uuid AS subject_id, e->>'currency' AS currency,
        (e->>'excl_vat')::numeric AS excl_vat, (e->>'vat')::numeric AS vat, (e->>'incl_vat')::numeric AS incl_vat,
        e->'components' AS components, e->'detail' AS detail, (e->>'event_id')::uuid AS event_id, e->>'event_kind' AS event_kind,
        e->'event_data' AS event_data, nullif(e->'credit_of', 'null'::jsonb) AS credit_of,
        (e->>'event_administration_id')::uuid AS event_administration_id
    FROM jsonb_array_elements(@prices::jsonb) AS e
), superseded AS (
    -- Looked up per result (LATERAL, OFFSET 0 keeps it a per-row lookup),
    -- so that Postgres walks an index on both the session and the kind: as
    -- a join it chose a scan of the whole charge_session_price_latest
    -- index for the session id alone, a cost that grew with every priced
    -- session, and then hash joins that cost more than the lookups
    -- (jsonb_array_elements is estimated at 100 rows; there are 1–3).
    UPDATE charge_session_price o SET latest = false
    FROM (SELECT x.id FROM u CROSS JOIN p CROSS JOIN LATERAL (
              SELECT c.id FROM charge_session_price c
              WHERE c.charge_session_id = u.id AND c.kind = p.kind AND c.latest AND c.subject_id IS NOT DISTINCT FROM p.subject_id
              OFFSET 0) x) old_latest
    WHERE o.id = old_latest.id
), ins AS (
    INSERT INTO charge_session_price (id, charge_session_id, kind, subject_id, version, administration_id, currency, excl_vat, vat,
        incl_vat, components, detail, credit_of, reason, created_at)
    SELECT p.id, u.id, p.kind, p.subject_id, v.version, coalesce(p.event_administration_id, u.administration_id), p.currency,
        p.excl_vat, p.vat, p.incl_vat,
        p.components, coalesce(p.detail, '{}'::jsonb), p.credit_of,
        coalesce((SELECT old.pricing_reason FROM old), CASE WHEN v.version = 1 THEN 'initial' ELSE 'repriced' END), @updated_at
    FROM u CROSS JOIN p
    CROSS JOIN LATERAL (SELECT coalesce(max(x.version), 0) + 1 AS version FROM charge_session_price x
        WHERE x.charge_session_id = u.id AND x.kind = p.kind AND x.subject_id IS NOT DISTINCT FROM p.subject_id) v
    RETURNING charge_session_price.id, charge_session_price.version, charge_session_price.reason
), ev AS (
    -- A reimbursement's event belongs to its arrangement's administration
    -- (event_administration_id: the read model's scope; a CPO session has
    -- none), so that webhooks of that administration receive it.
    INSERT INTO outbox_event (id, occurred_at, kind, modification_kind, administration_id, data)
    SELECT r.event_id, @updated_at, r.event_kind, 'create', coalesce(r.event_administration_id, u.administration_id),
        r.event_data || jsonb_build_object('version', ins.version, 'reason', ins.reason, 'components', r.components,
            'detail', coalesce(r.detail, '{}'::jsonb))
    FROM ins CROSS JOIN u CROSS JOIN LATERAL (SELECT * FROM p WHERE p.id = ins.id OFFSET 0) r
)
INSERT INTO outbox_event (id, occurred_at, kind, modification_kind, administration_id, data)
SELECT @event_id, @updated_at, @event_kind, 'update', u.administration_id, @event_data FROM u;

-- name: RequestReprice :one
-- Sends a priced session back to ready_for_pricing with the reason its
-- next versions will carry (a session already waiting there just takes
-- the reason); other states are left alone (their pricing, when it comes,
-- prices from the data of that time anyway). A session a credit CDR
-- credits is left alone too: the credit reversed its result (mod_cdrs →
-- Credit CDRs), the CPO's replacement CDR is what is priced now.
UPDATE charge_session SET state = 'ready_for_pricing', pricing_reason = @reason, updated_at = @updated_at
WHERE charge_session.id = @id AND charge_session.state IN ('priced', 'ready_for_pricing')
  AND NOT EXISTS (SELECT 1 FROM charge_session c WHERE c.credited_session_id = charge_session.id)
RETURNING *;

-- name: ChargeSessionPrices :many
-- Every version of a session's results, by kind, subject and version.
SELECT * FROM charge_session_price WHERE charge_session_id = $1 ORDER BY kind, subject_id NULLS FIRST, version;

-- name: LatestChargeSessionPrices :many
-- The latest version of each (kind, subject) of the given sessions.
SELECT * FROM charge_session_price
WHERE charge_session_id = ANY(@ids::uuid[]) AND latest
ORDER BY charge_session_id, kind, subject_id NULLS FIRST;

-- name: ListMSPPricedSessions :many
-- A page of MSP sessions with a pricing result, with the read model's
-- filters: the subscription and customer of their latest result, the
-- token, the start period; scoped to administrations.
SELECT cs.* FROM charge_session cs
WHERE cs.id IN (
    SELECT p.charge_session_id FROM charge_session_price p
    WHERE p.kind = 'msp' AND p.latest AND p.charge_session_id > sqlc.arg(after)::uuid
      AND (sqlc.narg(subscription_id)::uuid IS NULL OR p.subscription_id = sqlc.narg(subscription_id))
      AND (sqlc.narg(customer_id)::uuid IS NULL OR p.customer_id = sqlc.narg(customer_id))
  )
  AND cs.side = 'msp' AND cs.id > sqlc.arg(after)::uuid
  AND (sqlc.narg(token_uid_key)::text IS NULL OR cs.token_uid_key = sqlc.narg(token_uid_key))
  AND (sqlc.narg(start_gte)::timestamptz IS NULL OR cs.start_at >= sqlc.narg(start_gte))
  AND (sqlc.narg(start_lt)::timestamptz IS NULL OR cs.start_at < sqlc.narg(start_lt))
  AND (sqlc.narg(all_admins)::boolean IS TRUE OR cs.administration_id = ANY(@admin_ids::uuid[]))
ORDER BY cs.id LIMIT @lim;

-- name: PricesOfSessions :many
-- Every version of one kind's results of the given sessions, by session
-- and version (the read models' pages).
SELECT * FROM charge_session_price WHERE charge_session_id = ANY(@ids::uuid[]) AND kind = @kind
ORDER BY charge_session_id, subject_id NULLS FIRST, version;
