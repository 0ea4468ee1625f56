-- Sessions at our own charge points (issue 5, CPO side): the sessions our
-- charge management system reports, the CDRs we publish, the roaming cost
-- inputs, the push routing to a token owner, and the consumption of
-- drop-out reprocessing requests.

-- name: LockCPOSessionByKey :one
SELECT * FROM cpo_session WHERE country_code = $1 AND party_id = $2 AND session_key = $3 FOR UPDATE;

-- name: GetCPOSession :one
SELECT * FROM cpo_session WHERE id = $1;

-- name: GetCPOSessionByKey :one
SELECT * FROM cpo_session WHERE country_code = $1 AND party_id = $2 AND session_key = $3;

-- name: GetCPOSessionOfChargeSession :one
SELECT * FROM cpo_session WHERE charge_session_id = $1;

-- name: LockCPOSessionOfChargeSession :one
SELECT * FROM cpo_session WHERE charge_session_id = $1 FOR UPDATE;

-- name: InsertCPOSession :exec
INSERT INTO cpo_session (id, external_reference, country_code, party_id, session_id, session_key, status, start_at, end_at,
    token_country_code, token_party_id, token_uid, doc, cdr_facts, last_updated, external_updated_at, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18);

-- name: UpdateCPOSession :exec
UPDATE cpo_session SET external_reference = $2, status = $3, start_at = $4, end_at = $5, token_country_code = $6,
    token_party_id = $7, token_uid = $8, doc = $9, cdr_facts = $10, last_updated = $11, external_updated_at = $12, updated_at = $13
WHERE id = $1;

-- name: SetCPOSessionChargeSession :exec
UPDATE cpo_session SET charge_session_id = $2 WHERE id = $1 AND charge_session_id IS NULL;

-- name: PublishCPOCDR :execrows
-- A CDR is published once (mod_cdrs: CDRs are final; corrections are
-- credit CDRs): a second publication of the same session writes nothing.
UPDATE cpo_session SET cdr_doc = $2, cdr_published_at = $3 WHERE id = $1 AND cdr_doc IS NULL;

-- name: SetChargeSessionCMSReimbursement :exec
UPDATE charge_session SET cms_reimbursement_excl_vat = $2 WHERE id = $1;

-- name: ListCPOSessions :many
-- The Admin API read model (seek pagination).
SELECT * FROM cpo_session
WHERE id > sqlc.arg(after)::uuid
  AND (sqlc.narg(status)::text IS NULL OR status = sqlc.narg(status))
  AND (sqlc.narg(session_key)::text IS NULL OR session_key = sqlc.narg(session_key))
  AND (sqlc.narg(external_reference)::text IS NULL OR external_reference = sqlc.narg(external_reference))
  AND (sqlc.narg(finished)::boolean IS NULL OR (charge_session_id IS NOT NULL) = sqlc.narg(finished))
ORDER BY id
LIMIT sqlc.arg(lim);

-- name: CountOCPISessions :one
-- The Sessions sender: our party's sessions whose token belongs to one of
-- the caller's parties (pairs of countries[i], parties[i]), in the
-- last_updated window [date_from, date_to). party_keys are the pairs as
-- "CC-PID" (countries and parties only narrow the index scan).
SELECT count(*) FROM cpo_session s
WHERE s.country_code = @country_code AND s.party_id = @party_id
  AND s.token_country_code = ANY(@countries::text[]) AND s.token_party_id = ANY(@parties::text[])
  AND (s.token_country_code || '-' || s.token_party_id) = ANY(@party_keys::text[])
  AND (sqlc.narg(date_from)::timestamptz IS NULL OR s.last_updated >= sqlc.narg(date_from))
  AND (sqlc.narg(date_to)::timestamptz IS NULL OR s.last_updated < sqlc.narg(date_to));

-- name: PageOCPISessions :many
SELECT s.* FROM cpo_session s
WHERE s.country_code = @country_code AND s.party_id = @party_id
  AND s.token_country_code = ANY(@countries::text[]) AND s.token_party_id = ANY(@parties::text[])
  AND (s.token_country_code || '-' || s.token_party_id) = ANY(@party_keys::text[])
  AND (sqlc.narg(date_from)::timestamptz IS NULL OR s.last_updated >= sqlc.narg(date_from))
  AND (sqlc.narg(date_to)::timestamptz IS NULL OR s.last_updated < sqlc.narg(date_to))
ORDER BY s.last_updated, s.id
OFFSET @page_offset LIMIT @page_limit;

