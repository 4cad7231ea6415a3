#!/bin/sh
# Scheduler speed against number of apps (2..100), exact vs greedy, on the original's
# MobileNet setting. Run from the project root after building build-rel:
#   cmake -S . -B build-rel -DCMAKE_BUILD_TYPE=Release && cmake --build build-rel -j2
#   bench/sched.sh [BUDGET] [TIME_LIMIT_S]
set -e
bin=${BENCH_BIN:-build-rel/bench_sched}
ref=${REFERENCE:-../shared/data/reference/mobilenet_apps.json}
budget=${1:-100}
limit=${2:-60}
for compat in 0 1; do
  for distinct in 0 1; do
    "$bin" "$ref" "$budget" "$limit" "$distinct" "$compat"
  done
done
