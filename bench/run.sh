#!/usr/bin/env bash
# bench/run.sh: authd's performance proof, baselines in the same run.
#
# Measures, on this machine and in one run:
#   refresh  authd chained rotations/s   vs pgbench running the same SQL (bench/sql/rotate.pgbench)
#   me       authd GET /v1/me/s          vs a bare gin handler verifying the same JWT (authd-bench -baseline-me)
#   login    authd logins/s              vs raw bcrypt comparisons at the same cost (authd-bench -scenario bcrypt)
#   growth   rotations/s with 1,000,000 stored refresh tokens / 100,000 sessions vs 10,000 / 1,000
#   scale    three instances on one database, round-robin, no unexpected 401
#   memory   peak RSS (VmHWM) of each authd process
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
# BENCH_LARGE_SESSIONS (default 100000; x10 tokens), BENCH_SKIP_GROWTH=1.
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
PIDS=()
mkdir -p "$OUT/bin"
for tool in go psql pgbench jq; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool is required" >&2; exit 2; }
done

cleanup() {
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if [[ "${BENCH_KEEP:-0}" != 1 ]]; then
    psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $SMALL" -c "DROP DATABASE IF EXISTS $LARGE" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }

# ---- machine and build ------------------------------------------------------
log "building into $OUT/bin"
(cd "$ROOT" && go build -o "$OUT/bin/authd" ./cmd/authd && go build -o "$OUT/bin/authd-bench" ./cmd/authd-bench)
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
  psql "$PG/$1" -q -v ON_ERROR_STOP=1 -v users="$2" -v sessions="$3" -v per_session="$4" -f "$ROOT/bench/sql/seed.sql"
  # Flush the seed's WAL now, so no checkpoint of it falls into a phase.
  psql "$PG/$1" -qc "CHECKPOINT" >/dev/null
  log "$1: $(psql "$PG/$1" -Atc "select (select count(*) from sessions) || ' sessions, ' || (select count(*) from refresh_tokens) || ' refresh tokens'")"
}

# ---- processes ----------------------------------------------------------------
URL=""
PID=""
start_authd() { # name database
  local log=$OUT/$1.log
  env AUTHD_ENV=production AUTHD_JWT_SECRET="$SECRET" AUTHD_ADDR=127.0.0.1:0 \
    AUTHD_DATABASE_URL="$PG/$2?sslmode=disable" AUTHD_COOKIE_SECURE=false \
    AUTHD_RATE_LOGIN_IP=1000000-M AUTHD_RATE_LOGIN_ACCOUNT=1000000-M AUTHD_RATE_REFRESH_IP=1000000-M \
    AUTHD_RATE_REGISTER_IP=1000000-M \
    "$OUT/bin/authd" serve >"$log" 2>&1 &
  PID=$!
  PIDS+=("$PID")
  wait_listening "$log" "$1"
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
PREFIX=run$TAG
common() { B=(-url "$1" -workers "$W" -duration "${SECS}s" -users 4 -email-prefix "$PREFIX"); }
common "$A_URL"

# Each pair (authd, its baseline) alternates ROUNDS times, so that the load
# of a shared machine drifting during the run hits both sides alike; the
# ratio is the sum of authd's rates over the sum of the baseline's.
# refresh: the PostgreSQL ceiling and authd, each with $W clients.
for r in $(seq "$ROUNDS"); do
  pgb "pgbench-refresh-$r" "$SMALL" "$W"
  bench "refresh-small-$r" "${B[@]}" -scenario refresh
done
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
done
stop "$BASE_PID"

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
{
  echo
  cat "$OUT/machine.txt"
  echo
  printf '%-44s %10s %9s %9s\n' "measurement" "ok/s" "p50 ms" "p99 ms"
  names=()
  for pair in "pgbench-refresh refresh-small" "me me-baseline" "login bcrypt"; do
    for r in $(seq "$ROUNDS"); do for p in $pair; do names+=("$p-$r"); done; done
  done
  for n in "${names[@]}" pgbench-refresh-c1 refresh-small-c1 pgbench-refresh-c8 refresh-small-c8 mixed scale-refresh scale-mixed refresh-large refresh-small-after; do
    [[ -f "$OUT/$n.json" ]] || continue
    printf '%-44s %10.1f %9.2f %9.2f\n' "$n" "$(ok "$n")" "$(jq -r .latency.p50_ms "$OUT/$n.json")" "$(p99 "$n")"
  done
  echo
  echo "refresh / pgbench (same SQL, $W clients): $R_REF (target >= 0.50: $(verdict "$R_REF" '>=' 0.50))"
  echo "refresh p99 with $W workers (worst round): $(maxp99 refresh-small) ms; with 8: $(p99 refresh-small-c8) ms; with 1: $(p99 refresh-small-c1) ms" \
    "(target < 10 ms: $(verdict "$(maxp99 refresh-small)" '<' 10) at $W, $(verdict "$(p99 refresh-small-c8)" '<' 10) at 8, $(verdict "$(p99 refresh-small-c1)" '<' 10) at 1);" \
    "pgbench p99: $(maxp99 pgbench-refresh) ms at $W clients, $(p99 pgbench-refresh-c8) ms at 8, $(p99 pgbench-refresh-c1) ms at 1"
  # The p99 bound is absolute; PostgreSQL's own tail on this host, with no
  # authd, no HTTP and no load tool, says whether the host can meet it.
  if (( $(echo "$(maxp99 pgbench-refresh) >= 10" | bc) )); then
    echo "  note: pgbench alone misses 10 ms at $W clients on this host, so the p99 target cannot be met here"
  fi
  echo "/v1/me / bare handler: $R_ME (target >= 0.80: $(verdict "$R_ME" '>=' 0.80))"
  echo "login / raw bcrypt (cost 12): $R_LOGIN (target >= 0.95: $(verdict "$R_LOGIN" '>=' 0.95))"
  if [[ -n "$GROWTH" ]]; then
    SMALL_MEAN=$(echo "scale=3; ($(ok "refresh-small-$ROUNDS") + $(ok refresh-small-after)) / 2" | bc)
    R_GROWTH=$(ratio "$(ok refresh-large)" "$SMALL_MEAN")
    echo "growth: refresh with $((LARGE_SESSIONS * 10)) tokens / with 10,000 (mean of the last small run before and the one after): $R_GROWTH" \
      "(target >= 0.90: $(verdict "$R_GROWTH" '>=' 0.90))"
    echo "peak memory (VmHWM): authd-large $((HWM_L / 1024)) MiB"
  fi
  echo "peak memory (VmHWM): authd-a $((HWM_A / 1024)) MiB after every small-database phase; authd-b $((HWM_B2 / 1024)) MiB, authd-c $((HWM_B3 / 1024)) MiB"
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
