# Shared by the cli_*.sh cases (sourced, not a case itself: no .sh suffix).
# Results are "PASS name" / "FAIL name why" / "SKIP name why" lines.
set -u
ROOT="${DF11_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
BUILD="${BUILD:-build}"
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
DF11="$BUILD/df11"
PY=python3

WORK=$(mktemp -d "${TMPDIR:-/tmp}/df11-cli.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1${2:+ ($2)}"; }

if [ ! -x "$DF11" ]; then
    fail "cli_binary" "$DF11 not built"
    exit 0
fi

# ok NAME CMD...: passes when CMD exits 0.
ok() {
    local name=$1; shift
    if "$@" >"$WORK/last.out" 2>"$WORK/last.err"; then pass "$name"
    else fail "$name" "exit $?: $(head -c 300 "$WORK/last.err")"; fi
}

# rc NAME WANT CMD...: passes when CMD exits with status WANT.
rc() {
    local name=$1 want=$2; shift 2
    "$@" >"$WORK/last.out" 2>"$WORK/last.err"
    local got=$?
    if [ "$got" -eq "$want" ]; then pass "$name"
    else fail "$name" "exit $got, want $want: $(head -c 300 "$WORK/last.err")"; fi
}

# same NAME A B: byte-identical files, by SHA-256 (independent of df11).
same() {
    local a b
    a=$(sha256sum <"$2" 2>/dev/null | cut -d' ' -f1)
    b=$(sha256sum <"$3" 2>/dev/null | cut -d' ' -f1)
    if [ -n "$a" ] && [ "$a" = "$b" ]; then pass "$1"; else fail "$1" "$2 != $3"; fi
}

# Writes the generated fixtures into $1 (tests/gen/make_fixtures.py when it
# exists; otherwise one small safetensors file made here).
make_fixtures() {
    local out=$1
    if [ -f "$ROOT/tests/gen/make_fixtures.py" ]; then
        "$PY" "$ROOT/tests/gen/make_fixtures.py" "$out" >/dev/null && return 0
        return 1
    fi
    mkdir -p "$out" && "$PY" - "$out/small.safetensors" <<'PYEOF'
import json, random, struct, sys
rng = random.Random(7)
def bf16(x):
    b = struct.unpack("<I", struct.pack("<f", x))[0]
    return (b + 0x7FFF + ((b >> 16) & 1)) >> 16 & 0xFFFF
ts = [("w", [300, 700]), ("b", [700])]
hdr, data, off = {}, b"", 0
for name, shape in ts:
    n = 1
    for d in shape: n *= d
    raw = struct.pack("<%dH" % n, *[bf16(rng.gauss(0, 0.02)) for _ in range(n)])
    hdr[name] = {"dtype": "BF16", "shape": shape, "data_offsets": [off, off + len(raw)]}
    off += len(raw); data += raw
h = json.dumps(hdr).encode(); h += b" " * (-len(h) % 8)
open(sys.argv[1], "wb").write(struct.pack("<Q", len(h)) + h + data)
PYEOF
}

# Number of tensors in a safetensors header, read by Python, not by df11.
header_tensor_count() {
    "$PY" - "$1" <<'PYEOF'
import json, struct, sys
f = open(sys.argv[1], "rb")
n = struct.unpack("<Q", f.read(8))[0]
print(len([k for k in json.loads(f.read(n)) if k != "__metadata__"]))
PYEOF
}

# Flips one byte of a file at offset $2.
flip_byte() {
    "$PY" - "$1" "$2" <<'PYEOF'
import sys
path, off = sys.argv[1], int(sys.argv[2])
with open(path, "r+b") as f:
    f.seek(off); b = f.read(1); f.seek(off); f.write(bytes([b[0] ^ 0x5A]))
PYEOF
}

# index_offset field of a .df11 header (byte 72, FORMAT.md section 2).
index_offset() {
    "$PY" -c 'import struct,sys; f=open(sys.argv[1],"rb"); f.seek(72); print(struct.unpack("<Q", f.read(8))[0])' "$1"
}

# write_st PATH HEADER [DATA_BYTES]: a safetensors file whose JSON header is
# exactly the text HEADER (a Python bytes literal body, so names can hold
# escapes, NUL and invalid UTF-8), followed by DATA_BYTES bytes of BF16 data
# (default 4096).
write_st() {
    "$PY" - "$1" "$2" "${3:-4096}" <<'PYEOF'
import ast, random, struct, sys
h = ast.literal_eval("b'''" + sys.argv[2] + "'''")
h += b" " * (-len(h) % 8)
rng = random.Random(3)
data = bytes(rng.randrange(256) if i % 2 == 0 else rng.choice((0x3c, 0x3d, 0xbc, 0xbd))
             for i in range(int(sys.argv[3])))
open(sys.argv[1], "wb").write(struct.pack("<Q", len(h)) + h + data)
PYEOF
}

# Temporary files df11 (any version) may leave in a folder: .df11.XXXXXX,
# NAME.df11tmp.XXXXXX, NAME.tmp.XXXXXX. Prints them; empty when none.
temp_files() {
    find "$1" \( -name '.df11.??????' -o -name '*.df11tmp.*' -o -name '*.tmp.??????' \) -print 2>/dev/null
}

# big_st PATH MIB: a safetensors file of one BF16 tensor of MIB MiB, tiled
# from one random MiB (fast to make, slow enough to interrupt).
big_st() {
    "$PY" - "$1" "$2" <<'PYEOF'
import json, random, struct, sys
n = int(sys.argv[2]) << 20
rng = random.Random(5)
blk = bytes(rng.randrange(256) if i % 2 == 0 else rng.choice((0x3c, 0x3d, 0xbc, 0xbd, 0x3e))
            for i in range(1 << 20))
h = json.dumps({"w": {"dtype": "BF16", "shape": [n // 2], "data_offsets": [0, n]}}).encode()
h += b" " * (-len(h) % 8)
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<Q", len(h)) + h)
    for _ in range(n >> 20):
        f.write(blk)
PYEOF
}
