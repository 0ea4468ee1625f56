-- +goose Up
-- Partners' tokens as CPO (OCPI mod_tokens, Receiver interface and pull of
-- the partners' Sender interface): the cache our charge points authorize
-- against, and the per-connection cursor of the token pull.

-- One row per token of an eMSP party, keyed as OCPI keys it: (country_code,
-- party_id, uid, type). uid is a CiString: it keeps the casing it was sent
-- with and is compared case-insensitively (lower(uid) in the keys; CiStrings
-- are printable ASCII, so lower() folds exactly the ASCII letters).
-- "object" is the Token as last accepted (all OCPI fields, so that a GET by
-- the eMSP reads back what it pushed); the columns beside it are derived
-- from it at write time for lookups and the Admin API.
CREATE TABLE partner_token (
    id                  uuid PRIMARY KEY,
    connection_id       uuid NOT NULL REFERENCES roaming_connection (id),
    country_code        text NOT NULL CHECK (country_code ~ '^[A-Z]{2}$'),
    party_id            text NOT NULL CHECK (party_id ~ '^[A-Z0-9]{3}$'),
    uid                 text NOT NULL CHECK (uid <> '' AND length(uid) <= 36),
    type                text NOT NULL,
    contract_id         text NOT NULL,
    valid               boolean NOT NULL,
    whitelist           text NOT NULL CHECK (whitelist IN ('ALWAYS', 'ALLOWED', 'ALLOWED_OFFLINE', 'NEVER')),
    last_updated        timestamptz NOT NULL,
    -- how the current version arrived: pushed by the eMSP, pulled from its
    -- Sender interface, or learnt from a real-time authorization answer
    received_via        text NOT NULL CHECK (received_via IN ('push', 'pull', 'realtime')),
    object              jsonb NOT NULL,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL
);
CREATE UNIQUE INDEX partner_token_key ON partner_token (country_code, party_id, lower(uid), type);
-- An RFID reader knows only the uid: the authorization looks tokens up by it.
CREATE INDEX partner_token_uid ON partner_token (lower(uid), type);
CREATE INDEX partner_token_connection ON partner_token (connection_id, id);

-- The token pull of one connection (mod_tokens → Pull model): where the
-- current run stands (next_url: the page to fetch next, committed with the
-- tokens of the page before it, so a crashed run resumes there), and from
-- when the next incremental run asks (date_from). lease_until keeps two
-- workers from walking one connection at once.
CREATE TABLE partner_token_pull (
    connection_id       uuid PRIMARY KEY REFERENCES roaming_connection (id),
    date_from           timestamptz,            -- null until a full pull completed
    next_url            text,                   -- set while a run is under way
    run_started_at      timestamptz,
    run_date_to         timestamptz,            -- partner's clock at the start of the run
    run_pages           integer NOT NULL DEFAULT 0,
    run_tokens          integer NOT NULL DEFAULT 0,
    run_skipped         integer NOT NULL DEFAULT 0,
    requested_at        timestamptz,            -- an operator asked for a pull (Admin API)
    full_requested      boolean NOT NULL DEFAULT false,
    lease_until         timestamptz,
    last_completed_at   timestamptz,
    last_error          text,
    last_error_at       timestamptz,
    updated_at          timestamptz NOT NULL
);

-- +goose Down
DROP TABLE partner_token_pull;
DROP TABLE partner_token;
