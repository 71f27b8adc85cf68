#!/usr/bin/env bash
# remote_cache: the node cache against a real origin (nginx, its access
# log as the oracle of what was fetched):
#  - two processes on one cache folder reading one store at once fetch
#    each block once;
#  - kill -9 in the middle of fetches, then a restart: right bytes, what
#    was cached is reused, the dead process's temporary files are cleaned;
#  - flipped and truncated block files are fetched again, only they;
#  - a small cache_dir_size keeps the cache under it;
#  - the origin gone after a warm read: everything still reads.
set -u
. "$(dirname "$0")/remote_lib.sh"
rl_init
if ! rl_have_nginx; then rl_skip remote_cache "nginx not installed (scripts/install-deps.sh)"; exit 0; fi
S=$RL_TMP/store
rl_gen_store "$S" || { rl_fail remote_cache.store "could not build the store"; exit 1; }
head -c 40000000 /dev/urandom >"$S/sub/big.bin"     # 10 blocks of 4 MiB
"$DF11" manifest -q "$S"
# 8 MB/s per connection: the readers overlap, a kill lands mid-fetch.
rl_nginx_start "$S" "" 8m || { rl_fail remote_cache.nginx "nginx did not start"; exit 1; }
U=$RL_HTTP_URL
export DF11_TIMEOUT=30
stored=$(find "$S" -type f ! -name .df11-manifest.json -printf '%s\n' | awk '{ s += $1 } END { print s }')
objects() { rl_log_bytes '^/store/[^.]'; }   # every URI but the manifest's
blocks_in() { find "$1" -name '*.blk' | wc -l; }

C=$RL_TMP/c1
DF11_CACHE_DIR=$C timeout 120 "$DF11" manifest -q "$U" & a=$!
DF11_CACHE_DIR=$C timeout 120 "$DF11" manifest -q "$U" & b=$!
wait $a; ra=$?; wait $b; rb=$?
got=$(objects)
rl_check remote_cache.two_processes_each_block_once eval '[ $ra = 0 ] && [ $rb = 0 ] && [ "$got" = "$stored" ]'
echo "# two processes: $got bytes of objects from the origin, store holds $stored"

# kill -9 while fetching (read-ahead on 8 connections), then again.
C=$RL_TMP/c2
: >"$RL_NGINX_LOG"
DF11_CACHE_DIR=$C "$DF11" manifest -q "$U" & k=$!
sleep 1
kill -9 $k; wait $k 2>/dev/null
partial=$(objects)
cached=$(blocks_in "$C")
out=$(DF11_CACHE_DIR=$C timeout 120 "$DF11" manifest -v "$U" 2>&1); rc=$?
second=$(( $(objects) - partial ))
rl_check remote_cache.kill9_restart_right_bytes eval '[ $rc = 0 ] && grep -q "8 files OK" <<<"$out"'
rl_check remote_cache.kill9_cache_reused eval '[ "$cached" -gt 0 ] && [ "$second" -lt "$stored" ]'
rl_check remote_cache.kill9_tmp_cleaned eval '[ -z "$(find "$C" -name ".tmp-$k-*")" ]'
echo "# kill -9 after $partial bytes ($cached blocks on disk); the restart fetched $second of $stored"

# Damaged block files: only they are fetched again.
blk=($(find "$C" -name '*.blk' -size +1M | head -2))
printf '\x5a' | dd of="${blk[0]}" bs=1 seek=100000 conv=notrunc status=none
truncate -s 5000 "${blk[1]}"
: >"$RL_NGINX_LOG"
out=$(DF11_CACHE_DIR=$C timeout 120 "$DF11" manifest -v "$U" 2>&1); rc=$?
rl_check remote_cache.damaged_blocks_fetched_again eval \
    '[ $rc = 0 ] && grep -q "^cache_bad_blocks 2$" <<<"$out" && [ "$(rl_log_requests "^/store/[^.]")" = 2 ]'

# A cache smaller than the store stays under its limit.
C=$RL_TMP/c3
lim=$((12 * 1024 * 1024))
out=$(DF11_CACHE_DIR=$C DF11_CACHE_SIZE=$lim timeout 120 "$DF11" manifest -v "$U" 2>&1); rc=$?
used=$(find "$C" -name '*.blk' -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
rl_check remote_cache.limit_kept eval '[ $rc = 0 ] && [ "$used" -le $lim ] && grep -q "^cache_evictions [1-9]" <<<"$out"'
echo "# limit $lim: $used bytes of blocks on disk"

# The origin gone after a warm read.
rl_nginx_stop
out=$(DF11_TIMEOUT=3 DF11_CACHE_DIR=$RL_TMP/c2 timeout 60 "$DF11" manifest -v "$U" 2>&1); rc=$?
rl_check remote_cache.origin_stopped_cached_reads eval \
    '[ $rc = 0 ] && grep -q "8 files OK" <<<"$out" && grep -q "^offline 1$" <<<"$out"'
exit 0
