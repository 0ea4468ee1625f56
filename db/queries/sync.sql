-- Pull synchronisation state (roaming_sync), one row per connection and module.

-- name: EnsureSync :exec
INSERT INTO roaming_sync (connection_id, module, updated_at) VALUES ($1, $2, now())
ON CONFLICT (connection_id, module) DO NOTHING;

-- name: GetSync :one
SELECT * FROM roaming_sync WHERE connection_id = $1 AND module = $2;

-- name: SyncsOf :many
SELECT * FROM roaming_sync WHERE connection_id = $1 ORDER BY module;

-- name: ClaimSync :one
-- Takes the sync for a run: only when no live run holds it (not running,
-- or its heartbeat is older than stale_before, i.e. its process died).
-- The row as it was (cursor included) tells the caller whether to resume.
UPDATE roaming_sync SET status = 'running', run_id = @run_id, heartbeat_at = @now, updated_at = @now
WHERE connection_id = @connection_id AND module = @module
  AND (status <> 'running' OR heartbeat_at IS NULL OR heartbeat_at < @stale_before)
RETURNING *;

-- name: StartSyncRun :execrows
-- A new run (not a resumed one): its mode, date_from and first page.
UPDATE roaming_sync SET mode = @mode, date_from = sqlc.narg(date_from), next_url = @next_url, run_started_at = @now,
    pages = 0, objects = 0, ignored = 0, rejected = 0, last_rejection = NULL, requested_full = false, updated_at = @now
WHERE connection_id = @connection_id AND module = @module AND run_id = @run_id;

-- name: SaveSyncPage :execrows
-- Records one stored page and the next one to fetch, in the transaction
-- that stored the page's objects; 0 rows means the run lost its claim.
UPDATE roaming_sync SET next_url = sqlc.narg(next_url), pages = pages + 1, objects = objects + @objects,
    ignored = ignored + @ignored, rejected = rejected + @rejected,
    last_rejection = coalesce(sqlc.narg(last_rejection), last_rejection), heartbeat_at = @now, updated_at = @now
WHERE connection_id = @connection_id AND module = @module AND run_id = @run_id AND status = 'running';

-- name: FinishSync :execrows
-- A run reached the last page: the next incremental run starts from this
-- run's start. An on-demand request made during the run stays pending.
UPDATE roaming_sync SET status = 'idle', next_url = NULL, heartbeat_at = NULL, last_error = NULL,
    last_success_started_at = run_started_at, last_finished_at = @now, updated_at = @now,
    requested_at = CASE WHEN requested_at > run_started_at THEN requested_at END
WHERE connection_id = @connection_id AND module = @module AND run_id = @run_id;

-- name: FailSync :execrows
-- A run stopped on an error: its cursor is kept, so the next run resumes.
UPDATE roaming_sync SET status = 'failed', heartbeat_at = NULL, last_error = @last_error, last_finished_at = @now,
    updated_at = @now, requested_at = CASE WHEN requested_at > run_started_at THEN requested_at END
WHERE connection_id = @connection_id AND module = @module AND run_id = @run_id;

-- name: RequestSync :one
-- An on-demand sync (Admin API): recorded in Postgres, picked up by the
-- worker's sweep.
INSERT INTO roaming_sync (connection_id, module, requested_at, requested_full, updated_at)
VALUES (@connection_id, @module, @now, @want_full, @now)
ON CONFLICT (connection_id, module) DO UPDATE SET requested_at = EXCLUDED.requested_at,
    requested_full = roaming_sync.requested_full OR EXCLUDED.requested_full, updated_at = EXCLUDED.updated_at
RETURNING *;

-- name: DueSyncs :many
-- What the sweep enqueues: for every registered connection whose partner
-- has a Sender endpoint of the module, a sync that was requested, whose run
-- died (stale heartbeat), or whose last run finished before due_before
-- (the schedule; never run counts as due), or that failed before
-- retry_before (a failed run resumes from its cursor sooner than the
-- schedule).
SELECT c.id AS connection_id, m.module::text AS module
FROM roaming_connection c
CROSS JOIN unnest(ARRAY['locations', 'tariffs']::text[]) AS m(module)
LEFT JOIN roaming_sync s ON s.connection_id = c.id AND s.module = m.module
WHERE c.status = 'registered'
  AND EXISTS (SELECT 1 FROM jsonb_array_elements(c.their_endpoints) e
              WHERE e->>'identifier' = m.module AND upper(e->>'role') = 'SENDER')
  AND (s.connection_id IS NULL
       OR (s.status = 'running' AND (s.heartbeat_at IS NULL OR s.heartbeat_at < @stale_before))
       OR (s.status <> 'running' AND (s.requested_at IS NOT NULL OR s.last_finished_at IS NULL OR s.last_finished_at < @due_before))
       OR (s.status = 'failed' AND s.last_finished_at < @retry_before))
ORDER BY c.id, m.module;
