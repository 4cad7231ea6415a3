#!/usr/bin/env bash
# Soak benchmark of `mainstream serve` (not in CI): DURATION seconds live (default 600),
# two streams (the shared car and person videos at their own rates; a stream that ends is
# deleted and added again), apps added and removed every few seconds through the API,
# events to a file, MQTT (mosquitto) and Redis (redis-server) on loopback. Every 10 s it
# samples serve's resident memory and open file descriptors; at the end it checks that
# every output holds exactly the same event ids and that the runtime's event count equals
# what each output delivered, and prints the table and a summary.
#
# Events against the labels: every time a stream is added, a kept app of its own video
# (car on a, person on b: chokepoint 15, 2 fps, pinned, so its samples do not depend on
# the churn) is added with it and lives as long as that play of the video. Each complete
# play's events are scored with `mainstream score-events` against the video's labels, and
# compared with the same app on the same video in an offline `mainstream run` (every
# sampled frame processed): a labelled event the offline run detects and a play misses is
# an event lost live (a dropped frame, a late plan), counted in the summary.
#
# usage: bench/serve_soak.sh [DURATION_S] [OUT_DIR]    (after scripts/setup.sh build)
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-600}
OUT=${2:-/tmp/serve-soak}
MS=$PWD/build/mainstream
DATA=$(cd ../shared/data && pwd)
PY=$(command -v python3)
. tests/e2e/serve_lib.sh
mkdir -p "$OUT"
WORK=$(mktemp -d)
SERVE_PID= MOSQ_PID= REDIS_PID= SUB_PID=
cleanup() { for p in "$SUB_PID" "$SERVE_PID" "$MOSQ_PID" "$REDIS_PID"; do stop_pid "$p"; done; rm -rf "$WORK"; }
trap cleanup EXIT

MQTT_PORT=$(free_port)
REDIS_PORT=$(free_port)
printf 'listener %s 127.0.0.1\nallow_anonymous true\nuser %s\nlog_dest none\n' "$MQTT_PORT" "$(id -un)" > "$WORK/mosq.conf"
"$(command -v mosquitto || echo /usr/sbin/mosquitto)" -c "$WORK/mosq.conf" & MOSQ_PID=$!
redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no --daemonize no --logfile /dev/null & REDIS_PID=$!
wait_for 10 mosquitto sh -c "mosquitto_pub -h 127.0.0.1 -p $MQTT_PORT -t ping -m x 2>/dev/null"
wait_for 10 redis sh -c "redis-cli -p $REDIS_PORT ping 2>/dev/null | grep -q PONG"
mosquitto_sub -h 127.0.0.1 -p "$MQTT_PORT" -t ms/events -q 1 > "$WORK/mqtt.jsonl" & SUB_PID=$!

MODEL=$DATA/models/mobilenet_v1_0.25_128_quant.tflite
for app in car person; do
    [ -f "$OUT/$app.mpk" ] || "$MS" train --model "$MODEL" --video "$DATA/videos/$app.mp4" \
        --labels "$DATA/videos/$app.labels.csv" --chokepoints 11,13,15 --epochs 2 --frame-step 4 \
        --threads 2 --seed 1 --app $app -o "$OUT/$app.mpk" > /dev/null 2>&1
done
TOKEN=soak
echo "$TOKEN" > "$WORK/token"
cat > "$WORK/serve.json" <<EOF
{"model": "$MODEL", "threads": 1, "budget": 100,
 "outputs": [{"type": "file", "path": "events.jsonl"},
             {"type": "mqtt", "host": "127.0.0.1", "port": $MQTT_PORT, "topic": "ms/events"},
             {"type": "redis", "host": "127.0.0.1", "port": $REDIS_PORT, "stream": "ms:events"}]}
