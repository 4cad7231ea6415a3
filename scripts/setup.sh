#!/usr/bin/env bash
# Installs the Debian 12 packages Mainstream builds and tests with (when run as root and
# something is missing), then configures and builds into build/ (or $1).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(build-essential cmake pkg-config libdnnl-dev libavformat-dev libavcodec-dev
          libswscale-dev libavutil-dev libcjson-dev libcmocka-dev valgrind
          ffmpeg python3-numpy python3-pil jq # scripts/make_streams.py, bench/headline.sh (e2e.headline)
          libmicrohttpd-dev libmosquitto-dev libhiredis-dev mosquitto mosquitto-clients redis-server curl
          python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
          help2man                  # the man page, made at build time from the help texts
          clang libclang-rt-14-dev  # the libFuzzer targets (scripts/fuzz.sh)
          libprotobuf-c-dev protobuf-c-compiler libonnx-dev libonnx-testdata python3-torch python3-torchvision
          python3-onnx)             # scripts/onnx_export.py writes metadata_props with it
# The cuda backend (libmainstream_cuda.so) needs no package from this list: it is built
# when CMake finds nvcc, cuDNN 9 and cuBLAS under MS_CUDA_ROOT (default /usr/local/cuda,
# NVIDIA's packages, not Debian's); without them everything else builds and its tests skip.
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
