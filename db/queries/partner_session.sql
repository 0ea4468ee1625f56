-- Partners' sessions (partner_session: the Sessions receiver, the pull of
-- Sessions senders, the msp-charge-session-progress read model) and the
-- pull of partners' sessions and CDRs (issue 5).

-- name: LockPartnerSession :one
-- The stored session of a party under a row lock, for a write.
SELECT * FROM partner_session WHERE country_code = @country_code AND party_id = @party_id AND session_key = @session_key FOR UPDATE;

-- name: GetPartnerSessionByKey :one
SELECT * FROM partner_session WHERE country_code = @country_code AND party_id = @party_id AND session_key = @session_key;

-- name: GetPartnerSession :one
SELECT * FROM partner_session WHERE id = $1;

-- name: InsertPartnerSession :one
-- A session reported for the first time; no row when a concurrent report
-- inserted it first (the caller retries as an update).
INSERT INTO partner_session (id, connection_id, partner_id, administration_id, country_code, party_id, session_id, session_key,
    status, kwh, start_at, end_at, token_country_code, token_party_id, token_uid, token_uid_key, token_type, token_contract_id,
    auth_method, authorization_reference, location_id, evse_uid, evse_key, connector_id, meter_id, currency,
    total_cost_excl_vat, total_cost_incl_vat, charging_periods, last_updated, last_change, channel, body, created_at, updated_at)
VALUES (@id, sqlc.narg(connection_id), sqlc.narg(partner_id), sqlc.narg(administration_id), @country_code, @party_id, @session_id,
    @session_key, @status, @kwh, @start_at, sqlc.narg(end_at), @token_country_code, @token_party_id, @token_uid, @token_uid_key,
    @token_type, @token_contract_id, @auth_method, sqlc.narg(authorization_reference), @location_id, @evse_uid, @evse_key,
    @connector_id, sqlc.narg(meter_id), @currency, sqlc.narg(total_cost_excl_vat), sqlc.narg(total_cost_incl_vat),
    @charging_periods, @last_updated, @last_change, @channel, @body, @now, @now)
ON CONFLICT ON CONSTRAINT partner_session_key DO NOTHING
RETURNING *;

-- name: UpdatePartnerSession :one
UPDATE partner_session SET connection_id = sqlc.narg(connection_id), partner_id = sqlc.narg(partner_id),
    administration_id = sqlc.narg(administration_id), session_id = @session_id, status = @status, kwh = @kwh,
    start_at = @start_at, end_at = sqlc.narg(end_at), token_country_code = @token_country_code,
    token_party_id = @token_party_id, token_uid = @token_uid, token_uid_key = @token_uid_key, token_type = @token_type,
    token_contract_id = @token_contract_id, auth_method = @auth_method, authorization_reference = sqlc.narg(authorization_reference),
    location_id = @location_id, evse_uid = @evse_uid, evse_key = @evse_key, connector_id = @connector_id,
    meter_id = sqlc.narg(meter_id), currency = @currency, total_cost_excl_vat = sqlc.narg(total_cost_excl_vat),
    total_cost_incl_vat = sqlc.narg(total_cost_incl_vat), charging_periods = @charging_periods, last_updated = @last_updated,
    last_change = @last_change, channel = @channel, body = @body, updated_at = @now
WHERE id = @id
RETURNING *;

-- name: ListPartnerSessions :many
-- The read model's list: seek pagination on id, filters combined with AND,
-- scoped to the account's administrations.
SELECT * FROM partner_session
WHERE id > sqlc.arg(after)::uuid
  AND (sqlc.narg(partner_id)::uuid IS NULL OR partner_id = sqlc.narg(partner_id))
  AND (sqlc.narg(evse_key)::text IS NULL OR evse_key = sqlc.narg(evse_key))
  AND (sqlc.narg(token_uid_key)::text IS NULL OR token_uid_key = sqlc.narg(token_uid_key))
  AND (sqlc.narg(status)::text IS NULL OR status = sqlc.narg(status))
  AND (sqlc.narg(ongoing)::boolean IS NULL OR (status NOT IN ('COMPLETED', 'INVALID')) = sqlc.narg(ongoing))
  AND (sqlc.narg(start_gte)::timestamptz IS NULL OR start_at >= sqlc.narg(start_gte))
  AND (sqlc.narg(start_lt)::timestamptz IS NULL OR start_at < sqlc.narg(start_lt))
  AND (sqlc.narg(all_admins)::boolean IS TRUE OR administration_id = ANY(@admin_ids::uuid[]))
ORDER BY id LIMIT @lim;

-- name: InsertPulledInvalidChargeSession :execrows
-- A pulled CDR that fails the basic checks (a pull cannot refuse it) is
-- kept as an invalid charge session, once: the same payload pulled again
-- (the next incremental run overlaps the last one) or a CDR already
-- received as a valid one stores nothing.
INSERT INTO invalid_charge_session (id, side, channel, connection_id, partner_id, country_code, party_id, cdr_id, cdr_key,
    payload, problems, received_at)
SELECT @id, 'msp', 'ocpi_pull', sqlc.narg(connection_id)::uuid, sqlc.narg(partner_id)::uuid, sqlc.narg(country_code)::text,
    sqlc.narg(party_id)::text, sqlc.narg(cdr_id)::text, sqlc.narg(cdr_key)::text, @payload, @problems, @received_at
WHERE NOT EXISTS (SELECT 1 FROM invalid_charge_session i
                  WHERE i.side = 'msp' AND i.channel = 'ocpi_pull' AND i.payload = @payload
                    AND i.connection_id IS NOT DISTINCT FROM sqlc.narg(connection_id)::uuid
                    AND i.country_code IS NOT DISTINCT FROM sqlc.narg(country_code)::text
                    AND i.party_id IS NOT DISTINCT FROM sqlc.narg(party_id)::text
                    AND i.cdr_key IS NOT DISTINCT FROM sqlc.narg(cdr_key)::text)
  AND NOT EXISTS (SELECT 1 FROM charge_session s
                  WHERE s.side = 'msp' AND s.country_code = sqlc.narg(country_code)::text
                    AND s.party_id = sqlc.narg(party_id)::text AND s.cdr_key = sqlc.narg(cdr_key)::text);

-- name: DueSessionPulls :many
-- What the session-pull sweep enqueues: DueSyncs for the modules sessions
-- and cdrs (requested, dead, scheduled or failed syncs of registered
-- connections whose partner has a Sender endpoint of the module).
SELECT c.id AS connection_id, m.module::text AS module
FROM roaming_connection c
CROSS JOIN unnest(ARRAY['sessions', 'cdrs']::text[]) AS m(module)
LEFT JOIN roaming_sync s ON s.connection_id = c.id AND s.module = m.module
WHERE c.status = 'registered'
  AND EXISTS (SELECT 1 FROM jsonb_array_elements(c.their_endpoints) e
              WHERE e->>'identifier' = m.module AND upper(e->>'role') = 'SENDER')
  AND (s.connection_id IS NULL
       OR (s.status = 'running' AND (s.heartbeat_at IS NULL OR s.heartbeat_at < @stale_before))
       OR (s.status <> 'running' AND (s.requested_at IS NOT NULL OR s.last_finished_at IS NULL OR s.last_finished_at < @due_before))
       OR (s.status = 'failed' AND s.last_finished_at < @retry_before))
ORDER BY c.id, m.module;
