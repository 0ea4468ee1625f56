-- name: GetOwnParty :one
SELECT * FROM own_party WHERE id = $1;

-- name: GetOwnPartyByRef :one
SELECT * FROM own_party WHERE external_reference = $1;

-- name: LockOwnParty :one
SELECT * FROM own_party WHERE id = $1 FOR UPDATE;

-- name: ListOwnParties :many
SELECT * FROM own_party
WHERE id > sqlc.arg(after)::uuid
  AND (sqlc.narg(role)::text IS NULL OR role = sqlc.narg(role))
  AND (sqlc.narg(external_reference)::text IS NULL OR external_reference = sqlc.narg(external_reference))
ORDER BY id
LIMIT sqlc.arg(page_limit);

-- name: AllOwnParties :many
SELECT * FROM own_party ORDER BY country_code, party_id, role;

-- name: InsertOwnParty :exec
INSERT INTO own_party (id, external_reference, country_code, party_id, role, name, website, logo_url,
    external_updated_at, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11);

-- name: UpdateOwnParty :exec
UPDATE own_party SET external_reference = $2, country_code = $3, party_id = $4, role = $5, name = $6,
    website = $7, logo_url = $8, external_updated_at = $9, updated_at = $10
WHERE id = $1;

-- name: GetConnection :one
SELECT * FROM roaming_connection WHERE id = $1;

-- name: GetConnectionByRef :one
SELECT * FROM roaming_connection WHERE external_reference = $1;

-- name: LockConnection :one
SELECT * FROM roaming_connection WHERE id = $1 FOR UPDATE;

-- name: ConnectionByToken :one
SELECT * FROM roaming_connection WHERE our_token_hash = $1 OR pending_token_hash = $1 LIMIT 1;

-- name: ListConnections :many
SELECT * FROM roaming_connection
WHERE id > sqlc.arg(after)::uuid
  AND (sqlc.narg(status)::text IS NULL OR status = sqlc.narg(status))
  AND (sqlc.narg(kind)::text IS NULL OR kind = sqlc.narg(kind))
  AND (sqlc.narg(external_reference)::text IS NULL OR external_reference = sqlc.narg(external_reference))
ORDER BY id
LIMIT sqlc.arg(page_limit);

-- name: InsertConnection :exec
INSERT INTO roaming_connection (id, external_reference, name, kind, status, initiated_by, our_token_hash,
    our_token_hint, our_token_is_a, pending_token_hash, their_token, their_token_hint, their_versions_url, version,
    their_endpoints, their_roles, token_base64, last_contact_at, status_message, external_updated_at, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22);

-- name: UpdateConnection :exec
UPDATE roaming_connection SET external_reference = $2, name = $3, kind = $4, status = $5, initiated_by = $6,
    our_token_hash = $7, our_token_hint = $8, our_token_is_a = $9, pending_token_hash = $10, their_token = $11,
    their_token_hint = $12, their_versions_url = $13, version = $14, their_endpoints = $15, their_roles = $16,
    token_base64 = $17, last_contact_at = $18, status_message = $19, external_updated_at = $20, updated_at = $21
WHERE id = $1;

-- name: SetPendingToken :exec
UPDATE roaming_connection SET pending_token_hash = $2, updated_at = now() WHERE id = $1;

-- name: TouchConnection :exec
UPDATE roaming_connection SET last_contact_at = $2 WHERE id = $1 AND (last_contact_at IS NULL OR last_contact_at < $2);

-- name: GetPartner :one
SELECT * FROM party WHERE id = $1 AND role = 'roaming_partner';

-- name: GetPartnerByRef :one
SELECT * FROM party WHERE external_reference = $1 AND role = 'roaming_partner';

-- name: LockPartner :one
SELECT * FROM party WHERE id = $1 AND role = 'roaming_partner' FOR UPDATE;

-- name: ListPartners :many
SELECT * FROM party
WHERE role = 'roaming_partner'
  AND id > sqlc.arg(after)::uuid
  AND (sqlc.narg(external_reference)::text IS NULL OR external_reference = sqlc.narg(external_reference))
  AND (sqlc.narg(country_code)::text IS NULL OR EXISTS (SELECT 1 FROM roaming_party_id r WHERE r.partner_id = party.id
        AND r.country_code = sqlc.narg(country_code) AND r.party_id = sqlc.narg(party_id)))
  AND (sqlc.narg(connection_id)::uuid IS NULL OR EXISTS (SELECT 1 FROM roaming_party_id r WHERE r.partner_id = party.id
        AND r.connection_id = sqlc.narg(connection_id)))
ORDER BY id
LIMIT sqlc.arg(page_limit);

-- name: InsertPartner :exec
INSERT INTO party (id, role, external_reference, name, country, entity_type, external_updated_at, created_at, updated_at)
VALUES ($1, 'roaming_partner', $2, $3, $4, 'organisation', $5, $6, $7);

-- name: UpdatePartner :exec
UPDATE party SET external_reference = $2, name = $3, country = $4, external_updated_at = $5, updated_at = $6
WHERE id = $1 AND role = 'roaming_partner';

