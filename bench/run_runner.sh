#!/bin/sh
# Benchmarks the runner's stem-tree executor against PyTorch running the same plans:
# frames per second of 1, 2, 4, 8 and 16 apps on one stream under the mainstream,
# maxsharing and nosharing plans (every app on every frame), ours (oneDNN cpu backend)
# and PyTorch (eager and TorchScript optimize_for_inference) on the same decoded frames.
#
# usage: bench/run_runner.sh [BUILD_DIR] (default build-rel, a Release build with
#        bench_runner built). Set MODEL (v1_224, v1_050 or v1_025), APPS, FRAMES, RUNS,
#        THREADS, VIDEO, BUDGET (the plans' budget in full networks on every frame of a
#        10 fps stream, default 0.4) to change it.
# Needs Debian's python3-torch and libopenblas0. Both sides run with
# OMP_WAIT_POLICY=PASSIVE (BENCHMARKS.md: spinning OpenMP workers on a shared machine).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build-rel}
data=${MAINSTREAM_DATA:-$here/../../shared/data}
MODEL=${MODEL:-v1_224}
APPS=${APPS:-1,2,4,8,16}
FRAMES=${FRAMES:-20}
RUNS=${RUNS:-5}
THREADS=${THREADS:-1}
BUDGET=${BUDGET:-0.4}
VIDEO=${VIDEO:-$data/videos/car.mp4}
export OMP_WAIT_POLICY=PASSIVE
case $MODEL in
v1_224) files=$data/models/mobilenet_v1_1.0_224_quant_embedding_extractor.tflite+$data/models/mobilenet_v1_1.0_224_quant_head_layers.tflite ;;
v1_050) files=$data/models/mobilenet_v1_0.5_160_quant.tflite ;;
v1_025) files=$data/models/mobilenet_v1_0.25_128_quant.tflite ;;
*) echo "run_runner.sh: MODEL must be v1_224, v1_050 or v1_025" >&2; exit 2 ;;
esac
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$build/bench_runner" --threads "$THREADS" --runs "$RUNS" --frames "$FRAMES" --apps "$APPS" --budget "$BUDGET" \
    --video "$VIDEO" --out "$work" "$files" >"$work/ours.txt"
/usr/bin/python3 "$here/torch_runner_peer.py" --plans "$work/ours.txt" --frames "$work" --model "$MODEL" \
    --threads "$THREADS" --runs "$RUNS" 2>/dev/null >"$work/peer.txt"
grep '^#' "$work/peer.txt" || true

/usr/bin/python3 - "$work/ours.txt" "$work/peer.txt" "$MODEL" "$THREADS" <<'PY'
import sys
plans, ours, peer = {}, {}, {}
for line in open(sys.argv[1]):
    f = line.split()
    if f and f[0] == "plan":
        plans[(int(f[1]), f[2])] = f[3]
    elif f and f[0] == "ours":
        ours[(int(f[1]), f[2])] = (float(f[3]), float(f[5]))
for line in open(sys.argv[2]):
    f = line.split()
    if f and f[0] == "peer":
        peer.setdefault((int(f[1]), f[2]), {})[f[3]] = (float(f[4]), float(f[6]))
print(f"model {sys.argv[3]}, {sys.argv[4]} thread(s): frames per second through the whole stem tree "
      "(median pass; fastest pass's ms per frame in brackets)")
print(f"{'apps':>4} {'policy':10} {'ours fps':>16} {'torch eager fps':>18} {'torch jit fps':>16} {'ours/jit':>8}  chokepoints")
for key in sorted(ours, key=lambda k: (k[0], ["mainstream", "maxsharing", "nosharing"].index(k[1]))):
    o = ours[key]
    p = peer.get(key, {})
    e, j = p.get("eager", (float("nan"),) * 2), p.get("jit", (float("nan"),) * 2)
    print(f"{key[0]:4} {key[1]:10} {o[0]:8.1f} ({o[1]:5.2f}) {e[0]:10.1f} ({e[1]:5.2f}) {j[0]:8.1f} ({j[1]:5.2f})"
          f" {o[0] / j[0]:8.2f}  {plans.get(key, '')}")
PY
