-- ---- msp_token (Admin API)

-- name: GetMSPToken :one
SELECT * FROM msp_token WHERE id = $1;

-- name: GetMSPTokenByRef :one
SELECT * FROM msp_token WHERE external_reference = $1;

-- name: LockMSPToken :one
SELECT * FROM msp_token WHERE id = $1 FOR UPDATE;

-- name: LockMSPTokenByRef :one
SELECT * FROM msp_token WHERE external_reference = $1 FOR UPDATE;

-- name: ListMSPTokens :many
SELECT * FROM msp_token
WHERE (sqlc.arg(all_admins)::bool OR administration_id = ANY(sqlc.arg(admin_ids)::uuid[]))
  AND id > sqlc.arg(after)::uuid
  AND (sqlc.narg(administration_id)::uuid IS NULL OR administration_id = sqlc.narg(administration_id))
  AND (sqlc.narg(evco_id)::text IS NULL OR evco_id = sqlc.narg(evco_id))
  AND (sqlc.narg(uid_key)::text IS NULL OR uid_key = sqlc.narg(uid_key))
  AND (sqlc.narg(type)::text IS NULL OR type = sqlc.narg(type))
  AND (sqlc.narg(external_reference)::text IS NULL OR external_reference = sqlc.narg(external_reference))
ORDER BY id
LIMIT sqlc.arg(page_limit);

-- name: InsertMSPToken :exec
INSERT INTO msp_token (id, administration_id, external_reference, evco_id, country_code, party_id, uid, uid_key, type,
    form_factor, brand, issuer, visual_number, group_id, language, whitelist, external_updated_at, created_at, updated_at,
    default_profile_type, energy_contract_supplier_name, energy_contract_contract_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22);

-- name: UpdateMSPToken :exec
UPDATE msp_token SET external_reference = $2, evco_id = $3, country_code = $4, party_id = $5, uid = $6, uid_key = $7,
    type = $8, form_factor = $9, brand = $10, issuer = $11, visual_number = $12, group_id = $13, language = $14,
    whitelist = $15, external_updated_at = $16, updated_at = $17, default_profile_type = $18,
    energy_contract_supplier_name = $19, energy_contract_contract_id = $20
WHERE id = $1;

-- ---- msp_token_subscription_plan

-- name: GetMSPTokenSubscriptionPlan :one
SELECT * FROM msp_token_subscription_plan WHERE id = $1;

-- name: GetMSPTokenSubscriptionPlanByRef :one
SELECT * FROM msp_token_subscription_plan WHERE external_reference = $1;

-- name: LockMSPTokenSubscriptionPlan :one
SELECT * FROM msp_token_subscription_plan WHERE id = $1 FOR UPDATE;

-- name: LockMSPTokenSubscriptionPlanByRef :one
SELECT * FROM msp_token_subscription_plan WHERE external_reference = $1 FOR UPDATE;

-- name: ListMSPTokenSubscriptionPlans :many
SELECT * FROM msp_token_subscription_plan
WHERE (sqlc.arg(all_admins)::bool OR administration_id = ANY(sqlc.arg(admin_ids)::uuid[]))
  AND id > sqlc.arg(after)::uuid
  AND (sqlc.narg(administration_id)::uuid IS NULL OR administration_id = sqlc.narg(administration_id))
  AND (sqlc.narg(external_reference)::text IS NULL OR external_reference = sqlc.narg(external_reference))
ORDER BY id
LIMIT sqlc.arg(page_limit);

-- name: InsertMSPTokenSubscriptionPlan :exec
INSERT INTO msp_token_subscription_plan (id, administration_id, external_reference, name, description, rate_plan_id,
    publish_from, publish_until, external_updated_at, created_at, updated_at, use_customer_reimbursement_vat)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12);

-- name: UpdateMSPTokenSubscriptionPlan :exec
UPDATE msp_token_subscription_plan SET external_reference = $2, name = $3, description = $4, rate_plan_id = $5,
    publish_from = $6, publish_until = $7, external_updated_at = $8, updated_at = $9, use_customer_reimbursement_vat = $10
WHERE id = $1;

-- ---- msp_token_subscription

-- name: GetMSPTokenSubscription :one
SELECT * FROM msp_token_subscription WHERE id = $1;

-- name: GetMSPTokenSubscriptionByRef :one
SELECT * FROM msp_token_subscription WHERE external_reference = $1;

