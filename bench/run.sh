#!/usr/bin/env bash
# bench/run.sh: authd's performance proof, baselines in the same run.
#
# Measures, on this machine and in one run:
#   refresh  authd chained rotations/s   vs pgbench running the same SQL (bench/sql/rotate.pgbench)
#   me       authd GET /v1/me/s          vs a bare gin handler verifying the same JWT (authd-bench -baseline-me)
#   login    authd logins/s              vs raw bcrypt comparisons at the same cost (authd-bench -scenario bcrypt)
#   growth   rotations/s with 1,000,000 stored refresh tokens / 100,000 sessions vs 10,000 / 1,000
#   scale    three instances on one database, round-robin, no unexpected 401
#   memory   peak RSS (VmHWM) of each authd process, and refresh and /v1/me
#            throughput with the default soft memory limit vs without it
#            (AUTHD_MEMORY_LIMIT=0: the settings before the limit)
#   cost     CPU of authd and of its PostgreSQL backends per refresh
#            (/proc/<pid>/stat; counted from the end of the set-up, so the
#            sign-ins' bcrypt is not charged to the refreshes: round 1 runs
#            through bench/loadcmp's ready-file handshake), rotations per
#            second per vCPU, and the
#            PostgreSQL-side cost per refresh: commits and rows written
#            (pg_stat_database of the bench database), WAL bytes, WAL
#            records, page modifications and full-page images of the bench
#            database's own WAL records (pg_walinspect). pg_stat_statements
#            would need shared_preload_libraries and a restart of a server
#            this script must not restart, and pg_stat_wal is cluster-wide.
#   supabase (optional, BENCH_SUPABASE_BIN=/path/to/auth) supabase/auth on the
#            same machine, alternated with authd: chained refresh rotations
#            driven by one load tool for both (bench/loadcmp: bench/load
#            speaking authd's API or GoTrue's /token), the CPU accounting of
#            "cost" but started after the set-up (so the sign-ins' bcrypt is
#            not charged to the refreshes), every round; the ratios
#            authd / supabase of throughput and of rotations per vCPU, and
#            statements per refresh of both, counted on the wire
#            (bench/pgcount). Skipped with a message when not set.
# and prints the ratios against the targets. authd runs with its defaults
# (AUTHD_ENV=production, bcrypt cost 12, PostgreSQL with synchronous_commit
# on), rate limits raised so they do not throttle the load.
#
# Needs: go, psql, pgbench, jq; a PostgreSQL it may create databases on
# (BENCH_PG, default postgres://postgres@127.0.0.1:5432). It never restarts
# that server. Every database it creates is dropped at the end (BENCH_KEEP=1
# keeps them), every process it starts is stopped.
#
# Knobs (environment): BENCH_SECONDS (per phase, default 10), BENCH_WORKERS
# (default 16), BENCH_ROUNDS (alternations of each pair, default 3), BENCH_OUT (result folder, default a new temp dir),
# BENCH_LARGE_SESSIONS (default 100000; x10 tokens), BENCH_SKIP_GROWTH=1,
# BENCH_SUPABASE_BIN (a supabase/auth binary, `go build` at the root of its
# checkout; empty: the phase is skipped), BENCH_SUPABASE_MIGRATIONS (its
# migrations folder, default migrations/ next to the binary),
# BENCH_SUPABASE_COMMIT (the commit it was built from, for the summary).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SECS=${BENCH_SECONDS:-10}
ROUNDS=${BENCH_ROUNDS:-3}
W=${BENCH_WORKERS:-16}
PG=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
OUT=${BENCH_OUT:-$(mktemp -d /tmp/authd-bench.XXXXXX)}
LARGE_SESSIONS=${BENCH_LARGE_SESSIONS:-100000}
SECRET=$(head -c 32 /dev/urandom | base64 | tr -d '\n')
TAG=$$
SMALL=authd_bench_small_$TAG
LARGE=authd_bench_large_$TAG
SUPA=supabase_bench_$TAG
SUPA_BIN=${BENCH_SUPABASE_BIN:-}
PIDS=()
mkdir -p "$OUT/bin"
for tool in go psql pgbench jq; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool is required" >&2; exit 2; }
done
if [[ -n "$SUPA_BIN" ]]; then
  SUPA_MIG=${BENCH_SUPABASE_MIGRATIONS:-$(dirname "$SUPA_BIN")/migrations}
  [[ -x "$SUPA_BIN" && -d "$SUPA_MIG" ]] || { echo "run.sh: BENCH_SUPABASE_BIN=$SUPA_BIN is not an executable with migrations in $SUPA_MIG" >&2; exit 2; }
  command -v curl >/dev/null || { echo "run.sh: curl is required for the supabase phase" >&2; exit 2; }
  SUPA_COMMIT=${BENCH_SUPABASE_COMMIT:-$(git -C "$(dirname "$SUPA_BIN")" rev-parse HEAD 2>/dev/null || echo unknown)}
fi

