#!/usr/bin/env bash
# Faults: corrupt .df11 data (before the first read and while mounted), a
# file replaced or removed while mounted, kill -9 with auto_unmount, and
# unmount while a file is held open (busy, then lazy).
set -u
. "$(dirname "$0")/fs_lib.sh"
fs_setup 150
T="$FS_TMP"

fs_fixtures "$T/src" || { fail "fixtures generated"; exit 0; }
fs_store "$T/src" "$T/store" || { fail "store built"; exit 0; }
S="$T/store" M="$T/mnt"

# mid_payload FILE.df11: an offset inside the chunk payloads (between the
# 128-byte header and the index, doc/FORMAT.md), found without the library.
mid_payload() {
    python3 -c 'import struct,sys; b=open(sys.argv[1],"rb").read(128); print((128 + struct.unpack_from("<Q", b, 72)[0]) // 2)' "$1"
}
# scan MOUNTED ORIGINAL: reads MOUNTED in 4 KiB blocks; prints
# "bad_blocks first_bad_offset last_bad_end wrong_blocks" where bad blocks
# gave EIO and wrong blocks returned bytes that differ from ORIGINAL.
scan() {
    python3 - "$1" "$2" <<'PY'
import errno, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY); orig = open(sys.argv[2], "rb").read()
bad = wrong = 0; first = last = -1
for off in range(0, len(orig), 4096):
    try:
        d = os.pread(fd, 4096, off)
        if d != orig[off:off + 4096]: wrong += 1
    except OSError as e:
        if e.errno != errno.EIO: raise
        bad += 1; last = min(off + 4096, len(orig))
        if first < 0: first = off
print(bad, first, last, wrong)
PY
}
# flip FILE OFFSET: inverts one byte in place.
flip() {
    python3 - "$1" "$2" <<'PY'
import sys
with open(sys.argv[1], 'r+b') as f:
    f.seek(int(sys.argv[2])); c = f.read(1); f.seek(int(sys.argv[2])); f.write(bytes([c[0] ^ 0xFF]))
PY
}
# --- corrupt a copy before its first read ---
# One flipped byte in one chunk's payload: that chunk's range (at most one
# 256 KiB chunk, plus the 4 KiB blocks straddling its ends) gives EIO and
# every other byte still reads correctly.
cp "$S/edge_bf16.df11" "$S/bad.df11"
flip "$S/bad.df11" "$(mid_payload "$S/bad.df11")"
fs_mount "$S" "$M" -o cache_size=4M,prefetch=0 || { fail "mount"; exit 0; }
check "corrupt file: size still from the header" [ "$(stat -c %s "$M/bad.safetensors")" = "$(stat -c %s "$T/src/edge_bf16.safetensors")" ]
read -r nbad first last wrong < <(scan "$M/bad.safetensors" "$T/src/edge_bf16.safetensors")
echo "corrupt copy: $nbad EIO blocks in [$first, $last), $wrong wrong blocks"
check "corrupt chunk: its reads give EIO" [ "$nbad" -ge 1 ]
check "corrupt chunk: the EIO range is one chunk" [ $((last - first)) -le $((262144 + 8192)) ]
check "corrupt file: every other block correct" [ "$wrong" = 0 ]
check "cmp of the whole corrupt file fails" bash -c "! cmp -s '$M/bad.safetensors' '$T/src/edge_bf16.safetensors'"
check "log line names the file and the chunk" grep -q "bad.safetensors: chunk [0-9]" "$M.log"
check "other files unaffected" cmp -s "$M/edge_bf16.safetensors" "$T/src/edge_bf16.safetensors"
check "errors counted" [ "$(fs_stat_field "$M" errors)" -ge 1 ]

# --- corrupted in place while mounted, after it was read and cached ---
cmp -s "$M/dtypes.safetensors" "$T/src/dtypes.safetensors" || fail "dtypes read before corruption"
pos=$(mid_payload "$S/dtypes.df11")
flip "$S/dtypes.df11" "$pos"
fs_drop "$M/dtypes.safetensors"
read -r nbad first last wrong < <(scan "$M/dtypes.safetensors" "$T/src/dtypes.safetensors")
echo "corrupted while mounted: $nbad EIO blocks in [$first, $last), $wrong wrong blocks"
check "corrupted while mounted: EIO for the chunk" [ "$nbad" -ge 1 -a $((last - first)) -le $((262144 + 8192)) ]
check "corrupted while mounted: other blocks correct" [ "$wrong" = 0 ]
flip "$S/dtypes.df11" "$pos"               # repaired
fs_drop "$M/dtypes.safetensors"
check "repaired file reads correctly again" cmp -s "$M/dtypes.safetensors" "$T/src/dtypes.safetensors"
check "daemon survived the bad data" kill -0 "$FS_PID"

