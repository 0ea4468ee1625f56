-- name: ChargeSessionIDsByAuthorizationReference :many
-- The charge sessions (CDRs) of a token that carry an authorization
-- reference, of the sides asked, oldest first (a handful at most: a
-- reference belongs to one charge, credit CDRs and replacements repeat
-- it). Another token's CDR carrying the same reference (a CPO's mistake)
-- is not this authorization's, and may belong to another administration.
SELECT id, side, cdr_id, state FROM charge_session
WHERE lower(authorization_reference) = lower(@reference) AND authorization_reference IS NOT NULL AND side = ANY(@sides::text[])
  AND token_uid_key = @token_uid_key AND token_type = @token_type
ORDER BY id LIMIT 100;

-- name: PartnerSessionIDsByAuthorizationReference :many
-- The partner's session reports (msp-charge-session-progress) of a token
-- that carry an authorization reference.
SELECT id, session_id, status FROM partner_session
WHERE lower(authorization_reference) = lower(@reference) AND authorization_reference IS NOT NULL
  AND token_uid_key = @token_uid_key AND token_type = @token_type
ORDER BY id LIMIT 100;

-- name: AuthorizedTokenOf :one
-- The token a stored authorization was answered for, with its owner.
SELECT id, administration_id, uid, type, evco_id FROM msp_token WHERE id = @id;
