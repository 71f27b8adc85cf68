#!/usr/bin/env bash
# df11 info --json is valid JSON whose tensor table matches the original
# safetensors header as read by Python, and whose file facts match stat and
# sha256sum; the text table names every tensor.
. "$(dirname "$0")/cli_lib.bash"

FX="$WORK/fx"
if ! make_fixtures "$FX"; then fail "cli_fixtures" "fixture generator failed"; exit 0; fi

check_json() { # NAME SRC DF11 JSON
    "$PY" - "$2" "$3" "$4" <<'PYEOF'
import hashlib, json, os, struct, sys
src, df11, js = sys.argv[1:4]
d = json.load(open(js))
raw = open(src, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
hdr = json.loads(raw[8:8 + n])
want = {k: v for k, v in hdr.items() if k != "__metadata__"}
errs = []
def check(what, got, exp):
    if got != exp:
        errs.append("%s: got %r want %r" % (what, got, exp))
check("tensor_count", d["tensor_count"], len(want))
check("tensors listed", len(d["tensors"]), len(want))
check("original_size", d["original_size"], len(raw))
check("stored_size", d["stored_size"], os.path.getsize(df11))
check("sha256", d["sha256"], hashlib.sha256(raw).hexdigest())
tot = 0
for t in d["tensors"]:
    h = want.get(t["name"])
    if h is None:
        errs.append("unknown tensor %r" % t["name"]); continue
    el = 1
    for s in h["shape"]:
        el *= s
    tot += el
    check(t["name"] + " dtype", t["dtype"], h["dtype"])
    check(t["name"] + " elements", t["elements"], el)
    check(t["name"] + " offset", t["offset"], 8 + n + h["data_offsets"][0])
    check(t["name"] + " bytes", t["bytes"], h["data_offsets"][1] - h["data_offsets"][0])
    if t["codec"] not in ("RAW", "ZSTD", "EXP", "MIXED"):
        errs.append("codec %r" % t["codec"])
check("names", sorted(t["name"] for t in d["tensors"]), sorted(want))
check("totals.elements", d["totals"]["elements"], tot)
print("\n".join(errs[:5]))
sys.exit(1 if errs else 0)
PYEOF
}

for src in "$FX"/*.safetensors; do
    base=$(basename "$src" .safetensors)
    [ "$base" = truncated ] && continue
    "$DF11" compress -q "$src" -o "$WORK/$base.df11" || { fail "cli_info_$base" "compress failed"; continue; }
    rc "cli_info_json_exit_$base" 0 "$DF11" info --json "$WORK/$base.df11"
    cp "$WORK/last.out" "$WORK/$base.json"
    if "$PY" -m json.tool "$WORK/$base.json" >/dev/null 2>&1; then pass "cli_info_json_valid_$base"
    else fail "cli_info_json_valid_$base"; fi
    n=$(header_tensor_count "$src")
    got=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["tensor_count"])' "$WORK/$base.json" 2>/dev/null)
    [ "$got" = "$n" ] && pass "cli_info_tensor_count_$base" || fail "cli_info_tensor_count_$base" "$got != $n"
    if why=$(check_json x "$src" "$WORK/$base.df11" "$WORK/$base.json" 2>&1); then pass "cli_info_json_matches_header_$base"
    else fail "cli_info_json_matches_header_$base" "$why"; fi
    rc "cli_info_text_exit_$base" 0 "$DF11" info "$WORK/$base.df11"
    missing=$("$PY" -c '
import json,sys
names=[t["name"] for t in json.load(open(sys.argv[1]))["tensors"]]
text=open(sys.argv[2]).read()
print(sum(1 for x in names if x not in text))' "$WORK/$base.json" "$WORK/last.out")
    [ "$missing" = 0 ] && pass "cli_info_text_names_$base" || fail "cli_info_text_names_$base" "$missing missing"
done
# The format a file needs (version and feature flags), against the header
# bytes themselves (FORMAT.md 2 and 8): every golden version 1.0 to 1.4.
for g in bf16 max il lzil il4 lzil4; do
    f=tests/golden/$g.df11
    rc "cli_info_format_json_exit_$g" 0 "$DF11" info --json "$f"
    if why=$("$PY" - "$f" "$WORK/last.out" <<'PYEOF' 2>&1
import json, struct, sys
raw = open(sys.argv[1], "rb").read(16)
major, minor, flags = struct.unpack_from("<HHI", raw, 8)
names = ["EXP_HI", "ANS", "ANS_IL", "EXP_LZ", "IL_SIGNS"]
want = [names[b] for b in range(len(names)) if flags >> b & 1]
d = json.load(open(sys.argv[2]))
got = (d.get("format"), d.get("features"))
if got != ("%d.%d" % (major, minor), want):
    print("json says %r, header %d.%d flags %#x" % (got, major, minor, flags))
    sys.exit(1)
PYEOF
    ); then pass "cli_info_format_json_$g"; else fail "cli_info_format_json_$g" "$why"; fi
    rc "cli_info_format_text_exit_$g" 0 "$DF11" info "$f"
    grep -q "^  format         1\.[0-4]" "$WORK/last.out" && pass "cli_info_format_text_$g" ||
        fail "cli_info_format_text_$g" "no format line"
done
"$DF11" info tests/golden/il4.df11 > "$WORK/il4.txt" 2>&1
grep -q "^  format         1\.4, needs ANS_IL, IL_SIGNS$" "$WORK/il4.txt" && pass "cli_info_format_text_names" ||
    fail "cli_info_format_text_names" "$(grep format "$WORK/il4.txt")"
rc "cli_info_two_files_refused" 1 "$DF11" info "$WORK/dtypes.df11" "$WORK/dtypes.df11"
