"""ctypes binding of libdf11's public header (codec/df11.h), and nothing else.

The shared library is the package's own ``_libdf11.so``, built from the
repository's C sources by setup.py at install time. Only functions declared
in codec/df11.h are bound here (python/tests/test_df11.py checks this against the
header): the Python package is a C caller like any other and keeps to the
public API. ctypes drops the GIL for the duration of every foreign call, so
decoding on several Python threads runs on several cores.
"""
import ctypes
import os

_HERE = os.path.dirname(os.path.abspath(__file__))
LIB_PATH = os.environ.get("DF11_LIBRARY") or os.path.join(_HERE, "_libdf11.so")

try:
    lib = ctypes.CDLL(LIB_PATH)
except OSError as e:  # pragma: no cover - an install problem, said plainly
    raise ImportError("df11: cannot load the C library %s: %s (reinstall with "
                      "`pip install ./python` from the df11fs repository)" % (LIB_PATH, e))

ERROR_MESSAGE_MAX = 512
HEADER_BYTES = 128

# Status numbers are stable (df11.h); names come from df11_status_name.
OK = 0
E_ARG, E_NOMEM, E_IO, E_TRUNCATED, E_BAD_MAGIC, E_VERSION = 1, 2, 3, 4, 5, 6
E_CORRUPT_HEADER, E_CORRUPT_INDEX, E_BAD_TABLE, E_CORRUPT_CHUNK = 7, 8, 9, 10
E_CHECKSUM, E_SHA256, E_NOT_SAFETENSORS, E_RANGE, E_NO_GPU, E_GPU = 11, 12, 13, 14, 15, 16
E_INTERNAL, E_AGAIN, E_CHANGED = 17, 18, 19

BATCH_HOST, BATCH_DEVICE = 0, 1


class Error(ctypes.Structure):
    _fields_ = [("code", ctypes.c_int), ("message", ctypes.c_char * ERROR_MESSAGE_MAX)]


class Tensor(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("dtype", ctypes.c_char_p),
                ("offset", ctypes.c_uint64), ("length", ctypes.c_uint64),
                ("elements", ctypes.c_uint64), ("stored_bytes", ctypes.c_uint64),
                ("codec", ctypes.c_int)]


PROGRESS_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_uint64)
READ_AT_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t,
                              ctypes.c_uint64, ctypes.POINTER(ctypes.c_size_t),
                              ctypes.POINTER(Error))
CLOSE_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
WRITE_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t,
                            ctypes.POINTER(Error))
DECODE_NO_SHA256 = 0x1
LEVEL_DEFAULT, LEVEL_MAX = 0, 9


class Source(ctypes.Structure):
    _fields_ = [("ctx", ctypes.c_void_p), ("size", ctypes.c_uint64), ("name", ctypes.c_char_p),
                ("read_at", READ_AT_FN), ("close", CLOSE_FN)]


class EncodeOptions(ctypes.Structure):
    _fields_ = [("threads", ctypes.c_int), ("zstd_level", ctypes.c_int),
                ("chunk_log2", ctypes.c_uint32), ("progress", PROGRESS_FN),
                ("progress_ctx", ctypes.c_void_p), ("level", ctypes.c_int)]


class ChunkJob(ctypes.Structure):
    _fields_ = [("reader", ctypes.c_void_p), ("chunk", ctypes.c_uint32), ("dst", ctypes.c_void_p)]


_P = ctypes.c_void_p
_PE = ctypes.POINTER(Error)
_U64 = ctypes.c_uint64
_U32 = ctypes.c_uint32
_ST = ctypes.c_int

# name: (restype, argtypes) -- every one of them declared in df11.h.
_SIGS = {
    "df11_status_name": (ctypes.c_char_p, [_ST]),
    "df11_version": (ctypes.c_char_p, []),
    "df11_source_fd": (_ST, [ctypes.c_int, ctypes.c_char_p, ctypes.POINTER(Source), _PE]),
    "df11_open_source": (_ST, [ctypes.POINTER(Source), ctypes.POINTER(_P), _PE]),
    "df11_open": (_ST, [ctypes.c_char_p, ctypes.POINTER(_P), _PE]),
    "df11_close": (None, [_P]),
    "df11_original_size": (_U64, [_P]),
    "df11_original_sha256": (ctypes.POINTER(ctypes.c_uint8), [_P]),
    "df11_stored_size": (_U64, [_P]),
    "df11_path": (ctypes.c_char_p, [_P]),
    "df11_pread": (_ST, [_P, _P, ctypes.c_size_t, _U64, _PE]),
    "df11_chunk_count": (_U32, [_P]),
    "df11_chunk_size_max": (_U32, [_P]),
    "df11_chunk_at": (_U32, [_P, _U64]),
    "df11_chunk_extent": (None, [_P, _U32, ctypes.POINTER(_U64), ctypes.POINTER(_U32)]),
    "df11_decode_chunk": (_ST, [_P, _U32, _P, _PE]),
    "df11_verify": (_ST, [_P, ctypes.c_int, PROGRESS_FN, _P, _PE]),
    "df11_decode_all_flags": (_ST, [_P, ctypes.c_int, ctypes.c_uint, WRITE_FN, _P, PROGRESS_FN, _P,
                                    _PE]),
    "df11_tensor_count": (_ST, [_P, ctypes.POINTER(ctypes.c_size_t), _PE]),
    "df11_tensor_get": (_ST, [_P, ctypes.c_size_t, ctypes.POINTER(Tensor), _PE]),
    "df11_overhead_bytes": (_U64, [_P]),
    "df11_encode_options_default": (None, [ctypes.POINTER(EncodeOptions)]),
    "df11_encode_file": (_ST, [ctypes.c_char_p, ctypes.c_char_p,
                               ctypes.POINTER(EncodeOptions), _PE]),
    "df11_gpu_available": (_ST, [_PE]),
    "df11_gpu_decode_batch": (_ST, [ctypes.POINTER(ChunkJob), ctypes.c_size_t, ctypes.c_int,
                                    ctypes.POINTER(_ST), _PE]),
}

BOUND = tuple(sorted(_SIGS))

for _name, (_res, _args) in _SIGS.items():
    _f = getattr(lib, _name)
    _f.restype = _res
    _f.argtypes = _args
    globals()[_name[len("df11_"):]] = _f


def status_name(code):
    return lib.df11_status_name(int(code)).decode()


def fsencode(path):
    return os.fsencode(os.fspath(path))
