#!/bin/sh
# Benchmarks one training step of the trainer's branch (the layers after a chokepoint
# plus the binary head: forward, BCE loss, backward, optimiser update) on one of our
# backends against PyTorch training the same layers, and prints a table of medians.
#
# usage: bench/run_train_step.sh [BUILD_DIR] (default build-rel; configured as a Release
#        build if it does not exist; bench_train_step is brought up to date there). Set BACKEND (cpu; ref is
#        single-threaded and slow at shallow chokepoints), MODELS (v1_050,v1_224),
#        CHOKEPOINTS (1,5,11,13,15), BATCH (32), THREADS (1,2), STEPS (10), WARMUP (2),
#        OPTIMIZER (adam or sgd), VARIANTS (PyTorch variants: eager,channels_last),
#        IMAGES (folder whose first BATCH images, through the base prefix, are our batch;
#        default ../shared/data/imagenet-sample; empty: noise images).
# Needs Debian's python3-torch and libopenblas0. Both sides run with
# OMP_WAIT_POLICY=PASSIVE (spinning OpenMP workers make 2-thread runs fragile on a small
# shared machine; see BENCHMARKS.md).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build-rel}
data=${MAINSTREAM_DATA:-$here/../../shared/data}/models
BACKEND=${BACKEND:-cpu}
MODELS=${MODELS:-v1_050,v1_224}
CHOKEPOINTS=${CHOKEPOINTS:-1,5,11,13,15}
BATCH=${BATCH:-32}
THREADS=${THREADS:-1,2}
STEPS=${STEPS:-10}
WARMUP=${WARMUP:-2}
OPTIMIZER=${OPTIMIZER:-adam}
VARIANTS=${VARIANTS:-eager,channels_last}
IMAGES=${IMAGES-${MAINSTREAM_DATA:-$here/../../shared/data}/imagenet-sample}
export OMP_WAIT_POLICY=PASSIVE
out=$(mktemp)
cell=$(mktemp)
peer=$(mktemp)
trap 'rm -f "$out" "$cell" "$peer"' EXIT

if [ ! -f "$build/CMakeCache.txt" ]; then
    cmake -S "$here/.." -B "$build" -DCMAKE_BUILD_TYPE=Release -DMS_TESTS=OFF >/dev/null
fi
cmake --build "$build" -j2 --target bench_train_step >/dev/null

spec() {
    case $1 in
    v1_224) echo "v1_224=$data/mobilenet_v1_1.0_224_quant_embedding_extractor.tflite+$data/mobilenet_v1_1.0_224_quant_head_layers.tflite" ;;
    v1_050) echo "v1_050=$data/mobilenet_v1_0.5_160_quant.tflite" ;;
    v1_025) echo "v1_025=$data/mobilenet_v1_0.25_128_quant.tflite" ;;
    *) echo "run_train_step.sh: unknown model '$1' (v1_224, v1_050, v1_025)" >&2; return 2 ;;
    esac
}

common="--batch $BATCH --steps $STEPS --warmup $WARMUP --optimizer $OPTIMIZER"
images=""
[ -n "$IMAGES" ] && images="--images $IMAGES"
# One model, chokepoint and thread count at a time, ours then PyTorch, so that a change
# in the machine's load between the two sides stays small. The peer rebuilds the branch
# from the 'branch' and 'layer' lines that ours has just printed.
for m in $(echo "$MODELS" | tr , ' '); do
    s=$(spec "$m")
    for c in $(echo "$CHOKEPOINTS" | tr , ' '); do
        for t in $(echo "$THREADS" | tr , ' '); do
            # shellcheck disable=SC2086
            "$build/bench_train_step" --backend "$BACKEND" --chokepoints "$c" --threads "$t" $common $images "$s" >"$cell"
            # shellcheck disable=SC2086
            /usr/bin/python3 "$here/torch_train_peer.py" --layers "$cell" --threads "$t" --variants "$VARIANTS" \
                $common >"$peer"
            cat "$cell" "$peer" >>"$out"
        done
    done
done
grep '^#' "$out" | awk '!seen[$0]++' || true

/usr/bin/python3 - "$out" <<'PY'
import sys
ours, peers, params = {}, {}, {}
for line in open(sys.argv[1]):
    f = line.split()
    if not f:
        continue
    if f[0] == "branch":
        params[(f[1], int(f[2]))] = int(f[4].split("=")[1])
    elif f[0] == "ours":
        key = (f[1], int(f[4]), int(f[5]), int(f[6]))  # model, cp, batch, threads
        ours[key] = (f[2], None if f[7] == "unsupported" else [float(v) for v in f[7:13]])
    elif f[0] == "peer":
        peers.setdefault((f[1], int(f[4]), int(f[5]), int(f[6])), {})[f[2]] = [float(v) for v in f[7:13]]

print("ms per training step (median; forward + backward + update), rows/s = batch / median step;")
print("torch/ours > 1 means ours is faster. Ours' split: forward / backward / update ms.")
print(f"{'model':7} {'cp':>2} {'b':>3} {'t':>2} {'params':>8} {'backend':>7} {'ours ms':>11} {'fwd / bwd / upd':>26}"
      f" {'rows/s':>9} {'best torch':>14} {'torch ms':>9} {'rows/s':>9} {'torch/ours':>10}")
for key in sorted(ours):
    m, cp, b, t = key
    backend, o = ours[key]
    variants = peers.get(key, {})
    best = min(variants.items(), key=lambda kv: kv[1][0]) if variants else None
    tn, tms, trows = (best[0], f"{best[1][0]:9.2f}", f"{best[1][5]:9.1f}") if best else ("-", f"{'-':>9}", f"{'-':>9}")
    if o:
        split = f"{o[2]:.2f} / {o[3]:.2f} / {o[4]:.2f}"
        ratio = f"{best[1][0] / o[0]:10.2f}" if best else f"{'-':>10}"
        print(f"{m:7} {cp:2d} {b:3d} {t:2d} {params.get((m, cp), 0):8d} {backend:>7} {o[0]:11.2f} {split:>26}"
              f" {o[5]:9.1f} {tn:>14} {tms} {trows} {ratio}")
    else:
        print(f"{m:7} {cp:2d} {b:3d} {t:2d} {params.get((m, cp), 0):8d} {backend:>7} {'unsupported':>9} {'':26}"
              f" {'-':>9} {tn:>14} {tms} {trows} {'-':>10}")
PY
