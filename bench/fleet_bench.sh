#!/usr/bin/env bash
# fleet_bench.sh - model load time against the number of nodes, through
# the caching proxy tier of deploy/nginx/df11-cache.conf, from an origin
# held to a fixed bandwidth. One run measures, for N = 1 2 4 8 16 nodes:
#   df11fs:   N daemons (own cache dir and mount each, mounted first), then
#             every node reads every file of the model at once (cat);
#   original: N curl processes fetch the original files at once,
#             through the same proxy tier from the same origin.
# "Load time" = from the start of the reads until the last node is done.
# Every point starts with an empty proxy cache and empty node caches.
#
#   nginx (origin) <- faultproxy.py "rate BPS" (all connections together)
#                  <- nginx with deploy/nginx/df11-cache.conf <- N nodes
#
#   BUILD=build-fleet bench/fleet_bench.sh            # RATE=10000000 NODES="1 2 4 8 16" RUNS=1
#   OUT=.data/bench/fleet  (fleet.tsv, log); then bench/fleet_plot.py makes doc/fleet.png
#
# The model: ../shared/models/gpt2-small-partial.bf16.safetensors (58.5 MB,
# stored in 39 MB) plus a config.json; without it the generated fixtures.
# At 10 MB/s the whole run takes about 4 minutes on 2 cores.
set -u
cd "$(dirname "$0")/.." || exit 1
export DF11_ROOT=$PWD
: "${BUILD:=build}"
RATE=${RATE:-10000000}
NODES=${NODES:-1 2 4 8 16}
RUNS=${RUNS:-1}
OUT=${OUT:-$DF11_ROOT/.data/bench/fleet}
mkdir -p "$OUT"
. tests/cases/remote_lib.sh
. tests/cases/fleet_lib.sh
rl_init
DF11FS="$BUILD/df11fs"
[ -x "$DF11FS" ] && [ -x "$DF11" ] || { echo "build first: make BUILD=$BUILD"; exit 1; }
rl_have_nginx || { echo "nginx is not installed"; exit 1; }
[ -c /dev/fuse ] || { echo "no /dev/fuse"; exit 1; }

MNTS=()
bench_cleanup() {
    local m
    for m in "${MNTS[@]}"; do fusermount3 -uz "$m" 2>/dev/null; done
    rl_cleanup
}
trap bench_cleanup EXIT

ROOT=$RL_TMP/root
mkdir -p "$ROOT/orig"
gpt="${SHARED_MODELS:-$DF11_ROOT/../shared/models}/gpt2-small-partial.bf16.safetensors"
if [ -f "$gpt" ]; then
    cp "$gpt" "$ROOT/orig/model.safetensors"
    echo '{"model_type":"gpt2"}' >"$ROOT/orig/config.json"
else
    python3 tests/gen/make_fixtures.py "$ROOT/orig" >/dev/null
fi
"$DF11" compress -q "$ROOT/orig" -o "$ROOT/df11" || exit 1
orig_size=$(find "$ROOT/orig" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }')
stored=$(find "$ROOT/df11" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }')

