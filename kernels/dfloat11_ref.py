#!/usr/bin/env python3
"""dfloat11_ref.py - time the reference DFloat11 GPU decode kernel on our tensors.

What it measures
  The decode kernel of DFloat11 (PyPI `dfloat11` 0.5.0, Tianyi Zhang,
  Apache-2.0; arXiv 2504.11651): the PTX file `decode.ptx` shipped inside
  that wheel, loaded with CuPy and launched exactly as the package's own
  `decode_hook` (dfloat11.py) and `compress_model(check_correctness=True)`
  launch it: one launch per compressed weight, grid = ceil(n_bytes / (512 *
  8)), block = 512, dynamic shared memory = 512*4 + 4 + 2 * max(diff(
  output_positions)), arguments (luts, encoded_exponent, sign_mantissa,
  output_positions, gaps, out, n_luts, n_bytes, n_elements). The result is
  GB/s of BF16 output, so that a report can say "our kernel is N x
  DFloat11's kernel on the same tensors, on the same GPU, in the same run"
  (kernels/gpu_check.sh runs this right after our gpu_bench).

Nothing of DFloat11 is copied here: its encoder (get_codec,
  get_32bit_codec, get_luts, encode_weights from dfloat11_utils.py) is
  imported from the installed package, and its kernel is its own PTX file.
  dfloat11_utils.py is loaded by file path rather than as
  `dfloat11.dfloat11_utils`, because the package's __init__ imports
  dfloat11.dfloat11, which needs accelerate, huggingface_hub, pkg_resources
  and cupy at import time; the utilities module itself needs only torch,
  numpy, dahuffman and tqdm.

How it is fair
  - the same tensors: every BF16 tensor of the input file with at least
    --min-elements (4096) elements, in file order up to --max-elements,
    compressed by DFloat11's own encoder, with --group tensor (default)
    each on its own (as DFloat11 compresses one Linear or Embedding weight
    per call), one launch per tensor; with --group block the tensors of one
    transformer block (name up to its first numeric component: `h.3`,
    `model.layers.7`; a tensor without one is a group of its own) are
    flattened, concatenated in file order and compressed and decoded as one
    unit, one launch per group. Block grouping is how DFloat11 itself
    compresses models (compress_model with a pattern_dict: torch.cat of the
    block's Linear weights, encode_weights of that list), so that its
    kernel gets full-size grids rather than one small grid per matrix;
  - the same GPU and the same run as our gpu_bench (the device script runs
    both), and a plain device-to-device copy of the same number of output
    bytes timed in this process, so the memory ceiling is measured alongside;
  - CUDA events on one stream, --reps repetitions, median (and min)
    reported; each repetition decodes K separate device copies of the whole
    compressed set, with K chosen so that the BF16 output is at least
    --min-mib and the compressed input is at least 4x the L2 cache, so the
    repeated launches read from HBM, not from L2;
  - the host is kept out of the kernel time: before each timed repetition a
    spin kernel (torch.cuda._sleep) holds the stream while the host enqueues
    all launches, so the events time the GPU running DFloat11's kernels back
    to back (launch gaps between the per-tensor kernels included: they are
    part of the design). The same launches without that pre-fill (the rate
    at which Python can launch them, as their hook would) and replayed from a
    CUDA graph are reported too;
  - nothing is timed before it is checked: outputs are poisoned (0x7fff),
    decoded once, and every (copy, tensor) output is compared bit for bit
    with the original; again with another poison, after the timed runs and
    before the graph is timed. Any difference: `FAIL dfloat11_ref ...`, exit 1.

Usage
  python3 kernels/dfloat11_ref.py MODEL.safetensors [--min-mib 1024]
      [--reps 20] [--encode-only] [--max-elements N] [--json PATH]
      [--time-limit 50] [--group {tensor,block}]
  --encode-only (no GPU needed): encodes, then checks on the CPU that the
  encoded exponent stream decodes back with dahuffman's own decoder (the
  smallest tensor or group) and that sign_mantissa plus exponents rebuild
  the original BF16 bits (every tensor or group), and exits.
  On the device (dfloat11 and dahuffman carried as wheels in .whl/; the
  input is the GPT-2 slice that kernels/gpu_check.sh restores, the file our
  gpu_bench is timed on):
    python3 -m pip install -q --no-index --no-deps --no-compile \
        --target /tmp/site .whl/*.whl
    PYTHONPATH=/tmp/site python3 kernels/dfloat11_ref.py \
        "$slice_st" --min-mib 1024 --json "$OUT/dfloat11.json"
Output: `# ` info lines, then
  dfl11  <MiB> MiB BF16 out in <ms> ms (median of <reps>, <launches> launches): <GB/s> GB/s output; bits/weight <b> group=<mode>
  copy   <MiB> MiB d2d copy in <ms> ms (median): <GB/s> GB/s (read+write <GB/s>)
  dfl11g ... (the same launches replayed from one CUDA graph), and dfl11big
  ... (tensors or groups >= --big-elements only) when there are such; the
  dfl11, dfl11g and dfl11big lines end in group=<tensor|block>.
  Exit 0; `FAIL dfloat11_ref <reason>` and exit 1 on any error;
  `SKIP dfloat11_ref <reason>` and exit 0 without CUDA or CuPy.
"""
import os
import sys

