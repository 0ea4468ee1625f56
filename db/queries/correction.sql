-- Plan-or-customer corrections of MSP token subscriptions (guide 003 →
-- Token validity: "For corrections, including retroactive changes, use the
-- /msp-token-subscription/{id}/plan-or-customer-correction endpoint. This
-- handles subscription corrections, including moving tokens and repricing
-- charge sessions").

-- name: LockLiveLinksOfSubscription :many
-- The live (not defunct) links of a subscription, locked, in id order.
SELECT * FROM msp_token_link WHERE subscription_id = $1 AND NOT defunct ORDER BY id FOR UPDATE;

-- name: CorrectSubscriptionParties :one
-- An in-place correction: the subscription's plan and customer (and the
-- plan's administration) change for its whole period.
UPDATE msp_token_subscription SET plan_id = @plan_id, customer_id = @customer_id, administration_id = @administration_id, updated_at = @updated_at
WHERE id = @id
RETURNING *;

-- name: EndSubscriptionAt :one
-- The corrected subscription ends where its correction starts.
UPDATE msp_token_subscription SET valid_until = @valid_until, updated_at = @updated_at WHERE id = @id RETURNING *;

-- name: EndLinkAt :one
-- A link running across the correction's start ends there.
UPDATE msp_token_link SET valid_until = @valid_until, updated_at = @updated_at WHERE id = @id RETURNING *;

-- name: MoveLinkToSubscription :one
-- A link starting at or after the correction's start belongs to the
-- subscription the correction moves its token to.
UPDATE msp_token_link SET subscription_id = @subscription_id, updated_at = @updated_at WHERE id = @id RETURNING *;

-- name: SessionsToReprice :many
-- The MSP sessions a correction affects: those whose latest result was
-- priced for the subscription, starting at or after @from, and (unless
-- @all_links) through one of the given token links.
SELECT p.charge_session_id FROM charge_session_price p
JOIN charge_session cs ON cs.id = p.charge_session_id
WHERE p.kind = 'msp' AND p.latest AND p.subscription_id = @subscription_id AND cs.start_at >= @from_at
  AND (@all_links::bool OR (p.detail ->> 'token_link_id')::uuid = ANY(@link_ids::uuid[]))
ORDER BY p.charge_session_id;
