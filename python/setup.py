"""Builds df11/_libdf11.so from the repository's C sources at install time.

`pip install ./python` (from the repository root) runs the repository's own
Makefile for one target, the shared library libdf11.so.1, into
python/build/native/, and ships it inside the package as df11/_libdf11.so.
The Makefile stays the one place that knows the sources and flags; the
Python package needs only what `make` needs (gcc, make, pkg-config and the
-dev packages of zstd, xxhash, OpenSSL and cJSON).

Environment:
  DF11_LIBDF11=/path/libdf11.so.1  ship this already built library instead
                                   (the tests pass the build under test)
  DF11_NO_CUDA=1                   CPU-only library even when nvcc exists
  DF11_MAKE_JOBS=N                 make -jN (default 2)
"""
import os
import shutil
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


class BuildWithLib(build_py):
    def run(self):
        super().run()
        dst = os.path.join(self.build_lib, "df11", "_libdf11.so")
        prebuilt = os.environ.get("DF11_LIBDF11")
        if prebuilt:
            src = prebuilt
        else:
            if not os.path.isfile(os.path.join(ROOT, "codec", "df11.h")):
                raise SystemExit("df11: setup.py must run from python/ inside the df11fs "
                                 "repository (codec/ not found beside it)")
            out = os.path.join(HERE, "build", "native")
            cmd = ["make", "-C", ROOT, "-j%s" % os.environ.get("DF11_MAKE_JOBS", "2"),
                   "BUILD=" + out, os.path.join(out, "libdf11.so.1")]
            if os.environ.get("DF11_NO_CUDA"):
                cmd.insert(3, "NO_CUDA=1")
            print("df11: building libdf11:", " ".join(cmd))
            subprocess.check_call(cmd)
            src = os.path.join(out, "libdf11.so.1")
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copyfile(src, dst)
        os.chmod(dst, 0o755)


class BinaryDistribution(Distribution):
    """The wheel holds a native library: tag it for this platform."""

    def has_ext_modules(self):
        return True


setup(cmdclass={"build_py": BuildWithLib}, distclass=BinaryDistribution)
