#!/usr/bin/env bash
# Files of 1,000 to 100,000 tiny tensors (scalars, [1], [3], [17]) of every
# dtype and mixes (tests/gen/tiny_tensors.py): they must round-trip (cmp and
# SHA-256 against the original), verify, and not become one chunk per
# tensor. Tiny tensors either share a code per run or go into the
# surrounding BYTES segment (codec/compress/plan.c), so the chunk count
# stays at about size / 256 KiB: the bound checked is size/C + 4. The fp8
# case has 2 KiB BF16 norms with codes of their own, so it gets the plan's
# general bound instead: 2 * size/C + 66 (segments <= size/C + 64).
. "$(dirname "$0")/cli_lib.bash"

GEN="$ROOT/tests/gen/tiny_tensors.py"
C=262144

chunks_of() {
    "$DF11" info --json "$1" 2>/dev/null |
        "$PY" -c 'import json,sys; print(json.load(sys.stdin)["chunk_count"])' 2>/dev/null
}

# one NAME COUNT DTYPES BOUND: generate, compress, verify, decompress, compare.
one() {
    local name=$1 count=$2 spec=$3 bound=$4
    local src="$WORK/$name.safetensors" out="$WORK/$name.df11" back="$WORK/$name.back"
    if ! "$PY" "$GEN" "$src" "$count" "$spec"; then
        fail "encoder_tiny_$name" "generator failed"
        return
    fi
    if ! "$DF11" compress -q "$src" -o "$out" 2>"$WORK/err" ||
        ! "$DF11" verify -q "$out" 2>>"$WORK/err" ||
        ! "$DF11" decompress -q "$out" -o "$back" 2>>"$WORK/err"; then
        fail "encoder_tiny_$name" "$(head -c 300 "$WORK/err")"
        rm -f "$src" "$out" "$back"
        return
    fi
    local size got max
    size=$(stat -c %s "$src")
    got=$(chunks_of "$out")
    case $bound in
        tight) max=$((size / C + 4)) ;;
        *) max=$((2 * size / C + 66)) ;;
    esac
    if ! cmp -s "$src" "$back"; then
        fail "encoder_tiny_$name" "decompressed bytes differ (cmp)"
    elif [ "$(sha256sum <"$src" | cut -d' ' -f1)" != "$(sha256sum <"$back" | cut -d' ' -f1)" ]; then
        fail "encoder_tiny_$name" "SHA-256 differs"
    elif [ -z "$got" ] || [ "$got" -gt "$max" ]; then
        fail "encoder_tiny_$name" "$got chunks for $size bytes (at most $max)"
    else
        echo "# $name: $count tensors, $size bytes, $got chunks (bound $max)"
        pass "encoder_tiny_$name"
    fi
    rm -f "$src" "$out" "$back"
}

ALL=BF16,F16,F32,F64,I8,U8,I32,BOOL,F8_E4M3
for dt in BF16 F16 F32 F64 I8 U8 I32 BOOL F8_E4M3; do
    one "1k_$dt" 1000 "$dt" tight
done
one 1k_bf16_f32 1000 BF16,F32 tight
one 1k_bf16_f16 1000 BF16,F16 tight
one 1k_all 1000 "$ALL" tight
one 10k_bf16_f32 10000 BF16,F32 tight
one 10k_all 10000 "$ALL" tight
# 600-byte BF16 tensors between F32 scalars: big enough for a code each,
# so only the plan's segment budget keeps them from 5,000 segments
one 10k_alternate 10000 alternate tight
one 100k_f32 100000 F32 tight
one 100k_all 100000 "$ALL" tight
one fp8_300 300 fp8 general
