#!/usr/bin/env bash
# The end-to-end demo, from a fresh machine: installs what is missing, builds,
# compresses a real model into a store, verifies it, mounts it with df11fs
# and proves with sha256sum that the mounted files are the originals. The
# mount is left in place for you to use; the last lines say how to unmount.
#
# Models: every ../shared/models/*.safetensors beside the repository, plus the
# BF16 all-MiniLM-L6-v2 folder that scripts/minilm_bf16.py writes (when the
# Python venv can be set up). Work files go to .data/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD="${BUILD:-build}"
DEMO="${DF11_DEMO_DIR:-$ROOT/.data/demo}"
SHARED="${DF11_MODELS:-$(dirname "$ROOT")/shared/models}"
JOBS=$(nproc 2>/dev/null || echo 2)
say() { printf '\n== %s\n' "$*"; }

say "Dependencies"
scripts/install-deps.sh

say "Build ($BUILD)"
make -j"$JOBS" BUILD="$BUILD" "$BUILD/df11"
have_fs=1
make -j"$JOBS" BUILD="$BUILD" "$BUILD/df11fs" || have_fs=0

say "Model"
src="$DEMO/src" store="$DEMO/store" mnt="$DEMO/mnt"
if mountpoint -q "$mnt" 2>/dev/null; then
    echo "unmounting the previous demo at $mnt"
    fusermount3 -uz "$mnt"
fi
rm -rf "$src" "$store"
mkdir -p "$src" "$mnt"
shopt -s nullglob
for m in "$SHARED"/*.safetensors; do
    # A real copy (a hard link when the file system allows): folder mode
    # recreates symlinks as symlinks, which would prove nothing.
    ln "$m" "$src/" 2>/dev/null || cp "$m" "$src/"
    echo "using $m"
done
if scripts/setup-venv.sh && .venv/bin/python scripts/minilm_bf16.py "$src/minilm-bf16"; then
    echo "using all-MiniLM-L6-v2 converted to BF16 ($src/minilm-bf16)"
else
    echo "no Python venv: skipping the MiniLM model" >&2
fi
originals=()
while IFS= read -r f; do originals+=("${f#"$src"/}"); done \
    < <(find "$src" -type f -name '*.safetensors' | sort)
if [ ${#originals[@]} -eq 0 ]; then
    echo "demo: no model found (no $SHARED/*.safetensors and no venv)" >&2
    exit 1
fi

say "Compress: df11 compress $src -o $store"
"$BUILD/df11" compress "$src" -o "$store"

say "Verify and inspect"
while IFS= read -r z; do
    echo "-- $z"
    "$BUILD/df11" verify "$z"
    # The per-tensor table runs to hundreds of lines: show its head and the
    # totals, keep the whole of it in a file.
    table="$DEMO/info-$(basename "$z" .df11).txt"
    "$BUILD/df11" info "$z" >"$table"
    if [ "$(wc -l <"$table")" -gt 30 ]; then
        head -n 6 "$table"; echo "  ... (all of it in $table)"; tail -n 12 "$table"
    else
        cat "$table"
    fi
done < <(find "$store" -type f -name '*.df11' | sort)

bytes_of() { # DIR PATTERN: total size of matching regular files
    find "$1" -type f -name "$2" -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }'
}
orig=$(bytes_of "$src" '*.safetensors')
stored=$(bytes_of "$store" '*.df11')
say "Sizes"
awk -v o="$orig" -v s="$stored" 'BEGIN {
    printf "original safetensors: %d bytes (%.1f MiB)\n", o, o / 1048576
    printf "stored .df11:         %d bytes (%.1f MiB)\n", s, s / 1048576
    printf "ratio:                %.4f (%.1f%% saved)\n", s / o, 100 * (1 - s / o) }'

if [ "$have_fs" -eq 0 ] || [ ! -x "$BUILD/df11fs" ]; then
    echo "demo: $BUILD/df11fs is not built; stopping before the mount" >&2
    exit 1
fi

say "Mount: $BUILD/df11fs $store $mnt"
"$BUILD/df11fs" "$store" "$mnt"
for _ in $(seq 100); do mountpoint -q "$mnt" && break; sleep 0.1; done
mountpoint -q "$mnt" || { echo "demo: df11fs did not mount" >&2; exit 1; }

say "Bytes identical? (sha256sum of original vs mounted)"
bad=0
for rel in "${originals[@]}"; do
    a=$(sha256sum <"$src/$rel" | cut -d' ' -f1)
    b=$(sha256sum <"$mnt/$rel" | cut -d' ' -f1) || b="(read failed)"
    if [ "$a" = "$b" ]; then
        echo "identical  $a  $rel"
    else
        echo "DIFFERENT  $a  vs  $b  $rel"
        bad=1
    fi
done
[ "$bad" -eq 0 ] || { fusermount3 -uz "$mnt"; echo "demo: mismatch, unmounted" >&2; exit 1; }

say "Done. The store is mounted at $mnt:"
ls -l "$mnt"
echo
echo "Unmount with:  fusermount3 -u $mnt"