cleanup() {
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if [[ "${BENCH_KEEP:-0}" != 1 ]]; then
    psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $SMALL" -c "DROP DATABASE IF EXISTS $LARGE" -c "DROP DATABASE IF EXISTS $SUPA" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }

# ---- machine and build ------------------------------------------------------
log "building into $OUT/bin"
# -tags nomsgpack as in the Dockerfile: the binary that ships.
(cd "$ROOT" && go build -tags nomsgpack -o "$OUT/bin/authd" ./cmd/authd && go build -o "$OUT/bin/authd-bench" ./cmd/authd-bench)
(cd "$ROOT" && go build -o "$OUT/bin/loadcmp" ./bench/loadcmp)
[[ -n "$SUPA_BIN" ]] && (cd "$ROOT" && go build -o "$OUT/bin/pgcount" ./bench/pgcount)
BENCH=$OUT/bin/authd-bench
{
  echo "date: $(date -u +%FT%TZ)"
  echo "commit: $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "nproc: $(nproc)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  echo "memory: $(grep MemTotal /proc/meminfo | awk '{print $2 " kB"}')"
  echo "kernel: $(uname -r)"
  echo "go: $(go version | awk '{print $3}')"
  echo "postgres: $(psql "$PG/postgres" -Atc 'show server_version') synchronous_commit=$(psql "$PG/postgres" -Atc 'show synchronous_commit') fsync=$(psql "$PG/postgres" -Atc 'show fsync')"
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "phase: ${SECS}s, workers: $W"
} | tee "$OUT/machine.txt" >&2

# ---- databases --------------------------------------------------------------
mkdb() { # name users sessions per_session
  psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" >/dev/null
  AUTHD_DATABASE_URL="$PG/$1?sslmode=disable" "$OUT/bin/authd" migrate up >/dev/null
  psql "$PG/$1" -q -v ON_ERROR_STOP=1 -f "$ROOT/bench/sql/pgbench-seed.sql"
  psql "$PG/$1" -qc "CREATE EXTENSION IF NOT EXISTS pg_walinspect" >/dev/null 2>&1 || log "$1: no pg_walinspect (WAL per refresh not measured)"
  psql "$PG/$1" -q -v ON_ERROR_STOP=1 -v users="$2" -v sessions="$3" -v per_session="$4" -f "$ROOT/bench/sql/seed.sql"
  # Flush the seed's WAL now, so no checkpoint of it falls into a phase.
  psql "$PG/$1" -qc "CHECKPOINT" >/dev/null
  log "$1: $(psql "$PG/$1" -Atc "select (select count(*) from sessions) || ' sessions, ' || (select count(*) from refresh_tokens) || ' refresh tokens'")"
}

# ---- processes ----------------------------------------------------------------
URL=""
PID=""
start_authd() { # name database [VAR=value...]
  local log=$OUT/$1.log name=$1 db=$2
  shift 2
  env AUTHD_ENV=production AUTHD_JWT_SECRET="$SECRET" AUTHD_ADDR=127.0.0.1:0 \
    AUTHD_DATABASE_URL="$PG/$db?sslmode=disable" AUTHD_COOKIE_SECURE=false \
    AUTHD_RATE_LOGIN_IP=1000000-M AUTHD_RATE_LOGIN_ACCOUNT=1000000-M AUTHD_RATE_REFRESH_IP=1000000-M \
    AUTHD_RATE_REGISTER_IP=1000000-M "$@" \
    "$OUT/bin/authd" serve >"$log" 2>&1 &
  PID=$!
  PIDS+=("$PID")
  wait_listening "$log" "$name"
}
start_baseline() {
  local log=$OUT/baseline-me.log
  AUTHD_JWT_SECRET="$SECRET" "$BENCH" -baseline-me -listen 127.0.0.1:0 -lifetime 10m >"$log" 2>&1 &
  PID=$!
  PIDS+=("$PID")
  wait_listening "$log" baseline-me
}
wait_listening() { # log name
  for _ in $(seq 100); do
    if addr=$(grep -m1 '"msg":"listening"' "$1" 2>/dev/null | jq -r .addr) && [[ -n "$addr" ]]; then
      URL=http://$addr
      log "$2 listening on $URL (pid $PID)"
      return
    fi
    sleep 0.1
  done
  cat "$1" >&2
  echo "run.sh: $2 did not start" >&2
  exit 1
}
stop() { kill "$1"; wait "$1" 2>/dev/null || true; }
vmhwm() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; } # kB