EOF
start_serve "$WORK/serve.json"
KEEP='"threshold": 0.5, "chokepoint": 15, "fps": 2'
declare -A play=()  # stream -> its current play's number
plays=0
add_stream() { # NAME VIDEO: the stream and its kept app, <video>-<stream>-p<play>
    json_post 201 /v1/streams '{"name": "'"$1"'", "url": "'"$DATA/videos/$2.mp4"'"}'
    plays=$((plays + 1)); play[$1]=$plays
    json_post 201 /v1/apps '{"name": "'"$2-$1-p$plays"'", "stream": "'"$1"'", "package": "'"$OUT/$2.mpk"'", '"$KEEP"'}'
}
add_stream a car
add_stream b person
# apps: <video>-<stream>-<n>; the video's app watches either stream
declare -A live=()
n=0 ops=0 start=$(date +%s) next_sample=0
printf '%6s %8s %5s %7s %5s\n' t_s rss_mb fds events apps | tee "$OUT/samples.txt"
while :; do
    now=$(( $(date +%s) - start ))
    [ $now -ge "$DURATION" ] && break
    if [ $now -ge $next_sample ]; then
        rss=$(awk '/VmRSS/ {printf "%.1f", $2 / 1024}' /proc/$SERVE_PID/status)
        fds=$(ls /proc/$SERVE_PID/fd | wc -l)
        printf '%6d %8s %5d %7d %5d\n' $now "$rss" "$fds" "$(wc -l < "$WORK/events.jsonl" 2>/dev/null || echo 0)" \
            ${#live[@]} | tee -a "$OUT/samples.txt"
        next_sample=$((next_sample + 10))
    fi
    # a stream that ended is deleted (its apps with it) and added again
    for s in a b; do
        api GET /v1/streams
        if body_true "[x for x in j['streams'] if x['name'] == '$s' and x['state'] in ('ended', 'failed')]"; then
            expect 200 GET /v1/stats  # vouches for the kept app of the play that ended
            cp "$WORK/body" "$WORK/stats-p${play[$s]}.json"
            echo "$s ${play[$s]} $([ $s = a ] && echo car || echo person)" >> "$WORK/plays.txt"
            expect 204 DELETE /v1/streams/$s
            for k in "${!live[@]}"; do [ "${live[$k]}" = $s ] && unset "live[$k]"; done
            [ $s = a ] && add_stream a car || add_stream b person
        fi
    done
    # add an app, or remove the oldest when there are 4
    if [ ${#live[@]} -ge 4 ]; then
        victim=$(printf '%s\n' "${!live[@]}" | sort -t- -k3 -n | head -1)
        expect 204 DELETE "/v1/apps/$victim"
        unset "live[$victim]"
    else
        n=$((n + 1))
        video=$([ $((n % 2)) = 0 ] && echo car || echo person)
        s=$([ $((n % 3)) = 0 ] && echo a || echo b)
        json_post 201 /v1/apps '{"name": "'"$video-$s-$n"'", "stream": "'"$s"'", "package": "'"$OUT/$video.mpk"'", "threshold": 0.5}'
        live[$video-$s-$n]=$s
    fi
    ops=$((ops + 1))
    sleep 3
done
metrics
delivered=$(metric mainstream_output_delivered_total)
kill -TERM "$SERVE_PID"; wait "$SERVE_PID"; SERVE_PID=
sleep 1
ids() { "$PY" -c '
import json, sys
lines = [l for l in open(sys.argv[1]).read().split("\n") if l.strip()]
out = [lines[i + 1] for i, l in enumerate(lines) if l == "id"] if sys.argv[2] == "redis" else [json.loads(l)["id"] for l in lines]
print("\n".join(sorted(out)))' "$1" "$2"; }
redis-cli -p "$REDIS_PORT" --raw XRANGE ms:events - + > "$WORK/redis.txt"
ids "$WORK/events.jsonl" file > "$WORK/f"; ids "$WORK/mqtt.jsonl" mqtt > "$WORK/m"; ids "$WORK/redis.txt" redis > "$WORK/r"
same=yes
cmp -s "$WORK/f" "$WORK/m" || same=no
cmp -s "$WORK/f" "$WORK/r" || same=no
events=$(wc -l < "$WORK/f")

# the kept apps' plays against the labels, and the same app offline
for video in car person; do
    stream=$([ $video = car ] && echo a || echo b)
    cat > "$WORK/ref-$video.json" <<EOF
{"model": "$MODEL", "threads": 1, "budget": 100,
 "streams": [{"name": "$stream", "url": "$DATA/videos/$video.mp4"}],
 "apps": [{"name": "$video", "stream": "$stream", "package": "$OUT/$video.mpk", $KEEP}]}
EOF
    "$MS" run "$WORK/ref-$video.json" --mode offline --events "$WORK/ref-$video.jsonl" \
        --stats "$WORK/ref-$video.stats.json" > /dev/null 2>&1
    "$MS" score-events --events "$WORK/ref-$video.jsonl" --stats "$WORK/ref-$video.stats.json" \
        --labels "$DATA/videos/$video.labels.csv" --stream "$stream" --app "$video" --json > "$WORK/ref-$video.score"
done
: > "$OUT/plays.txt"
while read -r s k video; do
    "$MS" score-events --events "$WORK/events.jsonl" --stats "$WORK/stats-p$k.json" \
        --labels "$DATA/videos/$video.labels.csv" --stream "$s" --app "$video-$s-p$k" --json > "$WORK/p$k.score"
    "$PY" - "$WORK/p$k.score" "$WORK/events.jsonl" "$WORK/ref-$video.jsonl" "$DATA/videos/$video.labels.csv" \
        "$video-$s-p$k" "$video" <<'EOF' >> "$OUT/plays.txt"
import json, sys
score = json.load(open(sys.argv[1]))
def spans(path, app):
    return [(e["start_frame"], e["end_frame"]) for e in map(json.loads, open(path)) if e["app"] == app]
rows = [tuple(map(int, l.split(","))) for l in open(sys.argv[4]).read().split()[1:]]
labelled, prev = [], 0
for f, p in rows:
    if p and not prev: labelled.append([f, f])
    if p: labelled[-1][1] = f
    prev = p
def hits(pred): return {i for i, (a, b) in enumerate(labelled) for (c, d) in pred if c <= b and a <= d}
live, ref = hits(spans(sys.argv[2], sys.argv[5])), hits(spans(sys.argv[3], sys.argv[6]))
print(sys.argv[6], sys.argv[5], score["labelled"], score["detected"], score["predicted"], score["true_positives"],
      "%.3f" % score["recall"], "%.3f" % score["precision"], "%.3f" % score["f1"], len(ref - live))
EOF
done < "$WORK/plays.txt"
"$PY" - "$OUT/plays.txt" "$WORK/ref-car.score" "$WORK/ref-person.score" <<'EOF' | tee "$OUT/labels.txt"
import json, sys
plays = [l.split() for l in open(sys.argv[1]) if l.strip()]
for video, ref in (("car", sys.argv[2]), ("person", sys.argv[3])):
    r = json.load(open(ref))
    p = [x for x in plays if x[0] == video]
    print(f"{video}: offline reference recall {r['recall']:.3f} precision {r['precision']:.3f} F1 {r['f1']:.3f}"
          f" ({r['detected']} of {r['labelled']} labelled events, {r['predicted']} predicted)")
    if not p:
        print(f"{video}: no complete play")
        continue
    f1 = [float(x[8]) for x in p]
    lost = sum(int(x[9]) for x in p)
    print(f"{video}: {len(p)} plays live, F1 min {min(f1):.3f} mean {sum(f1) / len(f1):.3f} max {max(f1):.3f};"
          f" labelled events the reference detects and a play missed: {lost}")
EOF
"$PY" - "$OUT/samples.txt" "$DURATION" "$ops" "$events" "$same" "$delivered" <<'EOF' | tee "$OUT/summary.txt"
import sys
rows = [l.split() for l in open(sys.argv[1]).read().splitlines()[1:]]
rss = [float(r[1]) for r in rows]; fds = [int(r[2]) for r in rows]
warm = [float(r[1]) for r in rows if int(r[0]) >= 60] or rss
print(f"{sys.argv[2]} s, {sys.argv[3]} API changes, {sys.argv[4]} events; same ids in file, MQTT and Redis: {sys.argv[5]}")
print(f"delivered (all outputs, before SIGTERM): {sys.argv[6]}")
print(f"RSS MB: first {rss[0]}, after 60 s {warm[0]}, last {rss[-1]}, max {max(rss)}; fds: min {min(fds)}, max {max(fds)}, last {fds[-1]}")
EOF
