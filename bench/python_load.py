#!/usr/bin/env python3
"""Loading a 1.1 GB BF16 file into torch from Python, three ways, in one run:

  df11      df11.torch.load_file(X.df11)                      (python/ package)
  st        safetensors.torch.load_file(X.safetensors)        (the original)
  df11fs    safetensors.torch.load_file(MNT/X.safetensors)    (a df11fs mount of X.df11)

plus safetensors with backend="pread" (which reads into owned memory, as df11
does), each with the page cache warm and cold (the file's pages dropped with
posix_fadvise(DONTNEED) before every run; for df11fs the .df11 file's pages,
and a fresh mount per run so neither the kernel's FUSE page cache nor the
daemon's chunk cache helps). With CUDA in torch, also df11 and safetensors
to cuda:0. Every run is a fresh process (wall time of the load call alone,
then one byte of every page touched, since safetensors' default mmap backend
reads the file only then; peak RSS above the process's RSS before the load);
medians of --reps runs.

Usage (repository root, after `tests/cases/python_df11.sh` installed df11
into .venv, or `pip install ./python`):
  .venv/bin/python bench/python_load.py [--reps 3] [--df11fs build/df11fs]
The tiled file is made by tests/gen/tile_gpt2.py from ../shared/models'
GPT-2 under .data/python/ (kept), and compressed with df11.compress.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GPT2 = os.path.join(os.path.dirname(ROOT), "shared", "models", "gpt2-small-partial.bf16.safetensors")

CHILD = r"""
import json, os, sys, time
import torch
mode, path, device = sys.argv[1], sys.argv[2], sys.argv[3]
if mode == "df11":
    import df11.torch
    load = lambda: df11.torch.load_file(path, device=device)
else:
    from safetensors.torch import load_file
    backend = "pread" if mode == "st-pread" else "mmap"
    load = lambda: load_file(path, device=device, backend=backend)
