-- name: GetCustomer :one
SELECT * FROM party WHERE id = $1 AND role = 'customer';

-- name: GetCustomerByRef :one
SELECT * FROM party WHERE external_reference = $1 AND role = 'customer';

-- name: LockCustomer :one
SELECT * FROM party WHERE id = $1 AND role = 'customer' FOR UPDATE;

-- name: ListCustomers :many
SELECT * FROM party
WHERE role = 'customer'
  AND (sqlc.arg(all_admins)::bool OR administration_id = ANY(sqlc.arg(admin_ids)::uuid[]))
  AND id > sqlc.arg(after)::uuid
  AND (sqlc.narg(administration_id)::uuid IS NULL OR administration_id = sqlc.narg(administration_id))
  AND (sqlc.narg(country)::text IS NULL OR country = sqlc.narg(country))
  AND (sqlc.narg(entity_type)::text IS NULL OR entity_type = sqlc.narg(entity_type))
  AND (sqlc.narg(external_reference)::text IS NULL OR external_reference = sqlc.narg(external_reference))
  AND (sqlc.narg(created_gte)::timestamptz IS NULL OR created_at >= sqlc.narg(created_gte))
  AND (sqlc.narg(created_lt)::timestamptz IS NULL OR created_at < sqlc.narg(created_lt))
ORDER BY id
LIMIT sqlc.arg(page_limit);

-- name: InsertCustomer :exec
INSERT INTO party (id, role, administration_id, external_reference, name, country, entity_type, company_reg_num,
    vat_number, billing_email, billing_phone, locale_id, reimbursement_vat, withhold_billing,
    external_updated_at, created_at, updated_at)
VALUES ($1, 'customer', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16);

-- name: UpdateCustomer :exec
UPDATE party SET external_reference = $2, name = $3, country = $4, entity_type = $5, company_reg_num = $6,
    vat_number = $7, billing_email = $8, billing_phone = $9, locale_id = $10, reimbursement_vat = $11,
    withhold_billing = $12, external_updated_at = $13, updated_at = $14
WHERE id = $1 AND role = 'customer';

-- name: GetBillingAddress :one
SELECT b.*, p.administration_id FROM billing_address b JOIN party p ON p.id = b.party_id WHERE b.id = $1;

-- name: GetBillingAddressByRef :one
SELECT b.*, p.administration_id FROM billing_address b JOIN party p ON p.id = b.party_id WHERE b.external_reference = $1;

-- name: LockBillingAddress :one
SELECT b.*, p.administration_id FROM billing_address b JOIN party p ON p.id = b.party_id WHERE b.id = $1 FOR UPDATE OF b;

-- name: ListBillingAddresses :many
SELECT b.*, p.administration_id FROM billing_address b JOIN party p ON p.id = b.party_id
WHERE (sqlc.arg(all_admins)::bool OR p.administration_id = ANY(sqlc.arg(admin_ids)::uuid[]))
  AND b.id > sqlc.arg(after)::uuid
  AND (sqlc.narg(party_id)::uuid IS NULL OR b.party_id = sqlc.narg(party_id))
  AND (sqlc.narg(external_reference)::text IS NULL OR b.external_reference = sqlc.narg(external_reference))
  AND (sqlc.narg(valid_at)::timestamptz IS NULL OR tstzrange(b.valid_from, b.valid_until, '[)') @> sqlc.narg(valid_at)::timestamptz)
ORDER BY b.id
LIMIT sqlc.arg(page_limit);

-- name: InsertBillingAddress :exec
INSERT INTO billing_address (id, party_id, external_reference, addressee, address_line1, address_line2, postal_code,
    locality, region, country, valid_from, valid_until, external_updated_at, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15);

-- name: UpdateBillingAddress :exec
UPDATE billing_address SET external_reference = $2, addressee = $3, address_line1 = $4, address_line2 = $5,
    postal_code = $6, locality = $7, region = $8, country = $9, valid_from = $10, valid_until = $11,
    external_updated_at = $12, updated_at = $13
WHERE id = $1;

-- name: LockCustomerByRef :one
SELECT * FROM party WHERE external_reference = $1 AND role = 'customer' FOR UPDATE;

-- name: LockBillingAddressByRef :one
SELECT b.*, p.administration_id FROM billing_address b JOIN party p ON p.id = b.party_id WHERE b.external_reference = $1 FOR UPDATE OF b;
