#!/usr/bin/env python3
"""Writes the original .safetensors files behind tests/golden/*.df11.

Stdlib only and seeded. Only the .df11 files and SHA256SUMS are kept in the
repository; this script documents what the originals are. See README.md.
    python3 tests/golden/make_originals.py OUT_DIR
"""
import json
import random
import struct
import sys
from pathlib import Path


def bf16(values):
    """float -> BF16 bytes, round to nearest even (as torch does)."""
    out = bytearray()
    for v in values:
        u = struct.unpack("<I", struct.pack("<f", v))[0]
        u = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
        out += struct.pack("<H", u & 0xFFFF)
    return bytes(out)


def f32(values):
    return struct.pack("<%df" % len(values), *values)


def write(path, tensors, metadata=None):
    """tensors: list of (name, dtype, shape, bytes), stored in that order."""
    header, off = {}, 0
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, data in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(data)]}
        off += len(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for t in tensors:
            f.write(t[3])


def main(out):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    r = random.Random(11)
    gauss = lambda n, std: [r.gauss(0.0, std) for _ in range(n)]

    write(out / "bf16.safetensors", [
        ("layer.0.weight", "BF16", [280, 250], bf16(gauss(70000, 0.02))),
        ("layer.0.bias", "BF16", [3000], bf16(gauss(3000, 0.1))),
    ], {"format": "pt"})

    write(out / "f32.safetensors", [
        ("w", "F32", [120, 250], f32(gauss(30000, 0.02))),
    ])

    ones_exp = bytearray()
    for _ in range(4000):  # one exponent, random sign and mantissa: constant code
        ones_exp += struct.pack("<H", 0x3F80 | (r.getrandbits(16) & 0x807F))
    write(out / "mixed.safetensors", [
        ("embed", "BF16", [50, 100], bf16(gauss(5000, 0.02))),
        # random bytes alone between two EXP tensors: RAW chunks
        ("bytes", "U8", [66000], bytes(r.getrandbits(8) for _ in range(66000))),
        ("norm", "F32", [2000], f32(gauss(2000, 1.0))),
        ("half", "F16", [1000], bytes(r.getrandbits(8) for _ in range(2000))),
        ("ids", "I64", [4096], struct.pack("<4096q", *[i // 5 for i in range(4096)])),
        ("mask", "BOOL", [64], bytes(r.getrandbits(1) for _ in range(64))),
        ("count", "I32", [], struct.pack("<i", 42)),
        ("ones", "BF16", [3000], bf16([1.0] * 3000)),
        ("one_exponent", "BF16", [4000], bytes(ones_exp)),
        ("empty", "BF16", [0], b""),
        ("noise", "BF16", [1500], bytes(r.getrandbits(8) for _ in range(3000))),
        ("tail", "BF16", [2049], bf16(gauss(2049, 0.05))),
    ], {"format": "pt", "note": "golden mixed dtypes"})

    write(out / "empty.safetensors", [])


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
