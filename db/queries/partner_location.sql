-- Partners' locations, EVSEs and tariffs (eMSP receivers and pull sync).

-- name: UpsertPartnerLocations :many
-- Writes a batch of locations (parallel arrays, one element per location).
-- The WHERE of the conflict branch is the last_updated ordering: a stored
-- location that is newer than the incoming one is left as it is and not
-- returned, so the caller replaces the EVSEs of returned locations only.
INSERT INTO partner_location (id, connection_id, country_code, party_id, location_id, location_key, latitude, longitude,
    time_zone, publish, last_updated, data, created_at, updated_at)
SELECT unnest(@ids::uuid[]), sqlc.narg(connection_id)::uuid, unnest(@country_codes::text[]), unnest(@party_ids::text[]),
    unnest(@location_ids::text[]), unnest(@location_keys::text[]), unnest(@latitudes::float8[]), unnest(@longitudes::float8[]),
    unnest(@time_zones::text[]), unnest(@publishes::boolean[]), unnest(@last_updateds::timestamptz[]), unnest(@datas::text[])::jsonb,
    @now::timestamptz, @now::timestamptz
ON CONFLICT (country_code, party_id, location_key) DO UPDATE SET
    connection_id = EXCLUDED.connection_id, location_id = EXCLUDED.location_id, latitude = EXCLUDED.latitude,
    longitude = EXCLUDED.longitude, time_zone = EXCLUDED.time_zone, publish = EXCLUDED.publish,
    last_updated = EXCLUDED.last_updated, data = EXCLUDED.data, updated_at = EXCLUDED.updated_at
WHERE partner_location.last_updated <= EXCLUDED.last_updated
RETURNING id, country_code, party_id, location_key;

-- name: DeletePartnerEVSEsOf :many
-- Removes the EVSEs of locations about to be rewritten, returning what they
-- were (status and content digest, see db/partner_evse_event.go) so that
-- only real changes record an event.
DELETE FROM partner_evse WHERE location_ref = ANY(@location_refs::uuid[])
RETURNING location_ref, uid, uid_key, status, digest;

-- name: InsertPartnerEVSEs :exec
-- Inserts a batch of EVSEs (parallel arrays). Arrays cannot hold a Go nil
-- for the optional columns, so '' (evse id) and NaN (coordinates) mean
-- absent.
INSERT INTO partner_evse (location_ref, position, uid, uid_key, evse_id, evse_id_key, status, latitude, longitude, last_updated, data, digest)
SELECT u.location_ref, u.position, u.uid, u.uid_key, nullif(u.evse_id, ''), nullif(u.evse_id_key, ''), u.status,
    nullif(u.latitude, 'NaN'::float8), nullif(u.longitude, 'NaN'::float8), u.last_updated, u.data::jsonb, u.digest
FROM (SELECT unnest(@location_refs::uuid[]) AS location_ref, unnest(@positions::int[]) AS position, unnest(@uids::text[]) AS uid,
    unnest(@uid_keys::text[]) AS uid_key, unnest(@evse_ids::text[]) AS evse_id, unnest(@evse_id_keys::text[]) AS evse_id_key,
    unnest(@statuses::text[]) AS status, unnest(@latitudes::float8[]) AS latitude, unnest(@longitudes::float8[]) AS longitude,
    unnest(@last_updateds::timestamptz[]) AS last_updated, unnest(@datas::text[]) AS data, unnest(@digests::bytea[]) AS digest) u;

-- name: LockPartnerLocationByKey :one
SELECT * FROM partner_location WHERE country_code = $1 AND party_id = $2 AND location_key = $3 FOR UPDATE;

-- name: GetPartnerLocationByKey :one
SELECT * FROM partner_location WHERE country_code = $1 AND party_id = $2 AND location_key = $3;

-- name: GetPartnerLocation :one
SELECT * FROM partner_location WHERE id = $1;

-- name: PartnerEVSEsOf :many
SELECT * FROM partner_evse WHERE location_ref = ANY(@location_refs::uuid[]) ORDER BY location_ref, position;

-- name: GetPartnerEVSE :one
SELECT * FROM partner_evse WHERE location_ref = $1 AND uid_key = $2;