# ---- cost per refresh -----------------------------------------------------------
TCK=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; } # utime+stime of pid
backends() { psql "$PG/$1" -Atc "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"; }
declare -A C0
cost_start() { # database authd-pid (0: none)
  C_DB=$1 C_AUTHD=$2 C_AUTHD0=0
  [[ $2 != 0 ]] && C_AUTHD0=$(ticks "$2")
  C0=()
  for p in $(backends "$1"); do C0[$p]=$(ticks "$p"); done
  C_LSN0=$(psql "$PG/$1" -Atc "SELECT pg_current_wal_lsn()")
  # pgbench's backends exit with it: sample every backend's CPU meanwhile
  # (at most the last 0.5 s of a backend is missed).
  (while :; do for p in $(backends "$1"); do echo "$p $(ticks "$p")"; done; sleep 0.5; done) >"$OUT/cost-samples" 2>/dev/null &
  C_SAMPLER=$!
}
cost_end() { # name ok-count: writes $OUT/cost-<name>.json
  local name=$1 n=$2 pg=0 authd=0 p
  for p in $(backends "$C_DB"); do echo "$p $(ticks "$p")"; done >>"$OUT/cost-samples"
  kill "$C_SAMPLER"; wait "$C_SAMPLER" 2>/dev/null || true
  while read -r p t; do pg=$((pg + t - ${C0[$p]:-0})); done < <(awk '$2 > m[$1] {m[$1] = $2} END {for (p in m) print p, m[p]}' "$OUT/cost-samples")
  [[ $C_AUTHD != 0 ]] && authd=$(($(ticks "$C_AUTHD") - C_AUTHD0))
  local lsn1 oid wal
  lsn1=$(psql "$PG/$C_DB" -Atc "SELECT pg_current_wal_flush_lsn()")
  oid=$(psql "$PG/$C_DB" -Atc "SELECT oid FROM pg_database WHERE datname = current_database()")
  # The bench database's own records: those touching its relations, and the
  # commit records of the transactions that did.
  wal=$(psql "$PG/$C_DB" -At -F' ' -c "WITH r AS (SELECT xid::text::bigint AS xid, resource_manager, record_type, record_length, fpi_length, block_ref FROM pg_get_wal_records_info('$C_LSN0', '$lsn1')),
      ours AS (SELECT DISTINCT xid FROM r WHERE xid <> 0 AND block_ref LIKE '%/$oid/%')
    SELECT coalesce(sum(record_length), 0), count(*),
      coalesce(sum((SELECT count(*) FROM regexp_matches(block_ref, 'rel \d+/$oid/\d+', 'g'))), 0), count(*) FILTER (WHERE fpi_length > 0),
      count(DISTINCT xid) FILTER (WHERE xid <> 0),
      count(*) FILTER (WHERE resource_manager = 'Heap' AND record_type LIKE 'INSERT%'),
      count(*) FILTER (WHERE resource_manager = 'Heap' AND record_type LIKE 'UPDATE%'),
      count(*) FILTER (WHERE resource_manager = 'Heap' AND record_type LIKE 'HOT_UPDATE%')
    FROM r WHERE block_ref LIKE '%/$oid/%' OR (xid <> 0 AND xid IN (SELECT xid FROM ours))" 2>/dev/null || echo "null null null null null null null null")
  read -r wb wr wp wf wx wi wu wh <<<"$wal"
  jq -n --argjson n "$n" --argjson tck "$TCK" --argjson authd "$authd" --argjson pg "$pg" \
    --argjson wx "$wx" --argjson wi "$wi" --argjson wu "$wu" --argjson wh "$wh" \
    --argjson wb "$wb" --argjson wr "$wr" --argjson wp "$wp" --argjson wf "$wf" \
    '{rotations: $n, authd_cpu_s: ($authd / $tck), pg_backend_cpu_s: ($pg / $tck),
      per_vcpu: (if $authd + $pg > 0 then $n / (($authd + $pg) / $tck) else null end),
      pg_per_vcpu: (if $pg > 0 then $n / ($pg / $tck) else null end),
      write_transactions: (if $wx == null then null else $wx / $n end), rows_inserted: (if $wi == null then null else $wi / $n end),
      rows_updated: (if $wu == null then null else ($wu + $wh) / $n end), hot_updates: (if $wh == null then null else $wh / $n end),
      wal_bytes: (if $wb == null then null else $wb / $n end), wal_records: (if $wr == null then null else $wr / $n end),
      page_modifications: (if $wp == null then null else $wp / $n end), full_page_images: (if $wf == null then null else $wf / $n end)}' \
    >"$OUT/cost-$name.json"
  jq -c . "$OUT/cost-$name.json" >&2
}

