-- CPO reimbursements (migration 00016): plans, arrangements, calculation
-- inputs, EVSE links, the pricer's lookups and the read model.

-- name: GetReimbursementPlan :one
SELECT * FROM cpo_reimbursement_plan WHERE id = $1;

-- name: GetReimbursementPlanByRef :one
SELECT * FROM cpo_reimbursement_plan WHERE external_reference = $1;

-- name: LockReimbursementPlan :one
SELECT * FROM cpo_reimbursement_plan WHERE id = $1 FOR UPDATE;

-- name: LockReimbursementPlanByRef :one
SELECT * FROM cpo_reimbursement_plan WHERE external_reference = $1 FOR UPDATE;

-- name: ListReimbursementPlans :many
SELECT * FROM cpo_reimbursement_plan
WHERE (sqlc.arg(all_admins)::bool OR administration_id = ANY(sqlc.arg(admin_ids)::uuid[]))
  AND id > sqlc.arg(after)::uuid
  AND (sqlc.narg(administration_id)::uuid IS NULL OR administration_id = sqlc.narg(administration_id))
  AND (sqlc.narg(external_reference)::text IS NULL OR external_reference = sqlc.narg(external_reference))
ORDER BY id
LIMIT sqlc.arg(page_limit);

-- name: InsertReimbursementPlan :exec
INSERT INTO cpo_reimbursement_plan (id, external_reference, administration_id, name, calculation, cost_components,
    external_updated_at, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9);

-- name: UpdateReimbursementPlan :exec
UPDATE cpo_reimbursement_plan SET external_reference = $2, name = $3, calculation = $4, cost_components = $5,
    external_updated_at = $6, updated_at = $7
WHERE id = $1;

-- name: TouchReimbursementPlan :exec
UPDATE cpo_reimbursement_plan SET updated_at = $2 WHERE id = $1;

-- name: GetReimbursementArrangement :one
SELECT * FROM cpo_reimbursement_arrangement WHERE id = $1;

-- name: GetReimbursementArrangementByRef :one
SELECT * FROM cpo_reimbursement_arrangement WHERE external_reference = $1;

-- name: LockReimbursementArrangement :one
SELECT * FROM cpo_reimbursement_arrangement WHERE id = $1 FOR UPDATE;

-- name: LockReimbursementArrangementByRef :one
SELECT * FROM cpo_reimbursement_arrangement WHERE external_reference = $1 FOR UPDATE;

-- name: ListReimbursementArrangements :many
SELECT * FROM cpo_reimbursement_arrangement
WHERE (sqlc.arg(all_admins)::bool OR administration_id = ANY(sqlc.arg(admin_ids)::uuid[]))
  AND id > sqlc.arg(after)::uuid
  AND (sqlc.narg(customer_id)::uuid IS NULL OR customer_id = sqlc.narg(customer_id))
  AND (sqlc.narg(plan_id)::uuid IS NULL OR plan_id = sqlc.narg(plan_id))
  AND (sqlc.narg(external_reference)::text IS NULL OR external_reference = sqlc.narg(external_reference))
  AND (sqlc.narg(valid_at)::timestamptz IS NULL OR tstzrange(valid_from, valid_until, '[)') @> sqlc.narg(valid_at)::timestamptz)
ORDER BY id
LIMIT sqlc.arg(page_limit);

-- name: InsertReimbursementArrangement :exec
INSERT INTO cpo_reimbursement_arrangement (id, external_reference, administration_id, customer_id, plan_id,
    valid_from, valid_until, external_updated_at, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10);

-- name: UpdateReimbursementArrangement :exec
UPDATE cpo_reimbursement_arrangement SET external_reference = $2, plan_id = $3, valid_from = $4, valid_until = $5,
    external_updated_at = $6, updated_at = $7
WHERE id = $1;

-- name: TouchReimbursementArrangement :exec
UPDATE cpo_reimbursement_arrangement SET updated_at = $2 WHERE id = $1;

-- name: ReimbursementInputsOfPlan :many
SELECT * FROM cpo_reimbursement_calculation_input WHERE plan_id = $1 ORDER BY valid_from, component_type;

-- name: ReimbursementInputsOfArrangement :many
SELECT * FROM cpo_reimbursement_calculation_input WHERE arrangement_id = $1 ORDER BY valid_from, component_type;

