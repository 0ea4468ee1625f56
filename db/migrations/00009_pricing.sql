-- +goose Up
-- The pricing framework of the charge-session pipeline (issue 6; guide 003
-- → Charge Sessions, Rate plan, Reimbursements, Roaming): a session in
-- ready_for_pricing is owed the pricing step when its side has pricers
-- (domain/session.Pipeline.Pricers) and moves to priced with every result,
-- or drops out at a pricing check. Each result is kept as a version per
-- (session, kind, subject): repricing appends version n+1 and keeps the
-- older ones, so every amount ever shown stays explainable.

ALTER TABLE charge_session DROP CONSTRAINT charge_session_state_check;
ALTER TABLE charge_session ADD CONSTRAINT charge_session_state_check
    CHECK (state IN ('received', 'matching', 'validating', 'dropped_out', 'ready_for_pricing', 'priced', 'discarded'));
-- Why the next pricing happens when it is not the first ('initial') nor a
-- plain reprocessing ('repriced'): set by a reprice request (a correction
-- of the plan or customer, an operator), recorded as the new versions'
-- reason and cleared when they are committed.
ALTER TABLE charge_session ADD COLUMN pricing_reason text;
-- The sweeper's view of sessions owed pricing: ready_for_pricing of the
-- sides that have pricers (charge_session_state covers (side, state, id)
-- already; pending work of the other states keeps charge_session_pending).

-- A pricing result: one amount of a session (kind msp: what our customer
-- pays; roaming_cost: what we charge the eMSP; reimbursement: what we owe
-- a site owner, one per arrangement = subject) with its VAT, subtotals per
-- component (domain/session.PriceComponent as JSON: component, volume,
-- unit, excl_vat, vat_rate, vat, incl_vat; decimals as strings) and the
-- explainable breakdown (detail). Totals are the sums of the components.
CREATE TABLE charge_session_price (
    id                 uuid PRIMARY KEY,
    charge_session_id  uuid NOT NULL REFERENCES charge_session (id) ON DELETE CASCADE,
    kind               text NOT NULL CHECK (kind IN ('msp', 'roaming_cost', 'reimbursement')),
    subject_id         uuid,
    version            integer NOT NULL CHECK (version > 0),
    -- the session's administration when priced (read-model scoping)
    administration_id  uuid REFERENCES administration (id),
    currency           text NOT NULL,
    excl_vat           numeric NOT NULL,
    vat                numeric NOT NULL,
    incl_vat           numeric NOT NULL,
    components         jsonb NOT NULL,
    detail             jsonb NOT NULL DEFAULT '{}',
    -- why this version: 'initial', 'repriced', or the reprice request's reason
    reason             text NOT NULL,
    created_at         timestamptz NOT NULL
);
CREATE UNIQUE INDEX charge_session_price_version
    ON charge_session_price (charge_session_id, kind, coalesce(subject_id, '00000000-0000-0000-0000-000000000000'::uuid), version);
-- the read models: a kind's results by session
CREATE INDEX charge_session_price_kind ON charge_session_price (kind, charge_session_id, version);

-- +goose Down
DROP TABLE charge_session_price;
ALTER TABLE charge_session DROP COLUMN pricing_reason;
UPDATE charge_session SET state = 'ready_for_pricing' WHERE state = 'priced';
ALTER TABLE charge_session DROP CONSTRAINT charge_session_state_check;
ALTER TABLE charge_session ADD CONSTRAINT charge_session_state_check
    CHECK (state IN ('received', 'matching', 'validating', 'dropped_out', 'ready_for_pricing', 'discarded'));
