#!/usr/bin/env bash
# --help, --version, per-command help, and usage errors (exit 1).
. "$(dirname "$0")/cli_lib.bash"

rc "cli_help" 0 "$DF11" --help
for code in 0 1 2 3 4 5 6; do
    grep -qE "^ +$code +[a-zA-Z]" "$WORK/last.out" && pass "cli_help_exit_code_$code" \
        || fail "cli_help_exit_code_$code" "not documented in --help"
done
rc "cli_version" 0 "$DF11" --version
want=$(sed -n 's/^#define DF11_LIB_VERSION "\(.*\)"/\1/p' "$ROOT/codec/df11.h")
grep -qF "$want" "$WORK/last.out" && pass "cli_version_string" || fail "cli_version_string" "$(cat "$WORK/last.out")"
for c in compress decompress verify info bench; do
    rc "cli_help_$c" 0 "$DF11" $c --help
    grep -q "Usage: df11 $c" "$WORK/last.out" && pass "cli_help_${c}_text" || fail "cli_help_${c}_text"
    rc "cli_unknown_option_$c" 1 "$DF11" $c --no-such-option x
    rc "cli_unknown_short_option_$c" 1 "$DF11" $c -Y x
    rc "cli_missing_operand_$c" 1 "$DF11" $c
done
rc "cli_help_command" 0 "$DF11" help verify
rc "cli_no_command" 1 "$DF11"
rc "cli_unknown_command" 1 "$DF11" squash x
rc "cli_bad_threads" 1 "$DF11" verify -T lots x.df11
rc "cli_negative_threads" 1 "$DF11" verify -T -3 x.df11
rc "cli_missing_argument" 1 "$DF11" compress x.safetensors -o
rc "cli_o_with_two_inputs" 1 "$DF11" compress a.safetensors b.safetensors -o c.df11
rc "cli_o_and_c" 1 "$DF11" decompress a.df11 -o b -c
rc "cli_compress_stdout_one_input" 1 "$DF11" compress -c a.safetensors b.safetensors
rc "cli_bad_chunk_log2" 1 "$DF11" compress --chunk-log2 30 a.safetensors
# Usage errors go to stderr, never stdout.
"$DF11" compress --no-such-option >"$WORK/o" 2>"$WORK/e"
[ ! -s "$WORK/o" ] && [ -s "$WORK/e" ] && pass "cli_usage_on_stderr" || fail "cli_usage_on_stderr"
