#!/usr/bin/env bash
# Hunts for the classes of defects an adversarial round found in df11fs:
#  - path races: a folder swapped for a symlink after it was looked up, run
#    by a real unprivileged user against a root daemon with allow_other;
#  - replies of many pieces: reads touching hundreds to thousands of chunks;
#  - mount mistakes: a mount point inside STORE, equal to it, not a folder,
#    already a df11fs mount;
#  - resource limits: 20,000 files at a descriptor limit of 1024;
#  - log floods: one bad chunk read many times is logged once.
# Oracles: the original bytes (cmp, sha256), direct access as the same user,
# the daemon's exit status and log.
set -u
. "$(dirname "$0")/fs_lib.sh"
fs_setup 280
T=$FS_TMP
GEN="$DF11_ROOT/tests/gen/many_tensors.py"

# ---------------------------------------------------------------- path races
# The user owns STORE; root mounts it with allow_other. The user may not
# enter $T/secret (0700, root's), whose files are 0644.
USER_NAME=df11fs-test
if ! id "$USER_NAME" >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin "$USER_NAME" 2>/dev/null
fi
if ! id "$USER_NAME" >/dev/null 2>&1 || ! command -v runuser >/dev/null; then
    skip "race.* cannot create an unprivileged user (need root, useradd and runuser)"
