"""Reader, errors, safe_open and slices: everything framework-neutral.

Decoding always goes through libdf11 (df11_pread, df11_decode_chunk and the
GPU batch call) into memory that the returned tensor owns; nothing is
decoded twice and no decoded copy is kept.
"""
import ctypes
import errno
import json
import os
import stat
import struct
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from . import _lib

# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------


class Df11Error(Exception):
    """A libdf11 failure: .status ("DF11_E_CHECKSUM"), .code (its stable
    number) and .message (the library's message, naming the file and, where
    one applies, the offset)."""

    def __init__(self, code, message):
        self.code = int(code)
        self.status = _lib.status_name(self.code)
        self.message = message
        super().__init__("%s: %s" % (self.status, message))

    def __reduce__(self):
        return (_error_from, (self.code, self.message))


class Df11IOError(Df11Error, OSError):
    """DF11_E_IO: also an OSError."""


class Df11ValueError(Df11Error, ValueError):
    """DF11_E_ARG / DF11_E_RANGE: also a ValueError."""


class Df11MemoryError(Df11Error, MemoryError):
    """DF11_E_NOMEM: also a MemoryError."""


_ERROR_CLASS = {_lib.E_IO: Df11IOError, _lib.E_ARG: Df11ValueError,
                _lib.E_RANGE: Df11ValueError, _lib.E_NOMEM: Df11MemoryError}


def _error_from(code, message):
    cls = _ERROR_CLASS.get(int(code), Df11Error)
    e = cls.__new__(cls)
    Df11Error.__init__(e, code, message)
    return e


def _raise(status, err):
    msg = err.message.decode("utf-8", "replace") if err.code == status else ""
    raise _error_from(status, msg or _lib.status_name(status))


def _check(status, err):
    if status != _lib.OK:
        _raise(status, err)


# ---------------------------------------------------------------------------
# Worker pool: the decode threads. ctypes drops the GIL for each foreign
# call, so these run on all cores at once.
# ---------------------------------------------------------------------------

_pool = None
_pool_lock = threading.Lock()


def _threads():
    n = os.environ.get("DF11_THREADS")
    if n:
        return max(1, int(n))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover
        return os.cpu_count() or 1


def _get_pool():
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=_threads(), thread_name_prefix="df11")
        return _pool


# ---------------------------------------------------------------------------
# Dtypes
# ---------------------------------------------------------------------------

DTYPE_SIZE = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2,
              "I8": 1, "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E4M3FNUZ": 1,
              "F8_E5M2": 1, "F8_E5M2FNUZ": 1, "C64": 8, "U64": 8, "U32": 4, "U16": 2}
# Same-sized signed integers: the raw view every slice is cut from (numpy and
# torch both have them, so bits pass through untouched).
_RAW_INT = {1: np.int8, 2: np.int16, 4: np.int32, 8: np.int64}


# ---------------------------------------------------------------------------
# Reader
# ---------------------------------------------------------------------------


def open_reader(path):
    """A df11_reader (c_void_p) over path. The file is opened here, so a
    missing file is FileNotFoundError and a folder IsADirectoryError, as
    for open(); then df11_source_fd + df11_open_source."""
    path = os.fspath(path)
    flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)
    fd = os.open(path, flags)
    src, err = _lib.Source(), _lib.Error()
    try:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
        _check(_lib.source_fd(fd, _lib.fsencode(path), ctypes.byref(src), ctypes.byref(err)),
               err)
    except BaseException:
        os.close(fd)
        raise
    r = ctypes.c_void_p()
    # From here on the reader owns the descriptor, failed open or not.
    _check(_lib.open_source(ctypes.byref(src), ctypes.byref(r), ctypes.byref(err)), err)
    return r


class TensorInfo:
    __slots__ = ("name", "dtype", "shape", "start", "end")

    def __init__(self, name, dtype, shape, start, end):
        self.name, self.dtype, self.shape, self.start, self.end = name, dtype, shape, start, end

    @property
    def nbytes(self):
        return self.end - self.start


