-- +goose Up
-- VAT configuration (issue 6; guide 003 → Billing and VAT → VAT and
-- "Determining VAT"): the three inputs of domain/vat.Determine.
--
--  1. VAT country: each seller's policy per foreign country (use the origin
--     country or the seller's own) and what happens for a country without a
--     policy (an error, or the seller's country) — seller_vat_policy.
--  2. VAT kind: VAT rules by product category, optionally VAT country and
--     VAT indicators, with validity — vat_rule.
--  3. VAT rate: a percentage per country and kind, with validity — vat_rate.
--
-- Rules and rates are instance-wide (a country's VAT law is the same for
-- every seller); policies belong to a seller. Validity periods are
-- half-open [valid_from, valid_until), NULL meaning open-ended.

-- A seller without a row has no country policies and fallback 'error'
-- (domain: vat.FallbackError): foreign sessions drop out until the seller's
-- VAT policy is configured, instead of silently using a guessed country.
CREATE TABLE seller_vat_policy (
    seller_id           uuid PRIMARY KEY REFERENCES seller (id),
    fallback            text NOT NULL CHECK (fallback IN ('error', 'seller_country')),
    eu_reverse_charge   boolean NOT NULL DEFAULT false,
    -- {"BE": "origin_country", "DE": "seller_country"}: alpha-2 → policy
    country_policies    jsonb NOT NULL DEFAULT '{}',
    external_updated_at timestamptz,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL
);

-- One percentage per country and kind at any instant: a rate change is a
-- new record whose valid_from equals the old one's valid_until.
CREATE TABLE vat_rate (
    id                  uuid PRIMARY KEY,
    external_reference  text UNIQUE,
    country             text NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
    kind                text NOT NULL,
    percentage          numeric NOT NULL CHECK (percentage >= 0 AND percentage <= 100),
    valid_from          timestamptz,
    valid_until         timestamptz,
    external_updated_at timestamptz,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    CHECK (valid_from IS NULL OR valid_until IS NULL OR valid_until > valid_from),
    CONSTRAINT vat_rate_one_at_a_time EXCLUDE USING gist (
        country WITH =, kind WITH =, tstzrange(valid_from, valid_until, '[)') WITH &&)
);

-- criteria_key is vat.Rule.CriteriaKey (country and sorted indicators):
-- two rules of one category with the same criteria at the same instant
-- would always tie (vat_rule_ambiguous at pricing), so they are refused
-- when written.
CREATE TABLE vat_rule (
    id                  uuid PRIMARY KEY,
    external_reference  text UNIQUE,
    product_category    text NOT NULL,
    country             text CHECK (country ~ '^[A-Z]{2}$'),
    indicators          text[] NOT NULL DEFAULT '{}',
    criteria_key        text NOT NULL,
    kind                text NOT NULL,
    valid_from          timestamptz,
    valid_until         timestamptz,
    external_updated_at timestamptz,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    CHECK (valid_from IS NULL OR valid_until IS NULL OR valid_until > valid_from),
    CONSTRAINT vat_rule_one_at_a_time EXCLUDE USING gist (
        product_category WITH =, criteria_key WITH =, tstzrange(valid_from, valid_until, '[)') WITH &&)
);

-- +goose Down
DROP TABLE vat_rule;
DROP TABLE vat_rate;
DROP TABLE seller_vat_policy;
