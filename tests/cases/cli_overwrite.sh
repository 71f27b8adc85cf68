#!/usr/bin/env bash
# Outputs are never replaced without -f (exit 5, output untouched); -f
# replaces them; an output that is the input is refused.
. "$(dirname "$0")/cli_lib.bash"

FX="$WORK/fx"
if ! make_fixtures "$FX"; then fail "cli_fixtures" "fixture generator failed"; exit 0; fi
a=$(ls "$FX"/*.safetensors | grep -v truncated | head -1)
b=$(ls "$FX"/*.safetensors | grep -v truncated | tail -1)

echo "precious" >"$WORK/out.df11"
rc "cli_compress_refuses_existing" 5 "$DF11" compress "$a" -o "$WORK/out.df11"
[ "$(cat "$WORK/out.df11")" = precious ] && pass "cli_compress_existing_untouched" \
    || fail "cli_compress_existing_untouched"
ok "cli_compress_force" "$DF11" compress -f "$a" -o "$WORK/out.df11"
"$DF11" decompress -c "$WORK/out.df11" >"$WORK/a.back" 2>/dev/null
same "cli_compress_force_content" "$a" "$WORK/a.back"

# A second file forced over the first gives the second file's content.
ok "cli_compress_force_other" "$DF11" compress -f "$b" -o "$WORK/out.df11"
"$DF11" decompress -c "$WORK/out.df11" >"$WORK/b.back" 2>/dev/null
same "cli_compress_force_other_content" "$b" "$WORK/b.back"

echo "precious" >"$WORK/out.safetensors"
rc "cli_decompress_refuses_existing" 5 "$DF11" decompress "$WORK/out.df11" -o "$WORK/out.safetensors"
[ "$(cat "$WORK/out.safetensors")" = precious ] && pass "cli_decompress_existing_untouched" \
    || fail "cli_decompress_existing_untouched"
ok "cli_decompress_force" "$DF11" decompress -f "$WORK/out.df11" -o "$WORK/out.safetensors"
same "cli_decompress_force_content" "$b" "$WORK/out.safetensors"

# Default output name existing: same rule.
cp "$a" "$WORK/d.safetensors"
ok "cli_default_first" "$DF11" compress "$WORK/d.safetensors"
rc "cli_default_refuses_existing" 5 "$DF11" compress "$WORK/d.safetensors"
rc "cli_default_decompress_refuses_source" 5 "$DF11" decompress "$WORK/d.df11"
same "cli_default_source_untouched" "$a" "$WORK/d.safetensors"

# -o naming the input itself must not destroy it, even with -f.
cp "$a" "$WORK/self.safetensors"
rc "cli_same_file_refused" 1 "$DF11" compress -f "$WORK/self.safetensors" -o "$WORK/self.safetensors"
same "cli_same_file_untouched" "$a" "$WORK/self.safetensors"
