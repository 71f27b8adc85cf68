#!/usr/bin/env bash
# Tensor names are data from the file: info --json stays valid JSON (strict
# UTF-8, names with NUL whole, invalid UTF-8 as U+FFFD plus name_hex), the
# text table shows control bytes C-style, and no message or table ever
# carries a raw control byte to the terminal.
. "$(dirname "$0")/cli_lib.bash"

st="$WORK/names.safetensors"
t='"dtype": "BF16", "shape": [512], "data_offsets"'
write_st "$st" '{"esc\u001b[31mred": {'"$t"': [0, 1024]}, "nul\u0000x": {'"$t"': [1024, 2048]}, "nul\u0000y": {'"$t"': [2048, 3072]}, "bad\xff\xfe": {'"$t"': [3072, 4096]}, "__metadata__\u0000": {'"$t"': [0, 0]}}'
ok "cli_names_compress" "$DF11" compress -q "$st" -o "$WORK/names.df11"
"$DF11" decompress -c "$WORK/names.df11" >"$WORK/back" 2>/dev/null
same "cli_names_roundtrip" "$st" "$WORK/back"

rc "cli_names_json_exit" 0 "$DF11" info --json "$WORK/names.df11"
cp "$WORK/last.out" "$WORK/names.json"
why=$("$PY" - "$WORK/names.json" <<'PYEOF' 2>&1
import json, sys
raw = open(sys.argv[1], "rb").read()
d = json.loads(raw.decode("utf-8"))      # strict: the output is UTF-8
got = {t["name"]: t.get("name_hex") for t in d["tensors"]}
want = {"esc\x1b[31mred": None, "nul\x00x": None, "nul\x00y": None,
        "bad\ufffd\ufffd": "626164fffe", "__metadata__\x00": None}
if got != want or d["tensor_count"] != 5:
    print("names %r, want %r" % (got, want)); sys.exit(1)
PYEOF
)
[ $? -eq 0 ] && pass "cli_names_json_valid_and_whole" || fail "cli_names_json_valid_and_whole" "$why"

rc "cli_names_text_exit" 0 "$DF11" info "$WORK/names.df11"
if LC_ALL=C grep -q $'[\x01-\x09\x0b-\x1f\x7f\xff\xfe]' "$WORK/last.out"; then
    fail "cli_names_text_no_raw_control" "$(LC_ALL=C grep -c $'\x1b' "$WORK/last.out") raw ESC lines"
else pass "cli_names_text_no_raw_control"; fi
missing=""
for n in 'esc\x1b[31mred' 'nul\0x' 'nul\0y' 'bad\xff\xfe' '__metadata__\0'; do
    grep -qF "$n" "$WORK/last.out" || missing="$missing $n"
done
[ -z "$missing" ] && pass "cli_names_text_escaped" || fail "cli_names_text_escaped" "missing:$missing"

# A message that quotes a name (here: reversed offsets) escapes it too.
write_st "$WORK/msg.safetensors" '{"x\u001b]0;pwned\u0007": {'"$t"': [8, 0]}}'
rc "cli_names_message_exit" 3 "$DF11" compress "$WORK/msg.safetensors" -o "$WORK/msg.df11"
if LC_ALL=C grep -q $'[\x01-\x09\x0b-\x1f\x7f]' "$WORK/last.err"; then fail "cli_names_message_no_raw_control" "$(cat -v "$WORK/last.err")"
elif grep -qF 'x\x1b]0;pwned\x07' "$WORK/last.err"; then pass "cli_names_message_no_raw_control"
else fail "cli_names_message_no_raw_control" "$(head -c 300 "$WORK/last.err")"; fi
# A path with a control byte in a message.
p="$WORK/"$'evil\x1b[2J'".df11"
echo short >"$p"
rc "cli_names_path_exit" 3 "$DF11" verify "$p"
LC_ALL=C grep -q $'\x1b' "$WORK/last.err" && fail "cli_names_path_escaped" "$(cat -v "$WORK/last.err")" \
    || pass "cli_names_path_escaped"