-- name: UpsertPartnerEVSE :one
-- One EVSE, written under the lock of its location (the caller has
-- applied the ordering); a new EVSE goes after the existing ones. It
-- returns the status and content digest it had before ('' and NULL for a
-- new EVSE).
WITH prev AS (
    SELECT p.status, p.digest FROM partner_evse p WHERE p.location_ref = @location_ref AND p.uid_key = @uid_key
)
INSERT INTO partner_evse (location_ref, position, uid, uid_key, evse_id, evse_id_key, status, latitude, longitude, last_updated, data, digest)
VALUES (@location_ref, (SELECT coalesce(max(position) + 1, 0) FROM partner_evse p WHERE p.location_ref = @location_ref),
    @uid, @uid_key, sqlc.narg(evse_id), sqlc.narg(evse_id_key), @status, sqlc.narg(latitude), sqlc.narg(longitude), @last_updated, @data,
    @digest)
ON CONFLICT (location_ref, uid_key) DO UPDATE SET
    uid = EXCLUDED.uid, evse_id = EXCLUDED.evse_id, evse_id_key = EXCLUDED.evse_id_key, status = EXCLUDED.status,
    latitude = EXCLUDED.latitude, longitude = EXCLUDED.longitude, last_updated = EXCLUDED.last_updated, data = EXCLUDED.data,
    digest = EXCLUDED.digest
RETURNING coalesce((SELECT prev.status FROM prev), '')::text AS prev_status, (SELECT prev.digest FROM prev) AS prev_digest;

-- name: InsertUnscopedEvents :exec
-- A batch of outbox events of no administration in one statement, in
-- array order (set-returning functions in the select list run in step,
-- and the outbox trigger numbers rows as they are inserted): the
-- change events of a pull-sync page or a receiver write.
INSERT INTO outbox_event (id, occurred_at, kind, modification_kind, data)
SELECT unnest(@ids::uuid[]), unnest(@occurred_ats::timestamptz[]), unnest(@kinds::text[]), unnest(@modification_kinds::text[]),
    unnest(@datas::text[])::jsonb;