class Reader:
    """One open .df11 file: a df11_reader plus the safetensors header.

    Thread-safe: any number of threads may read at once. close() waits for
    reads in flight, so a tensor is never decoded from a freed reader."""

    def __init__(self, path):
        self.path = os.fspath(path)
        self._r = None
        self._cond = threading.Condition()
        self._busy = 0
        self._closed = True
        self._r = r = open_reader(self.path)
        self._closed = False
        self.size = int(_lib.original_size(r))
        self.stored_size = int(_lib.stored_size(r))
        self._chunk_off = None
        try:
            self._parse_header()
        except BaseException:
            self.close()
            raise

    # -- life cycle ---------------------------------------------------------

    def _enter(self):
        with self._cond:
            if self._closed:
                raise Df11Error(_lib.E_ARG, "%s: file is closed" % self.path)
            self._busy += 1

    def _leave(self):
        with self._cond:
            self._busy -= 1
            if self._busy == 0:
                self._cond.notify_all()

    def close(self):
        with self._cond:
            if self._closed:
                return
            self._closed = True
            while self._busy:
                self._cond.wait()
            r, self._r = self._r, None
        if r:
            _lib.close(r)

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    # -- raw reads ----------------------------------------------------------

    def pread_into(self, ptr, length, off):
        """Decodes original bytes [off, off+length) into memory at ptr."""
        if length <= 0:
            return
        err = _lib.Error()
        self._enter()
        try:
            s = _lib.pread(self._r, ctypes.c_void_p(ptr), length, off, ctypes.byref(err))
        finally:
            self._leave()
        _check(s, err)

    def pread(self, length, off):
        buf = ctypes.create_string_buffer(length)
        self.pread_into(ctypes.addressof(buf), length, off)
        return buf.raw

    def chunk_offsets(self):
        """Original offsets of every chunk, with the end appended (numpy
        uint64, chunk_count + 1 entries)."""
        if self._chunk_off is None:
            self._enter()
            try:
                n = int(_lib.chunk_count(self._r))
                offs = np.empty(n + 1, dtype=np.uint64)
                o, ln = ctypes.c_uint64(), ctypes.c_uint32()
                for i in range(n):
                    _lib.chunk_extent(self._r, i, ctypes.byref(o), ctypes.byref(ln))
                    offs[i] = o.value
                offs[n] = self.size
            finally:
                self._leave()
            self._chunk_off = offs
        return self._chunk_off

    def read_ranges(self, ptr, base, ranges, threads=None):
        """Decodes each original range [a, b) into ptr + (a - base), on the
        worker threads. Ranges are cut at chunk boundaries into pieces of a
        few MiB so every core gets work and no chunk is decoded twice."""
        offs = self.chunk_offsets()
        pieces = []
        total = sum(b - a for a, b in ranges)
        if total <= 0:
            return
        nthr = threads or _threads()
        target = max(4 << 20, total // (nthr * 4) + 1)
        for a, b in ranges:
            pos = a
            while pos < b:
                nxt = min(b, pos + target)
                if nxt < b:  # snap forward to a chunk start
                    c = int(np.searchsorted(offs, nxt, side="left"))
                    nxt = min(b, int(offs[c]))
                pieces.append((pos, nxt))
                pos = nxt
        if len(pieces) == 1 or nthr == 1:
            for a, b in pieces:
                self.pread_into(ptr + (a - base), b - a, a)
            return
        pool = _get_pool()
        futs = [pool.submit(self.pread_into, ptr + (a - base), b - a, a) for a, b in pieces]
        first = None
        for f in futs:  # wait for all: memory must not be freed under a worker
            e = f.exception()
            if e is not None and first is None:
                first = e
        if first is not None:
            raise first

    # -- safetensors header ---------------------------------------------------

    def _parse_header(self):
        err, n = _lib.Error(), ctypes.c_size_t()
        self._enter()
        try:  # the library's own validation of the safetensors header first
            s = _lib.tensor_count(self._r, ctypes.byref(n), ctypes.byref(err))
        finally:
            self._leave()
        _check(s, err)
        (hlen,) = struct.unpack("<Q", self.pread(8, 0))
        try:
            hdr = json.loads(self.pread(hlen, 8).decode("utf-8"))
        except ValueError as e:
            raise Df11Error(_lib.E_NOT_SAFETENSORS, "%s: safetensors header: %s" % (self.path, e))
        meta = hdr.pop("__metadata__", None)
        self.metadata = dict(meta) if meta is not None else None
        base = 8 + hlen
        self.data_start = base
        infos = {}
        for name, e in hdr.items():
            dt = e.get("dtype")
            shape = [int(x) for x in e.get("shape", ())]
            a, b = (int(x) for x in e["data_offsets"])
            infos[name] = TensorInfo(name, dt, shape, base + a, base + b)
        # safetensors' own rule: the tensors tile the data section exactly.
        pos = base
        for t in sorted(infos.values(), key=lambda t: (t.start, t.end)):
            if t.start != pos or t.end < t.start:
                raise Df11Error(_lib.E_NOT_SAFETENSORS, "%s: invalid offsets for tensor %s"
                                % (self.path, t.name))
            if t.dtype not in DTYPE_SIZE:
                raise Df11Error(_lib.E_NOT_SAFETENSORS, "%s: tensor %s has unknown dtype %s"
                                % (self.path, t.name, t.dtype))
            n = 1
            for x in t.shape:
                n *= x
            if n * DTYPE_SIZE[t.dtype] != t.nbytes:
                raise Df11Error(_lib.E_NOT_SAFETENSORS, "%s: tensor %s: shape %s does not "
                                "match its %d bytes" % (self.path, t.name, t.shape, t.nbytes))
            pos = t.end
        if pos != self.size:
            raise Df11Error(_lib.E_NOT_SAFETENSORS, "%s: incomplete metadata, file not fully "
                            "covered (tensors end at %d of %d bytes)" % (self.path, pos, self.size))
        self.tensors = infos
        self.by_offset = sorted(infos.values(), key=lambda t: (t.start, t.end, t.name))

    def info(self, name):
        try:
            return self.tensors[name]
        except KeyError:
            raise Df11Error(_lib.E_ARG, "File does not contain tensor %s" % name) from None


# ---------------------------------------------------------------------------
# GPU
# ---------------------------------------------------------------------------

_gpu_state = None


def gpu_available():
    """(True, "") when this build of libdf11 has CUDA and sees a device;
    otherwise (False, "DF11_E_NO_GPU: why")."""
    global _gpu_state
    if _gpu_state is None:
        err = _lib.Error()
        s = _lib.gpu_available(ctypes.byref(err))
        if s == _lib.OK:
            _gpu_state = (True, "")
        else:
            _gpu_state = (False, "%s: %s" % (_lib.status_name(s),
                                             err.message.decode("utf-8", "replace")))
    return _gpu_state


def gpu_decode(reader, jobs):
    """jobs: [(chunk index, device pointer)]. Decodes them on the GPU in
    batches; raises the first failure (with every failing chunk counted)."""
    BATCH = 512
    for i in range(0, len(jobs), BATCH):
        part = jobs[i:i + BATCH]
        n = len(part)
        arr = (_lib.ChunkJob * n)()
        for k, (c, dst) in enumerate(part):
            arr[k].reader = reader._r.value
            arr[k].chunk = c
            arr[k].dst = dst
        st = (ctypes.c_int * n)()
        err = _lib.Error()
        reader._enter()
        try:
            s = _lib.gpu_decode_batch(arr, n, _lib.BATCH_DEVICE, st, ctypes.byref(err))
        finally:
            reader._leave()
        _check(s, err)


# ---------------------------------------------------------------------------
# Slicing
# ---------------------------------------------------------------------------


def _normalize_index(index, shape):
    """numpy basic indexing (ints, slices, Ellipsis, None) -> one entry per
    dimension of shape: ('i', k) or ('s', start, stop, step), plus the
    index tuple itself made explicit. Raises IndexError/TypeError."""
    if not isinstance(index, tuple):
        index = (index,)
    for x in index:
        if not (x is None or x is Ellipsis or isinstance(x, (slice, int, np.integer))) \
                or isinstance(x, bool):
            raise TypeError("df11 slices take ints, slices, Ellipsis and None, not %r" % (x,))
    nreal = sum(1 for x in index if x is not None and x is not Ellipsis)
    if sum(1 for x in index if x is Ellipsis) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    if nreal > len(shape):
        raise IndexError("too many indices for tensor of dimension %d" % len(shape))
    full = []
    for x in index:
        if x is Ellipsis:
            full.extend([slice(None)] * (len(shape) - nreal))
        else:
            full.append(x)
    if Ellipsis not in index:
        full.extend([slice(None)] * (len(shape) - nreal))
    dims, d = [], 0
    for x in full:
        if x is None:
            continue
        n = shape[d]
        if isinstance(x, slice):
            if x.step is not None and x.step <= 0:
                raise ValueError("step must be greater than zero")
            dims.append(("s",) + x.indices(n))
        else:
            k = int(x)
            if not -n <= k < n:
                raise IndexError("index %d is out of bounds for dimension %d with size %d"
                                 % (k, d, n))
            dims.append(("i", k % n))
        d += 1
    return dims, tuple(full)


def _dim_indices(entry):
    if entry[0] == "i":
        return np.array([entry[1]], dtype=np.int64)
    return np.arange(entry[1], entry[2], entry[3], dtype=np.int64)


def read_slice(reader, info, index):
    """The raw selection of a tensor as a numpy array of a same-sized signed
    integer type (bits untouched), decoding only the chunks it touches."""
    shape = tuple(info.shape)
    item = DTYPE_SIZE[info.dtype]
    raw_t = _RAW_INT[item]
    dims, full = _normalize_index(index, shape)
    if len(shape) == 0:
        buf = np.empty(1, dtype=raw_t)
        reader.pread_into(buf.ctypes.data, item, info.start)
        return np.array(buf.reshape(())[full], order="C")
    sels = [_dim_indices(e) for e in dims]
    if any(len(s) == 0 for s in sels) or any(n == 0 for n in shape):
        dummy = np.lib.stride_tricks.as_strided(np.zeros(1, raw_t), shape=shape,
                                                strides=(0,) * len(shape))
        return np.empty(dummy[full].shape, dtype=raw_t)
    strides = [item] * len(shape)
    for i in range(len(shape) - 2, -1, -1):
        strides[i] = strides[i + 1] * shape[i + 1]
    lo0, hi0 = int(sels[0].min()), int(sels[0].max()) + 1
    region_a = info.start + lo0 * strides[0]
    region_b = info.start + hi0 * strides[0]
    buf = np.empty(region_b - region_a, dtype=np.uint8)
    reader.read_ranges(buf.ctypes.data, region_a, _needed_spans(reader, info, shape, strides,
                                                                  dims, sels, region_a, region_b))
    view = buf.view(raw_t).reshape((hi0 - lo0,) + shape[1:])
    # Shift the first real dimension's index into the region.
    out, d = [], 0
    for x in full:
        if x is not None and d == 0:
            e = dims[0]
            if e[0] == "i":
                x = e[1] - lo0
            else:
                x = slice(e[1] - lo0, e[2] - lo0, e[3])
        if x is not None:
            d += 1
        out.append(x)
    return np.array(view[tuple(out)], order="C")  # a copy; 0-d stays 0-d


def _needed_spans(reader, info, shape, strides, dims, sels, region_a, region_b):
    """Original byte ranges within [region_a, region_b) made of whole chunks
    that the selection touches (clipped to the region)."""
    nd = len(shape)
    # j: the last dimension that is not fully selected in order; the runs
    # are the combinations of dims 0..j, each of length strides[j] (or one
    # contiguous run across dim j when it is a step-1 range).
    j = -1
    for i in range(nd):
        e = dims[i]
        if not (e[0] == "s" and e[3] == 1 and e[1] == 0 and e[2] == shape[i]):
            j = i
    if j < 0:
        return [(region_a, region_b)]
    contiguous_j = dims[j][0] == "i" or dims[j][3] == 1
    outer = sels[:j] if contiguous_j else sels[:j + 1]
    nruns = 1
    for s in outer:
        nruns *= len(s)
    if nruns > 2_000_000:
        return [(region_a, region_b)]
    starts = np.zeros((1,), dtype=np.int64)
    for i, s in enumerate(outer):
        starts = (starts[:, None] + (s * strides[i])[None, :]).reshape(-1)
    if contiguous_j:
        sj = sels[j]
        starts = starts + int(sj.min()) * strides[j]
        runlen = (int(sj.max()) - int(sj.min()) + 1) * strides[j]
    else:
        runlen = strides[j]
    starts = starts + info.start
    offs = reader.chunk_offsets().astype(np.int64)
    first = np.searchsorted(offs, starts, side="right") - 1
    last = np.searchsorted(offs, starts + runlen - 1, side="right") - 1
    mark = np.zeros(len(offs) + 1, dtype=np.int64)
    np.add.at(mark, first, 1)
    np.add.at(mark, last + 1, -1)
    touched = np.cumsum(mark)[:len(offs) - 1] > 0
    idx = np.flatnonzero(touched)
    spans = []
    if len(idx) == 0:
        return spans
    breaks = np.flatnonzero(np.diff(idx) != 1)
    begins = np.concatenate(([idx[0]], idx[breaks + 1]))
    ends = np.concatenate((idx[breaks], [idx[-1]]))
    for b, e in zip(begins, ends):
        a = max(region_a, int(offs[b]))
        z = min(region_b, int(offs[e + 1]))
        if a < z:
            spans.append((a, z))
    return spans


# ---------------------------------------------------------------------------
# safe_open
# ---------------------------------------------------------------------------


def _norm_device(device):
    if device is None:
        return "cpu"
    if isinstance(device, int):
        return "cuda:%d" % device
    return str(device)


class safe_open:
    """df11.safe_open(path, framework="pt"|"numpy", device="cpu"|"cuda:N"):
    the methods and semantics of safetensors.safe_open over a .df11 file.
    Tensors are decoded on demand; get_slice decodes only the chunks the
    slice touches."""

    def __init__(self, filename, framework="pt", device="cpu"):
        fw = {"pt": "pt", "torch": "pt", "np": "numpy", "numpy": "numpy"}.get(framework)
        if fw is None:
            raise ValueError("df11.safe_open: framework %r is not supported (pt or numpy)"
                             % (framework,))
        self._device = _norm_device(device)
        if fw == "numpy" and self._device != "cpu":
            raise ValueError("df11.safe_open: numpy tensors live on the cpu, not %s"
                             % self._device)
        if fw == "pt":
            from . import _torch as backend
        else:
            from . import _numpy as backend
        self._fw = backend
        self._reader = Reader(filename)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self):
        self._reader.close()

    @property
    def reader(self):
        return self._reader

    def keys(self):
        return sorted(self._reader.tensors)

    def offset_keys(self):
        return [t.name for t in self._reader.by_offset]

    def metadata(self):
        m = self._reader.metadata
        return dict(m) if m is not None else None

    def get_tensor(self, name):
        return self._fw.get_tensor(self._reader, self._reader.info(name), self._device)

    def get_slice(self, name):
        return Slice(self, self._reader.info(name))

    def get_tensors(self):
        return self._fw.get_tensors(self._reader, self._device)


class Slice:
    """Lazy view of one tensor, as safetensors' get_slice returns."""

    def __init__(self, f, info):
        self._f, self._info = f, info

    def get_shape(self):
        return list(self._info.shape)

    def get_dtype(self):
        return self._info.dtype

    def __getitem__(self, index):
        f = self._f
        raw = read_slice(f._reader, self._info, index)
        return f._fw.from_raw(raw, self._info.dtype, f._device)
