# Helpers shared by the `mainstream serve` end-to-end scripts (sourced, not run): bounded
# waits, stopping processes by pid, starting serve, and curl requests with checks on the
# status and the JSON reply. Needs MS, WORK, PY and TOKEN set by the caller; every wait
# is bounded (times SLOW, larger under valgrind).

WRAP=${MS_SERVE_WRAP:-}
SLOW=1
[ -n "$WRAP" ] && SLOW=6
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

skip() { echo "skipped: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "== $*"; }

stop_pid() { # PID: TERM, wait a bounded time, then KILL
    local p=$1
    [ -n "$p" ] && kill -0 "$p" 2>/dev/null || return 0
    kill -TERM "$p" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
}
free_port() {
    "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_for() { # SECONDS WHAT CMD...: runs CMD until it succeeds
    local limit=$(( $1 * SLOW )) what=$2; shift 2
    for _ in $(seq $(( limit * 5 ))); do "$@" && return 0; sleep 0.2; done
    fail "timed out after ${limit}s waiting for $what"
}

N_SERVE=0
start_serve() { # [CONFIG]: sets SERVE_PID, PORT, BASE; the log is $WORK/serveN.log
    N_SERVE=$((N_SERVE + 1))
    local log=$WORK/serve$N_SERVE.log
    # shellcheck disable=SC2086
    $WRAP "$MS" serve "$@" --listen 127.0.0.1:0 --token-file "$WORK/token" --state "$WORK/state" > "$log" 2>&1 &
    SERVE_PID=$!
    wait_for 60 "serve to listen" grep -q "listening on" "$log"
    PORT=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\).*|\1|p' "$log" | head -1)
    BASE=http://127.0.0.1:$PORT
}

api() { # METHOD PATH [curl args]: sets CODE, the body in $WORK/body
    local m=$1 p=$2; shift 2
    CODE=$(curl -sS --path-as-is -o "$WORK/body" -w '%{http_code}' -X "$m" \
        -H "Authorization: Bearer $TOKEN" "$@" "$BASE$p" 2>/dev/null || true)
    [ -n "$CODE" ] || CODE=000
}
expect() { # STATUS METHOD PATH [curl args]
    local want=$1; shift
    api "$@"
    [ "$CODE" = "$want" ] || fail "$1 $2 -> $CODE (want $want): $(cat "$WORK/body")"
}
expect_error() { # STATUS TEXT METHOD PATH [curl args]: a 4xx whose {"error"} names TEXT
    local want=$1 text=$2; shift 2
    expect "$want" "$@"
    "$PY" - "$WORK/body" "$text" <<'EOF' || fail "$1 $2: error body lacks '$text': $(cat "$WORK/body")"
import json, sys
e = json.load(open(sys.argv[1]))["error"]
sys.exit(0 if sys.argv[2] in e else 1)
EOF
}
body_check() { # PYTHON-EXPR over `j` (the JSON body); fails when false
    "$PY" - "$WORK/body" "$1" <<'EOF' || fail "check '$1' failed on: $(head -c 2000 "$WORK/body")"
import json, sys
j = json.load(open(sys.argv[1]))
sys.exit(0 if eval(sys.argv[2]) else 1)
EOF
}
body_true() { # PYTHON-EXPR: like body_check, but only says (for wait_for)
    "$PY" - "$WORK/body" "$1" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
sys.exit(0 if eval(sys.argv[2]) else 1)
EOF
}
json_post() { expect "$1" POST "$2" -H 'Content-Type: application/json' --data-binary "$3"; }

metrics() { # fetches /metrics and checks it strictly; samples in $WORK/metrics.txt
    api GET /metrics
    [ "$CODE" = 200 ] || return 1
    "$PY" "$HERE/prom_check.py" "$WORK/body" "$@" > "$WORK/metrics.txt"
}
metric() { # SERIES-PREFIX: prints the sum of the matching samples
    "$PY" - "$WORK/metrics.txt" "$1" <<'EOF'
import sys
t = sum(float(l.rsplit(" ", 1)[1]) for l in open(sys.argv[1]) if l.startswith(sys.argv[2]))
print(f"{t:g}")
EOF
}
