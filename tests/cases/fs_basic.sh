#!/usr/bin/env bash
# df11fs basics: every mirrored file equals its original (cmp), sizes agree
# across stat/readdir/lseek, the name mapping and its both-exist rule, the
# read-only errors, the hidden stats file, --help, gpu= handling, daemon
# mode and mount -t fuse.df11fs.
set -u
. "$(dirname "$0")/fs_lib.sh"
fs_setup
T="$FS_TMP"

fs_fixtures "$T/src" || { fail "fixtures generated"; exit 0; }
fs_store "$T/src" "$T/store" || { fail "store built"; exit 0; }
# Both-exist rule: a real NAME.safetensors wins over NAME.df11.
printf 'the real one\n' >"$T/store/both.safetensors"
cp "$T/store/dtypes.df11" "$T/store/both.df11"
# A .df11 that is not a valid .df11 file at all.
printf 'not a df11 file' >"$T/store/broken.df11"

fs_mount "$T/store" "$T/mnt" || { fail "mount"; exit 0; }
M="$T/mnt"
pass "mount"

# Every file of the original folder, compressed or passed through, by cmp.
n=0 bad=0
while IFS= read -r -d '' f; do
    rel="${f#"$T/src/"}"
    n=$((n + 1))
    if [ -L "$f" ]; then
        [ -L "$M/$rel" ] && [ "$(readlink "$f")" = "$(readlink "$M/$rel")" ] && cmp -s "$f" "$M/$rel" || { echo "symlink differs: $rel"; bad=$((bad + 1)); }
    else
        cmp "$f" "$M/$rel" || bad=$((bad + 1))
    fi
done < <(find "$T/src" \( -type f -o -type l \) -print0)
check "cmp all $n files (virtual, passthrough, symlinks)" [ "$bad" -eq 0 -a "$n" -gt 5 ]

# Sizes: stat, readdirplus (ls -l right after a fresh mount) and SEEK_END.
sizes_ok=1
while IFS= read -r -d '' f; do
    rel="${f#"$T/src/"}"
    want=$(stat -c %s "$f")
    got_stat=$(stat -c %s "$M/$rel")
    got_seek=$(python3 -c 'import os,sys; fd=os.open(sys.argv[1],os.O_RDONLY); print(os.lseek(fd,0,os.SEEK_END))' "$M/$rel")
    [ "$want" = "$got_stat" ] && [ "$want" = "$got_seek" ] || { echo "size $rel: want $want stat $got_stat seek $got_seek"; sizes_ok=0; }
done < <(find "$T/src" -type f -print0)
check "stat and lseek(SEEK_END) sizes equal the originals" [ "$sizes_ok" = 1 ]

fs_umount "$M" && fs_mount "$T/store" "$M" || fail "remount"
ls_ok=1
while read -r size name; do
    [ -f "$T/src/model/$name" ] || continue
    [ "$size" = "$(stat -c %s "$T/src/model/$name")" ] || { echo "readdirplus size $name: $size"; ls_ok=0; }
done < <(ls -l "$M/model" | awk 'NF >= 9 { print $5, $9 }')
check "readdirplus sizes (ls -l on a fresh mount) equal the originals" [ "$ls_ok" = 1 ]

# Name mapping.
check "NAME.df11 shown as NAME.safetensors" [ -f "$M/dtypes.safetensors" ]
check "NAME.df11 itself not visible" [ ! -e "$M/dtypes.df11" ]
check "no .df11 names in listings" [ -z "$(find "$M" -name '*.df11')" ]
check "both exist: the real NAME.safetensors wins" cmp -s "$M/both.safetensors" "$T/store/both.safetensors"
check "both exist: listed once" [ "$(ls "$M" | grep -c '^both\.')" = 1 ]
check "nested folder mirrored" cmp -s "$T/src/model/sub/folder/adapter.safetensors" "$M/model/sub/folder/adapter.safetensors"
out=$(cat "$M/nope.safetensors" 2>&1); check "unknown name gives ENOENT" grep -q "No such file" <<<"$out"
out=$(stat "$M/broken.safetensors" 2>&1); check "invalid .df11 gives EIO, not a crash" grep -q "Input/output error" <<<"$out"
check "invalid .df11 logged with its name" grep -q "broken.safetensors" "$M.log"
check "still serving after the invalid file" cmp -s "$T/src/dtypes.safetensors" "$M/dtypes.safetensors"

# Read-only.
erofs() { local out; out=$("$@" 2>&1); grep -q "Read-only file system" <<<"$out" || { echo "$*: $out"; return 1; }; }
check "create gives EROFS" erofs touch "$M/new-file"
check "write gives EROFS" erofs sh -c "echo x >> '$M/model/config.json'"
check "unlink gives EROFS" erofs rm -f "$M/model/config.json"
check "rename gives EROFS" erofs mv "$M/model/config.json" "$M/model/c2.json"
check "mkdir gives EROFS" erofs mkdir "$M/d"
check "chmod (setattr) gives EROFS" erofs chmod 600 "$M/model/config.json"
check "truncate gives EROFS" erofs truncate -s 0 "$M/dtypes.safetensors"
check "symlink gives EROFS" erofs ln -s x "$M/lnk"
check "store untouched" cmp -s "$T/src/model/config.json" "$T/store/model/config.json"

