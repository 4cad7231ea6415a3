#!/usr/bin/env bash
# The test command: installs what is missing, builds, and runs the whole cmocka suite
# twice: an optimised build, then a build under AddressSanitizer and
# UndefinedBehaviorSanitizer. In the first, end-to-end tests (and run.runtime) also run
# under valgrind.
# Then every libFuzzer target runs for a few seconds (scripts/fuzz.sh; clang).
set -euo pipefail
cd "$(dirname "$0")/.."

jobs=$(nproc)
scripts/setup.sh build
(cd build && ctest --output-on-failure -j "$jobs")

scripts/setup.sh build-asan -DCMAKE_BUILD_TYPE=Debug -DMS_SANITIZE=ON
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --output-on-failure -j "$jobs")

scripts/fuzz.sh all "${FUZZ_SECONDS:-5}"