# ---- measurements -------------------------------------------------------------
bench() { # name args...: run authd-bench, keep its JSON
  local name=$1; shift
  log "phase $name: authd-bench $*"
  local rc=0
  "$BENCH" -json "$@" >"$OUT/$name.json" || rc=$?
  if [[ $rc -ne 0 && $rc -ne 3 ]]; then
    echo "run.sh: authd-bench failed in phase $name" >&2
    exit 1
  fi
  jq -c '{ok_per_second, p50: .latency.p50_ms, p99: .latency.p99_ms, statuses, unexpected_401}' "$OUT/$name.json" >&2
}
pgb() { # name database clients
  log "phase $1: pgbench -c $3 (rotate.pgbench)"
  rm -f "$OUT/$1".log.*
  pgbench "$PG/$2" -n -M prepared -D started=0 -f "$ROOT/bench/sql/rotate.pgbench" -c "$3" -j 2 -T "$SECS" \
    -l --log-prefix="$OUT/$1.log" >"$OUT/$1.txt" 2>&1
  local tps p50 p99
  tps=$(awk '/^tps/ {print $3}' "$OUT/$1.txt")
  # per-transaction latency log: client tx time_us ...
  read -r p50 p99 < <(cat "$OUT/$1".log.* | awk '{print $3}' | sort -n | awk '{a[NR]=$1} END {
    i50=int(NR*0.5+0.5); i99=int(NR*0.99+0.5); if (i50<1) i50=1; if (i99<1) i99=1;
    printf "%.2f %.2f\n", a[i50]/1000, a[i99]/1000}')
  rm -f "$OUT/$1".log.*
  jq -n --argjson tps "$tps" --argjson p50 "$p50" --argjson p99 "$p99" \
    '{ok_per_second: $tps, latency: {p50_ms: $p50, p99_ms: $p99}}' >"$OUT/$1.json"
  jq -c . "$OUT/$1.json" >&2
}
ok() { jq -r .ok_per_second "$OUT/$1.json"; }
p99() { jq -r .latency.p99_ms "$OUT/$1.json"; }
u401() { jq -r '.unexpected_401 + .server_errors' "$OUT/$1.json"; }

log "seeding $SMALL (10,000 refresh tokens)"
mkdb "$SMALL" 100 1000 10

start_authd authd-a "$SMALL"
A_PID=$PID A_URL=$URL
# The same binary without the soft memory limit (the settings before it):
# refresh and /v1/me alternate with the default instance.
start_authd authd-nolimit "$SMALL" AUTHD_MEMORY_LIMIT=0
N_PID=$PID N_URL=$URL
PREFIX=run$TAG
common() { B=(-url "$1" -workers "$W" -duration "${SECS}s" -users 4 -email-prefix "$PREFIX"); }
common "$A_URL"

cmpbench() { # name database server-pid api url [cost-name]: a refresh phase of
  # bench/loadcmp, with the cost counters started between its set-up (sign-ins:
  # bcrypt) and its measured phase; the cost goes to cost-<cost-name>.json
  # (default: the phase's name)
  local name=$1 db=$2 pid=$3 api=$4 url=$5 cname=${6:-$1} rf=$OUT/ready-$1 rc=0 lp
  rm -f "$rf"
  log "phase $name: loadcmp -api $api -url $url -workers $W -duration ${SECS}s -scenario refresh"
  "$OUT/bin/loadcmp" -api "$api" -url "$url" -workers "$W" -duration "${SECS}s" -users 4 -email-prefix "$PREFIX" \
    -scenario refresh -ready-file "$rf" >"$OUT/$name.json" &
  lp=$!
  for _ in $(seq 600); do
    [[ -e "$rf" ]] && break
    kill -0 "$lp" 2>/dev/null || break
    sleep 0.1
  done
  cost_start "$db" "$pid"
  rm -f "$rf"
  wait "$lp" || rc=$?
  if [[ $rc -ne 0 && $rc -ne 3 ]]; then
    echo "run.sh: bench/loadcmp failed in phase $name" >&2
    exit 1
  fi
  jq -c '{ok_per_second, p50: .latency.p50_ms, p99: .latency.p99_ms, statuses, unexpected_401}' "$OUT/$name.json" >&2
  cost_end "$cname" "$(jq -r .ok "$OUT/$name.json")"
}
# Each pair (authd, its baseline) alternates ROUNDS times, so that the load
# of a shared machine drifting during the run hits both sides alike; the
# ratio is the sum of authd's rates over the sum of the baseline's.
# refresh: the PostgreSQL ceiling and authd, each with $W clients.
for r in $(seq "$ROUNDS"); do
  [[ $r == 1 ]] && cost_start "$SMALL" 0
  pgb "pgbench-refresh-$r" "$SMALL" "$W"
  [[ $r == 1 ]] && cost_end pgbench "$(jq -r '.ok_per_second * '"$SECS"' | floor' "$OUT/pgbench-refresh-1.json")"
  # Round 1 also counts the CPU per refresh: the same load (bench/load)
  # through loadcmp, whose counters start after the sign-ins.
  if [[ $r == 1 ]]; then
    cmpbench "refresh-small-$r" "$SMALL" "$A_PID" authd "$A_URL" authd
    cmpbench "refresh-nolimit-$r" "$SMALL" "$N_PID" authd "$N_URL" nolimit
  else
    bench "refresh-small-$r" "${B[@]}" -scenario refresh
    bench "refresh-nolimit-$r" -url "$N_URL" -workers "$W" -duration "${SECS}s" -users 4 -email-prefix "$PREFIX" -scenario refresh
  fi