# Stats file: readable, not listed, counts what we did.
stats=$(cat "$M/.df11fs-stats")
check "stats file readable" grep -q '^chunks_decoded [1-9]' <<<"$stats"
check "stats file lists every counter" bash -c 'for k in reads bytes_served chunks_decoded cache_hits cache_misses errors decode_ns bytes_decoded_cpu bytes_decoded_gpu; do grep -q "^$k [0-9]" <<<"$1" || exit 1; done' _ "$stats"
check "stats file not in readdir" [ -z "$(ls -A "$M" | grep -F .df11fs-stats)" ]
check "errors counted" [ "$(fs_stat_field "$M" errors)" -ge 1 ]
# gpu=auto decodes on the CPU (faster through FUSE, doc/FS.md "GPU") and
# says so in one line, GPU or not; a daemon using the GPU (gpu=on through
# DF11FS_TEST_OPTS) says nothing of the kind.
case " ${DF11FS_TEST_OPTS:-} " in
*gpu=on*) check "gpu=on: no CPU line" [ "$(grep -c 'decoding on the CPU' "$M.log")" = 0 ] ;;
*gpu=off*) check "gpu=off: no auto line" [ "$(grep -c 'gpu=auto' "$M.log")" = 0 ] ;;
*) check "gpu=auto: one log line, decoding on the CPU" [ "$(grep -c 'gpu=auto: decoding on the CPU' "$M.log")" = 1 ]
   check "gpu=auto: the GPU is not used" [ "$(fs_stat_field "$M" gpu)" = off ] ;;
esac
check "unmount exits 0" fs_umount "$M"

# --help lists every option with its default.
help=$("$DF11FS" --help 2>&1)
hok=1
for o in cache_size gpu gpu_min_chunks prefetch workers stats_interval check_interval timeout readahead_kb allow_other auto_unmount " -f " " -d " " -s "; do
    grep -q -- "$o" <<<"$help" || { echo "--help misses $o"; hok=0; }
done
check "--help lists the options" [ "$hok" = 1 ]
check "--help gives defaults" [ "$(grep -c default <<<"$help")" -ge 8 ]

# gpu=on without a GPU refuses to mount, leaving nothing behind. Daemon
# mode (no -f): where a GPU is present it mounts and returns, rather than
# serving in the foreground forever (which hung this case on the H200).
mkdir -p "$T/m2"
if timeout 60 "$DF11FS" -o gpu=on "$T/store" "$T/m2" 2>"$T/gpu_on.log"; then rc=0; else rc=$?; fi
if grep -q "no usable GPU" "$T/gpu_on.log"; then
    check "gpu=on without a GPU fails to mount" [ "$rc" -ne 0 -a -z "$(fs_mounts_under "$T")" ]
else
    [ "$rc" = 0 ] && fs_wait_mount "$T/m2" 1
    check "gpu=on with a GPU mounts" [ $? = 0 ]
    fusermount3 -u "$T/m2" 2>/dev/null
    check "gpu=on with a GPU unmounts" fs_wait_mount "$T/m2" 0
    skip "gpu=on-refusal a GPU is present here"
fi
out=$("$DF11FS" -o gpu=maybe "$T/store" "$T/m2" 2>&1); check "bad option value rejected" grep -q "bad gpu" <<<"$out"
out=$("$DF11FS" -o no_such_opt "$T/store" "$T/m2" 2>&1); check "unknown option rejected" [ -z "$(fs_mounts_under "$T")" ]

# Daemon mode (no -f), stats_interval log, SIGTERM exit.
"$DF11FS" -o stats_interval=1 "$T/store" "$T/m2"; rc=$?
check "daemon mode mounts" fs_wait_mount "$T/m2" 1
dpid=$(pgrep -n -f "df11fs -o stats_interval=1 $T/store") || true
check "daemon mode serves" cmp -s "$T/src/edge_bf16.safetensors" "$T/m2/edge_bf16.safetensors"
if [ -n "$dpid" ]; then
    kill -TERM "$dpid"
    check "SIGTERM unmounts cleanly" fs_wait_mount "$T/m2" 0
else
    fail "daemon pid found"; fusermount3 -u "$T/m2"
fi

# SIGINT on a foreground daemon.
fs_mount "$T/store" "$T/m3" -o stats_interval=1 && {
    sleep 1.3
    kill -INT "$FS_PID"; fs_wait_exit "$FS_PID"; rc=$?
    check "SIGINT: daemon exits 0" [ "$rc" = 0 ]
    check "SIGINT: unmounted" fs_wait_mount "$T/m3" 0
    check "stats_interval log line" grep -q "stats: reads=" "$T/m3.log"
}

