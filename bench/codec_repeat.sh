#!/usr/bin/env bash
# bench/codec_repeat.sh - repeats the key codec figures N times, each repeat
# started only when the machine is quiet, and prints every repeat and the
# median across repeats. Each figure keeps its same-run baseline beside it.
# Run bench/run once first: it builds and prepares the inputs.
#
# Usage: bench/codec_repeat.sh [N]     (default 3)
# Environment: BUILD (default build), DATA (default .data/bench)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-3}
BUILD=${BUILD:-build}
DATA=${DATA:-.data/bench}
CB=$BUILD/bench/codec_bench
DF11=$BUILD/df11
SMALL=/work/shared/models/gpt2-small-partial.bf16.safetensors
[ -r "$SMALL" ] || SMALL=$DATA/minilm/model.safetensors
BIG=$DATA/tiled-1100.safetensors
for f in "$CB" "$DF11" "$SMALL" "$BIG"; do
    [ -e "$f" ] || { echo "codec_repeat: $f missing; run bench/run first" >&2; exit 1; }
done
WORK=$(mktemp -d /dev/shm/df11rep.XXXXXX 2>/dev/null || mktemp -d "$DATA/work.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
OUT=$DATA/repeat
rm -rf "$OUT"; mkdir -p "$OUT"

# Percent of all CPUs busy over 3 s; waits (up to 10 min) for < 15%.
busy_pct() {
    local a b
    a=($(head -1 /proc/stat)); sleep 3; b=($(head -1 /proc/stat))
    echo $(( 100 * (b[1]+b[2]+b[3]+b[6]+b[7] - a[1]-a[2]-a[3]-a[6]-a[7]) /
             (b[1]+b[2]+b[3]+b[4]+b[5]+b[6]+b[7] - a[1]-a[2]-a[3]-a[4]-a[5]-a[6]-a[7]) ))
}
wait_quiet() {
    local b
    for _ in $(seq 200); do b=$(busy_pct); [ "$b" -lt 15 ] && break; done
    echo "  (CPUs ${b}% busy before this step; load $(cut -d' ' -f1-3 /proc/loadavg))"
}
clitime() { # prints "MB/s cpu% rss_MiB" for one run of CMD on BIG
    /usr/bin/time -v -o "$WORK/t" "$@" >/dev/null
    awk -F': ' -v b="$(stat -c %s "$BIG")" '
        /Elapsed \(wall clock\)/{n=split($2,p,":"); s=0; for(i=1;i<=n;i++) s=s*60+p[i]}
        /Maximum resident set size/{r=$2} /Percent of CPU/{c=$2+0}
        END{printf "%.1f %d %.1f\n", b/s/1e6, c, r/1024}' "$WORK/t"
}

for i in $(seq "$N"); do
    echo "repeat $i/$N, $(date -u +%H:%M:%S)"
    wait_quiet; "$CB" -e 3 -r 9 -k 500 -z 3 -w "$WORK" "$SMALL" >"$OUT/small-$i.txt"
    wait_quiet; "$CB" -e 1 -r 5 -k 500 -z 3 -w "$WORK" "$BIG" >"$OUT/big-$i.txt"
    wait_quiet
    for T in 1 2; do
        echo "@ cli_df11_t$T $(clitime "$DF11" compress -q -f -T "$T" -o "$WORK/b.df11" "$BIG")" >>"$OUT/cli-$i.txt"
        echo "@ cli_zstd_t$T $(clitime zstd -q -f -3 -T"$T" -o "$WORK/b.zst" "$BIG")" >>"$OUT/cli-$i.txt"
    done
    rm -f "$WORK/b.df11" "$WORK/b.zst"
done

# One row per key: the value in each repeat, then the median.
row() { # LABEL FILEPREFIX KEY [FIELD]
    local vals=() f v
    for i in $(seq "$N"); do
        f=$OUT/$2-$i.txt
        v=$(awk -v k="$3" -v c="${4:-1}" '$1=="@" && $2==k {print $(2+c); exit}' "$f")
        vals+=("${v:--}")
    done
    med=$(printf '%s\n' "${vals[@]}" | grep -v '^-$' | sort -g |
          awk '{v[NR]=$1} END{if(!NR){print "-"; exit} print (NR%2)?v[(NR+1)/2]:(v[NR/2]+v[NR/2+1])/2}')
    printf "%-44s %s  | median %s\n" "$1" "${vals[*]}" "$med"
}
echo; echo "== key figures, $N repeats (values per repeat | median of repeats) =="
for s in small big; do
    for T in 1 2; do
        row "decode $s T=$T df11 GB/s" $s decode_gbps_df11_t$T
        row "decode $s T=$T zstd-3 256 KiB frames GB/s" $s decode_gbps_zstd3_chunk_t$T
        row "decode $s T=$T memcpy GB/s" $s decode_gbps_memcpy_t$T
    done
    row "decode $s T=1 zstd-3 whole file GB/s" $s decode_gbps_zstd3_whole_t1
    row "pread 4 KiB $s df11 p50 us" $s pread_p50_us
    row "pread 4 KiB $s df11 p99 us" $s pread_p99_us
    row "pread 4 KiB $s zstd-3 frame p50 us" $s zstd_pread_p50_us
    row "pread 4 KiB $s zstd-3 frame p99 us" $s zstd_pread_p99_us
    for T in 1 2; do
        row "encode $s T=$T df11 lib MB/s" $s encode_mbps_t$T
        row "encode $s T=$T df11 lib MB/CPU-s" $s encode_mb_per_cpus_t$T
        row "encode $s T=$T zstd-3 frames MB/s" $s zstd3_chunk_encode_mbps_t$T
        row "encode $s T=$T zstd-3 frames MB/CPU-s" $s zstd3_chunk_encode_mb_per_cpus_t$T
    done
done
for T in 1 2; do
    row "CLI compress big -T $T df11 MB/s" cli cli_df11_t$T 1
    row "CLI compress big -T $T df11 CPU%" cli cli_df11_t$T 2
    row "CLI compress big -T $T df11 peak RSS MiB" cli cli_df11_t$T 3
    row "CLI compress big -T$T zstd -3 MB/s" cli cli_zstd_t$T 1
    row "CLI compress big -T$T zstd -3 CPU%" cli cli_zstd_t$T 2
    row "CLI compress big -T$T zstd -3 peak RSS MiB" cli cli_zstd_t$T 3
done
echo "per-repeat outputs: $OUT"
