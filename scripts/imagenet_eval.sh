#!/usr/bin/env bash
# Top-1 / top-5 of the five ImageNet MobileNets on the shared ImageNet sample (300
# images, one per class), through `mainstream classify --labels-csv`, as a Markdown
# table. Usage: scripts/imagenet_eval.sh [BUILD_DIR] [extra classify options, e.g. --resize crop]
set -euo pipefail
cd "$(dirname "$0")/.."

build=${1:-build}
shift || true
data=${MAINSTREAM_DATA:-../shared/data}
models=$data/models
csv=$data/imagenet-sample/labels.csv
cli=$build/mainstream
[ -x "$cli" ] || { echo "imagenet_eval: $cli not built (run scripts/setup.sh)" >&2; exit 1; }
[ -f "$csv" ] || { echo "imagenet_eval: $csv not found" >&2; exit 1; }

runs=(
    "MobileNetV1 0.25_128|--model $models/mobilenet_v1_0.25_128_quant.tflite"
    "MobileNetV1 0.5_160|--model $models/mobilenet_v1_0.5_160_quant.tflite"
    "MobileNetV1 0.75_192|--model $models/mobilenet_v1_0.75_192_quant.tflite"
    "MobileNetV1 1.0_224 (extractor + head)|--model $models/mobilenet_v1_1.0_224_quant_embedding_extractor.tflite --model $models/mobilenet_v1_1.0_224_quant_head_layers.tflite"
    "MobileNetV2 1.0_224|--model $models/mobilenet_v2_1.0_224_quant.tflite"
)

echo "| model | images | top-1 | top-5 |"
echo "|---|---|---|---|"
for run in "${runs[@]}"; do
    name=${run%%|*}
    # shellcheck disable=SC2086 # the model options are meant to split into words
    summary=$("$cli" classify ${run#*|} --json --top 1 --labels-csv "$csv" "$@" | tail -n 1)
    # {"images": N, "top1": F, "top5": F, "failed": N}
    echo "$summary" | tr -d '{}",:' | awk -v name="$name" \
        '{ printf "| %s | %d | %.1f%% | %.1f%% |\n", name, $2, 100 * $4, 100 * $6 }'
done
