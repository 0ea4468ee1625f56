-- VAT configuration (migration 00014): VAT rates, VAT rules, sellers' VAT
-- policies.

-- name: GetVATRate :one
SELECT * FROM vat_rate WHERE id = $1;

-- name: GetVATRateByRef :one
SELECT * FROM vat_rate WHERE external_reference = $1;

-- name: LockVATRate :one
SELECT * FROM vat_rate WHERE id = $1 FOR UPDATE;

-- name: LockVATRateByRef :one
SELECT * FROM vat_rate WHERE external_reference = $1 FOR UPDATE;

-- name: ListVATRates :many
SELECT * FROM vat_rate
WHERE id > sqlc.arg(after)::uuid
  AND (sqlc.narg(country)::text IS NULL OR country = sqlc.narg(country))
  AND (sqlc.narg(kind)::text IS NULL OR kind = sqlc.narg(kind))
  AND (sqlc.narg(external_reference)::text IS NULL OR external_reference = sqlc.narg(external_reference))
  AND (sqlc.narg(valid_at)::timestamptz IS NULL OR tstzrange(valid_from, valid_until, '[)') @> sqlc.narg(valid_at)::timestamptz)
ORDER BY id
LIMIT sqlc.arg(page_limit);

-- name: AllVATRates :many
SELECT * FROM vat_rate ORDER BY id;

-- name: InsertVATRate :exec
INSERT INTO vat_rate (id, external_reference, country, kind, percentage, valid_from, valid_until,
    external_updated_at, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10);

-- name: UpdateVATRate :exec
UPDATE vat_rate SET external_reference = $2, country = $3, kind = $4, percentage = $5, valid_from = $6,
    valid_until = $7, external_updated_at = $8, updated_at = $9
WHERE id = $1;

-- name: GetVATRule :one
SELECT * FROM vat_rule WHERE id = $1;

-- name: GetVATRuleByRef :one
SELECT * FROM vat_rule WHERE external_reference = $1;

-- name: LockVATRule :one
SELECT * FROM vat_rule WHERE id = $1 FOR UPDATE;

-- name: LockVATRuleByRef :one
SELECT * FROM vat_rule WHERE external_reference = $1 FOR UPDATE;

-- name: ListVATRules :many
SELECT * FROM vat_rule
WHERE id > sqlc.arg(after)::uuid
  AND (sqlc.narg(product_category)::text IS NULL OR product_category = sqlc.narg(product_category))
  AND (sqlc.narg(country)::text IS NULL OR country = sqlc.narg(country))
  AND (sqlc.narg(kind)::text IS NULL OR kind = sqlc.narg(kind))
  AND (sqlc.narg(external_reference)::text IS NULL OR external_reference = sqlc.narg(external_reference))
  AND (sqlc.narg(valid_at)::timestamptz IS NULL OR tstzrange(valid_from, valid_until, '[)') @> sqlc.narg(valid_at)::timestamptz)
ORDER BY id
LIMIT sqlc.arg(page_limit);

-- name: AllVATRules :many
SELECT * FROM vat_rule ORDER BY id;

-- name: InsertVATRule :exec
INSERT INTO vat_rule (id, external_reference, product_category, country, indicators, criteria_key, kind,
    valid_from, valid_until, external_updated_at, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12);

-- name: UpdateVATRule :exec
UPDATE vat_rule SET external_reference = $2, product_category = $3, country = $4, indicators = $5,
    criteria_key = $6, kind = $7, valid_from = $8, valid_until = $9, external_updated_at = $10, updated_at = $11
WHERE id = $1;

-- name: GetSellerVATPolicy :one
SELECT * FROM seller_vat_policy WHERE seller_id = $1;

-- name: UpsertSellerVATPolicy :exec
INSERT INTO seller_vat_policy (seller_id, fallback, eu_reverse_charge, country_policies, external_updated_at,
    created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (seller_id) DO UPDATE SET fallback = EXCLUDED.fallback, eu_reverse_charge = EXCLUDED.eu_reverse_charge,
    country_policies = EXCLUDED.country_policies, external_updated_at = EXCLUDED.external_updated_at,
    updated_at = EXCLUDED.updated_at;

-- name: SellerOfAdministration :one
SELECT seller_id FROM administration WHERE id = $1;
