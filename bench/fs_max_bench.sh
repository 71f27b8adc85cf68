#!/usr/bin/env bash
# bench/fs_max_bench.sh - cold sequential read through df11fs of a store
# written at the default level and of one written with --max (ANS_IL), in
# the same run, rounds alternating: what --max costs a mounted model; and
# of --max as format 1.1 wrote it (ANS, the encoder's DF11_ANS_CODEC=3
# test hook), the layout ANS_IL replaced. Per
# round: page cache dropped, the whole file read with 1 MiB requests (dd),
# MB/s of original bytes; medians of RUNS rounds (default 3), and the
# ratio --max / default. Needs root (drop_caches).
#
#   bench/fs_max_bench.sh [BIG.safetensors]
# BIG defaults to .data/bench/tiled-1100.safetensors (tests/gen/tile_gpt2.py
# makes it). Environment: BUILD, RUNS, CACHE (df11fs cache_size, 256M).
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BUILD=${BUILD:-build} RUNS=${RUNS:-3} CACHE=${CACHE:-256M}
BIG=${1:-.data/bench/tiled-1100.safetensors}
DF11=$BUILD/df11 DF11FS=$BUILD/df11fs
DATA=.data/fs-max
[ -f "$BIG" ] || { echo "no $BIG (tests/gen/tile_gpt2.py makes it)"; exit 1; }
[ -w /proc/sys/vm/drop_caches ] || { echo "needs root (drop_caches)"; exit 1; }
mkdir -p "$DATA/default" "$DATA/max" "$DATA/ans11" "$DATA/mnt"
M=$(cd "$DATA/mnt" && pwd)
cleanup() { grep -q " $M fuse" /proc/mounts && fusermount3 -uz "$M"; }
trap cleanup EXIT
name=$(basename "$BIG" .safetensors)
for level in default max ans11; do
    out=$DATA/$level/$name.df11
    if [ ! -f "$out" ] || [ "$out" -ot "$DF11" ]; then
        opt=() envs=()
        [ $level != default ] && opt=(--max)
        [ $level = ans11 ] && envs=(DF11_ANS_CODEC=3)
        env "${envs[@]}" "$DF11" compress -q -f "${opt[@]}" "$BIG" -o "$out" || exit 1
    fi
done
drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }
wait_mount() { local i; for i in $(seq 200); do grep -q " $M fuse" /proc/mounts && return 0; sleep 0.05; done; return 1; }
# read_cold LEVEL: MB/s of one cold read of the file through a fresh mount
read_cold() {
    "$DF11FS" -f -o cache_size="$CACHE" "$DATA/$1" "$M" 2>>"$DATA/df11fs.log" &
    local pid=$!
    wait_mount || { echo "df11fs did not mount" >&2; kill $pid; return 1; }
    drop
    local t0 t1 size
    size=$(stat -c %s "$M/$name.safetensors")
    t0=$(date +%s.%N)
    dd if="$M/$name.safetensors" of=/dev/null bs=1M status=none || echo "read failed" >&2
    t1=$(date +%s.%N)
    fusermount3 -u "$M"; wait $pid 2>/dev/null
    echo "$size $t0 $t1" | awk '{ printf "%.0f\n", $1 / ($3 - $2) / 1e6 }'
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
declare -a d m a
for r in $(seq "$RUNS"); do
    d+=("$(read_cold default)"); m+=("$(read_cold max)"); a+=("$(read_cold ans11)")
    echo "run $r: default ${d[-1]} MB/s, --max ${m[-1]} MB/s, --max 1.1 ${a[-1]} MB/s"
done
md=$(printf '%s\n' "${d[@]}" | median) mm=$(printf '%s\n' "${m[@]}" | median) ma=$(printf '%s\n' "${a[@]}" | median)
for level in default max ans11; do
    printf '%-8s stored %5.2f%% of the original\n' "$level" \
        "$(echo "$(stat -c %s "$DATA/$level/$name.df11") $(stat -c %s "$BIG")" | awk '{ print 100 * $1 / $2 }')"
done
ratio() { awk -v a="$1" -v b="$md" 'BEGIN { printf "%.2f", a / b }'; }
echo "cold sequential read, medians of $RUNS: default $md MB/s, --max $mm MB/s ($(ratio "$mm")x), --max 1.1 $ma MB/s ($(ratio "$ma")x)"
