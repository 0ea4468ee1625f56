-- name: GetCPOLocation :one
SELECT * FROM cpo_location WHERE id = $1;

-- name: GetCPOLocationByKey :one
SELECT * FROM cpo_location WHERE location_key = $1;

-- name: LockCPOLocationByKey :one
SELECT * FROM cpo_location WHERE location_key = $1 FOR UPDATE;

-- name: GetCPOLocationByRef :one
SELECT * FROM cpo_location WHERE external_reference = $1;

-- name: LockCPOLocationByRef :one
SELECT * FROM cpo_location WHERE external_reference = $1 FOR UPDATE;

-- name: LockCPOLocation :one
SELECT * FROM cpo_location WHERE id = $1 FOR UPDATE;

-- name: ListCPOLocations :many
SELECT * FROM cpo_location
WHERE id > sqlc.arg(after)::uuid
  AND (sqlc.narg(country_code)::text IS NULL OR country_code = sqlc.narg(country_code))
  AND (sqlc.narg(party_id)::text IS NULL OR party_id = sqlc.narg(party_id))
  AND (sqlc.narg(external_reference)::text IS NULL OR external_reference = sqlc.narg(external_reference))
  AND (sqlc.narg(deactivated)::boolean IS NULL OR (deactivated_at IS NOT NULL) = sqlc.narg(deactivated))
ORDER BY id
LIMIT sqlc.arg(page_limit);

-- name: InsertCPOLocation :exec
INSERT INTO cpo_location (id, location_id, location_key, external_reference, country_code, party_id, doc,
    deactivated_at, last_updated, external_updated_at, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12);

-- name: UpdateCPOLocation :exec
UPDATE cpo_location SET external_reference = $2, doc = $3, deactivated_at = $4, last_updated = $5,
    external_updated_at = $6, updated_at = $7
WHERE id = $1;

-- name: TouchCPOEVSEsOfLocation :exec
-- The location's deactivation changed what every EVSE of it publishes
-- (status REMOVED, or its own status again): their last_updated follows, so
-- that a partner pulling with date_from sees them.
UPDATE cpo_evse SET last_updated = greatest(last_updated, sqlc.arg(last_updated)::timestamptz) WHERE location_uuid = $1;

-- name: TouchCPOLocation :exec
-- An EVSE or connector changed: the location's last_updated follows
-- (mod_locations, Location.last_updated).
UPDATE cpo_location SET last_updated = greatest(last_updated, sqlc.arg(last_updated)::timestamptz) WHERE id = $1;

-- name: CountOCPILocations :one
SELECT count(*) FROM cpo_location
WHERE country_code = $1 AND party_id = $2
  AND (sqlc.narg(date_from)::timestamptz IS NULL OR last_updated >= sqlc.narg(date_from))
  AND (sqlc.narg(date_to)::timestamptz IS NULL OR last_updated < sqlc.narg(date_to));

-- name: PageOCPILocations :many
SELECT * FROM cpo_location
WHERE country_code = $1 AND party_id = $2
  AND (sqlc.narg(date_from)::timestamptz IS NULL OR last_updated >= sqlc.narg(date_from))
  AND (sqlc.narg(date_to)::timestamptz IS NULL OR last_updated < sqlc.narg(date_to))
ORDER BY last_updated, id
OFFSET sqlc.arg(page_offset) LIMIT sqlc.arg(page_limit);

-- name: EVSEsOfLocations :many
SELECT * FROM cpo_evse WHERE location_uuid = ANY(sqlc.arg(location_uuids)::uuid[]) ORDER BY location_uuid, id;

-- name: GetCPOEVSE :one
SELECT * FROM cpo_evse WHERE id = $1;

-- name: GetCPOEVSEByKey :one
SELECT * FROM cpo_evse WHERE evse_key = $1;

-- name: LockCPOEVSEByKey :one
SELECT * FROM cpo_evse WHERE evse_key = $1 FOR UPDATE;

-- name: GetCPOEVSEByRef :one
SELECT * FROM cpo_evse WHERE external_reference = $1;

-- name: LockCPOEVSEByRef :one
SELECT * FROM cpo_evse WHERE external_reference = $1 FOR UPDATE;

-- name: ListCPOEVSEs :many
SELECT * FROM cpo_evse
WHERE id > sqlc.arg(after)::uuid
  AND (sqlc.narg(location_key)::text IS NULL OR upper(location_id) = sqlc.narg(location_key))
  AND (sqlc.narg(status)::text IS NULL OR status = sqlc.narg(status))
  AND (sqlc.narg(evse_id)::text IS NULL OR evse_id = sqlc.narg(evse_id))
  AND (sqlc.narg(external_reference)::text IS NULL OR external_reference = sqlc.narg(external_reference))
ORDER BY id
LIMIT sqlc.arg(page_limit);

-- name: InsertCPOEVSE :exec
INSERT INTO cpo_evse (id, evse_uid, evse_key, location_uuid, location_id, external_reference, evse_id, status,
    status_updated_at, doc, reimbursement_mandatory, dropout_all_chargesessions, last_updated, external_updated_at,
    created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16);

-- name: UpdateCPOEVSE :exec
UPDATE cpo_evse SET external_reference = $2, evse_id = $3, status = $4, status_updated_at = $5, doc = $6,
    reimbursement_mandatory = $7, dropout_all_chargesessions = $8, last_updated = $9,
    external_updated_at = $10, updated_at = $11
WHERE id = $1;

-- name: InsertDropoutReprocessRequest :exec
INSERT INTO cpo_dropout_reprocess_request (id, evse_id, evse_uid, requested_at) VALUES ($1, $2, $3, $4);

-- name: OpenDropoutReprocessRequests :many
SELECT * FROM cpo_dropout_reprocess_request WHERE consumed_at IS NULL ORDER BY requested_at LIMIT $1;

-- name: ConsumeDropoutReprocessRequest :exec
UPDATE cpo_dropout_reprocess_request SET consumed_at = $2 WHERE id = $1 AND consumed_at IS NULL;
