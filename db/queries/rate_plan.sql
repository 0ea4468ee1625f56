-- name: GetRatePlan :one
SELECT * FROM rate_plan WHERE id = $1;

-- name: GetRatePlanByRef :one
SELECT * FROM rate_plan WHERE external_reference = $1;

-- name: LockRatePlan :one
SELECT * FROM rate_plan WHERE id = $1 FOR UPDATE;

-- name: LockRatePlanByRef :one
SELECT * FROM rate_plan WHERE external_reference = $1 FOR UPDATE;

-- name: ListRatePlans :many
-- A page of rate plans of the administrations an account sees (as owner);
-- the administration filter also finds plans shared with it.
SELECT * FROM rate_plan
WHERE (sqlc.arg(all_admins)::bool OR administration_id = ANY(sqlc.arg(admin_ids)::uuid[]))
  AND id > sqlc.arg(after)::uuid
  AND (sqlc.narg(administration_id)::uuid IS NULL OR administration_id = sqlc.narg(administration_id)
       OR sqlc.narg(administration_id)::uuid = ANY(shared_administration_ids))
  AND (sqlc.narg(currency)::text IS NULL OR currency = sqlc.narg(currency))
  AND (sqlc.narg(external_reference)::text IS NULL OR external_reference = sqlc.narg(external_reference))
ORDER BY id
LIMIT sqlc.arg(page_limit);

-- name: InsertRatePlan :exec
INSERT INTO rate_plan (id, administration_id, external_reference, name, description, currency, shared_administration_ids, rates, rules,
    external_updated_at, created_at, updated_at)
VALUES (@id, @administration_id, sqlc.narg(external_reference), @name, sqlc.narg(description), @currency, @shared_administration_ids,
    @rates, @rules, sqlc.narg(external_updated_at), @created_at, @updated_at);

-- name: UpdateRatePlan :exec
UPDATE rate_plan SET external_reference = sqlc.narg(external_reference), name = @name, description = sqlc.narg(description),
    shared_administration_ids = @shared_administration_ids, rates = @rates, rules = @rules,
    external_updated_at = sqlc.narg(external_updated_at), updated_at = @updated_at
WHERE id = @id;

-- name: AdministrationCurrencies :many
-- The currency of each given administration (rate plan sharing: same
-- currency only).
SELECT id, currency FROM administration WHERE id = ANY(@ids::uuid[]);

-- name: SubscriptionPlansUsingRatePlan :many
-- The administrations of subscription plans using a rate plan (a rate
-- plan may not stop being shared with an administration that uses it).
SELECT DISTINCT administration_id FROM msp_token_subscription_plan WHERE rate_plan_id = $1;

-- name: MSPPricingFacts :one
-- What MSP pricing needs of a session's token in one round trip: the link
-- valid at the session start (not defunct), its subscription (valid at
-- the start, not defunct), the plan, its rate plan (if any), the
-- subscription's administration and customer, and the original payload.
-- Among tokens with the same uid the CDR's token type wins.
SELECT t.id AS token_id, l.id AS link_id, s.id AS subscription_id, s.customer_id, s.administration_id, s.plan_id, p.rate_plan_id,
    rp.currency AS rate_plan_currency, rp.administration_id AS rate_plan_owner, rp.shared_administration_ids,
    rp.rates AS rate_plan_rates, rp.rules AS rate_plan_rules, rp.updated_at AS rate_plan_updated_at,
    a.currency AS administration_currency, c.country AS customer_country, c.vat_number AS customer_vat_number,
    c.entity_type AS customer_entity_type, c.reimbursement_vat AS customer_reimbursement_vat, p.use_customer_reimbursement_vat,
    coalesce((SELECT o.payload FROM charge_session_original o WHERE o.session_id = @session_id), '')::text AS payload
FROM msp_token t
JOIN msp_token_link l ON l.token_id = t.id AND NOT l.defunct
    AND (l.valid_from IS NULL OR l.valid_from <= @start_at) AND (l.valid_until IS NULL OR l.valid_until > @start_at)
JOIN msp_token_subscription s ON s.id = l.subscription_id AND NOT s.defunct
    AND s.valid_from <= @start_at AND (s.valid_until IS NULL OR s.valid_until > @start_at)
JOIN msp_token_subscription_plan p ON p.id = s.plan_id
JOIN administration a ON a.id = s.administration_id
JOIN party c ON c.id = s.customer_id
LEFT JOIN rate_plan rp ON rp.id = p.rate_plan_id
WHERE t.uid_key = @uid_key
ORDER BY (t.type = @type) DESC, t.id
LIMIT 1;

