-- name: PushReceivers :many
-- Registered connections whose partner lists a receiver endpoint for the
-- module (version details stored at registration), in id order so that
-- every writer locks push rows in the same order.
SELECT c.id, e.url::text AS url
FROM roaming_connection c,
     jsonb_to_recordset(c.their_endpoints) AS e(identifier text, role text, url text)
WHERE c.status = 'registered' AND e.identifier = sqlc.arg(module)::text AND e.role = 'RECEIVER'
ORDER BY c.id;

-- name: EnsurePushGroup :exec
INSERT INTO ocpi_push (connection_id, module, grp, from_country, from_party)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (connection_id, module, grp) DO NOTHING;

-- name: LockPushGroup :one
SELECT * FROM ocpi_push WHERE connection_id = $1 AND module = $2 AND grp = $3 FOR UPDATE;

-- name: SetPushItems :exec
-- A writer added work: due now, unless the partner is failing and the
-- group waits for its backoff (new changes must not hammer a partner that
-- is down; they go with the next attempt).
UPDATE ocpi_push SET items = $4, seq = $5, from_country = $6, from_party = $7,
    next_attempt_at = CASE WHEN attempts = 0 THEN least(next_attempt_at, now()) ELSE next_attempt_at END,
    updated_at = now()
WHERE connection_id = $1 AND module = $2 AND grp = $3;

-- name: ClaimPushGroup :one
-- Take the group's lease when it has work that is due and nobody holds it.
UPDATE ocpi_push SET lease_until = sqlc.arg(lease_until)::timestamptz
WHERE connection_id = $1 AND module = $2 AND grp = $3
  AND items <> '[]'::jsonb AND next_attempt_at <= now()
  AND (lease_until IS NULL OR lease_until < now())
RETURNING *;

-- name: CompletePushItem :exec
UPDATE ocpi_push SET items = $4, lease_until = $5, attempts = 0, last_error = NULL, last_sent_at = now(),
    updated_at = now()
WHERE connection_id = $1 AND module = $2 AND grp = $3;

-- name: ExtendPushLease :exec
UPDATE ocpi_push SET lease_until = $4 WHERE connection_id = $1 AND module = $2 AND grp = $3;

-- name: DropPushItems :exec
UPDATE ocpi_push SET items = '[]', lease_until = NULL, attempts = 0, last_error = $4, updated_at = now()
WHERE connection_id = $1 AND module = $2 AND grp = $3;

-- name: FailPushGroup :exec
UPDATE ocpi_push SET attempts = attempts + 1, next_attempt_at = $4, last_error = $5, lease_until = NULL,
    updated_at = now()
WHERE connection_id = $1 AND module = $2 AND grp = $3;

-- name: ReleasePushGroup :exec
UPDATE ocpi_push SET lease_until = NULL WHERE connection_id = $1 AND module = $2 AND grp = $3;

-- name: DuePushGroups :many
-- The sweeper: groups with work that is due and not leased.
SELECT connection_id, module, grp FROM ocpi_push
WHERE items <> '[]'::jsonb AND next_attempt_at <= now() AND (lease_until IS NULL OR lease_until < now())
ORDER BY next_attempt_at
LIMIT $1;

-- name: ListPushGroups :many
SELECT * FROM ocpi_push WHERE items <> '[]'::jsonb ORDER BY next_attempt_at LIMIT $1;

-- name: EnsurePushGroups :exec
-- EnsurePushGroup for many groups of one connection and module at once
-- (bulk token pushes); from_country/from_party per group.
INSERT INTO ocpi_push (connection_id, module, grp, from_country, from_party)
SELECT sqlc.arg(connection_id)::uuid, sqlc.arg(module)::text, unnest(sqlc.arg(grps)::text[]),
    unnest(sqlc.arg(from_countries)::text[]), unnest(sqlc.arg(from_parties)::text[])
ON CONFLICT (connection_id, module, grp) DO NOTHING;

-- name: LockPushGroups :many
-- LockPushGroup for many groups of one connection and module, locked in
-- grp order so that concurrent bulk writers cannot deadlock.
SELECT * FROM ocpi_push
WHERE connection_id = sqlc.arg(connection_id)::uuid AND module = sqlc.arg(module)::text AND grp = ANY(sqlc.arg(grps)::text[])
ORDER BY grp
FOR UPDATE;

-- name: SetPushItemsMany :exec
-- SetPushItems for many groups of one connection and module.
-- The groups are found through the primary key (grp = ANY), then joined
-- to their new values; items are cast to jsonb only for those rows.
UPDATE ocpi_push p SET items = u.items::jsonb, seq = u.seq, from_country = u.from_country, from_party = u.from_party,
    next_attempt_at = CASE WHEN p.attempts = 0 THEN least(p.next_attempt_at, now()) ELSE p.next_attempt_at END,
    updated_at = now()
FROM (SELECT unnest(sqlc.arg(grps)::text[]) AS grp, unnest(sqlc.arg(items)::text[]) AS items,
        unnest(sqlc.arg(seqs)::bigint[]) AS seq, unnest(sqlc.arg(from_countries)::text[]) AS from_country,
        unnest(sqlc.arg(from_parties)::text[]) AS from_party) u
WHERE p.connection_id = sqlc.arg(connection_id)::uuid AND p.module = sqlc.arg(module)::text
  AND p.grp = ANY(sqlc.arg(grps)::text[]) AND p.grp = u.grp;