# tqdm reads TQDM_* overrides when it is imported: DFloat11's encode() wraps
# its per-element loop in tqdm, which would flood stderr.
os.environ.setdefault("TQDM_DISABLE", "1")
# torch.cuda.is_available() through NVML: no CUDA initialised before the
# encoder's process pool forks.
os.environ.setdefault("PYTORCH_NVML_BASED_CUDA_CHECK", "1")

import argparse
import contextlib
import importlib.util
import io
import json
import math
import multiprocessing
import re
import signal
import statistics
import struct
import time
import traceback

import numpy as np

T_START = time.perf_counter()

# dfloat11.py 0.5.0: bytes_per_thread = 8, threads_per_block = (512, ).
BYTES_PER_THREAD = 8
THREADS_PER_BLOCK = 512
POISON_A = 0x7FFF
POISON_B = 0x7FA5
OUT_ALIGN = 256  # output slices start on 512-byte boundaries


class Fail(Exception):
    pass


class Skip(Exception):
    pass


def info(msg):
    print("# " + msg, flush=True)


def elapsed():
    return time.perf_counter() - T_START


# --------------------------------------------------------------- DFloat11 ---

def dfl_dir():
    spec = importlib.util.find_spec("dfloat11")
    if spec is None or not spec.submodule_search_locations:
        raise Fail("package dfloat11 not found (install the wheel, set PYTHONPATH)")
    return list(spec.submodule_search_locations)[0]


def dfl_version():
    try:
        from importlib.metadata import version
        return version("dfloat11")
    except Exception:
        return "?"


