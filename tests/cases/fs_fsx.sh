#!/usr/bin/env bash
# Random pread and mmap (MAP_SHARED, MAP_PRIVATE) reads of mounted files at
# odd offsets and lengths, across chunk and tensor boundaries and EOF,
# compared against the originals (tests/tools/fsx.c). Stores with the
# default 256 KiB chunks and with 64 KiB chunks (more boundaries).
set -u
. "$(dirname "$0")/fs_lib.sh"
fs_setup 170
T="$FS_TMP"
SEED="${FSX_SEED:-$RANDOM$RANDOM}"
echo "seed base $SEED (set FSX_SEED to replay)"

fs_fixtures_and_gpt2 "$T/src" || { fail "fixtures generated"; exit 0; }
gpt="$SHARED_MODELS/gpt2-small-partial.bf16.safetensors"

for log2 in 18 16; do
    fs_store "$T/src" "$T/store$log2" --chunk-log2 "$log2" || { fail "store chunk 2^$log2"; continue; }
    fs_mount "$T/store$log2" "$T/mnt$log2" -o cache_size=32M || { fail "mount chunk 2^$log2"; continue; }
    for f in dtypes edge_bf16 odd_header trailing_bytes no_tensors model/model-00001-of-00002 model/sub/folder/adapter gpt2; do
        [ -f "$T/src/$f.safetensors" ] || continue
        ops=1500; [ "$f" = gpt2 ] && ops=600
        SEED=$((SEED + 1))
        check "fsx chunk 2^$log2 $f" "$FSX" -S "$SEED" -N "$ops" -t 2 -c $((1 << log2)) "$T/mnt$log2/$f.safetensors" "$T/src/$f.safetensors"
    done
    # The oracle can fail: the same file against a different original.
    if "$FSX" -S 1 -N 200 "$T/mnt$log2/dtypes.safetensors" "$T/src/edge_bf16.safetensors" >/dev/null 2>&1; then
        fail "fsx detects a wrong file, chunk 2^$log2"
    else
        pass "fsx detects a wrong file, chunk 2^$log2"
    fi
    [ "$(fs_stat_field "$T/mnt$log2" errors)" = 0 ] && pass "no errors counted, chunk 2^$log2" || fail "no errors counted, chunk 2^$log2"
    check "unmount chunk 2^$log2" fs_umount "$T/mnt$log2"
done
[ -f "$gpt" ] || skip "fsx-gpt2 $gpt absent"
exit 0
