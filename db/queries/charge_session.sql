-- Charge sessions, their originals, invalid charge sessions, drop-out
-- cases and threshold overrides (the charge-session pipeline, issue 5).

-- name: InsertChargeSession :execrows
-- Idempotent intake: a second submission of the same CDR (same side,
-- party and CDR id) inserts nothing; the caller then loads the stored one.
INSERT INTO charge_session (id, side, administration_id, partner_id, connection_id, country_code, party_id, cdr_id, cdr_key,
    session_id, start_at, end_at, token_country_code, token_party_id, token_uid, token_uid_key, token_type, token_contract_id,
    location_id, evse_uid, evse_id, evse_key, connector_id, power_type, location_country, currency, total_energy, total_time,
    total_parking_time, credit, credit_reference_id, credited_session_id, state, attempts, next_attempt_at, received_at,
    created_at, updated_at, authorization_reference)
VALUES (@id, @side, sqlc.narg(administration_id), sqlc.narg(partner_id), sqlc.narg(connection_id), @country_code, @party_id,
    @cdr_id, @cdr_key, sqlc.narg(session_id), @start_at, @end_at, @token_country_code, @token_party_id, @token_uid,
    @token_uid_key, @token_type, @token_contract_id, @location_id, @evse_uid, sqlc.narg(evse_id), @evse_key, @connector_id,
    sqlc.narg(power_type), sqlc.narg(location_country), @currency, @total_energy, @total_time, @total_parking_time, @credit,
    sqlc.narg(credit_reference_id), sqlc.narg(credited_session_id), @state, 0, NULL, @received_at, @received_at, @received_at,
    sqlc.narg(authorization_reference))
ON CONFLICT ON CONSTRAINT charge_session_cdr_key DO NOTHING;

-- name: ReceiveChargeSessionWithEvent :execrows
-- Idempotent intake in one statement (one round trip, one commit): the
-- session, its original payload, the resolution of invalid submissions of
-- the same CDR, and the outbox event, all only when the CDR is new. Credit
-- CDRs, which must find the CDR they credit first, take the transaction
-- of InsertChargeSession instead.
WITH ins AS (
    INSERT INTO charge_session (id, side, administration_id, partner_id, connection_id, country_code, party_id, cdr_id, cdr_key,
        session_id, start_at, end_at, token_country_code, token_party_id, token_uid, token_uid_key, token_type, token_contract_id,
        location_id, evse_uid, evse_id, evse_key, connector_id, power_type, location_country, currency, total_energy, total_time,
        total_parking_time, credit, credit_reference_id, state, attempts, received_at, created_at, updated_at,
        authorization_reference)
    VALUES (@id, @side, sqlc.narg(administration_id), sqlc.narg(partner_id), sqlc.narg(connection_id), @country_code, @party_id,
        @cdr_id, @cdr_key, sqlc.narg(session_id), @start_at, @end_at, @token_country_code, @token_party_id, @token_uid,
        @token_uid_key, @token_type, @token_contract_id, @location_id, @evse_uid, sqlc.narg(evse_id), @evse_key, @connector_id,
        sqlc.narg(power_type), sqlc.narg(location_country), @currency, @total_energy, @total_time, @total_parking_time, false,
        NULL, 'received', 0, @received_at, @received_at, @received_at, sqlc.narg(authorization_reference))
    ON CONFLICT ON CONSTRAINT charge_session_cdr_key DO NOTHING
    RETURNING charge_session.id
), orig AS (
    INSERT INTO charge_session_original (session_id, channel, payload, received_at)
    SELECT ins.id, @channel, @payload, @received_at FROM ins
), inv AS (
    UPDATE invalid_charge_session i SET resolved_at = @received_at, resolved_by_session_id = ins.id FROM ins
    WHERE i.side = @side AND i.country_code = @country_code AND i.party_id = @party_id AND i.cdr_key = @cdr_key AND i.resolved_at IS NULL
)
INSERT INTO outbox_event (id, occurred_at, kind, modification_kind, administration_id, data)
SELECT @event_id, @received_at, @event_kind, 'create', sqlc.narg(administration_id), @event_data FROM ins;

-- name: GetChargeSessionByKey :one
SELECT * FROM charge_session WHERE side = $1 AND country_code = $2 AND party_id = $3 AND cdr_key = $4;

-- name: GetChargeSession :one
SELECT * FROM charge_session WHERE id = $1;

-- name: LockChargeSession :one
SELECT * FROM charge_session WHERE id = $1 FOR UPDATE;

