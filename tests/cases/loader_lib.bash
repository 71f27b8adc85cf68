# Shared by tests/cases/loader_*.sh (sourced, not a test case itself):
# finds the venv, compresses a model folder into a store and mounts it with
# df11fs, and guarantees the mount is gone when the script exits.
cd "${DF11_ROOT:-$(dirname "${BASH_SOURCE[0]}")/../..}" || exit 1
BUILD="${BUILD:-build}"
DF11="$BUILD/df11"
DF11FS="$BUILD/df11fs"
PY="${DF11_PYTHON:-$PWD/.venv/bin/python}"
# Real weights live in shared/models beside the repository.
MODELS="${DF11_MODELS:-$(dirname "$PWD")/shared/models}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false

work=$(mktemp -d "${TMPDIR:-/tmp}/df11-loader.XXXXXX")
mounts=()
pids=()
cleanup() {
    local m p
    for m in "${mounts[@]}"; do fusermount3 -uz "$m" 2>/dev/null; done
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    rm -rf "$work"
}
trap cleanup EXIT

# Prints why the loader tests cannot run here, or nothing.
loader_missing() {
    [ -x "$DF11" ] || { echo "$DF11 not built"; return; }
    [ -x "$DF11FS" ] || { echo "$DF11FS not built"; return; }
    [ -e /dev/fuse ] || { echo "no /dev/fuse"; return; }
    command -v fusermount3 >/dev/null || { echo "no fusermount3"; return; }
    [ -x "$PY" ] || { echo "no venv at $PY (run scripts/setup-venv.sh)"; return; }
    "$PY" -c 'import torch, safetensors' 2>/dev/null \
        || echo "venv lacks torch/safetensors (run scripts/setup-venv.sh)"
}

# compress_and_mount SRC_DIR NAME: compresses SRC_DIR into a store and mounts
# it at $MNT. Returns non-zero (after saying why on stderr) when any step
# fails. Not to be run in a subshell: the cleanup lists live in this shell.
compress_and_mount() {
    local src="$1" name="$2" store="$work/$2.store" mnt="$work/$2.mnt" i
    MNT=
    if ! "$DF11" compress "$src" -o "$store" >"$work/$name.compress.log" 2>&1; then
        echo "df11 compress $src failed: $(tail -n2 "$work/$name.compress.log")" >&2
        return 1
    fi
    mkdir -p "$mnt"
    local extra=()
    read -r -a extra <<<"${DF11FS_TEST_OPTS:-}"   # as in fs_lib.sh's fs_mount
    "$DF11FS" -f "${extra[@]}" "$store" "$mnt" >"$work/$name.fs.log" 2>&1 &
    pids+=("$!")
    mounts+=("$mnt")
    for i in $(seq 100); do
        mountpoint -q "$mnt" && { MNT="$mnt" MNT_PID="${pids[-1]}"; return 0; }
        kill -0 "${pids[-1]}" 2>/dev/null || break
        sleep 0.1
    done
    echo "df11fs did not mount $store: $(tail -n3 "$work/$name.fs.log")" >&2
    return 1
}

# unmount_and_check NAME: unmounts $MNT and checks that the daemon then exits
# with status 0 (under ASan, a leak or error report at exit changes it).
unmount_and_check() {
    local name="$1" rc i
    if ! fusermount3 -u "$MNT" 2>"$work/umount.log"; then
        echo "FAIL $name unmount: $(tail -n1 "$work/umount.log")"
        return 1
    fi
    for i in $(seq 100); do kill -0 "$MNT_PID" 2>/dev/null || break; sleep 0.1; done
    wait "$MNT_PID"; rc=$?
    if [ "$rc" -eq 0 ]; then
        echo "PASS $name"
    else
        echo "FAIL $name df11fs exited $rc: $(grep -m1 -E 'ERROR|Sanitizer|runtime error' "$work/"*.fs.log)"
    fi
}

# Compares every tensor of two safetensors files bit for bit through the
# safetensors loader itself (mmap and all), then the raw bytes. Prints
# PASS/FAIL NAME.
compare_safetensors() {
    local orig="$1" mounted="$2" name="$3"
    if ! "$PY" - "$orig" "$mounted" >"$work/cmp.log" 2>&1 <<'EOF'
import sys, torch
from safetensors import safe_open

def bits(t):
    # Every dtype as raw bytes, so NaN payloads and -0 count too.
    return t.contiguous().reshape(-1).view(torch.uint8)

with safe_open(sys.argv[1], framework="pt") as a, safe_open(sys.argv[2], framework="pt") as b:
    ka, kb = sorted(a.keys()), sorted(b.keys())
    assert ka == kb, "tensor names differ"
    assert a.metadata() == b.metadata(), "metadata differs"
    for k in ka:
        x, y = a.get_tensor(k), b.get_tensor(k)
        assert x.dtype == y.dtype and x.shape == y.shape, k + ": dtype/shape differ"
        if x.dtype == torch.bfloat16:
            assert torch.equal(x.view(torch.int16), y.view(torch.int16)), k + ": values differ"
        assert torch.equal(bits(x), bits(y)), k + ": bytes differ"
    print(len(ka), "tensors equal")
EOF
    then
        echo "FAIL $name $(tail -n1 "$work/cmp.log")"
        return 1
    fi
    if ! cmp -s "$orig" "$mounted"; then
        echo "FAIL $name tensors equal but file bytes differ (cmp)"
        return 1
    fi
    echo "PASS $name ($(tail -n1 "$work/cmp.log"), cmp identical)"
}
