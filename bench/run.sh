#!/usr/bin/env bash
# The one command behind bench/README.md: the engine micro-benchmarks (medians of REPEAT
# repetitions, interleaved, with the engine/floor table) and then the service figures against
# the echo baseline (bench/load/run.sh: REPEAT runs per scenario and server, medians, ratios).
# Builds nothing: run scripts/build.sh first. Takes about 25 minutes on 2 cores.
#
#   bench/run.sh                 engine and every service scenario
#   bench/run.sh engine          only the engine
#   bench/run.sh service [a b-many ...]  only the service scenarios (default: all six)
# Env: CALLGUARD_BUILD_DIR (default build), REPEAT (default 5 for the engine, 3 for the service).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${CALLGUARD_BUILD_DIR:-build}/bin"
what="${1:-all}"
[ $# -gt 0 ] && shift

if [ "$what" = all ] || [ "$what" = engine ]; then
  [ -x "$BIN/callguard_engine_bench" ] || { echo "bench/run.sh: build first (scripts/build.sh)" >&2; exit 1; }
  echo "== engine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
  "$BIN/callguard_engine_bench" --benchmark_repetitions="${REPEAT:-5}" \
    --benchmark_enable_random_interleaving=true --benchmark_report_aggregates_only=true \
    --benchmark_color=false | grep -v -E '_(mean|stddev|cv) '
fi
if [ "$what" = all ] || [ "$what" = service ]; then
  echo "== service (bench/load/run.sh)"
  REPEAT="${REPEAT:-3}" bench/load/run.sh "$@"
fi