-- name: InsertChargeSessionOriginal :exec
INSERT INTO charge_session_original (session_id, channel, payload, received_at) VALUES ($1, $2, $3, $4);

-- name: GetChargeSessionOriginal :one
SELECT * FROM charge_session_original WHERE session_id = $1;

-- name: CommitChargeSessionStep :execrows
-- Commits a pipeline step with an optimistic check on the state it was
-- computed from: a step that runs twice (or races a reprocess) finds the
-- state moved on and writes nothing.
UPDATE charge_session SET state = @state, attempts = @attempts, next_attempt_at = sqlc.narg(next_attempt_at),
    administration_id = coalesce(sqlc.narg(administration_id), administration_id),
    bypass = @bypass, match_location_id = sqlc.narg(match_location_id), match_evse_id = sqlc.narg(match_evse_id),
    match_evse_uid = sqlc.narg(match_evse_uid), match_connector_id = sqlc.narg(match_connector_id),
    match_max_power_kw = sqlc.narg(match_max_power_kw), match_dropout_all = sqlc.narg(match_dropout_all),
    match_time_zone = sqlc.narg(match_time_zone),
    -- the last drop-out stays on the session until it drops out again
    dropout_reason = CASE WHEN @state = 'dropped_out' THEN sqlc.narg(dropout_reason) ELSE dropout_reason END,
    dropout_detail = CASE WHEN @state = 'dropped_out' THEN sqlc.narg(dropout_detail) ELSE dropout_detail END,
    dropout_check = CASE WHEN @state = 'dropped_out' THEN sqlc.narg(dropout_check) ELSE dropout_check END,
    dropout_case_id = CASE WHEN @state = 'dropped_out' THEN sqlc.narg(dropout_case_id) ELSE dropout_case_id END,
    updated_at = @updated_at
WHERE id = @id AND state = @from_state AND attempts = @from_attempts;

-- name: CommitChargeSessionStepWithEvent :execrows
-- The same commit and its outbox event in one statement (one round trip,
-- one commit) for steps that open no drop-out case: the event is written
-- only when the optimistic check let the update through.
WITH u AS (
    UPDATE charge_session SET state = @state, attempts = @attempts, next_attempt_at = sqlc.narg(next_attempt_at),
        administration_id = coalesce(sqlc.narg(administration_id), administration_id),
        bypass = @bypass, match_location_id = sqlc.narg(match_location_id), match_evse_id = sqlc.narg(match_evse_id),
        match_evse_uid = sqlc.narg(match_evse_uid), match_connector_id = sqlc.narg(match_connector_id),
        match_max_power_kw = sqlc.narg(match_max_power_kw), match_dropout_all = sqlc.narg(match_dropout_all),
        match_time_zone = sqlc.narg(match_time_zone), updated_at = @updated_at
    WHERE charge_session.id = @id AND state = @from_state AND attempts = @from_attempts AND @state <> 'dropped_out'
    RETURNING charge_session.id
)
INSERT INTO outbox_event (id, occurred_at, kind, modification_kind, administration_id, data)
SELECT @event_id, @updated_at, @event_kind, 'update', sqlc.narg(event_administration_id), @event_data FROM u;

-- name: OpenDropoutCase :one
-- The open case for a key, created when there is none. Concurrent callers
-- meet on the partial unique index: the conflict branch returns the row
-- the other transaction inserted.
INSERT INTO dropout_case (id, side, reason, country_code, party_id, evse_key, state, created_at, updated_at)
VALUES (@id, @side, @reason, @country_code, @party_id, @evse_key, 'open', @now, @now)
ON CONFLICT (side, reason, country_code, party_id, evse_key) WHERE state = 'open'
DO UPDATE SET updated_at = EXCLUDED.updated_at
RETURNING *;

-- name: ResolveDropoutCaseIfDone :execrows
-- A case is resolved once none of its sessions is dropped out any more.
UPDATE dropout_case SET state = 'resolved', resolved_at = @now, updated_at = @now
WHERE dropout_case.id = @id AND dropout_case.state = 'open'
  AND NOT EXISTS (SELECT 1 FROM charge_session s WHERE s.dropout_case_id = @id AND s.state = 'dropped_out');

-- name: GetDropoutCase :one
SELECT * FROM dropout_case WHERE id = $1;

-- name: LockDropoutCase :one
SELECT * FROM dropout_case WHERE id = $1 FOR UPDATE;

