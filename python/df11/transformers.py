"""df11.transformers: load a compressed model folder (the STORE of
`df11 compress MODEL_DIR -o STORE`) into transformers without a mount.

    import df11.transformers
    from transformers import AutoModelForCausalLM
    model = df11.transformers.from_pretrained("STORE", model_cls=AutoModelForCausalLM)

The folder holds config.json (and tokenizer files), the .df11 shards and,
for sharded models, model.safetensors.index.json, all as `df11 compress`
writes them. from_pretrained reads the config, decodes every shard the index
names (all cores, straight into one buffer per shard) and hands the state
dict to transformers' own from_pretrained(None, config=..., state_dict=...),
which builds the model with empty (meta) weights and fills it through the
same code that loads .safetensors files: key renames, tied weights, dtype
and non-persistent buffers come out as they would from the original folder.
"""
import json
import os

INDEX_NAMES = ("model.safetensors.index.json",)
SINGLE_NAMES = ("model.safetensors",)


def _stored(folder, name):
    """The file holding original `name` (x.safetensors) in the store:
    x.df11, or x.safetensors itself when it was left uncompressed."""
    root = name[:-len(".safetensors")] if name.endswith(".safetensors") else name
    for cand in (root + ".df11", name):
        p = os.path.join(folder, cand)
        if os.path.isfile(p):
            return p
    raise FileNotFoundError(2, "no %s.df11 (or %s) in the folder" % (root, name),
                            os.path.join(folder, root + ".df11"))


def shard_files(folder):
    """The weight files of a compressed model folder, in the order the
    index names them (or the single model file)."""
    folder = os.fspath(folder)
    for idx in INDEX_NAMES:
        p = os.path.join(folder, idx)
        if os.path.isfile(p):
            with open(p) as f:
                weight_map = json.load(f)["weight_map"]
            seen = []
            for shard in weight_map.values():
                if shard not in seen:
                    seen.append(shard)
            return [_stored(folder, s) for s in seen], weight_map
    for name in SINGLE_NAMES:
        try:
            return [_stored(folder, name)], None
        except FileNotFoundError:
            pass
    raise FileNotFoundError(2, "no model.df11 or model.safetensors.index.json in %s" % folder,
                            folder)


def load_state_dict(folder, device="cpu", *, threads=None):
    """Every tensor of a compressed model folder as one dict (the index's
    weight_map is checked: each tensor must be in the shard it names)."""
    from safetensors.torch import load_file as st_load_file

    from .torch import load_file
    files, weight_map = shard_files(folder)
    sd = {}
    for path in files:
        if path.endswith(".df11"):
            part = load_file(path, device=device, threads=threads)
        else:
            part = st_load_file(path, device=device)
        if weight_map is not None:
            orig = os.path.basename(path)
            if orig.endswith(".df11"):
                orig = orig[:-len(".df11")] + ".safetensors"
            for k in part:
                if k in weight_map and weight_map[k] != orig:
                    raise ValueError("%s: tensor %s is in %s but the index says %s"
                                     % (folder, k, orig, weight_map[k]))
        sd.update(part)
    if weight_map is not None:
        missing = sorted(set(weight_map) - set(sd))
        if missing:
            raise ValueError("%s: the index names %d tensors missing from the shards, e.g. %s"
                             % (folder, len(missing), missing[0]))
    return sd


def from_pretrained(folder, model_cls=None, *, device="cpu", threads=None, **kwargs):
    """model_cls.from_pretrained for a compressed folder (default model_cls:
    transformers.AutoModel). kwargs go to from_pretrained (dtype,
    attn_implementation, ...); `config` may be given, otherwise it is read
    from the folder. The result is bitwise equal to from_pretrained on the
    original folder."""
    import transformers
    folder = os.fspath(folder)
    if model_cls is None:
        model_cls = transformers.AutoModel
    config = kwargs.pop("config", None)
    if config is None:
        config = transformers.AutoConfig.from_pretrained(
            folder, trust_remote_code=kwargs.get("trust_remote_code", None))
    sd = load_state_dict(folder, device=device, threads=threads)
    if device != "cpu" and "device_map" not in kwargs:
        kwargs["device_map"] = {"": device}
    return _concrete(model_cls, config).from_pretrained(None, config=config, state_dict=sd,
                                                        **kwargs)


def _concrete(model_cls, config):
    """AutoModel* -> the model class its mapping picks for config (the Auto
    classes' from_pretrained wants a path, not None)."""
    mapping = getattr(model_cls, "_model_mapping", None)
    if mapping is None:
        return model_cls
    try:
        from transformers.models.auto.auto_factory import _get_model_class
        return _get_model_class(config, mapping)
    except ImportError:  # pragma: no cover - older/newer layouts
        return mapping[type(config)]
