-- +goose NO TRANSACTION
-- +goose Up
-- The authorization_reference of a CDR (mod_cdrs: "Reference to the
-- authorization given by the eMSP … this field SHALL contain the same
-- value" as the real-time authorization's), so that a charge session can
-- be matched to the decision we stored for it (msp_token_authorization,
-- whose id is the reference we hand out) and to the partner's session
-- reports carrying the same reference. It is a CiString (compared
-- ignoring case, on lower()). Partial indexes: most CDRs of
-- whitelisted tokens carry none, and those cost no index entry. The
-- indexes are built CONCURRENTLY (outside a transaction) so that CDR intake
-- goes on during the build on a large table; IF NOT EXISTS lets a rerun
-- after an interrupted build finish (drop an index left INVALID first).
ALTER TABLE charge_session ADD COLUMN IF NOT EXISTS authorization_reference text;
CREATE INDEX CONCURRENTLY IF NOT EXISTS charge_session_authorization_reference ON charge_session (lower(authorization_reference))
    WHERE authorization_reference IS NOT NULL;
CREATE INDEX CONCURRENTLY IF NOT EXISTS partner_session_authorization_reference ON partner_session (lower(authorization_reference))
    WHERE authorization_reference IS NOT NULL;

-- +goose Down
DROP INDEX partner_session_authorization_reference;
DROP INDEX charge_session_authorization_reference;
ALTER TABLE charge_session DROP COLUMN authorization_reference;
