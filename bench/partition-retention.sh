#!/usr/bin/env bash
# bench/partition-retention.sh: does dropping a day partition pay against
# retention by DELETE (docs/SCALING.md §1)? In one run, on one database with
# two schemas migrated by authd itself:
#   plain  refresh_tokens as authd's migrations make it, one table
#   part   the same, then partitioned by day (bench/sql/refresh-partitions.sql)
# each holding N expired refresh-token rows of one old day (families of 10,
# rotated, with parent_id and child_id as authd writes them) besides 64 live
# families. It measures, for each retention alone (nothing else on the
# database): its WAL (the database's own records, pg_walinspect, as
# bench/run.sh) and its time; for DELETE also the VACUUM it leaves behind.
# Then the refresh throughput of pgbench running authd's rotation
# (bench/sql/rotate.pgbench, its child id made a UUIDv7 as authd's): idle,
# in alternated rounds, on the plain table, on the partitioned one, and on
# the partitioned one with generic plans forced (plan_cache_mode), with the
# WAL bytes per refresh of each; and while each retention runs, against
# idle.
#
# The retention statements: those of services.Retention, DELETE in batches
# of 1000, each its own transaction (plain); for part, a check that no row
# is still needed, then DETACH, the check again and DROP in one transaction
# (the design of docs/SCALING.md §1).
#
# Knobs: BENCH_PG (default postgres://postgres@127.0.0.1:5432), N (default
# 200000), SECS (pgbench phase, default 10), C (pgbench clients, default 2),
# ROUNDS (alternated rounds of the idle phases, default 3),
# BENCH_KEEP=1 keeps the database.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PG=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
N=${N:-200000}
SECS=${SECS:-10}
C=${C:-2}
ROUNDS=${ROUNDS:-3}
DB=authd_partret_$$
OUT=$(mktemp -d /tmp/authd-partret.XXXXXX)
# The server may be shared and at max_connections: a connection refused is
# retried (psql exits 2 only when it could not connect; a script it has not
# started reading is read again).
psql() {
  local i rc
  for i in $(seq 60); do
    command psql "$@" && return 0
    rc=$?
    [[ $rc == 2 ]] || return $rc
    sleep 2
  done
  return 2
}
log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
cleanup() { [[ -n ${BENCH_KEEP:-} ]] && { log "kept database $DB"; return; }; psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true; }
trap cleanup EXIT

log "building authd into $OUT"
(cd "$ROOT" && go build -tags nomsgpack -o "$OUT/authd" ./cmd/authd)
psql "$PG/postgres" -qc "CREATE DATABASE $DB" >/dev/null
psql "$PG/$DB" -qc "CREATE EXTENSION pg_walinspect" >/dev/null
OID=$(psql "$PG/$DB" -Atc "SELECT oid FROM pg_database WHERE datname = current_database()")
q() { PGOPTIONS="-c search_path=$1" psql "$PG/$DB" -X -v ON_ERROR_STOP=1 -At "${@:2}"; }
for s in plain part; do
  psql "$PG/$DB" -qc "CREATE SCHEMA $s"
  AUTHD_DATABASE_URL="$PG/$DB?sslmode=disable&search_path=$s" "$OUT/authd" migrate up >/dev/null
done
# With the partitioning as a migration of the tree, plain rolls it back;
# without, part gets it from bench/sql/refresh-partitions.sql.
if [[ $(q part -c "SELECT relkind FROM pg_class WHERE oid = 'refresh_tokens'::regclass") == p ]]; then
  AUTHD_DATABASE_URL="$PG/$DB?sslmode=disable&search_path=plain" "$OUT/authd" migrate down >&2
else
  q part -q -f "$ROOT/bench/sql/refresh-partitions.sql"
