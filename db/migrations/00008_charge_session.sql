-- +goose Up
-- The charge-session pipeline (issue 5; guide 003 → Charge Sessions,
-- Drop-outs): every CDR received (MSP side) or reported (CPO side) becomes a
-- charge_session that the worker moves through the pipeline states of
-- domain/session. The payload is kept exactly as received next to it;
-- CDRs that fail the basic checks on a channel that cannot refuse them are
-- kept as invalid charge sessions; sessions that fail a step are grouped
-- into drop-out cases.

-- A drop-out case groups dropped-out sessions with the same side, reason,
-- CPO party and EVSE (domain/session.CaseKey), so that one fix resolves
-- them together. At most one case per key is open at a time (the partial
-- unique index); resolved cases are kept for traceability.
CREATE TABLE dropout_case (
    id           uuid PRIMARY KEY,
    side         text NOT NULL CHECK (side IN ('msp', 'cpo')),
    reason       text NOT NULL,
    country_code text NOT NULL,
    party_id     text NOT NULL,
    evse_key     text NOT NULL,
    state        text NOT NULL CHECK (state IN ('open', 'resolved')),
    resolved_at  timestamptz,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    CHECK ((state = 'resolved') = (resolved_at IS NOT NULL))
);
CREATE UNIQUE INDEX dropout_case_open_key ON dropout_case (side, reason, country_code, party_id, evse_key) WHERE state = 'open';
CREATE INDEX dropout_case_list ON dropout_case (side, state, id);

-- A charge session: the facts of domain/session.ChargeSession in columns
-- (what is queried, checked and shown), the pipeline state, the match and
-- the drop-out. A CDR id is unique per CPO party (mod_cdrs → CDR.id), so
-- (side, country_code, party_id, cdr_id) makes intake idempotent; ids are
-- stored as received and compared upper case through cdr_key.
CREATE TABLE charge_session (
    id                   uuid PRIMARY KEY,
    side                 text NOT NULL CHECK (side IN ('msp', 'cpo')),
    administration_id    uuid REFERENCES administration (id),
    partner_id           uuid REFERENCES party (id),
    -- the connection an MSP CDR came through: only it may GET the CDR back
    connection_id        uuid REFERENCES roaming_connection (id) ON DELETE SET NULL,
    country_code         text NOT NULL,
    party_id             text NOT NULL,
    cdr_id               text NOT NULL,
    cdr_key              text NOT NULL,
    session_id           text,
    start_at             timestamptz NOT NULL,
    end_at               timestamptz NOT NULL,
    token_country_code   text NOT NULL,
    token_party_id       text NOT NULL,
    token_uid            text NOT NULL,
    token_uid_key        text NOT NULL,
    token_type           text NOT NULL,
    token_contract_id    text NOT NULL,
    location_id          text NOT NULL,
    evse_uid             text NOT NULL,
    evse_id              text,
    -- the EVSE id upper case, letters and digits only (NormalizeEVSEID), else
    -- the EVSE uid upper case: the EVSE filter and the drop-out case key
    evse_key             text NOT NULL,
    connector_id         text NOT NULL,
    power_type           text,
    location_country     text,
    currency             text NOT NULL,
    total_energy         numeric NOT NULL,
    total_time           numeric NOT NULL,
    total_parking_time   numeric NOT NULL DEFAULT 0,
    credit               boolean NOT NULL DEFAULT false,
    credit_reference_id  text,
    -- the session a credit CDR credits (mod_cdrs → Credit CDRs)
    credited_session_id  uuid REFERENCES charge_session (id),
    state                text NOT NULL CHECK (state IN ('received', 'matching', 'validating', 'dropped_out', 'ready_for_pricing', 'discarded')),
    attempts             integer NOT NULL DEFAULT 0,
    -- when the sweeper owes the session its next step; NULL = now
    next_attempt_at      timestamptz,
    bypass               text[] NOT NULL DEFAULT '{}',
    match_location_id    uuid,
    match_evse_id        uuid,
    match_evse_uid       text,
    match_connector_id   text,
    match_max_power_kw   numeric,
    match_dropout_all    boolean,
    match_time_zone      text,
    dropout_reason       text,
    dropout_detail       text,
    dropout_check        text,
    dropout_case_id      uuid REFERENCES dropout_case (id),
    received_at          timestamptz NOT NULL,
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL,
    CONSTRAINT charge_session_cdr_key UNIQUE (side, country_code, party_id, cdr_key)
);
-- The sweeper's view: pending sessions by due time.
CREATE INDEX charge_session_pending ON charge_session (next_attempt_at NULLS FIRST, id)
    WHERE state IN ('received', 'matching', 'validating');
