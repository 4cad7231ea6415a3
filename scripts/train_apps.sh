#!/bin/sh
# Trains the five measurement apps on MobileNetV1 0.5_160 at every chokepoint and prints
# each app's curve (tpr, fpr per chokepoint), wall time, images/s and the cost of the
# feature cache against the naive way and the floor (docs/trainer.md).
#
#   scripts/train_apps.sh [OUT_DIR]
#
# Knobs (environment): MS (the mainstream binary, default build-rel/mainstream),
# MAINSTREAM_DATA (../shared/data), MODEL (models/mobilenet_v1_0.5_160_quant.tflite under DATA),
# PER_CLASS (images per class for the image apps; 0 = all), FRAME_STEP (every N-th video
# frame, default 1), EPOCHS (10), THREADS (nproc), APPS (default "sunflower vehicle cat
# person train"). Image subsets are symbolic links in OUT_DIR/data, never copies.
set -eu
OUT=${1:-/tmp/mainstream-train-apps}
MS=${MS:-build-rel/mainstream}
DATA=${MAINSTREAM_DATA:-${DATA:-../shared/data}}
MODEL=${MODEL:-$DATA/models/mobilenet_v1_0.5_160_quant.tflite}
PER_CLASS=${PER_CLASS:-0}
FRAME_STEP=${FRAME_STEP:-1}
EPOCHS=${EPOCHS:-10}
THREADS=${THREADS:-$(nproc)}
APPS=${APPS:-"sunflower vehicle cat person train"}
DATA=$(cd "$DATA" && pwd)
mkdir -p "$OUT/data"

# link_first SRC_DIR DST_DIR N PREFIX: links the first N images of SRC_DIR (all if N = 0).
link_first() {
    mkdir -p "$2"
    ls "$1" | { if [ "$3" -gt 0 ]; then head -n "$3"; else cat; fi; } | while read -r f; do
        ln -sf "$1/$f" "$2/$4$f"
    done
}

common="--model $MODEL --chokepoints all --epochs $EPOCHS --threads $THREADS --seed 1"

for app in $APPS; do
    d="$OUT/data/$app"
    rm -rf "$d"
    case $app in
    sunflower)
        link_first "$DATA/flowers17/sunflower" "$d/pos" "$PER_CLASS" ""
        n=0
        [ "$PER_CLASS" -gt 0 ] && n=$(( (PER_CLASS + 15) / 16 ))
        for c in $(ls "$DATA/flowers17"); do
            [ "$c" = sunflower ] || link_first "$DATA/flowers17/$c" "$d/neg" "$n" "$c-"
        done
        src="--positive $d/pos --negative $d/neg" ;;
    vehicle)
        link_first "$DATA/vehicles/vehicle" "$d/pos" "$PER_CLASS" ""
        link_first "$DATA/vehicles/non-vehicle" "$d/neg" "$PER_CLASS" ""
        src="--positive $d/pos --negative $d/neg" ;;
    cat)
        link_first "$DATA/cats_dogs/cat" "$d/pos" "$PER_CLASS" ""
        link_first "$DATA/cats_dogs/dog" "$d/neg" "$PER_CLASS" ""
        src="--positive $d/pos --negative $d/neg" ;;
    person)
        src="--video $DATA/videos/person.mp4 --labels $DATA/videos/person.labels.csv --train-fraction 0.6 --frame-step $FRAME_STEP" ;;
    train)
        src="--video $DATA/videos/train-day.mp4 --labels $DATA/videos/train-day.labels.csv --val-video $DATA/videos/train-rain.mp4 --val-labels $DATA/videos/train-rain.labels.csv --frame-step $FRAME_STEP" ;;
    *) echo "unknown app $app" >&2; exit 2 ;;
    esac
    echo "== $app: $MS train $common $src -o $OUT/$app.mpkg"
    start=$(date +%s.%N)
    # shellcheck disable=SC2086
    "$MS" train $common $src -o "$OUT/$app.mpkg" | tee "$OUT/$app.txt"
    end=$(date +%s.%N)
    echo "wall: $(awk "BEGIN { print $end - $start }") s" | tee -a "$OUT/$app.txt"
done
