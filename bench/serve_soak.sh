#!/usr/bin/env bash
# Soak benchmark of `mainstream serve` (not in CI): DURATION seconds live (default 600),
# two streams (the shared car and person videos at their own rates; a stream that ends is
# deleted and added again), apps added and removed every few seconds through the API,
# events to a file, MQTT (mosquitto) and Redis (redis-server) on loopback. Every 10 s it
# samples serve's resident memory and open file descriptors; at the end it checks that
# every output holds exactly the same event ids and that the runtime's event count equals
# what each output delivered, and prints the table and a summary.
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
add_stream() { json_post 201 /v1/streams '{"name": "'"$1"'", "url": "'"$DATA/videos/$2.mp4"'"}'; }
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
"$PY" - "$OUT/samples.txt" "$DURATION" "$ops" "$events" "$same" "$delivered" <<'EOF' | tee "$OUT/summary.txt"
import sys
rows = [l.split() for l in open(sys.argv[1]).read().splitlines()[1:]]
rss = [float(r[1]) for r in rows]; fds = [int(r[2]) for r in rows]
warm = [float(r[1]) for r in rows if int(r[0]) >= 60] or rss
print(f"{sys.argv[2]} s, {sys.argv[3]} API changes, {sys.argv[4]} events; same ids in file, MQTT and Redis: {sys.argv[5]}")
print(f"delivered (all outputs, before SIGTERM): {sys.argv[6]}")
print(f"RSS MB: first {rss[0]}, after 60 s {warm[0]}, last {rss[-1]}, max {max(rss)}; fds: min {min(fds)}, max {max(fds)}, last {fds[-1]}")
EOF
