-- +goose Up
-- Roaming: our own OCPI parties, connections to partners (peer-to-peer or
-- via a hub), roaming partners with their party ids, roaming agreements,
-- and the exchange log of every OCPI request in both directions.

-- The OCPI parties this node represents (credentials roles). Country code and
-- party id are stored upper case (CiString).
CREATE TABLE own_party (
    id                  uuid PRIMARY KEY,
    external_reference  text UNIQUE,
    country_code        text NOT NULL CHECK (country_code ~ '^[A-Z]{2}$'),
    party_id            text NOT NULL CHECK (party_id ~ '^[A-Z0-9]{3}$'),
    role                text NOT NULL CHECK (role IN ('CPO', 'EMSP')),
    name                text NOT NULL,
    website             text,
    logo_url            text,
    external_updated_at timestamptz,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    UNIQUE (country_code, party_id, role)
);

-- A technical link to a partner platform. Tokens: "ours" is what the partner
-- presents to us (token A before registration, then the token we issued);
-- only its SHA-256 is stored. "Theirs" is what we present to the partner; it
-- must be sent, so it is stored, and the API never returns it in full. A
-- pending token is one we issued and are handing over in a registration or
-- rotation we started; it authenticates the partner's callbacks meanwhile.
CREATE TABLE roaming_connection (
    id                  uuid PRIMARY KEY,
    external_reference  text UNIQUE,
    name                text NOT NULL,
    kind                text NOT NULL CHECK (kind IN ('peer_to_peer', 'hub')),
    status              text NOT NULL CHECK (status IN ('pending', 'registered', 'unregistered')),
    initiated_by        text NOT NULL DEFAULT 'partner' CHECK (initiated_by IN ('partner', 'us')),
    our_token_hash      bytea,
    our_token_hint      text,
    our_token_is_a      boolean NOT NULL DEFAULT false,
    pending_token_hash  bytea,
    their_token         text,
    their_token_hint    text,
    their_versions_url  text,
    version             text,
    their_endpoints     jsonb NOT NULL DEFAULT '[]',
    their_roles         jsonb NOT NULL DEFAULT '[]',
    token_base64        boolean NOT NULL DEFAULT true,
    last_contact_at     timestamptz,
    status_message      text,
    external_updated_at timestamptz,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL
);
CREATE UNIQUE INDEX roaming_connection_our_token ON roaming_connection (our_token_hash) WHERE our_token_hash IS NOT NULL;
CREATE UNIQUE INDEX roaming_connection_pending_token ON roaming_connection (pending_token_hash) WHERE pending_token_hash IS NOT NULL;

-- A roaming partner is a party (role roaming_partner) with one or more OCPI
-- party ids; party ids learnt from a hub's client info belong to a partner
-- behind that hub connection.
CREATE TABLE roaming_party_id (
    id                  uuid PRIMARY KEY,
    partner_id          uuid NOT NULL REFERENCES party (id),
    connection_id       uuid REFERENCES roaming_connection (id),
    country_code        text NOT NULL CHECK (country_code ~ '^[A-Z]{2}$'),
    party_id            text NOT NULL CHECK (party_id ~ '^[A-Z0-9]{3}$'),
    role                text NOT NULL CHECK (role IN ('CPO', 'EMSP', 'HUB', 'NAP', 'NSP', 'OTHER', 'SCSP')),
    hub_status          text CHECK (hub_status IN ('CONNECTED', 'OFFLINE', 'PLANNED', 'SUSPENDED')),
    hub_last_updated    timestamptz,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    UNIQUE (country_code, party_id, role)
);
CREATE INDEX roaming_party_id_partner ON roaming_party_id (partner_id);
CREATE INDEX roaming_party_id_connection ON roaming_party_id (connection_id);

-- A roaming agreement lets a partner's customers charge at our charge points
-- (role cpo: we are the CPO) or ours at theirs (role msp), for a period.
CREATE TABLE roaming_agreement (
    id                  uuid PRIMARY KEY,
    external_reference  text UNIQUE,
    partner_id          uuid NOT NULL REFERENCES party (id),
    role                text NOT NULL CHECK (role IN ('cpo', 'msp')),
    valid_from          timestamptz,
    valid_until         timestamptz,
    external_updated_at timestamptz,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    CHECK (valid_from IS NULL OR valid_until IS NULL OR valid_until > valid_from),
    CONSTRAINT roaming_agreement_one_at_a_time EXCLUDE USING gist (
        partner_id WITH =, role WITH =, tstzrange(valid_from, valid_until, '[)') WITH &&)
);

-- Every OCPI exchange in both directions, for partner troubleshooting.
-- Bodies are masked (tokens) and truncated before they are stored.
CREATE TABLE roaming_exchange (
    id                  uuid PRIMARY KEY,
    at                  timestamptz NOT NULL,
    direction           text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    connection_id       uuid,
    country_code        text,
    party_id            text,
    method              text NOT NULL,
    url                 text NOT NULL,
    http_status         integer NOT NULL,
    ocpi_status         integer,
    duration_ms         double precision NOT NULL,
    request_id          text,
    correlation_id      text,
    request_body        text,
    response_body       text,
    error               text
);
CREATE INDEX roaming_exchange_connection ON roaming_exchange (connection_id, id);
CREATE INDEX roaming_exchange_at ON roaming_exchange (at);
CREATE INDEX roaming_exchange_correlation ON roaming_exchange (correlation_id) WHERE correlation_id IS NOT NULL;

-- +goose Down
DROP TABLE roaming_exchange;
DROP TABLE roaming_agreement;
DROP TABLE roaming_party_id;
DROP TABLE roaming_connection;
DROP TABLE own_party;
