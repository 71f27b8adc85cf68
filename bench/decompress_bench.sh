#!/usr/bin/env bash
# bench/decompress_bench.sh - whole-file decompression, end to end, in one
# run: `zstd -d -T1` and `zstd -d -T0` (of a zstd -3 copy of the same
# original) against df11_decode_all (bench/decompress_file.c) on 1 and on
# all threads. Page cache warm; output to a file on the same disk as the
# input, and to /dev/null. The four commands alternate within each round
# so a burst of load hits them all alike; prints every round's seconds and
# the median per cell. Each output is checked once against the original
# (cmp) before anything is timed.
#
# Usage: bench/decompress_bench.sh [ROUNDS] [ORIGINAL.safetensors]
#   ROUNDS default 5; ORIGINAL default $DATA/tiled.safetensors, made by
#   tests/gen/tile_gpt2.py from the GPT-2 file (1100 MiB) when missing.
# Environment: BUILD (default build), DATA (default .data/dec),
#   DF11_CLI (optional: a df11 binary whose `decompress -T 1` and `-T 0`
#   are timed too, e.g. an older build for a before/after)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-5}
BUILD=${BUILD:-build}
DATA=${DATA:-.data/dec}
ORIG=${2:-$DATA/tiled.safetensors}
DF=$BUILD/bench/decompress_file
mkdir -p "$DATA"
[ -x "$DF" ] || { echo "decompress_bench: $DF missing; run make BUILD=$BUILD" >&2; exit 1; }
if [ ! -e "$ORIG" ]; then
    python3 tests/gen/tile_gpt2.py /work/shared/models/gpt2-small-partial.bf16.safetensors "$ORIG" 1100
fi
base=${ORIG%.safetensors}
[ -e "$base.df11" ] || "$BUILD/df11" compress -q -f -o "$base.df11" "$ORIG"
[ -e "$base.zst" ] || zstd -q -f -3 -T0 -o "$base.zst" "$ORIG"
OUT=$DATA/decompress-bench.out

# Every command writes to stdout; the shell sends it to $OUT or /dev/null.
# (Never name /dev/null as an output path: tools that write a temporary
# file and rename it over the output would replace the device.)
declare -A CMD=(
    [zstd_t1]="zstd -q -d -c -T1 $base.zst"
    [zstd_t0]="zstd -q -d -c -T0 $base.zst"
    [df11_t1]="$DF -T 1 $base.df11 -"
    [df11_tall]="$DF -T 0 $base.df11 -"
)
ORDER=(zstd_t1 df11_t1 zstd_t0 df11_tall)
if [ -n "${DF11_CLI:-}" ]; then
    CMD[cli_t1]="$DF11_CLI decompress -q -c -T 1 $base.df11"
    CMD[cli_tall]="$DF11_CLI decompress -q -c -T 0 $base.df11"
    ORDER+=(cli_t1 cli_tall)
fi

echo "# $(date -u +%FT%TZ) $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# original $ORIG: $(stat -c %s "$ORIG") bytes; df11 $(stat -c %s "$base.df11"); zst $(stat -c %s "$base.zst")"
cat "$base.df11" "$base.zst" "$ORIG" >/dev/null # warm the page cache
for k in "${ORDER[@]}"; do # correctness first
    rm -f "$OUT"
    ${CMD[$k]} >"$OUT" 2>/dev/null
    cmp -s "$OUT" "$ORIG" || { echo "decompress_bench: $k output differs from the original" >&2; exit 1; }
done
rm -f "$OUT"

# Seconds of one run of command key $1 with stdout to $2 ("file": $OUT,
# removed and the previous output written back first (sync) so no run pays
# for another's; "null": /dev/null).
timed() {
    local a b
    if [ "$2" = file ]; then rm -f "$OUT"; sync; fi
    a=$(date +%s.%N)
    if [ "$2" = file ]; then ${CMD[$1]} >"$OUT" 2>/dev/null; else ${CMD[$1]} >/dev/null 2>&1; fi
    b=$(date +%s.%N)
    echo "$a $b" | awk '{printf "%.3f", $2 - $1}'
}
declare -A T
for i in $(seq "$N"); do
    for k in "${ORDER[@]}"; do
        T[$k,file]+="$(timed "$k" file) "
        T[$k,null]+="$(timed "$k" null) "
    done
done
rm -f "$OUT"
median() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR]=$1} END{print (NR%2)?v[(NR+1)/2]:(v[NR/2]+v[NR/2+1])/2}'; }
printf "%-10s %-34s %-8s %-34s %-8s\n" cmd "to file: runs (s)" median "to /dev/null: runs (s)" median
for k in "${ORDER[@]}"; do
    printf "%-10s %-34s %-8s %-34s %-8s\n" "$k" "${T[$k,file]}" "$(echo "${T[$k,file]}" | median)" \
        "${T[$k,null]}" "$(echo "${T[$k,null]}" | median)"
done
echo "# ratios of medians (df11 / zstd, same threads flag):"
for c in file null; do
    z1=$(echo "${T[zstd_t1,$c]}" | median); d1=$(echo "${T[df11_t1,$c]}" | median)
    z0=$(echo "${T[zstd_t0,$c]}" | median); d0=$(echo "${T[df11_tall,$c]}" | median)
    awk -v c="$c" -v z1="$z1" -v d1="$d1" -v z0="$z0" -v d0="$d0" \
        'BEGIN{printf "#   %s: T1 %.2fx  all threads %.2fx (vs zstd -T1: %.2fx)\n", c, d1/z1, d0/z0, d0/z1}'
done