done
# supabase/auth on the same machine (BENCH_SUPABASE_BIN): its own database,
# as the postgres role with search_path auth (its init script's
# supabase_auth_admin is a cluster-wide role: not created on a shared
# server), sign-ups auto-confirmed, a pool of 20 connections like authd's
# default (its default, unlimited open and database/sql's 2 idle, would
# open a backend per request under 16 workers), its other settings its
# defaults (no rate limiting without GOTRUE_RATE_LIMIT_HEADER, refresh token
# rotation on, info-level request log to a file, as authd's).
SUPA_DONE=""
free_port() {
  local p
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 40000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
  return 1
}
supa_env() { # database-url port: the environment of supabase/auth
  SUPA_ENV=(GOTRUE_DB_DRIVER=postgres GOTRUE_DB_DATABASE_URL="$1" GOTRUE_DB_MIGRATIONS_PATH="$SUPA_MIG"
    GOTRUE_DB_MAX_POOL_SIZE=20 GOTRUE_DB_MAX_IDLE_POOL_SIZE=20 GOTRUE_JWT_SECRET="$SECRET"
    GOTRUE_SITE_URL="http://127.0.0.1:$2" API_EXTERNAL_URL="http://127.0.0.1:$2" GOTRUE_API_HOST=127.0.0.1 PORT="$2"
    GOTRUE_MAILER_AUTOCONFIRM=true GOTRUE_DISABLE_SIGNUP=false GOTRUE_EXTERNAL_EMAIL_ENABLED=true)
}
start_supabase() { # name database-url
  local log=$OUT/$1.log port
  port=$(free_port)
  supa_env "$2" "$port"
  env "${SUPA_ENV[@]}" "$SUPA_BIN" serve >"$log" 2>&1 &
  PID=$!
  PIDS+=("$PID")
  URL=http://127.0.0.1:$port
  for _ in $(seq 200); do
    if curl -fsS "$URL/health" >/dev/null 2>&1; then
      log "$1 listening on $URL (pid $PID)"
      return
    fi
    sleep 0.1
  done
  cat "$log" >&2
  echo "run.sh: supabase/auth ($1) did not start" >&2
  exit 1
}
# statements per refresh, counted on the wire by bench/pgcount: a warm-up
# run (registers the account), then 1 and 1+N chained refreshes by one
# device; the difference of the two counts over N (sign-in and set-up
# cancel out; background statements of the server in that time do not).
PGC_PID=""
pgc_snap() { kill -USR1 "$PGC_PID"; sleep 0.3; tail -1 "$OUT/pgcount.log" | jq -r .statements; }
count_statements() { # name api url: prints statements per refresh
  local name=$1 api=$2 url=$3 n=500 a0 a1 b1
  local one=("$OUT/bin/loadcmp" -api "$api" -url "$url" -workers 1 -users 1 -duration 120s -email-prefix "cnt$TAG" -scenario refresh)
  "${one[@]}" -requests 1 >/dev/null
  a0=$(pgc_snap)
  "${one[@]}" -requests 1 >/dev/null
  a1=$(pgc_snap)
  "${one[@]}" -requests $((n + 1)) >/dev/null
  b1=$(pgc_snap)
  log "statements $name: $((a1 - a0)) for set-up + 1 refresh, $((b1 - a1)) for set-up + $((n + 1))"
  printf '%.2f\n' "$(echo "scale=4; ($((b1 - a1)) - $((a1 - a0))) / $n" | bc)"
}
if [[ -n "$SUPA_BIN" ]]; then
  log "supabase/auth $SUPA_COMMIT: database $SUPA, migrations from $SUPA_MIG"
  psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $SUPA" -c "CREATE DATABASE $SUPA" >/dev/null
  psql "$PG/$SUPA" -q -v ON_ERROR_STOP=1 -c "CREATE SCHEMA auth" -c "ALTER DATABASE $SUPA SET search_path = auth, public" >/dev/null
  psql "$PG/$SUPA" -qc "CREATE EXTENSION IF NOT EXISTS pg_walinspect SCHEMA public" >/dev/null 2>&1 || true
  supa_env "$PG/$SUPA?sslmode=disable" 0
  env "${SUPA_ENV[@]}" "$SUPA_BIN" migrate >"$OUT/supabase-migrate.log" 2>&1 || { cat "$OUT/supabase-migrate.log" >&2; echo "run.sh: supabase/auth migrate failed" >&2; exit 1; }
  start_supabase supabase "$PG/$SUPA?sslmode=disable"
  S_PID=$PID S_URL=$URL
  for r in $(seq "$ROUNDS"); do
    cmpbench "sb-authd-$r" "$SMALL" "$A_PID" authd "$A_URL"
    cmpbench "sb-supabase-$r" "$SUPA" "$S_PID" gotrue "$S_URL"
  done
  HWM_S=$(vmhwm "$S_PID")
  stop "$S_PID"
  # The counting phase: one more instance of each through bench/pgcount.
  "$OUT/bin/pgcount" -listen 127.0.0.1:0 -upstream "${PG##*@}" >"$OUT/pgcount.log" 2>&1 &
  PGC_PID=$!
  PIDS+=("$PGC_PID")
  for _ in $(seq 100); do PGC_ADDR=$(head -1 "$OUT/pgcount.log" 2>/dev/null | jq -r '.addr // empty' 2>/dev/null) && [[ -n "$PGC_ADDR" ]] && break; sleep 0.1; done
  [[ -n "$PGC_ADDR" ]] || { cat "$OUT/pgcount.log" >&2; echo "run.sh: pgcount did not start" >&2; exit 1; }
  PG_VIA="postgres://postgres@$PGC_ADDR"
  start_supabase supabase-count "$PG_VIA/$SUPA?sslmode=disable"
  SC_PID=$PID
  ST_SUPA=$(count_statements supabase gotrue "$URL")
  stop "$SC_PID"
  start_authd authd-count "$SMALL" AUTHD_DATABASE_URL="$PG_VIA/$SMALL?sslmode=disable"
  AC_PID=$PID
  ST_AUTHD=$(count_statements authd authd "$URL")
  stop "$AC_PID"
  stop "$PGC_PID"
  SUPA_DONE=1
