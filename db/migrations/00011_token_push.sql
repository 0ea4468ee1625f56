-- +goose Up
-- Token push (issue 4): a token's OCPI valid flag changes without any write
-- when a validity boundary of one of its live links, or of that link's live
-- subscription, passes. The worker's boundary task pushes those tokens; it
-- remembers up to which instant boundaries were handled, so that each
-- boundary is pushed once even across restarts and several workers.
CREATE TABLE msp_token_push_watermark (
    id           boolean PRIMARY KEY DEFAULT true CHECK (id),
    passed_until timestamptz NOT NULL
);

-- The boundary task looks boundaries up by time; only live records have
-- boundaries that can change a token's validity.
CREATE INDEX msp_token_link_from_idx ON msp_token_link (valid_from) WHERE NOT defunct AND valid_from IS NOT NULL;
CREATE INDEX msp_token_link_until_idx ON msp_token_link (valid_until) WHERE NOT defunct AND valid_until IS NOT NULL;
CREATE INDEX msp_token_subscription_from_idx ON msp_token_subscription (valid_from) WHERE NOT defunct;
CREATE INDEX msp_token_subscription_until_idx ON msp_token_subscription (valid_until) WHERE NOT defunct AND valid_until IS NOT NULL;

-- +goose Down
DROP INDEX msp_token_subscription_until_idx;
DROP INDEX msp_token_subscription_from_idx;
DROP INDEX msp_token_link_until_idx;
DROP INDEX msp_token_link_from_idx;
DROP TABLE msp_token_push_watermark;