def status(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
try:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
except OSError:
    pass
base = status("VmRSS")
t = time.perf_counter()
sd = load()
if device != "cpu":
    torch.cuda.synchronize()
dt = time.perf_counter() - t
# Touch one byte of every page: mmap-backed tensors (safetensors' default)
# are only read from the file here, so load + touch is the fair total.
t2 = time.perf_counter()
acc = 0
for v in sd.values():
    if v.numel():
        acc += int(v.reshape(-1).view(torch.uint8)[::4096].sum())
if device != "cpu":
    torch.cuda.synchronize()
dtouch = time.perf_counter() - t2
size = sum(v.numel() * v.element_size() for v in sd.values())
print(json.dumps({"s": dt + dtouch, "load": dt, "bytes": size, "rss": status("VmHWM") - base}))
"""


def drop(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def warm(path):
    with open(path, "rb") as f:
        while f.read(16 << 20):
            pass


def child(mode, path, device="cpu"):
    r = subprocess.run([sys.executable, "-c", CHILD, mode, path, device], check=True,
                       capture_output=True, text=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


class Mount:
    def __init__(self, binary, store):
        self.binary, self.store = binary, store
        self.mnt = tempfile.mkdtemp(prefix="df11-bench-mnt.")
        self.proc = None

    def __enter__(self):
        self.proc = subprocess.Popen([self.binary, "-f", self.store, self.mnt],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            if os.path.ismount(self.mnt):
                return self.mnt
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError("df11fs did not mount %s" % self.store)

    def __exit__(self, *exc):
        subprocess.run(["fusermount3", "-u", self.mnt], check=False)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.rmdir(self.mnt)


def prepare(data):
    import df11
    os.makedirs(data, exist_ok=True)
    src = os.path.join(data, "gpt2-tiled.safetensors")
    if not os.path.isfile(src):
        subprocess.run([sys.executable, os.path.join(ROOT, "tests", "gen", "tile_gpt2.py"),
                        GPT2, src + ".tmp", "1100"], check=True)
        os.rename(src + ".tmp", src)
    store = os.path.join(data, "bench-store")
    os.makedirs(store, exist_ok=True)
    packed = os.path.join(store, "gpt2-tiled.df11")
    if not os.path.isfile(packed) or os.path.getmtime(packed) < os.path.getmtime(df11._lib.LIB_PATH):
        df11.compress(src, packed + ".tmp")
        os.rename(packed + ".tmp", packed)
    return src, store, packed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--data", default=os.path.join(ROOT, ".data", "python"))
    ap.add_argument("--df11fs", default=os.path.join(ROOT, os.environ.get("BUILD", "build"), "df11fs"))
    a = ap.parse_args()
    import df11
    import torch
    src, store, packed = prepare(a.data)
    print("# bench/python_load.py: %s (%.0f MiB) vs %s (%.0f MiB); libdf11 %s at %s"
          % (os.path.relpath(src, ROOT), os.path.getsize(src) / 2**20,
             os.path.relpath(packed, ROOT), os.path.getsize(packed) / 2**20,
             df11.library_version(), df11._lib.LIB_PATH))
    print("# %d cores, load average at start %.2f %.2f %.2f, torch %s, gpu decode: %s"
          % (os.cpu_count(), *os.getloadavg(), torch.__version__, df11.gpu_available()[1] or "yes"))
    rows = []

    def measure(label, mode, path, cold_file=None, device="cpu", mount_for=None):
        runs = []
        for _ in range(a.reps):
            if cold_file:
                drop(cold_file)
            if mount_for:
                with Mount(a.df11fs, store) as mnt:
                    runs.append(child(mode, os.path.join(mnt, os.path.basename(path)), device))
            else:
                runs.append(child(mode, path, device))
        s = statistics.median(r["s"] for r in runs)
        ld = statistics.median(r["load"] for r in runs)
        rss = statistics.median(r["rss"] for r in runs)
        size = runs[0]["bytes"]
        rows.append((label, s, size / s / 1e9, ld, rss / size, [r["s"] for r in runs]))
        print("%-50s %7.3f s %6.2f GB/s  (call alone %.3f s)  peak RSS %.2fx  runs %s" % (
            label, s, size / s / 1e9, ld, rss / size, " ".join("%.3f" % r["s"] for r in runs)),
            flush=True)

    warm(src)
    warm(packed)
    measure("safetensors.torch.load_file, warm", "st", src)
    measure("safetensors.torch.load_file(backend=pread), warm", "st-pread", src)
    measure("df11.torch.load_file, warm", "df11", packed)
    measure("safetensors.torch.load_file, cold", "st", src, cold_file=src)
    measure("safetensors.torch.load_file(backend=pread), cold", "st-pread", src, cold_file=src)
    measure("df11.torch.load_file, cold", "df11", packed, cold_file=packed)
    if os.access(a.df11fs, os.X_OK) and os.path.exists("/dev/fuse"):
        name = os.path.basename(src)
        warm(packed)
        with Mount(a.df11fs, store) as mnt:  # warm: the mount's page cache already filled
            p = os.path.join(mnt, name)
            warm(p)
            measure("safetensors over df11fs, warm (page cache)", "st", p)
        measure("safetensors over df11fs, cold (new mount)", "st", name, cold_file=packed,
                mount_for=True)
    else:
        print("# df11fs: skipped (%s not built or no /dev/fuse)" % a.df11fs)
    if torch.cuda.is_available():
        measure("safetensors.torch.load_file -> cuda:0, warm", "st", src, device="cuda:0")
        measure("df11.torch.load_file -> cuda:0, warm", "df11", packed, device="cuda:0")
    else:
        print("# cuda:0 rows: skipped (torch sees no CUDA device)")
    print("# load average at end %.2f %.2f %.2f" % os.getloadavg())
    print()
    print("| load (+ touch every page) | median s | GB/s of tensors | the call alone, s "
          "| peak RSS / tensors | runs (s) |")
    print("|---|---|---|---|---|---|")
    for label, s, gbs, ld, rss, runs in rows:
        print("| %s | %.3f | %.2f | %.3f | %.2fx | %s |" % (
            label, s, gbs, ld, rss, ", ".join("%.3f" % r for r in runs)))


if __name__ == "__main__":
    main()