-- name: DroppedSessionsOfCase :many
SELECT id FROM charge_session WHERE dropout_case_id = $1 AND state = 'dropped_out' ORDER BY id;

-- name: SessionIDsOfCase :many
SELECT id FROM charge_session WHERE dropout_case_id = $1 ORDER BY id LIMIT 1000;

-- name: CountCaseSessions :one
SELECT count(*) FILTER (WHERE state = 'dropped_out') AS open, count(*) AS total FROM charge_session WHERE dropout_case_id = $1;

-- name: ListDropoutCases :many
-- A page of a side's drop-out cases with their session counts. An account
-- limited to some administrations sees the cases holding at least one
-- session of those.
SELECT c.*,
    (SELECT count(*) FROM charge_session s WHERE s.dropout_case_id = c.id AND s.state = 'dropped_out') AS open_sessions,
    (SELECT count(*) FROM charge_session s WHERE s.dropout_case_id = c.id) AS total_sessions
FROM dropout_case c
WHERE c.side = @side AND c.id > sqlc.arg(after)::uuid
  AND (sqlc.narg(reason)::text IS NULL OR c.reason = sqlc.narg(reason))
  AND (sqlc.narg(state)::text IS NULL OR c.state = sqlc.narg(state))
  AND (sqlc.narg(evse_key)::text IS NULL OR c.evse_key = sqlc.narg(evse_key))
  AND (sqlc.narg(country_code)::text IS NULL OR (c.country_code = sqlc.narg(country_code) AND c.party_id = sqlc.narg(party_id)))
  AND (sqlc.narg(all_admins)::boolean IS TRUE OR EXISTS (SELECT 1 FROM charge_session s
      WHERE s.dropout_case_id = c.id AND s.administration_id = ANY(@admin_ids::uuid[])))
ORDER BY c.id LIMIT @lim;

-- name: CaseSessionAdmins :many
-- The administrations of a case's sessions (NULL for sessions not yet
-- attributed), for scoping the case.
SELECT DISTINCT administration_id FROM charge_session WHERE dropout_case_id = $1;

-- name: DetachPrunableCases :execrows
-- Retention of resolved drop-out cases, step 1: the sessions of cases
-- resolved before the limit forget the case (they keep their last
-- drop-out reason, detail and check).
UPDATE charge_session SET dropout_case_id = NULL
WHERE dropout_case_id IN (SELECT d.id FROM dropout_case d WHERE d.state = 'resolved' AND d.resolved_at < @before ORDER BY d.id LIMIT @lim);

-- name: PruneResolvedCases :execrows
-- Retention of resolved drop-out cases, step 2: delete them (a case still
-- referenced, because a session was attached after step 1, stays).
DELETE FROM dropout_case c
WHERE c.id IN (SELECT d.id FROM dropout_case d WHERE d.state = 'resolved' AND d.resolved_at < @before ORDER BY d.id LIMIT @lim)
  AND NOT EXISTS (SELECT 1 FROM charge_session s WHERE s.dropout_case_id = c.id);

-- name: ListChargeSessions :many
SELECT * FROM charge_session
WHERE side = @side AND id > sqlc.arg(after)::uuid
  AND (sqlc.narg(partner_id)::uuid IS NULL OR partner_id = sqlc.narg(partner_id))
  AND (sqlc.narg(evse_key)::text IS NULL OR evse_key = sqlc.narg(evse_key))
  AND (sqlc.narg(token_uid_key)::text IS NULL OR token_uid_key = sqlc.narg(token_uid_key))
  AND (sqlc.narg(state)::text IS NULL OR state = sqlc.narg(state))
  AND (sqlc.narg(start_gte)::timestamptz IS NULL OR start_at >= sqlc.narg(start_gte))
  AND (sqlc.narg(start_lt)::timestamptz IS NULL OR start_at < sqlc.narg(start_lt))
  AND (sqlc.narg(dropout_case_id)::uuid IS NULL OR dropout_case_id = sqlc.narg(dropout_case_id))
  AND (sqlc.narg(all_admins)::boolean IS TRUE OR administration_id = ANY(@admin_ids::uuid[]))
ORDER BY id LIMIT @lim;

