#!/bin/sh
# The headline experiment, measured (docs/results.md): N apps on one stream under one
# budget; the policies mainstream, greedy, maxsharing and nosharing run through
# `mainstream run --mode offline`, each app's events scored against the stream's labels
# with `mainstream score-events`, next to what the scheduler predicted (the default model,
# the runner's --stats, and the original's model, `mainstream schedule --compat` on the
# same apps, profile and budget).
#
#   bench/headline.sh [OUT_DIR]          (after scripts/setup.sh build-rel)
#
# Steps: (1) scripts/make_streams.py images builds the streams, labels and training sets
# from ../shared/data into OUT_DIR/streams (nothing is committed); (2) every app is trained
# on its training pictures and calibrated (curve, event statistics) on the calibration
# stream: `mainstream train --positive ... --negative ... --val-video calib.mp4
# --val-labels calib.APP.labels.csv`; (3) one profile of the base model; (4) for every
# budget, N and policy a deployment with apps 1..N on test.mp4, run offline and scored.
# Writes OUT_DIR/results.csv (one row per run and app), OUT_DIR/summary.csv,
# OUT_DIR/table.md and OUT_DIR/headline.svg (bench/headline.py).
#
# Knobs (environment), defaults = the long version:
#   MS (build-rel/mainstream), DATA (../shared/data), MODEL (mobilenet_v1_0.25_128_quant),
#   APPS (10: apps trained; N runs up to it), NS ("1 2 3 4 5 6 7 8 9 10"),
#   BUDGETS ("0.25 0.5 1": fractions of the full network on every stream frame, from the
#   profile), POLICIES ("mainstream greedy maxsharing nosharing"),
#   MINUTES (60: test stream), CALIB_MINUTES (20), SEED (1), RATE_SCALE (1),
#   CHOKEPOINTS (0,3,6,9,11,13,15: nosharing needs 0, maxsharing the last),
#   EPOCHS (10), BATCH (8), FRAME_STEP (2: calibration frames validated), THREADS (2),
#   THRESHOLD (0.5), X_VOTE (1), RETRAIN (0: keep OUT_DIR/APP.mpkg when present),
#   REMAKE (0: keep OUT_DIR/streams when present), UNIT_MS (fixed ms per profile segment,
#   space-separated; default: measured), PIN_CPS ("0 9 15") and PIN_FPS
#   ("0.2 0.5 1 2 5 10"): runs with every app pinned at each chokepoint and rate (pinned.csv);
#   FIT_R_CPS ("0 9 15"; empty: none): calibration-stream scores at these chokepoints for
#   bench/headline_fit_r.py.
# The reduced version of docs/results.md:
#   MINUTES=20 CALIB_MINUTES=10 EPOCHS=2 BUDGETS="0.25 0.5" PIN_FPS="0.2 0.5 1 2 5" \
#       bench/headline.sh /tmp/headline
set -eu
OUT=${1:-/tmp/mainstream-headline}
MS=${MS:-build-rel/mainstream}
DATA=${DATA:-../shared/data}
APPS=${APPS:-10}
NS=${NS:-1 2 3 4 5 6 7 8 9 10}
BUDGETS=${BUDGETS:-0.25 0.5 1}
POLICIES=${POLICIES:-mainstream greedy maxsharing nosharing}
MINUTES=${MINUTES:-60}
CALIB_MINUTES=${CALIB_MINUTES:-20}
SEED=${SEED:-1}
RATE_SCALE=${RATE_SCALE:-1}
CHOKEPOINTS=${CHOKEPOINTS:-0,3,6,9,11,13,15}
EPOCHS=${EPOCHS:-10}
BATCH=${BATCH:-8}
FRAME_STEP=${FRAME_STEP:-2}
THREADS=${THREADS:-2}
THRESHOLD=${THRESHOLD:-0.5}
X_VOTE=${X_VOTE:-1}
RETRAIN=${RETRAIN:-0}
REMAKE=${REMAKE:-0}
UNIT_MS=${UNIT_MS:-}
PIN_CPS=${PIN_CPS-0 9 15} # empty: no pinned runs
PIN_FPS=${PIN_FPS:-0.2 0.5 1 2 5 10}
FIT_R_CPS=${FIT_R_CPS-0 9 15} # empty: no correlation fit
HERE=$(cd "$(dirname "$0")" && pwd)

