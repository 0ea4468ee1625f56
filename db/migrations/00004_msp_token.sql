-- +goose Up
-- MSP tokens and what makes them valid (guide 003 → Mobility Service
-- Provider, eMobility identifiers, Validity periods): tokens, subscription
-- plans, subscriptions (customer + plan + validity), token links (token ↔
-- subscription + validity), and the real-time authorizations we answered.
-- Validity periods are half-open [valid_from, valid_until), whole minutes;
-- NULL bounds are unbounded.

-- btree_gist is created by the spine; repeated here so that this migration
-- stands on its own (the exclusion constraint below needs it).
CREATE EXTENSION IF NOT EXISTS btree_gist;

-- A token (charge card, key fob, app user). evco_id is the normalised
-- EVCO ID (eMA-ID with check digit); country_code/party_id are its country
-- and provider, the eMSP party that owns the token in OCPI. uid keeps its
-- original casing; uid_key is its upper-cased comparison key (computed by
-- the application, ASCII only) and, with the type, identifies the token in
-- OCPI (mod_tokens: "The combination of uid and type should be unique").
CREATE TABLE msp_token (
    id                  uuid PRIMARY KEY,
    administration_id   uuid NOT NULL REFERENCES administration (id),
    external_reference  text UNIQUE,
    evco_id             text NOT NULL UNIQUE,
    country_code        text NOT NULL CHECK (country_code ~ '^[A-Z]{2}$'),
    party_id            text NOT NULL CHECK (party_id ~ '^[A-Z0-9]{3}$'),
    uid                 text NOT NULL CHECK (uid ~ '^[!-~]{1,36}$'),
    uid_key             text NOT NULL,
    type                text NOT NULL CHECK (type IN ('AD_HOC_USER', 'APP_USER', 'OTHER', 'RFID')),
    form_factor         text CHECK (form_factor IN ('card', 'keychain', 'sticker', 'virtual', 'other')),
    brand               text,
    issuer              text NOT NULL,
    visual_number       text,
    group_id            text,
    language            text,
    whitelist           text CHECK (whitelist IN ('ALWAYS', 'ALLOWED', 'ALLOWED_OFFLINE', 'NEVER')),
    external_updated_at timestamptz,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    CONSTRAINT msp_token_uid_type_key UNIQUE (uid_key, type)
);
CREATE INDEX msp_token_admin_idx ON msp_token (administration_id, id);

-- A subscription plan: the name under which it is marketed, its publishing
-- period (informative, not enforced: guide "Subscription plan") and its
-- rate plan. Rate plans come with a later capability: rate_plan_id has no
-- foreign key yet; that migration adds it.
CREATE TABLE msp_token_subscription_plan (
    id                  uuid PRIMARY KEY,
    administration_id   uuid NOT NULL REFERENCES administration (id),
    external_reference  text UNIQUE,
    name                text NOT NULL,
    description         text,
    rate_plan_id        uuid,
    publish_from        timestamptz,
    publish_until       timestamptz,
    external_updated_at timestamptz,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    CHECK (publish_from IS NULL OR publish_until IS NULL OR publish_until > publish_from)
);
CREATE INDEX msp_token_subscription_plan_admin_idx ON msp_token_subscription_plan (administration_id, id);

-- A subscription: a customer's agreement under a plan, in the plan's
-- administration, from valid_from (required: "Every subscription has a
-- defined start") until valid_until. Defunct is one-way.
CREATE TABLE msp_token_subscription (
    id                  uuid PRIMARY KEY,
    administration_id   uuid NOT NULL REFERENCES administration (id),
    external_reference  text UNIQUE,
    customer_id         uuid NOT NULL REFERENCES party (id),
    plan_id             uuid NOT NULL REFERENCES msp_token_subscription_plan (id),
    buyer_reference     text,
    valid_from          timestamptz NOT NULL,
    valid_until         timestamptz,
    defunct             boolean NOT NULL DEFAULT false,
    external_updated_at timestamptz,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    CHECK (valid_until IS NULL OR valid_until > valid_from)
);
CREATE INDEX msp_token_subscription_admin_idx ON msp_token_subscription (administration_id, id);
CREATE INDEX msp_token_subscription_customer_idx ON msp_token_subscription (customer_id);

-- A token link puts a token in a subscription for a period. A token belongs
-- to at most one subscription at any instant, "regardless of the
-- subscription's validity": live (not defunct) links of one token never
-- overlap. Half-open ranges make the hand-over (old valid_until = new
-- valid_from) legal.
CREATE TABLE msp_token_link (
    id                  uuid PRIMARY KEY,
    external_reference  text UNIQUE,
    token_id            uuid NOT NULL REFERENCES msp_token (id),
    subscription_id     uuid NOT NULL REFERENCES msp_token_subscription (id),
    valid_from          timestamptz,
    valid_until         timestamptz,
    defunct             boolean NOT NULL DEFAULT false,
    external_updated_at timestamptz,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    CHECK (valid_from IS NULL OR valid_until IS NULL OR valid_until > valid_from),
    CONSTRAINT msp_token_link_one_subscription_at_a_time EXCLUDE USING gist (
        token_id WITH =, tstzrange(valid_from, valid_until, '[)') WITH &&) WHERE (NOT defunct)
);
CREATE INDEX msp_token_link_token_idx ON msp_token_link (token_id);
CREATE INDEX msp_token_link_subscription_idx ON msp_token_link (subscription_id);

-- msp_token_link_changed is one link's contribution to its token's OCPI
-- last_updated at instant "at" (see token.Issued.State, which computes the
-- same in Go): the link's and its subscription's updated_at, and each
-- validity bound that has passed of a live link and of its subscription
-- when that is live too. GREATEST ignores NULLs; a missing link gives NULL.
-- +goose StatementBegin
CREATE FUNCTION msp_token_link_changed(
    l_updated timestamptz, l_from timestamptz, l_until timestamptz, l_defunct boolean,
    s_updated timestamptz, s_from timestamptz, s_until timestamptz, s_defunct boolean,
    at timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT GREATEST(l_updated, s_updated,
        CASE WHEN NOT l_defunct AND l_from <= at THEN l_from END,
        CASE WHEN NOT l_defunct AND l_until <= at THEN l_until END,
        CASE WHEN NOT l_defunct AND NOT s_defunct AND s_from <= at THEN s_from END,
        CASE WHEN NOT l_defunct AND NOT s_defunct AND s_until <= at THEN s_until END)
$$;
-- +goose StatementEnd

-- Every real-time authorization we answered (Tokens sender, POST
-- …/authorize), so that Sessions and CDRs carrying its
-- authorization_reference (the id, as text) can be matched to it later.
-- connection_id is the partner that asked; country_code/party_id its
-- OCPI-from party when the request named one. This table is written on the
-- hot path (one row per answer, group-committed), so it carries only its
-- primary key: token_id comes from the token just read in the same request
-- and tokens are never deleted, so no foreign key check is spent on it.
CREATE TABLE msp_token_authorization (
    id                  uuid PRIMARY KEY,
    token_id            uuid NOT NULL,
    connection_id       uuid,
    country_code        text,
    party_id            text,
    location_id         text,
    evse_uids           text[],
    allowed             text NOT NULL,
    reason              text NOT NULL,
    at                  timestamptz NOT NULL
);

-- +goose Down
DROP FUNCTION msp_token_link_changed;
DROP TABLE msp_token_authorization;
DROP TABLE msp_token_link;
DROP TABLE msp_token_subscription;
DROP TABLE msp_token_subscription_plan;
DROP TABLE msp_token;