-- name: UpsertReimbursementPlanInput :exec
INSERT INTO cpo_reimbursement_calculation_input (id, plan_id, component_type, valid_from, value, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $6)
ON CONFLICT (plan_id, component_type, valid_from) WHERE plan_id IS NOT NULL
DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at;

-- name: UpsertReimbursementArrangementInput :exec
INSERT INTO cpo_reimbursement_calculation_input (id, arrangement_id, component_type, valid_from, value, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $6)
ON CONFLICT (arrangement_id, component_type, valid_from) WHERE arrangement_id IS NOT NULL
DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at;

-- name: DeleteReimbursementPlanInput :execrows
DELETE FROM cpo_reimbursement_calculation_input WHERE plan_id = $1 AND component_type = $2 AND valid_from = $3;

-- name: DeleteReimbursementArrangementInput :execrows
DELETE FROM cpo_reimbursement_calculation_input WHERE arrangement_id = $1 AND component_type = $2 AND valid_from = $3;

-- name: GetReimbursementLink :one
SELECT l.*, a.administration_id, e.evse_uid FROM cpo_reimbursement_link l
JOIN cpo_reimbursement_arrangement a ON a.id = l.arrangement_id JOIN cpo_evse e ON e.id = l.evse_id
WHERE l.id = $1;

-- name: GetReimbursementLinkByRef :one
SELECT l.*, a.administration_id, e.evse_uid FROM cpo_reimbursement_link l
JOIN cpo_reimbursement_arrangement a ON a.id = l.arrangement_id JOIN cpo_evse e ON e.id = l.evse_id
WHERE l.external_reference = $1;

-- name: LockReimbursementLink :one
SELECT l.*, a.administration_id, e.evse_uid FROM cpo_reimbursement_link l
JOIN cpo_reimbursement_arrangement a ON a.id = l.arrangement_id JOIN cpo_evse e ON e.id = l.evse_id
WHERE l.id = $1 FOR UPDATE OF l;

-- name: LockReimbursementLinkByRef :one
SELECT l.*, a.administration_id, e.evse_uid FROM cpo_reimbursement_link l
JOIN cpo_reimbursement_arrangement a ON a.id = l.arrangement_id JOIN cpo_evse e ON e.id = l.evse_id
WHERE l.external_reference = $1 FOR UPDATE OF l;

-- name: ListReimbursementLinks :many
SELECT l.*, a.administration_id, e.evse_uid FROM cpo_reimbursement_link l
JOIN cpo_reimbursement_arrangement a ON a.id = l.arrangement_id JOIN cpo_evse e ON e.id = l.evse_id
WHERE (sqlc.arg(all_admins)::bool OR a.administration_id = ANY(sqlc.arg(admin_ids)::uuid[]))
  AND l.id > sqlc.arg(after)::uuid
  AND (sqlc.narg(arrangement_id)::uuid IS NULL OR l.arrangement_id = sqlc.narg(arrangement_id))
  AND (sqlc.narg(evse_key)::text IS NULL OR e.evse_key = sqlc.narg(evse_key))
  AND (sqlc.narg(external_reference)::text IS NULL OR l.external_reference = sqlc.narg(external_reference))
  AND (sqlc.narg(valid_at)::timestamptz IS NULL OR tstzrange(l.valid_from, l.valid_until, '[)') @> sqlc.narg(valid_at)::timestamptz)
ORDER BY l.id
LIMIT sqlc.arg(page_limit);

-- name: InsertReimbursementLink :exec
INSERT INTO cpo_reimbursement_link (id, external_reference, arrangement_id, evse_id, valid_from, valid_until,
    external_updated_at, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9);

-- name: UpdateReimbursementLink :exec
UPDATE cpo_reimbursement_link SET external_reference = $2, valid_from = $3, valid_until = $4,
    external_updated_at = $5, updated_at = $6
WHERE id = $1;

-- name: ReimbursementEVSE :one
SELECT id, evse_uid, reimbursement_mandatory FROM cpo_evse WHERE id = $1;

