# fs_lib.sh - shared helpers for the tests/cases/fs_*.sh cases (sourced).
#
# Every mount made through fs_mount is unmounted by the EXIT trap, even when a
# check fails half-way; the trap then fails the case if any fuse.df11fs mount
# is left under the case's temp dir.

BUILD="${BUILD:-build}"
DF11_ROOT="${DF11_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
case "$BUILD" in /*) ;; *) BUILD="$DF11_ROOT/$BUILD" ;; esac
DF11FS="$BUILD/df11fs"
DF11="$BUILD/df11"
FSX="$BUILD/testtools/fsx"
SHARED_MODELS="${SHARED_MODELS:-$DF11_ROOT/../shared/models}"
FS_FAILS=0
FS_PIDS=()

pass() { echo "PASS $*"; }
fail() { echo "FAIL $*"; FS_FAILS=$((FS_FAILS + 1)); }
skip() { echo "SKIP $*"; }
# check NAME CMD...: PASS when CMD succeeds.
check() { local n="$1"; shift; if "$@"; then pass "$n"; else fail "$n"; fi; }

fs_need() {
    local t
    for t in "$DF11FS" "$DF11" "$FSX"; do
        [ -x "$t" ] || { echo "SKIP $(basename "$0") $t not built"; exit 77; }
    done
    [ -c /dev/fuse ] || { echo "SKIP $(basename "$0") no /dev/fuse"; exit 77; }
    command -v fusermount3 >/dev/null || { echo "SKIP $(basename "$0") no fusermount3"; exit 77; }
}

# Lists our mounts (fuse.df11fs) under dir $1, one mountpoint a line.
fs_mounts_under() {
    awk -v d="$1/" '$3 == "fuse.df11fs" && index($2, d) == 1 { print $2 }' /proc/mounts
}

fs_cleanup() {
    local rc=$? m p
    for m in $(fs_mounts_under "$FS_TMP"); do fusermount3 -uz "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
    for p in "${FS_PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    for p in "${FS_PIDS[@]}"; do wait "$p" 2>/dev/null; done
    [ -n "${FS_WATCHDOG:-}" ] && kill "$FS_WATCHDOG" 2>/dev/null
    sleep 0.2
    if [ -n "$(fs_mounts_under "$FS_TMP")" ]; then
        echo "FAIL stale fuse.df11fs mount left under $FS_TMP"
        rc=1
    fi
    rm -rf "$FS_TMP"
    exit $rc
}

# fs_setup [SECONDS]: temp dir, cleanup trap, and a watchdog that ends the
# case (through the trap, so mounts still go) if it hangs.
fs_setup() {
    fs_need
    FS_TMP=$(mktemp -d "${TMPDIR:-/tmp}/df11fs-test.XXXXXX")
    trap fs_cleanup EXIT
    trap 'echo "FAIL $(basename "$0") timed out or interrupted"; exit 1' INT TERM
    local me=$$
    ( sleep "${1:-150}"; kill -TERM "$me" 2>/dev/null ) </dev/null >/dev/null 2>&1 &
    FS_WATCHDOG=$!
}

# fs_wait_exit PID [SECONDS]: waits for a child; kills it after the timeout.
fs_wait_exit() {
    local pid="$1" i
    for i in $(seq $((${2:-10} * 10))); do
        kill -0 "$pid" 2>/dev/null || { wait "$pid"; return $?; }
        sleep 0.1
    done
    echo "pid $pid did not exit; killing it"
    kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
    return 124
}

fs_is_mounted() { grep -q " $1 fuse.df11fs " /proc/mounts; }

# fs_wait_mount MNT [WANT [SECONDS]]: waits (default 10 s) until MNT is
# mounted (want=1) or not (want=0).
fs_wait_mount() {
    local mnt="$1" want="${2:-1}" i
    for i in $(seq $((${3:-10} * 10))); do
        if fs_is_mounted "$mnt"; then [ "$want" = 1 ] && return 0
        else [ "$want" = 0 ] && return 0; fi
        sleep 0.1
    done
    return 1
}

# fs_mount STORE MNT [df11fs options...]: foreground daemon in the
# background, log in $MNT.log; sets FS_PID. Fails if it does not come up.
# DF11FS_TEST_OPTS (e.g. "-o gpu=on,gpu_min_chunks=1") goes before the
# case's own options, so the whole fs suite can run on the GPU path.
fs_mount() {
    local store="$1" mnt="$2"; shift 2
    local extra=()
    read -r -a extra <<<"${DF11FS_TEST_OPTS:-}"
    mkdir -p "$mnt"
    "$DF11FS" -f "${extra[@]}" "$@" "$store" "$mnt" >"$mnt.log" 2>&1 &
    FS_PID=$!
    FS_PIDS+=("$FS_PID")
    if ! fs_wait_mount "$mnt" 1; then
        echo "df11fs did not mount $mnt; log:"; cat "$mnt.log"
        return 1
    fi
}

# fs_umount MNT: unmounts and waits for the daemon; fails on a non-zero exit.
fs_umount() {
    local mnt="$1" pid="${2:-$FS_PID}" rc
    fusermount3 -u "$mnt" || return 1
    fs_wait_exit "$pid"; rc=$?
    [ "$rc" -eq 0 ] || { echo "df11fs exited with $rc; log:"; tail -5 "$mnt.log"; }
    return $rc
}

# fs_fixtures DIR: generated safetensors fixtures (sharded model, nested
# folder, symlink, several dtypes).
fs_fixtures() {
    python3 "$DF11_ROOT/tests/gen/make_fixtures.py" "$1" >/dev/null
}

# fs_fixtures_and_gpt2 DIR: the fixtures plus a real copy (not a link: folder
# mode keeps links as links) of the GPT-2 weights when ../shared has them.
fs_fixtures_and_gpt2() {
    fs_fixtures "$1" || return 1
    local gpt="$SHARED_MODELS/gpt2-small-partial.bf16.safetensors"
    [ ! -f "$gpt" ] || cp "$gpt" "$1/gpt2.safetensors"
}

# fs_store SRC STORE [compress options]: a df11 store of a model folder.
fs_store() {
    local src="$1" dst="$2"; shift 2
    "$DF11" compress -q "$@" "$src" -o "$dst"
}

# fs_stat_field MNT NAME: one counter from the hidden stats file.
fs_stat_field() { awk -v k="$2" '$1 == k { print $2 }' "$1/.df11fs-stats"; }

# fs_drop FILE...: drops the page-cache pages of these files (not mapped
# ones) so the next reads reach the daemon; leaves other files alone.
fs_drop() {
    python3 - "$@" <<'PY'
import os, sys
for p in sys.argv[1:]:
    fd = os.open(p, os.O_RDONLY)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)
PY
}

fs_finish() {
    [ "$FS_FAILS" -eq 0 ]
}
