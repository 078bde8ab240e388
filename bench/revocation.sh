#!/usr/bin/env bash
# bench/revocation.sh: what the revocation check costs a running server.
#
# The devices issue's target: /v1/me with the revocation check answers at
# least 90 % of the requests per second of the same endpoint with the check
# switched off. authd itself has no switch to turn the check off (it must
# not), so this measures the same /v1/me handler chain twice with the load
# tool: `authd-bench -baseline-me` (a running server that verifies authd's
# tokens exactly as authd does) without the check, and with authd's
# in-memory revocation set holding 10,000 revoked sessions. The go test
# benchmark BenchmarkMe_RevocationCheck does the same on the full authd
# handler chain. One authd (SQLite) only issues the tokens.
#
# Knobs: BENCH_SECONDS (phase, default 10), BENCH_ROUNDS (default 3),
# BENCH_WORKERS (default 16). Loopback only; every process is stopped.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SECS=${BENCH_SECONDS:-10}
ROUNDS=${BENCH_ROUNDS:-3}
W=${BENCH_WORKERS:-16}
OUT=${BENCH_OUT:-$(mktemp -d /tmp/authd-revocation.XXXXXX)}
SECRET=$(head -c 32 /dev/urandom | base64 | tr -d '\n')
PIDS=()
command -v jq >/dev/null || { echo "revocation.sh: jq is required" >&2; exit 2; }
source "$ROOT/bench/lib.sh"
trap stop_all EXIT
build_tools

(cd "$OUT" && env AUTHD_ENV=production AUTHD_JWT_SECRET="$SECRET" AUTHD_ADDR=127.0.0.1:0 AUTHD_SQLITE_PATH="$OUT/authd.db" \
  AUTHD_RATE_LOGIN_IP=1000000-M AUTHD_RATE_LOGIN_ACCOUNT=1000000-M AUTHD_RATE_REGISTER_IP=1000000-M \
  "$OUT/bin/authd" serve >"$OUT/authd.log" 2>&1) &
PIDS+=("$!")
wait_listening "$OUT/authd.log"
AUTH=$URL
AUTHD_JWT_SECRET="$SECRET" "$BENCH" -baseline-me -listen 127.0.0.1:0 >"$OUT/off.log" 2>&1 &
PIDS+=("$!")
wait_listening "$OUT/off.log"
OFF=$URL
AUTHD_JWT_SECRET="$SECRET" "$BENCH" -baseline-me -revoked 10000 -listen 127.0.0.1:0 >"$OUT/on.log" 2>&1 &
PIDS+=("$!")
wait_listening "$OUT/on.log"
ON=$URL
log "tokens from $AUTH; check off at $OFF, on at $ON"

me() { me_phase "$1" -url "$2" -auth-url "$AUTH" -workers "$W" -email-prefix "rev$$"; } # name url
for r in $(seq "$ROUNDS"); do
  me "off-$r" "$OFF"
  me "on-$r" "$ON"
done
on=$(jq -s 'map(.ok_per_second) | add' "$OUT"/on-*.json)
off=$(jq -s 'map(.ok_per_second) | add' "$OUT"/off-*.json)
r=$(ratio "$on" "$off" 3)
printf '\n/v1/me with the revocation check: %s req/s summed over %s rounds; without: %s; ratio %s (target >= 0.9): %s\n' \
  "$on" "$ROUNDS" "$off" "$r" "$(verdict "$r" '>= 0.9')"
printf 'results in %s\n' "$OUT"
