-- Credit CDRs in both roles (mod_cdrs → Credit CDRs; migration 00019).

-- name: CreditedSessionOf :one
-- The session a credit CDR's session credits, with its state (a credit is
-- priced as the reversal of that session's latest results).
SELECT c.id, c.cdr_id, c.state FROM charge_session s JOIN charge_session c ON c.id = s.credited_session_id
WHERE s.id = @id;

-- name: CreditOfSession :one
-- The credit CDR that credits a session, if any (a CDR is credited once).
SELECT id, cdr_id FROM charge_session WHERE credited_session_id = @credited_session_id;

-- name: InsertCPOCDRCorrection :exec
INSERT INTO cpo_cdr_correction (id, cpo_session_id, charge_session_id, seq, kind, credit_reference_id, country_code, party_id,
    token_country_code, token_party_id, doc, published_at)
VALUES (@id, @cpo_session_id, @charge_session_id, @seq, @kind, sqlc.narg(credit_reference_id), @country_code, @party_id,
    @token_country_code, @token_party_id, @doc, @published_at);

-- name: LatestCPOCDRCorrection :one
-- The last correction CDR of a session (its replacement is the CDR in force).
SELECT * FROM cpo_cdr_correction WHERE charge_session_id = @charge_session_id ORDER BY seq DESC LIMIT 1;

-- name: CPOCDRCorrection :one
SELECT * FROM cpo_cdr_correction WHERE id = @id;

-- name: CPOCDRCorrectionsOfSession :many
SELECT * FROM cpo_cdr_correction WHERE charge_session_id = @charge_session_id ORDER BY seq;

-- name: CountOCPICDRDocs :one
-- The CDRs sender's total: our party's published CDRs (first CDRs and
-- their credit and replacement CDRs) whose token belongs to one of the
-- caller's parties, in the window [date_from, date_to) of publication.
SELECT ((SELECT count(*) FROM cpo_session s
    WHERE s.country_code = @country_code AND s.party_id = @party_id AND s.cdr_published_at IS NOT NULL
      AND s.token_country_code = ANY(@countries::text[]) AND s.token_party_id = ANY(@parties::text[])
      AND (s.token_country_code || '-' || s.token_party_id) = ANY(@party_keys::text[])
      AND (sqlc.narg(date_from)::timestamptz IS NULL OR s.cdr_published_at >= sqlc.narg(date_from))
      AND (sqlc.narg(date_to)::timestamptz IS NULL OR s.cdr_published_at < sqlc.narg(date_to)))
  + (SELECT count(*) FROM cpo_cdr_correction k
    WHERE k.country_code = @country_code AND k.party_id = @party_id
      AND k.token_country_code = ANY(@countries::text[]) AND k.token_party_id = ANY(@parties::text[])
      AND (k.token_country_code || '-' || k.token_party_id) = ANY(@party_keys::text[])
      AND (sqlc.narg(date_from)::timestamptz IS NULL OR k.published_at >= sqlc.narg(date_from))
      AND (sqlc.narg(date_to)::timestamptz IS NULL OR k.published_at < sqlc.narg(date_to))))::bigint AS total;

-- name: PageOCPICDRDocs :many
-- A page of the CDRs sender, oldest publication first; a session's credit
-- CDR comes before its replacement.
SELECT d.doc::jsonb AS doc FROM (
    SELECT s.cdr_doc AS doc, s.cdr_published_at AS published_at, s.charge_session_id AS session, 0 AS seq FROM cpo_session s
    WHERE s.country_code = @country_code AND s.party_id = @party_id AND s.cdr_published_at IS NOT NULL
      AND s.token_country_code = ANY(@countries::text[]) AND s.token_party_id = ANY(@parties::text[])
      AND (s.token_country_code || '-' || s.token_party_id) = ANY(@party_keys::text[])
      AND (sqlc.narg(date_from)::timestamptz IS NULL OR s.cdr_published_at >= sqlc.narg(date_from))
      AND (sqlc.narg(date_to)::timestamptz IS NULL OR s.cdr_published_at < sqlc.narg(date_to))
    UNION ALL
    SELECT k.doc, k.published_at, k.charge_session_id, k.seq FROM cpo_cdr_correction k
    WHERE k.country_code = @country_code AND k.party_id = @party_id
      AND k.token_country_code = ANY(@countries::text[]) AND k.token_party_id = ANY(@parties::text[])
      AND (k.token_country_code || '-' || k.token_party_id) = ANY(@party_keys::text[])
      AND (sqlc.narg(date_from)::timestamptz IS NULL OR k.published_at >= sqlc.narg(date_from))
      AND (sqlc.narg(date_to)::timestamptz IS NULL OR k.published_at < sqlc.narg(date_to))
) d
ORDER BY d.published_at, d.session, d.seq
OFFSET @page_offset LIMIT @page_limit;