fi
[[ $(q plain -c "SELECT relkind FROM pg_class WHERE oid = 'refresh_tokens'::regclass") == r ]] || { echo "plain is not a plain table" >&2; exit 1; }
[[ $(q part -c "SELECT relkind FROM pg_class WHERE oid = 'refresh_tokens'::regclass") == p ]] || { echo "part is not partitioned" >&2; exit 1; }
for s in plain part; do q "$s" -q -f "$ROOT/bench/sql/pgbench-seed.sql"; done

# N expired rows minted on one day 20 days ago: UUIDv7 ids of that day.
OLD=$(psql "$PG/$DB" -Atc "SELECT (now() AT TIME ZONE 'UTC')::date - 20")
seed_old() { # schema
  [[ $1 == part ]] && q part -qc "SELECT refresh_tokens_add_partition('$OLD')" >/dev/null
  q "$1" -q <<SQL
INSERT INTO sessions (id, user_id, client_id, device_name, user_agent, created_at, last_used_at, expires_at)
SELECT md5('old-session-' || s)::uuid, md5('pgbench-user-0')::uuid, 'default', 'old', 'old',
       '$OLD'::timestamptz, '$OLD'::timestamptz, now() + interval '10 days'
FROM generate_series(0, $N / 10 - 1) s ON CONFLICT DO NOTHING;
CREATE TEMP TABLE ids AS
SELECT i, (lpad(to_hex((extract(epoch FROM '$OLD'::timestamp) * 1000)::bigint + i * (86400000 / $N)), 12, '0')
          || '7' || substr(md5(i::text), 1, 3) || '8' || substr(md5(i::text), 4, 15))::uuid AS id
FROM generate_series(0, $N - 1) i;
INSERT INTO refresh_tokens (id, session_id, parent_id, generation, secret_hash, ip_prefix, user_agent,
                            created_at, expires_at, rotated_at, child_id)
SELECT t.id, md5('old-session-' || (t.i / 10))::uuid, p.id, t.i % 10, sha256(t.id::text::bytea), '203.0.113.0/24', 'ua',
       '$OLD'::timestamptz, now() - interval '1 day',
       CASE WHEN t.i % 10 < 9 THEN '$OLD'::timestamptz END, CASE WHEN t.i % 10 < 9 THEN c.id END
FROM ids t LEFT JOIN ids p ON p.i = t.i - 1 AND t.i % 10 > 0 LEFT JOIN ids c ON c.i = t.i + 1 AND t.i % 10 < 9
ORDER BY t.i;
SQL
  q "$1" -qc "VACUUM ANALYZE refresh_tokens" -c "CHECKPOINT"
}

retention_delete() {
  q plain -q <<'SQL'
DO $$
DECLARE n bigint;
BEGIN
  LOOP
    PERFORM pg_try_advisory_xact_lock(7022647185660342900);
    DELETE FROM refresh_tokens WHERE id IN
      (SELECT id FROM refresh_tokens WHERE expires_at < now() - interval '10 seconds' LIMIT 1000);
    GET DIAGNOSTICS n = ROW_COUNT;
    COMMIT;
    EXIT WHEN n < 1000;
  END LOOP;
END $$;
SQL
}
retention_drop() {
  local p="refresh_tokens_p${OLD//-/}"
  q part -c "SELECT count(*), max(expires_at) < now() - interval '10 seconds' FROM $p" >/dev/null
  q part -q <<SQL
BEGIN;
SET LOCAL lock_timeout = '500ms';
SELECT pg_try_advisory_xact_lock(7022647185660342900);
ALTER TABLE refresh_tokens DETACH PARTITION $p;
SELECT EXISTS (SELECT 1 FROM $p WHERE expires_at >= now() - interval '10 seconds');
DROP TABLE $p;
COMMIT;
SQL
}

