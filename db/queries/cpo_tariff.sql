-- name: GetCPOTariffByKey :one
SELECT * FROM cpo_tariff WHERE tariff_key = $1;

-- name: LockCPOTariffByKey :one
SELECT * FROM cpo_tariff WHERE tariff_key = $1 FOR UPDATE;

-- name: GetCPOTariffByRef :one
SELECT * FROM cpo_tariff WHERE external_reference = $1;

-- name: LockCPOTariffByRef :one
SELECT * FROM cpo_tariff WHERE external_reference = $1 FOR UPDATE;

-- name: ListCPOTariffs :many
SELECT * FROM cpo_tariff
WHERE id > sqlc.arg(after)::uuid
  AND (sqlc.narg(country_code)::text IS NULL OR country_code = sqlc.narg(country_code))
  AND (sqlc.narg(party_id)::text IS NULL OR party_id = sqlc.narg(party_id))
  AND (sqlc.narg(currency)::text IS NULL OR currency = sqlc.narg(currency))
  AND (sqlc.narg(external_reference)::text IS NULL OR external_reference = sqlc.narg(external_reference))
ORDER BY id
LIMIT sqlc.arg(page_limit);

-- name: InsertCPOTariff :exec
INSERT INTO cpo_tariff (id, tariff_id, tariff_key, external_reference, country_code, party_id, currency, doc,
    last_updated, external_updated_at, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12);

-- name: UpdateCPOTariff :exec
UPDATE cpo_tariff SET external_reference = $2, currency = $3, doc = $4, last_updated = $5,
    external_updated_at = $6, updated_at = $7
WHERE id = $1;

-- name: CountOCPITariffs :one
SELECT count(*) FROM cpo_tariff
WHERE country_code = $1 AND party_id = $2
  AND (sqlc.narg(date_from)::timestamptz IS NULL OR last_updated >= sqlc.narg(date_from))
  AND (sqlc.narg(date_to)::timestamptz IS NULL OR last_updated < sqlc.narg(date_to));

-- name: PageOCPITariffs :many
SELECT * FROM cpo_tariff
WHERE country_code = $1 AND party_id = $2
  AND (sqlc.narg(date_from)::timestamptz IS NULL OR last_updated >= sqlc.narg(date_from))
  AND (sqlc.narg(date_to)::timestamptz IS NULL OR last_updated < sqlc.narg(date_to))
ORDER BY last_updated, id
OFFSET sqlc.arg(page_offset) LIMIT sqlc.arg(page_limit);

-- name: ConnectorsUsingTariff :many
-- Our connectors whose tariff_ids name the tariff (CiString: compared in
-- upper case), up to lim, for refusing the tariff's deletion.
SELECT e.evse_uid, (c.value->>'id')::text AS connector_id
FROM cpo_evse e, jsonb_array_elements(coalesce(e.doc->'connectors', '[]'::jsonb)) c
WHERE EXISTS (SELECT 1 FROM jsonb_array_elements_text(coalesce(c.value->'tariff_ids', '[]'::jsonb)) t WHERE upper(t.value) = @tariff_key::text)
ORDER BY e.evse_key, connector_id
LIMIT @lim;

-- name: DeleteCPOTariff :execrows
DELETE FROM cpo_tariff WHERE id = $1;