[ -x "$MS" ] || { echo "headline: $MS not found: build first (scripts/setup.sh build-rel)" >&2; exit 1; }
command -v jq >/dev/null || { echo "headline: needs jq" >&2; exit 1; }
MS=$(cd "$(dirname "$MS")" && pwd)/$(basename "$MS")
DATA=$(cd "$DATA" && pwd)
MODEL=${MODEL:-$DATA/models/mobilenet_v1_0.25_128_quant.tflite}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
S=$OUT/streams

if [ "$REMAKE" = 1 ] || [ ! -f "$S/manifest.json" ]; then
    echo "== streams" >&2
    /usr/bin/python3 "$HERE/../scripts/make_streams.py" images --out "$S" --data "$DATA" --seed "$SEED" \
        --apps "$APPS" --minutes "$MINUTES" --calib-minutes "$CALIB_MINUTES" --rate-scale "$RATE_SCALE" >&2
fi

for app in $(head -n "$APPS" "$S/apps.txt"); do
    if [ "$RETRAIN" = 1 ] || [ ! -f "$OUT/$app.mpkg" ]; then
        echo "== train $app" >&2
        "$MS" train --model "$MODEL" --positive "$S/train/$app/pos" --negative "$S/train/$app/neg" \
            --val-video "$S/calib.mp4" --val-labels "$S/calib.$app.labels.csv" --chokepoints "$CHOKEPOINTS" \
            --epochs "$EPOCHS" --batch "$BATCH" --frame-step "$FRAME_STEP" --threads "$THREADS" --seed "$SEED" \
            --app "$app" -o "$OUT/$app.mpkg" >"$OUT/$app.train.txt"
    fi
done

# One profile for every run, so the plans differ only by policy, budget and apps. UNIT_MS
# replaces its per-segment times by fixed ones (plans that do not depend on the machine).
if [ ! -f "$OUT/profile.json" ]; then
    "$MS" profile --model "$MODEL" --threads 1 --runs 50 -o "$OUT/profile.json" >/dev/null
    if [ -n "$UNIT_MS" ]; then
        jq --arg ms "$UNIT_MS" '($ms | split(" ") | map(select(. != "") | tonumber)) as $v |
            if ($v | length) != (.segments | length) then error("UNIT_MS: \($v | length) values for \(.segments | length) segments")
            else .segments |= [to_entries[] | .value.ms = $v[.key] | .value] | .network_ms = ($v | add) end' \
            "$OUT/profile.json" >"$OUT/profile.json.tmp" && mv "$OUT/profile.json.tmp" "$OUT/profile.json"
    fi
fi
full=$(jq '[.segments[].ms] | add' "$OUT/profile.json")
fps=$(jq '.fps' "$S/manifest.json")

