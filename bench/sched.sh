#!/bin/sh
# Scheduler speed against number of apps (2..100), exact vs greedy, on the original's
# MobileNet setting. Runs from any folder (paths are the project's) after building build-rel:
#   cmake -S . -B build-rel -DCMAKE_BUILD_TYPE=Release && cmake --build build-rel -j2
#   bench/sched.sh [BUDGET] [TIME_LIMIT_S]
set -e
cd "$(dirname "$0")/.."
bin=${BENCH_BIN:-build-rel/bench_sched}
ref=${REFERENCE:-${MAINSTREAM_DATA:-../shared/data}/reference/mobilenet_apps.json}
budget=${1:-100}
limit=${2:-60}
for compat in 0 1; do
  for distinct in 0 1; do
    "$bin" "$ref" "$budget" "$limit" "$distinct" "$compat"
  done
done
