-- Token push (db/token_push.go).

-- name: TokenPushKeys :many
-- What a token push needs to address each token: its owner and OCPI key.
SELECT id, country_code, party_id, uid, type FROM msp_token
WHERE id = ANY(sqlc.arg(ids)::uuid[])
ORDER BY id;

-- name: TokenIDsOfSubscription :many
SELECT DISTINCT token_id FROM msp_token_link WHERE subscription_id = $1 ORDER BY token_id;

-- name: LockTokenPushWatermark :one
SELECT passed_until FROM msp_token_push_watermark WHERE id FOR UPDATE;

-- name: InitTokenPushWatermark :exec
INSERT INTO msp_token_push_watermark (passed_until) VALUES ($1) ON CONFLICT (id) DO NOTHING;

-- name: SetTokenPushWatermark :exec
UPDATE msp_token_push_watermark SET passed_until = $1 WHERE id;

-- name: PassedTokenBoundaries :many
-- Tokens with a validity boundary in (after, upto]: a boundary of a live
-- link, or of a live link's live subscription (token.Issued.State counts
-- the same ones), earliest first, at most page_limit rows.
SELECT token_id, boundary::timestamptz AS boundary FROM (
    SELECT l.token_id, l.valid_from AS boundary FROM msp_token_link l
    WHERE NOT l.defunct AND l.valid_from > sqlc.arg(after)::timestamptz AND l.valid_from <= sqlc.arg(upto)::timestamptz
    UNION ALL
    SELECT l.token_id, l.valid_until FROM msp_token_link l
    WHERE NOT l.defunct AND l.valid_until > sqlc.arg(after) AND l.valid_until <= sqlc.arg(upto)
    UNION ALL
    SELECT l.token_id, s.valid_from FROM msp_token_subscription s JOIN msp_token_link l ON l.subscription_id = s.id
    WHERE NOT s.defunct AND NOT l.defunct AND s.valid_from > sqlc.arg(after) AND s.valid_from <= sqlc.arg(upto)
    UNION ALL
    SELECT l.token_id, s.valid_until FROM msp_token_subscription s JOIN msp_token_link l ON l.subscription_id = s.id
    WHERE NOT s.defunct AND NOT l.defunct AND s.valid_until > sqlc.arg(after) AND s.valid_until <= sqlc.arg(upto)
) b
ORDER BY boundary, token_id
LIMIT sqlc.arg(page_limit);
