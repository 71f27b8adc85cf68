#!/usr/bin/env bash
# Messages say what is wrong: malformed or too deeply nested header JSON,
# reversed, fractional, negative or out-of-file data_offsets, an empty -o
# (refused before any work), and a full disk (the output is named, never an
# internal temporary file).
. "$(dirname "$0")/cli_lib.bash"

t='"dtype": "BF16", "shape": [512], "data_offsets"'
# says NAME EXIT TEXT CMD...: exit EXIT and TEXT in the message.
says() {
    local name=$1 want=$2 text=$3; shift 3
    "$@" >"$WORK/last.out" 2>"$WORK/last.err"
    local got=$?
    if [ "$got" -ne "$want" ]; then fail "$name" "exit $got, want $want: $(head -c 300 "$WORK/last.err")"
    elif ! grep -qF -- "$text" "$WORK/last.err"; then fail "$name" "no '$text' in: $(head -c 300 "$WORK/last.err")"
    else pass "$name"; fi
}
st_case() { # NAME HEADER TEXT
    write_st "$WORK/$1.safetensors" "$2"
    says "cli_msg_$1" 3 "$3" "$DF11" compress "$WORK/$1.safetensors" -o "$WORK/$1.df11"
    [ -e "$WORK/$1.df11" ] && fail "cli_msg_$1_no_output"
}
st_case malformed '{"w": {'"$t"': [0, 1024]' "malformed JSON"
st_case malformed_where '{"w": {'"$t"': [0, 1024]}, "v": nope}' "offset 81: not a safetensors file: header is malformed JSON"
deep=$(printf '[%.0s' $(seq 1100))$(printf ']%.0s' $(seq 1100))
st_case nested '{"w": '"$deep"'}' "nested too deeply"
st_case not_object '[1, 2]' "an array, not an object"
st_case reversed '{"w": {'"$t"': [1024, 0]}}' "reversed data_offsets [1024, 0]"
st_case fraction '{"w": {'"$t"': [0, 1023.5]}}' "data_offsets end that is not an integer"
st_case negative '{"w": {'"$t"': [-2, 1024]}}' "data_offsets begin that is negative"
st_case string '{"w": {'"$t"': ["0", 1024]}}' "data_offsets begin that is not a number"
st_case past_end '{"w": {'"$t"': [0, 999999]}}' "past the end of the data (4096 bytes after the header)"
st_case bad_shape '{"w": {"dtype": "BF16", "shape": [2.5], "data_offsets": [0, 1024]}}' "shape entry that is not an integer"

# -o '' is a usage error before any work: no output, no temporary file,
# and quickly even for an input that takes a while to compress.
write_st "$WORK/in.safetensors" '{"w": {"dtype": "BF16", "shape": [4194304], "data_offsets": [0, 8388608]}}' 8388608
"$DF11" compress -q "$WORK/in.safetensors" -o "$WORK/in.df11" || fail "cli_msg_compress_in"
mkdir -p "$WORK/cwd" && cd "$WORK/cwd" || exit 0
says "cli_msg_empty_output_compress" 1 "-o needs a file name" "$DF11" compress -T 1 "$WORK/in.safetensors" -o ''
says "cli_msg_empty_output_decompress" 1 "-o needs a file name" "$DF11" decompress "$WORK/in.df11" -o ''
[ -z "$(ls -A "$WORK/cwd")" ] && pass "cli_msg_empty_output_nothing_written" || fail "cli_msg_empty_output_nothing_written" "$(ls -A "$WORK/cwd")"
cd "$WORK" || exit 0
