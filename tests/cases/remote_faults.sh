#!/usr/bin/env bash
# remote_faults: a store behind tests/tools/faultproxy.py in front of nginx.
# Transient faults (dropped and reset connections, truncated and corrupted
# bodies, 500s, shifted ranges, a stall) are retried and every byte comes
# out right; persistent ones fail cleanly within the deadline with a message
# naming the URL and the range; then the origin recovers and everything
# reads again. Every command runs under timeout: nothing may hang.
set -u
. "$(dirname "$0")/remote_lib.sh"
rl_init
if ! rl_have_nginx; then rl_skip remote_faults "nginx not installed (scripts/install-deps.sh)"; exit 0; fi
S=$RL_TMP/store
rl_gen_store "$S" || { rl_fail remote_faults.store "could not build the store"; exit 1; }
rl_nginx_start "$S" || { rl_fail remote_faults.nginx "nginx did not start"; exit 1; }
rl_proxy_start "127.0.0.1:$RL_NGINX_PORT" || { rl_fail remote_faults.proxy "proxy did not start"; exit 1; }
U="http://127.0.0.1:$RL_PROXY_PORT/store/"
DEADLINE=3
export DF11_TIMEOUT=$DEADLINE
"$DF11" decompress -q -c "$S/many_chunks.df11" >"$RL_TMP/want"

for mode in drop reset truncate flip 500 shift stall; do
    # Transient: the next two requests (one for a stall) fail, then pass.
    n=2; [ $mode = stall ] && n=1
    rl_proxy "$mode $n"
    out=$(timeout 60 "$DF11" manifest "$U" 2>&1)
    rl_check "remote_faults.$mode.transient_store_check" grep -q "7 files OK" <<<"$out"
    rl_proxy "$mode $n"
    timeout 60 "$DF11" decompress -q -c "${U}many_chunks.df11" 2>"$RL_TMP/err" | cmp -s - "$RL_TMP/want"
    rc=("${PIPESTATUS[@]}")
    if [ $mode = flip ]; then
        # No manifest behind a bare object URL: the reader's chunk checksums
        # catch the flipped byte (exit 4), never a wrong byte out.
        rl_check "remote_faults.flip.object_url_caught" eval \
            '[ ${rc[0]} = 0 -a ${rc[1]} = 0 ] || { [ ${rc[0]} = 4 ] && grep -q "DF11_E_" "$RL_TMP/err"; }'
    else
        rl_check "remote_faults.$mode.transient_object_url" eval '[ ${rc[0]} = 0 -a ${rc[1]} = 0 ]'
    fi
    # Persistent: a clean error within the deadline (plus one stalled
    # attempt's slack), naming the URL and the range.
    rl_proxy "$mode"
    start=$(date +%s%N)
    out=$(timeout 60 "$DF11" verify "${U}bf16.df11" 2>&1); rc=$?
    ms=$((($(date +%s%N) - start) / 1000000))
    rl_check "remote_faults.$mode.persistent_fails_in_time" eval \
        '[ $rc -ne 0 ] && [ $rc -ne 124 ] && [ $ms -lt $(((DEADLINE * 2 + 3) * 1000)) ]'
    if [ $mode != flip ]; then
        rl_check "remote_faults.$mode.message_names_url_and_range" \
            grep -q "127.0.0.1:$RL_PROXY_PORT/store/bf16.df11: bytes [0-9]*-[0-9]*" <<<"$out"
    fi
    echo "# $mode: persistent failure after ${ms} ms: $out"
done

# Corrupted bytes with a manifest: the block hashes refuse them (a clean
# I/O error, not a checksum failure deeper down), also for plain files.
rl_proxy flip
out=$(timeout 60 "$DF11" manifest "$U" 2>&1); rc=$?
rl_check remote_faults.flip.corrupt_manifest_refused eval '[ $rc = 2 ] && grep -q "manifest fails its checksum" <<<"$out"'
rl_proxy flip - bf16.df11
out=$(timeout 60 "$DF11" manifest "$U" 2>&1); rc=$?
rl_check remote_faults.flip.block_hashes_refuse eval \
    '[ $rc = 2 ] && grep -q "bf16.df11: bytes 0-[0-9]*: the bytes received do not match the manifest" <<<"$out"'
rl_proxy flip 1 tokenizer.bin
out=$(timeout 60 "$DF11" manifest -v "$U" 2>&1); rc=$?
rl_check remote_faults.flip.plain_file_fetched_again eval '[ $rc = 0 ] && grep -q "^origin_retries 1$" <<<"$out"'

# Recovery: the same commands work again.
rl_proxy pass
out=$(timeout 60 "$DF11" manifest "$U" 2>&1)
rl_check remote_faults.recovered grep -q "7 files OK" <<<"$out"
exit 0