-- name: LockMSPTokenSubscription :one
SELECT * FROM msp_token_subscription WHERE id = $1 FOR UPDATE;

-- name: LockMSPTokenSubscriptionByRef :one
SELECT * FROM msp_token_subscription WHERE external_reference = $1 FOR UPDATE;

-- name: ListMSPTokenSubscriptions :many
SELECT * FROM msp_token_subscription
WHERE (sqlc.arg(all_admins)::bool OR administration_id = ANY(sqlc.arg(admin_ids)::uuid[]))
  AND id > sqlc.arg(after)::uuid
  AND (sqlc.narg(administration_id)::uuid IS NULL OR administration_id = sqlc.narg(administration_id))
  AND (sqlc.narg(customer_id)::uuid IS NULL OR customer_id = sqlc.narg(customer_id))
  AND (sqlc.narg(plan_id)::uuid IS NULL OR plan_id = sqlc.narg(plan_id))
  AND (sqlc.narg(external_reference)::text IS NULL OR external_reference = sqlc.narg(external_reference))
  AND (sqlc.narg(defunct)::bool IS NULL OR defunct = sqlc.narg(defunct))
  AND (sqlc.narg(valid_at)::timestamptz IS NULL OR tstzrange(valid_from, valid_until, '[)') @> sqlc.narg(valid_at)::timestamptz)
ORDER BY id
LIMIT sqlc.arg(page_limit);

-- name: InsertMSPTokenSubscription :exec
INSERT INTO msp_token_subscription (id, administration_id, external_reference, customer_id, plan_id, buyer_reference,
    valid_from, valid_until, defunct, external_updated_at, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12);

-- name: UpdateMSPTokenSubscription :exec
UPDATE msp_token_subscription SET external_reference = $2, buyer_reference = $3, valid_from = $4, valid_until = $5,
    defunct = $6, external_updated_at = $7, updated_at = $8
WHERE id = $1;

-- name: DefunctMSPTokenLinksOfSubscription :many
-- Marks the live links of a subscription defunct (guide changelog v3.27.0:
-- marking a subscription defunct also marks its token links defunct).
UPDATE msp_token_link SET defunct = true, updated_at = sqlc.arg(updated_at)
WHERE subscription_id = sqlc.arg(subscription_id) AND NOT defunct
RETURNING *;

