-- +goose Up
-- Partners' charge points and tariffs as we receive them as eMSP (OCPI
-- Locations and Tariffs receivers, and pull synchronisation from partners'
-- senders), and the state of each pull synchronisation.
--
-- What must be queried is in columns (party, ids, coordinates, EVSE id,
-- status, last_updated); the rest of each OCPI object is kept as pushed in
-- jsonb. OCPI ids compare case-insensitively (CiString) and keep their
-- casing: *_key columns hold the upper-case form the unique keys use.

CREATE TABLE partner_location (
    id            uuid PRIMARY KEY,
    -- the connection that last wrote the location (a hub carries many parties)
    connection_id uuid REFERENCES roaming_connection (id) ON DELETE SET NULL,
    country_code  text NOT NULL CHECK (country_code ~ '^[A-Z]{2}$'),
    party_id      text NOT NULL CHECK (party_id ~ '^[A-Z0-9]{3}$'),
    location_id   text NOT NULL,
    location_key  text NOT NULL,
    latitude      double precision NOT NULL CHECK (latitude BETWEEN -90 AND 90),
    longitude     double precision NOT NULL CHECK (longitude BETWEEN -180 AND 180),
    time_zone     text NOT NULL,
    publish       boolean NOT NULL,
    last_updated  timestamptz NOT NULL,
    -- the OCPI Location object without evses (they are rows of partner_evse)
    data          jsonb NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    UNIQUE (country_code, party_id, location_key)
);
-- Bounding-box prefilter of "near a point" queries (no PostGIS).
CREATE INDEX partner_location_geo ON partner_location (latitude, longitude);
CREATE INDEX partner_location_connection ON partner_location (connection_id);

CREATE TABLE partner_evse (
    location_ref  uuid NOT NULL REFERENCES partner_location (id) ON DELETE CASCADE,
    position      integer NOT NULL,
    uid           text NOT NULL,
    uid_key       text NOT NULL,
    evse_id       text,
    -- evse_id in upper case with only letters and digits ("NL*TNM*E0001"
    -- and "nl-tnm-e0001" are both NLTNME0001): sessions and CDRs name EVSEs
    -- with or without separators.
    evse_id_key   text,
    status        text NOT NULL,
    latitude      double precision,
    longitude     double precision,
    last_updated  timestamptz NOT NULL,
    -- the OCPI EVSE object with its connectors
    data          jsonb NOT NULL,
    PRIMARY KEY (location_ref, uid_key)
);
CREATE INDEX partner_evse_evse_id ON partner_evse (evse_id_key) WHERE evse_id_key IS NOT NULL;

CREATE TABLE partner_tariff (
    id            uuid PRIMARY KEY,
    connection_id uuid REFERENCES roaming_connection (id) ON DELETE SET NULL,
    country_code  text NOT NULL CHECK (country_code ~ '^[A-Z]{2}$'),
    party_id      text NOT NULL CHECK (party_id ~ '^[A-Z0-9]{3}$'),
    tariff_id     text NOT NULL,
    tariff_key    text NOT NULL,
    currency      text NOT NULL,
    last_updated  timestamptz NOT NULL,
    data          jsonb NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    UNIQUE (country_code, party_id, tariff_key)
);
CREATE INDEX partner_tariff_connection ON partner_tariff (connection_id);

-- One pull synchronisation per connection and module. A run persists its
-- cursor (next_url, the page to fetch next) in the transaction that stores
-- each page, so a run that died resumes where it stopped; heartbeat_at
-- tells a live run from a dead one. requested_at records an on-demand
-- request until a run that started after it finishes.
CREATE TABLE roaming_sync (
    connection_id           uuid NOT NULL REFERENCES roaming_connection (id) ON DELETE CASCADE,
    module                  text NOT NULL CHECK (module IN ('locations', 'tariffs')),
    status                  text NOT NULL DEFAULT 'idle' CHECK (status IN ('idle', 'running', 'failed')),
    run_id                  uuid,
    mode                    text CHECK (mode IN ('full', 'incremental')),
    date_from               timestamptz,
    next_url                text,
    run_started_at          timestamptz,
    heartbeat_at            timestamptz,
    pages                   integer NOT NULL DEFAULT 0,
    objects                 integer NOT NULL DEFAULT 0,
    ignored                 integer NOT NULL DEFAULT 0,
    rejected                integer NOT NULL DEFAULT 0,
    last_rejection          text,
    requested_at            timestamptz,
    requested_full          boolean NOT NULL DEFAULT false,
    last_success_started_at timestamptz,
    last_finished_at        timestamptz,
    last_error              text,
    updated_at              timestamptz NOT NULL,
    PRIMARY KEY (connection_id, module)
);

-- +goose Down
DROP TABLE roaming_sync;
DROP TABLE partner_tariff;
DROP TABLE partner_evse;
DROP TABLE partner_location;
