-- +goose Up
-- "Use Customer Reimbursement VAT" of an MSP subscription plan (guide 003 →
-- "Subscription plan: use customer reimbursement VAT": "An MSP subscription
-- plan includes a property called “Use Customer Reimbursement VAT”, which
-- can be enabled to apply VAT exempt to charge sessions in certain cases").
-- Off by default: the plan's sessions get the normal VAT determination.
ALTER TABLE msp_token_subscription_plan ADD COLUMN use_customer_reimbursement_vat boolean NOT NULL DEFAULT false;

-- +goose Down
ALTER TABLE msp_token_subscription_plan DROP COLUMN use_customer_reimbursement_vat;
