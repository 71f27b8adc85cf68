#!/usr/bin/env python3
"""Writes the generated .safetensors fixtures into OUTDIR.

Usage: make_fixtures.py OUTDIR [--list]

Pure standard library on purpose: the fixtures must be buildable on a bare
machine before any virtual environment exists. Every random choice comes from
a fixed seed, so two runs write byte-identical files.
"""
import json
import math
import os
import random
import struct
import sys

# Bytes per element for every dtype the safetensors format defines here.
DTYPE_SIZE = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1,
    "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4,
    "I64": 8, "U64": 8, "F64": 8,
}
STRUCT_CODE = {
    "U8": "B", "I8": "b", "I16": "h", "U16": "H", "F16": "e",
    "I32": "i", "U32": "I", "F32": "f", "I64": "q", "U64": "Q", "F64": "d",
}

LANE = 1024            # lane_symbols of FORMAT.md's defaults (the encoder may pick 2048)
CHUNK_BF16 = 131072    # elements of BF16 in one 256 KiB chunk
CHUNK_F32 = 65536      # elements of F32 in one 256 KiB chunk

written = []


def numel(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def f32_bits_to_bf16(bits):
    """Round-to-nearest-even, the way torch's .to(torch.bfloat16) does; NaNs
    stay NaN (quiet bit forced) instead of rounding into Inf."""
    if (bits & 0x7F800000) == 0x7F800000 and (bits & 0x007FFFFF):
        return ((bits >> 16) | 0x0040) & 0xFFFF
    return ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) & 0xFFFF


def bf16_from_floats(values):
    raw = struct.pack("<%df" % len(values), *values)
    bits = struct.unpack("<%dI" % len(values), raw)
    return [f32_bits_to_bf16(b) for b in bits]


def pack_u16(words):
    return struct.pack("<%dH" % len(words), *words)


def gaussian(rng, n, std):
    g = rng.gauss
    return [g(0.0, std) for _ in range(n)]


def realistic_bf16(rng, n, std=0.02):
    return pack_u16(bf16_from_floats(gaussian(rng, n, std)))


def realistic_f32(rng, n, std=0.02):
    return struct.pack("<%df" % n, *gaussian(rng, n, std))


class Tensor:
    def __init__(self, name, dtype, shape, data):
        if len(data) != numel(shape) * DTYPE_SIZE[dtype]:
            raise ValueError("%s: %d bytes for %s %r" % (name, len(data), dtype, shape))
        self.name, self.dtype, self.shape, self.data = name, dtype, shape, data


def header_json(tensors, metadata, key_order=None):
    """Lays tensors out back to back in the given order; key_order (a list of
    names, optionally including "__metadata__") only changes the JSON order,
    which the format does not tie to the data order."""
    entries = {}
    off = 0
    for t in tensors:
        entries[t.name] = {"dtype": t.dtype, "shape": t.shape,
                           "data_offsets": [off, off + len(t.data)]}
        off += len(t.data)
    if metadata is not None:
        entries["__metadata__"] = metadata
    order = key_order if key_order is not None else list(entries)
    if sorted(order) != sorted(entries):
        raise ValueError("key_order must name every entry exactly once")
    body = "{" + ",".join(json.dumps(k) + ":" + json.dumps(entries[k], separators=(",", ":"))
                          for k in order) + "}"
    return body.encode("utf-8")


def write_safetensors(path, tensors, metadata=None, pad=True, key_order=None, trailer=b""):
    hdr = header_json(tensors, metadata, key_order)
    if pad:
        # The safetensors library pads with spaces so the data starts 8-aligned.
        hdr += b" " * (-len(hdr) % 8)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hdr)))
        f.write(hdr)
        for t in tensors:
            f.write(t.data)
        f.write(trailer)
    written.append(path)


def write_bytes(path, data):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    written.append(path)


def ints(rng, dtype, n):
    size = DTYPE_SIZE[dtype]
    lo, hi = (0, (1 << (8 * size)) - 1) if dtype.startswith("U") else \
        (-(1 << (8 * size - 1)), (1 << (8 * size - 1)) - 1)
    vals = [rng.randint(lo, hi) for _ in range(n)]
    return struct.pack("<%d%s" % (n, STRUCT_CODE[dtype]), *vals)


