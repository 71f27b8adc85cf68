#!/usr/bin/env bash
# The df11 Python package (python/): pip-installs it into the project venv
# (.venv, made by scripts/setup-venv.sh) and runs python/tests/test_df11.py,
# which compares every tensor of GPT-2, the BF16 MiniLM, the fixtures and a
# sharded folder with safetensors reading the originals, and checks errors,
# threads, the GPU fallback, the transformers helper and load_file's memory.
set -u
cd "${DF11_ROOT:-$(dirname "$0")/../..}" || exit 1
ROOT=$PWD
BUILD="${BUILD:-build}"
PY="${DF11_PYTHON:-$ROOT/.venv/bin/python}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false

if [ ! -x "$PY" ]; then
    echo "SKIP python no venv at $PY (run scripts/setup-venv.sh)"; exit 0
fi
if ! "$PY" -c 'import torch, safetensors, numpy' 2>/dev/null; then
    echo "SKIP python venv lacks torch/safetensors/numpy (run scripts/setup-venv.sh)"; exit 0
fi

# The library under test: this build's libdf11.so.1 unless it is sanitized
# (an ASan library cannot be loaded into a plain python); then build/'s, and
# failing both, setup.py builds its own (CPU only) from codec/.
lib=
for cand in "$ROOT/$BUILD/libdf11.so.1" "$ROOT/build/libdf11.so.1"; do
    if [ -f "$cand" ] && ! readelf -d "$cand" 2>/dev/null | grep -q 'libasan\|libubsan'; then
        lib=$cand; break
    fi
done
cli="$ROOT/$BUILD/df11"; [ -x "$cli" ] || cli="$ROOT/build/df11"

work=$(mktemp -d "${TMPDIR:-/tmp}/df11-python.XXXXXX")
trap 'rm -rf "$work"' EXIT

# One pip at a time into the shared venv.
if ! (
    flock 9
    DF11_LIBDF11="$lib" DF11_NO_CUDA=1 "$PY" -m pip install --disable-pip-version-check -q \
        --no-build-isolation --no-deps --force-reinstall ./python
) 9>"$(dirname "$(dirname "$PY")")/.df11-pip.lock" >"$work/pip.log" 2>&1; then
    echo "FAIL python:install pip install ./python: $(grep -v '^ *$' "$work/pip.log" | tail -n3 | tr '\n' ' ')"
    exit 0
fi
echo "PASS python:install (${lib:-built by setup.py})"

# Run from the work folder so the installed package is what gets imported.
cd "$work" && DF11_ROOT="$ROOT" DF11_CLI="$cli" DF11_DATA="${DF11_DATA:-$ROOT/.data/python}" \
    "$PY" "$ROOT/python/tests/test_df11.py" "$work/t"
