-- +goose Up
-- Rate plans (issue 6 → MSP pricing; guide 003 → Rate plan): "tied to a
-- specific currency and can be shared across multiple administrations, as
-- long as these administrations use the same currency". A rate plan is
-- owned by one administration (who may change it) and shared with others
-- of the same currency (who may use it in their subscription plans). Its
-- rates and rules (domain/rateplan.Rate and Rule) are one document each:
-- they are validated, replaced and versioned together with the plan.
CREATE TABLE rate_plan (
    id                        uuid PRIMARY KEY,
    administration_id         uuid NOT NULL REFERENCES administration (id),
    external_reference        text UNIQUE,
    name                      text NOT NULL,
    description               text,
    currency                  text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    shared_administration_ids uuid[] NOT NULL DEFAULT '{}',
    rates                     jsonb NOT NULL,
    rules                     jsonb NOT NULL,
    external_updated_at       timestamptz,
    created_at                timestamptz NOT NULL,
    updated_at                timestamptz NOT NULL
);
CREATE INDEX rate_plan_admin ON rate_plan (administration_id, id);
CREATE INDEX rate_plan_shared ON rate_plan USING gin (shared_administration_ids);

-- "Each subscription plan specifies the rate plan used to calculate the
-- pricing for charge sessions": the reference is now a foreign key (ids
-- that named no rate plan before rate plans existed are cleared).
UPDATE msp_token_subscription_plan p SET rate_plan_id = NULL
WHERE rate_plan_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM rate_plan r WHERE r.id = p.rate_plan_id);
ALTER TABLE msp_token_subscription_plan ADD CONSTRAINT msp_token_subscription_plan_rate_plan_fkey
    FOREIGN KEY (rate_plan_id) REFERENCES rate_plan (id);
CREATE INDEX msp_token_subscription_plan_rate_plan ON msp_token_subscription_plan (rate_plan_id) WHERE rate_plan_id IS NOT NULL;

-- Pricing checks per administration and per roaming partner (guide 003 →
-- Charge Sessions: "Various pricing checks are applied, which can be
-- customized based on administration settings and roaming partner
-- configurations"): domain/rateplan.Checks as JSON; a partner's fields win
-- over its administration's, unset fields are not checked.
CREATE TABLE pricing_checks (
    id                uuid PRIMARY KEY,
    administration_id uuid UNIQUE REFERENCES administration (id),
    partner_id        uuid UNIQUE REFERENCES party (id),
    checks            jsonb NOT NULL,
    updated_at        timestamptz NOT NULL,
    CHECK ((administration_id IS NULL) <> (partner_id IS NULL))
);

-- Pricing results: the latest version of each (session, kind, subject) is
-- flagged (older ones are kept, superseded), and an MSP result names the
-- subscription and customer it was priced for (from its detail), so that
-- the read model msp-charge-session-priced filters on them.
ALTER TABLE charge_session_price ADD COLUMN latest boolean NOT NULL DEFAULT true;
ALTER TABLE charge_session_price ADD COLUMN subscription_id uuid
    GENERATED ALWAYS AS (CASE WHEN kind = 'msp' THEN (detail ->> 'subscription_id')::uuid END) STORED;
ALTER TABLE charge_session_price ADD COLUMN customer_id uuid
    GENERATED ALWAYS AS (CASE WHEN kind = 'msp' THEN (detail ->> 'customer_id')::uuid END) STORED;
CREATE INDEX charge_session_price_latest ON charge_session_price (kind, charge_session_id) WHERE latest;
CREATE INDEX charge_session_price_subscription ON charge_session_price (subscription_id, charge_session_id)
    WHERE latest AND subscription_id IS NOT NULL;
CREATE INDEX charge_session_price_customer ON charge_session_price (customer_id, charge_session_id)
    WHERE latest AND customer_id IS NOT NULL;

-- +goose Down
DROP INDEX charge_session_price_customer;
DROP INDEX charge_session_price_subscription;
DROP INDEX charge_session_price_latest;
ALTER TABLE charge_session_price DROP COLUMN customer_id;
ALTER TABLE charge_session_price DROP COLUMN subscription_id;
ALTER TABLE charge_session_price DROP COLUMN latest;
DROP TABLE pricing_checks;
DROP INDEX msp_token_subscription_plan_rate_plan;
ALTER TABLE msp_token_subscription_plan DROP CONSTRAINT msp_token_subscription_plan_rate_plan_fkey;
DROP TABLE rate_plan;
