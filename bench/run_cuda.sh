#!/bin/sh
# Benchmarks the cuda backend against PyTorch on the same GPU, in one run: MobileNetV1
# 1.0_224 images/s at every batch and precision, ours (steps launched one by one, and
# captured as a CUDA graph) and PyTorch's variants (bench/torch_cuda_peer.py), with the
# ratios. Run on a machine with an NVIDIA GPU and a python3 with torch.
#
# usage: bench/run_cuda.sh [BUILD_DIR] (default build-rel, with bench_cuda built). Set
#        RUNS, WARMUP, BATCHES, PRECISIONS, VARIANTS, MODELS_DIR, PYTHON to narrow or move it.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build-rel}
models=${MODELS_DIR:-$here/../../shared/data/models}
RUNS=${RUNS:-30}
WARMUP=${WARMUP:-5}
BATCHES=${BATCHES:-1,8,64,256}
PRECISIONS=${PRECISIONS:-fp32,fp16}
VARIANTS=${VARIANTS:-eager,channels_last,cuda_graphs,compile,compile_cg}
PYTHON=${PYTHON:-python3}
out=${OUT_LOG:-$(mktemp)}
: >"$out"

"$build/bench_cuda" --runs "$RUNS" --warmup "$WARMUP" --batches "$BATCHES" --precisions "$PRECISIONS" \
    "v1_224=$models/mobilenet_v1_1.0_224_quant_embedding_extractor.tflite+$models/mobilenet_v1_1.0_224_quant_head_layers.tflite" \
    | tee -a "$out"
"$PYTHON" "$here/torch_cuda_peer.py" --runs "$RUNS" --warmup "$WARMUP" --batches "$BATCHES" \
    --precisions "$PRECISIONS" --variants "$VARIANTS" 2>&1 | tee -a "$out"

"$PYTHON" - "$out" <<'PY'
import sys
ours, peers = {}, {}
for line in open(sys.argv[1]):
    f = line.split()
    if f and f[0] == "ours":   # ours v1_224 prec batch graphs ms img/s
        ours.setdefault((f[2], int(f[3])), {})["graphs" if f[4] == "1" else "steps"] = float(f[6])
    elif f and f[0] == "peer":  # peer v1_224 variant prec batch ms img/s
        peers.setdefault((f[3], int(f[4])), {})[f[2]] = float(f[6])
names = ["eager", "channels_last", "cuda_graphs", "compile", "compile_cg"]
print("MobileNetV1 1.0_224, images/s (higher is better); ratios > 1 mean ours is faster")
print(f"{'prec':4} {'batch':>5} {'ours steps':>10} {'ours graph':>10} " + " ".join(f"{n:>13}" for n in names)
      + f" {'ours/eager':>10} {'ours/best':>9} best")
for (p, b), o in sorted(ours.items()):
    best_ours = max(o.values())
    pe = peers.get((p, b), {})
    cells = " ".join(f"{pe[n]:13.0f}" if n in pe else f"{'-':>13}" for n in names)
    bn, bv = max(pe.items(), key=lambda kv: kv[1]) if pe else ("-", float("nan"))
    eager = pe.get("eager", float("nan"))
    print(f"{p:4} {b:5d} {o.get('steps', float('nan')):10.0f} {o.get('graphs', float('nan')):10.0f} {cells}"
          f" {best_ours / eager:10.2f} {best_ours / bv:9.2f} {bn}")
PY