-- name: QuoteFacts :one
-- What a quote needs of a subscription (or, with no subscription, a
-- plan): the plan, its rate plan, the administration and the customer.
SELECT p.id AS plan_id, p.rate_plan_id, p.administration_id,
    rp.currency AS rate_plan_currency, rp.administration_id AS rate_plan_owner, rp.shared_administration_ids,
    rp.rates AS rate_plan_rates, rp.rules AS rate_plan_rules, rp.updated_at AS rate_plan_updated_at,
    a.currency AS administration_currency, c.id AS customer_id, c.country AS customer_country,
    c.vat_number AS customer_vat_number, c.entity_type AS customer_entity_type, p.use_customer_reimbursement_vat
FROM msp_token_subscription_plan p
JOIN administration a ON a.id = p.administration_id
LEFT JOIN msp_token_subscription s ON s.id = sqlc.narg(subscription_id)
LEFT JOIN party c ON c.id = s.customer_id
LEFT JOIN rate_plan rp ON rp.id = p.rate_plan_id
WHERE p.id = @plan_id;

-- name: PartnerTariffsByKeys :many
-- A CPO party's tariffs among the given OCPI tariff ids (upper case).
SELECT tariff_key, data FROM partner_tariff WHERE country_code = @country_code AND party_id = @party_id AND tariff_key = ANY(@keys::text[]);

-- name: PartnerConnectorTariffIDs :one
-- The tariff_ids of a partner connector (mod_locations Connector.tariff_ids)
-- of the matched location and EVSE.
SELECT coalesce((SELECT jsonb_agg(x) FROM jsonb_array_elements(c -> 'tariff_ids') x), '[]'::jsonb)::jsonb AS tariff_ids
FROM partner_evse e, jsonb_array_elements(e.data -> 'connectors') c
WHERE e.location_ref = @location_ref AND e.uid_key = @uid_key AND upper(c ->> 'id') = upper(@connector_id::text)
LIMIT 1;

-- name: PricingChecksOf :many
-- The pricing checks of an administration and of a partner (either may be
-- absent); the caller layers them administration first.
SELECT administration_id, partner_id, checks FROM pricing_checks
WHERE administration_id = sqlc.narg(administration_id) OR partner_id = sqlc.narg(partner_id);

-- name: GetAdministrationPricingChecks :one
SELECT * FROM pricing_checks WHERE administration_id = $1;

-- name: GetPartnerPricingChecks :one
SELECT * FROM pricing_checks WHERE partner_id = $1;

-- name: UpsertAdministrationPricingChecks :exec
INSERT INTO pricing_checks (id, administration_id, checks, updated_at) VALUES (@id, @administration_id, @checks, @now)
ON CONFLICT (administration_id) DO UPDATE SET checks = EXCLUDED.checks, updated_at = EXCLUDED.updated_at;

-- name: UpsertPartnerPricingChecks :exec
INSERT INTO pricing_checks (id, partner_id, checks, updated_at) VALUES (@id, @partner_id, @checks, @now)
ON CONFLICT (partner_id) DO UPDATE SET checks = EXCLUDED.checks, updated_at = EXCLUDED.updated_at;

-- name: QuoteLocation :one
-- A partner location and one of its EVSEs (by uid, else by EVSE id, else
-- the first) for a quote, with the roaming partner of its CPO party.
SELECT l.id AS location_ref, l.country_code, l.party_id, l.location_id, l.time_zone, coalesce(l.data ->> 'country', '')::text AS country,
    e.uid AS evse_uid, coalesce(e.evse_id, '')::text AS evse_id, e.data AS evse_data, rp.partner_id
FROM partner_location l
JOIN partner_evse e ON e.location_ref = l.id
LEFT JOIN roaming_party_id rp ON rp.id = (SELECT r.id FROM roaming_party_id r
    WHERE r.country_code = l.country_code AND r.party_id = l.party_id AND r.role = 'CPO' ORDER BY r.id LIMIT 1)
WHERE (sqlc.narg(location_ref)::uuid IS NULL OR l.id = sqlc.narg(location_ref))
  AND (sqlc.narg(evse_uid_key)::text IS NULL OR e.uid_key = sqlc.narg(evse_uid_key))
  AND (sqlc.narg(evse_id_key)::text IS NULL OR e.evse_id_key = sqlc.narg(evse_id_key))
ORDER BY e.position
LIMIT 1;
