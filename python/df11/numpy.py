"""df11.numpy: safetensors.numpy's load_file over .df11 files."""
from ._core import safe_open
from . import _numpy


def load_file(filename, *, threads=None):
    """Like safetensors.numpy.load_file: every tensor as a numpy array, in
    file order, decoded on all cores into one buffer (arrays are views)."""
    with safe_open(filename, framework="numpy") as f:
        return _numpy.get_tensors(f.reader, "cpu", threads=threads)