-- The arrangements that apply to a session at an EVSE: linked to it by a
-- link valid at the session start, and valid then themselves (guide:
-- "All reimbursement arrangements valid at the start of the charge session
-- will be applied"), with what pricing them needs.
-- name: ReimbursementArrangementsAt :many
SELECT a.id, a.administration_id, a.plan_id, a.valid_from, a.valid_until,
    p.calculation, p.cost_components, adm.currency, adm.seller_id,
    c.id AS customer_id, c.country AS customer_country, c.vat_number AS customer_vat_number,
    c.entity_type AS customer_entity_type, c.reimbursement_vat AS customer_reimbursement_vat
FROM cpo_reimbursement_link l
JOIN cpo_reimbursement_arrangement a ON a.id = l.arrangement_id
JOIN cpo_reimbursement_plan p ON p.id = a.plan_id
JOIN administration adm ON adm.id = a.administration_id
JOIN party c ON c.id = a.customer_id
WHERE l.evse_id = sqlc.arg(evse_id)
  AND tstzrange(l.valid_from, l.valid_until, '[)') @> sqlc.arg(at)::timestamptz
  AND tstzrange(a.valid_from, a.valid_until, '[)') @> sqlc.arg(at)::timestamptz
ORDER BY a.id;

-- name: ReimbursementInputsAt :many
SELECT * FROM cpo_reimbursement_calculation_input
WHERE (plan_id = ANY(sqlc.arg(plan_ids)::uuid[]) OR arrangement_id = ANY(sqlc.arg(arrangement_ids)::uuid[]))
  AND valid_from <= sqlc.arg(at)::timestamptz
ORDER BY valid_from, component_type;

-- name: ListCPOChargeSessionReimbursements :many
SELECT p.id, p.charge_session_id, p.subject_id, p.version, p.reason, p.currency, p.excl_vat, p.vat, p.incl_vat,
    p.components, p.detail, p.created_at,
    a.administration_id, a.external_reference AS arrangement_external_reference, a.customer_id,
    c.external_reference AS customer_external_reference,
    s.country_code, s.party_id, s.cdr_id, s.evse_uid, s.evse_id, s.match_evse_id, s.start_at, s.end_at, s.total_energy
FROM charge_session_price p
JOIN cpo_reimbursement_arrangement a ON a.id = p.subject_id
JOIN party c ON c.id = a.customer_id
JOIN charge_session s ON s.id = p.charge_session_id
WHERE p.kind = 'reimbursement'
  AND (sqlc.arg(all_admins)::bool OR a.administration_id = ANY(sqlc.arg(admin_ids)::uuid[]))
  AND p.id > sqlc.arg(after)::uuid
  AND (sqlc.narg(id)::uuid IS NULL OR p.id = sqlc.narg(id))
  AND (sqlc.narg(arrangement_id)::uuid IS NULL OR p.subject_id = sqlc.narg(arrangement_id))
  AND (sqlc.narg(customer_id)::uuid IS NULL OR a.customer_id = sqlc.narg(customer_id))
  AND (sqlc.narg(charge_session_id)::uuid IS NULL OR p.charge_session_id = sqlc.narg(charge_session_id))
  AND (sqlc.narg(evse_uid)::text IS NULL OR upper(s.evse_uid) = upper(sqlc.narg(evse_uid)))
  AND (sqlc.narg(start_gte)::timestamptz IS NULL OR s.start_at >= sqlc.narg(start_gte))
  AND (sqlc.narg(start_lt)::timestamptz IS NULL OR s.start_at < sqlc.narg(start_lt))
ORDER BY p.id
LIMIT sqlc.arg(page_limit);

-- name: ReimbursementLocalEVSE :one
SELECT e.id, e.evse_uid, e.reimbursement_mandatory FROM cpo_evse e JOIN cpo_location l ON l.id = e.location_uuid
WHERE e.evse_key = sqlc.arg(evse_key) AND l.country_code = sqlc.arg(country_code) AND l.party_id = sqlc.arg(party_id);

-- name: ReimbursementArrangementsOfEVSE :many
SELECT a.id, a.customer_id, c.reimbursement_vat, a.valid_from, a.valid_until,
    l.valid_from AS link_valid_from, l.valid_until AS link_valid_until
FROM cpo_reimbursement_link l
JOIN cpo_reimbursement_arrangement a ON a.id = l.arrangement_id
JOIN party c ON c.id = a.customer_id
WHERE l.evse_id = $1
ORDER BY a.id, l.id;