else
    as_user() { runuser -u "$USER_NAME" -- "$@"; }
    chmod 755 "$T"
    S=$T/race-store M=$T/race-mnt
    mkdir -p "$S/sub/deeper" "$T/secret/deeper"
    echo public >"$S/sub/file"
    echo public-deeper >"$S/sub/deeper/file"
    ln -s public-target "$S/sub/link"
    echo SECRET-DATA >"$T/secret/file"
    echo SECRET-DEEPER >"$T/secret/deeper/file"
    ln -s SECRET-TARGET "$T/secret/link"
    chmod 644 "$T/secret/file" "$T/secret/deeper/file"
    chmod 700 "$T/secret"
    chown -R "$USER_NAME" "$S"
    check "race: the user cannot read the secret directly" bash -c "! runuser -u $USER_NAME -- cat $T/secret/file >/dev/null 2>&1"
    fs_mount "$S" "$M" -o allow_other
    # Look everything up through the mount (the kernel caches the entries).
    check "race: the user reads the store through the mount" \
        bash -c "runuser -u $USER_NAME -- cat $M/sub/file $M/sub/deeper/file >/dev/null && runuser -u $USER_NAME -- ls $M/sub >/dev/null && runuser -u $USER_NAME -- readlink $M/sub/link >/dev/null"
    # The swap, by the user, from inside the looked-up folder: the shell's
    # working directory (like any open directory) keeps the old inode, so
    # every name below is looked up relative to it, whatever the kernel
    # thinks of the name "sub" afterwards. Each operation that takes a
    # path: lookup (cat, stat), readdir (ls), open, readlink, and a deeper
    # lookup below a swapped component.
    out=$(as_user bash -c "cd $M/sub || exit 9
        mv $S/sub $S/sub.old && ln -s $T/secret $S/sub || exit 8
        for i in 1 2; do cat file deeper/file; ls . deeper; stat -c %s file; readlink link; find . ; sleep 0.5; done" 2>&1)
    check "race: nothing of the secret folder is read through an open folder after the swap" \
        [ "${out#*SECRET}" = "$out" ]
    out=$(as_user bash -c "cat $M/sub/file $M/sub/deeper/file; ls $M/sub $M/sub/deeper; readlink $M/sub/link" 2>&1)
    check "race: nor through the mount's path" [ "${out#*SECRET}" = "$out" ]
    # The link itself is still shown as a link: the kernel resolves its
    # absolute target outside the mount, with the user's own permissions.
    check "race: the swapped-in symlink is shown as a symlink" [ -L "$M/sub" ]
    check "race: the untouched folder still reads" cmp "$M/sub.old/file" "$S/sub.old/file"
    # A link in a deeper component swapped the same way.
    out=$(as_user bash -c "cd $M/sub.old/deeper || exit 9
        mv $S/sub.old/deeper $S/sub.old/deeper.old && ln -s $T/secret/deeper $S/sub.old/deeper || exit 8
        cat file; ls ." 2>&1)
    check "race: a swapped deeper folder leaks nothing" [ "${out#*SECRET}" = "$out" ]
    check "race: daemon still serving" cmp "$M/sub.old/file" "$S/sub.old/file"
    fs_umount "$M" || fail "race: unmount"
fi

# ------------------------------------------------- replies of many pieces
S=$T/tiny-store M=$T/tiny-mnt
mkdir -p "$S"
cp "$DF11_ROOT/tests/golden/many_chunks.df11" "$S/"
python3 "$GEN" "$T/many_chunks.safetensors" 1500 BF16,F32 7
fs_mount "$S" "$M"
check "many chunks: a golden file of 1,500 one-tensor chunks reads back exactly (no hang)" \
    timeout 30 cmp "$M/many_chunks.safetensors" "$T/many_chunks.safetensors"
check "many chunks: mmap and random preads agree with the original" \
    timeout 60 "$FSX" -S 11 -N 300 "$M/many_chunks.safetensors" "$T/many_chunks.safetensors"
fs_umount "$M" || fail "many chunks: unmount"

# Today's encoder on 1,000 to 100,000 tiny tensors of every dtype.
rm -rf "$S"; mkdir -p "$S" "$T/tiny-src"
for n in 1000 10000 100000; do
    python3 "$GEN" "$T/tiny-src/t$n.safetensors" "$n" "" "$n"
done
python3 "$GEN" "$T/tiny-src/fp8scales.safetensors" 20000 "F8_E4M3,F32,BF16" 3
"$DF11" compress -q "$T/tiny-src" -o "$S" || fail "tiny: compress"
fs_mount "$S" "$M"
ok=1
for f in "$T"/tiny-src/*.safetensors; do
    timeout 60 cmp "$M/$(basename "$f")" "$f" || { ok=0; echo "differs: $f"; }
done
check "tiny: files of 1,000-100,000 tiny tensors of every dtype read back exactly" [ "$ok" = 1 ]
check "tiny: random reads of the 100,000-tensor file" \
    timeout 60 "$FSX" -S 5 -N 300 "$M/t100000.safetensors" "$T/tiny-src/t100000.safetensors"
fs_umount "$M" || fail "tiny: unmount"

# ---------------------------------------------------------- mount mistakes
S=$T/mm-store
mkdir -p "$S/inner"
cp "$DF11_ROOT/tests/golden/bf16.df11" "$S/"
mounts_at() { grep -c " $1 fuse.df11fs " /proc/mounts; }
refused() { # NAME EXPECTED-TEXT MOUNTPOINT: non-zero exit, message, no new mount
    local name="$1" want="$2" mnt="$3" out rc before
    before=$(mounts_at "$mnt")
    out=$(timeout 20 "$DF11FS" -f "$S" "$mnt" 2>&1); rc=$?
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && [[ "$out" == *"$want"* ]] && [ "$(mounts_at "$mnt")" = "$before" ]; then
        pass "mistake: $name"
    else
        fail "mistake: $name (rc $rc: $out)"
        [ "$(mounts_at "$mnt")" = "$before" ] || fusermount3 -u "$mnt" 2>/dev/null
    fi
}
refused "mount point inside the store" "inside" "$S/inner"
refused "mount point equal to the store" "same folder" "$S"
touch "$T/regular"
refused "mount point is a regular file" "not a directory" "$T/regular"
refused "mount point missing" "No such file" "$T/nowhere"
fs_mount "$S" "$T/mm-mnt"
pid=$FS_PID
refused "mount point already a df11fs mount" "already a df11fs mount" "$T/mm-mnt"
check "mistake: the first mount still serves" cmp <("$DF11" decompress -q -c "$S/bf16.df11") "$T/mm-mnt/bf16.safetensors"
check "no libfuse thread warning at start" bash -c "! grep -q 'max threads' '$T/mm-mnt.log'"
fs_umount "$T/mm-mnt" "$pid" || fail "mistake: unmount"
check "mistake: only one mount was ever made" [ -z "$(fs_mounts_under "$T")" ]

# ------------------------------------------ 20,000 files at 1024 descriptors
S=$T/many-store M=$T/many-mnt
mkdir -p "$S"
python3 "$GEN" "$T/one.safetensors" 40 BF16,F32 5
"$DF11" compress -q "$T/one.safetensors" -o "$T/one.df11"
python3 - "$T/one.df11" "$S" 20000 <<'PY'
import os, shutil, sys
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = open(src, "rb").read()
for i in range(n):
    d = os.path.join(dst, "d%02d" % (i % 20))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%05d.df11" % i), "wb") as f:
        f.write(data)
PY
mkdir -p "$M"
prlimit --nofile=1024:1024 "$DF11FS" -f "$S" "$M" >"$M.log" 2>&1 &
FS_PID=$!; FS_PIDS+=("$FS_PID"); pid=$FS_PID
if fs_wait_mount "$M"; then
    bad=$(ls -lR "$M" 2>&1 | grep -c '?' )
    check "fd limit: ls -lR of 20,000 files shows every one (no ?????????)" [ "$bad" = 0 ]
    n=$(find "$M" -name '*.safetensors' | wc -l)
    check "fd limit: find sees 20,000 files" [ "$n" = 20000 ]
    want=$(sha256sum <"$T/one.safetensors" | cut -d' ' -f1)
    got=$(find "$M" -name '*.safetensors' -print0 | sort -z | xargs -0 -n 500 cat | sha256sum | cut -d' ' -f1)
    expect=$(python3 -c "
import hashlib,sys
d=open('$T/one.safetensors','rb').read(); h=hashlib.sha256()
for i in range(20000): h.update(d)
print(h.hexdigest())")
    check "fd limit: all 20,000 files read back exactly" [ "$got" = "$expect" ]
    # Holding more files open than the daemon has descriptors: the opens
    # that cannot be served fail with EMFILE, not EIO, and nothing breaks.
    out=$(python3 - "$M" <<'PY'
import errno, os, resource, sys
resource.setrlimit(resource.RLIMIT_NOFILE, (4096, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
fds, errs = [], {}
for i in range(1500):
    p = os.path.join(sys.argv[1], "d%02d" % (i % 20), "f%05d.safetensors" % i)
    try:
        fds.append(os.open(p, os.O_RDONLY))
    except OSError as e:
        errs[e.errno] = errs.get(e.errno, 0) + 1
for fd in fds:
    os.close(fd)
print(len(fds), errs.get(errno.EIO, 0), sum(v for k, v in errs.items() if k not in (errno.EMFILE, errno.ENFILE)))
PY
)
    read -r opened eio other <<<"$out"
    check "fd limit: opens beyond the daemon's descriptors fail as EMFILE, never EIO ($out)" \
        [ "${eio:-1}" = 0 ] && [ "${other:-1}" = 0 ] && [ "${opened:-0}" -gt 500 ]
    check "fd limit: nothing counted as a data error" [ "$(fs_stat_field "$M" errors)" = 0 ]
    check "fd limit: still serving after running out" cmp "$M/d00/f00000.safetensors" "$T/one.safetensors"
    fusermount3 -u "$M"
    fs_wait_exit "$pid" 20; rc=$?
    check "fd limit: the daemon exits 0 on unmount (no SIGABRT) (rc $rc)" [ "$rc" = 0 ]
    check "fd limit: no abort in the log" bash -c "! grep -qi 'abort\|libgcc_s' '$M.log'"
else
    fail "fd limit: mount"; cat "$M.log"
fi
rm -rf "$S"

# --------------------------------------------------- a bad chunk, logged once
S=$T/bad-store M=$T/bad-mnt
mkdir -p "$S"
cp "$DF11_ROOT/tests/golden/bf16.df11" "$S/"
# Flip a byte in the middle of the first chunk's payload (header is 128 B).
printf '\xff\x00\xff\x00' | dd of="$S/bf16.df11" bs=1 seek=2000 conv=notrunc status=none
fs_mount "$S" "$M"
for i in 1 2 3 4 5 6; do cat "$M/bf16.safetensors" >/dev/null 2>&1; fs_drop "$M/bf16.safetensors" 2>/dev/null; done
lines=$(grep -c 'bf16.safetensors: chunk [0-9]*:' "$M.log")
check "bad chunk: six failing reads log the chunk once ($lines)" [ "$lines" = 1 ]
lines=$(grep -c 'bf16.safetensors: read of' "$M.log")
check "bad chunk: and the failing read once per request shape ($lines)" [ "$lines" -le 2 ]
check "bad chunk: every failing read is counted" [ "$(fs_stat_field "$M" errors)" -ge 6 ]
fs_umount "$M" || fail "bad chunk: unmount"

# ----------------------------------------- names that cannot be shown
S=$T/long-store M=$T/long-mnt
mkdir -p "$S"
long=$(printf 'n%.0s' $(seq 245))
cp "$DF11_ROOT/tests/golden/bf16.df11" "$S/$long.df11"
cp "$DF11_ROOT/tests/golden/bf16.df11" "$S/short.df11"
fs_mount "$S" "$M"
ls "$M" >/dev/null
check "long name: a .df11 whose .safetensors name would pass 255 bytes is logged" grep -q "not shown" "$M.log"
check "long name: the other files are served" cmp <("$DF11" decompress -q -c "$S/short.df11") "$M/short.safetensors"
fs_umount "$M" || fail "long name: unmount"

fs_finish
