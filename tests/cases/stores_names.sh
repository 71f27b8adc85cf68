#!/usr/bin/env bash
# Names as people have them, through compress, the mount and decompress:
# spaces, newlines and bytes that are not UTF-8, in .safetensors names, in
# blob-like names whose content is safetensors (stored as NAME.df11n), in
# plain files and symlinks; names of 255 bytes. Then decompress next to a
# store (refused without -o/-f, also inside a mounted STORE), the mount
# mistakes df11fs refuses, df on the mount, and no libfuse thread warning.
set -u
source "$(dirname "$0")/stores_lib.bash"
need_tools fuse || exit 0
FX="$W/fx"
mkdir -p "$FX" && python3 "$ROOT/tests/gen/make_fixtures.py" "$FX" >/dev/null \
    || { fail stores_names_fixtures; exit 0; }
st=$(ls "$FX"/*.safetensors | grep -v truncated | head -1)

M="$W/model"; mkdir -p "$M/sub dir"
long_st="$(printf 'a%.0s' $(seq 243)).safetensors"            # 255 bytes -> 248-byte .df11
long_blob=$(printf 'b%.0s' $(seq 249))                          # -> 255-byte .df11n
too_long=$(printf 'c%.0s' $(seq 255))                           # no room for .df11n: copied
cp "$st" "$M/with space.safetensors"
cp "$st" "$M/new"$'\n'"line.safetensors"
cp "$st" "$M/bad"$'\xff\xfe'".safetensors"
cp "$st" "$M/blob "$'\n\xff'
cp "$st" "$M/$long_st"
cp "$st" "$M/sub dir/$long_blob"
cp "$st" "$M/sub dir/$too_long"
printf '{"a": 1}\n' >"$M/cfg"$'\n\xff'".json"
ln -s "blob "$'\n\xff' "$M/link"$'\xff'
ln -s "sub dir/$long_blob" "$M/to long blob"

S="$W/store"
"$DF11" compress "$M" -o "$S" >"$W/c.out" 2>"$W/c.err"; rc=$?
[ $rc -eq 0 ] && pass stores_names_compress || fail stores_names_compress "exit $rc: $(head -c 400 "$W/c.err")"
grep -q "name is too long to add .df11n" "$W/c.err" && pass stores_names_too_long_warned \
    || fail stores_names_too_long_warned "$(cat "$W/c.err")"
# -printf: names with newlines must not count twice.
want=6 got=$(find "$S" -type f \( -name '*.df11' -o -name '*.df11n' \) -printf . | wc -c)
[ "$got" -eq "$want" ] && [ -f "$S/blob "$'\n\xff'".df11n" ] && [ -f "$S/sub dir/$long_blob.df11n" ] \
    && [ -f "$S/${long_st%.safetensors}.df11" ] && [ -f "$S/sub dir/$too_long" ] \
    && pass stores_names_store_layout || fail stores_names_store_layout "$got compressed files"

if mount_store "$S" "$W/mnt"; then
    diff -r --no-dereference "$M" "$W/mnt" >"$W/diff.log" 2>&1 && pass stores_names_mount_diff \
        || fail stores_names_mount_diff "$(head -3 "$W/diff.log" | cat -v)"
    bad=0 n=0
    while IFS= read -r -d '' f; do
        n=$((n + 1)); cmp -s "$M/$f" "$W/mnt/$f" || { bad=1; echo "differs: $f" | cat -v; }
    done < <(cd "$M" && find . -type f -print0)
    [ $bad -eq 0 ] && [ $n -eq 8 ] && pass "stores_names_mount_cmp ($n files)" || fail stores_names_mount_cmp "$n files"
    [ "$(ls -1a "$W/mnt" | wc -l)" = "$(ls -1a "$M" | wc -l)" ] && pass stores_names_readdir_count \
        || fail stores_names_readdir_count
    grep -q "Ignoring invalid max threads" "$W/mnt.log" && fail stores_names_no_thread_warning "$(cat "$W/mnt.log")" \
        || pass stores_names_no_thread_warning
    # df reports the store's file system.
    [ "$(df --output=size,used "$W/mnt" | tail -1)" = "$(df --output=size,used "$S" | tail -1)" ] \
        && pass stores_names_df_is_store_fs || fail stores_names_df_is_store_fs "$(df "$W/mnt" "$S" | tr '\n' ' ')"

    # Mount mistakes: each refused with a message and exit 1, nothing stacked.
    mistake() {
        local name=$1; shift
        local before after rc
        before=$(grep -c fuse.df11fs /proc/mounts)
        timeout 20 "$DF11FS" -f "$@" >"$W/m.out" 2>&1; rc=$?
        after=$(grep -c fuse.df11fs /proc/mounts)
        if [ $rc -ne 0 ] && [ $rc -ne 124 ] && [ "$before" = "$after" ] && [ -s "$W/m.out" ]; then
            pass "$name (exit $rc: $(head -1 "$W/m.out"))"
        else
            fail "$name" "exit $rc, mounts $before -> $after: $(head -2 "$W/m.out")"
            awk -v d="$W/" '$3 == "fuse.df11fs" && index($2, d) == 1 { print $2 }' /proc/mounts |
                while read -r m; do [ "$m" = "$W/mnt" ] || fusermount3 -uz "$m"; done
        fi
    }
    mistake stores_names_mount_twice "$S" "$W/mnt"
    mistake stores_names_mount_on_store "$S" "$S"
    mkdir -p "$S/inside"
    mistake stores_names_mount_inside_store "$S" "$S/inside"
    rmdir "$S/inside"
    echo x >"$W/plainfile"
    mistake stores_names_mount_on_file "$S" "$W/plainfile"
    umount_store "$W/mnt" && pass stores_names_daemon_exit || fail stores_names_daemon_exit
else
    fail stores_names_mount
fi

O="$W/out"
"$DF11" decompress -q "$S" -o "$O" >/dev/null 2>"$W/d.err"; rc=$?
[ $rc -eq 0 ] && diff -r --no-dereference "$M" "$O" >"$W/diff2.log" 2>&1 && pass stores_names_decompress_tree \
    || fail stores_names_decompress_tree "exit $rc: $(head -3 "$W/d.err" "$W/diff2.log" | cat -v)"

# One blob on its own: N -> N.df11n -> N, by default names.
mkdir -p "$W/one" && cp "$st" "$W/one/blob"$'\n\xff'
"$DF11" compress "$W/one/blob"$'\n\xff' 2>"$W/one.err" && [ -f "$W/one/blob"$'\n\xff'".df11n" ] \
    && LC_ALL=C grep -q ' : [0-9.]*% (.* => .*, .*\.df11n)$' "$W/one.err" \
    && pass stores_names_file_mode_df11n || fail stores_names_file_mode_df11n "$(cat -v "$W/one.err")"
mv "$W/one/blob"$'\n\xff' "$W/one/orig"
"$DF11" decompress -q "$W/one/blob"$'\n\xff'".df11n" && cmp -s "$W/one/orig" "$W/one/blob"$'\n\xff' \
    && pass stores_names_file_mode_restores_name || fail stores_names_file_mode_restores_name

# Decompress beside a store: refused (exit 1, nothing written) without -o/-f.
x="$S/with space.df11"
"$DF11" decompress "$x" >/dev/null 2>"$W/g.err"; rc=$?
[ $rc -eq 1 ] && [ ! -e "$S/with space.safetensors" ] && grep -q "looks like a df11 store" "$W/g.err" \
    && pass stores_names_guard_store || fail stores_names_guard_store "exit $rc: $(cat "$W/g.err")"
"$DF11" decompress -q "$x" -o "$W/ws.safetensors" && cmp -s "$W/ws.safetensors" "$M/with space.safetensors" \
    && pass stores_names_guard_with_o || fail stores_names_guard_with_o
"$DF11" decompress -q -f "$x" && cmp -s "$S/with space.safetensors" "$M/with space.safetensors" \
    && pass stores_names_guard_with_f || fail stores_names_guard_with_f
rm -f "$S/with space.safetensors"
# A store of one file is a store when it is mounted.
mkdir -p "$W/s1" && "$DF11" compress -q "$st" -o "$W/s1/m.df11"
if mount_store "$W/s1" "$W/mnt1"; then
    "$DF11" decompress "$W/s1/m.df11" >/dev/null 2>"$W/g.err"; rc=$?
    [ $rc -eq 1 ] && [ ! -e "$W/s1/m.safetensors" ] && grep -q "mounted at" "$W/g.err" \
        && pass stores_names_guard_mounted || fail stores_names_guard_mounted "exit $rc: $(cat "$W/g.err")"
    umount_store "$W/mnt1" || fail stores_names_guard_mounted_exit
    "$DF11" decompress -q "$W/s1/m.df11" && cmp -s "$W/s1/m.safetensors" "$st" \
        && pass stores_names_guard_lone_file_ok || fail stores_names_guard_lone_file_ok
else
    fail stores_names_guard_mounted "no mount"
fi
exit 0
