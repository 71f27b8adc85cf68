#!/usr/bin/env bash
# remote_http: a store served by nginx over HTTP and HTTPS (self-signed
# certificate). df11 verify / decompress of object URLs, df11 manifest URL
# (every file of the store read and checked), 404 and TLS errors, and the
# offline start from a node cache once the origin is gone.
set -u
. "$(dirname "$0")/remote_lib.sh"
rl_init
if ! rl_have_nginx; then rl_skip remote_http "nginx not installed (scripts/install-deps.sh)"; exit 0; fi
S=$RL_TMP/store
rl_gen_store "$S" || { rl_fail remote_http.store "could not build the store"; exit 1; }
export DF11_TIMEOUT=10

for proto in http https; do
    if [ $proto = https ]; then rl_nginx_start "$S" https; else rl_nginx_start "$S"; fi ||
        { rl_fail "remote_http.$proto.nginx" "nginx did not start"; continue; }
    U=$RL_HTTP_URL
    [ $proto = https ] && export CURL_CA_BUNDLE=$RL_CA_FILE
    ok=1
    for f in bf16 mixed empty many_chunks; do
        timeout 60 "$DF11" verify -q "${U}$f.df11" || ok=0
    done
    rl_check "remote_http.$proto.verify_url" [ $ok = 1 ]
    ok=1
    for f in bf16 mixed many_chunks; do
        timeout 60 "$DF11" decompress -q -c "${U}$f.df11" >"$RL_TMP/out" || ok=0
        "$DF11" decompress -q -c "$S/$f.df11" | cmp -s - "$RL_TMP/out" || ok=0
    done
    rl_check "remote_http.$proto.decompress_url_cmp" [ $ok = 1 ]
    rm -f "$RL_TMP/o.safetensors"
    timeout 60 "$DF11" decompress -q "${U}sub/f32.df11" -o "$RL_TMP/o.safetensors" &&
        "$DF11" decompress -q -c "$S/sub/f32.df11" | cmp -s - "$RL_TMP/o.safetensors"
    rl_check "remote_http.$proto.decompress_url_to_file" [ $? = 0 ]
    out=$(timeout 120 "$DF11" manifest "$U" 2>&1)
    rl_check "remote_http.$proto.store_check" grep -q "7 files OK" <<<"$out"
    out=$(DF11_TIMEOUT=3 timeout 30 "$DF11" verify "${U}nothere.df11" 2>&1); rc=$?
    rl_check "remote_http.$proto.404_object" eval '[ $rc = 2 ] && grep -q "nothere.df11.*404" <<<"$out"'
    out=$(DF11_TIMEOUT=3 timeout 30 "$DF11" manifest "${U}missing/" 2>&1); rc=$?
    rl_check "remote_http.$proto.404_store" eval '[ $rc = 2 ] && grep -q "404.*df11 manifest" <<<"$out"'
    if [ $proto = https ]; then
        out=$(CURL_CA_BUNDLE= DF11_TIMEOUT=3 timeout 30 "$DF11" verify "${U}bf16.df11" 2>&1); rc=$?
        rl_check remote_http.https.untrusted_refused eval '[ $rc = 2 ] && grep -qi "certificate" <<<"$out"'
        CURL_CA_BUNDLE= DF11_INSECURE=1 timeout 30 "$DF11" verify -q "${U}bf16.df11"
        rl_check remote_http.https.insecure_accepted [ $? = 0 ]
        unset CURL_CA_BUNDLE
    fi
    rl_nginx_stop
done

# A node cache, then the origin gone: the cached store still reads.
rl_nginx_start "$S" || { rl_fail remote_http.cache.nginx "nginx did not start"; exit 1; }
U=$RL_HTTP_URL
C=$RL_TMP/cache
DF11_CACHE_DIR=$C timeout 120 "$DF11" manifest -q "$U"
before=$(rl_log_bytes)
out=$(DF11_CACHE_DIR=$C timeout 120 "$DF11" manifest -v "$U" 2>&1)
after=$(rl_log_bytes)
man=$(stat -c %s "$S/.df11-manifest.json")
rl_check remote_http.cache.warm_fetches_only_manifest eval \
    '[ $((after - before)) = "$man" ] && grep -q "origin_requests 1$" <<<"$out"'
rl_nginx_stop
out=$(DF11_TIMEOUT=3 DF11_CACHE_DIR=$C timeout 60 "$DF11" manifest -v "$U" 2>&1)
rl_check remote_http.cache.offline_start eval 'grep -q "7 files OK" <<<"$out" && grep -q "^offline 1" <<<"$out"'
out=$(DF11_TIMEOUT=3 timeout 60 "$DF11" manifest "$U" 2>&1); rc=$?
rl_check remote_http.cache.unreachable_without_cache eval '[ $rc = 2 ] && grep -q "unreachable" <<<"$out"'
exit 0
