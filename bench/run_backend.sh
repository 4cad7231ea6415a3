#!/bin/sh
# Benchmarks our cpu backend (oneDNN) against PyTorch's CPU variants on the same
# networks and prints a table of medians (ms per frame) and ratios.
#
# usage: bench/run_backend.sh [BUILD_DIR] (default build-rel, a Release build with
#        bench_backend built). Set RUNS, WARMUP, BATCHES, THREADS, MODELS to narrow it.
# Needs Debian's python3-torch and libopenblas0 (apt-get install -y python3-torch libopenblas0).
# Both sides run with OMP_WAIT_POLICY=PASSIVE: on a small shared machine, spinning
# OpenMP workers make 2-thread runs fragile (BENCHMARKS.md).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build-rel}
data=$here/../../shared/data/models
RUNS=${RUNS:-30}
WARMUP=${WARMUP:-5}
BATCHES=${BATCHES:-1,8}
THREADS=${THREADS:-1,2}
MODELS=${MODELS:-v1_224,v1_050,v1_025,v2}
export OMP_WAIT_POLICY=PASSIVE
out=$(mktemp)
trap 'rm -f "$out"' EXIT

spec() {
    case $1 in
    v1_224) echo "v1_224=$data/mobilenet_v1_1.0_224_quant_embedding_extractor.tflite+$data/mobilenet_v1_1.0_224_quant_head_layers.tflite" ;;
    v1_050) echo "v1_050=$data/mobilenet_v1_0.5_160_quant.tflite" ;;
    v1_025) echo "v1_025=$data/mobilenet_v1_0.25_128_quant.tflite" ;;
    v2) echo "v2=$data/mobilenet_v2_1.0_224_quant.tflite" ;;
    esac
}

specs=""
for m in $(echo "$MODELS" | tr , ' '); do specs="$specs $(spec "$m")"; done
# shellcheck disable=SC2086
"$build/bench_backend" --runs "$RUNS" --warmup "$WARMUP" --batches "$BATCHES" --threads "$THREADS" $specs >>"$out"
/usr/bin/python3 "$here/torch_peer.py" --runs "$RUNS" --warmup "$WARMUP" --batches "$BATCHES" --threads "$THREADS" \
    --models "$MODELS" 2>/dev/null >>"$out"
grep '^#' "$out" || true

/usr/bin/python3 - "$out" <<'PY'
import sys
ours, peers = {}, {}
for line in open(sys.argv[1]):
    f = line.split()
    if f and f[0] == "ours":
        ours[(f[1], f[2], int(f[3]), int(f[4]))] = float(f[5])
    elif f and f[0] == "peer":
        peers.setdefault((f[1], f[3], int(f[4]), int(f[5])), {})[f[2]] = float(f[6])
print(f"{'model':8} {'prec':5} {'batch':>5} {'thr':>3} {'ours':>8} {'best peer':>34} {'eager':>8} {'ours/best':>9} {'eager/ours':>10} {'best fp32':>9} {'fp32/ours':>9}")
for (m, p, b, t), v in sorted(ours.items()):
    pv = peers.get((m, p, b, t), {})
    fp = peers.get((m, "fp32", b, t), {})
    best = min(pv.items(), key=lambda kv: kv[1]) if pv else ("-", float("nan"))
    best32 = min(fp.values()) if fp else float("nan")
    eager = fp.get("eager", float("nan"))
    print(f"{m:8} {p:5} {b:5d} {t:3d} {v:8.3f} {best[0] + ' ' + format(best[1], '.3f'):>34} {eager:8.3f} "
          f"{v / best[1]:9.2f} {eager / v:10.2f} {best32:9.3f} {best32 / v:9.2f}")
PY