def floats(rng, dtype, n):
    vals = [rng.gauss(0.0, 1.0) for _ in range(n)]
    return struct.pack("<%d%s" % (n, STRUCT_CODE[dtype]), *vals)


def dtypes_file(out):
    rng = random.Random(1)
    ts = []
    # A 3-byte tensor first, so the BF16 tensors after it start at odd offsets.
    ts.append(Tensor("u8_odd", "U8", [3], bytes([1, 2, 3])))
    shapes = [[], [0], [1], [3, 5], [7, 33, 5]]
    for dtype in ["BF16", "F16", "F32", "F64", "I8", "I16", "I32", "I64",
                  "U8", "U16", "U32", "U64", "BOOL", "F8_E4M3", "F8_E5M2"]:
        for shape in shapes:
            n = numel(shape)
            name = "%s.%s" % (dtype.lower(), "x".join(map(str, shape)) or "scalar")
            if dtype == "BF16":
                data = realistic_bf16(rng, n, 1.0)
            elif dtype in ("F16", "F32", "F64"):
                data = floats(rng, dtype, n)
            elif dtype == "BOOL":
                data = bytes(rng.randint(0, 1) for _ in range(n))
            elif dtype.startswith("F8"):
                data = bytes(rng.randrange(256) for _ in range(n))
            else:
                data = ints(rng, dtype, n)
            ts.append(Tensor(name, dtype, shape, data))
    # Larger ones, big enough to span several lanes and chunks.
    ts.append(Tensor("bf16.big", "BF16", [300, 1000], realistic_bf16(rng, 300000)))
    ts.append(Tensor("f32.big", "F32", [70000], realistic_f32(rng, 70000)))
    ts.append(Tensor("i32.big", "I32", [40000], ints(rng, "I32", 40000)))
    ts.append(Tensor("f16.big", "F16", [50000], floats(rng, "F16", 50000)))
    write_safetensors(os.path.join(out, "dtypes.safetensors"), ts,
                      metadata={"format": "pt", "source": "make_fixtures.py"})


def all_exponents_bf16(rng, per_exp=16):
    words = []
    for e in range(256):
        for _ in range(per_exp):
            words.append((rng.randrange(2) << 15) | (e << 7) | rng.randrange(128))
    rng.shuffle(words)
    return words


def specials_bf16():
    return [
        0x0000, 0x8000,                          # +0, -0
        0x0001, 0x8001, 0x007F, 0x807F, 0x0040,  # denormals
        0x0080, 0x8080,                          # smallest normals
        0x7F7F, 0xFF7F,                          # largest finite
        0x7F80, 0xFF80,                          # +Inf, -Inf
        0x7FC0, 0xFFC0, 0x7F81, 0xFF81, 0x7FFF, 0xFFFF, 0x7FA5, 0x7F80 | 0x2A,  # NaNs
        0x3F80, 0xBF80,                          # +-1
    ]


def fibonacci_exponents_bf16(rng):
    """Exponent frequencies that grow like Fibonacci numbers: an unlimited
    Huffman code would need lengths far above the format's limit of 12."""
    words = []
    a, b = 1, 1
    for e in range(100, 126):
        words += [(rng.randrange(2) << 15) | (e << 7) | rng.randrange(128) for _ in range(a)]
        a, b = b, a + b
    rng.shuffle(words)
    return words


