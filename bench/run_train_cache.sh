#!/bin/sh
# Measures what the frozen-prefix feature cache saves in training: runs the cache (what
# `mainstream train` does), the floor and the naive way (the frozen prefix again at every
# batch, for each chokepoint separately) on the same images, epochs and batches with
# bench_train_cache (bench/train_cache.c), and prints its table.
#
# usage: bench/run_train_cache.sh [BUILD_DIR] (default build-rel; configured as a Release
#        build if it does not exist; bench_train_cache is brought up to date there). Set
#        MODEL (a model file under ../shared/data/models or a path; default
#        mobilenet_v1_0.5_160_quant.tflite), PER_CLASS (80, the whole sunflower class: that many flowers17 sunflowers
#        as positives and as many other flowers17 images, spread over the other classes,
#        as negatives), CHOKEPOINTS (all; indices and ranges, e.g. 7-15), EPOCHS (3),
#        BATCH (32), THREADS (1), BACKEND (cpu), OPTIMIZER (adam), SEED (1).
# The images are symbolic links in a temporary folder, removed on exit.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build-rel}
data=${MAINSTREAM_DATA:-$here/../../shared/data}
MODEL=${MODEL:-mobilenet_v1_0.5_160_quant.tflite}
PER_CLASS=${PER_CLASS:-80}
CHOKEPOINTS=${CHOKEPOINTS:-all}
EPOCHS=${EPOCHS:-3}
BATCH=${BATCH:-32}
THREADS=${THREADS:-1}
BACKEND=${BACKEND:-cpu}
OPTIMIZER=${OPTIMIZER:-adam}
SEED=${SEED:-1}
case $MODEL in
*/*) model=$MODEL ;;
*) model=$data/models/$MODEL ;;
esac
[ -f "$model" ] || { echo "run_train_cache.sh: no model file $model" >&2; exit 2; }
case $PER_CLASS in
'' | *[!0-9]*) echo "run_train_cache.sh: PER_CLASS '$PER_CLASS' is not a whole number" >&2; exit 2 ;;
esac
[ "$PER_CLASS" -ge 4 ] || { echo "run_train_cache.sh: PER_CLASS must be at least 4" >&2; exit 2; }
flowers=$data/flowers17
[ -d "$flowers/sunflower" ] || { echo "run_train_cache.sh: no $flowers/sunflower (see ../shared/data/README.md)" >&2; exit 2; }
export OMP_WAIT_POLICY=PASSIVE

if [ ! -f "$build/CMakeCache.txt" ]; then
    cmake -S "$here/.." -B "$build" -DCMAKE_BUILD_TYPE=Release -DMS_TESTS=OFF >/dev/null
fi
cmake --build "$build" -j2 --target bench_train_cache >/dev/null

imgs=$(mktemp -d)
trap 'rm -rf "$imgs"' EXIT
mkdir "$imgs/pos" "$imgs/neg"
# The first PER_CLASS sunflowers; negatives: the first images of every other class in
# turn, until there are PER_CLASS of them.
ls "$flowers/sunflower" | head -n "$PER_CLASS" | while read -r f; do ln -s "$flowers/sunflower/$f" "$imgs/pos/$f"; done
classes=$(ls "$flowers" | grep -vx sunflower)
per=$(( (PER_CLASS + $(echo "$classes" | wc -l) - 1) / $(echo "$classes" | wc -l) ))
for c in $classes; do
    ls "$flowers/$c" | head -n "$per" | while read -r f; do ln -s "$flowers/$c/$f" "$imgs/neg/$c-$f"; done
done
ls "$imgs/neg" | tail -n +$((PER_CLASS + 1)) | while read -r f; do rm "$imgs/neg/$f"; done

"$build/bench_train_cache" --model "$model" --positive "$imgs/pos" --negative "$imgs/neg" \
    --chokepoints "$CHOKEPOINTS" --epochs "$EPOCHS" --batch "$BATCH" --threads "$THREADS" \
    --backend "$BACKEND" --optimizer "$OPTIMIZER" --seed "$SEED"
