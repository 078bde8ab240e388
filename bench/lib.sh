# bench/lib.sh: shared helpers of bench/flood.sh and bench/revocation.sh
# (sourced, not run). The caller sets ROOT and OUT and appends the pids it
# starts to PIDS; stop_all kills them.

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }

# build_tools builds authd and authd-bench from the checkout into $OUT/bin.
build_tools() {
  mkdir -p "$OUT/bin"
  log "building into $OUT/bin"
  # -tags nomsgpack as in the Dockerfile: the binary that ships.
  (cd "$ROOT" && go build -tags nomsgpack -o "$OUT/bin/authd" ./cmd/authd && go build -o "$OUT/bin/authd-bench" ./cmd/authd-bench)
  BENCH=$OUT/bin/authd-bench
  echo "nproc $(nproc), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), load average at start $(cut -d' ' -f1-3 /proc/loadavg)" >&2
}

# wait_listening LOG sets URL from the {"msg":"listening"} line a server
# writes to LOG, or fails after 20 s.
wait_listening() {
  URL=""
  for _ in $(seq 200); do
    if addr=$(grep -m1 '"msg":"listening"' "$1" 2>/dev/null | jq -r .addr) && [[ -n "$addr" ]]; then
      URL=http://$addr
      return
    fi
    sleep 0.1
  done
  cat "$1" >&2
  echo "$(basename "$0"): a server did not start (see $1)" >&2
  exit 1
}

# me_phase NAME FLAG...: one measured phase of authd-bench's /v1/me
# scenario (4 users, $SECS seconds) with the caller's flags (-url, -workers,
# …). Its report goes to $OUT/NAME.json, a summary line to stderr; exit 3
# (some requests failed) is a result, not an error.
me_phase() {
  local name=$1
  shift
  "$BENCH" -json -scenario me -users 4 -duration "${SECS}s" "$@" >"$OUT/$name.json" || [[ $? -eq 3 ]]
  jq -c '{phase: "'"$name"'", ok_per_second, p50: .latency.p50_ms, p99: .latency.p99_ms, statuses}' "$OUT/$name.json" >&2
}

# ratio A B PLACES prints A/B rounded to PLACES decimals.
ratio() {
  jq -n --argjson a "$1" --argjson b "$2" --argjson p "$3" 'pow(10; $p) as $m | ($a / $b * $m | round) / $m'
}

# verdict R TEST prints "ok" if R passes the jq comparison TEST ("<= 2"),
# else "missed".
verdict() { jq -n --argjson r "$1" "if \$r $2 then \"ok\" else \"missed\" end"; }

stop_all() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
