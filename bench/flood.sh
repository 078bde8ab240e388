#!/usr/bin/env bash
# bench/flood.sh: does a login flood starve the cheap endpoints?
#
# The rate-limit issue's acceptance: /v1/me p99 latency during a login flood
# at the default bcrypt cost stays within 2x of its p99 without the flood.
# One authd (PostgreSQL, AUTHD_ENV=production, bcrypt cost 12, bounded
# bcrypt concurrency = nproc) serves:
#   quiet   W_ME clients on /v1/me                         (the baseline)
#   flood   the same, while W_LOGIN clients log in nonstop (rate limits raised
#           so every login reaches bcrypt: the worst case for the CPU)
# alternated ROUNDS times in one run; it prints both p99s and the ratio.
#
# Knobs: BENCH_SECONDS (phase, default 10), BENCH_ROUNDS (default 2),
# BENCH_ME_WORKERS (default 8), BENCH_LOGIN_WORKERS (default 64),
# BENCH_PG (default postgres://postgres@127.0.0.1:5432). Only loopback is
# used; every process and the database it creates are removed at the end.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SECS=${BENCH_SECONDS:-10}
ROUNDS=${BENCH_ROUNDS:-2}
WME=${BENCH_ME_WORKERS:-8}
WLOGIN=${BENCH_LOGIN_WORKERS:-64}
PG=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
OUT=${BENCH_OUT:-$(mktemp -d /tmp/authd-flood.XXXXXX)}
DB=authd_flood_$$
SECRET=$(head -c 32 /dev/urandom | base64 | tr -d '\n')
PIDS=()
for tool in go psql jq; do
  command -v "$tool" >/dev/null || { echo "flood.sh: $tool is required" >&2; exit 2; }
done
source "$ROOT/bench/lib.sh"
cleanup() {
  stop_all
  psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
}
trap cleanup EXIT
build_tools

psql "$PG/postgres" -qc "CREATE DATABASE $DB" >/dev/null
env AUTHD_ENV=production AUTHD_JWT_SECRET="$SECRET" AUTHD_ADDR=127.0.0.1:0 \
  AUTHD_DATABASE_URL="$PG/$DB?sslmode=disable" AUTHD_COOKIE_SECURE=false \
  AUTHD_RATE_LOGIN_IP=1000000-M AUTHD_RATE_LOGIN_ACCOUNT=1000000-M AUTHD_RATE_REFRESH_IP=1000000-M \
  AUTHD_RATE_REGISTER_IP=1000000-M \
  "$OUT/bin/authd" serve >"$OUT/authd.log" 2>&1 &
PIDS+=("$!")
wait_listening "$OUT/authd.log"
log "authd on $URL"

me() { me_phase "$1" -url "$URL" -workers "$WME" -email-prefix "flood$$"; } # name: W_ME clients on /v1/me
# Sign the /v1/me users in once, outside the measurement.
"$BENCH" -json -url "$URL" -scenario me -workers "$WME" -users 4 -email-prefix "flood$$" -duration 2s >/dev/null || true

for r in $(seq "$ROUNDS"); do
  me "quiet-$r"
  log "login flood: $WLOGIN clients"
  "$BENCH" -json -url "$URL" -scenario login -workers "$WLOGIN" -users "$WLOGIN" -email-prefix "flooder$$" \
    -duration "$((SECS + 4))s" >"$OUT/logins-$r.json" &
  FLOOD=$!
  sleep 3 # the flooders are signed up and bcrypt is saturated
  me "busy-$r"
  wait "$FLOOD" || true
  jq -c '{phase: "logins-'"$r"'", ok_per_second, statuses}' "$OUT/logins-$r.json" >&2
done

# The mean p99 over the rounds of each kind.
quiet=$(jq -s 'map(.latency.p99_ms) | add / length' "$OUT"/quiet-*.json)
flood=$(jq -s 'map(.latency.p99_ms) | add / length' "$OUT"/busy-*.json)
r=$(ratio "$flood" "$quiet" 2)
printf '\n/v1/me p99 without the flood: %s ms; during the flood: %s ms; ratio %s (target <= 2): %s\n' \
  "$quiet" "$flood" "$r" "$(verdict "$r" '<= 2')"
printf 'results in %s\n' "$OUT"