else
  log "supabase phase skipped: set BENCH_SUPABASE_BIN to a supabase/auth binary (go build at the root of github.com/supabase/auth) to run it"
fi

# Latency at lower concurrency: how many chained clients keep p99 under 10 ms.
for c in 1 8; do
  pgb "pgbench-refresh-c$c" "$SMALL" "$c"
  bench "refresh-small-c$c" -url "$A_URL" -workers "$c" -duration "${SECS}s" -users 4 -email-prefix "$PREFIX" -scenario refresh
done

# /v1/me against the bare handler (tokens from authd, same secret).
start_baseline
BASE_PID=$PID BASE_URL=$URL
for r in $(seq "$ROUNDS"); do
  bench "me-$r" "${B[@]}" -scenario me
  bench "me-baseline-$r" -url "$BASE_URL" -auth-url "$A_URL" -workers "$W" -duration "${SECS}s" -users 4 -email-prefix "$PREFIX" -scenario me
  bench "me-nolimit-$r" -url "$N_URL" -workers "$W" -duration "${SECS}s" -users 4 -email-prefix "$PREFIX" -scenario me
done
stop "$BASE_PID"
HWM_N=$(vmhwm "$N_PID")
stop "$N_PID"

# login against raw bcrypt at authd's cost (12) on the same cores. authd
# hashes at most nproc at once (AUTHD_BCRYPT_CONCURRENCY default), so the raw
# baseline runs nproc goroutines: its best throughput. bcrypt at cost 12 does
# only a few operations per second here, so both phases run three times as
# long (fewer operations per phase made the ratio jump by a few percent).
for r in $(seq "$ROUNDS"); do
  bench "login-$r" "${B[@]}" -users "$W" -duration "$((SECS * 3))s" -scenario login
  bench "bcrypt-$r" -scenario bcrypt -bcrypt-cost 12 -workers "$(nproc)" -duration "$((SECS * 3))s"
done

bench mixed "${B[@]}" -scenario mixed

# scale-out: two more instances on the same database, load round-robin.
start_authd authd-b "$SMALL"
B2_PID=$PID B2_URL=$URL
start_authd authd-c "$SMALL"
B3_PID=$PID B3_URL=$URL
bench scale-refresh -url "$A_URL,$B2_URL,$B3_URL" -workers "$W" -duration "${SECS}s" -users 4 -email-prefix "$PREFIX" -scenario refresh
bench scale-mixed -url "$A_URL,$B2_URL,$B3_URL" -workers "$W" -duration "${SECS}s" -users 4 -email-prefix "$PREFIX" -scenario mixed
HWM_B2=$(vmhwm "$B2_PID") HWM_B3=$(vmhwm "$B3_PID")
stop "$B2_PID"
stop "$B3_PID"
HWM_A=$(vmhwm "$A_PID")

GROWTH=""
if [[ "${BENCH_SKIP_GROWTH:-0}" != 1 ]]; then
  stop "$A_PID"
  log "seeding $LARGE ($((LARGE_SESSIONS * 10)) refresh tokens, $LARGE_SESSIONS sessions)"
  mkdb "$LARGE" $((LARGE_SESSIONS / 10)) "$LARGE_SESSIONS" 10
  start_authd authd-large "$LARGE"
  L_PID=$PID
  common "$URL"
  bench refresh-large "${B[@]}" -scenario refresh
  HWM_L=$(vmhwm "$L_PID")
  stop "$L_PID"
  # the small database again, so noise on the shared machine shows.
  start_authd authd-a2 "$SMALL"
  A2_PID=$PID
  common "$URL"
  bench refresh-small-after "${B[@]}" -scenario refresh
  stop "$A2_PID"
  GROWTH=1
fi

