#!/usr/bin/env bash
# Round trip of the real checkpoints in /work/shared/models (sha256sum),
# plus verify and the info tensor count. SKIP when there are none.
. "$(dirname "$0")/cli_lib.bash"

MODELS="${DF11_MODELS:-/work/shared/models}"
shopt -s nullglob
files=("$MODELS"/*.safetensors)
if [ ${#files[@]} -eq 0 ]; then
    echo "SKIP cli_models no .safetensors files in $MODELS"
    exit 0
fi
for src in "${files[@]}"; do
    base=$(basename "$src" .safetensors)
    ok "cli_model_compress_$base" "$DF11" compress -q "$src" -o "$WORK/$base.df11"
    ok "cli_model_decompress_$base" "$DF11" decompress -q "$WORK/$base.df11" -o "$WORK/$base.safetensors"
    same "cli_model_roundtrip_$base" "$src" "$WORK/$base.safetensors"
    rm -f "$WORK/$base.safetensors"
    "$DF11" decompress -c "$WORK/$base.df11" 2>/dev/null >"$WORK/$base.stdout"
    same "cli_model_stdout_$base" "$src" "$WORK/$base.stdout"
    rm -f "$WORK/$base.stdout"
    ok "cli_model_verify_$base" "$DF11" verify "$WORK/$base.df11"
    want=$(header_tensor_count "$src")
    got=$("$DF11" info --json "$WORK/$base.df11" 2>/dev/null | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["tensor_count"])' 2>/dev/null)
    [ -n "$want" ] && [ "$got" = "$want" ] && pass "cli_model_info_count_$base" \
        || fail "cli_model_info_count_$base" "$got != $want"
    # Real BF16 weights must actually shrink (FORMAT.md: ~11 bits/weight).
    if [[ "$base" == *bf16* ]]; then
        s1=$(stat -c %s "$src"); s2=$(stat -c %s "$WORK/$base.df11")
        [ $((s2 * 100)) -lt $((s1 * 80)) ] && pass "cli_model_smaller_$base" \
            || fail "cli_model_smaller_$base" "$s2 of $s1 bytes"
    fi
    rm -f "$WORK/$base.df11"
done
