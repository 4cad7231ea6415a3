#!/usr/bin/env bash
# End to end: `mainstream serve` against a real MQTT broker (mosquitto), a real Redis
# (redis-server) and a real HTTP client (curl), all on loopback ports picked here, with
# two apps trained here on MobileNetV1 0.25_128 and the shared car and person videos
# played live at a compressed rate (the stream's "fps" override: 377 frames in 7.5 s; under
# valgrind, which runs serve some 20 times slower, at 10 fps so that it keeps up).
#
#   1. upload a package, add a stream and two apps: events arrive in the file, in a
#      mosquitto_sub subscriber, in the Redis stream and on the SSE feed, the same ids
#      everywhere; remove one app; change the budget; /metrics parses (prom_check.py).
#      Each event's start_time is when its first frame arrived, checked by ordering: not
#      before the stream was added plus its start in stream time (frames are paced), not
#      after serve reported a frame at or past it as processed (polled), not after
#      end_time
#   2. mosquitto stopped while a stream runs: events are spooled (metric), delivered
#      when it is back, none lost (ids compared as sets: duplicates are allowed)
#   2b. the ended streams deleted: their apps go with them
#   3. redis stopped, then serve killed with kill -9 and restarted on the same --state
#      without CONFIG: same streams, apps and budget; the spooled events reach Redis
#   4. bad requests (malformed JSON, unknown field, no token, wrong token, huge body,
#      names with '/' or '..', unknown names, duplicates): each its 4xx, nothing changes
#   5. SIGTERM while an event is open: serve exits 0, the event is closed and delivered
#      to every output
#
# usage: serve.sh MAINSTREAM SHARED_DATA   (exit 77: skipped, with the reason)
# MS_SERVE_WRAP (e.g. "valgrind --error-exitcode=99 ...") runs serve under a wrapper.
set -euo pipefail

MS=$1
DATA=$(cd "$2" 2>/dev/null && pwd || echo "$2")
PY=$(command -v python3)
# shellcheck source=tests/e2e/serve_lib.sh
. "$(dirname "$0")/serve_lib.sh"
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
for tool in "$MOSQUITTO" mosquitto_sub mosquitto_pub redis-server redis-cli curl; do
    command -v "$tool" >/dev/null || skip "$tool is not installed (scripts/setup.sh installs it)"
done
for f in models/mobilenet_v1_0.25_128_quant.tflite videos/car.mp4 videos/car.labels.csv \
         videos/person.mp4 videos/person.labels.csv; do
    [ -f "$DATA/$f" ] || skip "shared data $DATA/$f not found"
done

