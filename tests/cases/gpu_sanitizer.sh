#!/usr/bin/env bash
# Runs the GPU part of gpu_diff under compute-sanitizer: memcheck (out of
# bounds / misaligned accesses, also on the corrupted chunks), racecheck
# (shared-memory hazards between the tile writes and reads), initcheck
# (reads of uninitialised device memory) and synccheck (barrier misuse).
# Every tool is a SKIP without a GPU or without compute-sanitizer.
# GPU_SANITIZER_TIMEOUT (seconds per tool, default none) bounds each run,
# for the device check (kernels/gpu_check.sh) that has minutes in all.
set -u
cd "${DF11_ROOT:-$(dirname "$0")/../..}"
BUILD="${BUILD:-build}"
bin="$BUILD/tests/gpu_diff"
tools="${GPU_SANITIZER_TOOLS:-memcheck racecheck initcheck synccheck}"

skip_all() { for t in $tools; do echo "SKIP gpu_sanitizer_$t $1"; done; exit 0; }

[ -x "$bin" ] || skip_all "$bin not built"
why=$("$bin" --probe); rc=$?
[ $rc -eq 0 ] || skip_all "no GPU: $why"
cs=$(command -v compute-sanitizer || true)
[ -z "$cs" ] && [ -x /usr/local/cuda/bin/compute-sanitizer ] && cs=/usr/local/cuda/bin/compute-sanitizer
[ -n "$cs" ] || skip_all "compute-sanitizer not found"

log=$(mktemp -d /tmp/gpu_sanitizer.XXXXXX)
trap 'rm -rf "$log"' EXIT
for t in $tools; do
    extra=""
    [ "$t" = racecheck ] && extra="--racecheck-report all"
    # --gpu-only: the CPU parts of gpu_diff add nothing here and are slow
    # under the sanitizer's interception.
    limit=()
    [ -n "${GPU_SANITIZER_TIMEOUT:-}" ] && limit=(timeout -k 5 "$GPU_SANITIZER_TIMEOUT")
    start=$SECONDS
    "${limit[@]}" "$cs" --tool "$t" $extra --error-exitcode 99 "$bin" --gpu-only >"$log/$t.out" 2>&1
    rc=$?
    if [ $rc -eq 0 ] && ! grep -q '^FAIL ' "$log/$t.out"; then
        echo "PASS gpu_sanitizer_$t  # $((SECONDS - start)) s, $(grep -c '^PASS ' "$log/$t.out") checks"
    else
        echo "FAIL gpu_sanitizer_$t  # exit $rc$([ $rc -eq 124 ] && echo ' (timed out)') after $((SECONDS - start)) s"
        # Each distinct report once (the device check has one log to read).
        echo "# $(grep -cE '^========= +(Invalid|Uninitialized|Race|Barrier|Program hit|Error)' "$log/$t.out") reports"
        grep -E '^FAIL |^========= +[A-Z]|^=========     [A-Z]|Host Frame' "$log/$t.out" | awk '!seen[$0]++' | head -60
    fi
done
