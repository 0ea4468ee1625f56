-- +goose Up
-- Charge authorization rules of the MSP (guide 003 → Token Validity: "The
-- conditions set in the charge authorization rules must permit the token
-- to initiate a charge session"; seed 001 → Charging Authorization
-- Restrictions). A rule belongs to an administration and applies to the
-- whole administration, to one subscription plan or to one subscription,
-- during its validity period [valid_from, valid_until) (whole minutes, NULL
-- unbounded). Its conditions on the charging location (CPO country and
-- party, location ids, EVSE uids, a local-time window and days of week) are
-- ANDed; an empty list or NULL is "any". effect: deny → NOT_ALLOWED (BLOCKED
-- when the rule has no condition at all), require_credit → NO_CREDIT without
-- a positive charge credit, allow → an exception that stops less specific
-- rules (domain/authrule).
CREATE TABLE msp_charge_authorization_rule (
    id                  uuid PRIMARY KEY,
    administration_id   uuid NOT NULL REFERENCES administration (id),
    external_reference  text UNIQUE,
    name                text NOT NULL,
    description         text,
    plan_id             uuid REFERENCES msp_token_subscription_plan (id),
    subscription_id     uuid REFERENCES msp_token_subscription (id),
    effect              text NOT NULL CHECK (effect IN ('deny', 'require_credit', 'allow')),
    valid_from          timestamptz,
    valid_until         timestamptz,
    -- ISO 3166 alpha-2, upper case
    cpo_country_codes   text[] NOT NULL DEFAULT '{}',
    -- "CC-PPP", upper case
    cpo_parties         text[] NOT NULL DEFAULT '{}',
    -- OCPI ids as given; compared ignoring case
    location_ids        text[] NOT NULL DEFAULT '{}',
    evse_uids           text[] NOT NULL DEFAULT '{}',
    -- MONDAY … SUNDAY (OCPI DayOfWeek)
    days_of_week        text[] NOT NULL DEFAULT '{}',
    -- "HH:MM" in the location's local time; start inclusive, end exclusive,
    -- end before start wraps past midnight
    start_time          text CHECK (start_time ~ '^([01][0-9]|2[0-3]):[0-5][0-9]$'),
    end_time            text CHECK (end_time ~ '^([01][0-9]|2[0-3]):[0-5][0-9]$'),
    -- the IANA zone of the window when the location (or its zone) is unknown
    time_zone           text,
    external_updated_at timestamptz,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    CHECK (plan_id IS NULL OR subscription_id IS NULL),
    CHECK (valid_from IS NULL OR valid_until IS NULL OR valid_until > valid_from),
    CHECK ((start_time IS NULL) = (end_time IS NULL))
);
CREATE INDEX msp_charge_authorization_rule_admin_idx ON msp_charge_authorization_rule (administration_id, id);

-- The rules version: one row, bumped in the transaction of every change of
-- a rule. The real-time authorization's token lookup returns it (one
-- scalar per statement), and a node reloads its compiled rules when it
-- differs from the version they were loaded at: a rule change takes effect
-- on every node for the first lookup that starts after it committed,
-- without Redis and without a round trip per request.
CREATE TABLE msp_charge_authorization_rule_version (
    one     boolean PRIMARY KEY DEFAULT true CHECK (one),
    version bigint NOT NULL
);
INSERT INTO msp_charge_authorization_rule_version (one, version) VALUES (true, 0);

-- +goose StatementBegin
CREATE FUNCTION msp_charge_authorization_rule_bump() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE msp_charge_authorization_rule_version SET version = version + 1;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER msp_charge_authorization_rule_changed
AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON msp_charge_authorization_rule
FOR EACH STATEMENT EXECUTE FUNCTION msp_charge_authorization_rule_bump();

-- +goose Down
DROP TRIGGER msp_charge_authorization_rule_changed ON msp_charge_authorization_rule;
DROP FUNCTION msp_charge_authorization_rule_bump;
DROP TABLE msp_charge_authorization_rule_version;
DROP TABLE msp_charge_authorization_rule;
