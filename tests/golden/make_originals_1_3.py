#!/usr/bin/env python3
"""Writes the original .safetensors files behind the format 1.3 golden
files tests/golden/lz.df11 (EXP_LZ chunks, FORMAT.md 5.4) and lzil.df11
(ANS_IL_LZ chunks). Stdlib only and seeded; see README.md.
    python3 tests/golden/make_originals_1_3.py OUT_DIR
"""
import random
import struct
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_originals import bf16, write  # noqa: E402


def f32_masked(values, clear):
    """F32 bytes with the low `clear` bits of every element zero."""
    out = bytearray()
    for v in values:
        u = struct.unpack("<I", struct.pack("<f", v))[0] & ~((1 << clear) - 1)
        out += struct.pack("<I", u)
    return bytes(out)


def main(out):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    r = random.Random(1301)
    gauss = lambda n, std: [r.gauss(0.0, std) for _ in range(n)]
    write(out / "lz.safetensors", [
        # F16/TF32 values widened (13 low bits zero): every chunk EXP_LZ,
        # across two 64 KiB chunk boundaries and a short last chunk
        ("tf32", "F32", [40000], f32_masked(gauss(40000, 0.02), 13)),
        # a first chunk with a zero low byte, then plain F32: EXP_LZ, then EXP
        ("rows", "F32", [300, 160], f32_masked(gauss(16384, 0.05), 8) + f32_masked(gauss(48000 - 16384, 0.05), 0)),
        # a small one: one short EXP_LZ chunk
        ("short", "F32", [700], f32_masked(gauss(700, 1.0), 12)),
        # plain F32 beside them: EXP
        ("plain", "F32", [20000], f32_masked(gauss(20000, 0.1), 0)),
    ], {"format": "pt"})
    write(out / "lzil.safetensors", [
        # the same kinds of F32 with models of their own (ANS_IL upper halves)
        ("tf32", "F32", [40000], f32_masked(gauss(40000, 0.02), 13)),
        ("plain", "F32", [20000], f32_masked(gauss(20000, 0.1), 0)),
        ("widened", "F32", [17000], f32_masked(gauss(17000, 0.05), 16)),  # all-zero planes
        ("w", "BF16", [20011], bf16(gauss(20011, 0.05))),                # ANS_IL beside them
    ], {"format": "pt"})


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
