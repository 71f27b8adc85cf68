"""df11: read .df11 files (lossless BF16 safetensors, doc/FORMAT.md) from
Python without a mount, and write them.

    import df11
    with df11.safe_open("model.df11", framework="pt") as f:    # as safetensors.safe_open
        w = f.get_tensor("lm_head.weight")
        rows = f.get_slice("embed.weight")[1000:1010]          # decodes only those chunks
    sd = df11.torch.load_file("model.df11")                    # all cores, one buffer
    df11.compress("model.safetensors", "model.df11", progress=tqdm(unit="B", unit_scale=True))
    df11.compress("model.safetensors", "model.df11", max=True)  # smallest (format 1.4)
    df11.verify("model.df11")
    df11.decompress("model.df11", "restored.safetensors")       # the original, byte for byte

Errors from the library are df11.Df11Error (with .status such as
"DF11_E_CHECKSUM" and .message naming file and offset); a missing file is
FileNotFoundError.
"""
import ctypes
import os

from . import _lib
from ._core import (Df11Error, Df11IOError, Df11MemoryError, Df11ValueError, Reader,
                    _check, gpu_available, open_reader, safe_open)

__all__ = ["safe_open", "compress", "decompress", "verify", "Df11Error", "gpu_available", "library_version",
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


def compress(src, dst=None, *, threads=0, zstd_level=3, chunk_log2=18, max=False, progress=None):
    """Compresses the .safetensors file src into dst (default: src with its
    suffix replaced by .df11) through df11_encode_file, on `threads` cores
    (0: all). max=True is `df11 compress --max`: BF16 and F16 chunks may
    take the ANS_IL codec, about 0.7 points of the original smaller and
    decoded at about half the speed, and F32 chunks ANS_IL_LZ (or
    EXP_LZ); readable by format 1.4 readers (the ANS_IL lane states carry
    signs, flag IL_SIGNS).
    progress: callable(done_bytes, total_bytes) or a tqdm bar.
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
    opts.level = _lib.LEVEL_MAX if max else _lib.LEVEL_DEFAULT
    prog = _Progress(progress)
    opts.progress = prog.cfunc
    err = _lib.Error()
    s = _lib.encode_file(_lib.fsencode(src), _lib.fsencode(dst), ctypes.byref(opts),
                         ctypes.byref(err))
    _check(s, err)
    prog.reraise()
    return dst


def _original_name(src):
    root, ext = os.path.splitext(src)
    if ext == ".df11":
        return root + ".safetensors"
    if ext == ".df11n":
        return root
    raise ValueError("%s: unknown suffix (expected .df11 or .df11n); name dst" % src)


def decompress(src, dst=None, *, threads=0, sha256=True, progress=None):
    """Restores the original of the .df11 file src into dst (default:
    x.df11 -> x.safetensors, N.df11n -> N) through df11_decode_all_flags,
    on `threads` cores (0: all). Every chunk's checksum is checked, and the
    whole file's SHA-256 unless sha256=False (`df11 decompress
    --no-sha256`: SHA-256 runs on one core, about 1.8 GB/s, and caps
    decoding on two or more). The bytes go to a temporary file beside dst,
    which takes src's permission bits (as the CLI's output does) and is
    renamed over dst once every check passed: on a failure dst is left as
    it was and Df11Error is raised. Returns dst."""
    import errno
    import tempfile
    src = os.fspath(src)
    dst = os.fspath(dst) if dst is not None else _original_name(src)
    if os.path.exists(dst) and os.path.exists(src) and os.path.samefile(src, dst):
        raise ValueError("%s: input and output are the same file" % src)
    if os.path.isdir(dst):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), dst)
    folder = os.path.dirname(os.path.abspath(dst))
    if not os.path.isdir(folder):
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), dst)
    r = open_reader(src)
    fd, tmp = -1, None
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(dst) + ".",
                                   suffix=".tmp")
        prog = _Progress(progress)
        failure = []

        def write(ctx, buf, length, err):
            if prog.exc is not None:    # progress raised (Ctrl-C under tqdm): stop now
                return _lib.E_IO
            try:
                view = memoryview((ctypes.c_char * length).from_address(buf))
                while view:
                    view = view[os.write(fd, view):]
                return 0
            except BaseException as e:  # noqa: B036 - re-raised on the caller's thread
                failure.append(e)
                return _lib.E_IO

        wfn = _lib.WRITE_FN(write)
        err = _lib.Error()
        flags = 0 if sha256 else _lib.DECODE_NO_SHA256
        s = _lib.decode_all_flags(r, int(threads), flags, wfn, None, prog.cfunc, None,
                                  ctypes.byref(err))
        prog.reraise()
        if failure:
            raise failure[0]
        _check(s, err)
        try:
            os.fchmod(fd, os.stat(src).st_mode & 0o7777)
        except OSError:
            pass                        # best effort, as cp -p
        os.fsync(fd)
        os.close(fd)
        fd = -1
        os.replace(tmp, dst)
        tmp = None
        return dst
    finally:
        if fd >= 0:
            os.close(fd)
        if tmp is not None:
            os.unlink(tmp)
        _lib.close(r)


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
