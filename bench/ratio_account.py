#!/usr/bin/env python3
"""Where the bytes of a --max (ANS_IL) .df11 file go, against the entropy
bounds of its original: the accounting behind doc/RESULTS.md "Fifth
session: where the last tenth of a point goes".

    python3 bench/ratio_account.py ORIGINAL.safetensors FILE.df11

Reads both files itself (FORMAT.md 2-4, 9, 10; the index through the zstd
command), needs numpy. For the BF16 tensors of the original, per tensor:

  bound16   order-0 entropy of the 16-bit values (the issue's "bound")
  raw sign  order-0 entropy of (exponent, mantissa) plus one raw bit of
            sign: the floor of any coder that stores the sign raw
  contexts  the same with the mantissa coded under the file's own
            exponent contexts (8 per tensor) instead of the exponent
  tables    cross-entropy under the file's own quantised, shared tables

then what the file holds: the ANS_IL word streams, lane states and sign
planes, and the index. Small tensors (under 65,536 elements) are reported
apart: their order-0 entropy over 65,536 symbols is measured on a few
hundred samples and lies far below what any code can reach.
"""
import json
import struct
import subprocess
import sys

import numpy as np


def entropy_bits(counts):
    c = counts[counts > 0].astype(np.float64)
    t = c.sum()
    return float(-(c * np.log2(c / t)).sum())


def read_index(df):
    io, il = struct.unpack_from("<QQ", df, 72)
    segc, chc = struct.unpack_from("<II", df, 64)
    tc, mc = struct.unpack_from("<II", df, 96)
    raw = subprocess.run(["zstd", "-dcq"], input=df[io:io + il], capture_output=True, check=True).stdout
    o, segs = 0, []
    for _ in range(segc):
        off, ln, fc, kind = struct.unpack_from("<QQIB", raw, o)
        segs.append((off, ln, fc, kind, struct.unpack_from("<I", raw, o + 24)[0]))
        o += 160
    chunks = []
    for _ in range(chc):
        chunks.append(struct.unpack_from("<QIB", raw, o))
        o += 24
    tables = []
    for _ in range(tc):
        tables.append(np.frombuffer(raw, dtype="<u2", count=256, offset=o + 4).astype(np.float64))
        o += 516
    models = []
    for _ in range(mc):
        et = struct.unpack_from("<I", raw, o)[0]
        ctx = np.frombuffer(raw, dtype=np.uint8, count=256, offset=o + 4).astype(np.int64)
        models.append((et, ctx, struct.unpack_from("<8I", raw, o + 260)))
        o += 292
    return il, segs, chunks, tables, models


def main(orig_path, df11_path):
    orig = np.fromfile(orig_path, dtype=np.uint8)
    df = open(df11_path, "rb").read()
    hlen = struct.unpack_from("<Q", orig[:8].tobytes())[0]
    header = json.loads(orig[8:8 + hlen].tobytes())
    base = 8 + hlen
    C = 1 << struct.unpack_from("<I", df, 56)[0]
    index_len, segs, chunks, tables, models = read_index(df)
    seg_at = {s[0]: s for s in segs}
    classes = {}
    for name, t in header.items():
        if name == "__metadata__" or t["dtype"] != "BF16":
            continue
        a, b = t["data_offsets"]
        seg = seg_at.get(base + a)
        if seg is None or seg[1] != b - a or seg[3] != 1 or seg[4] == 0:
            continue  # not a segment of its own with a model
        x = orig[base + a:base + b].view("<u2").astype(np.int64)
        n = len(x)
        e, m = (x >> 7) & 255, x & 127
        et, ctx, mt = models[seg[4] - 1]
        c = ctx[e]
        acc = classes.setdefault("small" if n < 65536 else "big", dict.fromkeys(
            ["tensors", "elements", "bound16", "raw_sign", "contexts", "tables", "stream", "states", "signs",
             "other_chunks"], 0.0))
        acc["tensors"] += 1
        acc["elements"] += n
        acc["bound16"] += entropy_bits(np.bincount(x, minlength=65536)) / 8
        acc["raw_sign"] += (entropy_bits(np.bincount(e * 128 + m, minlength=32768)) + n) / 8
        he = entropy_bits(np.bincount(e, minlength=256))
        acc["contexts"] += (he + entropy_bits(np.bincount(c * 128 + m, minlength=1024))
                            - entropy_bits(np.bincount(c, minlength=8)) + n) / 8
        le = np.log2(np.where(tables[et] > 0, tables[et], 1) / 4096.0)
        lm = np.stack([np.log2(np.where(tables[k][:128] > 0, tables[k][:128], 1) / 4096.0) for k in mt])
        acc["tables"] += (-le[e].sum() - lm[c, m].sum() + n) / 8
        for j in range((seg[1] + C - 1) // C):
            _, plen, codec = chunks[seg[2] + j]
            k = min(C, seg[1] - j * C) // 2
            if codec != 5:
                acc["other_chunks"] += plen
                continue
            nl = 1 if k < 16384 else 16 * min(4, (k + 131071) // 131072)
            acc["states"] += 4 * nl
            acc["signs"] += (k + 7) // 8
            acc["stream"] += plen - 4 * nl - (k + 7) // 8
    size = len(orig)
    pts = lambda v: 100.0 * v / size
    print("%s (%d bytes) as %s (%d bytes, %.4f%%)" % (orig_path, size, df11_path, len(df), pts(len(df))))
    print("%-7s %7s %10s %10s %10s %10s %10s %10s %9s %8s" % (
        "tensors", "count", "bound16", "raw sign", "contexts", "tables", "stored", "stored-b16", "states", "other"))
    tot = dict.fromkeys(["bound16", "stored"], 0.0)
    for cls in ("big", "small"):
        a = classes.get(cls)
        if not a:
            continue
        stored = a["stream"] + a["states"] + a["signs"] + a["other_chunks"]
        tot["bound16"] += a["bound16"]
        tot["stored"] += stored
        print("%-7s %7d %10.0f %10.0f %10.0f %10.0f %10.0f %10.0f %9.0f %8.0f" % (
            cls, a["tensors"], a["bound16"], a["raw_sign"], a["contexts"], a["tables"], stored,
            stored - a["bound16"], a["states"], a["other_chunks"]))
    rest = len(df) - tot["stored"] - index_len - 128
    print("index %d bytes (%.4f points), header 128, the rest of the file (safetensors header, other"
          " tensors) %d bytes" % (index_len, pts(index_len), rest))
    print("BF16 tensors' bound16 is %.4f%% of the file with everything else as stored;"
          " the file is %.4f points above it" % (pts(tot["bound16"] + len(df) - tot["stored"]),
                                                 pts(tot["stored"] - tot["bound16"])))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
