#!/bin/sh
# ResNet-50 and MobileNetV2 imported from ONNX on our cpu backend against PyTorch's CPU
# variants (bench/torch_onnx_peer.py) in one run, on the same networks (exported at run
# time by scripts/onnx_export.py with the same seeded weights); prints ms per frame and
# ratios (< 1: ours is faster).
#
# usage: bench/run_onnx.sh [BUILD_DIR] (default build, with `mainstream` built). Set
#        RUNS, WARMUP, THREADS (1,2), BATCHES (1,8), MODELS (resnet50,mobilenet_v2).
# Needs Debian's python3-torch, python3-torchvision and libopenblas0.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
RUNS=${RUNS:-20}
WARMUP=${WARMUP:-3}
THREADS=${THREADS:-1,2}
BATCHES=${BATCHES:-1,8}
MODELS=${MODELS:-resnet50,mobilenet_v2}
export OMP_WAIT_POLICY=PASSIVE
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
/usr/bin/python3 "$here/../scripts/onnx_export.py" "$dir" $(echo "$MODELS" | tr , ' ') >/dev/null 2>&1
out=$dir/results
for m in $(echo "$MODELS" | tr , ' '); do
    for t in $(echo "$THREADS" | tr , ' '); do
        for b in $(echo "$BATCHES" | tr , ' '); do
            ms=$("$build/mainstream" profile --model "$dir/$m.onnx" --backend cpu --batch "$b" --threads "$t" \
                 --runs "$RUNS" --warmup "$WARMUP" --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["network_ms"])')
            echo "ours $m $b $t $ms" >>"$out"
            /usr/bin/python3 "$here/torch_onnx_peer.py" --models "$m" --runs "$RUNS" --warmup "$WARMUP" --batch "$b" \
                --threads "$t" 2>/dev/null >>"$out"
        done
    done
done
grep '^#' "$out" || true
/usr/bin/python3 - "$out" <<'PY'
import sys
ours, peers = {}, {}
for line in open(sys.argv[1]):
    f = line.split()
    if f and f[0] == "ours":
        ours[(f[1], int(f[2]), int(f[3]))] = float(f[4])
    elif f and f[0] == "peer":
        peers.setdefault((f[1], int(f[3]), int(f[4])), {})[f[2]] = float(f[5])
print("ms per frame (median); ours = mainstream profile's whole network, cpu backend, fp32")
print(f"{'model':14} {'b':>2} {'t':>2} {'ours':>9} {'best peer':>36} {'ours/best':>9} {'ours/eager':>10}")
for k in sorted(ours):
    p = peers.get(k, {})
    name, best = min(p.items(), key=lambda x: x[1]) if p else ("-", float("nan"))
    eager = p.get("eager", float("nan"))
    print(f"{k[0]:14} {k[1]:2} {k[2]:2} {ours[k]:9.2f} {name + f' {best:.2f}':>36} {ours[k] / best:9.2f} {ours[k] / eager:10.2f}")
PY
