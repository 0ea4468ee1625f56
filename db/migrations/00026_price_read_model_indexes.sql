-- +goose NO TRANSACTION
-- +goose Up
-- The read models cpo-charge-session-roaming-cost and
-- cpo-charge-session-reimbursement page through one kind of result in id
-- order; without these, each page (and every empty poll) walks the
-- results of every kind, mostly MSP prices. Partial: the MSP pricing
-- commit, the hot path, adds no entry to them. Built CONCURRENTLY, as in
-- 00024.
CREATE INDEX CONCURRENTLY IF NOT EXISTS charge_session_price_roaming_cost_id ON charge_session_price (id)
    WHERE kind = 'roaming_cost';
CREATE INDEX CONCURRENTLY IF NOT EXISTS charge_session_price_reimbursement_id ON charge_session_price (id)
    WHERE kind = 'reimbursement';

-- +goose Down
DROP INDEX IF EXISTS charge_session_price_reimbursement_id;
DROP INDEX IF EXISTS charge_session_price_roaming_cost_id;
