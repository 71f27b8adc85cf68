# Shared by tests/cases/stores_*.sh (sourced, not a case itself): paths,
# PASS/FAIL/SKIP lines, a work folder, and an EXIT trap that unmounts every
# mount under it, stops the daemons started here, and runs on_exit_extra
# when the case defines one.
ROOT="${DF11_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
BUILD="${BUILD:-build}"
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
DF11="$BUILD/df11"
DF11FS="$BUILD/df11fs"
PY="${DF11_PYTHON:-$ROOT/.venv/bin/python}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1${2:+ ($2)}"; }
skip() { echo "SKIP $1 $2"; }

W=$(mktemp -d "${TMPDIR:-/tmp}/df11-stores.XXXXXX")
PIDS=()
stores_cleanup() {
    local m p
    declare -F on_exit_extra >/dev/null && on_exit_extra
    for m in $(awk -v d="$W/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r); do
        fusermount3 -uz "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
    done
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    rm -rf "$W"
}
trap stores_cleanup EXIT

# need_tools [fuse]: SKIP line and non-zero when df11 (and df11fs, /dev/fuse)
# are not there.
need_tools() {
    [ -x "$DF11" ] || { echo "SKIP $(basename "$0" .sh) $DF11 not built"; return 1; }
    [ "${1:-}" = fuse ] || return 0
    [ -x "$DF11FS" ] || { echo "SKIP $(basename "$0" .sh) $DF11FS not built"; return 1; }
    [ -c /dev/fuse ] || { echo "SKIP $(basename "$0" .sh) no /dev/fuse"; return 1; }
    command -v fusermount3 >/dev/null || { echo "SKIP $(basename "$0" .sh) no fusermount3"; return 1; }
}

# make_fixture_model DIR: a small model folder (generated safetensors files,
# config) from the project's fixture generator.
make_fixture_model() {
    mkdir -p "$1" && python3 "$ROOT/tests/gen/make_fixtures.py" "$1" >/dev/null || return 1
    echo '{"model_type": "none"}' >"$1/config.json"
}

# mount_store STORE MNT [options]: df11fs in the foreground, in the
# background, log in MNT.log; waits for the mount. Sets MNT_PID.
mount_store() {
    local store=$1 mnt=$2 i; shift 2
    mkdir -p "$mnt"
    "$DF11FS" -f "$@" "$store" "$mnt" >"$mnt.log" 2>&1 &
    MNT_PID=$!
    PIDS+=("$MNT_PID")
    for i in $(seq 100); do
        mountpoint -q "$mnt" && return 0
        kill -0 "$MNT_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "df11fs did not mount $store: $(tail -3 "$mnt.log")" >&2
    return 1
}

# umount_store MNT: unmounts and waits for the daemon; its exit status.
umount_store() {
    local i
    fusermount3 -u "$1" || return 1
    for i in $(seq 100); do kill -0 "$MNT_PID" 2>/dev/null || break; sleep 0.1; done
    wait "$MNT_PID"
}