-- name: ListChargeSessionsByAuthorizationReference :many
-- ListChargeSessions of the sessions whose CDR carries an authorization
-- reference (CiString, ignoring case), a statement of its own: the
-- sessions with the reference come from the partial index on
-- lower(authorization_reference) first (MATERIALIZED), then the filters
-- and order apply to those few. As an optional condition of the generic
-- list, or even as a plain condition next to ORDER BY id LIMIT, Postgres
-- walked the primary key and read every session of the side (71 ms at
-- 100,000 sessions against 0.2 ms).
WITH ref AS MATERIALIZED (
    SELECT cs.* FROM charge_session cs
    WHERE lower(cs.authorization_reference) = lower(@authorization_reference) AND cs.authorization_reference IS NOT NULL
)
SELECT * FROM ref
WHERE side = @side AND id > sqlc.arg(after)::uuid
  AND (sqlc.narg(partner_id)::uuid IS NULL OR partner_id = sqlc.narg(partner_id))
  AND (sqlc.narg(evse_key)::text IS NULL OR evse_key = sqlc.narg(evse_key))
  AND (sqlc.narg(token_uid_key)::text IS NULL OR token_uid_key = sqlc.narg(token_uid_key))
  AND (sqlc.narg(state)::text IS NULL OR state = sqlc.narg(state))
  AND (sqlc.narg(start_gte)::timestamptz IS NULL OR start_at >= sqlc.narg(start_gte))
  AND (sqlc.narg(start_lt)::timestamptz IS NULL OR start_at < sqlc.narg(start_lt))
  AND (sqlc.narg(dropout_case_id)::uuid IS NULL OR dropout_case_id = sqlc.narg(dropout_case_id))
  AND (sqlc.narg(all_admins)::boolean IS TRUE OR administration_id = ANY(@admin_ids::uuid[]))
ORDER BY id LIMIT @lim;

-- name: InsertInvalidChargeSession :exec
INSERT INTO invalid_charge_session (id, side, channel, connection_id, partner_id, country_code, party_id, cdr_id, cdr_key,
    payload, problems, received_at)
VALUES (@id, @side, @channel, sqlc.narg(connection_id), sqlc.narg(partner_id), sqlc.narg(country_code), sqlc.narg(party_id),
    sqlc.narg(cdr_id), sqlc.narg(cdr_key), @payload, @problems, @received_at);

-- name: ResolveInvalidChargeSessions :execrows
-- A corrected submission resolves the invalid ones with the same party and
-- CDR id.
UPDATE invalid_charge_session SET resolved_at = @now, resolved_by_session_id = @session_id
WHERE side = @side AND country_code = @country_code AND party_id = @party_id AND cdr_key = @cdr_key AND resolved_at IS NULL;

-- name: GetInvalidChargeSession :one
SELECT * FROM invalid_charge_session WHERE id = $1;

-- name: ListInvalidChargeSessions :many
SELECT * FROM invalid_charge_session
WHERE side = @side AND id > sqlc.arg(after)::uuid
  AND (sqlc.narg(partner_id)::uuid IS NULL OR partner_id = sqlc.narg(partner_id))
  AND (sqlc.narg(resolved)::boolean IS NULL OR (resolved_at IS NOT NULL) = sqlc.narg(resolved))
ORDER BY id LIMIT @lim;

-- name: ThresholdOverrides :many
-- The overrides of an administration and of a partner (either may be
-- absent); the caller layers them administration first.
SELECT administration_id, partner_id, overrides FROM session_thresholds
WHERE administration_id = sqlc.narg(administration_id) OR partner_id = sqlc.narg(partner_id);

-- name: GetAdministrationThresholds :one
SELECT * FROM session_thresholds WHERE administration_id = $1;

-- name: GetPartnerThresholds :one
SELECT * FROM session_thresholds WHERE partner_id = $1;

-- name: UpsertAdministrationThresholds :exec
INSERT INTO session_thresholds (id, administration_id, overrides, updated_at) VALUES (@id, @administration_id, @overrides, @now)
ON CONFLICT (administration_id) DO UPDATE SET overrides = EXCLUDED.overrides, updated_at = EXCLUDED.updated_at;

-- name: UpsertPartnerThresholds :exec
INSERT INTO session_thresholds (id, partner_id, overrides, updated_at) VALUES (@id, @partner_id, @overrides, @now)
ON CONFLICT (partner_id) DO UPDATE SET overrides = EXCLUDED.overrides, updated_at = EXCLUDED.updated_at;

-- name: MSPTokenOwner :one
-- The administration of our token with this uid (MSP side: "token known"),
-- preferring the CDR's token type when uid alone is ambiguous.
SELECT administration_id FROM msp_token WHERE uid_key = @uid_key ORDER BY (type = @type) DESC, id LIMIT 1;