-- ---- msp_token_link (scoped by its subscription's administration)

-- name: GetMSPTokenLink :one
SELECT l.*, s.administration_id FROM msp_token_link l JOIN msp_token_subscription s ON s.id = l.subscription_id WHERE l.id = $1;

-- name: GetMSPTokenLinkByRef :one
SELECT l.*, s.administration_id FROM msp_token_link l JOIN msp_token_subscription s ON s.id = l.subscription_id WHERE l.external_reference = $1;

-- name: LockMSPTokenLink :one
SELECT l.*, s.administration_id FROM msp_token_link l JOIN msp_token_subscription s ON s.id = l.subscription_id WHERE l.id = $1 FOR UPDATE OF l;

-- name: LockMSPTokenLinkByRef :one
SELECT l.*, s.administration_id FROM msp_token_link l JOIN msp_token_subscription s ON s.id = l.subscription_id WHERE l.external_reference = $1 FOR UPDATE OF l;

-- name: ListMSPTokenLinks :many
SELECT l.*, s.administration_id FROM msp_token_link l JOIN msp_token_subscription s ON s.id = l.subscription_id
WHERE (sqlc.arg(all_admins)::bool OR s.administration_id = ANY(sqlc.arg(admin_ids)::uuid[]))
  AND l.id > sqlc.arg(after)::uuid
  AND (sqlc.narg(token_id)::uuid IS NULL OR l.token_id = sqlc.narg(token_id))
  AND (sqlc.narg(subscription_id)::uuid IS NULL OR l.subscription_id = sqlc.narg(subscription_id))
  AND (sqlc.narg(external_reference)::text IS NULL OR l.external_reference = sqlc.narg(external_reference))
  AND (sqlc.narg(defunct)::bool IS NULL OR l.defunct = sqlc.narg(defunct))
  AND (sqlc.narg(valid_at)::timestamptz IS NULL OR tstzrange(l.valid_from, l.valid_until, '[)') @> sqlc.narg(valid_at)::timestamptz)
ORDER BY l.id
LIMIT sqlc.arg(page_limit);

-- name: InsertMSPTokenLink :exec
INSERT INTO msp_token_link (id, external_reference, token_id, subscription_id, valid_from, valid_until, defunct,
    external_updated_at, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10);

-- name: UpdateMSPTokenLink :exec
UPDATE msp_token_link SET external_reference = $2, valid_from = $3, valid_until = $4, defunct = $5,
    external_updated_at = $6, updated_at = $7
WHERE id = $1;

-- ---- issued tokens (OCPI Tokens sender, real-time authorization, push)

-- name: IssuedTokenByUID :many
-- The hot path of real-time authorization: one indexed lookup of the token
-- by (uid_key, type) with every link and its subscription, one row per
-- link (one row with NULL link columns when the token has none).
SELECT t.id, t.country_code, t.party_id, t.uid, t.type, t.evco_id, t.issuer, t.visual_number, t.group_id, t.language,
    t.whitelist, t.updated_at,
    l.id AS link_id, l.valid_from AS link_valid_from, l.valid_until AS link_valid_until, l.defunct AS link_defunct,
    l.updated_at AS link_updated_at,
    s.id AS sub_id, s.valid_from AS sub_valid_from, s.valid_until AS sub_valid_until, s.defunct AS sub_defunct,
    s.updated_at AS sub_updated_at, t.administration_id, s.plan_id AS sub_plan_id,
    t.default_profile_type, t.energy_contract_supplier_name, t.energy_contract_contract_id
FROM msp_token t
LEFT JOIN msp_token_link l ON l.token_id = t.id
LEFT JOIN msp_token_subscription s ON s.id = l.subscription_id
WHERE t.uid_key = $1 AND t.type = $2;

-- name: IssuedTokensByID :many
SELECT t.id, t.country_code, t.party_id, t.uid, t.type, t.evco_id, t.issuer, t.visual_number, t.group_id, t.language,
    t.whitelist, t.updated_at,
    l.id AS link_id, l.valid_from AS link_valid_from, l.valid_until AS link_valid_until, l.defunct AS link_defunct,
    l.updated_at AS link_updated_at,
    s.id AS sub_id, s.valid_from AS sub_valid_from, s.valid_until AS sub_valid_until, s.defunct AS sub_defunct,
    s.updated_at AS sub_updated_at, t.administration_id, s.plan_id AS sub_plan_id,
    t.default_profile_type, t.energy_contract_supplier_name, t.energy_contract_contract_id
FROM msp_token t
LEFT JOIN msp_token_link l ON l.token_id = t.id
LEFT JOIN msp_token_subscription s ON s.id = l.subscription_id
WHERE t.id = ANY(sqlc.arg(ids)::uuid[])
ORDER BY t.id;

-- name: ListIssuedTokenIDs :many
-- One page of the Tokens sender: tokens whose OCPI last_updated at @at
-- (token.Issued.State, with the rules' changes of msp_token_rule_state) is in [date_from, date_to), oldest first, with the
-- number of matching tokens. Optionally only the tokens of one party.
WITH lu AS (
    SELECT t.id, GREATEST(t.updated_at, max(rs.changed_at), max(msp_token_link_changed(l.updated_at, l.valid_from, l.valid_until,
        l.defunct, s.updated_at, s.valid_from, s.valid_until, s.defunct, sqlc.arg(at)::timestamptz)))::timestamptz AS last_updated
    FROM msp_token t
    LEFT JOIN msp_token_rule_state rs ON rs.token_id = t.id
    LEFT JOIN msp_token_link l ON l.token_id = t.id
    LEFT JOIN msp_token_subscription s ON s.id = l.subscription_id
    WHERE (sqlc.narg(country_code)::text IS NULL OR (t.country_code = sqlc.narg(country_code) AND t.party_id = sqlc.narg(party_id)::text))
    GROUP BY t.id
)
SELECT id, last_updated, count(*) OVER () AS total
FROM lu
WHERE (sqlc.narg(date_from)::timestamptz IS NULL OR last_updated >= sqlc.narg(date_from))
  AND (sqlc.narg(date_to)::timestamptz IS NULL OR last_updated < sqlc.narg(date_to))
ORDER BY last_updated, id
OFFSET sqlc.arg(page_offset) LIMIT sqlc.arg(page_limit);

-- name: GetMSPTokenAuthorization :one
SELECT * FROM msp_token_authorization WHERE id = $1;
