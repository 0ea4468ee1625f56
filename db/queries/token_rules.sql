-- The charge authorization rules in the published tokens (migration 00023;
-- db/token_rules.go).

-- name: TokenRulesChangedAt :many
SELECT token_id, changed_at FROM msp_token_rule_state WHERE token_id = ANY(sqlc.arg(ids)::uuid[]);

-- name: MarkTokenRulesChanged :exec
-- The rules changed these tokens' published valid/whitelist at changed_at
-- (never moves back).
INSERT INTO msp_token_rule_state (token_id, changed_at)
SELECT unnest(sqlc.arg(ids)::uuid[]), sqlc.arg(changed_at)::timestamptz
ON CONFLICT (token_id) DO UPDATE SET changed_at = GREATEST(msp_token_rule_state.changed_at, EXCLUDED.changed_at);

-- name: InsertRuleBoundaryRechecks :execrows
-- Rules whose validity boundary is in (after, upto]: a valid_from passing
-- puts the rule in force (before: not in force), a valid_until passing takes
-- it out (before: the rule without its end). A rule written at or after
-- its boundary was compared when written (the trigger), so that boundary
-- is not queued again.
INSERT INTO msp_token_rule_recheck (rule_id, administration_id, plan_id, subscription_id, before)
SELECT r.id, r.administration_id, r.plan_id, r.subscription_id,
    CASE WHEN r.valid_from > sqlc.arg(after)::timestamptz AND r.valid_from <= sqlc.arg(upto)::timestamptz
            AND r.updated_at < r.valid_from THEN NULL
        ELSE to_jsonb(r) || '{"valid_until": null}'::jsonb END
FROM msp_charge_authorization_rule r
WHERE (r.valid_from > sqlc.arg(after) AND r.valid_from <= sqlc.arg(upto) AND r.updated_at < r.valid_from)
   OR (r.valid_until > sqlc.arg(after) AND r.valid_until <= sqlc.arg(upto) AND r.updated_at < r.valid_until);

-- name: NextRuleRecheck :one
SELECT * FROM msp_token_rule_recheck ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED;

-- name: RuleScopeTokenIDs :many
-- The next batch of tokens (id order, after the cursor) a rule applies to:
-- its administration's tokens, those ever linked to a subscription of its
-- plan, or to its subscription.
SELECT t.id FROM msp_token t
WHERE t.administration_id = sqlc.arg(administration_id) AND t.id > sqlc.arg(after_token)::uuid
  AND ((sqlc.narg(plan_id)::uuid IS NULL AND sqlc.narg(subscription_id)::uuid IS NULL)
    OR EXISTS (SELECT 1 FROM msp_token_link l JOIN msp_token_subscription s ON s.id = l.subscription_id
        WHERE l.token_id = t.id AND (s.id = sqlc.narg(subscription_id) OR s.plan_id = sqlc.narg(plan_id))))
ORDER BY t.id
LIMIT sqlc.arg(page_limit);

-- name: SetRuleRecheckCursor :exec
UPDATE msp_token_rule_recheck SET after_token = $2 WHERE id = $1;

-- name: DeleteRuleRecheck :exec
DELETE FROM msp_token_rule_recheck WHERE id = $1;
