"""The numpy side of safe_open."""
import numpy as np

from . import _core

_TYPES = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64,
          "I32": np.int32, "I16": np.int16, "I8": np.int8, "U8": np.uint8,
          "U16": np.uint16, "U32": np.uint32, "U64": np.uint64, "BOOL": np.bool_,
          "C64": np.complex64}


def dtype_of(s):
    if s in _TYPES:
        return np.dtype(_TYPES[s]).newbyteorder("<")
    if s == "BF16":
        try:
            import ml_dtypes
            return np.dtype(ml_dtypes.bfloat16)
        except ImportError:
            pass
    # What safetensors' numpy framework says for these dtypes.
    raise TypeError("data type '%s' not understood" % {"BF16": "bfloat16"}.get(s, s))


def get_tensor(reader, info, device):
    dtype = dtype_of(info.dtype)
    raw = np.empty(info.nbytes, dtype=np.uint8)
    reader.read_ranges(raw.ctypes.data, info.start, [(info.start, info.end)])
    return raw.view(dtype).reshape(info.shape)


def get_tensors(reader, device, threads=None):
    tensors = reader.by_offset
    dts = {t.name: dtype_of(t.dtype) for t in tensors}
    if not tensors:
        return {}
    lo = min(t.start for t in tensors)
    hi = max(t.end for t in tensors)
    buf = np.empty(hi - lo, dtype=np.uint8)
    reader.read_ranges(buf.ctypes.data, lo, [(lo, hi)], threads=threads)
    out = {}
    for t in tensors:
        piece = buf[t.start - lo:t.end - lo]
        dt = dts[t.name]
        if (t.start - lo) % dt.itemsize:
            piece = piece.copy()
        out[t.name] = piece.view(dt).reshape(t.shape)
    return out


def from_raw(raw, dtype_str, device):
    return raw.view(dtype_of(dtype_str))