def load_utils():
    """DFloat11's dfloat11_utils.py, without running the package __init__."""
    path = os.path.join(dfl_dir(), "dfloat11_utils.py")
    spec = importlib.util.spec_from_file_location("dfloat11_utils", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# ------------------------------------------------------------------ input ---

def group_key(name, group):
    """The unit a tensor is encoded in: itself, or its transformer block."""
    m = re.match(r"^(.*?\.\d+)\.", name) if group == "block" else None
    return m.group(1) if m else name


def pick_tensors(path, min_elems, max_elems, group):
    """[(key, [(name, numel), ...])]: the units to encode (a tensor each, or
    a block's tensors in file order), whole units in file order up to
    max_elems."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        head = json.loads(f.read(n))
    entries = sorted(((k, v) for k, v in head.items() if k != "__metadata__"),
                     key=lambda kv: kv[1]["data_offsets"][0])
    units = {}  # key -> [(name, numel)], in order of first appearance
    other_dtype = small = 0
    for k, v in entries:
        numel = math.prod(v["shape"])
        if v["dtype"] != "BF16":
            other_dtype += 1
        elif numel < min_elems:
            small += 1
        else:
            units.setdefault(group_key(k, group), []).append((k, numel))
    chosen, total, left = [], 0, 0
    for key, members in units.items():
        numel = sum(m for _, m in members)
        if left or (chosen and total + numel > max_elems):
            left += len(members)
            continue
        chosen.append((key, members))
        total += numel
    used = sum(len(m) for _, m in chosen)
    info("input %s: %d tensors; using %d BF16 tensors >= %d elements (%d elements); "
         "skipped %d of other dtypes, %d smaller, %d past --max-elements %d"
         % (path, len(entries), used, min_elems, total, other_dtype, small,
            left, max_elems))
    if not chosen:
        raise Fail("no BF16 tensor with >= %d elements in %s" % (min_elems, path))
    sizes = [sum(m for _, m in members) for _, members in chosen]
    info("--group %s: %d %s, one launch each, largest %d elements"
         % (group, len(chosen), "groups by transformer block" if group == "block"
            else "tensors each encoded on its own", max(sizes)))
    return chosen


def load_tensors(path, chosen):
    """[(key, parts, flat)]: each unit's 1-D BF16 tensors and their concatenation."""
    import torch
    from safetensors import safe_open
    out = []
    with safe_open(path, framework="pt") as f:
        for key, members in chosen:
            parts = []
            for name, numel in members:
                t = f.get_tensor(name).reshape(-1).contiguous()
                assert t.dtype == torch.bfloat16 and t.numel() == numel, name
                parts.append(t)
            out.append((key, parts, torch.cat(parts) if len(parts) > 1 else parts[0]))
    return out


# ----------------------------------------------------------------- encode ---

_TENSORS = []  # (key, parts, flat) as load_tensors; set before the pool forks
_UTILS = None


def _rebuild(exponent, sign_mantissa):
    """BF16 bits (as int32 in [0, 65535]) from DFloat11's two streams."""
    e = exponent.astype(np.int32)
    s = sign_mantissa.astype(np.int32)
    return ((s & 0x80) << 8) | (e << 7) | (s & 0x7F)


def encode_one(job):
    """Worker: one tensor or group through DFloat11's own encoder (a process each)."""
    i, verify = job
    import torch
    torch.set_num_threads(1)
    name, parts, w = _TENSORS[i]
    U = _UTILS
    t0 = time.perf_counter()
    sink = io.StringIO()  # their code prints code tables, LUT dicts, ratios
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        # As compress_model does for one module: get_codec(torch.cat(weights)),
        # encode_weights(weights, ...); w is that concatenation.
        _codec, counter = U.get_codec(w)
        codec, _counter, table = U.get_32bit_codec(counter)
        luts = U.get_luts(table)
        encoded, sign_mantissa, output_positions, gaps, _split = U.encode_weights(
            parts, codec, BYTES_PER_THREAD, THREADS_PER_BLOCK)
    sec = time.perf_counter() - t0

    # Copies: encode() returns np.frombuffer views (read-only), which would
    # come back read-only through the pool and make torch.from_numpy warn.
    enc = encoded.numpy().copy()
    sm = sign_mantissa.numpy().copy()
    op = output_positions.numpy().copy()
    gp = gaps.numpy().copy()
    lt = luts.numpy().copy()
    n = w.numel()
    orig = w.view(torch.int16).numpy().astype(np.int32) & 0xFFFF
    exps = (orig >> 7) & 0xFF

    problems = []
    if sm.dtype != np.uint8 or sm.size != n:
        problems.append("sign_mantissa %s x %d, expected uint8 x %d" % (sm.dtype, sm.size, n))
    elif not np.array_equal(_rebuild(exps, sm), orig):
        problems.append("sign_mantissa + exponents do not rebuild the BF16 bits")
    blocks = -(-enc.size // (THREADS_PER_BLOCK * BYTES_PER_THREAD))
    if op.dtype != np.uint32 or op.size != blocks + 1:
        problems.append("output_positions %s x %d, expected uint32 x %d (blocks + 1)"
                        % (op.dtype, op.size, blocks + 1))
    elif op[0] != 0 or op[-1] != n or np.any(np.diff(op.astype(np.int64)) < 0):
        problems.append("output_positions not 0..n ascending")
    if gp.dtype != np.uint8 or gp.size != -(-blocks * THREADS_PER_BLOCK * 5 // 8):
        problems.append("gaps %s x %d, expected uint8 x %d (5 bits a thread)"
                        % (gp.dtype, gp.size, -(-blocks * THREADS_PER_BLOCK * 5 // 8)))
    if lt.dtype != np.uint8 or lt.ndim != 2 or lt.shape[1] != 256:
        problems.append("luts %s %s, expected uint8 (n_luts, 256)" % (lt.dtype, lt.shape))

    verified = None
    if verify:
        # dahuffman's own decoder on the encoded bytes: DFloat11's encode() is
        # dahuffman's encode_streaming (EOF symbol in the last partial byte).
        t1 = time.perf_counter()
        dec = np.asarray(codec.decode(enc.tobytes(), concat=list), dtype=np.int32)
        ok = dec.size == n and np.array_equal(dec, exps) and \
            np.array_equal(_rebuild(dec, sm), orig)
        verified = (bool(ok), time.perf_counter() - t1, int(dec.size))
        if not ok:
            problems.append("dahuffman decode of encoded_exponent: %d symbols, "
                            "%s" % (dec.size, "differs from the exponents"))
    max_len = max(b for k, (b, _v) in table.items() if isinstance(k, int))
    return dict(i=i, name=name, n=n, enc=enc, sm=sm, op=op, gaps=gp, luts=lt,
                sec=sec, problems=problems, verified=verified, max_len=max_len)


def units_word(group):
    return "groups" if group == "block" else "tensors"


def compressed_bytes(r):
    # encoded_exponent + sign_mantissa + output_positions (uint32) + gaps + luts
    return sum(r[k].nbytes for k in ("enc", "sm", "op", "gaps", "luts"))


def shared_mem(r):
    # decode_hook's module.shared_mem_size (load_and_replace_tensors).
    op = r["op"].astype(np.int64)
    return THREADS_PER_BLOCK * 4 + 4 + int((op[1:] - op[:-1]).max()) * 2


def encode_all(tensors, encode_only, deadline, what):
    global _TENSORS, _UTILS
    _TENSORS = tensors
    _UTILS = load_utils()
    smallest = min(range(len(tensors)), key=lambda i: tensors[i][2].numel())
    jobs = [(i, encode_only and i == smallest) for i in range(len(tensors))]
    jobs.sort(key=lambda j: -tensors[j[0]][2].numel())  # largest first
    nproc = max(1, min(os.cpu_count() or 1, len(jobs)))
    t0 = time.perf_counter()
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(nproc) as pool:
        res = pool.map_async(encode_one, jobs, chunksize=1)
        try:
            results = res.get(timeout=max(1.0, deadline - elapsed()))
        except multiprocessing.TimeoutError:
            raise Fail("encoding did not finish within the time limit "
                       "(lower --max-elements or raise --time-limit)")
    wall = time.perf_counter() - t0
    results.sort(key=lambda r: r["i"])
    n = sum(r["n"] for r in results)
    cb = sum(compressed_bytes(r) for r in results)
    parts = {k: sum(r[k].nbytes for r in results) for k in ("enc", "sm", "op", "gaps", "luts")}
    bits = cb * 8.0 / n
    info("DFloat11 %s encoder (%s): %d %s, %d elements in %.2f s wall on %d processes "
         "(%.2f s of process time, %.2f us/element)"
         % (dfl_version(), dfl_dir(), len(results), what, n, wall, nproc,
            sum(r["sec"] for r in results), sum(r["sec"] for r in results) / n * 1e6))
    info("compressed %d bytes = encoded_exponent %d + sign_mantissa %d + output_positions %d "
         "+ gaps %d + luts %d" % (cb, parts["enc"], parts["sm"], parts["op"],
                                  parts["gaps"], parts["luts"]))
    info("bits/weight %.3f, %.2f%% of BF16 (exponent stream alone %.3f bits/weight); "
         "longest code %d bits" % (bits, cb * 100.0 / (2 * n), parts["enc"] * 8.0 / n,
                                   max(r["max_len"] for r in results)))
    return results, dict(encode_wall_s=wall, encode_procs=nproc, elements=n,
                         compressed_bytes=cb, bits_per_weight=bits,
                         ratio_percent=cb * 100.0 / (2 * n), parts=parts)


# -------------------------------------------------------------------- GPU ---

def load_kernel(cp, ptx):
    try:
        return cp.RawModule(path=ptx).get_function("decode"), ptx
    except Exception as e:
        # Their PTX says .target sm_52 (nvcc 12.2). Should this driver refuse
        # that, the same PTX with only its .target line raised is JIT-compiled
        # for the device instead (the kernel's instructions are untouched).
        import re
        import tempfile
        text = open(ptx).read()
        cc = cp.cuda.Device().compute_capability
        patched, k = re.subn(r"^\.target\s+sm_\d+", ".target sm_%s" % cc, text,
                             count=1, flags=re.M)
        if not k:
            raise
        tmp = os.path.join(tempfile.mkdtemp(prefix="dfl11_"), "decode.ptx")
        with open(tmp, "w") as f:
            f.write(patched)
        info("loading %s failed (%s: %s); loaded it with .target sm_%s instead"
             % (ptx, type(e).__name__, e, cc))
        return cp.RawModule(path=tmp).get_function("decode"), tmp


def ms_stats(ms):
    return dict(median_ms=statistics.median(ms), min_ms=min(ms), max_ms=max(ms), reps=len(ms))


def gpu_phase(args, tensors, results, enc_stats, deadline, report):
    import torch
    what = units_word(args.group)
    try:
        import cupy as cp
    except Exception as e:
        raise Skip("cupy unavailable (%s: %s)" % (type(e).__name__, e))
    if not torch.cuda.is_available():
        raise Skip("torch sees no CUDA device")
    torch.cuda.set_device(0)
    dev = torch.device("cuda", 0)
    cp.cuda.Device(0).use()
    props = torch.cuda.get_device_properties(0)
    l2 = int(getattr(props, "L2_cache_size", 0) or 60 << 20)
    info("device %s, %d SMs, L2 %d MiB, torch %s (CUDA %s), cupy %s"
         % (props.name, props.multi_processor_count, l2 >> 20, torch.__version__,
            torch.version.cuda, cp.__version__))

    ptx = os.path.join(dfl_dir(), "decode.ptx")
    t0 = time.perf_counter()
    kern, ptx_used = load_kernel(cp, ptx)
    info("loaded %s (driver JIT) in %.0f ms" % (ptx_used, (time.perf_counter() - t0) * 1e3))
    report["ptx"] = ptx_used

    T = len(results)
    max_shm = max(shared_mem(r) for r in results)
    if max_shm > 48 * 1024:
        # Their hook never raises the limit; a weight whose exponents code to
        # very few bits would fail to launch there. Raise it here so it runs.
        kern.max_dynamic_shared_size_bytes = max_shm
        info("raised the kernel's dynamic shared memory limit to %d bytes" % max_shm)

    # ---- one copy of the compressed set on the device, then K-1 clones.
    n_set = sum(r["n"] for r in results)
    cset = sum(compressed_bytes(r) for r in results)
    out_set = 2 * n_set
    k_out = -(-(args.min_mib << 20) // out_set)
    k_l2 = -(-4 * l2 // cset)
    K = max(1, k_out, k_l2)
    need = K * (cset + out_set + out_set // 64) + 2 * K * out_set  # + copy buffers
    free, _total = torch.cuda.mem_get_info()
    if need > 0.8 * free:
        raise Fail("K=%d copies need %.1f GiB, %.1f GiB free" % (K, need / 2**30, free / 2**30))
    base = []
    orig = []
    for r, (name, _parts, w) in zip(results, tensors):
        assert r["name"] == name
        base.append(dict(
            luts=torch.from_numpy(r["luts"]).to(dev),                    # uint8 (n_luts, 256)
            enc=torch.from_numpy(r["enc"]).to(dev),                      # uint8
            sm=torch.from_numpy(r["sm"]).to(dev),                        # uint8
            op=torch.from_numpy(r["op"].view(np.int32)).to(dev),         # uint32 bits
            gaps=torch.from_numpy(r["gaps"]).to(dev)))                   # uint8, packed
        orig.append(w.view(torch.int16).to(dev))
    copies = [base] + [[{k: v.clone() for k, v in b.items()} for b in base]
                       for _ in range(K - 1)]
    offs, o = [], 0
    for r in results:
        offs.append(o)
        o += -(-r["n"] // OUT_ALIGN) * OUT_ALIGN
    outbufs = [torch.empty(o, dtype=torch.bfloat16, device=dev) for _ in range(K)]
    torch.cuda.synchronize()

    # ---- the launches, exactly as decode_hook makes them.
    block = (THREADS_PER_BLOCK,)
    jobs = []  # (grid, shared_mem, args, out slice, unit index)
    for k in range(K):
        for t, r in enumerate(results):
            b = copies[k][t]
            n_elements = r["n"]
            n_bytes = b["enc"].numel()
            n_luts = b["luts"].shape[0]
            assert b["sm"].numel() == n_elements
            out = outbufs[k][offs[t]:offs[t] + n_elements]
            grid = (int(math.ceil(n_bytes / (THREADS_PER_BLOCK * BYTES_PER_THREAD))),)
            kargs = (b["luts"].data_ptr(), b["enc"].data_ptr(), b["sm"].data_ptr(),
                     b["op"].data_ptr(), b["gaps"].data_ptr(), out.data_ptr(),
                     np.uint32(n_luts), np.uint32(n_bytes), np.uint32(n_elements))
            jobs.append((grid, shared_mem(r), kargs, out, t))
    big_jobs = [j for j in jobs if results[j[4]]["n"] >= args.big_elements]
    launches = len(jobs)
    out_bytes = K * out_set
    grids = [j[0][0] for j in jobs[:T]]
    info("K=%d copies (output >= %d MiB: %d; compressed >= 4x L2: %d): %.1f MiB compressed "
         "in device memory, %.1f MiB BF16 out, %d launches a repetition (group=%s), grid "
         "%d..%d blocks of %d threads, shared memory up to %d bytes"
         % (K, args.min_mib, k_out, k_l2, K * cset / 2**20, out_bytes / 2**20, launches,
            args.group, min(grids), max(grids), THREADS_PER_BLOCK, max_shm))

    ts = torch.cuda.Stream()
    cs = cp.cuda.ExternalStream(ts.cuda_stream)

    def launch(js):
        for grid, shm, kargs, _out, _t in js:
            kern(grid=grid, block=block, shared_mem=shm, args=kargs)

    def poison(v):
        for b in outbufs:
            b.view(torch.int16).fill_(v)

    def check(js, what):
        torch.cuda.synchronize()
        bad = []
        for idx, (_g, _s, _a, out, t) in enumerate(js):
            if not torch.equal(out.view(torch.int16), orig[t]):
                nd = int((out.view(torch.int16) != orig[t]).sum().item())
                bad.append("copy %d %s: %d of %d elements differ"
                           % (idx // T, results[t]["name"], nd, results[t]["n"]))
        if bad:
            raise Fail("%s: %d of %d outputs differ from the original: %s"
                       % (what, len(bad), len(js), "; ".join(bad[:4])))

    ev0 = torch.cuda.Event(enable_timing=True)
    ev1 = torch.cuda.Event(enable_timing=True)

    def time_reps(fn, reps, prefill=0):
        ms, host = [], []
        for _ in range(reps):
            if prefill:
                torch.cuda._sleep(prefill)
            ev0.record()
            h0 = time.perf_counter()
            fn()
            h1 = time.perf_counter()
            ev1.record()
            ev1.synchronize()
            ms.append(ev0.elapsed_time(ev1))
            host.append((h1 - h0) * 1e3)
        return ms, host

    with torch.cuda.stream(ts), cs:
        # ---- warm-up and checks: never time a wrong decoder
        poison(POISON_A)
        t0 = time.perf_counter()
        launch(jobs)
        torch.cuda.synchronize()
        info("first pass %.1f ms" % ((time.perf_counter() - t0) * 1e3))
        check(jobs, "first decode")
        poison(POISON_B)
        w_ms, w_host = time_reps(lambda: launch(jobs), 1)
        check(jobs, "second decode")
        info("every output of %d launches equals its original tensor(s) bit for bit "
             "(poisoned 0x%04x, then 0x%04x)" % (launches, POISON_A, POISON_B))

        # ---- the pre-fill: a spin kernel longer than enqueueing a repetition
        prefill = 0
        try:
            ev0.record()
            torch.cuda._sleep(20_000_000)
            ev1.record()
            ev1.synchronize()
            cyc_per_ms = 20_000_000 / max(1e-3, ev0.elapsed_time(ev1))
            if 1e5 <= cyc_per_ms <= 1e7:  # 0.1 to 10 GHz: a sane calibration
                prefill = int(cyc_per_ms * min(500.0, 1.5 * w_host[0] + 1.0))
            else:
                info("no queue pre-fill (torch.cuda._sleep ran %.0f cycles/ms)" % cyc_per_ms)
        except Exception as e:
            info("no queue pre-fill (torch.cuda._sleep: %s)" % e)

        # ---- repetitions: fit the time left
        per_rep = max(w_ms[0], w_host[0]) + (1.5 * w_host[0] + 1.0 if prefill else 0)
        loops = 4 + (1 if big_jobs else 0)
        left = deadline - elapsed() - 3.0
        reps = max(3, min(args.reps, int(left * 1e3 * 0.6 / (loops * per_rep))))
        if reps < args.reps:
            info("%d repetitions instead of %d to stay within --time-limit" % (reps, args.reps))
        if left <= 0:
            raise Fail("time limit reached before timing")

        d_ms, d_host = time_reps(lambda: launch(jobs), reps, prefill)
        n_ms, n_host = time_reps(lambda: launch(jobs), reps, 0)
        b_ms = None
        if big_jobs:
            b_ms, _ = time_reps(lambda: launch(big_jobs), reps, prefill)
        check(jobs, "after the timed repetitions")

        src = torch.empty(out_bytes, dtype=torch.uint8, device=dev).fill_(0x5A)
        dst = torch.empty(out_bytes, dtype=torch.uint8, device=dev)
        dst.copy_(src)
        c_ms, _ = time_reps(lambda: dst.copy_(src), reps, 0)
        del src, dst

    mib = out_bytes / 2**20
    d = ms_stats(d_ms)
    gbs = out_bytes / (d["median_ms"] * 1e6)
    c = ms_stats(c_ms)
    cgbs = out_bytes / (c["median_ms"] * 1e6)
    nst = ms_stats(n_ms)
    info("dfl11 min %.3f ms (%.1f GB/s); host enqueue %.3f ms a repetition (median, %.1f us "
         "a launch); without the pre-fill %.3f ms median (%.1f GB/s): the rate Python "
         "launches them at, as their decode_hook would"
         % (d["min_ms"], out_bytes / (d["min_ms"] * 1e6), statistics.median(d_host),
            statistics.median(d_host) * 1e3 / launches, nst["median_ms"],
            out_bytes / (nst["median_ms"] * 1e6)))
    print("dfl11  %.1f MiB BF16 out in %.3f ms (median of %d, %d launches): %.1f GB/s output; "
          "bits/weight %.3f group=%s" % (mib, d["median_ms"], reps, launches, gbs,
                                         enc_stats["bits_per_weight"], args.group), flush=True)
    print("copy   %.1f MiB d2d copy in %.3f ms (median): %.1f GB/s (read+write %.1f)"
          % (mib, c["median_ms"], cgbs, 2 * cgbs), flush=True)
    report.update(
        device=props.name, sms=props.multi_processor_count, l2_bytes=l2, copies=K,
        launches=launches, reps=reps, out_bytes=out_bytes,
        compressed_bytes_on_device=K * cset, max_shared_mem=max_shm,
        prefill_cycles=prefill,
        dfl11=dict(d, gbs=gbs, gbs_min=out_bytes / (d["min_ms"] * 1e6),
                   host_enqueue_ms=statistics.median(d_host)),
        dfl11_no_prefill=dict(nst, gbs=out_bytes / (nst["median_ms"] * 1e6),
                              host_enqueue_ms=statistics.median(n_host)),
        copy=dict(c, gbs=cgbs, gbs_read_write=2 * cgbs),
        dfl11_vs_copy=gbs / cgbs)
    if b_ms:
        bb = sum(2 * results[j[4]]["n"] for j in big_jobs)
        b = ms_stats(b_ms)
        print("dfl11big %.1f MiB BF16 out in %.3f ms (median of %d, %d launches, %s >= %d "
              "elements): %.1f GB/s output group=%s"
              % (bb / 2**20, b["median_ms"], reps, len(big_jobs), what, args.big_elements,
                 bb / (b["median_ms"] * 1e6), args.group), flush=True)
        report["dfl11_big"] = dict(b, out_bytes=bb, launches=len(big_jobs),
                                   gbs=bb / (b["median_ms"] * 1e6))
    else:
        info("no %s has >= %d elements: no dfl11big line" % (what[:-1], args.big_elements))

    # ---- the same launches as one CUDA graph (last: a failure here is only noted)
    if deadline - elapsed() < 3.0:
        info("no time left for the CUDA graph replay")
        return
    try:
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g, stream=ts, capture_error_mode="relaxed"):
            with cs:
                launch(jobs)
        with torch.cuda.stream(ts):
            poison(POISON_A)
            g.replay()
            check(jobs, "CUDA graph replay")
            g_ms, _ = time_reps(g.replay, reps, 0)
        gs = ms_stats(g_ms)
        ggbs = out_bytes / (gs["median_ms"] * 1e6)
        print("dfl11g %.1f MiB BF16 out in %.3f ms (median of %d, %d launches in one CUDA "
              "graph): %.1f GB/s output group=%s" % (mib, gs["median_ms"], reps, launches, ggbs,
                                                     args.group), flush=True)
        report["dfl11_graph"] = dict(gs, gbs=ggbs)
    except Fail:
        raise
    except Exception as e:
        info("CUDA graph replay not measured (%s: %s)" % (type(e).__name__, e))


# ------------------------------------------------------------------- main ---

def run(args, report):
    deadline = args.time_limit
    chosen = pick_tensors(args.model, args.min_elements, args.max_elements, args.group)
    if not args.encode_only:
        # Before spending seconds on encoding: is there a GPU path at all?
        if importlib.util.find_spec("cupy") is None:
            raise Skip("cupy is not installed")
        import torch
        if not torch.cuda.is_available():  # no CUDA context is created here
            raise Skip("torch sees no CUDA device")
    tensors = load_tensors(args.model, chosen)
    what = units_word(args.group)
    results, enc_stats = encode_all(tensors, args.encode_only, deadline, what)
    n_tensors = sum(len(parts) for _, parts, _w in tensors)
    report.update(model=args.model, dfloat11=dfl_version(), tensors=n_tensors,
                  group=args.group, units=len(results),
                  largest_unit_elements=max(r["n"] for r in results),
                  **{k: v for k, v in enc_stats.items()})
    problems = ["%s: %s" % (r["name"], p) for r in results for p in r["problems"]]
    if args.encode_only:
        v = [r for r in results if r["verified"] is not None]
        if problems:
            raise Fail("encoder output: " + "; ".join(problems[:4]))
        ok, sec, nsym = v[0]["verified"]
        info("dahuffman decoded %s's encoded_exponent (%d symbols) back to its exponents in "
             "%.2f s; sign_mantissa + exponents rebuild the BF16 bits of all %d %s; "
             "output_positions, gaps, luts shaped as the kernel reads them"
             % (v[0]["name"], nsym, sec, len(results), what))
        print("PASS dfloat11_ref encode-only: %d tensors, %d elements, bits/weight %.3f "
              "(%.2f%% of BF16), encode %.2f s, %d launch units, largest %d elements group=%s"
              % (n_tensors, enc_stats["elements"], enc_stats["bits_per_weight"],
                 enc_stats["ratio_percent"], enc_stats["encode_wall_s"], len(results),
                 max(r["n"] for r in results), args.group), flush=True)
        return
    for p in problems[:4]:
        info("warning: encoder output " + p)
    if elapsed() > deadline:
        raise Fail("time limit reached after encoding (%.1f s)" % elapsed())
    gpu_phase(args, tensors, results, enc_stats, deadline, report)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model", help="BF16 .safetensors file")
    ap.add_argument("--min-mib", type=int, default=1024,
                    help="decoded BF16 output per repetition, at least (MiB)")
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--encode-only", action="store_true",
                    help="encode and check on the CPU only (no GPU)")
    ap.add_argument("--max-elements", type=int, default=16 << 20,
                    help="encode at most this many elements (whole tensors or groups "
                    "in file order)")
    ap.add_argument("--group", choices=("tensor", "block"), default="tensor",
                    help="encode and launch per tensor, or per transformer block (all "
                    "its tensors concatenated, as DFloat11's compress_model does)")
    ap.add_argument("--min-elements", type=int, default=4096,
                    help="smallest tensor used (DFloat11 compresses weight matrices)")
    ap.add_argument("--big-elements", type=int, default=1 << 20,
                    help="the dfl11big line times only tensors (groups) with this many elements")
    ap.add_argument("--time-limit", type=float, default=50.0,
                    help="seconds for the whole run (checked between phases)")
    ap.add_argument("--json", help="write every number to this file")
    args = ap.parse_args()

    def on_alarm(_sig, _frame):
        raise Fail("hard time limit (--time-limit + 10 s) reached")
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(int(args.time_limit) + 10)

    report = dict(args=vars(args))
    rc = 0
    try:
        run(args, report)
        report["result"] = "ok"
    except Skip as e:
        print("SKIP dfloat11_ref %s" % e, flush=True)
        report["result"] = "skip: %s" % e
    except Fail as e:
        print("FAIL dfloat11_ref %s" % e, flush=True)
        report["result"] = "fail: %s" % e
        rc = 1
    except BaseException as e:
        traceback.print_exc()
        print("FAIL dfloat11_ref %s: %s" % (type(e).__name__, e), flush=True)
        report["result"] = "fail: %s: %s" % (type(e).__name__, e)
        rc = 1
    finally:
        signal.alarm(0)
    report["wall_s"] = elapsed()
    if args.json:
        try:
            with open(args.json, "w") as f:
                json.dump(report, f, indent=1, default=str)
        except OSError as e:
            print("FAIL dfloat11_ref cannot write %s: %s" % (args.json, e), flush=True)
            rc = 1
    info("wall %.1f s" % elapsed())
    return rc


if __name__ == "__main__":
    sys.exit(main())
