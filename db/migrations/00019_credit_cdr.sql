-- +goose Up
-- Credit CDRs in both roles (mod_cdrs → Credit CDRs; issue 6).
--
-- eMSP side: a CDR is credited at most once. A second credit CDR for the
-- same CDR (under another id) is refused at intake; the index makes that
-- hold under concurrent posts too.
CREATE UNIQUE INDEX charge_session_credited_once ON charge_session (credited_session_id)
    WHERE credited_session_id IS NOT NULL;

-- The result a credit CDR's result reverses: {charge_session_id, cdr_id,
-- price_id, version} of the credited session's latest result of the same
-- kind; NULL for every other result.
ALTER TABLE charge_session_price ADD COLUMN credit_of jsonb;

-- CPO side: the credit and replacement CDRs we publish when a session is
-- repriced after its CDR was published and its roaming cost changed. The
-- first CDR stays on cpo_session (cdr_doc); each correction appends a
-- credit (seq odd) crediting the CDR in force and its replacement (seq
-- even), immutable once written, in the pricing commit's transaction.
CREATE TABLE cpo_cdr_correction (
    id                   text PRIMARY KEY,
    cpo_session_id       uuid NOT NULL REFERENCES cpo_session (id),
    charge_session_id    uuid NOT NULL REFERENCES charge_session (id),
    seq                  integer NOT NULL CHECK (seq > 0),
    kind                 text NOT NULL CHECK (kind IN ('credit', 'replacement')),
    credit_reference_id  text,
    -- our CPO party and the token's owner (the CDRs sender's filters)
    country_code         text NOT NULL,
    party_id             text NOT NULL,
    token_country_code   text NOT NULL,
    token_party_id       text NOT NULL,
    doc                  jsonb NOT NULL,
    published_at         timestamptz NOT NULL,
    UNIQUE (charge_session_id, seq),
    CHECK ((kind = 'credit') = (credit_reference_id IS NOT NULL))
);
CREATE INDEX cpo_cdr_correction_party ON cpo_cdr_correction (token_country_code, token_party_id, published_at, charge_session_id, seq);

-- +goose Down
DROP TABLE cpo_cdr_correction;
ALTER TABLE charge_session_price DROP COLUMN credit_of;
DROP INDEX charge_session_credited_once;
