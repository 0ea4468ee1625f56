-- +goose Up
-- The JSON documents written with every priced charge session — a
-- result's explainable breakdown (detail, about 2 kB) and its outbox event
-- (about 2.7 kB) — exceed the size at which Postgres compresses a row, and
-- pglz compression was 3.5 % of the Postgres CPU of the priced pipeline
-- (docs/performance.md → Pipeline with pricing). lz4 compresses them at a
-- fraction of the cost. The setting applies to values written from now on;
-- both methods are read transparently. A server built without lz4 keeps
-- pglz (nothing else changes).
-- +goose StatementBegin
DO $$
BEGIN
    ALTER TABLE charge_session_price ALTER COLUMN detail SET COMPRESSION lz4, ALTER COLUMN components SET COMPRESSION lz4;
    ALTER TABLE outbox_event ALTER COLUMN data SET COMPRESSION lz4;
    ALTER TABLE charge_session_original ALTER COLUMN payload SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
    RAISE NOTICE 'lz4 not available; compression stays pglz';
END
$$;
-- +goose StatementEnd

-- +goose Down
ALTER TABLE charge_session_price ALTER COLUMN detail SET COMPRESSION default, ALTER COLUMN components SET COMPRESSION default;
ALTER TABLE outbox_event ALTER COLUMN data SET COMPRESSION default;
ALTER TABLE charge_session_original ALTER COLUMN payload SET COMPRESSION default;
