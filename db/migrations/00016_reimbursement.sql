-- +goose Up
-- CPO reimbursements (issue 6; guide 003 → Charge Point Operators →
-- Charge sessions → "Reimbursements"): what we owe a site owner for the
-- charge sessions at their EVSEs. A reimbursement plan says how the amount
-- is found — the amount our charge management system provided, or a
-- calculation from the plan's cost components and calculation inputs —; an
-- arrangement gives a customer a plan for a period, with inputs of its own
-- that take precedence over the plan's; links put EVSEs under an
-- arrangement for a period. Every arrangement linked to the session's EVSE
-- and valid at the session start applies (domain/reimbursement).

CREATE TABLE cpo_reimbursement_plan (
    id                  uuid PRIMARY KEY,
    external_reference  text UNIQUE,
    administration_id   uuid NOT NULL REFERENCES administration (id),
    name                text NOT NULL,
    -- 'cms_provided': the session's CMS reimbursement; 'calculated': the sum
    -- of cost_components priced by the calculation inputs
    calculation         text NOT NULL CHECK (calculation IN ('cms_provided', 'calculated')),
    cost_components     text[] NOT NULL DEFAULT '{}',
    external_updated_at timestamptz,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL
);
CREATE INDEX cpo_reimbursement_plan_admin ON cpo_reimbursement_plan (administration_id, id);

-- administration_id is the customer's (immutable, as the customer is), kept
-- here for scoping.
CREATE TABLE cpo_reimbursement_arrangement (
    id                  uuid PRIMARY KEY,
    external_reference  text UNIQUE,
    administration_id   uuid NOT NULL REFERENCES administration (id),
    customer_id         uuid NOT NULL REFERENCES party (id),
    plan_id             uuid NOT NULL REFERENCES cpo_reimbursement_plan (id),
    valid_from          timestamptz,
    valid_until         timestamptz,
    external_updated_at timestamptz,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    CHECK (valid_from IS NULL OR valid_until IS NULL OR valid_until > valid_from)
);
CREATE INDEX cpo_reimbursement_arrangement_admin ON cpo_reimbursement_arrangement (administration_id, id);
CREATE INDEX cpo_reimbursement_arrangement_customer ON cpo_reimbursement_arrangement (customer_id);
CREATE INDEX cpo_reimbursement_arrangement_plan ON cpo_reimbursement_arrangement (plan_id);

-- A calculation input prices one cost component from valid_from on, either
-- on a plan or on an arrangement (exactly one owner). For a session, the
-- inputs of the plan and of the arrangement are merged by (component,
-- valid_from), the arrangement's winning, and the latest valid_from not
-- after the session start applies.
CREATE TABLE cpo_reimbursement_calculation_input (
    id              uuid PRIMARY KEY,
    plan_id         uuid REFERENCES cpo_reimbursement_plan (id),
    arrangement_id  uuid REFERENCES cpo_reimbursement_arrangement (id),
    component_type  text NOT NULL,
    valid_from      timestamptz NOT NULL,
    value           numeric NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    CHECK ((plan_id IS NULL) <> (arrangement_id IS NULL))
);
CREATE UNIQUE INDEX cpo_reimbursement_input_plan ON cpo_reimbursement_calculation_input (plan_id, component_type, valid_from)
    WHERE plan_id IS NOT NULL;
CREATE UNIQUE INDEX cpo_reimbursement_input_arrangement ON cpo_reimbursement_calculation_input (arrangement_id, component_type, valid_from)
    WHERE arrangement_id IS NOT NULL;

-- An EVSE under an arrangement for a period; one link per arrangement and
-- EVSE at any instant. Several arrangements may cover one EVSE at once:
-- all of them apply.
CREATE TABLE cpo_reimbursement_link (
    id                  uuid PRIMARY KEY,
    external_reference  text UNIQUE,
    arrangement_id      uuid NOT NULL REFERENCES cpo_reimbursement_arrangement (id),
    evse_id             uuid NOT NULL REFERENCES cpo_evse (id),
    valid_from          timestamptz,
    valid_until         timestamptz,
    external_updated_at timestamptz,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    CHECK (valid_from IS NULL OR valid_until IS NULL OR valid_until > valid_from),
    CONSTRAINT cpo_reimbursement_link_one_at_a_time EXCLUDE USING gist (
        arrangement_id WITH =, evse_id WITH =, tstzrange(valid_from, valid_until, '[)') WITH &&)
);
CREATE INDEX cpo_reimbursement_link_evse ON cpo_reimbursement_link (evse_id);

-- The read model cpo-charge-session-reimbursement: reimbursement results
-- by arrangement (charge_session_price.subject_id).
CREATE INDEX charge_session_price_reimbursement ON charge_session_price (subject_id, id) WHERE kind = 'reimbursement';

-- +goose Down
DROP INDEX charge_session_price_reimbursement;
DROP TABLE cpo_reimbursement_link;
DROP TABLE cpo_reimbursement_calculation_input;
DROP TABLE cpo_reimbursement_arrangement;
DROP TABLE cpo_reimbursement_plan;
