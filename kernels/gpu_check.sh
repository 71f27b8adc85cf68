#!/usr/bin/env bash
# gpu_check.sh - the prepared device check of issue 14: one script, one
# `run` call of the device tool on a lent H200, bounded well inside its
# 10-minute limit (/work/.library/device/README.md).
#
#   kernels/gpu_check.sh --prepare   here (no GPU needed): builds df11, df11fs,
#                                    fsx, gpu_diff and gpu_bench with nvcc for
#                                    sm_90 into the bundle .gpucheck/ (ignored
#                                    through .git/info/exclude) with every
#                                    shared library they need but glibc's and
#                                    the C++ runtime (the device image has
#                                    none of our Debian packages), fusermount3,
#                                    and the test data as .df11 files (a 24 MiB
#                                    slice of GPT-2 and the BF16 MiniLM: the
#                                    originals do not fit the 64 MiB that
#                                    travels); then runs --dry-run
#   kernels/gpu_check.sh --dry-run   here: every step against the bundle (the
#                                    GPU parts SKIP), gpu_diff_fake and
#                                    gpu_bench_fake (kernels/fake_cuda.h) in
#                                    place of the GPU, size checks
#   kernels/gpu_check.sh [STEP...]   on the device: the run itself, or only
#                                    the named steps (a rerun after a fix)
#
# The device call (from the repository root; the bundle and the wheels of
# the DFloat11 comparison travel by carry):
#   run(command="bash kernels/gpu_check.sh", carry=[".gpucheck", ".whl"], timeout_s=540)
#
# Steps, in the order of issue 14, each under `timeout` and all under one
# budget (GPU_CHECK_BUDGET seconds, default 450); nothing stops the run:
#   env        nvidia-smi, tools, /dev/fuse, python packages
#   data       the carried .df11 files restored with the bundle's df11
#              (SHA-256 checked), and the slice tiled to 1100 MiB
#   gpu_diff   CPU decoder, CPU model and GPU, host, pinned, device and
#              misaligned device mode, corruptions, threads, mixed batches,
#              on the edge file, the GPT-2 slice and MiniLM (default and
#              --max), the golden files, the ANS_IL seam payloads
#   gpu_big    gpu_diff --gpu-only on the tiled 1100 MiB file
#   sanitizer  compute-sanitizer memcheck, racecheck, synccheck, initcheck
#              over gpu_diff --gpu-only on the small inputs
#   python     the Python package's GPU cases (df11.torch into cuda:0)
#   fs         the fs suite (tests/run fs_) with -o gpu=on, if /dev/fuse works
#   bench      gpu_bench default (also built with the lane reader 4 words
#              ahead, d2d only) and --max on >= 1 GiB of output (d2d against
#              a cudaMemcpy d2d of as many bytes, h2h against pinned copies,
#              the CPU path), the ANS_IL kernels alone, DFloat11's own kernel
#              on the same tensors (kernels/dfloat11_ref.py), and df11fs
#              gpu=on against gpu=off on a cold read of the tiled file
#   ncu        Nsight Compute on one launch of the EXP16 and ANS_IL kernels:
#              what limits them (throughput, occupancy, stalls)
# Results: $OUT/summary.txt (also the last lines printed) and one log per
# step. GPU_CHECK_BUILD=1 also builds on the device (needs the codec's -dev
# packages, which that image lacks); the bundle is the fallback.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
BUNDLE=$ROOT/.gpucheck
MODEL=/work/shared/models/gpt2-small-partial.bf16.safetensors
MINILM=$ROOT/.data/peers/minilm/model.safetensors
SM90='-gencode arch=compute_90,code=sm_90'
GB=build-gpucheck
# RPATH, not RUNPATH (--disable-new-dtags): the carried libraries find
# each other too (libcurl's own dependencies), and nothing else on the
# device (compute-sanitizer, python) sees them.
RPATH_CFLAGS='-Wl,--disable-new-dtags,-rpath,\$$ORIGIN/../lib:\$$ORIGIN/../../lib'
# The libraries the device's own are used for (glibc's and the C++
# runtime's, newer there: glibc 2.39 against our 2.36 symbols).
SYSTEM_LIBS='/(libc|libm|libpthread|libdl|librt|libresolv|libstdc\+\+|libgcc_s)\.so'
mode=run
case "${1:-}" in
--prepare) mode=prepare; shift ;;
--dry-run) mode=dry; shift ;;
-*) echo "usage: $0 [--prepare|--dry-run] [STEP...]" >&2; exit 2 ;;
esac
only=" $* "
# want STEP [GROUP]: run STEP when no steps were named, or it or its group was.
want() { [ "$only" = "  " ] || [[ "$only" == *" $1 "* ]] || { [ -n "${2:-}" ] && [[ "$only" == *" $2 "* ]]; }; }

