#!/usr/bin/env bash
# 100 mount/unmount cycles leave no mount and no daemon behind; within one
# daemon, repeated opens, reads and listings leak no descriptors or threads.
set -u
. "$(dirname "$0")/fs_lib.sh"
fs_setup 150
T="$FS_TMP"

fs_fixtures "$T/src" || { fail "fixtures generated"; exit 0; }
fs_store "$T/src" "$T/store" || { fail "store built"; exit 0; }
M="$T/mnt"

ok=0 bad_exit=0
for i in $(seq 100); do
    fs_mount "$T/store" "$M" -o cache_size=2M || break
    cmp -s "$M/model/config.json" "$T/src/model/config.json" || { echo "cycle $i: passthrough differs"; break; }
    if [ $((i % 10)) = 0 ]; then
        cmp -s "$M/dtypes.safetensors" "$T/src/dtypes.safetensors" || { echo "cycle $i: dtypes differs"; break; }
    fi
    fs_umount "$M" || bad_exit=$((bad_exit + 1))
    ok=$i
done
check "100 mount/unmount cycles" [ "$ok" = 100 ]
check "every daemon exited 0" [ "$bad_exit" = 0 ]
check "no mount left after the cycles" [ -z "$(fs_mounts_under "$T")" ]
left=0; for p in "${FS_PIDS[@]}"; do kill -0 "$p" 2>/dev/null && left=$((left + 1)); done
check "no daemon left after the cycles" [ "$left" = 0 ]

# One daemon under repeated use.
fs_mount "$T/store" "$M" -o cache_size=2M || { fail "mount"; exit 0; }
pass_once() {
    local f
    for f in $(cd "$T/src" && find . -type f | sort); do cat "$M/$f" >/dev/null; done
    ls -lR "$M" >/dev/null
    cat "$M/.df11fs-stats" >/dev/null
    "$FSX" -S 7 -N 100 -t 4 -D 2 "$M/edge_bf16.safetensors" "$T/src/edge_bf16.safetensors" >/dev/null
}
pass_once; sleep 0.5
fd0=$(ls /proc/"$FS_PID"/fd | wc -l); th0=$(ls /proc/"$FS_PID"/task | wc -l)
for i in $(seq 20); do pass_once; done
sleep 1
fd1=$(ls /proc/"$FS_PID"/fd | wc -l); th1=$(ls /proc/"$FS_PID"/task | wc -l)
echo "descriptors $fd0 -> $fd1, threads $th0 -> $th1"
check "no descriptor leak over 20 passes" [ "$fd1" -le "$fd0" ]
check "threads stay bounded (idle session threads at most 10 more)" [ "$th1" -le $((th0 + 10)) ]
check "unmount" fs_umount "$M"
exit 0