# --- replaced while mounted (the encoder writes a temp file and renames) ---
A="$M/model/model-00001-of-00002.safetensors" OLD="$T/src/model/model-00001-of-00002.safetensors"
NEW="$T/src/edge_bf16.safetensors"
exec 7<"$A"                                 # an open reader, before
python3 - "$A" "$T/mapped" <<'PY' &
import mmap, os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY); m = mmap.mmap(fd, 0, prot=mmap.PROT_READ)
open(sys.argv[2] + ".ready", "w").close()
while not os.path.exists(sys.argv[2] + ".go"): time.sleep(0.05)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
open(sys.argv[2], "wb").write(m[:])
PY
mpid=$!
for i in $(seq 50); do [ -e "$T/mapped.ready" ] && break; sleep 0.1; done
head -c 1000 "$A" >/dev/null
"$DF11" compress -q -f "$NEW" -o "$S/model/model-00001-of-00002.df11" || fail "replacement written"
sleep 2.5                                   # past check_interval: attributes dropped
check "replaced: stat shows the new size without reopening" [ "$(stat -c %s "$A")" = "$(stat -c %s "$NEW")" ]
check "replaced: a new open reads the new contents" cmp "$A" "$NEW"
check "replaced: a handle opened before reads the old contents" cmp - "$OLD" <&7
exec 7<&-
touch "$T/mapped.go"; wait "$mpid"
check "replaced: an mmap made before still sees the old contents" cmp "$T/mapped" "$OLD"
check "replacements counted" [ "$(fs_stat_field "$M" replacements)" -ge 1 ]

# --- removed while mounted ---
exec 7<"$M/odd_header.safetensors"
rm "$S/odd_header.df11"
check "removed: a new open fails" bash -c "! cat '$M/odd_header.safetensors' >/dev/null 2>&1"
check "removed: a handle opened before still reads it" cmp - "$T/src/odd_header.safetensors" <&7
exec 7<&-
check "unmount" fs_umount "$M"

# --- kill -9 with auto_unmount ---
fs_mount "$S" "$M" -o auto_unmount || fail "mount auto_unmount"
# The mount shows in /proc/mounts as soon as fusermount3 made it, before it
# passed the descriptor to the daemon; a daemon killed in that window leaves
# a dead mount behind (fusermount3 gives up when the hand-over fails). Kill it
# only once it answers.
cat "$M/.df11fs-stats" >/dev/null || fail "auto_unmount mount serves"
kill -9 "$FS_PID"; wait "$FS_PID" 2>/dev/null
# fusermount3's helper unmounts once it sees the daemon's socket close; a
# loaded machine can delay it. Undo it by hand on failure so the checks
# below start from a clean mountpoint.
if fs_wait_mount "$M" 0 30; then
    pass "kill -9 with auto_unmount leaves no mount"
else
    fail "kill -9 with auto_unmount leaves no mount (still mounted after 30 s; helpers: $(pgrep -a fusermount3 | tr '\n' ';'))"
    fusermount3 -uz "$M"
fi

# --- a --max file (ANS_IL chunks) with one bad chunk, read in order with
# prefetch on: the prefetcher decodes runs of chunks together
# (df11_decode_chunks); a run that holds the bad chunk must still fail only
# that chunk's range, and every other byte must read correctly ---
MS="$T/maxstore" MM="$T/maxmnt"
mkdir -p "$MS"
"$DF11" compress -q --max "$T/src/edge_bf16.safetensors" -o "$MS/edge.df11" || fail "--max copy made"
pos=$(mid_payload "$MS/edge.df11")
flip "$MS/edge.df11" "$pos"
fs_mount "$MS" "$MM" -o cache_size=8M || fail "mount of the --max store"
read -r nbad first last wrong < <(scan "$MM/edge.safetensors" "$T/src/edge_bf16.safetensors")
echo "--max corrupt copy, prefetch on: $nbad EIO blocks in [$first, $last), $wrong wrong blocks, $(fs_stat_field "$MM" prefetch_chunks) chunks prefetched"
check "--max corrupt chunk: its reads give EIO" [ "$nbad" -ge 1 ]
check "--max corrupt chunk: the EIO range is one chunk" [ $((last - first)) -le $((262144 + 8192)) ]
check "--max corrupt file: every other block correct" [ "$wrong" = 0 ]
check "--max: chunks were prefetched in runs" [ "$(fs_stat_field "$MM" prefetch_chunks)" -ge 4 ]
check "--max: the log names the bad chunk" grep -q "edge.safetensors: chunk [0-9]" "$MM.log"
flip "$MS/edge.df11" "$pos"
fs_drop "$MM/edge.safetensors"
check "--max repaired file reads correctly" cmp -s "$MM/edge.safetensors" "$T/src/edge_bf16.safetensors"
fusermount3 -u "$MM" || fusermount3 -uz "$MM"
fs_wait_exit "$FS_PID" 60 || fail "--max mount's daemon exits"

# --- unmount while a file is held open: busy, then lazy ---
fs_mount "$S" "$M" || fail "mount for busy"
exec 7<"$M/edge_bf16.safetensors"
check "unmount while held open: EBUSY" bash -c "! fusermount3 -u '$M' 2>/dev/null"
check "still mounted after the refused unmount" fs_is_mounted "$M"
fusermount3 -uz "$M"
check "lazy unmount detaches at once" fs_wait_mount "$M" 0
check "the held file still reads after the lazy unmount" cmp - "$T/src/edge_bf16.safetensors" <&7
exec 7<&-
# The kernel tears the connection down only after the background RELEASE of
# the last file; a sanitizer build then still frees and leak-checks
# everything, which under load can take many seconds: a generous timeout, and
# the status and log in the failure.
fs_wait_exit "$FS_PID" 60; rc=$?
if [ "$rc" = 0 ]; then
    pass "daemon exits once the last file is closed"
else
    fail "daemon exits once the last file is closed (exit status $rc; 124 = still running after 60 s)"
    tail -20 "$M.log"
fi
exit 0