# run BUDGET_FRACTION N POLICY [PIN NAME CSV]: one deployment, run offline, one row per app in
# results.csv (or CSV); PIN is a JSON fragment added to every app (', "chokepoint": 9, "fps": 2').
run() {
    name=${5:-b$1-n$2-$3}
    csv=${6:-$OUT/results.csv}
    budget=$(awk -v f="$1" -v c="$full" -v s="$fps" 'BEGIN { printf "%.6f\n", f * c * s }')
    apps=$(head -n "$2" "$S/apps.txt" | awk -v t="$THRESHOLD" -v x="$X_VOTE" -v pin="${4:-}" '{
        printf "%s{\"name\": \"%s\", \"stream\": \"test\", \"package\": \"../%s.mpkg\", \"threshold\": %s, \"x_vote\": %s%s}",
            (NR > 1 ? ", " : ""), $1, $1, t, x, pin }')
    cat >"$OUT/runs/$name.json" <<EOF
{"model": "$MODEL", "backend": "cpu", "threads": 1, "batch": 1, "profile": "../profile.json",
 "budget": $budget, "policy": "$3", "objective": "f1",
 "streams": [{"name": "test", "url": "$S/test.mp4"}], "apps": [$apps]}
EOF
    if ! "$MS" run "$OUT/runs/$name.json" --mode offline --events "$OUT/runs/$name.events.jsonl" \
        --stats "$OUT/runs/$name.stats.json" --report-every 0 2>"$OUT/runs/$name.run.txt"; then
        # no schedule of this policy fits the budget: recorded as such, nothing measured
        echo "budget $1 ($budget ms/s) N=$2 $3: $(tail -n 1 "$OUT/runs/$name.run.txt")" >&2
        echo "$1,$budget,$2,$3,,,,,,,,,,,,,,,," >>"$csv"
        return 0
    fi
    compat=$(/usr/bin/python3 "$HERE/headline.py" scenario --profile "$OUT/profile.json" --budget "$budget" \
        --stream-fps "$fps" --x-vote "$X_VOTE" $(head -n "$2" "$S/apps.txt" | sed "s|.*|$OUT/&.mpkg|") \
        >"$OUT/runs/$name.scenario.json" &&
        "$MS" schedule "$OUT/runs/$name.scenario.json" --policy "$3" --compat --json | jq '.value')
    for app in $(head -n "$2" "$S/apps.txt"); do
        plan=$(jq -r --arg a "$app" '.apps[] | select(.name == $a) |
            "\(.chokepoint),\(.planned_fps),\(.observed_fps),\(.predicted_recall),\(.predicted_precision),\(.predicted_f1)"' \
            "$OUT/runs/$name.stats.json")
        meas=$("$MS" score-events --events "$OUT/runs/$name.events.jsonl" --labels "$S/test.$app.labels.csv" \
            --stream test --app "$app" --json |
            jq -r '"\(.recall),\(.precision),\(.f1),\(.false_alarm_fraction),\(.labelled),\(.detected),\(.predicted),\(.true_positives)"')
        echo "$1,$budget,$2,$3,$app,$plan,$meas,$compat" >>"$csv"
    done
    cost=$(jq '.streams[0].planned_cost' "$OUT/runs/$name.stats.json")
    echo "budget $1 ($budget ms/s) N=$2 $3: cost $cost, $(jq -r '[.apps[] | "\(.chokepoint)@\(.planned_fps)"] | join(" ")' "$OUT/runs/$name.stats.json")" >&2
}

mkdir -p "$OUT/runs"
header="budget_fraction,budget,apps,policy,app,chokepoint,planned_fps,observed_fps,pred_recall,pred_precision,pred_f1,recall,precision,f1,false_alarm_fraction,labelled,detected,predicted,true_positives,compat_pred_f1"
echo "$header" >"$OUT/results.csv"
for b in $BUDGETS; do
    for n in $NS; do
        for p in $POLICIES; do
            run "$b" "$n" "$p"
        done
    done
done
# Every app pinned at one chokepoint and rate (budget ample): the event model against
# measurement over rates, whatever the policies choose (pinned.csv, headline.py analyse).
echo "$header" >"$OUT/pinned.csv"
for cp in $PIN_CPS; do
    for f in $PIN_FPS; do
        run 1000 "$APPS" mainstream ", \"chokepoint\": $cp, \"fps\": $f" "pin-cp$cp-fps$f" "$OUT/pinned.csv"
    done
done
# Every app's scores on the calibration stream, pinned at each chokepoint of FIT_R_CPS and
# 5 fps: bench/headline_fit_r.py fits the correlation to the calibration events missed
# whole and compares it with the trainer's lag-1 estimate (docs/results.md).
for cp in $FIT_R_CPS; do
    apps=$(head -n "$APPS" "$S/apps.txt" | awk -v t="$THRESHOLD" -v cp="$cp" '{
        printf "%s{\"name\": \"%s\", \"stream\": \"calib\", \"package\": \"../%s.mpkg\", \"threshold\": %s, \"chokepoint\": %s, \"fps\": 5}",
            (NR > 1 ? ", " : ""), $1, $1, t, cp }')
    cat >"$OUT/runs/calib-cp$cp.json" <<EOF
{"model": "$MODEL", "backend": "cpu", "threads": 1, "batch": 1, "profile": "../profile.json",
 "budget": 100000, "policy": "mainstream", "streams": [{"name": "calib", "url": "$S/calib.mp4"}], "apps": [$apps]}
EOF
    "$MS" run "$OUT/runs/calib-cp$cp.json" --mode offline --events "$OUT/runs/calib-cp$cp.events.jsonl" \
        --scores "$OUT/scores-cp$cp.jsonl" --report-every 0 2>"$OUT/runs/calib-cp$cp.run.txt"
done
/usr/bin/python3 "$HERE/headline.py" report "$OUT/results.csv" "$OUT"
[ ! -f "$OUT/table.md" ] || cat "$OUT/table.md"
for f in results pinned; do
    [ "$(wc -l <"$OUT/$f.csv")" -gt 1 ] || continue
    echo "== event model variants against measurement, $f.csv"
    /usr/bin/python3 "$HERE/headline.py" analyse "$OUT/$f.csv" "$OUT" "$fps" "$FRAME_STEP"
done
if [ -n "$FIT_R_CPS" ]; then
    echo "== the correlation fitted to missed calibration events against the lag-1 estimate"
    # shellcheck disable=SC2086
    /usr/bin/python3 "$HERE/headline_fit_r.py" "$OUT" $FIT_R_CPS
fi
