#!/usr/bin/env bash
# Fuzzes one parser (or all) with libFuzzer for SECONDS each and prints the executions.
#   scripts/fuzz.sh TARGET SECONDS      TARGET: tflite mpackage deployment scenario profile labels onnx npy, or all
# Builds build-fuzz/ with clang (-fsanitize=fuzzer,address,undefined; $FUZZ_BUILD to
# change), makes each target's seed corpus at fuzz time from the shared data
# ($MAINSTREAM_DATA, default ../shared/data), the examples and seed makers
# (fuzz/seed_tflite: small synthetic TFLite models; nothing is committed),
# and keeps what the fuzzer finds in build-fuzz/corpus/TARGET. A crash, leak or hang
# fails the run and leaves the input in build-fuzz/artifacts/. Adding a parser's target
# (the .npy reader, the ONNX importer): fuzz/fuzz_NAME.c, and its seeds in seed() below.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 2 ] || { echo "usage: scripts/fuzz.sh TARGET|all SECONDS" >&2; exit 2; }
target=$1
seconds=$2
build=${FUZZ_BUILD:-build-fuzz}
data=${MAINSTREAM_DATA:-../shared/data}
all=(tflite mpackage deployment scenario profile labels onnx npy)

command -v clang >/dev/null || { echo "fuzz: clang is not installed (scripts/setup.sh installs it)" >&2; exit 1; }
if [ "$target" = all ]; then targets=("${all[@]}"); else targets=("$target"); fi
[ -f "fuzz/fuzz_${targets[0]}.c" ] || [ "$target" = all ] || { echo "fuzz: no target '$target' (fuzz/fuzz_$target.c)" >&2; exit 2; }

CC=clang cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMS_FUZZ=ON -DMS_TESTS=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" --target "${targets[@]/#/fuzz_}" seed_mpackage seed_tflite >/dev/null

# seed TARGET DIR: the target's starting inputs.
seed() {
    local t=$1 dir=$2 m=$data/models
    case $t in
    tflite) # 2 to 4 KB each, written here (fuzz/seed_tflite.c): the shared models
        # (0.5 to 1 MB) held the fuzzer to ~220 executions a second; TFLITE_SEED_MODELS=1
        # adds the smaller shared models too
        "$build/fuzz/seed_tflite" "$dir" >/dev/null
        if [ "${TFLITE_SEED_MODELS:-0}" = 1 ]; then
            for f in mobilenet_v1_0.25_128_quant.tflite vww_96_float.tflite mobilenet_v1_1.0_224_quant_head_layers.tflite; do
                [ -f "$m/$f" ] && cp "$m/$f" "$dir/"
            done
        fi ;;
    mpackage)
        [ -f "$m/mobilenet_v1_0.25_128_quant.tflite" ] &&
            "$build/fuzz/seed_mpackage" "$m/mobilenet_v1_0.25_128_quant.tflite" "$dir/seed.mpkg" ;;
    deployment)
        cp examples/default/deployment.json "$dir/default.json"
        cat >"$dir/full.json" <<'J'
{"format_version": 1, "model": ["m/a.tflite", "/b.tflite"], "backend": "ref", "precision": "int8", "threads": 2,
 "batch": 4, "budget": 12.5, "profile": "p.json", "policy": "greedy", "objective": "min-f1", "resize": "crop",
 "streams": [{"name": "cam", "url": "v.mp4", "fps": 10, "retries": 3, "retry_s": 0.5},
             {"name": "door", "url": "rtsp://127.0.0.1:8554/d"}],
 "apps": [{"name": "a", "stream": "cam", "package": "a.mpkg", "threshold": 0.5, "x_vote": 2, "chokepoint": 3,
           "fps": 2, "event_length_ms": 500, "event_frequency": 0.2, "correlation": 0.3}]}
J
        ;;
    scenario)
        cp examples/scenario.json "$dir/example.json" ;;
    profile)
        cat >"$dir/profile.json" <<'J'
{"format_version": 1, "backend": "cpu", "precision": "fp32", "batch": 1, "threads": 1,
 "model_fingerprint": "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", "network_ms": 1.5,
 "segments": [{"from": 0, "to": 1, "ms": 0.5}, {"from": 1, "to": 2, "ms": 0.25}, {"from": 2, "to": 3, "ms": 0.75}]}
J
        ;;
    labels)
        for f in "$data"/videos/*.labels.csv; do [ -f "$f" ] && head -n 60 "$f" >"$dir/$(basename "$f")"; done
        [ -f "$data/imagenet-sample/labels.csv" ] && head -n 40 "$data/imagenet-sample/labels.csv" >"$dir/classes.csv"
        ;;
    onnx) # ONNX's own node tests (Debian's libonnx-testdata): small models and their tensors
        local n=0 d
        for d in /usr/share/libonnx-testdata/data/node/test_{conv_with_strides_padding,relu,add_bcast,gemm_default_single_elem_vector_bias,maxpool_2d_pads,softmax_axis_1,transpose_default,concat_2d_axis_0,reshape_reduced_dims,batchnorm_example}; do
            [ -f "$d/model.onnx" ] || continue
            n=$((n + 1))
            cp "$d/model.onnx" "$dir/model$n.onnx"
            [ -f "$d/test_data_set_0/input_0.pb" ] && cp "$d/test_data_set_0/input_0.pb" "$dir/input$n.pb"
        done ;;
    npy) # float32 arrays of a few shapes, written by numpy where it is installed
        /usr/bin/python3 - "$dir" <<'P' 2>/dev/null || true
import sys, numpy as np
d = sys.argv[1]
np.save(d + "/a.npy", np.arange(24, dtype=np.float32).reshape(2, 3, 4))
np.save(d + "/b.npy", np.zeros((1, 224, 224, 3), dtype=np.float32)[:, :8, :8, :])
np.save(d + "/c.npy", np.ones((5,), dtype=np.float32))
np.save(d + "/f.npy", np.asfortranarray(np.ones((3, 2), dtype=np.float32)))
P
        ;;
    esac
    [ -n "$(ls -A "$dir")" ] || printf 'x' >"$dir/empty" # no data: start from one byte
}

status=0
for t in "${targets[@]}"; do
    corpus=$build/corpus/$t
    mkdir -p "$corpus" "$build/artifacts"
    seed "$t" "$corpus"
    log=$build/fuzz-$t.log
    set +e
    "$build/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
        -artifact_prefix="$build/artifacts/$t-" "$corpus" >"$log" 2>&1
    rc=$?
    set -e
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    if [ $rc -ne 0 ]; then
        echo "fuzz $t: FAILED after ${execs:-?} executions (see $log and $build/artifacts/):" >&2
        grep -E "ERROR|SUMMARY|Test unit written" "$log" | head -n 5 >&2
        status=1
    else
        echo "fuzz $t: ${execs:-?} executions in ${seconds} s, corpus $(ls "$corpus" | wc -l) inputs"
    fi
done
exit $status