-- name: PartyIDsOf :many
SELECT * FROM roaming_party_id WHERE partner_id = ANY(sqlc.arg(partner_ids)::uuid[]) ORDER BY country_code, party_id, role;

-- name: DeletePartyIDsOf :exec
DELETE FROM roaming_party_id WHERE partner_id = $1;

-- name: InsertPartyID :exec
INSERT INTO roaming_party_id (id, partner_id, connection_id, country_code, party_id, role, hub_status, hub_last_updated, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9);

-- name: PartyIDByRef :one
SELECT * FROM roaming_party_id WHERE country_code = $1 AND party_id = $2 AND role = $3;

-- name: UpdateHubStatus :exec
UPDATE roaming_party_id SET hub_status = $2, hub_last_updated = $3, connection_id = $4, updated_at = now()
WHERE id = $1 AND (hub_last_updated IS NULL OR hub_last_updated <= $3);

-- name: GetAgreement :one
SELECT * FROM roaming_agreement WHERE id = $1;

-- name: GetAgreementByRef :one
SELECT * FROM roaming_agreement WHERE external_reference = $1;

-- name: LockAgreement :one
SELECT * FROM roaming_agreement WHERE id = $1 FOR UPDATE;

-- name: ListAgreements :many
SELECT * FROM roaming_agreement
WHERE id > sqlc.arg(after)::uuid
  AND (sqlc.narg(partner_id)::uuid IS NULL OR partner_id = sqlc.narg(partner_id))
  AND (sqlc.narg(role)::text IS NULL OR role = sqlc.narg(role))
  AND (sqlc.narg(external_reference)::text IS NULL OR external_reference = sqlc.narg(external_reference))
  AND (sqlc.narg(valid_at)::timestamptz IS NULL OR tstzrange(valid_from, valid_until, '[)') @> sqlc.narg(valid_at)::timestamptz)
ORDER BY id
LIMIT sqlc.arg(page_limit);

-- name: InsertAgreement :exec
INSERT INTO roaming_agreement (id, external_reference, partner_id, role, valid_from, valid_until, external_updated_at, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9);

-- name: UpdateAgreement :exec
UPDATE roaming_agreement SET external_reference = $2, role = $3, valid_from = $4, valid_until = $5,
    external_updated_at = $6, updated_at = $7
WHERE id = $1;

-- name: InsertExchange :exec
INSERT INTO roaming_exchange (id, at, direction, connection_id, country_code, party_id, method, url, http_status,
    ocpi_status, duration_ms, request_id, correlation_id, request_body, response_body, error)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16);

-- name: GetExchange :one
SELECT * FROM roaming_exchange WHERE id = $1;

-- name: ListExchanges :many
SELECT * FROM roaming_exchange
WHERE id > sqlc.arg(after)::uuid
  AND (sqlc.narg(connection_id)::uuid IS NULL OR connection_id = sqlc.narg(connection_id))
  AND (sqlc.narg(direction)::text IS NULL OR direction = sqlc.narg(direction))
  AND (sqlc.narg(method)::text IS NULL OR method = sqlc.narg(method))
  AND (sqlc.narg(http_status)::int IS NULL OR http_status = sqlc.narg(http_status))
  AND (sqlc.narg(ocpi_status)::int IS NULL OR ocpi_status = sqlc.narg(ocpi_status))
  AND (sqlc.narg(request_id)::text IS NULL OR request_id = sqlc.narg(request_id))
  AND (sqlc.narg(correlation_id)::text IS NULL OR correlation_id = sqlc.narg(correlation_id))
  AND (sqlc.narg(country_code)::text IS NULL OR country_code = sqlc.narg(country_code))
  AND (sqlc.narg(party_id)::text IS NULL OR party_id = sqlc.narg(party_id))
  AND (sqlc.narg(at_gte)::timestamptz IS NULL OR at >= sqlc.narg(at_gte))
  AND (sqlc.narg(at_lt)::timestamptz IS NULL OR at < sqlc.narg(at_lt))
  AND (sqlc.narg(errors_only)::bool IS NULL OR NOT sqlc.narg(errors_only) OR http_status >= 400 OR coalesce(ocpi_status, 1000) <> 1000 OR error IS NOT NULL)
ORDER BY id
LIMIT sqlc.arg(page_limit);

-- name: PruneExchanges :execrows
DELETE FROM roaming_exchange WHERE at < $1;

-- name: SetPartyIDConnection :exec
UPDATE roaming_party_id SET connection_id = $2, updated_at = now() WHERE id = $1;

-- name: PartyIDsByParty :many
SELECT * FROM roaming_party_id WHERE country_code = $1 AND party_id = $2 ORDER BY role;

-- name: LockOwnPartyByRef :one
SELECT * FROM own_party WHERE external_reference = $1 FOR UPDATE;

-- name: LockConnectionByRef :one
SELECT * FROM roaming_connection WHERE external_reference = $1 FOR UPDATE;

-- name: LockPartnerByRef :one
SELECT * FROM party WHERE external_reference = $1 AND role = 'roaming_partner' FOR UPDATE;

-- name: LockAgreementByRef :one
SELECT * FROM roaming_agreement WHERE external_reference = $1 FOR UPDATE;
