#!/usr/bin/env bash
# Service-level figures: callguard-server against the echo baseline (same proto, same gRPC
# settings and threads, no engine), both loaded by the same callguard-bench, so every figure
# comes with its ratio to the transport floor. Builds nothing: run scripts/build.sh first.
#
#   bench/load/run.sh            every scenario (a b c a-many b-many c-many), REPEAT (default 3)
#                                runs per server; medians
#   bench/load/run.sh a b        only some scenarios
#   bench/load/run.sh c-many     scenario c with its calls multiplexed on ConverseMany streams
#
# Scenarios and targets:
#   a  100 concurrent streams as fast as possible       throughput >= 85% of echo
#   b  1,000 calls, 1 final utterance/s each + interim  p99 latency < 2 ms
#   c  10,000 live calls, mostly idle                   server memory per live call <= 16 KiB
#   d  (every run) no error and no lost answer
# a-many, b-many, c-many: the same loads and targets, the calls carried by ConverseMany streams
# (10 calls per stream for a, 100 for b and c) instead of one Converse stream each; echo plays
# them the same way.
# Each run gets a freshly started server on 127.0.0.1 port 0; traffic stays on loopback.
# Env: CALLGUARD_BUILD_DIR (default build), REPEAT, KEEP=1 keeps the reports folder.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN="${CALLGUARD_BUILD_DIR:-build}/bin"
REPEAT="${REPEAT:-3}"
for b in callguard-server callguard-echo-server callguard-bench; do
  [ -x "$BIN/$b" ] || { echo "run.sh: $BIN/$b is missing; build first (scripts/build.sh)" >&2; exit 1; }
done
SCENARIOS=("$@")
[ ${#SCENARIOS[@]} -gt 0 ] || SCENARIOS=(a b c a-many b-many c-many)

# 10,000 streams need few sockets, but gRPC and the two servers want headroom.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 4096 ]; then
  echo "run.sh: only $(ulimit -n) file descriptors allowed; scenario c may fail" >&2
fi

OUT="$(mktemp -d "${TMPDIR:-/tmp}/callguard-load-XXXXXX")"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill -TERM "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  if [ "${KEEP:-0}" = 1 ]; then echo "reports kept in $OUT"; else rm -rf "$OUT"; fi
}
trap cleanup EXIT

# start_server KIND: starts it on 127.0.0.1:0 and sets SERVER_PID and SERVER_ADDR.
start_server() {
  local kind=$1 log="$OUT/server-$1.log"
  : >"$log"
  local binary="$BIN/callguard-server"
  local args=(--listen 127.0.0.1:0 --max-active-calls 20000)
  if [ "$kind" = echo ]; then
    binary="$BIN/callguard-echo-server"
    args=(--listen 127.0.0.1:0)
  else
    # As deployed, alert store included, but in a fresh file and with the dashboard on a free
    # loopback port.
    if "$binary" --help | grep -q -- "--db "; then args+=(--db "$OUT/alerts-$RUN_ID.db"); fi
    if "$binary" --help | grep -q -- "--http-listen"; then args+=(--http-listen 127.0.0.1:0); fi
  fi
  "$binary" "${args[@]}" >"$log" 2>&1 &
  SERVER_PID=$!
  SERVER_ADDR=""
  for _ in $(seq 300); do
    SERVER_ADDR="$(sed -n "s/^$(basename "$binary") listening on \([0-9.]*:[0-9]*\).*/\1/p" "$log" | head -n1)"
    [ -n "$SERVER_ADDR" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$log" >&2; exit 1; }
    sleep 0.1
  done
  [ -n "$SERVER_ADDR" ] || { echo "run.sh: $kind server did not start" >&2; cat "$log" >&2; exit 1; }
  sleep 0.5  # let it settle before the idle memory is read
}

stop_server() {
  kill -TERM "$SERVER_PID"
  wait "$SERVER_PID" || true
  SERVER_PID=""
}

scenario_flags() {
  case "$1" in
    a) echo "--calls 100 --rate-per-call 0 --duration-s 10 --ramp-s 0.5 --settle-s 1" ;;
    b) echo "--calls 1000 --rate-per-call 1 --duration-s 15 --ramp-s 2 --settle-s 2" ;;
    c) echo "--calls 10000 --rate-per-call 0.02 --duration-s 10 --ramp-s 10 --settle-s 3 --drain-timeout-s 60" ;;
    a-many) echo "$(scenario_flags a) --calls-per-stream 10" ;;
    b-many) echo "$(scenario_flags b) --calls-per-stream 100" ;;
    c-many) echo "$(scenario_flags c) --calls-per-stream 100" ;;
    *) echo "run.sh: unknown scenario $1 (a, b, c, a-many, b-many or c-many)" >&2; exit 2 ;;
  esac
}

for scenario in "${SCENARIOS[@]}"; do
  flags="$(scenario_flags "$scenario")"
  for i in $(seq "$REPEAT"); do
    # Alternate the order so that drifting noise on the shared machine hits both alike.
    kinds=(echo callguard)
    [ $((i % 2)) -eq 0 ] && kinds=(callguard echo)
    for kind in "${kinds[@]}"; do
      RUN_ID="$scenario-$kind-$i"
      start_server "$kind"
      echo "== scenario $scenario, $kind, run $i/$REPEAT" >&2
      # shellcheck disable=SC2086
      "$BIN/callguard-bench" --target "$SERVER_ADDR" --server-pid "$SERVER_PID" $flags \
        --scenario "$scenario" --label "$kind" --json "$OUT/$scenario-$kind-$i.json" >"$OUT/$scenario-$kind-$i.txt"
      sed 's/^/   /' "$OUT/$scenario-$kind-$i.txt" >&2
      stop_server
    done
  done
done

# The targets of the scenarios run (SCENARIO-many has its SCENARIO's).
scenario_expectations() {
  local base=${1%-many}
  case "$base" in
    a) echo "$1:ratio:throughput>=0.85" ;;
    b) echo "$1:latency.p99_us<2000" ;;
    c) echo "$1:server.rss_per_call_kib<=16" ;;
  esac
  echo "$1:errors<=0"
  echo "$1:lost<=0"
}

reports=()
expectations=()
for scenario in "${SCENARIOS[@]}"; do
  # By kind: "c-*" would also take c-many's reports.
  for f in "$OUT/$scenario"-echo-*.json "$OUT/$scenario"-callguard-*.json; do reports+=("$f"); done
  while read -r e; do expectations+=(--expect "$e"); done < <(scenario_expectations "$scenario")
done
"$BIN/callguard-bench" compare --baseline echo "${expectations[@]}" "${reports[@]}"
