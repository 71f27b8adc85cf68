#!/usr/bin/env python3
"""Builds a large safetensors file by repeating the tensors of SRC.

Usage: tile_gpt2.py SRC OUT [SIZE_MIB]   (SIZE_MIB defaults to 1024)

The copies keep SRC's real exponent statistics, which is what benchmarks need;
copy k of tensor "name" is called "tile<k>.name". Tensor data is streamed in
blocks, so memory stays small whatever the output size. Standard library only.
"""
import json
import os
import struct
import sys

BLOCK = 1 << 20


def read_header(f):
    raw = f.read(8)
    if len(raw) != 8:
        raise ValueError("file too short for a safetensors header")
    (n,) = struct.unpack("<Q", raw)
    if n > 100 << 20:
        raise ValueError("header length %d is implausible" % n)
    hdr = json.loads(f.read(n))
    return 8 + n, hdr


def main(argv):
    if len(argv) not in (3, 4):
        sys.stderr.write("usage: tile_gpt2.py SRC OUT [SIZE_MIB]\n")
        return 2
    src, out = argv[1], argv[2]
    target = int(argv[3] if len(argv) == 4 else 1024) << 20
    with open(src, "rb") as f:
        data_start, hdr = read_header(f)
    meta = hdr.pop("__metadata__", None)
    # Data order, not JSON order: copying in offset order keeps reads sequential.
    tensors = sorted(hdr.items(), key=lambda kv: kv[1]["data_offsets"][0])
    per_copy = sum(e["data_offsets"][1] - e["data_offsets"][0] for _, e in tensors)
    if per_copy == 0:
        raise ValueError("SRC holds no tensor data")
    copies = max(1, -(-target // per_copy))

    entries = {}
    plan = []
    off = 0
    for k in range(copies):
        for name, e in tensors:
            b, end = e["data_offsets"]
            entries["tile%d.%s" % (k, name)] = {"dtype": e["dtype"], "shape": e["shape"],
                                               "data_offsets": [off, off + end - b]}
            plan.append((data_start + b, end - b))
            off += end - b
    if meta is not None:
        m = dict(meta)
        m["tiled_from"] = os.path.basename(src)
        entries["__metadata__"] = m
    body = json.dumps(entries, separators=(",", ":")).encode()
    body += b" " * (-len(body) % 8)

    tmp = out + ".part"
    with open(src, "rb") as fin, open(tmp, "wb") as fout:
        fout.write(struct.pack("<Q", len(body)))
        fout.write(body)
        for pos, length in plan:
            fin.seek(pos)
            while length:
                buf = fin.read(min(BLOCK, length))
                if not buf:
                    raise ValueError("SRC ends inside a tensor")
                fout.write(buf)
                length -= len(buf)
    os.replace(tmp, out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
