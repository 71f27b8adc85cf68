#!/usr/bin/env bash
# df11 compress / decompress / decompress -c reproduce every generated
# fixture byte for byte (checked with sha256sum), keep the sources, and use
# the documented default output names.
. "$(dirname "$0")/cli_lib.bash"

FX="$WORK/fx"
if ! make_fixtures "$FX"; then fail "cli_fixtures" "fixture generator failed"; exit 0; fi

n=0
for src in "$FX"/*.safetensors; do
    base=$(basename "$src" .safetensors)
    # Files the generator makes invalid on purpose are covered by cli_errors.sh.
    [ "$base" = truncated ] && continue
    n=$((n + 1))
    before=$(sha256sum <"$src")
    ok "cli_compress_$base" "$DF11" compress -q "$src" -o "$WORK/$base.df11"
    ok "cli_decompress_$base" "$DF11" decompress -q "$WORK/$base.df11" -o "$WORK/$base.out"
    same "cli_roundtrip_$base" "$src" "$WORK/$base.out"
    "$DF11" decompress -c "$WORK/$base.df11" >"$WORK/$base.stdout" 2>"$WORK/err"
    same "cli_stdout_$base" "$src" "$WORK/$base.stdout"
    [ "$(sha256sum <"$src")" = "$before" ] && pass "cli_source_kept_$base" || fail "cli_source_kept_$base"
done
[ "$n" -ge 1 ] && pass "cli_roundtrip_fixture_count" || fail "cli_roundtrip_fixture_count" "no fixtures"

# Default names: x.safetensors -> x.df11 -> x.safetensors; other names get
# .df11 appended, and decompress refuses to guess without -o.
src=$(ls "$FX"/*.safetensors | head -1)
mkdir -p "$WORK/names" && cp "$src" "$WORK/names/m.safetensors"
ok "cli_default_name_compress" "$DF11" compress "$WORK/names/m.safetensors"
[ -f "$WORK/names/m.df11" ] && pass "cli_default_name_df11" || fail "cli_default_name_df11"
[ -f "$WORK/names/m.safetensors" ] && pass "cli_default_keeps_source" || fail "cli_default_keeps_source"
mv "$WORK/names/m.safetensors" "$WORK/names/orig"
ok "cli_default_name_decompress" "$DF11" decompress "$WORK/names/m.df11"
same "cli_default_name_roundtrip" "$WORK/names/orig" "$WORK/names/m.safetensors"
cp "$src" "$WORK/names/weights.bin"
ok "cli_default_name_append" "$DF11" compress "$WORK/names/weights.bin"
# safetensors content under another name keeps its whole name: NAME.df11n
[ -f "$WORK/names/weights.bin.df11n" ] && pass "cli_default_name_appended" || fail "cli_default_name_appended"
rc "cli_decompress_unknown_suffix" 1 "$DF11" decompress "$WORK/names/weights.bin"

# compress -c: the encoder writes front to back, so a pipe gets exactly
# the bytes a file gets.
"$DF11" compress -q -c "$src" | cat >"$WORK/names/piped.df11"
"$DF11" compress -q -f "$src" -o "$WORK/names/file.df11"
same "cli_compress_stdout_pipe_equals_file" "$WORK/names/file.df11" "$WORK/names/piped.df11"
"$DF11" decompress -q -c "$WORK/names/piped.df11" >"$WORK/names/piped.back"
same "cli_compress_stdout_roundtrip" "$src" "$WORK/names/piped.back"

# Thread counts must not change the bytes.
for t in 1 3; do
    ok "cli_threads_$t" "$DF11" compress -q -T $t "$src" -o "$WORK/t$t.df11"
    "$DF11" decompress -T $t -c "$WORK/t$t.df11" >"$WORK/t$t.out" 2>/dev/null
    same "cli_threads_${t}_roundtrip" "$src" "$WORK/t$t.out"
done

# --no-sha256 (chunk checksums only) gives the same bytes, to a file and
# to a pipe, one file and a folder.
"$DF11" decompress -q --no-sha256 -T 2 -c "$WORK/t1.df11" >"$WORK/nosha.out"
same "cli_no_sha256_stdout" "$src" "$WORK/nosha.out"
ok "cli_no_sha256_file" "$DF11" decompress -q --no-sha256 "$WORK/t3.df11" -o "$WORK/nosha.file"
same "cli_no_sha256_file_roundtrip" "$src" "$WORK/nosha.file"

# Nothing but the outputs is left behind (no temporary files).
left=$(temp_files "$WORK" | wc -l)
[ "$left" -eq 0 ] && pass "cli_no_temp_files" || fail "cli_no_temp_files" "$left left"
