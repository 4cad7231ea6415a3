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
MS_CUDA_PIPELINE=0 "$build/bench_cuda" --runs "$RUNS" --warmup "$WARMUP" --batches "$BATCHES" --precisions "$PRECISIONS" \
    "v1_224=$models/mobilenet_v1_1.0_224_quant_embedding_extractor.tflite+$models/mobilenet_v1_1.0_224_quant_head_layers.tflite" \
    | tee -a "$out"
"$PYTHON" "$here/torch_cuda_peer.py" --runs "$RUNS" --warmup "$WARMUP" --batches "$BATCHES" \
    --precisions "$PRECISIONS" --variants "$VARIANTS" 2>&1 | tee -a "$out"

"$PYTHON" "$here/cuda_table.py" "$out"
