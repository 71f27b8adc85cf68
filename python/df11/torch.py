"""df11.torch: safetensors.torch's loading functions over .df11 files."""
from ._core import safe_open
from . import _torch


def load_file(filename, device="cpu", *, threads=None):
    """Like safetensors.torch.load_file: every tensor of a .df11 file, in
    file order, as a dict. All chunks are decoded in parallel on all cores
    (or `threads`) straight into one buffer of the tensors' total size, and
    the tensors are views of it, so peak memory is the tensors' size plus a
    few chunk buffers. With device="cuda:N" and a CUDA build of libdf11 the
    chunks are decoded on that GPU; otherwise on the CPU, then copied."""
    with safe_open(filename, framework="pt", device=device) as f:
        return _torch.get_tensors(f.reader, f._device, threads=threads)

