#!/usr/bin/env bash
# bench/memlimit.sh: what AUTHD_MEMORY_LIMIT costs, side by side.
#
# Instances of authd on one PostgreSQL database, each with its own settings
# (by default the configuration's default and AUTHD_MEMORY_LIMIT=0), measured
# two ways:
#
#   gc      one at a time, GODEBUG=gctrace=1: GC cycles per 1,000 requests,
#           live heap and goal, the GC's CPU (gctrace's "ms cpu", summed)
#           against the process's (/proc/<pid>/stat), and VmHWM, for a refresh
#           and a /v1/me phase each: physical counts, steady on a busy host;
#   rates   all at once, refresh then /v1/me rounds alternated across them
#           (the first instance rotates each round), pooled: the sum of the
#           first instance's rates over the sum of each other's.
#
# Usage: bench/memlimit.sh [SPEC...], a SPEC being "name [VAR=value...]",
# default "default" "nolimit AUTHD_MEMORY_LIMIT=0". Environment:
# BENCH_SECONDS (phase, default 4), BENCH_ROUNDS (default 6), BENCH_PG
# (default postgres://postgres@127.0.0.1:5432), BENCH_OUT (default a new
# temp dir), BENCH_OTHER_BIN (an authd binary for specs whose name starts
# with "other", e.g. a build of main).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SECS=${BENCH_SECONDS:-4}
ROUNDS=${BENCH_ROUNDS:-6}
PG=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
OUT=${BENCH_OUT:-$(mktemp -d /tmp/authd-memlimit.XXXXXX)}
DB=authd_memlimit_$$
SECRET=$(head -c 32 /dev/urandom | base64)
PIDS=()
source "$ROOT/bench/lib.sh"
[[ $# -gt 0 ]] || set -- "default" "nolimit AUTHD_MEMORY_LIMIT=0"

cleanup() {
  stop_all
  psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
}
trap cleanup EXIT

build_tools
psql "$PG/postgres" -qc "CREATE DATABASE $DB"
AUTHD_DATABASE_URL="$PG/$DB?sslmode=disable" "$OUT/bin/authd" migrate up >/dev/null

# start NAME [VAR=value...]: starts an instance, sets PID and URL.
start() {
  local name=$1 bin=$OUT/bin/authd
  shift
  [[ $name == other* ]] && bin=${BENCH_OTHER_BIN:?BENCH_OTHER_BIN is not set}
  env AUTHD_ENV=production AUTHD_JWT_SECRET="$SECRET" AUTHD_ADDR=127.0.0.1:0 \
    AUTHD_DATABASE_URL="$PG/$DB?sslmode=disable" AUTHD_COOKIE_SECURE=false \
    AUTHD_RATE_LOGIN_IP=1000000-M AUTHD_RATE_LOGIN_ACCOUNT=1000000-M AUTHD_RATE_REFRESH_IP=1000000-M \
    AUTHD_RATE_REGISTER_IP=1000000-M "$@" "$bin" serve >"$OUT/$name.log" 2>"$OUT/$name.err" &
  PID=$!
  PIDS+=("$PID")
  wait_listening "$OUT/$name.log"
}
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
cycles() { grep -c '^gc ' "$1" || true; }

# ---- gc: one instance at a time ------------------------------------------------
# bench/loadcmp signs in first and waits for the ready file to go, so that
# the counters cover the measured phase only.
go build -o "$OUT/bin/loadcmp" "$ROOT/bench/loadcmp"
for spec in "$@"; do
  read -r name envs <<<"$spec"
  # shellcheck disable=SC2086 # envs is a list of VAR=value words
  start "$name" GODEBUG=gctrace=1 $envs
  for scen in refresh me; do
    rm -f "$OUT/ready"
    "$OUT/bin/loadcmp" -api authd -url "$URL" -workers 16 -duration "${SECS}s" -users 4 -email-prefix memlimit \
      -scenario "$scen" -ready-file "$OUT/ready" >"$OUT/gc-$name-$scen.json" &
    lp=$!
    for _ in $(seq 600); do [[ -e "$OUT/ready" ]] && break; sleep 0.1; done
    g0=$(cycles "$OUT/$name.err") t0=$(ticks "$PID")
    rm -f "$OUT/ready"
    wait "$lp" || [[ $? -eq 3 ]]
    g1=$(cycles "$OUT/$name.err") t1=$(ticks "$PID")
    sed -n "$((g0 + 1)),${g1}p" "$OUT/$name.err" | grep '^gc ' |
      sed -E 's/.* ([0-9.+/]+) ms cpu, [0-9]+->[0-9]+->([0-9]+) MB, ([0-9]+) MB goal.*/\2 \3 \1/' |
      awk -v n="$(jq -r .ok "$OUT/gc-$name-$scen.json")" -v cpu="$(((t1 - t0) * 1000 / $(getconf CLK_TCK)))" \
        -v label="$name $scen" '{live += $1; goal += $2; split($3, t, /[+\/]/); for (i in t) ms += t[i]; c++}
        END {printf "%s: %d requests, %.2f GC cycles per 1,000, live %.1f MB, goal %.1f MB, GC CPU %.1f %% of the process'"'"'s (%d of %d ms)\n",
          label, n, 1000 * c / n, c ? live / c : 0, c ? goal / c : 0, cpu ? 100 * ms / cpu : 0, ms, cpu}'
  done
  echo "$name: VmHWM $(awk '/VmHWM/ {print $2}' "/proc/$PID/status") kB"
  kill "$PID"
  wait "$PID" 2>/dev/null || true
done >"$OUT/gc.txt"
cat "$OUT/gc.txt"

# ---- rates: all at once, alternated -----------------------------------------------
NAMES=()
declare -A URLS
for spec in "$@"; do
  read -r name envs <<<"$spec"
  # shellcheck disable=SC2086
  start "$name" $envs
  URLS[$name]=$URL
  NAMES+=("$name")
done
echo "load average at start of the rates: $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$OUT/rates.txt"
n=${#NAMES[@]}
for scen in refresh me; do
  for r in $(seq "$ROUNDS"); do
    for k in $(seq 0 $((n - 1))); do
      name=${NAMES[$(((k + r) % n))]}
      "$BENCH" -json -url "${URLS[$name]}" -workers 16 -duration "${SECS}s" -users 4 -email-prefix memlimit \
        -scenario "$scen" >"$OUT/$scen-$name-$r.json" || [[ $? -eq 3 ]]
      echo "$scen $name $r $(jq -r .ok_per_second "$OUT/$scen-$name-$r.json")" >>"$OUT/rates"
    done
  done
done
for scen in refresh me; do
  for name in "${NAMES[@]:1}"; do
    awk -v s="$scen" -v a="${NAMES[0]}" -v b="$name" '$1 == s && $2 == a {x += $4} $1 == s && $2 == b {y += $4}
      END {printf "%s %s / %s: %.3f pooled over the rounds\n", s, a, b, x / y}' "$OUT/rates"
  done
done | tee -a "$OUT/rates.txt"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg); results in $OUT" | tee -a "$OUT/rates.txt"
