-- name: GetAPIAccount :one
SELECT * FROM api_account WHERE id = $1;

-- name: GetAPIAccountByRef :one
SELECT * FROM api_account WHERE external_reference = $1;

-- name: GetAPIAccountByPublicID :one
SELECT * FROM api_account WHERE public_id = $1;

-- name: LockAPIAccount :one
SELECT * FROM api_account WHERE id = $1 FOR UPDATE;

-- name: ListAPIAccounts :many
SELECT * FROM api_account
WHERE id > sqlc.arg(after)::uuid
  AND (sqlc.narg(external_reference)::text IS NULL OR external_reference = sqlc.narg(external_reference))
ORDER BY id
LIMIT sqlc.arg(page_limit);

-- name: InsertAPIAccount :exec
INSERT INTO api_account (id, external_reference, public_id, name, secret_hash, permissions, all_administrations,
    administration_ids, rate_limit_rps, rate_limit_burst, disabled, external_updated_at, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14);

-- name: UpdateAPIAccount :exec
UPDATE api_account SET external_reference = $2, name = $3, secret_hash = $4, permissions = $5,
    all_administrations = $6, administration_ids = $7, rate_limit_rps = $8, rate_limit_burst = $9,
    disabled = $10, external_updated_at = $11, updated_at = $12
WHERE id = $1;

-- name: UpsertBootstrapAccount :exec
INSERT INTO api_account (id, public_id, name, secret_hash, permissions, all_administrations, created_at, updated_at)
VALUES ($1, $2, 'bootstrap administrator', $3, '{*}', true, $4, $4)
ON CONFLICT (public_id) DO UPDATE SET secret_hash = EXCLUDED.secret_hash, permissions = '{*}',
    all_administrations = true, disabled = false, updated_at = EXCLUDED.updated_at;

-- name: LockAPIAccountByRef :one
SELECT * FROM api_account WHERE external_reference = $1 FOR UPDATE;