-- name: TouchPartnerLocation :exec
-- A child (EVSE or connector) changed: the location's last_updated follows
-- it (mod_locations, PUT/PATCH: "the Receiver SHALL also set the new
-- last_updated value on the parent"), never moving backwards.
UPDATE partner_location SET last_updated = greatest(last_updated, @last_updated), connection_id = sqlc.narg(connection_id),
    updated_at = @now
WHERE id = @id;

-- name: PartnerEVSEsByEVSEID :many
-- The EVSEs with this EVSE id (normalised key), newest first, with their
-- location's party: what session and CDR matching looks up.
SELECT e.*, l.country_code, l.party_id, l.location_id FROM partner_evse e JOIN partner_location l ON l.id = e.location_ref
WHERE e.evse_id_key = @evse_id_key ORDER BY e.last_updated DESC;

-- name: ListPartnerLocations :many
SELECT * FROM partner_location
WHERE id > sqlc.arg(after)::uuid
  AND (sqlc.narg(country_code)::text IS NULL OR country_code = sqlc.narg(country_code))
  AND (sqlc.narg(party_id)::text IS NULL OR party_id = sqlc.narg(party_id))
  AND (sqlc.narg(connection_id)::uuid IS NULL OR connection_id = sqlc.narg(connection_id))
  AND (sqlc.narg(location_key)::text IS NULL OR location_key = sqlc.narg(location_key))
  AND (sqlc.narg(evse_id_key)::text IS NULL OR id IN (SELECT location_ref FROM partner_evse WHERE evse_id_key = sqlc.narg(evse_id_key)))
ORDER BY id
LIMIT sqlc.arg(page_limit);

-- name: NearPartnerLocations :many
-- Locations within radius_m metres of (lat, lng): the bounding box (from
-- the caller, split in two longitude ranges when it crosses the
-- antimeridian) uses the geo index, the haversine distance (mean Earth
-- radius 6 371 008.8 m) is exact on the sphere.
SELECT sqlc.embed(partner_location), d.distance_m::float8 AS distance_m
FROM partner_location,
    LATERAL (SELECT 2 * 6371008.8 * asin(least(1, sqrt(
        power(sin(radians(latitude - @lat::float8) / 2), 2) +
        cos(radians(@lat::float8)) * cos(radians(latitude)) * power(sin(radians(longitude - @lng::float8) / 2), 2)))) AS distance_m) d
WHERE id > sqlc.arg(after)::uuid
  AND latitude BETWEEN @lat_min::float8 AND @lat_max::float8
  AND (longitude BETWEEN @lng_min::float8 AND @lng_max::float8 OR longitude BETWEEN @lng_min2::float8 AND @lng_max2::float8)
  AND d.distance_m <= @radius_m::float8
  AND (sqlc.narg(country_code)::text IS NULL OR country_code = sqlc.narg(country_code))
  AND (sqlc.narg(party_id)::text IS NULL OR party_id = sqlc.narg(party_id))
  AND (sqlc.narg(connection_id)::uuid IS NULL OR connection_id = sqlc.narg(connection_id))
  AND (sqlc.narg(evse_id_key)::text IS NULL OR id IN (SELECT location_ref FROM partner_evse WHERE evse_id_key = sqlc.narg(evse_id_key)))
ORDER BY id
LIMIT sqlc.arg(page_limit);

-- name: UpsertPartnerTariffs :many
-- Writes a batch of tariffs with the same ordering as locations.
INSERT INTO partner_tariff (id, connection_id, country_code, party_id, tariff_id, tariff_key, currency, last_updated, data,
    created_at, updated_at)
SELECT unnest(@ids::uuid[]), sqlc.narg(connection_id)::uuid, unnest(@country_codes::text[]), unnest(@party_ids::text[]),
    unnest(@tariff_ids::text[]), unnest(@tariff_keys::text[]), unnest(@currencies::text[]), unnest(@last_updateds::timestamptz[]),
    unnest(@datas::text[])::jsonb, @now::timestamptz, @now::timestamptz
ON CONFLICT (country_code, party_id, tariff_key) DO UPDATE SET
    connection_id = EXCLUDED.connection_id, tariff_id = EXCLUDED.tariff_id, currency = EXCLUDED.currency,
    last_updated = EXCLUDED.last_updated, data = EXCLUDED.data, updated_at = EXCLUDED.updated_at
WHERE partner_tariff.last_updated <= EXCLUDED.last_updated
RETURNING id;

-- name: GetPartnerTariffByKey :one
SELECT * FROM partner_tariff WHERE country_code = $1 AND party_id = $2 AND tariff_key = $3;

-- name: GetPartnerTariff :one
SELECT * FROM partner_tariff WHERE id = $1;

-- name: DeletePartnerTariff :execrows
DELETE FROM partner_tariff WHERE country_code = $1 AND party_id = $2 AND tariff_key = $3;

-- name: ListPartnerTariffs :many
SELECT * FROM partner_tariff
WHERE id > sqlc.arg(after)::uuid
  AND (sqlc.narg(country_code)::text IS NULL OR country_code = sqlc.narg(country_code))
  AND (sqlc.narg(party_id)::text IS NULL OR party_id = sqlc.narg(party_id))
  AND (sqlc.narg(connection_id)::uuid IS NULL OR connection_id = sqlc.narg(connection_id))
  AND (sqlc.narg(tariff_key)::text IS NULL OR tariff_key = sqlc.narg(tariff_key))
ORDER BY id
LIMIT sqlc.arg(page_limit);

-- name: PartnerPartyOfConnection :one
-- Whether a party belongs to a connection (its credentials roles, or a
-- party a hub reported): objects a partner pushes must be its own.
SELECT EXISTS (SELECT 1 FROM roaming_party_id WHERE connection_id = @connection_id AND country_code = @country_code
    AND party_id = @party_id AND role = ANY(@roles::text[]));

-- name: PartiesOfConnection :many
SELECT country_code, party_id FROM roaming_party_id
WHERE connection_id = @connection_id AND role = ANY(@roles::text[])
ORDER BY country_code, party_id;
