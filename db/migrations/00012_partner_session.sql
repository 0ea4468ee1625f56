-- +goose Up
-- Partners' sessions as they run (issue 5; mod_sessions, our eMSP role):
-- the Sessions receiver (PUT/PATCH) and the pull of partners' Sessions
-- senders keep the latest report of each session here. It is the read
-- model msp-charge-session-progress (ongoing sessions: status, energy,
-- last update); the CDR that ends a session commercially is a
-- charge_session of the pipeline.

-- One row per session of a CPO party. Session ids are unique per party
-- (mod_sessions → Session.id, CiString: compared case-insensitively) and
-- kept as received next to their upper-case key. Every column of the
-- Session object is here, so that the receiver's GET renders the object
-- from the row; charging_periods is the list of ChargingPeriod objects in
-- their wire form (numbers as JSON numbers).
CREATE TABLE partner_session (
    id                      uuid PRIMARY KEY,
    -- the connection that last reported it; only it may GET it back
    connection_id           uuid REFERENCES roaming_connection (id) ON DELETE SET NULL,
    partner_id              uuid REFERENCES party (id),
    -- of our token's owner (msp_token), when the token is ours; NULL until then
    administration_id       uuid REFERENCES administration (id),
    country_code            text NOT NULL,
    party_id                text NOT NULL,
    session_id              text NOT NULL,
    session_key             text NOT NULL,
    status                  text NOT NULL CHECK (status IN ('ACTIVE', 'COMPLETED', 'INVALID', 'PENDING', 'RESERVATION')),
    kwh                     numeric NOT NULL,
    start_at                timestamptz NOT NULL,
    end_at                  timestamptz,
    token_country_code      text NOT NULL,
    token_party_id          text NOT NULL,
    token_uid               text NOT NULL,
    token_uid_key           text NOT NULL,
    token_type              text NOT NULL,
    token_contract_id       text NOT NULL,
    auth_method             text NOT NULL,
    authorization_reference text,
    location_id             text NOT NULL,
    evse_uid                text NOT NULL,
    -- the EVSE uid upper case: the evse filter
    evse_key                text NOT NULL,
    connector_id            text NOT NULL,
    meter_id                text,
    currency                text NOT NULL,
    total_cost_excl_vat     numeric,
    total_cost_incl_vat     numeric,
    charging_periods        jsonb NOT NULL DEFAULT '[]',
    -- the partner's Session.last_updated: the ordering of reports
    last_updated            timestamptz NOT NULL,
    -- what the last accepted report changed (domain/session.Change)
    last_change             text NOT NULL CHECK (last_change IN ('started', 'updated', 'stopped', 'meter')),
    -- how the last accepted report came, and its body exactly as received
    -- (a PUT's or a pulled Session object, or a PATCH)
    channel                 text NOT NULL CHECK (channel IN ('ocpi_push', 'ocpi_pull')),
    body                    text NOT NULL,
    created_at              timestamptz NOT NULL,
    updated_at              timestamptz NOT NULL,
    CONSTRAINT partner_session_key UNIQUE (country_code, party_id, session_key),
    CHECK (total_cost_incl_vat IS NULL OR total_cost_excl_vat IS NOT NULL)
);
CREATE INDEX partner_session_partner ON partner_session (partner_id, id);
CREATE INDEX partner_session_admin ON partner_session (administration_id, id);
CREATE INDEX partner_session_evse ON partner_session (evse_key, id);
CREATE INDEX partner_session_token ON partner_session (token_uid_key, id);
CREATE INDEX partner_session_status ON partner_session (status, id);
CREATE INDEX partner_session_start ON partner_session (start_at);

-- Sessions and CDRs are pulled like locations and tariffs: one
-- roaming_sync row per connection and module holds the cursor.
ALTER TABLE roaming_sync DROP CONSTRAINT roaming_sync_module_check;
ALTER TABLE roaming_sync ADD CONSTRAINT roaming_sync_module_check CHECK (module IN ('locations', 'tariffs', 'sessions', 'cdrs'));

-- +goose Down
DELETE FROM roaming_sync WHERE module IN ('sessions', 'cdrs');
ALTER TABLE roaming_sync DROP CONSTRAINT roaming_sync_module_check;
ALTER TABLE roaming_sync ADD CONSTRAINT roaming_sync_module_check CHECK (module IN ('locations', 'tariffs'));
DROP TABLE partner_session;
