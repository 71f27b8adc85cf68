#!/usr/bin/env bash
# Several processes x threads reading the same and different files while
# the cache budget is far smaller than the data (constant eviction), first
# with the multi-threaded daemon, then with a single-threaded one (-s).
set -u
. "$(dirname "$0")/fs_lib.sh"
fs_setup 170
T="$FS_TMP"
SEED="${FSX_SEED:-$RANDOM$RANDOM}"
echo "seed base $SEED (set FSX_SEED to replay)"

fs_fixtures_and_gpt2 "$T/src" || { fail "fixtures generated"; exit 0; }
gpt="$SHARED_MODELS/gpt2-small-partial.bf16.safetensors"
fs_store "$T/src" "$T/store" || { fail "store built"; exit 0; }
files="dtypes edge_bf16 model/model-00001-of-00002 model/model-00002-of-00002"
[ -f "$gpt" ] && files="$files gpt2"

run_readers() {    # MNT LABEL: 4 processes x 3 threads, two on one file
    local m="$1" label="$2" pids=() i=0 f rc all=0
    for f in $files edge_bf16; do
        SEED=$((SEED + 7))
        "$FSX" -S "$SEED" -N 400 -t 3 -D 3 "$m/$f.safetensors" "$T/src/$f.safetensors" >"$T/fsx.$label.$i" 2>&1 &
        pids+=($!); i=$((i + 1))
    done
    for i in "${!pids[@]}"; do
        wait "${pids[$i]}"; rc=$?
        [ "$rc" -eq 0 ] || { all=1; cat "$T/fsx.$label.$i"; }
    done
    return $all
}

# 1 MiB budget: four 256 KiB chunks for everything.
fs_mount "$T/store" "$T/mnt" -o cache_size=1M,prefetch=4 || { fail "mount"; exit 0; }
check "concurrent readers, 1 MiB cache, multi-threaded daemon" run_readers "$T/mnt" mt
dec=$(fs_stat_field "$T/mnt" chunks_decoded); budget=$(fs_stat_field "$T/mnt" cache_budget)
cb=$(fs_stat_field "$T/mnt" cache_bytes)
echo "chunks_decoded=$dec cache_bytes=$cb budget=$budget"
check "cache stayed within its budget after the load" [ "$cb" -le "$budget" ]
check "constant eviction (chunks decoded again and again)" [ "$dec" -gt 100 ]
check "no errors counted" [ "$(fs_stat_field "$T/mnt" errors)" = 0 ]
check "daemon alive and serving" cmp -s "$T/src/dtypes.safetensors" "$T/mnt/dtypes.safetensors"
check "unmount" fs_umount "$T/mnt"

fs_mount "$T/store" "$T/mnt" -s -o cache_size=1M || { fail "mount -s"; exit 0; }
check "concurrent readers, 1 MiB cache, single-threaded daemon (-s)" run_readers "$T/mnt" st
check "single-threaded: no errors counted" [ "$(fs_stat_field "$T/mnt" errors)" = 0 ]
check "unmount -s" fs_umount "$T/mnt"
exit 0
