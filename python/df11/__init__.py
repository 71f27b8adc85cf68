"""df11: read .df11 files (lossless BF16 safetensors, doc/FORMAT.md) from
Python without a mount, and write them.

    import df11
    with df11.safe_open("model.df11", framework="pt") as f:    # as safetensors.safe_open
        w = f.get_tensor("lm_head.weight")
        rows = f.get_slice("embed.weight")[1000:1010]          # decodes only those chunks
    sd = df11.torch.load_file("model.df11")                    # all cores, one buffer
    df11.compress("model.safetensors", "model.df11", progress=tqdm(unit="B", unit_scale=True))
    df11.verify("model.df11")

Errors from the library are df11.Df11Error (with .status such as
"DF11_E_CHECKSUM" and .message naming file and offset); a missing file is
FileNotFoundError.
"""
import ctypes
import os

from . import _lib
from ._core import (Df11Error, Df11IOError, Df11MemoryError, Df11ValueError, Reader,
                    _check, gpu_available, open_reader, safe_open)

__all__ = ["safe_open", "compress", "verify", "Df11Error", "gpu_available", "library_version",
           "status_name"]
__version__ = "1.0.0"


def library_version():
    """The version string of the bundled libdf11."""
    return _lib.version().decode()


def status_name(code):
    return _lib.status_name(code)


class _Progress:
    """Adapts progress=: a callable(done, total), or a tqdm-like object (has
    update(); its total is set from the library's). Exceptions raised by the
    callback are kept and re-raised after the library returns."""

    def __init__(self, progress):
        self.target = progress
        self.exc = None
        self.cfunc = _lib.PROGRESS_FN(self._call) if progress is not None else _lib.PROGRESS_FN()

    def _call(self, ctx, done, total):
        if self.exc is not None:
            return
        try:
            p = self.target
            if hasattr(p, "update") and hasattr(p, "n"):
                if getattr(p, "total", None) != total:
                    p.total = total
                    if hasattr(p, "refresh"):
                        p.refresh()
                if done > p.n:
                    p.update(done - p.n)
            else:
                p(done, total)
        except BaseException as e:  # noqa: B036 - re-raised on the caller's thread
            self.exc = e

    def reraise(self):
        if self.exc is not None:
            raise self.exc


def compress(src, dst=None, *, threads=0, zstd_level=3, chunk_log2=18, progress=None):
    """Compresses the .safetensors file src into dst (default: src with its
    suffix replaced by .df11) through df11_encode_file, on `threads` cores
    (0: all). progress: callable(done_bytes, total_bytes) or a tqdm bar.
    dst is partial while it is written and removed on failure. Returns dst."""
    src = os.fspath(src)
    if dst is None:
        root, ext = os.path.splitext(src)
        dst = (root if ext == ".safetensors" else src) + ".df11"
    dst = os.fspath(dst)
    if not os.path.exists(src):
        raise FileNotFoundError(2, os.strerror(2), src)
    opts = _lib.EncodeOptions()
    _lib.encode_options_default(ctypes.byref(opts))
    opts.threads = int(threads)
    opts.zstd_level = int(zstd_level)
    opts.chunk_log2 = int(chunk_log2)
    prog = _Progress(progress)
    opts.progress = prog.cfunc
    err = _lib.Error()
    s = _lib.encode_file(_lib.fsencode(src), _lib.fsencode(dst), ctypes.byref(opts),
                         ctypes.byref(err))
    _check(s, err)
    prog.reraise()
    return dst


def verify(path, *, threads=0, progress=None):
    """Decodes the whole file, checks every chunk checksum and the SHA-256
    of the original; raises Df11Error on any mismatch. Returns the original
    size in bytes. progress: callable(done, total) or a tqdm bar."""
    r = open_reader(path)
    try:
        prog = _Progress(progress)
        err = _lib.Error()
        _check(_lib.verify(r, int(threads), prog.cfunc, None, ctypes.byref(err)), err)
        prog.reraise()
        return int(_lib.original_size(r))
    finally:
        _lib.close(r)


def __getattr__(name):
    # df11.torch and df11.transformers import torch/transformers, so they
    # load on first use: `import df11` needs numpy only.
    if name in ("torch", "numpy", "transformers"):
        import importlib
        return importlib.import_module("." + name, __name__)
    raise AttributeError("module 'df11' has no attribute %r" % name)