rl_nginx_start "$ROOT" || exit 1
ORIGIN=${RL_HTTP_URL#http://}; ORIGIN=${ORIGIN%%/*}
rl_proxy_start "$ORIGIN" || exit 1
rl_proxy rate "$RATE"
THROTTLED="127.0.0.1:$RL_PROXY_PORT"

LOG=$OUT/log
{
    echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "# origin limited to $RATE B/s (faultproxy.py rate, all connections); original $orig_size B, stored $stored B"
} | tee "$LOG"
TSV=$OUT/fleet.tsv
printf 'what\tnodes\trun\tseconds\torigin_bytes\tnode_bytes\n' >"$TSV"

reset_origin_log() { : >"$RL_NGINX_LOG"; kill -USR1 "$RL_NGINX_PID"; sleep 0.2; }
now() { date +%s.%N; }

# all_done PIDS...: waits for every pid; returns 1 when any failed.
all_done() { local p bad=0; for p in "$@"; do wait "$p" || bad=1; done; return $bad; }

run_df11fs() { # N RUN
    local n=$1 r=$2 i pids=() t0 t1 ok=1
    fl_proxy_start "$THROTTLED" || return 1
    local d=$RL_TMP/df11fs.$n.$r
    mkdir -p "$d"
    for i in $(seq "$n"); do
        mkdir -p "$d/m$i"
        "$DF11FS" -f -o cache_dir="$d/c$i",timeout=120 "${FL_URL}df11/" "$d/m$i" >"$d/m$i.log" 2>&1 &
        MNTS+=("$d/m$i")
    done
    for i in $(seq "$n"); do
        for _ in $(seq 300); do grep -q " $d/m$i fuse" /proc/mounts && break; sleep 0.1; done
        grep -q " $d/m$i fuse" /proc/mounts || { echo "mount $i failed"; cat "$d/m$i.log"; return 1; }
    done
    reset_origin_log
    t0=$(now)
    for i in $(seq "$n"); do
        ( find "$d/m$i" -type f -exec cat {} + >/dev/null ) &
        pids+=($!)
    done
    all_done "${pids[@]}" || ok=0
    t1=$(now)
    local ob nb=0 b
    ob=$(rl_log_bytes)
    for i in $(seq "$n"); do
        b=$(awk '$1 == "store_origin_bytes" { print $2 }' "$d/m$i/.df11fs-stats"); nb=$((nb + ${b:-0}))
        fusermount3 -u "$d/m$i"
    done
    [ "$ok" = 1 ] || { echo "df11fs reads failed at N=$n"; tail -3 "$d"/m*.log; }
    printf 'df11fs\t%s\t%s\t%.2f\t%s\t%s\n' "$n" "$r" "$(echo "$t1 - $t0" | bc)" "$ob" "$nb" | tee -a "$TSV"
    fl_proxy_stop
    rm -rf "$d" "$FL_DIR"
}

run_original() { # N RUN
    local n=$1 r=$2 i f pids=() t0 t1 ok=1
    fl_proxy_start "$THROTTLED" || return 1
    local files
    files=$(cd "$ROOT/orig" && find . -type f | sed 's#^\./##')
    reset_origin_log
    t0=$(now)
    for i in $(seq "$n"); do
        ( for f in $files; do curl -sf -o /dev/null "${FL_URL}orig/$f" || exit 1; done ) &
        pids+=($!)
    done
    all_done "${pids[@]}" || ok=0
    t1=$(now)
    [ "$ok" = 1 ] || echo "curl failed at N=$n"
    local ob nb
    ob=$(rl_log_bytes)
    nb=$(awk '{ b += $8 } END { print b + 0 }' "$FL_LOG")
    printf 'original\t%s\t%s\t%.2f\t%s\t%s\n' "$n" "$r" "$(echo "$t1 - $t0" | bc)" "$ob" "$nb" | tee -a "$TSV"
    fl_proxy_stop
    rm -rf "$FL_DIR"
}

for r in $(seq "$RUNS"); do
    for n in $NODES; do
        run_df11fs "$n" "$r"
        run_original "$n" "$r"
    done
done
echo "# done $(date -u '+%H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$LOG"
# Medians per (what, nodes), and the ratios the issue asks for.
awk -F'\t' 'NR > 1 { k = $1 "\t" $2; v[k] = v[k] " " $4; ob[k] = ob[k] " " $5 }
    END { for (k in v) print k "\t" v[k] "\t" ob[k] }' "$TSV" | sort -k1,1 -k2,2n | python3 -c '
import statistics, sys
rows = {}
for line in sys.stdin:
    what, n, secs, ob = line.rstrip("\n").split("\t")
    rows[(what, int(n))] = (statistics.median(map(float, secs.split())), statistics.median(map(int, ob.split())))
ns = sorted({n for _, n in rows})
base = rows[("df11fs", ns[0])][0]
print("nodes  df11fs_s  original_s  df11fs/original  df11fs/df11fs(1)  origin_MB_df11fs  origin_MB_original")
for n in ns:
    d, o = rows.get(("df11fs", n)), rows.get(("original", n))
    if not d or not o: continue
    print(f"{n:5d}  {d[0]:8.2f}  {o[0]:10.2f}  {d[0]/o[0]:15.2f}  {d[0]/base:16.2f}  {d[1]/1e6:16.1f}  {o[1]/1e6:18.1f}")
' | tee -a "$LOG"
