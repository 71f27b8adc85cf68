"""The torch side of safe_open: decode into a torch tensor's own memory."""
import numpy as np
import torch

from . import _core, _lib

_TYPES = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16,
          "BF16": torch.bfloat16, "I64": torch.int64, "I32": torch.int32,
          "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8, "BOOL": torch.bool,
          "C64": torch.complex64}
for _k, _v in (("F8_E4M3", "float8_e4m3fn"), ("F8_E4M3FNUZ", "float8_e4m3fnuz"),
               ("F8_E5M2", "float8_e5m2"), ("F8_E5M2FNUZ", "float8_e5m2fnuz"),
               ("U64", "uint64"), ("U32", "uint32"), ("U16", "uint16")):
    if hasattr(torch, _v):
        _TYPES[_k] = getattr(torch, _v)


def dtype_of(s):
    try:
        return _TYPES[s]
    except KeyError:
        raise TypeError("df11: dtype %s has no torch equivalent" % s) from None


def _to_device(t, device):
    """Moves a CPU tensor to device (the fallback when libdf11 cannot decode
    on the GPU itself); a seam the tests replace on machines without CUDA."""
    return t.to(device)


def _typed(raw_u8, dtype, shape):
    """A tensor of dtype/shape over the bytes of a 1-D uint8 tensor (a view
    when it is suitably aligned, otherwise a copy)."""
    if raw_u8.numel() == 0:
        return torch.empty(shape, dtype=dtype, device=raw_u8.device)
    try:
        return raw_u8.view(dtype).reshape(shape)
    except RuntimeError:  # storage offset not a multiple of the item size
        return raw_u8.clone().view(dtype).reshape(shape)


_gpu_refused = {}  # device -> why libdf11 could not decode into it


def _use_gpu(device):
    if device == "cpu" or not device.startswith("cuda") or device in _gpu_refused:
        return False
    return _core.gpu_available()[0]


def _gpu_or_cpu(device, gpu, cpu):
    """gpu(); when libdf11 refuses the device itself (not the data: e.g. a
    destination on another GPU than the one its context is bound to), warn
    once, remember, and run cpu() instead: same bits either way."""
    try:
        return gpu()
    except _core.Df11Error as e:
        if e.code not in (_lib.E_ARG, _lib.E_GPU, _lib.E_NO_GPU):
            raise  # corrupt data fails on the GPU as it would on the CPU
        import warnings
        _gpu_refused[device] = str(e)
        warnings.warn("df11: GPU decoding into %s failed (%s); decoding on the CPU and copying"
                      % (device, e), RuntimeWarning, stacklevel=3)
        return cpu()


def _gpu_tensor(reader, info, device):
    """Decodes on the GPU straight into the tensor's device memory; chunks
    that stick out of the tensor go through one chunk-sized scratch
    buffer."""
    offs = reader.chunk_offsets()
    dev = torch.device(device)
    out = torch.empty(info.nbytes, dtype=torch.uint8, device=dev)
    if info.nbytes:
        c0 = int(np.searchsorted(offs, info.start, side="right")) - 1
        c1 = int(np.searchsorted(offs, info.end - 1, side="right")) - 1
        with torch.cuda.device(dev):
            torch.cuda.current_stream().synchronize()
            jobs, partial = [], []
            for c in range(c0, c1 + 1):
                a, b = int(offs[c]), int(offs[c + 1])
                if a >= info.start and b <= info.end:
                    jobs.append((c, out.data_ptr() + (a - info.start)))
                else:
                    partial.append(c)
            _core.gpu_decode(reader, jobs)
            if partial:
                tmp = torch.empty(max(int(offs[c + 1] - offs[c]) for c in partial),
                                  dtype=torch.uint8, device=dev)
                for c in partial:
                    a, b = int(offs[c]), int(offs[c + 1])
                    _core.gpu_decode(reader, [(c, tmp.data_ptr())])
                    lo, hi = max(a, info.start), min(b, info.end)
                    out[lo - info.start:hi - info.start].copy_(tmp[lo - a:hi - a])
                    torch.cuda.current_stream().synchronize()
    return _typed(out, dtype_of(info.dtype), info.shape)


def get_tensor(reader, info, device):
    dtype = dtype_of(info.dtype)
    if _use_gpu(device):
        return _gpu_or_cpu(device, lambda: _gpu_tensor(reader, info, device),
                           lambda: get_tensor(reader, info, device))
    raw = torch.empty(info.nbytes, dtype=torch.uint8)
    reader.read_ranges(raw.data_ptr(), info.start, [(info.start, info.end)])
    t = _typed(raw, dtype, info.shape)
    return t if device == "cpu" else _to_device(t, device)


def get_tensors(reader, device, threads=None):
    """Every tensor, in file order, decoded on all cores into one buffer of
    the data section; the tensors are views of it."""
    tensors = reader.by_offset
    for t in tensors:
        dtype_of(t.dtype)
    if not tensors:
        return {}
    if _use_gpu(device):
        return _gpu_or_cpu(device, lambda: _gpu_tensors(reader, device),
                           lambda: get_tensors(reader, device, threads))
    lo = min(t.start for t in tensors)
    hi = max(t.end for t in tensors)
    base = lo
    buf = torch.empty(hi - lo, dtype=torch.uint8)
    reader.read_ranges(buf.data_ptr(), lo, [(lo, hi)], threads=threads)
    if device != "cpu":
        buf = _to_device(buf, device)
    return _views(tensors, buf, base)


def _views(tensors, buf, base):
    return {t.name: _typed(buf[t.start - base:t.end - base], dtype_of(t.dtype), t.shape)
            for t in tensors}


def _gpu_tensors(reader, device):
    """load_file on the GPU: one device buffer covering every chunk of the
    data section, each chunk decoded straight into it; tensors are views."""
    tensors = reader.by_offset
    lo = min(t.start for t in tensors)
    hi = max(t.end for t in tensors)
    offs = reader.chunk_offsets()
    c0 = int(np.searchsorted(offs, lo, side="right")) - 1
    c1 = int(np.searchsorted(offs, hi - 1, side="right")) - 1 if hi > lo else c0 - 1
    base = int(offs[c0]) if hi > lo else lo
    dev = torch.device(device)
    buf = torch.empty(int(offs[c1 + 1]) - base if hi > lo else 0, dtype=torch.uint8,
                      device=dev)
    with torch.cuda.device(dev):
        torch.cuda.current_stream().synchronize()
        _core.gpu_decode(reader, [(c, buf.data_ptr() + int(offs[c]) - base)
                                  for c in range(c0, c1 + 1)])
    return _views(tensors, buf, base)


def from_raw(raw, dtype_str, device):
    """A numpy array of same-sized ints (a slice) -> a torch tensor."""
    dtype = dtype_of(dtype_str)
    t = torch.from_numpy(raw)
    if t.dtype != dtype:
        t = t.view(dtype)
    return t if device == "cpu" else _to_device(t, device)
