#!/usr/bin/env bash
# Installs the Debian 12 packages Mainstream builds and tests with (when run as root and
# something is missing), then configures and builds into build/ (or $1).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(build-essential cmake pkg-config libdnnl-dev libavformat-dev libavcodec-dev
          libswscale-dev libavutil-dev libcjson-dev libcmocka-dev valgrind
          libprotobuf-c-dev protobuf-c-compiler libonnx-dev libonnx-testdata python3-torch python3-torchvision)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ]; then
        echo "setup: installing ${missing[*]}" >&2
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        echo "setup: missing packages: ${missing[*]} (run as root, or install them with apt-get)" >&2
        exit 1
    fi
fi

build_dir=${1:-build}
shift || true
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$build_dir" -j "$(nproc)"
