#!/usr/bin/env python3
"""Writes the original .safetensors file behind the format 1.2 golden file
tests/golden/il.df11 (ANS_IL chunks, FORMAT.md 10). Stdlib only and seeded;
see README.md.
    python3 tests/golden/make_originals_1_2.py OUT_DIR
"""
import random
import struct
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_originals import bf16, write  # noqa: E402


def f16(values):
    return struct.pack("<%de" % len(values), *values)


def main(out):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    r = random.Random(1201)
    gauss = lambda n, std: [r.gauss(0.0, std) for _ in range(n)]
    # values on a coarse grid keep the 64-lane tensor small once coded
    grid = lambda n, std, steps: [round(r.gauss(0, 1) * steps) / steps * std for _ in range(n)]
    write(out / "il.safetensors", [
        ("w64", "BF16", [800, 500], bf16(grid(400000, 0.02, 2))),      # one 2^20 chunk: 64 lanes, short last group
        ("w16", "BF16", [20011], bf16(gauss(20011, 0.05))),            # 16 lanes, short last group
        ("w1", "BF16", [5000], bf16(gauss(5000, 0.1))),                # one lane
        ("big", "BF16", [17000], bf16(gauss(17000, 300.0))),           # exponents >= 128 (contexts of the upper half)
        ("one_exp", "BF16", [18000], bf16([r.choice((-1, 1)) * (1 + r.random()) for _ in range(18000)])),
        ("half", "F16", [20000], f16(gauss(20000, 0.05))),             # F16 through the same codec
    ], {"format": "pt"})


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