# A safetensors file of the tensors of $1 up to $3 bytes of data, in data order.
slice() {
    python3 - "$1" "$2" "$3" <<'EOF'
import json, struct, sys
src, dst, cap = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(src, "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    head = json.loads(f.read(n))
    base = 8 + n
    keep, out, off = [], {}, 0
    for k, v in sorted(((k, v) for k, v in head.items() if k != "__metadata__"),
                       key=lambda kv: kv[1]["data_offsets"][0]):
        if off >= cap:
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
}

prepare() {
    echo "== building for sm_90 into $GB, bundling into $BUNDLE"
    grep -qx '/.gpucheck/' .git/info/exclude 2>/dev/null || echo '/.gpucheck/' >>.git/info/exclude
    rm -f $GB/df11 $GB/df11fs $GB/testtools/fsx $GB/tests/gpu_diff $GB/bench/gpu_bench $GB/libdf11.so.1 # relink: flags
    make -j2 BUILD=$GB CUDA_ARCHS="$SM90" \
        CFLAGS="$RPATH_CFLAGS" \
        $GB/df11 $GB/df11fs $GB/testtools/fsx $GB/tests/gpu_diff $GB/bench/gpu_bench $GB/libdf11.so.1 \
        $GB/tests/gpu_diff_fake $GB/bench/gpu_bench_fake >/tmp/gpu_check_build.log 2>&1 ||
        { tail -20 /tmp/gpu_check_build.log; echo "build failed"; return 1; }
    # Programs, libraries and fusermount3 travel as one xz archive (21 MB
    # become about 8), unpacked on the device into $W/bundle.
    local stage
    stage=$(mktemp -d)
    # gpu_bench once more with the lane reader loading 4 words ahead
    # (kernels/lane_decode.h), so one run times both readers.
    rm -f $GB-a4/bench/gpu_bench
    make -j2 BUILD=$GB-a4 CUDA_ARCHS="$SM90" KERNEL_DEFS=-DDF11_LANE_AHEAD=4 \
        CFLAGS="$RPATH_CFLAGS" \
        $GB-a4/bench/gpu_bench $GB-a4/tests/gpu_diff_fake >>/tmp/gpu_check_build.log 2>&1 ||
        { tail -20 /tmp/gpu_check_build.log; echo "build (DF11_LANE_AHEAD=4) failed"; return 1; }
    rm -rf "$BUNDLE"
    mkdir -p "$stage/build/tests" "$stage/build/bench" "$stage/build/testtools" "$stage/lib" "$stage/bin" \
        "$BUNDLE/data"
    local b bins=(df11 df11fs testtools/fsx tests/gpu_diff bench/gpu_bench libdf11.so.1)
    for b in "${bins[@]}"; do
        # Debug sections off (the symbol table stays, for backtraces): size.
        strip --strip-debug -o "$stage/build/$b" "$GB/$b"
    done
    strip --strip-debug -o "$stage/build/bench/gpu_bench_a4" "$GB-a4/bench/gpu_bench"
    # Every library they load but the system's.
    for b in "${bins[@]}"; do ldd "$GB/$b"; done | awk '$3 ~ /^\// { print $3 }' | sort -u |
        grep -vE "$SYSTEM_LIBS" |
        while read -r lib; do cp -L "$lib" "$stage/lib/"; done
    cp /usr/bin/fusermount3 "$stage/bin/"
    tar -C "$stage" -cJf "$BUNDLE/bundle.tar.xz" build lib bin || return 1
    rm -rf "$stage"
    local tmp
    tmp=$(mktemp -d)
    if [ -r "$MODEL" ]; then
        slice "$MODEL" "$tmp/gpt2-slice.safetensors" $((24 << 20))
        "$GB/df11" compress -q -o "$BUNDLE/data/gpt2-slice.df11" "$tmp/gpt2-slice.safetensors" || return 1
    else
        echo "no $MODEL: the device run has the generated edge file and the goldens only"
    fi
    if [ -r "$MINILM" ]; then
        "$GB/df11" compress -q -o "$BUNDLE/data/minilm-bf16.df11" "$MINILM" || return 1
    else
        echo "no $MINILM (bench/peers.sh makes it): the device run has no MiniLM"
    fi
    rm -rf "$tmp"
    {
        echo "built $(date -u +%FT%TZ) from $(git describe --always --dirty) with $(nvcc --version 2>/dev/null | tail -1)"
        echo "archs: $SM90"
    } >"$BUNDLE/BUILD_INFO"
    [ -d .whl ] || echo "note: no .whl/ (dfloat11 and dahuffman wheels): the DFloat11 comparison will SKIP"
    du -sh "$BUNDLE" "$BUNDLE"/* .whl 2>/dev/null
}

if [ "$mode" = prepare ]; then
    prepare || exit 1
    mode=dry
fi

OUT=${OUT:-/tmp/gpu_check.out}
mkdir -p "$OUT"
[ "$only" = "  " ] && rm -f "$OUT"/*.log "$OUT"/*.txt "$OUT"/*.json
budget=${GPU_CHECK_BUDGET:-450}
start=$SECONDS
W=${GPU_CHECK_WORK:-/tmp/gpu_check.work}
mkdir -p "$W"
BUILD_DIR=$W/bundle/build
if [ -s "$BUNDLE/bundle.tar.xz" ] && [ "$BUNDLE/bundle.tar.xz" -nt "$W/bundle" ]; then
    rm -rf "$W/bundle" && mkdir -p "$W/bundle"
    tar -C "$W/bundle" -xJf "$BUNDLE/bundle.tar.xz" 2>/dev/null ||
        python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$BUNDLE/bundle.tar.xz" "$W/bundle"
fi
summary=$OUT/summary.txt
touch "$summary"
say() { echo "$*" | tee -a "$summary"; }
export PATH="$W/bundle/bin:$PATH" DF11_ROOT=$ROOT

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
    say "$(printf '%-16s exit %-3s %4ds  (log %s: %d PASS %d FAIL %d SKIP so far)' "$name" "$rc" $((SECONDS - t0)) "$logname" "$p" "$f" "$s")"
    [ "$rc" = 124 ] && say "  TIMEOUT after ${t}s"
    return 0
}

if [ "$mode" = dry ]; then
    say "== dry run (no device calls): $(head -1 "$BUNDLE/BUILD_INFO" 2>/dev/null)"
    ok=1
    for b in df11 df11fs testtools/fsx tests/gpu_diff bench/gpu_bench libdf11.so.1; do
        b=$BUILD_DIR/$b
        [ -x "$b" ] || { say "FAIL bundle: $b missing (run --prepare)"; ok=0; continue; }
        # Only the bundle's libraries and glibc/C++ runtime ones may load.
        bad=$(ldd "$b" | awk '$3 ~ /^\// { print $3 }' | xargs -r readlink -f | grep -v "^$W/bundle/lib/" |
            grep -vE "$SYSTEM_LIBS")
        [ -z "$bad" ] || { say "FAIL bundle: $b loads $(echo $bad) from outside the bundle"; ok=0; }
        if ldd "$b" | grep -q 'not found'; then say "FAIL bundle: $b has unresolved libraries"; ok=0; fi
    done
    cuob=$(command -v cuobjdump || echo /usr/local/cuda/bin/cuobjdump)
    for b in tests/gpu_diff bench/gpu_bench df11fs; do
        [ -x "$cuob" ] && { "$cuob" --list-elf "$BUILD_DIR/$b" 2>/dev/null | grep -q sm_90 ||
            { say "FAIL bundle: $b has no sm_90 code"; ok=0; }; }
    done
    tree_kb=$(git ls-files -z --cached --others --exclude-standard | xargs -0 du -ck 2>/dev/null | tail -1 | cut -f1)
    bundle_kb=$(du -sk "$BUNDLE" .whl 2>/dev/null | awk '{s += $1} END {print s}')
    say "travels: working tree ${tree_kb} KiB + bundle and wheels ${bundle_kb} KiB (limit 65536 KiB)"
    [ $((tree_kb + bundle_kb)) -lt 63000 ] || { say "FAIL: too large to travel"; ok=0; }
    [ $ok = 1 ] || exit 1
fi

# --- env ---
if want env; then
    {
        date -u
        uname -a
        nproc
        free -g
        command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem --format=csv
        command -v nvcc >/dev/null && nvcc --version | tail -2
        command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer
        ls -la /dev/fuse
        command -v fusermount3
        python3 -c 'import torch, cupy; print("torch", torch.__version__, "cupy", cupy.__version__, torch.cuda.is_available())'
        cat "$BUNDLE/BUILD_INFO"
        ls -la "$BUNDLE" "$BUNDLE/data" "$ROOT/.whl" "$W/bundle/lib"
        ldd "$BUILD_DIR/df11fs"
    } >"$OUT/env.txt" 2>&1
    say "== $(grep -m1 -i 'h200\|h100\|nvidia' "$OUT/env.txt" || echo 'no nvidia-smi: no GPU here')"
fi

# --- optional build on the device ---
if [ "$mode" = run ] && { [ "${GPU_CHECK_BUILD:-0}" = 1 ] || [ ! -x "$BUILD_DIR/tests/gpu_diff" ]; }; then
    step build 240 build.log make -j16 BUILD=$GB CUDA_ARCHS="$SM90" \
        $GB/df11 $GB/df11fs $GB/testtools/fsx $GB/tests/gpu_diff $GB/bench/gpu_bench
    [ -x $GB/tests/gpu_diff ] && [ -x $GB/bench/gpu_bench ] && BUILD_DIR=$ROOT/$GB && say "using the build made on the device"
fi
[ -x "$BUILD_DIR/tests/gpu_diff" ] || { say "FAIL no gpu_diff to run (run --prepare here first)"; exit 1; }

# --- data: restore the carried originals (the CLI checks their SHA-256) ---
slice_st=$W/gpt2-slice.safetensors minilm_st=$W/minilm-bf16.safetensors tiled=$W/tiled-1100.safetensors
restore() {
    local d
    for d in "$BUNDLE"/data/*.df11; do
        [ -e "$d" ] || continue
        "$BUILD_DIR/df11" decompress -f -o "$W/$(basename "$d" .df11).safetensors" "$d" && echo "PASS restore $(basename "$d")" ||
            echo "FAIL restore $d"
    done
    if [ -r "$slice_st" ] && [ ! -s "$tiled" ]; then
        python3 tests/gen/tile_gpt2.py "$slice_st" "$tiled" 1100 && echo "PASS tile $(stat -c %s "$tiled") bytes"
    fi
}
if [ "$mode" = dry ]; then
    slice_st=$W/gpt2-slice.safetensors
    [ -s "$slice_st" ] || slice "$MODEL" "$slice_st" $((24 << 20))
    minilm_st=$MINILM
fi
export BUNDLE BUILD_DIR W slice_st tiled
# (timeout runs programs, not shell functions: the function goes by text.)
want data && [ "$mode" = run ] && step data 60 gpu_diff.log bash -c "$(declare -f restore); restore"
models=$slice_st:$minilm_st
[ -r "$slice_st" ] || models=/nonexistent
# Where the Python and fs tests look for the GPT-2 file: the slice stands in.
mkdir -p "$W/models" && ln -sf "$slice_st" "$W/models/gpt2-small-partial.bf16.safetensors"

# --- correctness on the GPU ---
diff_bin=$BUILD_DIR/tests/gpu_diff
[ "$mode" = dry ] && diff_bin=$GB/tests/gpu_diff_fake # the GPU checks on the CPU fake of CUDA
want gpu_diff && step gpu_diff 150 gpu_diff.log env DF11_TEST_MODEL="$models" "$diff_bin"
# Here only: the CPU model with the lane reader 4 words ahead (gpu_bench_a4's).
[ "$mode" = dry ] && want gpu_diff && step gpu_diff_a4 150 gpu_diff.log env DF11_TEST_MODEL="$models" $GB-a4/tests/gpu_diff_fake
if want gpu_big; then
    if [ "$mode" = run ]; then
        if [ -s "$tiled" ]; then
            step gpu_big 100 gpu_diff.log env DF11_TEST_MODEL="/nonexistent:$tiled" "$diff_bin" --gpu-only
        else
            say "SKIP gpu_big: no tiled file"
        fi
    else
        say "SKIP gpu_big: the 1100 MiB file on the device only"
    fi
fi
want sanitizer && step sanitizer 175 sanitizer.log env DF11_TEST_MODEL=/nonexistent GPU_SANITIZER_TIMEOUT=40 \
    BUILD="$BUILD_DIR" DF11_ROOT="$ROOT" tests/cases/gpu_sanitizer.sh

# --- the Python route into GPU memory (python/tests/test_df11.py's GPU
# cases: df11.torch.load_file and safe_open with device="cuda:0", against
# safetensors reading the original) ---
if want python; then
    py=python3
    [ "$mode" = dry ] && py=$ROOT/.venv/bin/python # here: torch lives in the venv
    step python 90 gpu_diff.log env DF11_LIBRARY="$BUILD_DIR/libdf11.so.1" DF11_MODELS="$W/models" \
        DF11_CLI="$BUILD_DIR/df11" DF11_ROOT="$ROOT" DF11_ONLY=python:gpu PYTHONPATH="$ROOT/python" \
        PYTHONUNBUFFERED=1 "$py" python/tests/test_df11.py "$W/pytest"
fi

# --- throughput ---
if want bench || want gpu_bench || want gpu_bench_a4 || want gpu_bench_max || want gpu_bench_ans_il || want dfloat11 || want fs_gpu_bench; then
    bench=$BUILD_DIR/bench/gpu_bench mib=1024 ilb=$BUILD_DIR/tests/gpu_diff
    # On the fake: the same flow, CPU timings (meaningless), little data.
    [ "$mode" = dry ] && bench=$GB/bench/gpu_bench_fake mib=8 ilb=$GB/tests/gpu_diff_fake
    bench_in=$slice_st
    [ -r "$bench_in" ] || bench_in=$MODEL
    want gpu_bench bench && step gpu_bench 60 bench.log "$bench" "$bench_in" $mib
    # The same with the lane reader 4 words ahead; d2d is what differs.
    [ -x "$bench"_a4 ] && want gpu_bench_a4 bench &&
        step gpu_bench_a4 40 bench.log env GPU_BENCH_D2D_ONLY=1 "$bench"_a4 "$bench_in" $mib
    want gpu_bench_max bench && step gpu_bench_max 75 bench.log "$bench" --max "$bench_in" $mib
    want gpu_bench_ans_il bench && step gpu_bench_ans_il 45 bench.log env DF11_TEST_MODEL="$bench_in" "$ilb" --ans-il-bench $mib
    if ! want dfloat11 bench; then
        :
    elif [ -d .whl ] && [ "$mode" = run ]; then
        rm -rf /tmp/site
        python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl >>"$OUT/bench.log" 2>&1
        # Per tensor (as its decode_hook runs an nn.Linear), and per
        # transformer block (as its compress_model packs a model).
        for g in tensor block; do
            step "dfloat11_$g" 75 bench.log env PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1 python3 kernels/dfloat11_ref.py \
                "$bench_in" --min-mib $mib --group $g
        done
    else
        say "SKIP dfloat11: on the device only (carry .whl)"
    fi
    if ! want fs_gpu_bench bench; then
        :
    elif [ "$mode" = run ] && [ -s "$tiled" ]; then
        step fs_gpu_bench 90 bench.log env BUILD="$BUILD_DIR" RUNS=3 bench/fs_gpu_bench.sh "$tiled"
    else
        step fs_gpu_bench 60 bench.log env BUILD="$BUILD_DIR" RUNS=1 bench/fs_gpu_bench.sh "$slice_st"
    fi
fi

# --- what limits the kernels: ncu's Speed Of Light, occupancy, memory ---
if want ncu && [ "$mode" = run ]; then
    ncu_bin=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu /usr/local/cuda/bin/ncu 2>/dev/null | head -1)
    if [ -n "$ncu_bin" ]; then
        # One launch of each kernel (d2d's checked warm-up, NCU_MIB of
        # output, default 64); the clocks as found.
        for k in ${NCU_KERNELS:-df11_exp16_kernel: df11_ans_il_warp_kernel:--max}; do
            step "ncu_${k%%:*}" 60 ncu.log "$ncu_bin" --clock-control none -k "${k%%:*}" --launch-count 1 \
                --section SpeedOfLight --section Occupancy --section LaunchStats --section MemoryWorkloadAnalysis \
                --section ComputeWorkloadAnalysis --section WarpStateStats \
                env GPU_BENCH_D2D_ONLY=1 $BUILD_DIR/bench/gpu_bench ${k#*:} "$slice_st" "${NCU_MIB:-64}"
        done
    else
        say "SKIP ncu: not found"
    fi
fi

# --- the fs suite on the GPU path ---
if want fs; then
    # One read through -o gpu=on with everything a hang would need to be
    # understood: the daemon's log, its threads' kernel wait channels, the
    # counters; then the same file through gpu=off.
    gpu_read_probe() {
        local d=$W/gprobe pid m rc
        rm -rf "$d" && mkdir -p "$d/store" "$d/mnt"
        "$BUILD_DIR/df11" compress -q -o "$d/store/s.df11" "$slice_st" || { echo "FAIL gpu_probe compress"; return 1; }
        for m in on off; do
            "$BUILD_DIR/df11fs" -f -o gpu=$m,gpu_min_chunks=1 "$d/store" "$d/mnt" >"$d/log-$m" 2>&1 &
            pid=$!
            for _ in $(seq 100); do mountpoint -q "$d/mnt" && break; sleep 0.1; done
            echo "# gpu=$m mounted: $(mountpoint "$d/mnt")"
            local t0=$SECONDS
            timeout 15 cmp "$d/mnt/s.safetensors" "$slice_st"; rc=$?
            echo "# gpu=$m cmp exit $rc after $((SECONDS - t0)) s"
            [ $rc = 0 ] && echo "PASS gpu_probe_read_gpu_$m" || echo "FAIL gpu_probe_read_gpu_$m cmp exit $rc"
            timeout 5 cat "$d/mnt/.df11fs-stats" 2>&1 | grep -E 'bytes_decoded|gpu|errors|reads ' | xargs echo "# stats:"
            if [ $rc != 0 ]; then
                for t in /proc/$pid/task/*; do echo "# thread $(cat "$t/comm") wchan $(cat "$t/wchan" 2>/dev/null) $(head -3 "$t/stack" 2>/dev/null | tr '\n' ' ')"; done
            fi
            fusermount3 -u "$d/mnt" 2>/dev/null || umount -l "$d/mnt"
            timeout 10 tail --pid=$pid -f /dev/null; kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
            echo "# daemon log gpu=$m:"; tail -15 "$d/log-$m"
        done
    }
    # Does FUSE work here at all? One empty mount on the CPU path first.
    fuse_probe() {
        local d=$W/probe pid ok=1
        rm -rf "$d" && mkdir -p "$d/store" "$d/mnt"
        [ -c /dev/fuse ] || { echo "no /dev/fuse"; return 1; }
        "$BUILD_DIR/df11fs" -f -o gpu=off "$d/store" "$d/mnt" >"$d/log" 2>&1 &
        pid=$!
        for _ in $(seq 50); do mountpoint -q "$d/mnt" && break; sleep 0.1; done
        mountpoint -q "$d/mnt" || { ok=0; echo "df11fs did not mount: $(tail -2 "$d/log")"; }
        fusermount3 -u "$d/mnt" 2>/dev/null || umount -l "$d/mnt" 2>/dev/null
        kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
        [ $ok = 1 ]
    }
    if [ "$mode" = run ] && ! why=$(fuse_probe); then
        say "SKIP fs: FUSE does not work here: $why"
    elif [ "$mode" = run ]; then
        [ -z "${FS_CASES:-}" ] && step fs_gpu_probe 45 fs.log bash -c "$(declare -f gpu_read_probe); gpu_read_probe"
        # One case at a time, each bounded, so that a hang names its case.
        for c in tests/cases/fs_*.sh; do
            case $c in *fs_lib.sh) continue ;; esac
            [ -n "${FS_CASES:-}" ] && [[ " $FS_CASES " != *" $(basename "$c" .sh) "* ]] && continue
            step "fs:$(basename "$c" .sh)" "${FS_CASE_CAP:-40}" fs.log env DF11FS_TEST_OPTS="-o gpu=on,gpu_min_chunks=1" \
                BUILD="$BUILD_DIR" SHARED_MODELS="$W/models" "$c"
        done
    else
        say "SKIP fs: -o gpu=on cannot mount without a GPU (the CI runs the suite on the CPU path)"
    fi
fi

# --- summary ---
logs=$(ls "$OUT"/*.log 2>/dev/null)
say "== results ($((SECONDS - start)) s)"
# shellcheck disable=SC2086
grep -h '^FAIL ' $logs 2>/dev/null | head -20 | tee -a "$summary"
grep -h '^PASS gpu_sanitizer\|^SKIP gpu_sanitizer\|^FAIL gpu_sanitizer' "$OUT/sanitizer.log" 2>/dev/null | tee -a "$summary"
grep -h '^# gpu=\|^PASS gpu_probe\|^FAIL gpu_probe' "$OUT/fs.log" 2>/dev/null | tee -a "$summary"
grep -h '^[A-Z]* python:' "$OUT/gpu_diff.log" 2>/dev/null | cut -c1-160 | tee -a "$summary"
grep -h '^# EXP16\|^# NVIDIA\|^# .*SMs\|^d2d\|^h2h\|^cpu\|^dfl11\|^copy\|^fs  \|^SKIP gpu_bench\|^SKIP dfloat11\|^SKIP fs_gpu' "$OUT/bench.log" 2>/dev/null | tee -a "$summary"
for l in gpu_diff fs; do
    [ -f "$OUT/$l.log" ] && say "$l.log: $(grep -c '^PASS ' "$OUT/$l.log") PASS, $(grep -c '^FAIL ' "$OUT/$l.log") FAIL, $(grep -c '^SKIP ' "$OUT/$l.log") SKIP"
done
# shellcheck disable=SC2086
nf=$(cat $logs 2>/dev/null | grep -c '^FAIL ')
[ "$mode" = dry ] && say "dry run done; on a lent GPU: run(command=\"bash kernels/gpu_check.sh\", carry=[\".gpucheck\", \".whl\"], timeout_s=540)"
[ "$nf" -eq 0 ]