CREATE INDEX charge_session_case ON charge_session (dropout_case_id, id) WHERE dropout_case_id IS NOT NULL;
CREATE INDEX charge_session_state ON charge_session (side, state, id);
CREATE INDEX charge_session_evse ON charge_session (side, evse_key, id);
CREATE INDEX charge_session_token ON charge_session (side, token_uid_key, id);
CREATE INDEX charge_session_partner ON charge_session (partner_id, id);
CREATE INDEX charge_session_admin ON charge_session (administration_id, id);
CREATE INDEX charge_session_start ON charge_session (side, start_at);

-- The CDR exactly as it was received (text, not jsonb: jsonb would reorder
-- keys and normalise numbers), and the channel it came by.
CREATE TABLE charge_session_original (
    session_id   uuid PRIMARY KEY REFERENCES charge_session (id) ON DELETE CASCADE,
    channel      text NOT NULL CHECK (channel IN ('ocpi_push', 'ocpi_pull', 'admin_api')),
    payload      text NOT NULL,
    received_at  timestamptz NOT NULL
);

-- A CDR that failed the basic checks on a channel that cannot refuse it
-- (pull sync, a push that must be acknowledged): kept with its technical
-- reason until a corrected submission (same party and CDR id) resolves it.
CREATE TABLE invalid_charge_session (
    id                     uuid PRIMARY KEY,
    side                   text NOT NULL CHECK (side IN ('msp', 'cpo')),
    channel                text NOT NULL CHECK (channel IN ('ocpi_push', 'ocpi_pull', 'admin_api')),
    connection_id          uuid REFERENCES roaming_connection (id) ON DELETE SET NULL,
    partner_id             uuid REFERENCES party (id),
    country_code           text,
    party_id               text,
    cdr_id                 text,
    cdr_key                text,
    payload                text NOT NULL,
    problems               jsonb NOT NULL,
    received_at            timestamptz NOT NULL,
    resolved_at            timestamptz,
    resolved_by_session_id uuid REFERENCES charge_session (id),
    CHECK ((resolved_at IS NULL) = (resolved_by_session_id IS NULL))
);
CREATE INDEX invalid_charge_session_open ON invalid_charge_session (side, country_code, party_id, cdr_key) WHERE resolved_at IS NULL;
CREATE INDEX invalid_charge_session_list ON invalid_charge_session (side, id);

-- Validity-check thresholds overridden per administration or per roaming
-- partner (domain/session.Overrides as JSON); a partner's win over its
-- administration's, both over the node's defaults.
CREATE TABLE session_thresholds (
    id                uuid PRIMARY KEY,
    administration_id uuid UNIQUE REFERENCES administration (id),
    partner_id        uuid UNIQUE REFERENCES party (id),
    overrides         jsonb NOT NULL,
    updated_at        timestamptz NOT NULL,
    CHECK ((administration_id IS NULL) <> (partner_id IS NULL))
);

-- +goose Down
DROP TABLE session_thresholds;
DROP TABLE invalid_charge_session;
DROP TABLE charge_session_original;
DROP TABLE charge_session;
DROP TABLE dropout_case;
