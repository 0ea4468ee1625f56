-- +goose Up
-- Webhooks (issue 7): subscriptions, their delivery state and log, and what
-- makes the outbox safe to read in order.
--
-- outbox_event.seq order is the delivery order. A bigserial is allocated at
-- INSERT and becomes visible at COMMIT, so seq 11 can be visible while seq 10
-- is still uncommitted: a reader that moved its cursor past 11 would skip 10
-- for ever. The webhook dispatcher therefore only delivers up to a "horizon"
-- (webhook_horizon.seq) below which every event is final: committed (and
-- visible) or rolled back. Proof sketch (db/webhook.go, Horizon):
--
--   1. The trigger below assigns the transaction's id (xid) BEFORE it draws
--      the seq, so a transaction that holds seq s had its xid before s was
--      drawn.
--   2. The dispatcher reads, in one statement, M = max(seq) and the snapshot
--      S. Every s <= M was drawn before M, and M's transaction committed
--      before S was taken, so every transaction holding an s <= M had its
--      xid before S: it had ended at S, or it is in S's in-progress list.
--   3. Later, once every transaction of S's in-progress list that belongs
--      to this database has ended (pg_xact_status), every such transaction
--      has ended (only this database's transactions write this outbox), so
--      M is a safe horizon.
--
-- Sequences hand out values in increasing time order (cache 1, the default).
-- +goose StatementBegin
CREATE FUNCTION outbox_event_seq() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_current_xact_id(); -- assigns the xid now, before the seq (step 1)
    NEW.seq := nextval('outbox_event_seq_seq');
    RETURN NEW;
END
$$;
-- +goose StatementEnd
ALTER TABLE outbox_event ALTER COLUMN seq DROP DEFAULT;
CREATE TRIGGER outbox_event_seq BEFORE INSERT ON outbox_event
    FOR EACH ROW EXECUTE FUNCTION outbox_event_seq();

-- One row: every outbox event with seq <= this is final.
CREATE TABLE webhook_horizon (
    one  boolean PRIMARY KEY DEFAULT true CHECK (one),
    seq  bigint NOT NULL
);
INSERT INTO webhook_horizon (seq) VALUES (0);

-- A subscription. The delivery state (cursor, attempts, failing since,
-- lease) lives here, in Postgres; Redis only holds drain tasks, which the
-- dispatcher re-creates from this table.
CREATE TABLE webhook_subscription (
    id                          uuid PRIMARY KEY,
    external_reference          text UNIQUE,
    owner_account_id            uuid NOT NULL REFERENCES api_account (id),
    name                        text,
    url                         text NOT NULL,
    kinds                       text[] NOT NULL DEFAULT '{}',     -- "kind" or "kind.modification"; empty = all
    headers                     jsonb NOT NULL DEFAULT '{}',      -- custom request headers (name → value)
    secret                      text NOT NULL,                    -- HMAC key (needed in clear to sign)
    previous_secret             text,                             -- still signed with during the overlap
    previous_secret_expires_at  timestamptz,
    batch_size                  integer NOT NULL DEFAULT 1 CHECK (batch_size BETWEEN 1 AND 1000),
    batch_linger_ms             integer NOT NULL DEFAULT 0 CHECK (batch_linger_ms BETWEEN 0 AND 60000),
    state                       text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'paused', 'failing')),
    cursor_seq                  bigint NOT NULL,                  -- last outbox seq handled (delivered, skipped or filtered out)
    attempts                    integer NOT NULL DEFAULT 0,       -- failed attempts of the message at the head
    failing_since               timestamptz,                      -- first failure of the head message
    next_attempt_at             timestamptz,                      -- backoff: no attempt before this
    last_error                  text,
    last_delivered_at           timestamptz,
    lease_owner                 uuid,                             -- the drain holding the subscription
    lease_until                 timestamptz,
    external_updated_at         timestamptz,
    created_at                  timestamptz NOT NULL,
    updated_at                  timestamptz NOT NULL
);

-- Every delivery attempt (and every operator skip), for the Admin API.
CREATE TABLE webhook_delivery (
    id               uuid PRIMARY KEY,
    subscription_id  uuid NOT NULL REFERENCES webhook_subscription (id),
    at               timestamptz NOT NULL,
    outcome          text NOT NULL CHECK (outcome IN ('delivered', 'failed', 'skipped')),
    first_event_id   uuid NOT NULL,
    last_event_id    uuid NOT NULL,
    event_count      integer NOT NULL,
    attempt          integer NOT NULL,
    http_status      integer,
    duration_ms      integer NOT NULL,
    error            text
);
CREATE INDEX webhook_delivery_sub_idx ON webhook_delivery (subscription_id, id);
CREATE INDEX webhook_delivery_at_idx ON webhook_delivery (at);

-- +goose Down
DROP TABLE webhook_delivery;
DROP TABLE webhook_subscription;
DROP TABLE webhook_horizon;
DROP TRIGGER outbox_event_seq ON outbox_event;
ALTER TABLE outbox_event ALTER COLUMN seq SET DEFAULT nextval('outbox_event_seq_seq');
DROP FUNCTION outbox_event_seq();
