-- +goose Up
-- Sessions at our own charge points (issue 5, CPO side; guide 003 →
-- Charge Point Operators → Charge sessions): our charge management system
-- reports them through POST /main/v1/cpo-charge-session while they run and
-- when they end. A cpo_session is the OCPI Session object we publish
-- (mod_sessions, Sender interface and push to the token owner's eMSP); once
-- it ends it also becomes a charge_session (side cpo) that the pipeline
-- matches, checks and prices, and whose CDR we publish after pricing
-- (mod_cdrs, Sender interface and push). OCPI ids keep their casing in
-- session_id and compare upper case through session_key.
CREATE TABLE cpo_session (
    id                   uuid PRIMARY KEY,
    external_reference   text UNIQUE,
    -- our CPO party that owns the session (Session.country_code/party_id)
    country_code         text NOT NULL CHECK (country_code ~ '^[A-Z]{2}$'),
    party_id             text NOT NULL CHECK (party_id ~ '^[A-Z0-9]{3}$'),
    session_id           text NOT NULL,
    session_key          text NOT NULL,
    status               text NOT NULL CHECK (status IN ('ACTIVE', 'COMPLETED', 'INVALID', 'PENDING', 'RESERVATION')),
    start_at             timestamptz NOT NULL,
    end_at               timestamptz,
    -- the token's owner (the eMSP party the session is sent to, upper case)
    token_country_code   text NOT NULL,
    token_party_id       text NOT NULL,
    token_uid            text NOT NULL,
    -- the OCPI Session object as we publish it (charging_periods included)
    doc                  jsonb NOT NULL,
    -- what the charge management system reported beyond the Session when
    -- the session ended: the CDR's facts (db.CPOCDRFacts as JSON); NULL
    -- while the session runs
    cdr_facts            jsonb,
    -- the charge session the ended session became (exactly once)
    charge_session_id    uuid UNIQUE REFERENCES charge_session (id),
    -- the CDR as published once the charge session was priced (its
    -- total_cost is the roaming cost); immutable once set (mod_cdrs: a CDR
    -- is final), NULL until then
    cdr_doc              jsonb,
    cdr_published_at     timestamptz,
    last_updated         timestamptz NOT NULL,
    external_updated_at  timestamptz,
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL,
    UNIQUE (country_code, party_id, session_key),
    CHECK ((cdr_doc IS NULL) = (cdr_published_at IS NULL))
);
-- The OCPI senders: a partner's sessions (CDRs) by last_updated, oldest first.
CREATE INDEX cpo_session_token_party ON cpo_session (token_country_code, token_party_id, last_updated, id);
CREATE INDEX cpo_session_cdr_party ON cpo_session (token_country_code, token_party_id, cdr_published_at, id)
    WHERE cdr_published_at IS NOT NULL;

-- The reimbursement amount (excluding VAT) our charge management system
-- computed for a CPO session, when it provides one (guide 003 →
-- Reimbursements: "Using the CPMS provided reimbursement").
ALTER TABLE charge_session ADD COLUMN cms_reimbursement_excl_vat numeric;

-- +goose Down
ALTER TABLE charge_session DROP COLUMN cms_reimbursement_excl_vat;
DROP TABLE cpo_session;