wal() { # lsn0 lsn1: bytes records of this database's records and their transactions' commits
  psql "$PG/$DB" -At -F' ' -c "WITH r AS (SELECT xid::text::bigint AS xid, record_length, block_ref FROM pg_get_wal_records_info('$1', '$2')),
      ours AS (SELECT DISTINCT xid FROM r WHERE xid <> 0 AND block_ref LIKE '%/$OID/%')
    SELECT coalesce(sum(record_length), 0), count(*) FROM r
    WHERE block_ref LIKE '%/$OID/%' OR (xid <> 0 AND xid IN (SELECT xid FROM ours))" 2>/dev/null ||
    echo "0 0" # the segment was recycled already (a busy server): not measured
}
now_ms() { date +%s%3N; }
measure() { # name command...: prints "name ms walbytes walrecords"
  local l0 l1 t0 t1
  l0=$(psql "$PG/$DB" -Atc "SELECT pg_current_wal_insert_lsn()")
  t0=$(now_ms)
  "${@:2}"
  t1=$(now_ms)
  l1=$(psql "$PG/$DB" -Atc "SELECT pg_current_wal_insert_lsn()")
  echo "$1 $((t1 - t0)) $(wal "$l0" "$l1")"
}

log "seeding $N expired rows of $OLD in each schema"
seed_old plain
seed_old part
log "plain: $(q plain -c 'SELECT count(*) FROM refresh_tokens') rows; part: $(q part -c 'SELECT count(*) FROM refresh_tokens') rows"
log "retention alone"
measure delete retention_delete | tee "$OUT/alone"
measure vacuum q plain -qc "VACUUM refresh_tokens" | tee -a "$OUT/alone"
measure drop retention_drop | tee -a "$OUT/alone"
[[ $(q plain -c "SELECT count(*) FROM refresh_tokens") == 64 && $(q part -c "SELECT count(*) FROM refresh_tokens") == 64 ]] ||
  { echo "retention left expired rows behind" >&2; exit 1; }

sed 's/gen_random_uuid() AS child/(lpad(to_hex(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '"'0'"') || '"'7'"' || substr(md5(random()::text), 1, 19))::uuid AS child/' \
  "$ROOT/bench/sql/rotate.pgbench" >"$OUT/rotate-v7.pgbench"
grep -q "clock_timestamp" "$OUT/rotate-v7.pgbench"
pgb() { # schema name [extra server options]: runs pgbench for SECS with per-second progress
  local i
  for i in $(seq 30); do
    PGOPTIONS="-c search_path=$1 ${3:-}" pgbench "$PG/$DB" -n -M prepared -D started=0 -f "$OUT/rotate-v7.pgbench" \
      -c "$C" -j "$C" -T "$SECS" -P 1 --progress-timestamp >"$OUT/$2.out" 2>"$OUT/$2.progress" && return 0
    grep -q "too many clients" "$OUT/$2.progress" || { cat "$OUT/$2.progress" >&2; return 1; }
    sleep 2
  done
  return 1
}
# tps over the progress seconds that overlap [from, to] (ms), and the worst
# second's mean latency; the whole run's when no window is given
tps() { # name [from to]
  awk -v a="${2:-0}" -v b="${3:-99999999999999}" '/^progress:/ {t = $2 * 1000; if (t >= a && t - 1000 <= b) {s += $4; n++; if ($7 > m) m = $7}}
    END {if (n) printf "%.1f %d %.2f\n", s / n, n, m; else print "0 0 0"}' "$OUT/$1.progress"
}
log "reseeding for the throughput phases"
seed_old plain
seed_old part
# Idle refresh throughput, alternating: plain; partitioned with the
# server's default plan_cache_mode (auto, as authd's pgx connections run);
# partitioned with generic plans forced.
for i in $(seq "$ROUNDS"); do
  for v in plain part part-generic; do
    s=${v%-generic}
    opt=""
    [[ $v == part-generic ]] && opt="-c plan_cache_mode=force_generic_plan"
    log "$v: pgbench ${SECS}s idle (round $i)"
    l0=$(psql "$PG/$DB" -Atc "SELECT pg_current_wal_insert_lsn()")
    pgb "$s" "$v-idle-$i" "$opt"
    l1=$(psql "$PG/$DB" -Atc "SELECT pg_current_wal_insert_lsn()")
    echo "$v $(awk '/actually processed/ {print $NF}' "$OUT/$v-idle-$i.out") $(wal "$l0" "$l1")" >>"$OUT/refresh-wal"
  done
