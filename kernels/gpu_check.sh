#!/usr/bin/env bash
# gpu_check.sh - the prepared device check of issue 14: one script, one
# `run` call of the device tool on a lent H200, bounded well inside its
# 10-minute limit (/work/.library/device/README.md).
#
#   kernels/gpu_check.sh --prepare   here (no GPU needed): builds gpu_diff and
#                                    gpu_bench with nvcc for sm_90 into the
#                                    bundle .gpucheck/ (git-ignored through
#                                    .git/info/exclude), with the shared
#                                    libraries the device image may lack and
#                                    a 24 MiB slice of the GPT-2 weights (the
#                                    58 MB file does not fit the 64 MiB that
#                                    travels); then runs --dry-run
#   kernels/gpu_check.sh --dry-run   here: every step of the device run
#                                    against the bundle (the GPU parts SKIP),
#                                    the GPU steps again on the CPU fake of
#                                    CUDA (gpu_diff_fake, gpu_bench_fake:
#                                    kernels/fake_cuda.h), bundle, library
#                                    and size checks; prints the device call
#   kernels/gpu_check.sh             on the device: the run itself
#
# The device call (from the repository root; .gpucheck travels by carry):
#   run(command="bash kernels/gpu_check.sh", carry=[".gpucheck"], timeout_s=580)
#
# Steps, most valuable first, each under `timeout`, all under one budget
# (GPU_CHECK_BUDGET seconds, default 540): environment; gpu_diff (cpu, CPU
# model and GPU: host, pinned host, device mode, corruptions, threads, on
# the edge file, --max files, the GPT-2 slice and tests/golden/max.df11;
# ANS_IL payloads of every lane count, intact and damaged, against the
# reference decoder, host and device mode); gpu_bench default and --max
# (d2d kernel GB/s, h2h vs pinned copies, CPU); the ANS_IL kernels' d2d
# GB/s on 1 MiB chunks of GPT-2 weights (gpu_diff --ans-il-bench);
# compute-sanitizer memcheck, racecheck, initcheck, synccheck over gpu_diff
# --gpu-only without the GPT-2 slice (the sanitizers slow kernels 10-100x).
# Results: $OUT/summary.txt (also the last lines printed), env.txt,
# gpu_diff.log, bench.log, sanitizer.log, build.log when it built there.
# GPU_CHECK_BUILD=1 builds on the device too (make -j16, sm_90) and uses
# that build when it succeeds; the bundle is the fallback.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
BUNDLE=$ROOT/.gpucheck
MODEL=/work/shared/models/gpt2-small-partial.bf16.safetensors
SM90='-gencode arch=compute_90,code=sm_90'
mode=run
case "${1:-}" in
--prepare) mode=prepare ;;
--dry-run) mode=dry ;;
"") ;;
*) echo "usage: $0 [--prepare|--dry-run]" >&2; exit 2 ;;
esac

