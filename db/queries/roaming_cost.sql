-- name: ListCPOChargeSessionRoamingCosts :many
-- The read model cpo-charge-session-roaming-cost (adminapi/cpo_roaming_cost.go):
-- every stored version of the roaming cost of CPO charge sessions (what we
-- charge the eMSP that owns the token; kind roaming_cost, written by the
-- pricing commit), with the session's identifiers and the roaming partner
-- the pricer chose (detail.partner_id), in id order. Scoped by the result's
-- administration: a result without one (CPO sessions have none) only for
-- all_admins. id (with all_admins) loads one result.
SELECT sqlc.embed(p),
    pr.name AS partner_name,
    s.session_id, s.country_code, s.party_id, s.cdr_id, s.token_country_code, s.token_party_id, s.token_uid, s.token_type,
    s.location_id, s.evse_uid, s.evse_id, s.connector_id, s.start_at, s.end_at, s.total_energy, s.total_time
FROM charge_session_price p
JOIN charge_session s ON s.id = p.charge_session_id
LEFT JOIN party pr ON pr.id = (p.detail ->> 'partner_id')::uuid
WHERE p.kind = 'roaming_cost'
  AND (sqlc.arg(all_admins)::bool OR p.administration_id = ANY(sqlc.arg(admin_ids)::uuid[]))
  AND p.id > sqlc.arg(after)::uuid
  AND (sqlc.narg(id)::uuid IS NULL OR p.id = sqlc.narg(id))
  AND (sqlc.narg(charge_session_id)::uuid IS NULL OR p.charge_session_id = sqlc.narg(charge_session_id))
  AND (sqlc.narg(partner_id)::uuid IS NULL OR p.detail ->> 'partner_id' = sqlc.narg(partner_id)::uuid::text)
  AND (sqlc.narg(emsp_country_code)::text IS NULL OR upper(s.token_country_code) = upper(sqlc.narg(emsp_country_code)))
  AND (sqlc.narg(emsp_party_id)::text IS NULL OR upper(s.token_party_id) = upper(sqlc.narg(emsp_party_id)))
  AND (sqlc.narg(evse_uid)::text IS NULL OR upper(s.evse_uid) = upper(sqlc.narg(evse_uid)))
  AND (sqlc.narg(currency)::text IS NULL OR p.currency = upper(sqlc.narg(currency)))
  AND (sqlc.narg(latest)::bool IS NULL OR p.latest = sqlc.narg(latest))
  AND (sqlc.narg(start_gte)::timestamptz IS NULL OR s.start_at >= sqlc.narg(start_gte))
  AND (sqlc.narg(start_lt)::timestamptz IS NULL OR s.start_at < sqlc.narg(start_lt))
ORDER BY p.id
LIMIT sqlc.arg(page_limit);