done
for s in plain part; do
  log "$s: pgbench ${SECS}s with retention from the 2nd second"
  pgb "$s" "$s-busy" &
  pid=$!
  sleep 2
  t0=$(now_ms)
  if [[ $s == plain ]]; then retention_delete; else retention_drop >/dev/null; fi
  t1=$(now_ms)
  wait "$pid"
  echo "$s $t0 $t1" >>"$OUT/windows"
done

read -r _ dms dwb dwr < <(grep ^delete "$OUT/alone")
read -r _ vms vwb vwr < <(grep ^vacuum "$OUT/alone")
read -r _ pms pwb pwr < <(grep ^drop "$OUT/alone")
read -r _ pt0 pt1 < <(grep ^plain "$OUT/windows")
read -r _ qt0 qt1 < <(grep ^part "$OUT/windows")
sumv() { awk -v v="$1" -v c="$2" '$1 == v {s += $c} END {print s + 0}' "$OUT/refresh-wal"; }
idle() { # variant: mean tps of its idle rounds
  local f sum=0 n=0 x
  for f in "$OUT/$1"-idle-*.progress; do
    x=$(tps "$(basename "$f" .progress)" | cut -d' ' -f1)
    sum=$(awk -v a="$sum" -v b="$x" 'BEGIN {print a + b}'); n=$((n + 1))
  done
  awk -v a="$sum" -v n="$n" 'BEGIN {printf "%.1f", a / n}'
}
pidle=$(idle plain)
qidle=$(idle part)
gidle=$(idle part-generic)
read -r pbusy pn plat < <(tps plain-busy "$pt0" "$pt1")
read -r qbusy qn qlat < <(tps part-busy "$qt0" "$qt1")
r() { awk -v a="$1" -v b="$2" 'BEGIN {if (b <= 0) print "n/a"; else if (a / b >= 100) printf "%.0f", a / b; else printf "%.3g", a / b}'; }
{
  echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(psql "$PG/postgres" -Atc 'show server_version'), N=$N, pgbench -c $C, ${SECS}s phases"
  echo "retention alone: DELETE ${dms} ms, ${dwb} WAL bytes in ${dwr} records; its VACUUM ${vms} ms, ${vwb} bytes in ${vwr} records;" \
    "DROP of the partition ${pms} ms, ${pwb} bytes in ${pwr} records"
  echo "ratios DELETE / DROP: WAL bytes $(r "$dwb" "$pwb") ($(r "$((dwb + vwb))" "$pwb") with the vacuum), time $(r "$dms" "$pms") ($(r "$((dms + vms))" "$pms") with the vacuum)"
  echo "refresh tps idle (mean of $ROUNDS alternated rounds): plain $pidle; partitioned $qidle = $(r "$qidle" "$pidle") of plain;" \
    "partitioned with generic plans forced $gidle = $(r "$gidle" "$pidle") of plain"
  echo "WAL bytes per refresh: plain $(r "$(sumv plain 3)" "$(sumv plain 2)"), partitioned $(r "$(sumv part 3)" "$(sumv part 2)")," \
    "partitioned with generic plans $(r "$(sumv part-generic 3)" "$(sumv part-generic 2)")"
  echo "refresh tps while retention runs: plain during DELETE ($((pt1 - pt0)) ms, $pn progress seconds) $pbusy = $(r "$pbusy" "$pidle") of idle, worst second's latency $plat ms;" \
    "partitioned during DROP ($((qt1 - qt0)) ms, $qn progress seconds) $qbusy = $(r "$qbusy" "$qidle") of idle, worst second's latency $qlat ms"
} | tee "$OUT/summary" >&2
log "results in $OUT"
