-- Charge authorization rules of the MSP (domain/authrule) and their
-- version (migration 00020).

-- name: GetChargeAuthorizationRule :one
SELECT * FROM msp_charge_authorization_rule WHERE id = $1;

-- name: GetChargeAuthorizationRuleByRef :one
SELECT * FROM msp_charge_authorization_rule WHERE external_reference = $1;

-- name: LockChargeAuthorizationRule :one
SELECT * FROM msp_charge_authorization_rule WHERE id = $1 FOR UPDATE;

-- name: LockChargeAuthorizationRuleByRef :one
SELECT * FROM msp_charge_authorization_rule WHERE external_reference = $1 FOR UPDATE;

-- name: ListChargeAuthorizationRules :many
SELECT * FROM msp_charge_authorization_rule
WHERE (sqlc.arg(all_admins)::bool OR administration_id = ANY(sqlc.arg(admin_ids)::uuid[]))
  AND id > sqlc.arg(after)::uuid
  AND (sqlc.narg(administration_id)::uuid IS NULL OR administration_id = sqlc.narg(administration_id))
  AND (sqlc.narg(plan_id)::uuid IS NULL OR plan_id = sqlc.narg(plan_id))
  AND (sqlc.narg(subscription_id)::uuid IS NULL OR subscription_id = sqlc.narg(subscription_id))
  AND (sqlc.narg(effect)::text IS NULL OR effect = sqlc.narg(effect))
  AND (sqlc.narg(external_reference)::text IS NULL OR external_reference = sqlc.narg(external_reference))
  AND (sqlc.narg(valid_at)::timestamptz IS NULL OR tstzrange(valid_from, valid_until, '[)') @> sqlc.narg(valid_at)::timestamptz)
ORDER BY id
LIMIT sqlc.arg(page_limit);

-- name: InsertChargeAuthorizationRule :exec
INSERT INTO msp_charge_authorization_rule (id, administration_id, external_reference, name, description, plan_id, subscription_id,
    effect, valid_from, valid_until, cpo_country_codes, cpo_parties, location_ids, evse_uids, days_of_week, start_time, end_time,
    time_zone, external_updated_at, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21);

-- name: UpdateChargeAuthorizationRule :exec
UPDATE msp_charge_authorization_rule SET external_reference = $2, name = $3, description = $4, effect = $5, valid_from = $6,
    valid_until = $7, cpo_country_codes = $8, cpo_parties = $9, location_ids = $10, evse_uids = $11, days_of_week = $12,
    start_time = $13, end_time = $14, time_zone = $15, external_updated_at = $16, updated_at = $17
WHERE id = $1;

-- name: ChargeAuthorizationRuleVersion :one
SELECT version FROM msp_charge_authorization_rule_version;

-- name: AllChargeAuthorizationRules :many
-- Every rule that is not over yet, for the node-local compiled rule set.
SELECT * FROM msp_charge_authorization_rule
WHERE valid_until IS NULL OR valid_until > @now::timestamptz
ORDER BY administration_id, id;

-- name: PartnerLocationTimeZone :one
-- The IANA time zone of a partner's location (a rule's local-time window).
SELECT time_zone FROM partner_location
WHERE country_code = @country_code AND party_id = @party_id AND location_key = @location_key;
