#!/usr/bin/env bash
# verify passes good files and exits 4 on damaged ones; every command exits
# 3 on input of the wrong kind; failures leave no output file behind.
. "$(dirname "$0")/cli_lib.bash"

FX="$WORK/fx"
if ! make_fixtures "$FX"; then fail "cli_fixtures" "fixture generator failed"; exit 0; fi
src=$(ls -S "$FX"/*.safetensors | grep -v truncated | head -1) # largest: many chunks

ok "cli_err_compress" "$DF11" compress -q "$src" -o "$WORK/good.df11"
rc "cli_verify_good" 0 "$DF11" verify "$WORK/good.df11"
grep -q "good.df11: OK" "$WORK/last.out" && pass "cli_verify_good_says_ok" || fail "cli_verify_good_says_ok"
rc "cli_verify_quiet_silent" 0 "$DF11" verify -q "$WORK/good.df11"
[ ! -s "$WORK/last.out" ] && pass "cli_verify_quiet_output" || fail "cli_verify_quiet_output"

# Damage one payload byte: at the first chunk (payloads start at 128) and in
# the middle of the payload area.
idx=$(index_offset "$WORK/good.df11")
for where in first middle; do
    c="$WORK/bad_$where.df11"
    cp "$WORK/good.df11" "$c"
    if [ $where = first ]; then off=130; else off=$(( (128 + idx) / 2 )); fi
    flip_byte "$c" "$off"
    cmp -s "$c" "$WORK/good.df11" && fail "cli_corrupt_$where" "byte not flipped"
    rc "cli_verify_corrupt_$where" 4 "$DF11" verify "$c"
    grep -q "bad_$where.df11" "$WORK/last.err" && pass "cli_verify_corrupt_${where}_names_file" \
        || fail "cli_verify_corrupt_${where}_names_file" "$(head -c 200 "$WORK/last.err")"
    rc "cli_decompress_corrupt_$where" 4 "$DF11" decompress "$c" -o "$WORK/bad_$where.out"
    [ ! -e "$WORK/bad_$where.out" ] && pass "cli_decompress_corrupt_${where}_no_output" \
        || fail "cli_decompress_corrupt_${where}_no_output"
    # --no-sha256 drops the whole-file hash, not the chunk checks
    rc "cli_decompress_no_sha256_corrupt_$where" 4 "$DF11" decompress --no-sha256 "$c" -o "$WORK/bad_$where.out"
    [ ! -e "$WORK/bad_$where.out" ] && pass "cli_decompress_no_sha256_corrupt_${where}_no_output" \
        || fail "cli_decompress_no_sha256_corrupt_${where}_no_output"
done
# Several files: good ones still reported, first failure decides the code.
rc "cli_verify_many" 4 "$DF11" verify "$WORK/good.df11" "$WORK/bad_middle.df11" "$WORK/good.df11"
[ "$(grep -c ': OK' "$WORK/last.out")" -eq 2 ] && pass "cli_verify_many_goes_on" || fail "cli_verify_many_goes_on"

# Damaged index (last byte of the file) and a truncated file.
cp "$WORK/good.df11" "$WORK/badidx.df11"
flip_byte "$WORK/badidx.df11" $(( $(stat -c %s "$WORK/good.df11") - 1 ))
rc "cli_verify_corrupt_index" 4 "$DF11" verify "$WORK/badidx.df11"
head -c $(( idx / 2 )) "$WORK/good.df11" >"$WORK/trunc.df11"
rc "cli_verify_truncated" 4 "$DF11" verify "$WORK/trunc.df11"

# Not a .df11 file at all: 3 from every reading command.
not="$FX/not_safetensors.bin"
if [ ! -f "$not" ]; then head -c 4096 /dev/urandom >"$WORK/not.bin"; not="$WORK/not.bin"; fi
cp "$src" "$WORK/plain.safetensors"
for f in "$not" "$WORK/plain.safetensors"; do
    n=$(basename "$f")
    rc "cli_verify_not_df11_$n" 3 "$DF11" verify "$f"
    rc "cli_info_not_df11_$n" 3 "$DF11" info "$f"
    rc "cli_bench_not_df11_$n" 3 "$DF11" bench -r 1 "$f"
    rc "cli_decompress_not_df11_$n" 3 "$DF11" decompress "$f" -o "$WORK/nd.out"
    [ ! -e "$WORK/nd.out" ] && pass "cli_decompress_not_df11_${n}_no_output" || fail "cli_decompress_not_df11_${n}_no_output"
done
: >"$WORK/empty.df11"
rc "cli_verify_empty_file" 3 "$DF11" verify "$WORK/empty.df11"
echo "hello" >"$WORK/short.df11"
rc "cli_verify_short_text" 3 "$DF11" verify "$WORK/short.df11"
# A wrong major version is "not a format we read".
cp "$WORK/good.df11" "$WORK/v2.df11"
"$PY" -c 'import sys; f=open(sys.argv[1],"r+b"); f.seek(8); f.write(b"\x02\x00")' "$WORK/v2.df11"
rc "cli_verify_version" 3 "$DF11" verify "$WORK/v2.df11"

# Not a safetensors file: compress exits 3 and writes nothing.
rc "cli_compress_not_safetensors" 3 "$DF11" compress "$not" -o "$WORK/ns.df11"
[ ! -e "$WORK/ns.df11" ] && pass "cli_compress_not_safetensors_no_output" || fail "cli_compress_not_safetensors_no_output"
if [ -f "$FX/truncated.safetensors" ]; then
    rc "cli_compress_truncated_safetensors" 3 "$DF11" compress "$FX/truncated.safetensors" -o "$WORK/tr.df11"
fi
rc "cli_compress_missing_input" 2 "$DF11" compress "$WORK/does-not-exist.safetensors"
rc "cli_verify_missing_input" 2 "$DF11" verify "$WORK/does-not-exist.df11"
mkdir -p "$WORK/ro" && chmod 555 "$WORK/ro"
if [ "$(id -u)" -ne 0 ]; then
    rc "cli_compress_unwritable_dir" 2 "$DF11" compress "$src" -o "$WORK/ro/x.df11"
fi
left=$(temp_files "$WORK" | wc -l)
[ "$left" -eq 0 ] && pass "cli_errors_no_temp_files" || fail "cli_errors_no_temp_files" "$left left"