# mount(8) through mount.fuse3, as /etc/fstab does. First the mount.fuse3
# "PROGRAM#STORE" form of type fuse, which needs nothing installed.
if [ "$(id -u)" = 0 ] && [ -x /sbin/mount.fuse ] && command -v mount >/dev/null; then
    mkdir -p "$T/m4"
    mount -t fuse -o allow_other,cache_size=8M "$DF11FS#$T/store" "$T/m4" 2>"$T/m4.err"
    check "mount -t fuse 'df11fs#STORE' MNT" fs_wait_mount "$T/m4" 1
    check "mount -t fuse: serves the files" cmp -s "$T/src/model/model-00002-of-00002.safetensors" "$T/m4/model/model-00002-of-00002.safetensors"
    check "mount -t fuse: ro and allow_other applied" grep -q " $T/m4 fuse.df11fs ro,.*allow_other" /proc/mounts
    umount "$T/m4"
    check "umount of the mount(8) mount" fs_wait_mount "$T/m4" 0
else
    skip "mount-t-fuse needs root and /sbin/mount.fuse"
fi
# Then type fuse.df11fs: needs /sbin/mount.fuse.df11fs -> mount.fuse3 and
# df11fs in mount's PATH; installed only for this check (under a lock, as
# parallel runs share /sbin) and removed right after.
helper=/sbin/mount.fuse.df11fs bin=/usr/local/bin/df11fs
if [ "$(id -u)" = 0 ] && [ -x /sbin/mount.fuse3 ] && command -v flock >/dev/null; then
    exec 9>"${TMPDIR:-/tmp}/df11fs-mount-helper.lock"
    flock -w 60 9
    if [ ! -e "$helper" ] && [ ! -e "$bin" ]; then
        ln -s /sbin/mount.fuse3 "$helper"; ln -s "$DF11FS" "$bin"
        mkdir -p "$T/m5"
        mount -t fuse.df11fs -o cache_size=8M "$T/store" "$T/m5" 2>"$T/m5.err"
        check "mount -t fuse.df11fs STORE MNT" fs_wait_mount "$T/m5" 1
        check "mount -t fuse.df11fs: serves the files" cmp -s "$T/src/dtypes.safetensors" "$T/m5/dtypes.safetensors"
        umount "$T/m5"
        check "umount of the fuse.df11fs mount" fs_wait_mount "$T/m5" 0
        rm -f "$helper" "$bin"
    else
        skip "mount-t-fuse.df11fs $helper or $bin already installed"
    fi
    flock -u 9; exec 9>&-
else
    skip "mount-t-fuse.df11fs needs root, /sbin/mount.fuse3 and flock"
fi

# Real weights, when present.
gpt="$SHARED_MODELS/gpt2-small-partial.bf16.safetensors"
if [ -f "$gpt" ]; then
    mkdir -p "$T/gsrc"; ln -s "$gpt" "$T/gsrc/"
    "$DF11" compress -q "$gpt" -o "$T/gstore/gpt2.df11" 2>/dev/null || { mkdir -p "$T/gstore"; "$DF11" compress -q "$gpt" -o "$T/gstore/gpt2.df11"; }
    fs_mount "$T/gstore" "$T/gm" && {
        check "GPT-2 weights: cmp with the original" cmp "$gpt" "$T/gm/gpt2.safetensors"
        check "GPT-2 weights: sha256" [ "$(sha256sum <"$gpt")" = "$(sha256sum <"$T/gm/gpt2.safetensors")" ]
        # -o readahead_kb (default 4096) raises the mount's kernel readahead,
        # so sequential reads reach the daemon as 1 MiB requests.
        if [ "$(id -u)" = 0 ]; then
            bdi="/sys/class/bdi/$(mountpoint -d "$T/gm")/read_ahead_kb"
            check "readahead_kb: the mount's read_ahead_kb is 4096" [ "$(cat "$bdi")" = 4096 ]
            check "readahead_kb: sequential reads arrive as 1 MiB requests" \
                [ "$(fs_stat_field "$T/gm" read_max)" = 1048576 -a "$(fs_stat_field "$T/gm" reads_1m)" -gt 10 ]
        else
            skip "readahead_kb needs root to write /sys/class/bdi"
        fi
        fs_umount "$T/gm" || fail "GPT-2 unmount"
    }
    fs_mount "$T/gstore" "$T/gm" -o readahead_kb=0 && {
        cat "$T/gm/gpt2.safetensors" >/dev/null
        bdi="/sys/class/bdi/$(mountpoint -d "$T/gm")/read_ahead_kb"
        check "readahead_kb=0 leaves the kernel's readahead" [ "$(cat "$bdi")" != 4096 ]
        if [ "$(cat "$bdi")" -lt 1024 ]; then
            check "readahead_kb=0: requests stay below 1 MiB" [ "$(fs_stat_field "$T/gm" reads_1m)" = 0 ]
        fi
        fs_umount "$T/gm" || fail "GPT-2 unmount (readahead_kb=0)"
    }
else
    skip "gpt2 $gpt absent"
fi
exit 0
