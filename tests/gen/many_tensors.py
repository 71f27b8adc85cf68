#!/usr/bin/env python3
"""many_tensors.py OUT N [DTYPES] [SEED]: a safetensors file of N tiny tensors.

Shapes cycle through scalar, [1], [3] and [17]; dtypes cycle through the
comma-separated DTYPES (default: every dtype safetensors knows). Values are
random bytes except BF16/F16/F32 which get small normal-looking floats, so
float tensors have realistic exponents. Deterministic for a given SEED.
Stdlib only."""
import json, random, struct, sys

SIZES = {"BF16": 2, "F16": 2, "F32": 4, "F64": 8, "I8": 1, "U8": 1, "I16": 2,
         "U16": 2, "I32": 4, "U32": 4, "I64": 8, "U64": 8, "BOOL": 1,
         "F8_E4M3": 1, "F8_E5M2": 1}
SHAPES = [[], [1], [3], [17]]


def values(rng, dtype, n):
    if dtype in ("BF16", "F32", "F16"):
        xs = [rng.gauss(0, 0.05) for _ in range(n)]
        if dtype == "F16":
            return struct.pack("<%de" % n, *xs)
        raw = struct.pack("<%df" % n, *xs)
        if dtype == "F32":
            return raw
        return b"".join(raw[4 * i + 2:4 * i + 4] for i in range(n))
    if dtype == "BOOL":
        return bytes(rng.randrange(2) for _ in range(n))
    return bytes(rng.randrange(256) for _ in range(n * SIZES[dtype]))


def main():
    out, n = sys.argv[1], int(sys.argv[2])
    dtypes = sys.argv[3].split(",") if len(sys.argv) > 3 and sys.argv[3] else list(SIZES)
    rng = random.Random(int(sys.argv[4]) if len(sys.argv) > 4 else 1)
    header, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
    for i in range(n):
        dt, shape = dtypes[i % len(dtypes)], SHAPES[(i // len(dtypes)) % len(SHAPES)]
        count = 1
        for d in shape:
            count *= d
        b = values(rng, dt, count)
        header["t.%06d" % i] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(out, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for b in blobs:
            f.write(b)


if __name__ == "__main__":
    main()
