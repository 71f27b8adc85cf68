#!/usr/bin/env bash
# bench/fs_bench.sh - df11fs read performance, side by side with baselines
# measured in the same run:
#   cold sequential read of a >= 1 GiB BF16 file (page cache dropped first)
#       vs bench/fs_memfs, a FUSE server serving the same bytes from memory
#       (the ceiling for any FUSE filesystem here), and the original file;
#   warm reads (page cache hit) vs the original file from the page cache;
#   random 4 KiB..1 MiB preads (same seed): p50/p90/p99 latency and MB/s vs
#       the original file and fs_memfs;
#   daemon RSS vs the cache budget.
# Figures are medians of RUNS runs (default 3). Needs root (drop_caches).
#
#   bench/fs_bench.sh [SMALL.safetensors] [BIG.safetensors]
# BIG defaults to .data/bench/tiled-1100.safetensors (tiled from SMALL by
# tests/gen/tile_gpt2.py when missing). Environment: BUILD, RUNS, RAND_N,
# CACHE (df11fs cache_size, default 256M), FS_BENCH_DATA.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
RUNS=${RUNS:-3}
RAND_N=${RAND_N:-1000}
CACHE=${CACHE:-256M}
DATA=${FS_BENCH_DATA:-$ROOT/.data/bench/fs}
SMALL=${1:-/work/shared/models/gpt2-small-partial.bf16.safetensors}
BIG=${2:-$ROOT/.data/bench/tiled-1100.safetensors}
DF11FS=$BUILD/df11fs DF11=$BUILD/df11 MEMFS=$BUILD/bench/fs_memfs RR=$BUILD/bench/fs_randread

for t in "$DF11FS" "$DF11" "$MEMFS" "$RR"; do
    [ -x "$t" ] || { echo "fs_bench: $t not built (make BUILD=... first)"; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "fs_bench: needs root to drop caches"; exit 1; }
mkdir -p "$DATA"
if [ ! -f "$BIG" ]; then
    [ -f "$SMALL" ] || { echo "fs_bench: neither $BIG nor $SMALL exists"; exit 1; }
    python3 "$ROOT/tests/gen/tile_gpt2.py" "$SMALL" "$BIG" 1100 || exit 1
fi
STORE=$DATA/store
if [ ! -f "$STORE/big.df11" ] || [ "$BIG" -nt "$STORE/big.df11" ]; then
    mkdir -p "$STORE"
    "$DF11" compress -q -f "$BIG" -o "$STORE/big.df11" || exit 1
fi
SIZE=$(stat -c %s "$BIG")
M=$DATA/mnt MM=$DATA/memmnt
mkdir -p "$M" "$MM"
PIDS=()
cleanup() {
    local m p
    for m in "$M" "$MM"; do grep -q " $m fuse" /proc/mounts && fusermount3 -uz "$m"; done
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
}
trap cleanup EXIT

drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }
wait_mount() { local i; for i in $(seq 200); do grep -q " $1 fuse" /proc/mounts && return 0; sleep 0.05; done; return 1; }
mount_df11fs() {
    "$DF11FS" -f -o cache_size="$CACHE" "$STORE" "$M" 2>>"$DATA/df11fs.log" &
    FSPID=$!; PIDS+=("$FSPID"); wait_mount "$M"
}
umount_df11fs() { fusermount3 -u "$M"; wait "$FSPID" 2>/dev/null; }
# seqread FILE: MB/s of one sequential read with 1 MiB requests.
seqread() {
    local a b
    a=$(date +%s.%N); dd if="$1" of=/dev/null bs=1M 2>/dev/null; b=$(date +%s.%N)
    awk -v s="$SIZE" -v a="$a" -v b="$b" 'BEGIN { printf "%.0f", s / (b - a) / 1e6 }'
}
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.0f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
field() { awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

echo "fs_bench: $(basename "$BIG") $((SIZE >> 20)) MiB (stored $(( $(stat -c %s "$STORE/big.df11") >> 20 )) MiB), $RUNS runs, cache_size=$CACHE, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"

# fs_memfs holds the whole original in memory; start it once.
"$MEMFS" -f "$BIG" "$MM" 2>>"$DATA/memfs.log" & MPID=$!; PIDS+=("$MPID")
wait_mount "$MM" || { echo "fs_memfs did not mount"; exit 1; }
for i in $(seq 100); do [ -e "$MM/$(basename "$BIG")" ] && break; sleep 0.1; done
MEMFILE=$MM/$(basename "$BIG")

cold_fs=() cold_mem=() cold_orig=() warm_fs=() warm_orig=()
for r in $(seq "$RUNS"); do
    mount_df11fs || { echo "df11fs did not mount"; exit 1; }
    drop; cold_fs+=("$(seqread "$M/big.safetensors")")
    warm_fs+=("$(seqread "$M/big.safetensors")")
    umount_df11fs
    drop; cold_mem+=("$(seqread "$MEMFILE")")
    drop; cold_orig+=("$(seqread "$BIG")")
    warm_orig+=("$(seqread "$BIG")")
    echo "run $r: cold df11fs ${cold_fs[-1]} memfs ${cold_mem[-1]} original ${cold_orig[-1]} MB/s; warm df11fs ${warm_fs[-1]} original ${warm_orig[-1]} MB/s"
done

# Random reads, cold: same seed for all three.
rand_fs=() rand_orig=() rand_mem=()
for r in $(seq "$RUNS"); do
    mount_df11fs || exit 1
    drop; rand_fs+=("$("$RR" "$M/big.safetensors" "$RAND_N" $((42 + r)))")
    if [ "$r" = "$RUNS" ]; then
        rss_hwm=$(awk '/VmHWM/ { print $2 }' /proc/"$FSPID"/status)
        rss_now=$(awk '/VmRSS/ { print $2 }' /proc/"$FSPID"/status)
        cache_b=$(awk '$1 == "cache_bytes" { print $2 }' "$M/.df11fs-stats")
        budget=$(awk '$1 == "cache_budget" { print $2 }' "$M/.df11fs-stats")
    fi
    umount_df11fs
    drop; rand_orig+=("$("$RR" "$BIG" "$RAND_N" $((42 + r)))")
    drop; rand_mem+=("$("$RR" "$MEMFILE" "$RAND_N" $((42 + r)))")
done
# Reader overhead: RSS after the file is looked up (df11_open), before reads.
mount_df11fs || exit 1
stat "$M/big.safetensors" >/dev/null
rss_open=$(awk '/VmRSS/ { print $2 }' /proc/"$FSPID"/status)
umount_df11fs

med() { printf '%s\n' "$@" | median; }
rmed() { local k="$1"; shift; printf '%s\n' "$@" | field "$k" | median; }

echo
printf "%-44s %12s %12s %12s %8s\n" "metric (median of $RUNS)" df11fs baseline "" ratio
printf "%-44s %12s %12s %12s %8s\n" "cold sequential MB/s vs fs_memfs" "$(med "${cold_fs[@]}")" "$(med "${cold_mem[@]}")" "" "$(ratio "$(med "${cold_fs[@]}")" "$(med "${cold_mem[@]}")")"
printf "%-44s %12s %12s %12s %8s\n" "cold sequential MB/s vs original (disk)" "$(med "${cold_fs[@]}")" "$(med "${cold_orig[@]}")" "" "$(ratio "$(med "${cold_fs[@]}")" "$(med "${cold_orig[@]}")")"
printf "%-44s %12s %12s %12s %8s\n" "warm (page cache) MB/s vs original warm" "$(med "${warm_fs[@]}")" "$(med "${warm_orig[@]}")" "" "$(ratio "$(med "${warm_fs[@]}")" "$(med "${warm_orig[@]}")")"
printf "%-44s %12s %12s %12s %8s\n" "random 4K-1M reads" df11fs original fs_memfs "fs/orig"
for k in p50_us p90_us p99_us MBps; do
    a=$(rmed $k "${rand_fs[@]}") b=$(rmed $k "${rand_orig[@]}") c=$(rmed $k "${rand_mem[@]}")
    printf "%-44s %12s %12s %12s %8s\n" "  $k" "$a" "$b" "$c" "$(ratio "$a" "$b")"
done
printf "%-44s %12s %12s\n" "daemon RSS after random reads (MiB)" "$((rss_now / 1024))" "budget $((budget >> 20))"
printf "%-44s %12s %12s\n" "daemon peak RSS (MiB)" "$((rss_hwm / 1024))" "cache $((cache_b >> 20))"
printf "%-44s %12s\n" "daemon RSS with the file open, no reads (MiB)" "$((rss_open / 1024))"
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
