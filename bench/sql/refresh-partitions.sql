-- The partitioning of refresh_tokens by day that bench/partition-retention.sh
-- measures (docs/SCALING.md §1): the Up step of the PostgreSQL migration it
-- would be (00013 on branch h/P-partitioning, with the statements and the
-- retention that go with it), as plain SQL. Run with the search_path of a
-- schema migrated by authd to version 12. Nothing in authd applies it.
-- refresh_tokens becomes a table partitioned by RANGE (id), one partition
-- per UTC day, so that retention drops a whole day of expired rows
-- (DETACH + DROP: a few WAL records) instead of deleting them row by row
-- (a WAL record per row and index entry, then vacuum). Token ids are
-- UUIDv7 (services/sessions.go), whose first 48 bits are the creation time
-- in milliseconds, and PostgreSQL orders uuid bytewise: the ids of one day
-- lie between the UUIDv7 of its 00:00 UTC with every other bit zero
-- (refresh_tokens_partition_bound) and the next day's. So the primary key
-- stays (id), which holds the partition key, a lookup by id prunes to one
-- partition, and the token a client holds does not change.
--
-- A partitioned table cannot keep two constraints of the old one:
--   - UNIQUE (parent_id), "a parent has at most one child": a unique index
--     must contain the partition key. No-fork is enforced by the statements
--     that write a child instead: each writes the child only if the same
--     statement's conditional UPDATE of the parent (child_id IS NULL, under
--     its row lock) won (models.RotateInOneStatement, RotateRefreshToken).
--   - parent_id REFERENCES refresh_tokens ON DELETE SET NULL: a dropped
--     partition cannot null the references into it. parent_id stays as
--     history; nothing reads it to find a parent (the chain is walked by
--     child_id), and it may name a row that retention removed.
-- Its index (parent_id) goes with the unique constraint: it served only the
-- constraint and the ON DELETE SET NULL lookups.
--
-- Rows whose id is in no day's partition (random UUIDv4 ids of tokens minted
-- before ids were time-ordered, a day nobody created a partition for) go to
-- refresh_tokens_default, so an insert never fails; retention deletes
-- expired rows there by DELETE as before. Partitions are created ahead
-- (today .. today + 7) here, at startup and by every retention round
-- (services.Retention).
--
-- Existing rows are copied in this migration's transaction: the table is
-- locked for the copy (seconds per million rows), acceptable at this
-- project's sizes; a larger installation would copy in batches behind a
-- view first.
CREATE TABLE refresh_tokens_partitioned (
    id          uuid NOT NULL,
    session_id  uuid NOT NULL,
    parent_id   uuid,
    generation  integer NOT NULL,
    secret_hash bytea NOT NULL,
    ip_prefix   text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    rotated_at  timestamptz,
    child_id    uuid,
    revoked_at  timestamptz,
    user_agent  text NOT NULL DEFAULT ''
) PARTITION BY RANGE (id);
CREATE TABLE refresh_tokens_default PARTITION OF refresh_tokens_partitioned DEFAULT WITH (fillfactor = 80);

-- The smallest UUIDv7 of day (00:00 UTC, every bit after the time zero).
CREATE FUNCTION refresh_tokens_partition_bound(day date) RETURNS uuid
LANGUAGE sql IMMUTABLE STRICT AS $$
  SELECT (lpad(to_hex((extract(epoch FROM day::timestamp) * 1000)::bigint), 12, '0') || repeat('0', 20))::uuid
$$;

-- Creates the partition of day (refresh_tokens_pYYYYMMDD) unless it exists;
-- true if it created it. It fails if refresh_tokens_default holds rows of
-- that day (then they stay there, and retention deletes them).
CREATE FUNCTION refresh_tokens_add_partition(day date) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
  name text := 'refresh_tokens_p' || to_char(day, 'YYYYMMDD');
BEGIN
  IF to_regclass(name) IS NOT NULL THEN
    RETURN false;
  END IF;
  EXECUTE format('CREATE TABLE %I PARTITION OF refresh_tokens FOR VALUES FROM (%L) TO (%L) WITH (fillfactor = 80)',
    name, refresh_tokens_partition_bound(day), refresh_tokens_partition_bound(day + 1));
  RETURN true;
END
$$;

ALTER TABLE refresh_tokens RENAME TO refresh_tokens_unpartitioned;
ALTER TABLE refresh_tokens_partitioned RENAME TO refresh_tokens;

-- A partition for every day that holds time-ordered ids of live history
-- (version nibble 7), at most 60 days back, and the week ahead.
SELECT refresh_tokens_add_partition(d::date)
FROM generate_series(
  LEAST((now() AT TIME ZONE 'UTC')::date, GREATEST((now() AT TIME ZONE 'UTC')::date - 60, COALESCE(
    (SELECT to_timestamp(('x' || substr(replace(min(id::text), '-', ''), 1, 12))::bit(48)::bigint / 1000.0) AT TIME ZONE 'UTC'
     FROM refresh_tokens_unpartitioned WHERE substr(id::text, 15, 1) = '7'), now() AT TIME ZONE 'UTC')::date)),
  (now() AT TIME ZONE 'UTC')::date + 7, interval '1 day') d;

INSERT INTO refresh_tokens (id, session_id, parent_id, generation, secret_hash, ip_prefix, created_at, expires_at,
                            rotated_at, child_id, revoked_at, user_agent)
SELECT id, session_id, parent_id, generation, secret_hash, ip_prefix, created_at, expires_at,
       rotated_at, child_id, revoked_at, user_agent
FROM refresh_tokens_unpartitioned;
DROP TABLE refresh_tokens_unpartitioned;

ALTER TABLE refresh_tokens ADD CONSTRAINT refresh_tokens_pkey PRIMARY KEY (id);
ALTER TABLE refresh_tokens ADD CONSTRAINT refresh_tokens_session_id_fkey
    FOREIGN KEY (session_id) REFERENCES sessions (id) ON DELETE CASCADE;
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);
CREATE INDEX refresh_tokens_expires_idx ON refresh_tokens (expires_at);

