#!/bin/sh
# Benchmarks our cpu backend (oneDNN) against PyTorch's CPU variants on the same
# networks and prints a table of medians (ms per frame) and ratios.
#
# usage: bench/run_backend.sh [BUILD_DIR] (default build-rel, a Release build with
#        bench_backend built). Set RUNS, WARMUP, BATCHES, THREADS, MODELS, VARIANTS
#        (PyTorch variants, e.g. eager,ts_optimize_for_inference,int8_onednn) to narrow it.
# Needs Debian's python3-torch and libopenblas0 (apt-get install -y python3-torch libopenblas0).
# Both sides run with OMP_WAIT_POLICY=PASSIVE: on a small shared machine, spinning
# OpenMP workers make 2-thread runs fragile (BENCHMARKS.md).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build-rel}
data=${MAINSTREAM_DATA:-$here/../../shared/data}/models
RUNS=${RUNS:-30}
WARMUP=${WARMUP:-5}
BATCHES=${BATCHES:-1,8}
THREADS=${THREADS:-1,2}
MODELS=${MODELS:-v1_224,v1_050,v1_025,v2}
VARIANTS=${VARIANTS:-}
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

# One model and thread count at a time, ours then PyTorch, so that a change in the
# machine's load between the two sides stays small.
for m in $(echo "$MODELS" | tr , ' '); do
    for t in $(echo "$THREADS" | tr , ' '); do
        "$build/bench_backend" --runs "$RUNS" --warmup "$WARMUP" --batches "$BATCHES" --threads "$t" "$(spec "$m")" >>"$out"
        /usr/bin/python3 "$here/torch_peer.py" --runs "$RUNS" --warmup "$WARMUP" --batches "$BATCHES" --threads "$t" \
            --models "$m" --variants "$VARIANTS" 2>/dev/null >>"$out"
    done
done
grep '^#' "$out" || true

/usr/bin/python3 - "$out" <<'PY'
import sys
nan = float("nan")
ours, peers = {}, {}
for line in open(sys.argv[1]):
    f = line.split()
    if f and f[0] == "ours":
        ours[(f[1], f[2], int(f[3]), int(f[4]))] = (float(f[5]), float(f[6]))
    elif f and f[0] == "peer":
        peers.setdefault((f[1], f[3], int(f[4]), int(f[5])), {})[f[2]] = (float(f[6]), float(f[7]))

def best(d, k):  # (name, value) of the fastest variant by median (k=0) or fastest run (k=1)
    return min(((n, v[k]) for n, v in d.items()), key=lambda x: x[1]) if d else ("-", nan)

print("ms per frame: median of runs (fastest run in brackets); ratios < 1 mean ours is faster")
print(f"{'model':7} {'prec':4} {'b':>2} {'t':>2} {'ours':>15} {'best peer, same precision':>42} {'ours/best':>12}"
      f" {'eager/ours':>10} {'best torch fp32':>16} {'fp32/ours':>12}")
for (m, p, b, t), (med, fast) in sorted(ours.items()):
    same = peers.get((m, p, b, t), {})
    fp32 = peers.get((m, "fp32", b, t), {})
    (bn, bmed), (_, bfast) = best(same, 0), best(same, 1)
    (_, fmed), (_, ffast) = best(fp32, 0), best(fp32, 1)
    eager = fp32.get("eager", (nan, nan))[0]
    print(f"{m:7} {p:4} {b:2d} {t:2d} {med:7.2f} ({fast:5.2f}) {bn:>25} {bmed:7.2f} ({bfast:5.2f})"
          f" {med / bmed:5.2f} ({fast / bfast:4.2f}) {eager / med:10.2f} {fmed:7.2f} ({ffast:5.2f}) {fmed / med:5.2f} ({ffast / fast:4.2f})")
PY
