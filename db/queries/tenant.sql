-- name: GetSeller :one
SELECT * FROM seller WHERE id = $1;

-- name: GetSellerByRef :one
SELECT * FROM seller WHERE external_reference = $1;

-- name: LockSeller :one
SELECT * FROM seller WHERE id = $1 FOR UPDATE;

-- name: ListSellers :many
SELECT * FROM seller
WHERE id > sqlc.arg(after)::uuid
  AND (sqlc.narg(country)::text IS NULL OR country = sqlc.narg(country))
  AND (sqlc.narg(external_reference)::text IS NULL OR external_reference = sqlc.narg(external_reference))
ORDER BY id
LIMIT sqlc.arg(page_limit);

-- name: InsertSeller :exec
INSERT INTO seller (id, external_reference, name, country, vat_number, external_updated_at, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8);

-- name: UpdateSeller :exec
UPDATE seller SET external_reference = $2, name = $3, country = $4, vat_number = $5,
    external_updated_at = $6, updated_at = $7
WHERE id = $1;

-- name: GetAdministration :one
SELECT * FROM administration WHERE id = $1;

-- name: GetAdministrationByRef :one
SELECT * FROM administration WHERE external_reference = $1;

-- name: LockAdministration :one
SELECT * FROM administration WHERE id = $1 FOR UPDATE;

-- name: ListAdministrations :many
SELECT * FROM administration
WHERE (sqlc.arg(all_admins)::bool OR id = ANY(sqlc.arg(admin_ids)::uuid[]))
  AND id > sqlc.arg(after)::uuid
  AND (sqlc.narg(seller_id)::uuid IS NULL OR seller_id = sqlc.narg(seller_id))
  AND (sqlc.narg(currency)::text IS NULL OR currency = sqlc.narg(currency))
  AND (sqlc.narg(external_reference)::text IS NULL OR external_reference = sqlc.narg(external_reference))
ORDER BY id
LIMIT sqlc.arg(page_limit);

-- name: InsertAdministration :exec
INSERT INTO administration (id, external_reference, seller_id, name, currency, locale_id, min_invoice_amount,
    external_updated_at, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10);

-- name: UpdateAdministration :exec
UPDATE administration SET external_reference = $2, name = $3, locale_id = $4, min_invoice_amount = $5,
    external_updated_at = $6, updated_at = $7
WHERE id = $1;

-- name: LockSellerByRef :one
SELECT * FROM seller WHERE external_reference = $1 FOR UPDATE;

-- name: LockAdministrationByRef :one
SELECT * FROM administration WHERE external_reference = $1 FOR UPDATE;