-- name: CountOCPICDRs :one
-- The CDRs sender: published CDRs, windowed on their publication (their
-- last_updated).
SELECT count(*) FROM cpo_session s
WHERE s.country_code = @country_code AND s.party_id = @party_id AND s.cdr_published_at IS NOT NULL
  AND s.token_country_code = ANY(@countries::text[]) AND s.token_party_id = ANY(@parties::text[])
  AND (s.token_country_code || '-' || s.token_party_id) = ANY(@party_keys::text[])
  AND (sqlc.narg(date_from)::timestamptz IS NULL OR s.cdr_published_at >= sqlc.narg(date_from))
  AND (sqlc.narg(date_to)::timestamptz IS NULL OR s.cdr_published_at < sqlc.narg(date_to));

-- name: PageOCPICDRs :many
SELECT s.* FROM cpo_session s
WHERE s.country_code = @country_code AND s.party_id = @party_id AND s.cdr_published_at IS NOT NULL
  AND s.token_country_code = ANY(@countries::text[]) AND s.token_party_id = ANY(@parties::text[])
  AND (s.token_country_code || '-' || s.token_party_id) = ANY(@party_keys::text[])
  AND (sqlc.narg(date_from)::timestamptz IS NULL OR s.cdr_published_at >= sqlc.narg(date_from))
  AND (sqlc.narg(date_to)::timestamptz IS NULL OR s.cdr_published_at < sqlc.narg(date_to))
ORDER BY s.cdr_published_at, s.id
OFFSET @page_offset LIMIT @page_limit;

-- name: PartnerOfParty :one
-- The roaming partner that owns a party id (a token's eMSP); the eMSP role
-- first when the party has several roles.
SELECT partner_id FROM roaming_party_id WHERE country_code = $1 AND party_id = $2
ORDER BY (role = 'EMSP') DESC, id LIMIT 1;

-- name: SessionPartiesOfConnection :many
-- The party ids reached through a connection (its own roles and, for a
-- hub, the parties its client info reported).
SELECT DISTINCT country_code, party_id FROM roaming_party_id WHERE connection_id = $1 ORDER BY country_code, party_id;

-- name: PushReceiverOfParty :many
-- The connection that reaches a party with a receiver endpoint of the
-- module: a connection that lists the party among its roles, or a hub
-- whose client info reported it (roaming_party_id.connection_id); a direct
-- connection is preferred over a hub. At most one: a push addressed to a
-- party goes to that party only.
SELECT c.id, e.url::text AS url
FROM roaming_connection c,
     jsonb_to_recordset(c.their_endpoints) AS e(identifier text, role text, url text)
WHERE c.status = 'registered' AND e.identifier = sqlc.arg(module)::text AND e.role = 'RECEIVER'
  AND (EXISTS (SELECT 1 FROM roaming_party_id r WHERE r.connection_id = c.id
                 AND r.country_code = sqlc.arg(country_code)::text AND r.party_id = sqlc.arg(party_id)::text)
       OR EXISTS (SELECT 1 FROM jsonb_to_recordset(c.their_roles) AS x(country_code text, party_id text)
                 WHERE upper(x.country_code) = sqlc.arg(country_code)::text AND upper(x.party_id) = sqlc.arg(party_id)::text))
ORDER BY (c.kind = 'peer_to_peer') DESC, c.id
LIMIT 1;

-- name: CPOAgreementsOfPartner :many
SELECT * FROM roaming_agreement WHERE partner_id = $1 AND role = 'cpo' ORDER BY valid_from NULLS FIRST, id;

-- name: GetCPOEVSEByID :one
SELECT * FROM cpo_evse WHERE id = $1;

-- name: CPOTariffsByKeys :many
SELECT * FROM cpo_tariff WHERE tariff_key = ANY(@keys::text[]);

-- name: LockOpenDropoutReprocessRequest :one
-- One consumer per request at a time; a consumed one is left alone.
SELECT * FROM cpo_dropout_reprocess_request WHERE id = $1 AND consumed_at IS NULL FOR UPDATE SKIP LOCKED;

-- name: DroppedSessionsAtEVSE :many
-- The CPO sessions an EVSE's dropout_all_chargesessions flag dropped out
-- (guide 003 → Safe EVSE configuration), still dropped out.
SELECT id FROM charge_session
WHERE side = 'cpo' AND state = 'dropped_out' AND match_evse_id = $1 AND dropout_reason = $2
ORDER BY id;

-- name: PendingPushRefsOfGroup :many
-- The groups of one object with items still to send, on every connection
-- (to kick the worker after a commit that enqueued them).
SELECT connection_id, seq, attempts FROM ocpi_push WHERE module = $1 AND grp = $2 AND items <> '[]'::jsonb ORDER BY connection_id;
