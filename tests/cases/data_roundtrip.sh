#!/usr/bin/env bash
# Every generated fixture and every real model in ../shared/models goes
# through df11 compress + df11 decompress and must come back with the
# original's SHA-256 (sha256sum is the oracle, not the tool's own check).
# Inputs that are not safetensors must be refused cleanly.
set -u
cd "${DF11_ROOT:-$(dirname "$0")/../..}"
BUILD="${BUILD:-build}"
DF11="$BUILD/df11"
# Real weights live in shared/models beside the repository.
MODELS="${DF11_MODELS:-$(dirname "$PWD")/shared/models}"

if [ ! -x "$DF11" ]; then
    echo "SKIP data_roundtrip $DF11 not built"
    exit 0
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/df11-data.XXXXXX")
trap 'rm -rf "$work"' EXIT
fx="$work/fixtures"
if ! python3 tests/gen/make_fixtures.py "$fx"; then
    echo "FAIL data_fixtures make_fixtures.py failed"
    exit 1
fi

n=0
roundtrip() { # FILE LABEL -> one PASS/FAIL line
    local f="$1" label="$2" z y
    n=$((n + 1)); z="$work/$n.df11"; y="$work/$n.out"
    local rc a b
    "$DF11" compress "$f" -o "$z" >"$work/log" 2>&1; rc=$?
    if [ "$rc" -ne 0 ]; then
        echo "FAIL roundtrip:$label compress exited $rc ($(tail -n1 "$work/log"))"
        return 1
    fi
    "$DF11" decompress "$z" -o "$y" >"$work/log" 2>&1; rc=$?
    if [ "$rc" -ne 0 ]; then
        echo "FAIL roundtrip:$label decompress exited $rc ($(tail -n1 "$work/log"))"
        return 1
    fi
    a=$(sha256sum <"$f" | cut -d' ' -f1); b=$(sha256sum <"$y" | cut -d' ' -f1)
    if [ "$a" = "$b" ]; then
        echo "PASS roundtrip:$label ($(stat -L -c %s "$f") -> $(stat -c %s "$z") bytes)"
    else
        echo "FAIL roundtrip:$label sha256 differs: $a vs $b"
        return 1
    fi
    rm -f "$y"
}

# Every safetensors fixture, including the shards and nested file of model/.
while IFS= read -r f; do
    roundtrip "$f" "${f#"$fx"/}"
done < <(find "$fx" -type f -name '*.safetensors' ! -name truncated.safetensors | sort)
# Through a symlink: the tool must read what the link points to.
roundtrip "$fx/model/latest.safetensors" "model/latest.safetensors(symlink)"

# Refusals: a non-zero exit, but a clean one (a signal would give >= 128).
for bad in not_safetensors.bin truncated.safetensors; do
    "$DF11" compress "$fx/$bad" -o "$work/bad.df11" >"$work/log" 2>&1; rc=$?
    if [ "$rc" -ne 0 ] && [ "$rc" -lt 128 ]; then
        echo "PASS reject:$bad (exit $rc)"
    else
        echo "FAIL reject:$bad exit $rc ($(tail -n1 "$work/log"))"
    fi
    rm -f "$work/bad.df11"
done

# A damaged .df11 must be refused, not decoded into wrong bytes.
src="$fx/edge_bf16.safetensors"
if "$DF11" compress "$src" -o "$work/c.df11" >/dev/null 2>&1; then
    size=$(stat -c %s "$work/c.df11")
    # Flip one byte in the middle of the chunk payloads (past the 128-byte header).
    python3 - "$work/c.df11" "$((128 + (size - 128) / 3))" <<'EOF'
import sys
p, off = sys.argv[1], int(sys.argv[2])
with open(p, "r+b") as f:
    f.seek(off); b = f.read(1); f.seek(off); f.write(bytes([b[0] ^ 0x5A]))
EOF
    "$DF11" decompress "$work/c.df11" -o "$work/c.out" >"$work/log" 2>&1; rc=$?
    if [ "$rc" -ne 0 ] && [ "$rc" -lt 128 ]; then
        echo "PASS reject:corrupted.df11 (exit $rc)"
    else
        echo "FAIL reject:corrupted.df11 exit $rc ($(tail -n1 "$work/log"))"
    fi
else
    echo "FAIL reject:corrupted.df11 could not compress $src"
fi

# Real weights, when this machine has them.
shopt -s nullglob
models=("$MODELS"/*.safetensors)
if [ ${#models[@]} -eq 0 ]; then
    echo "SKIP roundtrip:shared-models none in $MODELS"
fi
for m in "${models[@]}"; do
    roundtrip "$m" "$(basename "$m")" || continue
    z="$work/$n.df11"
    orig=$(stat -c %s "$m"); stored=$(stat -c %s "$z")
    ratio=$(awk -v s="$stored" -v o="$orig" 'BEGIN { printf "%.4f", s / o }')
    echo "ratio $(basename "$m"): $stored / $orig = $ratio"
    # GPT-2's README gives 66.75% for per-tensor Huffman exponents + 8 raw
    # bits; a working exponent coder must land near it, far below zstd's 78.5%.
    case "$(basename "$m")" in gpt2*)
        if awk -v r="$ratio" 'BEGIN { exit !(r < 0.70) }'; then
            echo "PASS ratio:$(basename "$m") $ratio < 0.70"
        else
            echo "FAIL ratio:$(basename "$m") $ratio >= 0.70"
        fi ;;
    esac
    rm -f "$z"
done
exit 0