prepare() {
    echo "== building gpu_diff and gpu_bench for sm_90 into $BUNDLE"
    grep -qx '/.gpucheck/' .git/info/exclude 2>/dev/null || echo '/.gpucheck/' >>.git/info/exclude
    # RUNPATH $ORIGIN/../../lib: the bundle's binaries find the carried
    # libraries, and nothing else on the device (compute-sanitizer) does.
    # gpu_diff_fake and gpu_bench_fake (the CPU fake of CUDA) are for the
    # dry run only; they stay out of the bundle.
    make -j2 BUILD=build-gpucheck CUDA_ARCHS="$SM90" CFLAGS='-Wl,-rpath,\$$ORIGIN/../../lib' \
        build-gpucheck/tests/gpu_diff build-gpucheck/bench/gpu_bench \
        build-gpucheck/tests/gpu_diff_fake build-gpucheck/bench/gpu_bench_fake >/tmp/gpu_check_build.log 2>&1 ||
        { tail -20 /tmp/gpu_check_build.log; echo "build failed"; return 1; }
    rm -rf "$BUNDLE"
    mkdir -p "$BUNDLE/build/tests" "$BUNDLE/build/bench" "$BUNDLE/lib"
    cp build-gpucheck/tests/gpu_diff "$BUNDLE/build/tests/"
    cp build-gpucheck/bench/gpu_bench "$BUNDLE/build/bench/"
    # The codec's own dependencies; libc, libm, libstdc++ and libgcc_s are
    # the device image's (it is newer: glibc 2.39 against our 2.34 symbols).
    for lib in libcjson.so.1 libzstd.so.1 libxxhash.so.0 libcrypto.so.3; do
        p=$(ldd "$BUNDLE/build/tests/gpu_diff" | awk -v l="$lib" '$1 == l { print $3 }')
        [ -n "$p" ] && cp -L "$p" "$BUNDLE/lib/"
    done
    if [ -r "$MODEL" ]; then
        python3 - "$MODEL" "$BUNDLE/model.safetensors" <<'EOF'
import json, struct, sys
src, dst = sys.argv[1], sys.argv[2]
with open(src, "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    head = json.loads(f.read(n))
    base = 8 + n
    keep, out, off = [], {}, 0
    for k, v in sorted(((k, v) for k, v in head.items() if k != "__metadata__"),
                       key=lambda kv: kv[1]["data_offsets"][0]):
        if off >= 24 << 20:
            break
        a, b = v["data_offsets"]
        out[k] = dict(v, data_offsets=[off, off + b - a])
        keep.append((a, b))
        off += b - a
    h = json.dumps(out, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(dst, "wb") as g:
        g.write(struct.pack("<Q", len(h)) + h)
        for a, b in keep:
            f.seek(base + a)
            g.write(f.read(b - a))
EOF
    else
        echo "no $MODEL: the device run uses the generated edge file and the golden only"
    fi
    {
        echo "built $(date -u +%FT%TZ) from $(git describe --always --dirty) with $(nvcc --version 2>/dev/null | tail -1)"
        echo "archs: $SM90"
    } >"$BUNDLE/BUILD_INFO"
    du -sh "$BUNDLE"
}

if [ "$mode" = prepare ]; then
    prepare || exit 1
    mode=dry
fi

OUT=${OUT:-/tmp/gpu_check.out}
mkdir -p "$OUT"
rm -f "$OUT"/*.log "$OUT"/*.txt
budget=${GPU_CHECK_BUDGET:-540}
start=$SECONDS
BUILD_DIR=$BUNDLE/build
summary=$OUT/summary.txt
: >"$summary"
say() { echo "$*" | tee -a "$summary"; }

# Seconds a step may take: its own cap, never past the budget.
cap() {
    local left=$((budget - (SECONDS - start) - 10))
    [ "$1" -lt "$left" ] && echo "$1" || echo "$left"
}

# One step: name, cap in seconds, log file, command...
step() {
    local name=$1 t log=$OUT/$3 logname=$3
    t=$(cap "$2")
    shift 3
    if [ "$t" -lt 15 ]; then
        say "SKIP $name: budget spent"
        return
    fi
    local t0=$SECONDS
    { echo "### $name: $*"; timeout -k 5 "$t" "$@"; echo "### exit $?"; } >>"$log" 2>&1
    local rc
    rc=$(tail -1 "$log" | awk '{print $3}')
    local p f s
    p=$(grep -c '^PASS ' "$log"); f=$(grep -c '^FAIL ' "$log"); s=$(grep -c '^SKIP ' "$log")
    say "$(printf '%-28s exit %-3s %4ds  (log %s: %d PASS %d FAIL %d SKIP so far)' "$name" "$rc" $((SECONDS - t0)) "$logname" "$p" "$f" "$s")"
    [ "$rc" = 124 ] && say "  TIMEOUT after ${t}s"
}

if [ "$mode" = dry ]; then
    say "== dry run (no device calls): $(cat "$BUNDLE/BUILD_INFO" 2>/dev/null | head -1)"
    ok=1
    for b in "$BUILD_DIR/tests/gpu_diff" "$BUILD_DIR/bench/gpu_bench"; do
        [ -x "$b" ] || { say "FAIL bundle: $b missing (run --prepare)"; ok=0; continue; }
        if ldd "$b" | grep -q 'not found'; then say "FAIL bundle: $b has unresolved libraries"; ok=0; fi
        ldd "$b" | grep -q '\.gpucheck/.*lib/' || { say "FAIL bundle: $b does not load the bundle's libraries"; ok=0; }
        cuob=$(command -v cuobjdump || echo /usr/local/cuda/bin/cuobjdump)
        if [ -x "$cuob" ]; then
            "$cuob" --list-elf "$b" 2>/dev/null | grep -q sm_90 || { say "FAIL bundle: $b has no sm_90 code"; ok=0; }
        else
            say "note: no cuobjdump here to list $b's GPU code"
        fi
    done
    tree_kb=$(git ls-files -z --cached --others --exclude-standard | xargs -0 du -ck 2>/dev/null | tail -1 | cut -f1)
    bundle_kb=$(du -sk "$BUNDLE" | cut -f1)
    say "travels: working tree ${tree_kb} KiB + bundle ${bundle_kb} KiB (limit 65536 KiB)"
    [ $((tree_kb + bundle_kb)) -lt 62000 ] || { say "FAIL: too large to travel"; ok=0; }
    [ $ok = 1 ] || exit 1
fi

# --- environment ---
{
    date -u
    uname -a
    command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem --format=csv
    command -v nvcc >/dev/null && nvcc --version | tail -2
    command -v compute-sanitizer >/dev/null || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null
    cat "$BUNDLE/BUILD_INFO" 2>/dev/null
    ls -la "$BUNDLE" "$BUNDLE/lib" 2>/dev/null
} >"$OUT/env.txt" 2>&1
say "== $(grep -m1 -i 'h200\|h100\|nvidia' "$OUT/env.txt" || echo 'no nvidia-smi: no GPU here')"

# --- optional build on the device ---
if [ "$mode" = run ] && { [ "${GPU_CHECK_BUILD:-0}" = 1 ] || [ ! -x "$BUILD_DIR/tests/gpu_diff" ]; }; then
    step build 240 build.log make -j16 BUILD=build-gpucheck CUDA_ARCHS="$SM90" \
        build-gpucheck/tests/gpu_diff build-gpucheck/bench/gpu_bench
    if [ -x build-gpucheck/tests/gpu_diff ] && [ -x build-gpucheck/bench/gpu_bench ]; then
        BUILD_DIR=$ROOT/build-gpucheck
        say "using the build made on the device"
    fi
fi
[ -x "$BUILD_DIR/tests/gpu_diff" ] || { say "FAIL no gpu_diff to run (run --prepare here first)"; exit 1; }

export DF11_ROOT=$ROOT
test_model=$BUNDLE/model.safetensors
[ -r "$test_model" ] || test_model=/nonexistent

# --- correctness on the GPU ---
step gpu_diff 150 gpu_diff.log env DF11_TEST_MODEL="$test_model" "$BUILD_DIR/tests/gpu_diff"
if [ "$mode" = dry ]; then
    # What the device run's GPU checks do, on the CPU fake of CUDA.
    step gpu_diff_fake 150 gpu_diff_fake.log env DF11_TEST_MODEL="$test_model" build-gpucheck/tests/gpu_diff_fake
fi

# --- throughput ---
bench_in=$test_model
[ -r "$bench_in" ] || bench_in=$MODEL
bench=$BUILD_DIR/bench/gpu_bench mib=256
# On the fake: the same flow, CPU timings (meaningless), little data.
[ "$mode" = dry ] && bench=build-gpucheck/bench/gpu_bench_fake mib=8
step gpu_bench 60 bench.log "$bench" "$bench_in" $mib
step gpu_bench_max 90 bench.log "$bench" --max "$bench_in" $mib
# ANS_IL (FORMAT.md 10) whatever --max writes: its kernels timed on payloads
# of the GPT-2 slice from gpu_diff's own encoder, checked before timing.
ilb=$BUILD_DIR/tests/gpu_diff
[ "$mode" = dry ] && ilb=build-gpucheck/tests/gpu_diff_fake
step gpu_bench_ans_il 60 bench.log env DF11_TEST_MODEL="$test_model" "$ilb" --ans-il-bench $mib

# --- compute-sanitizer (small inputs: no GPT-2 slice) ---
step gpu_sanitizer 300 sanitizer.log env DF11_TEST_MODEL=/nonexistent GPU_SANITIZER_TIMEOUT=70 \
    BUILD="$BUILD_DIR" DF11_ROOT="$ROOT" tests/cases/gpu_sanitizer.sh

# --- summary ---
say "== results ($((SECONDS - start)) s)"
grep -h '^FAIL ' "$OUT"/gpu_diff*.log "$OUT"/sanitizer.log "$OUT"/bench.log 2>/dev/null | head -20 | tee -a "$summary"
grep -h '^PASS gpu_sanitizer\|^SKIP gpu_sanitizer\|^FAIL gpu_sanitizer' "$OUT/sanitizer.log" 2>/dev/null | tee -a "$summary"
grep -h '^# \|^d2d\|^h2h\|^cpu\|^SKIP gpu_bench' "$OUT/bench.log" 2>/dev/null | tee -a "$summary"
nf=$(cat "$OUT"/gpu_diff*.log "$OUT"/sanitizer.log "$OUT"/bench.log 2>/dev/null | grep -c '^FAIL ')
say "gpu_diff: $(grep -c '^PASS ' "$OUT/gpu_diff.log") PASS, $(grep -c '^FAIL ' "$OUT/gpu_diff.log") FAIL, $(grep -c '^SKIP ' "$OUT/gpu_diff.log") SKIP"
if [ "$mode" = dry ]; then
    say "dry run done; on a lent GPU: run(command=\"bash kernels/gpu_check.sh\", carry=[\".gpucheck\"], timeout_s=580)"
fi
[ "$nf" -eq 0 ]
