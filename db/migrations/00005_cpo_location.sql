-- +goose Up
-- Our own charge points as CPO (OCPI mod_locations, TandemDrive guide →
-- Charge Point Operators), our tariffs (mod_tariffs), and the generic queue
-- of pushes to partners' receiver endpoints.
--
-- OCPI identifiers (location id, EVSE uid, tariff id) keep their casing in
-- *_id / evse_uid and are unique case-insensitively through *_key (upper
-- case). doc holds the OCPI object as JSON (a location without its EVSEs);
-- the columns beside it mirror what is queried (status, evse_id,
-- last_updated) and are written from the same value. An EVSE keeps the id
-- of its location (location_id) next to the reference: neither changes.

CREATE TABLE cpo_location (
    id                  uuid PRIMARY KEY,
    location_id         text NOT NULL,
    location_key        text NOT NULL UNIQUE,
    external_reference  text UNIQUE,
    country_code        text NOT NULL CHECK (country_code ~ '^[A-Z]{2}$'),
    party_id            text NOT NULL CHECK (party_id ~ '^[A-Z0-9]{3}$'),
    doc                 jsonb NOT NULL,
    deactivated_at      timestamptz,
    last_updated        timestamptz NOT NULL,
    external_updated_at timestamptz,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL
);
-- OCPI list order and date_from/date_to filters.
CREATE INDEX cpo_location_party_updated ON cpo_location (country_code, party_id, last_updated, id);

CREATE TABLE cpo_evse (
    id                          uuid PRIMARY KEY,
    evse_uid                    text NOT NULL,
    evse_key                    text NOT NULL UNIQUE,
    location_uuid               uuid NOT NULL REFERENCES cpo_location (id),
    location_id                 text NOT NULL,
    external_reference          text UNIQUE,
    evse_id                     text,
    status                      text NOT NULL CHECK (status IN ('AVAILABLE', 'BLOCKED', 'CHARGING', 'INOPERATIVE',
                                    'OUTOFORDER', 'PLANNED', 'REMOVED', 'RESERVED', 'UNKNOWN')),
    status_updated_at           timestamptz NOT NULL,
    doc                         jsonb NOT NULL,
    reimbursement_mandatory     boolean NOT NULL DEFAULT false,
    dropout_all_chargesessions  boolean NOT NULL DEFAULT false,
    last_updated                timestamptz NOT NULL,
    external_updated_at         timestamptz,
    created_at                  timestamptz NOT NULL,
    updated_at                  timestamptz NOT NULL
);
CREATE INDEX cpo_evse_location ON cpo_evse (location_uuid, id);
CREATE INDEX cpo_evse_evse_id ON cpo_evse (evse_id) WHERE evse_id IS NOT NULL;

-- Turning dropout_all_chargesessions off with reprocess_dropouts asks for the
-- charge sessions dropped out because of the flag to be processed again
-- (guide → Safe EVSE configuration). The session pipeline consumes the
-- open requests (consumed_at IS NULL) and sets consumed_at.
CREATE TABLE cpo_dropout_reprocess_request (
    id              uuid PRIMARY KEY,
    evse_id         uuid NOT NULL REFERENCES cpo_evse (id),
    evse_uid        text NOT NULL,
    requested_at    timestamptz NOT NULL,
    consumed_at     timestamptz
);
CREATE INDEX cpo_dropout_reprocess_open ON cpo_dropout_reprocess_request (requested_at) WHERE consumed_at IS NULL;

CREATE TABLE cpo_tariff (
    id                  uuid PRIMARY KEY,
    tariff_id           text NOT NULL,
    tariff_key          text NOT NULL UNIQUE,
    external_reference  text UNIQUE,
    country_code        text NOT NULL CHECK (country_code ~ '^[A-Z]{2}$'),
    party_id            text NOT NULL CHECK (party_id ~ '^[A-Z0-9]{3}$'),
    currency            text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    doc                 jsonb NOT NULL,
    last_updated        timestamptz NOT NULL,
    external_updated_at timestamptz,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL
);
CREATE INDEX cpo_tariff_party_updated ON cpo_tariff (country_code, party_id, last_updated, id);

-- Pending pushes to one partner connection, one row per ordering group (a
-- location with its EVSEs, a tariff, a token, a session, …). items is the
-- ordered, coalesced list of what to send: [{"object", "method", "fields",
-- "v"}]; the worker renders each item from the current state when it sends
-- it, so several changes to one object collapse into one request. seq
-- counts changes. lease_until lets exactly one worker send a group's items
-- at a time, in order; a crashed worker's lease simply expires. Rows stay
-- (with no items) once sent, so enqueueing never races a delete.
CREATE TABLE ocpi_push (
    connection_id   uuid NOT NULL REFERENCES roaming_connection (id),
    module          text NOT NULL,
    grp             text NOT NULL,
    from_country    text NOT NULL,
    from_party      text NOT NULL,
    items           jsonb NOT NULL DEFAULT '[]',
    seq             bigint NOT NULL DEFAULT 0,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    lease_until     timestamptz,
    last_error      text,
    last_sent_at    timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, module, grp)
);
-- The sweeper's view: groups with work to do.
CREATE INDEX ocpi_push_pending ON ocpi_push (next_attempt_at) WHERE items <> '[]'::jsonb;

-- +goose Down
DROP TABLE ocpi_push;
DROP TABLE cpo_tariff;
DROP TABLE cpo_dropout_reprocess_request;
DROP TABLE cpo_evse;
DROP TABLE cpo_location;
