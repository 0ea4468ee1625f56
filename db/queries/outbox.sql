-- name: InsertEvent :exec
INSERT INTO outbox_event (id, occurred_at, kind, modification_kind, administration_id, data)
VALUES ($1, $2, $3, $4, $5, $6);

-- name: ListEvents :many
SELECT * FROM outbox_event WHERE seq > $1 ORDER BY seq LIMIT $2;