# ---- summary ------------------------------------------------------------------
ratio() { echo "scale=3; $1 / $2" | bc; }
verdict() { # value op target
  if (( $(echo "$1 $2 $3" | bc) )); then echo "ok"; else echo "MISSED"; fi
}
sum() { # phase-prefix: the sum of ok/s over the rounds
  local t=0
  for r in $(seq "$ROUNDS"); do t=$(echo "$t + $(ok "$1-$r")" | bc); done
  echo "$t"
}
R_REF=$(ratio "$(sum refresh-small)" "$(sum pgbench-refresh)")
R_ME=$(ratio "$(sum me)" "$(sum me-baseline)")
R_LOGIN=$(ratio "$(sum login)" "$(sum bcrypt)")
maxp99() { # phase-prefix: the worst p99 over the rounds
  for r in $(seq "$ROUNDS"); do p99 "$1-$r"; done | sort -g | tail -1
}
meanq() { # phase-prefix p50|p99: the mean over the rounds
  for r in $(seq "$ROUNDS"); do jq -r ".latency.$2_ms" "$OUT/$1-$r.json"; done | awk '{t += $1} END {printf "%.3f\n", t / NR}'
}
R_P50=$(ratio "$(meanq refresh-small p50)" "$(meanq pgbench-refresh p50)")
R_P99=$(ratio "$(meanq refresh-small p99)" "$(meanq pgbench-refresh p99)")
R_REF_LIM=$(ratio "$(sum refresh-small)" "$(sum refresh-nolimit)")
R_ME_LIM=$(ratio "$(sum me)" "$(sum me-nolimit)")
HWM_MAX=$(printf '%s\n' "$HWM_A" "$HWM_B2" "$HWM_B3" "${HWM_L:-0}" | sort -n | tail -1)
cj() { jq -r "$2 | if . == null then \"n/a\" else (. * 100 | round / 100 | tostring) end" "$OUT/cost-$1.json"; }
{
  echo
  cat "$OUT/machine.txt"
  echo
  printf '%-44s %10s %9s %9s\n' "measurement" "ok/s" "p50 ms" "p99 ms"
  names=()
  for pair in "pgbench-refresh refresh-small refresh-nolimit" "sb-authd sb-supabase" "me me-baseline me-nolimit" "login bcrypt"; do
    for r in $(seq "$ROUNDS"); do for p in $pair; do names+=("$p-$r"); done; done
  done
  for n in "${names[@]}" pgbench-refresh-c1 refresh-small-c1 pgbench-refresh-c8 refresh-small-c8 mixed scale-refresh scale-mixed refresh-large refresh-small-after; do
    [[ -f "$OUT/$n.json" ]] || continue
    printf '%-44s %10.1f %9.2f %9.2f\n' "$n" "$(ok "$n")" "$(jq -r .latency.p50_ms "$OUT/$n.json")" "$(p99 "$n")"
  done
  echo
  echo "refresh / pgbench (same SQL, $W clients): $R_REF (target >= 0.65: $(verdict "$R_REF" '>=' 0.65))"
  echo "refresh p50 / pgbench p50 (mean of the rounds, $W clients): $R_P50 (target <= 1.5: $(verdict "$R_P50" '<=' 1.5))"
  echo "refresh p99 / pgbench p99 (mean of the rounds, $W clients): $R_P99 (target <= 1.5: $(verdict "$R_P99" '<=' 1.5));" \
    "worst round: authd $(maxp99 refresh-small) ms, pgbench $(maxp99 pgbench-refresh) ms; with 8: $(p99 refresh-small-c8) vs $(p99 pgbench-refresh-c8) ms; with 1: $(p99 refresh-small-c1) vs $(p99 pgbench-refresh-c1) ms"
  echo "/v1/me / bare handler: $R_ME (target >= 0.80: $(verdict "$R_ME" '>=' 0.80))"
  echo "login / raw bcrypt (cost 12): $R_LOGIN (target >= 0.95: $(verdict "$R_LOGIN" '>=' 0.95))"
  if [[ -n "$GROWTH" ]]; then
    SMALL_MEAN=$(echo "scale=3; ($(ok "refresh-small-$ROUNDS") + $(ok refresh-small-after)) / 2" | bc)
    R_GROWTH=$(ratio "$(ok refresh-large)" "$SMALL_MEAN")
    echo "growth: refresh with $((LARGE_SESSIONS * 10)) tokens / with 10,000 (mean of the last small run before and the one after): $R_GROWTH" \
      "(target >= 0.90: $(verdict "$R_GROWTH" '>=' 0.90))"
    echo "peak memory (VmHWM): authd-large $((HWM_L / 1024)) MiB"
  fi
  echo "peak memory (VmHWM): authd-a $((HWM_A / 1024)) MiB after every small-database phase; authd-b $((HWM_B2 / 1024)) MiB, authd-c $((HWM_B3 / 1024)) MiB;" \
    "highest $((HWM_MAX / 1024)) MiB (target < 64 MiB: $(verdict "$HWM_MAX" '<' 65536)); without the memory limit (AUTHD_MEMORY_LIMIT=0, refresh and /v1/me only): $((HWM_N / 1024)) MiB"
  echo "memory limit's cost: refresh default / AUTHD_MEMORY_LIMIT=0: $R_REF_LIM (target >= 0.95: $(verdict "$R_REF_LIM" '>=' 0.95)); /v1/me: $R_ME_LIM (target >= 0.95: $(verdict "$R_ME_LIM" '>=' 0.95))"
  PV=$(cj authd .per_vcpu)
  echo "refreshes per second per vCPU, authd + its PostgreSQL backends (round 1, set-up excluded, $(cj authd .authd_cpu_s) + $(cj authd .pg_backend_cpu_s) CPU s): $PV" \
    "(Keycloak's sizing guide: about 120; ratio $(ratio "$PV" 120), target >= 1: $(verdict "$PV" '>=' 120)); PostgreSQL backends alone: $(cj authd .pg_per_vcpu) per vCPU (pgbench's: $(cj pgbench .pg_per_vcpu))"
  echo "authd's own CPU per refresh: $(echo "scale=3; 1000 * $(cj authd .authd_cpu_s) / $(cj authd .rotations)" | bc) ms with the memory limit," \
    "$(echo "scale=3; 1000 * $(cj nolimit .authd_cpu_s) / $(cj nolimit .rotations)" | bc) ms with AUTHD_MEMORY_LIMIT=0 (round 1)"
  echo "PostgreSQL per refresh (authd, round 1; pgbench's in brackets; from the bench database's WAL records): statements 2 (TestRefresh_AtMostFiveStatements)," \
    "writing transactions $(cj authd .write_transactions) [$(cj pgbench .write_transactions)]," \
    "rows inserted $(cj authd .rows_inserted) [$(cj pgbench .rows_inserted)], updated $(cj authd .rows_updated) [$(cj pgbench .rows_updated)] of which HOT $(cj authd .hot_updates) [$(cj pgbench .hot_updates)]," \
    "WAL bytes $(cj authd .wal_bytes) [$(cj pgbench .wal_bytes)], WAL records $(cj authd .wal_records) [$(cj pgbench .wal_records)]," \
    "page modifications $(cj authd .page_modifications) [$(cj pgbench .page_modifications)], full-page images $(cj authd .full_page_images) [$(cj pgbench .full_page_images)]"
  if [[ -n "$SUPA_DONE" ]]; then
    # Every round's rotations over every round's CPU seconds (server + its
    # PostgreSQL backends), the same accounting as the per-vCPU line above.
    pv() { jq -s '(map(.rotations) | add) / (map(.authd_cpu_s + .pg_backend_cpu_s) | add) * 100 | round / 100' "$OUT"/cost-sb-"$1"-*.json; }
    cpu() { jq -s "map(.$2) | add * 100 | round / 100" "$OUT"/cost-sb-"$1"-*.json; }
    PV_A=$(pv authd) PV_S=$(pv supabase)
    R_SB=$(ratio "$(sum sb-authd)" "$(sum sb-supabase)")
    sj() { jq -s "map(.$1) | if any(. == null) then \"n/a\" else (add / length * 100 | round / 100 | tostring) end" -r "$OUT"/cost-sb-supabase-*.json; }
    echo "supabase/auth $SUPA_COMMIT, same machine, alternated with authd $ROUNDS times, $W chained clients:" \
      "refresh authd / supabase $R_SB (stated; $(printf %.1f "$(sum sb-authd)") vs $(printf %.1f "$(sum sb-supabase)") ok/s summed over the rounds," \
      "p99 $(meanq sb-authd p99) vs $(meanq sb-supabase p99) ms, mean of the rounds)"
    echo "refreshes per second per vCPU, server + its PostgreSQL backends, every round, set-up excluded: authd $PV_A ($(cpu authd authd_cpu_s) + $(cpu authd pg_backend_cpu_s) CPU s)," \
      "supabase/auth $PV_S ($(cpu supabase authd_cpu_s) + $(cpu supabase pg_backend_cpu_s) CPU s); authd / supabase $(ratio "$PV_A" "$PV_S") (stated);" \
      "Keycloak's sizing guide: about 120"
    echo "statements per refresh, counted on the wire (bench/pgcount): authd $ST_AUTHD, supabase/auth $ST_SUPA (stated);" \
      "supabase/auth per refresh (WAL records of its database, mean of the rounds): writing transactions $(sj write_transactions), rows inserted $(sj rows_inserted)," \
      "updated $(sj rows_updated), WAL bytes $(sj wal_bytes), WAL records $(sj wal_records); peak RSS $((HWM_S / 1024)) MiB"
  else
    echo "supabase/auth on the same machine: skipped (BENCH_SUPABASE_BIN not set)"
  fi
  # Every phase of the load tool, not only the last: a lost or forked
  # rotation in round 1 must show as much as one in the last round.
  bad=""
  for f in "$OUT"/*.json; do
    n=$(basename "$f" .json)
    v=$(jq -r 'if has("unexpected_401") then .unexpected_401 + .server_errors else empty end' "$f")
    if [[ -n "$v" && "$v" != 0 ]]; then bad+=" $n=$v"; fi
  done
  echo "unexpected 401 or 5xx other than 503 (must be 0), over every load-tool phase: ${bad:-0 in all}"
  echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "results: $OUT"
} | tee "$OUT/summary.txt"
