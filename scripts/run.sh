#!/usr/bin/env bash
# The main job on the embedded default (examples/default/deployment.json): builds
# Mainstream, then runs the whole pipeline on the MobileNetV1 0.25_128 base model and two
# labelled videos of the shared data ($MAINSTREAM_DATA, default ../shared/data):
#   1. inspect  the base model's chokepoints
#   2. profile  this machine's cost of every segment between chokepoints (the cost model)
#   3. train    two apps (person on person.mp4, car on car.mp4) at three chokepoints each
#   4. run      the deployment offline: the scheduler picks each app's chokepoint and
#               frame rate within the budget, the runner executes the stem tree and
#               writes events
#   5. score-events  measured event recall, precision and F1 against the frame labels
# Outputs go to out/default/. Weights are trained here, never shipped.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh build
# The shared data: $MAINSTREAM_DATA, by default ../shared/data beside the project; made
# absolute and exported, so the deployment's ${MAINSTREAM_DATA} paths name the same folder.
data=${MAINSTREAM_DATA:-../shared/data}
[ -d "$data/models" ] && [ -d "$data/videos" ] || {
    echo "run: the shared data is not at $data (models/ and videos/ are needed; set MAINSTREAM_DATA)" >&2
    exit 1
}
export MAINSTREAM_DATA=$(cd "$data" && pwd)
data=$MAINSTREAM_DATA
ms=build/mainstream
out=out/default
mkdir -p "$out"
model=$data/models/mobilenet_v1_0.25_128_quant.tflite

echo "== 1. chokepoints of $(basename "$model")"
"$ms" inspect "$model" | sed -n '/^chokepoints/,$p'

echo "== 2. cost profile (cpu backend, 1 thread) -> $out/profile.json"
"$ms" profile --model "$model" --backend cpu --threads 1 --json -o "$out/profile.json"
cat "$out/profile.json"

for app in person car; do
    echo "== 3. train app '$app' on videos/$app.mp4 -> $out/$app.mpkg"
    "$ms" train --model "$model" --video "$data/videos/$app.mp4" --labels "$data/videos/$app.labels.csv" \
        --chokepoints 11,13,15 --epochs 3 --frame-step 2 --threads 2 --seed 1 -o "$out/$app.mpkg"
done

echo "== 4. run examples/default/deployment.json (offline) -> $out/events.jsonl, $out/stats.json"
"$ms" run examples/default/deployment.json --mode offline --report-every 0 \
    --events "$out/events.jsonl" --stats "$out/stats.json"
echo "events:"
cat "$out/events.jsonl"

echo "== 5. measured event recall, precision and F1 against the videos' frame labels"
"$ms" score-events --events "$out/events.jsonl" --labels "$data/videos/person.labels.csv" --stream crossing --app person \
    --stats "$out/stats.json"
"$ms" score-events --events "$out/events.jsonl" --labels "$data/videos/car.labels.csv" --stream road --app car \
    --stats "$out/stats.json"
