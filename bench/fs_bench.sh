#!/usr/bin/env bash
# bench/fs_bench.sh - df11fs read performance, side by side with baselines
# measured in the same run:
#   cold sequential read of a >= 1 GiB BF16 file (page cache dropped first)
#       vs bench/fs_memfs, a FUSE server serving the same bytes from memory
#       (the ceiling for any FUSE filesystem here), and the original file;
#   warm reads (page cache hit) vs the original file from the page cache,
#       the first re-read and a later one (the first re-read moves every page
#       to the active LRU list, which costs per page: FUSE files have 4 KiB
#       pages, ext4 files large folios), and fs_memfs warm as the FUSE ceiling;
#   random 4 KiB..1 MiB preads (same seed): p50/p90/p99 latency and MB/s vs
#       the original file and fs_memfs;
#   daemon RSS vs the cache budget.
# Figures are medians of RUNS runs (default 3). Needs root (drop_caches).
#
#   bench/fs_bench.sh [SMALL.safetensors] [BIG.safetensors]
# BIG defaults to .data/bench/tiled-1100.safetensors (tiled from SMALL by
# tests/gen/tile_gpt2.py when missing). Environment: BUILD, RUNS, RAND_N,
# CACHE (df11fs cache_size, default 256M), RA_KB (read_ahead_kb of both FUSE
# mounts, default 4096, as df11fs sets by default), FS_OPTS (more df11fs -o
# options, e.g. gpu=on on a GPU machine), FS_BENCH_DATA.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
RUNS=${RUNS:-3}
RAND_N=${RAND_N:-1000}
CACHE=${CACHE:-256M}
RA_KB=${RA_KB:-4096}
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
# set_ra MNT: the same kernel readahead for every FUSE mount compared (df11fs
# writes it itself; fs_memfs does not).
set_ra() { echo "$RA_KB" >"/sys/class/bdi/$(mountpoint -d "$1")/read_ahead_kb"; }
mount_df11fs() {
    "$DF11FS" -f -o cache_size="$CACHE",readahead_kb="$RA_KB"${FS_OPTS:+,$FS_OPTS} "$STORE" "$M" 2>>"$DATA/df11fs.log" &
    FSPID=$!; PIDS+=("$FSPID"); wait_mount "$M" && set_ra "$M"
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

echo "fs_bench: $(basename "$BIG") $((SIZE >> 20)) MiB (stored $(( $(stat -c %s "$STORE/big.df11") >> 20 )) MiB), $RUNS runs, cache_size=$CACHE, read_ahead_kb=$RA_KB, $(nproc) CPUs, kernel $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"

# fs_memfs holds the whole original in memory; start it once.
"$MEMFS" -f "$BIG" "$MM" 2>>"$DATA/memfs.log" & MPID=$!; PIDS+=("$MPID")
wait_mount "$MM" || { echo "fs_memfs did not mount"; exit 1; }
set_ra "$MM"
for i in $(seq 100); do [ -e "$MM/$(basename "$BIG")" ] && break; sleep 0.1; done
MEMFILE=$MM/$(basename "$BIG")

cold_fs=() cold_mem=() cold_orig=() warm_fs=() warm_orig=() warm_mem=()
warm2_fs=() warm2_orig=() warm2_mem=() reqs=""
for r in $(seq "$RUNS"); do
    mount_df11fs || { echo "df11fs did not mount"; exit 1; }
    drop; cold_fs+=("$(seqread "$M/big.safetensors")")
    warm_fs+=("$(seqread "$M/big.safetensors")")
    warm2_fs+=("$(seqread "$M/big.safetensors")")
    seq_hwm=$(awk '/VmHWM/ { print $2 }' /proc/"$FSPID"/status)
    [ -n "$reqs" ] || reqs="$(awk '$1 == "reads" || $1 == "reads_1m" || $1 == "read_max" { printf "%s %s ", $1, $2 }' "$M/.df11fs-stats")"
    umount_df11fs
    drop; cold_mem+=("$(seqread "$MEMFILE")")
    warm_mem+=("$(seqread "$MEMFILE")")
    warm2_mem+=("$(seqread "$MEMFILE")")
    drop; cold_orig+=("$(seqread "$BIG")")
    warm_orig+=("$(seqread "$BIG")")
    warm2_orig+=("$(seqread "$BIG")")
    echo "run $r: cold df11fs ${cold_fs[-1]} memfs ${cold_mem[-1]} original ${cold_orig[-1]} MB/s; warm (1st/2nd re-read) df11fs ${warm_fs[-1]}/${warm2_fs[-1]} memfs ${warm_mem[-1]}/${warm2_mem[-1]} original ${warm_orig[-1]}/${warm2_orig[-1]} MB/s"
done
echo "df11fs requests in run 1 (cold + 2 warm reads): $reqs"


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
printf "%-44s %12s %12s %12s %8s\n" "warm, 1st re-read MB/s vs original" "$(med "${warm_fs[@]}")" "$(med "${warm_orig[@]}")" "" "$(ratio "$(med "${warm_fs[@]}")" "$(med "${warm_orig[@]}")")"
printf "%-44s %12s %12s %12s %8s\n" "warm, 2nd re-read MB/s vs original" "$(med "${warm2_fs[@]}")" "$(med "${warm2_orig[@]}")" "" "$(ratio "$(med "${warm2_fs[@]}")" "$(med "${warm2_orig[@]}")")"
printf "%-44s %12s %12s %12s %8s\n" "warm, 1st re-read MB/s vs fs_memfs" "$(med "${warm_fs[@]}")" "$(med "${warm_mem[@]}")" "" "$(ratio "$(med "${warm_fs[@]}")" "$(med "${warm_mem[@]}")")"
printf "%-44s %12s %12s %12s %8s\n" "warm, 2nd re-read MB/s vs fs_memfs" "$(med "${warm2_fs[@]}")" "$(med "${warm2_mem[@]}")" "" "$(ratio "$(med "${warm2_fs[@]}")" "$(med "${warm2_mem[@]}")")"
printf "%-44s %12s %12s %12s %8s\n" "random 4K-1M reads" df11fs original fs_memfs "fs/orig"
for k in p50_us p90_us p99_us MBps; do
    a=$(rmed $k "${rand_fs[@]}") b=$(rmed $k "${rand_orig[@]}") c=$(rmed $k "${rand_mem[@]}")
    printf "%-44s %12s %12s %12s %8s\n" "  $k" "$a" "$b" "$c" "$(ratio "$a" "$b")"
done
printf "%-44s %12s %12s\n" "daemon peak RSS, sequential reads (MiB)" "$((seq_hwm / 1024))" "budget $((budget >> 20))"
printf "%-44s %12s %12s\n" "daemon RSS after random reads (MiB)" "$((rss_now / 1024))" "budget $((budget >> 20))"
printf "%-44s %12s %12s\n" "daemon peak RSS (MiB)" "$((rss_hwm / 1024))" "cache $((cache_b >> 20))"
printf "%-44s %12s\n" "daemon RSS with the file open, no reads (MiB)" "$((rss_open / 1024))"
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
