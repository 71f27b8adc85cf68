#!/usr/bin/env bash
# remote_bench.sh - loading a 1.1 GB BF16 model from a bandwidth-limited
# HTTP origin: `df11 decompress URL` of the .df11 store entry and a read
# of the file through a df11fs mount of the store (cold: empty node cache;
# warm: from the node cache) against `curl` of the original
# .safetensors from the same nginx at the same limit, and the bytes each
# load took from the origin (nginx's access log).
#
#   bench/remote_bench.sh                 # BW="25 50 100 200 400" MB/s
#   BW="50" BUILD=build-rm bench/remote_bench.sh
#
# The limit is tests/tools/faultproxy.py's "rate" mode between the clients
# and nginx: one token bucket for all connections, so the origin's total
# bandwidth is fixed whatever the number of connections. (nginx's own
# limit_rate is per request and lets each request burst for a second: a
# 4 MiB range request is not limited at all.) Big files live in
# .data/remote-bench (git-ignored) and are removed at the end unless KEEP=1.
# Prints a table; writes .data/remote-bench.tsv for bench/plot_remote.py.
set -u
cd "$(dirname "$0")/.."
export DF11_ROOT=$PWD
BUILD=${BUILD:-build}
BW=${BW:-25 50 100 200 400}
. tests/cases/remote_lib.sh
rl_init
D=$PWD/.data/remote-bench
SRC=${SRC:-$(cd .. && pwd)/shared/models/gpt2-small-partial.bf16.safetensors}
mkdir -p "$D/store" "$D/orig"
chmod 755 "$D" "$D/store" "$D/orig" "$PWD/.data" 2>/dev/null
ORIG=$D/orig/model.safetensors
if [ ! -f "$ORIG" ]; then
    python3 tests/gen/tile_gpt2.py "$SRC" "$ORIG" 1100 >/dev/null || exit 1
fi
[ -f "$D/store/model.df11" ] || "$DF11" compress -q "$ORIG" -o "$D/store/model.df11" || exit 1
"$DF11" manifest -q "$D/store" || exit 1
osize=$(stat -c %s "$ORIG")
ssize=$(stat -c %s "$D/store/model.df11")
now_ms() { echo $(($(date +%s%N) / 1000000)); }
drop() { sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null; }

TSV=$PWD/.data/remote-bench.tsv
printf 'bw_MBps\twhat\tseconds\torigin_bytes\n' >"$TSV"
printf '%-9s %-30s %9s %14s %8s\n' "MB/s" "load" "seconds" "origin bytes" "vs curl"
rl_nginx_start "$D" || exit 1
rl_proxy_start "127.0.0.1:$RL_NGINX_PORT" || exit 1
P="http://127.0.0.1:$RL_PROXY_PORT/store"
for bw in $BW; do
    rl_proxy rate $((bw * 1000000))
    U="$P/store/"
    C=$D/cache
    rm -rf "$C"
    row() { # what seconds bytes base
        printf '%s\t%s\t%s\t%s\n' "$bw" "$1" "$2" "$3" >>"$TSV"
        printf '%-9s %-30s %9s %14s %8s\n' "$bw" "$1" "$2" "$3" "$4"
    }
    : >"$RL_NGINX_LOG"
    t0=$(now_ms)
    curl -sf -o /dev/null "$P/orig/model.safetensors" || echo "curl failed" >&2
    t1=$(now_ms)
    curl_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) / 1000 }')
    row "curl original" "$curl_s" "$(rl_log_bytes)" "1.00x"
    for mode in cold warm; do
        : >"$RL_NGINX_LOG"
        [ $mode = warm ] && drop
        t0=$(now_ms)
        # decompress checks every chunk and the whole-file SHA-256 itself
        DF11_CACHE_DIR=$C "$DF11" decompress -q -c "${U}model.df11" >/dev/null ||
            echo "df11 decompress failed ($mode at $bw MB/s)" >&2
        t1=$(now_ms)
        s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) / 1000 }')
        row "df11 decompress URL, $mode" "$s" "$(rl_log_bytes)" \
            "$(awk -v c="$curl_s" -v s="$s" 'BEGIN { printf "%.2fx", c / s }')"
    done
    # The same load as a program sees it: a df11fs mount of the store
    # (cold: an empty node cache; warm: a new daemon on the same cache).
    M=$D/mnt
    mkdir -p "$M"
    rm -rf "$D/fscache"
    for mode in cold warm; do
        : >"$RL_NGINX_LOG"
        "$BUILD/df11fs" -o cache_dir="$D/fscache" "$U" "$M" || { echo "df11fs failed" >&2; break; }
        [ $mode = warm ] && drop
        t0=$(now_ms)
        cat "$M/model.safetensors" >/dev/null || echo "read through df11fs failed" >&2
        t1=$(now_ms)
        fusermount3 -u "$M"
        s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) / 1000 }')
        row "df11fs mount, $mode" "$s" "$(rl_log_bytes)" \
            "$(awk -v c="$curl_s" -v s="$s" 'BEGIN { printf "%.2fx", c / s }')"
        sleep 0.5
    done
done
rl_nginx_stop
# The warm load's other side: the original from the local disk.
for how in cold warm; do
    [ $how = cold ] && drop
    t0=$(now_ms); cat "$ORIG" >/dev/null; t1=$(now_ms)
    s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) / 1000 }')
    printf 'local\tcat original from local disk, %s\t%s\t0\n' "$how" "$s" >>"$TSV"
    printf '%-9s %-30s %9s\n' local "original from disk, $how" "$s"
done
echo "original $osize bytes, stored $ssize bytes ($(awk -v a="$ssize" -v b="$osize" 'BEGIN { printf "%.2f%%", 100 * a / b }'))"
echo "table: $TSV"
[ -n "${KEEP:-}" ] || rm -rf "$D"
