-- +goose Up
-- Charge credits (issue 6 → MSP pricing; guide 003 → Charge credits): "A
-- token subscription can be assigned charge credits, which can be used to
-- pay for charge sessions. These credits can be allocated either as
-- monetary value or energy (kWh). Once credits are assigned, they will
-- automatically be used for all charge sessions until the credits are fully
-- depleted." Monetary credits are excluding VAT ("Monetary credit values
-- are calculated excluding VAT") in the subscription's administration
-- currency (the currency its rate plan must have to be usable).
--
-- One row per grant holds its balance; the database refuses a negative
-- balance (CHECK), so that two sessions consuming the same credit at the
-- same time cannot both succeed when only one is covered: the second
-- conditional decrement violates the check, its pricing transaction rolls
-- back and the step is retried against the fresh balance.
CREATE TABLE charge_credit (
    id                 uuid PRIMARY KEY,
    subscription_id    uuid NOT NULL REFERENCES msp_token_subscription (id),
    -- the subscription's administration (API scoping)
    administration_id  uuid NOT NULL REFERENCES administration (id),
    external_reference text UNIQUE,
    kind               text NOT NULL CHECK (kind IN ('monetary', 'energy')),
    -- ISO 4217 of a monetary credit; NULL for energy (kWh)
    currency           text CHECK (currency ~ '^[A-Z]{3}$'),
    granted            numeric NOT NULL CHECK (granted > 0),
    balance            numeric NOT NULL,
    -- sessions starting in [valid_from, valid_until) may consume it
    valid_from         timestamptz NOT NULL,
    valid_until        timestamptz,
    description        text,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    CONSTRAINT charge_credit_balance_not_negative CHECK (balance >= 0),
    CONSTRAINT charge_credit_balance_within_grant CHECK (balance <= granted),
    CHECK ((kind = 'monetary') = (currency IS NOT NULL)),
    CHECK (valid_until IS NULL OR valid_until > valid_from)
);
CREATE INDEX charge_credit_subscription ON charge_credit (subscription_id, valid_from);
CREATE INDEX charge_credit_admin ON charge_credit (administration_id, id);
-- the expiry sweep: credits past their validity that still hold a balance
CREATE INDEX charge_credit_expiring ON charge_credit (valid_until) WHERE valid_until IS NOT NULL AND balance > 0;

-- The ledger of every change of a balance: the grant, a consumption per
-- session and price component, the reversal of a session's consumption
-- when it is repriced (its new version consumes again in the same
-- transaction), and the expiry of what is left when the validity ends.
-- amount is the signed change of the balance, balance_after the balance
-- once applied; the sum of a credit's amounts is its balance.
CREATE TABLE charge_credit_movement (
    id                uuid PRIMARY KEY,
    credit_id         uuid NOT NULL REFERENCES charge_credit (id),
    subscription_id   uuid NOT NULL,
    administration_id uuid NOT NULL,
    kind              text NOT NULL CHECK (kind IN ('grant', 'consumption', 'reversal', 'expiry')),
    amount            numeric NOT NULL,
    balance_after     numeric NOT NULL CHECK (balance_after >= 0),
    charge_session_id uuid REFERENCES charge_session (id) ON DELETE SET NULL,
    -- the pricing result version that consumed (consumption) or whose
    -- repricing gave the credit back (reversal: the new version)
    price_id          uuid REFERENCES charge_session_price (id) ON DELETE SET NULL,
    component         text,
    -- the money the movement covered (excluding VAT, in the result's
    -- currency): for an energy credit, the price of the kWh it paid
    covered_excl_vat  numeric,
    created_at        timestamptz NOT NULL,
    CHECK (CASE kind WHEN 'grant' THEN amount > 0 WHEN 'reversal' THEN amount > 0 ELSE amount < 0 END),
    CHECK ((kind IN ('consumption', 'reversal')) = (component IS NOT NULL))
);
CREATE INDEX charge_credit_movement_credit ON charge_credit_movement (credit_id, id);
CREATE INDEX charge_credit_movement_subscription ON charge_credit_movement (subscription_id, id);
CREATE INDEX charge_credit_movement_session ON charge_credit_movement (charge_session_id) WHERE charge_session_id IS NOT NULL;
CREATE INDEX charge_credit_movement_admin ON charge_credit_movement (administration_id, id);

-- +goose Down
DROP TABLE charge_credit_movement;
DROP TABLE charge_credit;