def edge_file(out):
    rng = random.Random(2)
    ts = []
    ts.append(Tensor("empty", "BF16", [0], b""))
    ts.append(Tensor("empty_2d", "BF16", [4, 0], b""))
    ts.append(Tensor("scalar", "BF16", [], pack_u16([0x3F80])))
    ts.append(Tensor("one", "BF16", [1], pack_u16([0xC2F7])))
    ts.append(Tensor("constant", "BF16", [100000], pack_u16([0x3F00] * 100000)))
    ts.append(Tensor("constant_negzero", "BF16", [3000], pack_u16([0x8000] * 3000)))
    # Two symbols only: the smallest complete code (lengths 1 and 1).
    ts.append(Tensor("two_exponents", "BF16", [5000],
                     pack_u16([rng.choice((0x3F80, 0x4000)) | rng.randrange(128) for _ in range(5000)])))
    # One exponent everywhere but a single outlier at the very end.
    w = [0x3C00 | rng.randrange(128) for _ in range(CHUNK_BF16 + 7)]
    w[-1] = 0x7F80
    ts.append(Tensor("one_outlier", "BF16", [len(w)], pack_u16(w)))
    # First chunk constant, later chunks varied: a chunk with one symbol inside
    # a segment whose code is complete.
    w = [0x3F00] * CHUNK_BF16 + bf16_from_floats(gaussian(rng, 5000, 0.02))
    ts.append(Tensor("constant_first_chunk", "BF16", [len(w)], pack_u16(w)))
    ts.append(Tensor("all_exponents", "BF16", [256, 16], pack_u16(all_exponents_bf16(rng))))
    # One exponent, random sign and mantissa: zstd cannot beat 8 bits/weight
    # here, so the encoder takes EXP with the one-symbol "constant" code.
    w = [(rng.randrange(2) << 15) | (0x7C << 7) | rng.randrange(128) for _ in range(100000)]
    ts.append(Tensor("single_exponent", "BF16", [len(w)], pack_u16(w)))
    # Realistic values with every one of the 256 exponents (Inf/NaN included)
    # sprinkled in: a skewed code where many rare symbols need the length limit.
    w = bf16_from_floats(gaussian(rng, 300000, 0.02))
    for e in range(256):
        for _ in range(2):
            w[rng.randrange(len(w))] = (rng.randrange(2) << 15) | (e << 7) | rng.randrange(128)
    ts.append(Tensor("realistic_all_exponents", "BF16", [len(w)], pack_u16(w)))
    sp = specials_bf16()
    ts.append(Tensor("specials", "BF16", [len(sp)], pack_u16(sp)))
    ts.append(Tensor("specials_repeated", "BF16", [len(sp) * 100], pack_u16(sp * 100)))
    fib = fibonacci_exponents_bf16(rng)
    ts.append(Tensor("fibonacci_exponents", "BF16", [len(fib)], pack_u16(fib)))
    for n in (LANE - 1, LANE, LANE + 1, 2 * LANE - 1, 2 * LANE, 2 * LANE + 1,
              CHUNK_BF16 - 1, CHUNK_BF16, CHUNK_BF16 + 1, 2 * CHUNK_BF16 + 5):
        ts.append(Tensor("size_%d" % n, "BF16", [n], realistic_bf16(rng, n)))
    for n in (CHUNK_F32 - 1, CHUNK_F32, CHUNK_F32 + 1):
        ts.append(Tensor("f32_size_%d" % n, "F32", [n], realistic_f32(rng, n)))
    f32_specials = [0.0, -0.0, float("inf"), float("-inf"), 1e-45, -1e-45, 1e-40,
                    3.4028234663852886e38, 1.0, -1.0]
    raw = struct.pack("<%df" % len(f32_specials), *f32_specials)
    raw += struct.pack("<4I", 0x7FC00000, 0xFFC00001, 0x7F800001, 0x7FFFFFFF)
    ts.append(Tensor("f32_specials", "F32", [len(raw) // 4], raw))
    ts.append(Tensor("realistic", "BF16", [768, 400], realistic_bf16(rng, 768 * 400)))
    ts.append(Tensor("realistic_ln", "BF16", [768],
                     pack_u16(bf16_from_floats([1.0 + rng.gauss(0, 0.1) for _ in range(768)]))))
    write_safetensors(os.path.join(out, "edge_bf16.safetensors"), ts,
                      metadata={"format": "pt"})


def odd_header_files(out):
    rng = random.Random(3)
    ts = [Tensor("a.weight", "BF16", [64, 33], realistic_bf16(rng, 64 * 33)),
          Tensor("b.bias", "F32", [33], realistic_f32(rng, 33)),
          Tensor("c.ids", "I64", [5], ints(rng, "I64", 5)),
          Tensor("d.weight", "BF16", [5000], realistic_bf16(rng, 5000))]
    meta = {"format": "pt", "note": "keys deliberately out of offset order"}
    # JSON order differs from data order, metadata in the middle.
    order = ["d.weight", "__metadata__", "b.bias", "a.weight", "c.ids"]
    write_safetensors(os.path.join(out, "odd_header.safetensors"), ts, meta, True, order)
    write_safetensors(os.path.join(out, "odd_header_unpadded.safetensors"), ts, meta, False, order)
    # The unpadded header must really be unaligned, or the case proves nothing.
    assert len(header_json(ts, meta, order)) % 8 != 0
    write_safetensors(os.path.join(out, "trailing_bytes.safetensors"), ts, meta,
                      trailer=b"TRAILING GARBAGE\x00\x01\x02" * 3)
    # No tensors at all: just the header.
    write_safetensors(os.path.join(out, "no_tensors.safetensors"), [], {"format": "pt"})


def model_dir(out):
    rng = random.Random(4)
    d = os.path.join(out, "model")
    hidden, layers = 64, 4
    shard_of = {}
    shards = [[], []]
    for i in range(layers):
        s = 0 if i < layers // 2 else 1
        for name, shape in (("self_attn.q_proj.weight", [hidden, hidden]),
                            ("self_attn.k_proj.weight", [hidden, hidden]),
                            ("mlp.up_proj.weight", [4 * hidden, hidden]),
                            ("input_layernorm.weight", [hidden])):
            full = "model.layers.%d.%s" % (i, name)
            shards[s].append(Tensor(full, "BF16", shape, realistic_bf16(rng, numel(shape))))
    shards[0].insert(0, Tensor("model.embed_tokens.weight", "BF16", [1000, hidden],
                               realistic_bf16(rng, 1000 * hidden)))
    shards[1].append(Tensor("lm_head.weight", "BF16", [1000, hidden],
                            realistic_bf16(rng, 1000 * hidden)))
    total = 0
    for s, ts in enumerate(shards):
        fname = "model-%05d-of-%05d.safetensors" % (s + 1, len(shards))
        write_safetensors(os.path.join(d, fname), ts, {"format": "pt"})
        for t in ts:
            shard_of[t.name] = fname
            total += len(t.data)
    index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(shard_of.items()))}
    write_bytes(os.path.join(d, "model.safetensors.index.json"),
                (json.dumps(index, indent=2) + "\n").encode())
    config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama",
              "hidden_size": hidden, "num_hidden_layers": layers, "torch_dtype": "bfloat16",
              "vocab_size": 1000}
    write_bytes(os.path.join(d, "config.json"), (json.dumps(config, indent=2) + "\n").encode())
    tok = {"version": "1.0", "model": {"type": "WordLevel",
                                       "vocab": {"w%d" % i: i for i in range(50)},
                                       "unk_token": "w0"}}
    write_bytes(os.path.join(d, "tokenizer.json"), json.dumps(tok).encode())
    write_bytes(os.path.join(d, "README.md"), b"# Test model\n\nGenerated by make_fixtures.py.\n")
    sub = [Tensor("adapter.weight", "BF16", [128, 64], realistic_bf16(rng, 128 * 64)),
           Tensor("adapter.scale", "F32", [64], realistic_f32(rng, 64))]
    write_safetensors(os.path.join(d, "sub", "folder", "adapter.safetensors"), sub, {"format": "pt"})
    for link, target in (("latest.safetensors", "model-00001-of-00002.safetensors"),
                         ("README.link.md", "README.md")):
        p = os.path.join(d, link)
        if os.path.lexists(p):
            os.remove(p)
        os.symlink(target, p)
        written.append(p)


def rejection_files(out):
    rng = random.Random(5)
    write_bytes(os.path.join(out, "not_safetensors.bin"),
                bytes(rng.randrange(256) for _ in range(4096)))
    # A valid header that promises more tensor data than the file holds.
    ts = [Tensor("w", "BF16", [4096], realistic_bf16(rng, 4096))]
    hdr = header_json(ts, None)
    hdr += b" " * (-len(hdr) % 8)
    write_bytes(os.path.join(out, "truncated.safetensors"),
                struct.pack("<Q", len(hdr)) + hdr + ts[0].data[:1000])


def main(argv):
    args = [a for a in argv[1:] if a != "--list"]
    if len(args) != 1:
        sys.stderr.write("usage: make_fixtures.py OUTDIR [--list]\n")
        return 2
    out = args[0]
    os.makedirs(out, exist_ok=True)
    dtypes_file(out)
    edge_file(out)
    odd_header_files(out)
    model_dir(out)
    rejection_files(out)
    if "--list" in argv:
        for p in written:
            print(p)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