-- name: MatchPartnerLocationEVSEs :many
-- The location of the CDR (by party and case-insensitive id) with the
-- EVSEs that may be the CDR's, in one round trip: no row means no
-- location, one row without uid means no EVSE. uid matches sort first.
SELECT l.id AS location_ref, l.time_zone, e.uid, e.data, coalesce(e.uid_key = @uid_key, false)::boolean AS by_uid
FROM partner_location l
LEFT JOIN partner_evse e ON e.location_ref = l.id AND (e.uid_key = @uid_key OR (@evse_id_key::text <> '' AND e.evse_id_key = @evse_id_key))
WHERE l.country_code = @country_code AND l.party_id = @party_id AND l.location_key = @location_key
ORDER BY by_uid DESC;

-- name: MatchPartnerEVSEByID :one
-- An EVSE of the party found by EVSE id alone (the CDR's location id is
-- unknown to us, e.g. renamed), newest first.
SELECT l.id AS location_ref, l.time_zone, e.uid, e.data FROM partner_evse e JOIN partner_location l ON l.id = e.location_ref
WHERE e.evse_id_key = @evse_id_key AND l.country_code = @country_code AND l.party_id = @party_id
ORDER BY e.last_updated DESC LIMIT 1;

-- name: MatchCPOLocation :one
SELECT id, doc FROM cpo_location WHERE location_key = $1;

-- name: MatchCPOEVSEs :many
SELECT id, evse_uid, evse_id, doc, dropout_all_chargesessions, (evse_key = @evse_key)::boolean AS by_uid FROM cpo_evse
WHERE location_uuid = @location_uuid
  AND (evse_key = @evse_key OR (@evse_id_key::text <> '' AND regexp_replace(upper(coalesce(evse_id, '')), '[^A-Z0-9]', '', 'g') = @evse_id_key))
ORDER BY by_uid DESC;

-- name: ClaimDueChargeSessions :many
-- The worker's claim (worker/session_drain.go): up to @lim sessions whose
-- next step is due, locked FOR UPDATE SKIP LOCKED, so that concurrent
-- lanes and workers claim different sessions and a crashed lane's claim
-- ends with its connection. Retries come due first, then fresh sessions
-- in arrival order, then ready_for_pricing sessions of the sides in
-- @sides (a waiting credit CDR). Each branch walks an index in its order
-- (charge_session_pending, charge_session_state) with its own condition:
-- one condition with OR made Postgres collect and sort every pending row
-- (135 ms a claim with 16,000 waiting). Fresh sessions are claimed after
-- @after, the worker's cursor: the index entries of sessions processed
-- since stay at the head of charge_session_pending until a vacuum, and a
-- claim that walked past them cost milliseconds (uuid.Nil: from the
-- start). The outer LIMIT stops pulling (and locking) once it has @lim
-- rows. @skip are sessions this worker is backing off from.
WITH retries AS (
    SELECT cs.* FROM charge_session cs
    WHERE cs.state IN ('received', 'matching', 'validating') AND cs.next_attempt_at <= sqlc.arg(now)::timestamptz
      AND NOT (cs.id = ANY(sqlc.arg(skip)::uuid[]))
    ORDER BY cs.next_attempt_at, cs.id
    LIMIT sqlc.arg(lim)::int
    FOR UPDATE SKIP LOCKED
), fresh AS (
    SELECT cs.* FROM charge_session cs
    WHERE cs.state IN ('received', 'matching', 'validating') AND cs.next_attempt_at IS NULL AND cs.id > sqlc.arg(after)::uuid
      AND NOT (cs.id = ANY(sqlc.arg(skip)::uuid[]))
    ORDER BY cs.next_attempt_at NULLS FIRST, cs.id
    LIMIT sqlc.arg(lim)::int
    FOR UPDATE SKIP LOCKED
), pricing AS (
    SELECT cs.* FROM charge_session cs
    WHERE cs.state = 'ready_for_pricing' AND cs.side = ANY(sqlc.arg(sides)::text[])
      AND (cs.next_attempt_at IS NULL OR cs.next_attempt_at <= sqlc.arg(now)::timestamptz) AND NOT (cs.id = ANY(sqlc.arg(skip)::uuid[]))
    LIMIT sqlc.arg(lim)::int
    FOR UPDATE SKIP LOCKED
)
SELECT * FROM (
    SELECT * FROM retries
    UNION ALL
    SELECT * FROM fresh
    UNION ALL
    SELECT * FROM pricing
) due
LIMIT sqlc.arg(lim)::int;
