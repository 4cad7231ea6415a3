#!/bin/sh
# Measured against predicted event F1: trains a person app and a car app on MobileNetV1
# 0.25_128 from the labelled videos, runs a deployment with each app on its own video
# offline under the mainstream, maxsharing and nosharing policies, and prints per policy
# and app the chosen chokepoint and rate, the scheduler's predicted event recall,
# precision and F1 (the runner's --stats) and the ones `mainstream score-events`
# measures against the label files: over the whole video (which includes the frames the
# app was trained on) and over its last 40% only (the trainer's validation part, split
# by time). See docs/runner.md, "Measured event F1".
#
#   scripts/measure_events.sh [OUT_DIR]        (after scripts/setup.sh build-rel)
#
# Frames are fitted to the model's input as the packages record (mainstream train: short
# side to 128/0.875, centre crop), so the apps see at run time what they were trained on.
#
# Knobs (environment): MS (the mainstream binary, default build-rel/mainstream), MAINSTREAM_DATA
# (../shared/data), BUDGET (ms of compute per second of video for both streams together,
# default 6: 3 ms/s per stream, a few frames/s at this model's 0.8-1.1 ms per frame),
# CHOKEPOINTS (0,11,13,15: nosharing needs 0), EPOCHS (3), FRAME_STEP (2), THREADS (2,
# training), RETRAIN (0: reuse OUT_DIR/APP.mpkg when present), PIN_FPS ("1 0.5 0.25 0.1":
# extra runs with both apps pinned to each rate, budget ample). Outputs stay in OUT_DIR.
set -eu
OUT=${1:-/tmp/mainstream-measure-events}
MS=${MS:-build-rel/mainstream}
DATA=${MAINSTREAM_DATA:-${DATA:-../shared/data}}
BUDGET=${BUDGET:-6}
CHOKEPOINTS=${CHOKEPOINTS:-0,11,13,15}
EPOCHS=${EPOCHS:-3}
FRAME_STEP=${FRAME_STEP:-2}
THREADS=${THREADS:-2}
RETRAIN=${RETRAIN:-0}
PIN_FPS=${PIN_FPS:-1 0.5 0.25 0.1}
TRAIN_FRACTION=0.6 # the trainer's default for a video: the first 60% of frames train

[ -x "$MS" ] || { echo "measure_events: $MS not found: build first (scripts/setup.sh build-rel)" >&2; exit 1; }
command -v jq >/dev/null || { echo "measure_events: needs jq" >&2; exit 1; }
DATA=$(cd "$DATA" && pwd)
MODEL=$DATA/models/mobilenet_v1_0.25_128_quant.tflite
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

# The first frame of the validation part: the trainer's cut, round(0.6 * labelled rows).
val_start() {
    rows=$(($(wc -l <"$1") - 1))
    awk -v n="$rows" -v f="$TRAIN_FRACTION" 'BEGIN { printf "%d\n", f * n + 0.5 }'
}

# score EVENTS LABELS STREAM APP FROM_FRAME (the run's stats beside EVENTS vouch for the app): "recall precision f1 detected/labelled tp/predicted
# false-alarm-fraction".
score() {
    "$MS" score-events --events "$1" --labels "$2" --stream "$3" --app "$4" --from-frame "$5" \
        --stats "${1%.events.jsonl}.stats.json" --json |
        jq -r '"\(.recall) \(.precision) \(.f1) \(.detected)/\(.labelled) \(.true_positives)/\(.predicted) \(.false_alarm_fraction)"'
}

for app in person car; do
    if [ "$RETRAIN" = 1 ] || [ ! -f "$OUT/$app.mpkg" ]; then
        echo "== train $app" >&2
        "$MS" train --model "$MODEL" --video "$DATA/videos/$app.mp4" --labels "$DATA/videos/$app.labels.csv" \
            --chokepoints "$CHOKEPOINTS" --epochs "$EPOCHS" --frame-step "$FRAME_STEP" --threads "$THREADS" \
            --seed 1 --app "$app" -o "$OUT/$app.mpkg" | tee "$OUT/$app.train.txt" >&2
    fi
done

# One profile for every run, kept in OUT_DIR, so that the plans differ only by policy and
# a second invocation plans exactly as the first (a fresh profile can move a rate by one).
[ -f "$OUT/profile.json" ] || "$MS" profile --model "$MODEL" --threads 1 --runs 20 -o "$OUT/profile.json" >/dev/null

# measure NAME POLICY BUDGET PIN: writes OUT/deploy-NAME.json (PIN: a JSON fragment added to
# both apps, e.g. ', "fps": 0.5'), runs it offline and prints one row per app.
measure() {
    cat >"$OUT/deploy-$1.json" <<EOF
{"model": "$MODEL", "backend": "cpu", "threads": 1, "batch": 1,
 "profile": "profile.json", "budget": $3, "policy": "$2", "objective": "f1",
 "streams": [{"name": "people", "url": "$DATA/videos/person.mp4"},
             {"name": "road", "url": "$DATA/videos/car.mp4"}],
 "apps": [{"name": "person", "stream": "people", "package": "person.mpkg", "threshold": 0.5$4},
          {"name": "car", "stream": "road", "package": "car.mpkg", "threshold": 0.5$4}]}
EOF
    "$MS" run "$OUT/deploy-$1.json" --mode offline --events "$OUT/$1.events.jsonl" \
        --scores "$OUT/$1.scores.jsonl" --stats "$OUT/$1.stats.json" --report-every 0 2>"$OUT/$1.run.txt"
    for app in person car; do
        stream=people
        [ "$app" = car ] && stream=road
        labels=$DATA/videos/$app.labels.csv
        plan=$(jq -r --arg a "$app" '.apps[] | select(.name == $a) |
            "\(.chokepoint) \(.planned_fps) \(.predicted_recall) \(.predicted_precision) \(.predicted_f1)"' \
            "$OUT/$1.stats.json")
        all=$(score "$OUT/$1.events.jsonl" "$labels" "$stream" "$app" 0)
        val=$(score "$OUT/$1.events.jsonl" "$labels" "$stream" "$app" "$(val_start "$labels")")
        echo "$1 $app $plan $all $val" | awk '{
            printf "%-15s %-6s %3d %5.2f | %.2f %.2f %.2f | %.2f %.2f %.2f %.2f | %.2f %.2f %.2f %.2f | %s %s | %s %s\n",
                $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $13, $14, $15, $16, $19, $11, $12, $17, $18 }'
    done
}

echo "R/P/F1: event recall, precision, F1. all: the whole video (its first 60% trained the app);"
echo "last 40%: frames from the trainer's cut on (its validation part). det: labelled events"
echo "detected/labelled; tp: predicted events overlapping a labelled one/predicted; FA: the"
echo "fraction of frames labelled absent that lie inside a predicted event."
printf '%-15s %-6s %3s %5s | %-14s | %-19s | %-19s | %-9s | %s\n' run app cp fps \
    "predicted R P F1" "measured R P F1 FA" "last 40% R P F1 FA" "all det tp" "last 40% det tp"
for policy in mainstream maxsharing nosharing; do
    measure "$policy" "$policy" "$BUDGET" ""
done
# Lower rates, pinned (budget ample, the mainstream policy chooses the chokepoints): where
# events are seen by few samples, the event model's recall is tested.
for fps in $PIN_FPS; do
    measure "pinned-$fps" mainstream 1000 ", \"fps\": $fps"
done
