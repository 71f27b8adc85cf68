#!/usr/bin/env python3
"""Writes a .safetensors file of many tiny tensors (FP8 checkpoints carry
thousands of F32 scalar scales; some files hold nothing else).

Usage: tiny_tensors.py OUT COUNT DTYPES [SEED]

DTYPES is one dtype (BF16, F16, F32, F64, I8, U8, I32, BOOL, F8_E4M3), a
comma list (tensors cycle through it in runs of random length), or "fp8":
an FP8 checkpoint's shape, 64 KiB F8_E4M3 weights each followed by an F32
scalar scale and now and then a BF16 norm vector; or "alternate": BF16
[300] tensors (600 bytes, each big enough for a code of its own) between
F32 scalars. Other shapes are [], [1], [3] and [17]. Standard library only; a fixed seed gives identical bytes.
"""
import json
import random
import struct
import sys

SIZE = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F16": 2, "BF16": 2,
        "I32": 4, "F32": 4, "F64": 8}
SHAPES = [[], [1], [3], [17]]


def values(rng, dtype, n):
    """n elements of dtype as bytes, with weight-like magnitudes for floats."""
    if dtype == "BF16":
        return b"".join(struct.pack("<I", struct.unpack("<I", struct.pack("<f", rng.gauss(0, 0.05)))[0])[2:]
                        for _ in range(n))
    if dtype == "F16":
        return struct.pack("<%de" % n, *(rng.gauss(0, 0.05) for _ in range(n)))
    if dtype == "F32":
        return struct.pack("<%df" % n, *(abs(rng.gauss(0, 0.01)) for _ in range(n)))
    if dtype == "F64":
        return struct.pack("<%dd" % n, *(rng.gauss(0, 1) for _ in range(n)))
    if dtype == "I32":
        return struct.pack("<%di" % n, *(rng.randint(-1000, 1000) for _ in range(n)))
    if dtype == "BOOL":
        return bytes(rng.randint(0, 1) for _ in range(n))
    return rng.randbytes(n)  # I8, U8, F8_E4M3


def tensors(rng, count, spec):
    if spec == "alternate":
        for i in range(count):
            if i % 2:
                yield "t.%d.scale" % i, "F32", []
            else:
                yield "t.%d.w" % i, "BF16", [300]
        return
    if spec == "fp8":
        for i in range(count):
            if i % 3 == 0:
                yield "layers.%d.weight" % i, "F8_E4M3", [256, 256]
            elif i % 30 == 1:
                yield "layers.%d.norm" % i, "BF16", [1024]
            else:
                yield "layers.%d.scale" % i, "F32", []
        return
    kinds = spec.split(",")
    dtype, left = kinds[0], 0
    for i in range(count):
        if left == 0:
            dtype, left = rng.choice(kinds), rng.randint(1, 50)
        left -= 1
        yield "t.%d" % i, dtype, rng.choice(SHAPES)


def main():
    out, count, spec = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    rng = random.Random(int(sys.argv[4]) if len(sys.argv) > 4 else 1)
    header, blobs, off = {}, [], 0
    for name, dtype, shape in tensors(rng, count, spec):
        n = 1
        for d in shape:
            n *= d
        data = values(rng, dtype, n)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(out, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        f.write(b"".join(blobs))


main()
