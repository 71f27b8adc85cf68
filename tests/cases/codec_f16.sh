#!/usr/bin/env bash
# F16 tensors are coded, not stored as zstd bytes (codec/compress/plan.c):
# an F16 tensor is an EXP16 segment whose 8-bit symbol is bits 7-14 (its 5
# exponent bits and top 3 mantissa bits). On a generated file of F16
# weights (plus a BF16 and an I32 tensor, and a run of small F16 and BF16
# tensors), for the default level and --max:
#   - the round trip is exact (SHA-256 of the original, cmp);
#   - every big F16 tensor reports codec EXP or ANS_IL (df11 info), and its
#     stored bytes are within 1% of the order-0 entropy of that symbol plus
#     8 raw bits per element, computed here in Python from the original
#     (before F16 was coded, zstd left such tensors at ~92%);
#   - --max is no bigger than the default level;
#   - the default file sets no feature flag: it is a 1.0 file (F16 needs
#     no new decoder; FORMAT.md 3).
. "$(dirname "$0")/cli_lib.bash"
. "$(dirname "$0")/golden_lib.bash" # header_fields

SRC="$WORK/f16.safetensors"
"$PY" - "$SRC" <<'PYEOF'
import json, random, struct, sys
rng = random.Random(16)
ts = []
for i, (n, sd) in enumerate([(200000, 0.02), (120000, 0.08), (65536, 1.0), (30000, 0.005)]):
    ts.append(("w%d" % i, "F16", [n], struct.pack("<%de" % n, *(rng.gauss(0, sd) for _ in range(n)))))
n = 50000
ts.append(("bf", "BF16", [n], b"".join(struct.pack("<f", rng.gauss(0, 0.03))[2:] for _ in range(n))))
ts.append(("ids", "I32", [4096], struct.pack("<4096i", *range(4096))))
for i in range(40):  # small tensors of two dtypes side by side
    dt = "F16" if (i // 5) % 2 == 0 else "BF16"
    vals = [rng.gauss(1.0, 0.1) for _ in range(300)]
    raw = struct.pack("<300e", *vals) if dt == "F16" else b"".join(struct.pack("<f", v)[2:] for v in vals)
    ts.append(("s%d" % i, dt, [300], raw))
hdr, data = {}, b""
for name, dt, shape, raw in ts:
    hdr[name] = {"dtype": dt, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
    data += raw
h = json.dumps(hdr).encode()
h += b" " * (-len(h) % 8)
open(sys.argv[1], "wb").write(struct.pack("<Q", len(h)) + h + data)
PYEOF
[ -s "$SRC" ] || { fail codec_f16.generate "generator failed"; exit 0; }

# Per big F16 tensor: name and the entropy bound in bytes.
"$PY" - "$SRC" >"$WORK/bound" <<'PYEOF'
import collections, json, math, struct, sys
f = open(sys.argv[1], "rb").read()
hl = struct.unpack("<Q", f[:8])[0]
base = 8 + hl
for name, t in json.loads(f[8:base]).items():
    if t["dtype"] != "F16" or t["shape"][0] < 10000:
        continue
    a, b = t["data_offsets"]
    words = struct.unpack("<%dH" % ((b - a) // 2), f[base + a:base + b])
    c = collections.Counter((w >> 7) & 0xFF for w in words)
    n = len(words)
    bits = -sum(k * math.log2(k / n) for k in c.values()) + 8 * n
    print(name, int(bits / 8))
PYEOF
[ -s "$WORK/bound" ] || { fail codec_f16.bound "entropy oracle failed"; exit 0; }

for level in default max; do
    out="$WORK/$level.df11" back="$WORK/$level.back"
    flag=(); [ $level = max ] && flag=(--max)
    ok "codec_f16.$level.compress" "$DF11" compress -q "${flag[@]}" "$SRC" -o "$out"
    ok "codec_f16.$level.decompress" "$DF11" decompress -q "$out" -o "$back"
    same "codec_f16.$level.roundtrip" "$SRC" "$back"
    "$DF11" info --json "$out" >"$WORK/$level.json" 2>/dev/null
    "$PY" - "$WORK/$level.json" "$WORK/bound" "codec_f16.$level.coded_near_entropy" <<'PYEOF' ||
import json, sys
info = {t["name"]: t for t in json.load(open(sys.argv[1]))["tensors"]}
bad = []
for line in open(sys.argv[2]):
    name, bound = line.split()
    t = info.get(name)
    if t is None:
        bad.append(name + " missing from info")
    elif t["codec"] not in ("EXP", "ANS_IL"):
        bad.append("%s stored as %s" % (name, t["codec"]))
    elif t["stored_bytes"] > int(bound) * 1.01:
        bad.append("%s: %d bytes, entropy bound %s" % (name, t["stored_bytes"], bound))
print("PASS " + sys.argv[3] if not bad else "FAIL %s (%s)" % (sys.argv[3], "; ".join(bad)))
PYEOF
        fail "codec_f16.$level.coded_near_entropy" "no info for $out"
done

d=$(stat -c %s "$WORK/default.df11" 2>/dev/null || echo 0)
m=$(stat -c %s "$WORK/max.df11" 2>/dev/null || echo 0)
if [ "$m" -gt 0 ] && [ "$m" -le "$d" ]; then pass codec_f16.max_not_bigger
else fail codec_f16.max_not_bigger "max $m bytes, default $d"; fi

read -r maj min flags < <(header_fields "$WORK/default.df11")
if [ "$maj $min" = "1 0" ] && [ "$flags" = 0 ]; then pass codec_f16.default_is_1_0
else fail codec_f16.default_is_1_0 "version '$maj.$min' flags '$flags'"; fi
