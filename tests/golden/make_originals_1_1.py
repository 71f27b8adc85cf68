#!/usr/bin/env python3
"""Writes the original .safetensors files behind the format 1.1 golden files
(tests/golden/max.df11, f32hi.df11). Stdlib only and seeded; see README.md.
    python3 tests/golden/make_originals_1_1.py OUT_DIR
"""
import random
import struct
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_originals import bf16, f32, write  # noqa: E402


def widened(values):
    """F32 whose low 16 bits are zero: BF16 values widened, as checkpoints hold them."""
    return b"".join(b"\0\0" + bf16([v]) for v in values)


def main(out):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    r = random.Random(1101)
    gauss = lambda n, std: [r.gauss(0.0, std) for _ in range(n)]
    write(out / "max.safetensors", [
        ("w", "BF16", [350, 200], bf16(gauss(70000, 0.02))),          # ANS, 3 chunks at 2^16, lanes of 16384
        ("w2", "BF16", [20001], bf16(gauss(20001, 0.1))),             # one lane past a whole one
        ("grid", "BF16", [6000], bf16([round(r.gauss(0, 1) * 16) / 16 * 0.02 for _ in range(6000)])),
        ("one_exp", "BF16", [3000], bf16([r.choice((-1, 1)) * (1 + r.random()) for _ in range(3000)])),
        ("bias", "BF16", [700], bf16(gauss(700, 0.1))),
    ], {"format": "pt"})
    write(out / "f32hi.safetensors", [
        ("wide", "F32", [200, 200], widened(gauss(40000, 0.05))),    # EXP_HI
        ("plain", "F32", [3000], f32(gauss(3000, 0.05))),             # EXP32
        ("b", "BF16", [5000], bf16(gauss(5000, 0.02))),
    ])


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