# the live rate of the played videos, and how long a stream of 377 frames may take to end
SFPS=50
[ -n "${MS_UNDER_VALGRIND:-}" ] && SFPS=10
END_S=$((60 + 2 * 377 / SFPS))
WORK=$(mktemp -d)
SERVE_PID= MOSQ_PID= REDIS_PID= SUB_PID= SSE_PID= POLL_PID=
cleanup() {
    local rc=$?
    for p in "$POLL_PID" "$SSE_PID" "$SUB_PID" "$SERVE_PID" "$MOSQ_PID" "$REDIS_PID"; do stop_pid "$p"; done
    if [ $rc -ne 0 ] && [ $rc -ne 77 ]; then
        echo "--- serve log"; cat "$WORK"/serve*.log 2>/dev/null | tail -40 || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
# ---- brokers ----
MQTT_PORT=$(free_port)
REDIS_PORT=$(free_port)
mkdir -p "$WORK/mosq" "$WORK/redis"
cat > "$WORK/mosquitto.conf" <<EOF
listener $MQTT_PORT 127.0.0.1
allow_anonymous true
persistence true
persistence_location $WORK/mosq/
log_dest file $WORK/mosquitto.log
user $(id -un)
EOF
start_mosquitto() {
    "$MOSQUITTO" -c "$WORK/mosquitto.conf" & MOSQ_PID=$!
    wait_for 10 "mosquitto" sh -c "mosquitto_pub -h 127.0.0.1 -p $MQTT_PORT -t ping -m x -q 1 2>/dev/null"
}
start_redis() {
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$WORK/redis" --save "" --appendonly yes \
        --appendfsync always --daemonize no --logfile "$WORK/redis.log" & REDIS_PID=$!
    wait_for 10 "redis-server" sh -c "redis-cli -h 127.0.0.1 -p $REDIS_PORT ping 2>/dev/null | grep -q PONG"
}
step "brokers: mosquitto on $MQTT_PORT, redis on $REDIS_PORT"
start_mosquitto
start_redis
# a persistent session at QoS 1: the broker keeps what arrives while the subscriber
# reconnects after a broker restart
mosquitto_sub -h 127.0.0.1 -p "$MQTT_PORT" -t ms/events -q 1 -c -i ms-e2e-sub > "$WORK/mqtt.jsonl" &
SUB_PID=$!

# ---- packages ----
step "training two apps"
MODEL=$DATA/models/mobilenet_v1_0.25_128_quant.tflite
for app in car person; do
    "$MS" train --model "$MODEL" --video "$DATA/videos/$app.mp4" --labels "$DATA/videos/$app.labels.csv" \
        --chokepoints 13,15 --epochs 2 --frame-step 4 --threads 2 --seed 1 --app $app \
        -o "$WORK/$app.mpk" > "$WORK/train-$app.log" 2>&1 || { cat "$WORK/train-$app.log"; fail "train $app"; }
done

# the unit costs measured here, outside any wrapper, so that the plans are the same under
# valgrind; every app's rate is pinned ("fps") so that each gets samples inside events
"$MS" profile --model "$MODEL" --threads 1 --runs 5 -o "$WORK/profile.json" > /dev/null 2>&1 || fail "profile"

# ---- serve ----
TOKEN=$("$PY" -c 'import secrets; print(secrets.token_hex(16))')
echo "$TOKEN" > "$WORK/token"
cat > "$WORK/serve.json" <<EOF
{"model": "$MODEL", "backend": "cpu", "threads": 1, "budget": 300, "profile": "profile.json",
 "streams": [], "apps": [],
 "outputs": [{"type": "file", "path": "events.jsonl"},
             {"type": "mqtt", "host": "127.0.0.1", "port": $MQTT_PORT, "topic": "ms/events", "qos": 1},
             {"type": "redis", "host": "127.0.0.1", "port": $REDIS_PORT, "stream": "ms:events"}]}
EOF
streams_done() { # NAME...: every named stream has ended
    api GET /v1/streams
    [ "$CODE" = 200 ] || return 1
    "$PY" - "$WORK/body" "$@" <<'EOF'
import json, sys
s = {x["name"]: x["state"] for x in json.load(open(sys.argv[1]))["streams"]}
sys.exit(0 if all(s.get(n) in ("ended", "failed") for n in sys.argv[2:]) else 1)
EOF
}
spooled() { metrics && metric 'mainstream_output_spooled_events{output="'"$1"; }
nothing_spooled() { metrics && [ "$(metric mainstream_output_spooled_events)" = 0 ]; }
some_spooled() { [ "$(spooled "$1")" != 0 ]; }

ids() { # FILE KIND: the event ids, one a line, sorted and unique
    "$PY" - "$1" "$2" <<'EOF'
import json, sys
path, kind = sys.argv[1], sys.argv[2]
lines = [l for l in open(path).read().split("\n") if l.strip()]
if kind == "redis":  # XRANGE --raw: entry id, then field, value pairs
    out = [lines[i + 1] for i, l in enumerate(lines) if l == "id"]
else:
    out = [json.loads(l)["id"] for l in lines]
for i in sorted(set(out)):
    print(i)
EOF
}
redis_ids() {
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" --raw XRANGE ms:events - + > "$WORK/redis.txt"
    ids "$WORK/redis.txt" redis
}
check_same_ids() { # every output holds exactly the file's ids (as sets)
    ids "$WORK/events.jsonl" file > "$WORK/ids.file"
    ids "$WORK/mqtt.jsonl" mqtt > "$WORK/ids.mqtt"
    redis_ids > "$WORK/ids.redis"
    [ -s "$WORK/ids.file" ] || fail "no events in the file"
    diff "$WORK/ids.file" "$WORK/ids.mqtt" > /dev/null || fail "mqtt ids differ from the file's: $(diff "$WORK/ids.file" "$WORK/ids.mqtt" | head)"
    diff "$WORK/ids.file" "$WORK/ids.redis" > /dev/null || fail "redis ids differ from the file's: $(diff "$WORK/ids.file" "$WORK/ids.redis" | head)"
}
mqtt_has_file_ids() { ids "$WORK/events.jsonl" file > "$WORK/a"; ids "$WORK/mqtt.jsonl" mqtt > "$WORK/b"; [ -z "$(comm -23 "$WORK/a" "$WORK/b")" ]; }
poll_frames() { # STREAM: "WALL LAST_FRAME" lines in $WORK/polls.txt until the stream ends
    "$PY" - "$BASE" "$TOKEN" "$1" "$((120 * SLOW))" > "$WORK/polls.txt" <<'EOF' &
import json, sys, time, urllib.request
base, token, name, limit = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
rq = urllib.request.Request(base + "/v1/streams", headers={"Authorization": "Bearer " + token})
until = time.time() + limit
while time.time() < until:
    try:
        streams = json.load(urllib.request.urlopen(rq, timeout=10))["streams"]
    except Exception:
        streams = []
    wall = time.time()  # after the reply: the frames it reports were processed by now
    s = [s for s in streams if s["name"] == name]
    if s:
        print(wall, s[0]["last_frame"], flush=True)
        if s[0]["state"] in ("ended", "failed"):
            break
    time.sleep(0.05)
EOF
    POLL_PID=$!
}
count_app() { "$PY" -c 'import json,sys; print(sum(1 for l in open(sys.argv[1]) if l.strip() and json.loads(l)["app"] == sys.argv[2]))' "$WORK/events.jsonl" "$1"; }

step "1. start, upload, add a stream and two apps"
start_serve "$WORK/serve.json"
curl -sS -o "$WORK/body" -w '%{http_code}' "$BASE/v1/health" | grep -qx 200 || fail "health without a token"
body_check 'j == {"status": "ok"}'
curl -sS -N -H "Authorization: Bearer $TOKEN" "$BASE/v1/events" > "$WORK/sse.txt" &
SSE_PID=$!
expect 201 PUT /v1/packages/car --data-binary "@$WORK/car.mpk"
body_check 'j["app"] == "car" and j["chokepoints"] == [13, 15]'
head -c 5000 /dev/urandom > "$WORK/junk.mpk"
expect_error 400 "not a valid M-Package" PUT /v1/packages/junk --data-binary "@$WORK/junk.mpk"
T_ADD=$("$PY" -c 'import time; print(time.time())') # before stream s1 is added
poll_frames s1
[ ! -e "$WORK/state/packages/junk.mpk" ] || fail "a bad package was kept"
VIDEO_CAR=$DATA/videos/car.mp4
VIDEO_PERSON=$DATA/videos/person.mp4
json_post 201 /v1/streams '{"name": "s1", "url": "'"$VIDEO_CAR"'", "fps": '"$SFPS"'}'
json_post 201 /v1/apps '{"name": "car1", "stream": "s1", "package": "car", "threshold": 0.5, "fps": 5}'
json_post 201 /v1/apps '{"name": "person1", "stream": "s1", "package": "'"$WORK/person.mpk"'", "threshold": 0.5, "fps": 5}'
expect 200 GET /v1/apps
body_check '[a["name"] for a in j["apps"]] == ["car1", "person1"]'
wait_for "$END_S" "stream s1 to end" streams_done s1
wait_for 30 "every output to deliver" nothing_spooled
[ "$(count_app car1)" -ge 1 ] || fail "no car1 event"
wait_for 10 "the subscriber to get every event" mqtt_has_file_ids
check_same_ids
"$PY" - "$WORK/events.jsonl" <<'EOF' || fail "event fields"
import json, re, sys
iso = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
for l in open(sys.argv[1]):
    e = json.loads(l)
    assert set(e) == {"id", "stream", "app", "start_frame", "end_frame", "start_s", "end_s", "score",
                      "start_time", "end_time"}, e
    assert iso.match(e["start_time"]) and iso.match(e["end_time"]) and e["start_time"] <= e["end_time"], e
    assert 0 <= e["start_frame"] <= e["end_frame"] < 377 and e["stream"] == "s1", e
EOF
wait "$POLL_PID" || fail "the poller of s1"; POLL_PID=
"$PY" - "$WORK/events.jsonl" "$WORK/polls.txt" "$T_ADD" <<'EOF' || fail "start_time is not when the event's first frame arrived"
import datetime, json, sys
def wall(iso):
    t = datetime.datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ")
    return t.replace(tzinfo=datetime.timezone.utc).timestamp()
polls = [tuple(map(float, l.split())) for l in open(sys.argv[2]) if l.strip()]
t_add, late = float(sys.argv[3]), []
for l in open(sys.argv[1]):
    e = json.loads(l)
    start, end = wall(e["start_time"]), wall(e["end_time"])
    # live, frame f arrives no earlier than its stream time after frame 0 (always
    # offered), which arrives after t_add; 2 ms for the millisecond rounding of the times
    assert start >= t_add + e["start_s"] - 0.002, ("arrived before it was due", e, t_add)
    seen = [w for w, f in polls if f >= e["start_frame"]]
    assert seen, ("no poll saw frame %d processed" % e["start_frame"], polls[-3:])
    assert start <= min(seen) + 0.001, ("after a poll saw its frame processed", e, min(seen))
    assert start <= end, e
    late.append(start - t_add - e["start_s"])
print("start_time - (stream added + start_s): %.3f to %.3f s over %d events" % (min(late), max(late), len(late)))
EOF
# the SSE feed carried the same events
wait_for 10 "the SSE feed" sh -c "grep -c '^data: ' '$WORK/sse.txt' | grep -qx $(wc -l < "$WORK/events.jsonl")"
grep '^id: ' "$WORK/sse.txt" | cut -c5- | sort -u | diff - "$WORK/ids.file" > /dev/null || fail "SSE ids differ"
stop_pid "$SSE_PID"; SSE_PID=
metrics mainstream_app_fps mainstream_app_planned_fps mainstream_app_predicted_f1 mainstream_events_total \
    mainstream_stream_up mainstream_stream_frames_decoded_total mainstream_stream_frames_dropped_total \
    mainstream_node_ms_per_frame mainstream_cost_ms_per_second mainstream_budget_ms_per_second \
    mainstream_replans_total || fail "/metrics is not valid Prometheus text"
[ "$(metric 'mainstream_events_total{app="car1",stream="s1"}')" = "$(count_app car1)" ] || fail "events_total of car1"
[ "$(metric 'mainstream_stream_frames_decoded_total{stream="s1"}')" = 377 ] || fail "frames decoded of s1"
[ "$(metric mainstream_budget_ms_per_second)" = 300 ] || fail "budget metric"

step "1b. remove an app, change the budget"
expect 204 DELETE /v1/apps/person1
expect 200 GET /v1/apps
body_check '[a["name"] for a in j["apps"]] == ["car1"]'
expect 404 DELETE /v1/apps/person1
expect 200 PUT /v1/budget --data-binary '{"budget": 150}'
body_check 'j == {"budget": 150}'
expect 200 GET /v1/stats
body_check 'j["budget"] == 150'
expect 200 GET /v1/schedule
body_check 'j["budget"] == 150 and "streams" in j'
metrics
[ "$(metric mainstream_budget_ms_per_second)" = 150 ] || fail "budget metric after PUT /v1/budget"
grep -q 'app="person1"' "$WORK/metrics.txt" && fail "removed app still in /metrics"

step "2. mosquitto stopped while a stream runs"
stop_pid "$MOSQ_PID"; MOSQ_PID=
json_post 201 /v1/streams '{"name": "s2", "url": "'"$VIDEO_CAR"'", "fps": '"$SFPS"'}'
json_post 201 /v1/apps '{"name": "car2", "stream": "s2", "package": "car", "threshold": 0.5, "fps": 5}'
wait_for "$END_S" "stream s2 to end" streams_done s2
[ "$(count_app car2)" -ge 1 ] || fail "no car2 event"
wait_for 10 "the mqtt spool" some_spooled 127.0.0.1:$MQTT_PORT
metrics
[ "$(metric 'mainstream_output_up{output="127.0.0.1:'"$MQTT_PORT")" = 0 ] || fail "mqtt output reported up while down"
start_mosquitto
wait_for 30 "the spool to drain" nothing_spooled
wait_for 10 "the subscriber to get every event" mqtt_has_file_ids
check_same_ids

step "2b. delete the streams that ended (their apps go with them)"
expect 204 DELETE /v1/streams/s1
expect 204 DELETE /v1/streams/s2
expect 200 GET /v1/apps
body_check '[a["name"] for a in j["apps"]] == []'
expect 404 DELETE /v1/apps/car1

step "3. redis stopped, serve killed with kill -9 and restarted"
stop_pid "$REDIS_PID"; REDIS_PID=
json_post 201 /v1/streams '{"name": "s3", "url": "'"$VIDEO_CAR"'", "fps": '"$SFPS"'}'
json_post 201 /v1/apps '{"name": "car3", "stream": "s3", "package": "car", "threshold": 0.5, "fps": 5}'
wait_for "$END_S" "stream s3 to end" streams_done s3
wait_for 10 "the redis spool" some_spooled 127.0.0.1:$REDIS_PORT
ids "$WORK/events.jsonl" file > "$WORK/ids.before"
kill -KILL "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null || true; SERVE_PID=
start_serve   # no CONFIG: the state names it
expect 200 GET /v1/apps
body_check '[a["name"] for a in j["apps"]] == ["car3"]'
expect 200 GET /v1/streams
body_check '[s["name"] for s in j["streams"]] == ["s3"]'
expect 200 GET /v1/stats
body_check 'j["budget"] == 150'
start_redis
wait_for "$END_S" "the restarted stream to end" streams_done s3
wait_for 30 "the spools to drain" nothing_spooled
redis_ids > "$WORK/ids.redis"
[ -z "$(comm -23 "$WORK/ids.before" "$WORK/ids.redis")" ] || fail "events spooled before kill -9 missing in redis"
wait_for 10 "the subscriber to get every event" mqtt_has_file_ids
check_same_ids

step "4. bad requests"
expect_error 400 "not valid JSON" POST /v1/streams --data-binary '{"name": "x", "url":'
expect_error 400 "not valid JSON" POST /v1/streams --data-binary '{"name": "x", "url": "a"} trailing'
expect_error 400 'body: unknown key "colour"' POST /v1/streams --data-binary '{"name": "x", "url": "a", "colour": 1}'
expect_error 400 '"url"' POST /v1/streams --data-binary '{"name": "x"}'
expect_error 400 "body.name" POST /v1/streams --data-binary '{"name": "a/b", "url": "'"$VIDEO_CAR"'"}'
expect_error 400 "body.name" POST /v1/streams --data-binary '{"name": "..", "url": "'"$VIDEO_CAR"'"}'
expect_error 409 "exists" POST /v1/streams --data-binary '{"name": "s3", "url": "'"$VIDEO_CAR"'"}'
expect_error 404 "no stream named 'nope'" POST /v1/apps --data-binary '{"name": "a", "stream": "nope", "package": "car", "threshold": 0.5, "fps": 5}'
expect_error 400 "body.threshold" POST /v1/apps --data-binary '{"name": "a", "stream": "s3", "package": "car", "threshold": 2}'
expect_error 400 "nonexistent.mpk" POST /v1/apps --data-binary '{"name": "a", "stream": "s3", "package": "/nonexistent.mpk", "threshold": 0.5}'
expect_error 409 "exists" POST /v1/apps --data-binary '{"name": "car3", "stream": "s3", "package": "car", "threshold": 0.5, "fps": 5}'
expect_error 400 "body.budget" PUT /v1/budget --data-binary '{"budget": -1}'
expect_error 400 'body: unknown key "budjet" (did you mean "budget"?)' PUT /v1/budget --data-binary '{"budjet": 5}'
expect_error 400 "no '/' or '..'" DELETE /v1/apps/..
expect_error 400 "no '/' or '..'" DELETE /v1/streams/a/b
expect_error 400 "no '/' or '..'" PUT /v1/packages/..%2Fescape --data-binary "@$WORK/car.mpk"
[ ! -e "$WORK/state/escape.mpk" ] || fail "a package escaped the packages folder"
expect_error 404 "no stream" DELETE /v1/streams/nope
expect_error 404 "no such resource" GET /v1/nothing
expect_error 405 "not allowed" DELETE /v1/budget
head -c $((2 * 1024 * 1024)) /dev/zero | tr '\0' ' ' > "$WORK/huge.json"
expect_error 413 "over the limit" POST /v1/streams --data-binary "@$WORK/huge.json"
head -c $((1536 * 1024)) /dev/zero | tr '\0' ' ' > "$WORK/big.json"   # no Content-Length: found while reading
expect_error 413 "over the limit" POST /v1/streams -H "Transfer-Encoding: chunked" --data-binary "@$WORK/big.json"
CODE=$(curl -sS -o "$WORK/body" -w '%{http_code}' "$BASE/v1/apps")
[ "$CODE" = 401 ] || fail "no token -> $CODE"
CODE=$(curl -sS -o "$WORK/body" -w '%{http_code}' -H "Authorization: Bearer wrong$TOKEN" "$BASE/v1/apps")
[ "$CODE" = 403 ] || fail "wrong token -> $CODE"
CODE=$(curl -sS -o "$WORK/body" -w '%{http_code}' "$BASE/metrics")
[ "$CODE" = 401 ] || fail "/metrics without a token -> $CODE"
expect 200 GET /v1/apps
body_check '[a["name"] for a in j["apps"]] == ["car3"]'
kill -0 "$SERVE_PID" || fail "serve died"

step "5. SIGTERM with an event open"
json_post 201 /v1/streams '{"name": "s4", "url": "'"$VIDEO_PERSON"'", "fps": '"$((SFPS < 20 ? SFPS : 20))"'}'
json_post 201 /v1/apps '{"name": "person4", "stream": "s4", "package": "'"$WORK/person.mpk"'", "threshold": 0.5, "fps": 5}'
# the first person is in frames 61-200: stop inside it
app_past() { # APP FRAME: the app has sampled a frame past FRAME
    api GET /v1/stats
    "$PY" -c 'import json,sys; j=json.load(open(sys.argv[1])); s=[x for x in j["streams"] if x["name"]=="s4"][0]; sys.exit(0 if s["last_frame"] > int(sys.argv[2]) else 1)' "$WORK/body" "$2"
}
wait_for 60 "s4 to reach frame 120" app_past person4 120
expect 200 GET /v1/apps
CLOSED=$("$PY" -c 'import json,sys; print([a for a in json.load(open(sys.argv[1]))["apps"] if a["name"] == "person4"][0]["events"])' "$WORK/body")
kill -TERM "$SERVE_PID"
for _ in $(seq $((150 * SLOW))); do kill -0 "$SERVE_PID" 2>/dev/null || break; sleep 0.2; done
kill -0 "$SERVE_PID" 2>/dev/null && fail "serve did not stop on SIGTERM"
rc=0; wait "$SERVE_PID" || rc=$?; SERVE_PID=
[ $rc -eq 0 ] || fail "serve exited $rc on SIGTERM"
# one more than had closed before the stop: the event open at SIGTERM, closed and written
[ "$(count_app person4)" = $((CLOSED + 1)) ] || fail "the open event was not closed and written at SIGTERM ($CLOSED closed before, $(count_app person4) written)"
wait_for 10 "the subscriber to get every event" mqtt_has_file_ids
check_same_ids
grep -q "runtime error\|AddressSanitizer\|LeakSanitizer" "$WORK"/serve*.log && fail "sanitizer reports in the serve log"
echo "ok: $(wc -l < "$WORK/ids.file") events, the same ids in the file, MQTT and Redis"
