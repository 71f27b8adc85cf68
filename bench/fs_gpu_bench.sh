#!/usr/bin/env bash
# bench/fs_gpu_bench.sh - df11fs with the GPU (-o gpu=on) against the CPU
# (-o gpu=off) on a cold sequential read of one big .df11, with the
# original file read cold beside them: all three from the same run,
# alternated, medians of RUNS (default 3). Cold: the page cache is dropped
# and the daemon is started afresh before every read, so nothing decoded
# before is reused. Each mode's first read is also checked against the
# original's SHA-256: a fast wrong read is no result.
#
#   bench/fs_gpu_bench.sh BIG.safetensors [BIG.df11]
#
# BIG.df11 is made from BIG with `df11 compress` when not given. Needs root
# (drop_caches) and /dev/fuse; the gpu=on rows are SKIPped where df11fs
# refuses to mount with gpu=on (no usable GPU). Environment: BUILD, RUNS,
# FS_OPTS (more -o options for both modes, e.g. cache_size=...), OUT_JSON.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$PWD/$BUILD" ;; esac
RUNS=${RUNS:-3}
BIG=${1:?usage: bench/fs_gpu_bench.sh BIG.safetensors [BIG.df11]}
DF11FS=$BUILD/df11fs DF11=$BUILD/df11
for t in "$DF11FS" "$DF11"; do [ -x "$t" ] || { echo "fs_gpu_bench: $t not built"; exit 1; }; done
[ "$(id -u)" = 0 ] || { echo "fs_gpu_bench: needs root to drop caches"; exit 1; }
[ -c /dev/fuse ] || { echo "SKIP fs_gpu_bench no /dev/fuse"; exit 0; }

W=$(mktemp -d /tmp/fs_gpu_bench.XXXXXX)
MNT=$W/mnt PID=""
cleanup() {
    mountpoint -q "$MNT" 2>/dev/null && { fusermount3 -u "$MNT" 2>/dev/null || umount -l "$MNT"; }
    [ -n "$PID" ] && kill "$PID" 2>/dev/null
    rm -rf "$W"
}
trap cleanup EXIT
mkdir -p "$W/store" "$MNT"
name=$(basename "$BIG" .safetensors)
if [ -n "${2:-}" ]; then
    cp "$2" "$W/store/$name.df11" # a copy: df11fs follows no link out of its store
else
    "$DF11" compress -q -o "$W/store/$name.df11" "$BIG" || { echo "FAIL fs_gpu_bench compress"; exit 1; }
fi
want=$(sha256sum "$BIG" | cut -d' ' -f1)
size=$(stat -c %s "$BIG")

drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }

# mount MODE: a fresh daemon; 0 when it came up.
mount_mode() {
    "$DF11FS" -f -o "gpu=$1${FS_OPTS:+,$FS_OPTS}" "$W/store" "$MNT" >"$W/df11fs-$1.log" 2>&1 &
    PID=$!
    for _ in $(seq 100); do
        mountpoint -q "$MNT" && return 0
        kill -0 "$PID" 2>/dev/null || { PID=""; return 1; }
        sleep 0.1
    done
    kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; PID="" # not up in 10 s: no daemon left behind
    return 1
}
umount_mode() {
    fusermount3 -u "$MNT" 2>/dev/null || umount -l "$MNT"
    [ -n "$PID" ] && wait "$PID" 2>/dev/null
    PID=""
}

# read_once PATH CHECK: seconds of one sequential read (1 MiB reads); with
# CHECK=1 the bytes also go through sha256sum, compared with the original.
read_once() {
    local t0 t1 got
    t0=$(date +%s.%N)
    # Bounded: a hung read must end the bench, not the machine's lease.
    if [ "$2" = 1 ]; then
        got=$(timeout 60 dd if="$1" bs=1M 2>/dev/null | sha256sum | cut -d' ' -f1)
    else
        timeout 60 dd if="$1" of=/dev/null bs=1M 2>/dev/null || { echo "FAIL fs_gpu_bench read of $1 failed or timed out" >&2; return 1; }
    fi
    t1=$(date +%s.%N)
    [ "$2" = 1 ] && [ "$got" != "$want" ] && { echo "FAIL fs_gpu_bench $1: SHA-256 differs from the original's" >&2; return 1; }
    echo "$t0 $t1" | awk '{printf "%.4f\n", $2 - $1}'
}

median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

declare -A T
gpu_ok=1 fails=0
for mode in off on; do
    drop
    if ! mount_mode "$mode"; then
        [ "$mode" = on ] || { echo "FAIL fs_gpu_bench gpu=off did not mount"; cat "$W/df11fs-off.log"; exit 1; }
        echo "SKIP fs_gpu_bench_gpu df11fs -o gpu=on did not mount: $(tail -1 "$W/df11fs-on.log")"
        gpu_ok=0
        continue
    fi
    read_once "$MNT/$name.safetensors" 1 >/dev/null || { fails=$((fails + 1)); tail -5 "$W/df11fs-$mode.log"; }
    # Where the bytes were decoded: the GPU mode must really use the GPU.
    echo "# gpu=$mode counters: $(grep -E '^(bytes_decoded_cpu|bytes_decoded_gpu|gpu_batches|errors) ' "$MNT/.df11fs-stats" | xargs)"
    umount_mode
done
for r in $(seq "$RUNS"); do
    drop
    if t=$(read_once "$BIG" 0); then T[orig]+="$t "; else fails=$((fails + 1)); fi
    for mode in off on; do
        [ "$mode" = on ] && [ $gpu_ok = 0 ] && continue
        drop
        mount_mode "$mode" || { echo "FAIL fs_gpu_bench gpu=$mode did not mount (run $r)"; fails=$((fails + 1)); continue; }
        if t=$(read_once "$MNT/$name.safetensors" 0); then T[$mode]+="$t "; else fails=$((fails + 1)); fi
        umount_mode
    done
done
mib=$(awk -v s="$size" 'BEGIN {printf "%.0f", s / 1048576}')
med() { echo "${T[$1]:-}" | tr ' ' '\n' | grep . | median; }
row() {
    printf 'fs   %-28s %s MiB cold sequential read: %.3f s (median of %s: %s), %.2f GB/s\n' "$2" "$mib" "$3" \
        "$RUNS" "$(echo "${T[$1]}" | xargs)" "$(awk -v s="$size" -v t="$3" 'BEGIN {print s / t / 1e9}')"
}
o=$(med orig) f=$(med off)
# A mode none of whose reads succeeded has no row (and no division by zero).
[ -n "$o" ] && row orig "original file" "$o"
[ -n "$f" ] && row off "df11fs -o gpu=off" "$f"
if [ $gpu_ok = 1 ] && [ -n "${T[on]:-}" ] && [ -n "$o" ] && [ -n "$f" ]; then
    g=$(med on)
    row on "df11fs -o gpu=on" "$g"
    awk -v f="$f" -v g="$g" -v o="$o" 'BEGIN {printf "fs   time gpu=on / gpu=off = %.2f; gpu=on / original file = %.2f\n", g / f, g / o}'
fi
if [ $fails = 0 ]; then echo "PASS fs_gpu_bench_sha256 every mode read the original's bytes"; else echo "FAIL fs_gpu_bench $fails failures"; fi
[ $fails = 0 ]
