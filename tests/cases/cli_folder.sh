#!/usr/bin/env bash
# Folder mode: compress MODEL_DIR -o STORE turns every .safetensors into
# .df11, copies everything else, recreates symlinks as symlinks; decompress
# STORE -o OUT gives back a tree identical to MODEL_DIR (cmp on every file,
# readlink on every link).
. "$(dirname "$0")/cli_lib.bash"

FX="$WORK/fx"
if ! make_fixtures "$FX"; then fail "cli_fixtures" "fixture generator failed"; exit 0; fi
M="$WORK/model"
if [ -d "$FX/model" ]; then cp -a "$FX/model" "$M"
else mkdir -p "$M" && cp "$FX"/*.safetensors "$M/"; fi
# Extra shapes the generator does not make: nesting, a symlink to a folder,
# an absolute symlink out of the tree (stored as the file it points to), an
# empty folder, a name with spaces, and a .safetensors that is not valid. A
# dangling link is checked on its own at the end (it makes exit 2).
mkdir -p "$M/a/b/c" "$M/empty"
s=$(ls "$FX"/*.safetensors | grep -v truncated | head -1)
cp "$s" "$M/a/b/c/deep weights.safetensors"
echo '{"x": 1}' >"$M/a/b/c/config.json"
ln -s a/b "$M/link_to_folder"
ln -s /etc/hostname "$M/absolute_link"
printf 'not a safetensors file at all' >"$M/broken.safetensors"

tree() { (cd "$1" && find . -mindepth 1 -printf '%y %p\n' | sort); }
# The tree a store gives back: links that leave the tree are followed, so
# they come back as the regular files they pointed to.
tree_out() { tree "$1" | sed 's|^l ./absolute_link$|f ./absolute_link|' | sort; }

S="$WORK/store"
rc "cli_folder_compress" 0 "$DF11" compress "$M" -o "$S"
grep -q "broken.safetensors" "$WORK/last.err" && pass "cli_folder_warns_invalid" || fail "cli_folder_warns_invalid"

# The store: .df11 in place of each regular .safetensors, the rest as is.
bad=0
while IFS= read -r f; do
    rel=${f#"$M"/}
    if [ "$rel" = absolute_link ]; then
        [ -f "$S/$rel" ] && [ ! -L "$S/$rel" ] && cmp -s "$f" "$S/$rel" || { bad=1; echo "followed $rel"; }
    elif [ -L "$f" ]; then
        [ -L "$S/$rel" ] && [ "$(readlink "$S/$rel")" = "$(readlink "$f")" ] || { bad=1; echo "link $rel"; }
    elif [[ "$rel" == *.safetensors && "$rel" != broken.safetensors ]]; then
        d="$S/${rel%.safetensors}.df11"
        [ -f "$d" ] && [ ! -e "$S/$rel" ] || { bad=1; echo "missing $d"; continue; }
        "$DF11" decompress -c "$d" 2>/dev/null | cmp -s - "$f" || { bad=1; echo "content $rel"; }
    else
        cmp -s "$f" "$S/$rel" || { bad=1; echo "copy $rel"; }
    fi
done < <(find "$M" -mindepth 1 \( -type f -o -type l \))
[ $bad -eq 0 ] && pass "cli_folder_store_layout" || fail "cli_folder_store_layout"
[ -d "$S/empty" ] && pass "cli_folder_empty_dir" || fail "cli_folder_empty_dir"
n_st=$(find "$M" -type f -name '*.safetensors' ! -name broken.safetensors | wc -l)
n_df=$(find "$S" -type f -name '*.df11' | wc -l)
[ "$n_st" -eq "$n_df" ] && [ "$n_df" -ge 2 ] && pass "cli_folder_df11_count" || fail "cli_folder_df11_count" "$n_st vs $n_df"
ok "cli_folder_verify_all" find "$S" -type f -name "*.df11" -exec "$DF11" verify -q {} +

O="$WORK/out"
rc "cli_folder_decompress" 0 "$DF11" decompress "$S" -o "$O"
[ "$(tree_out "$M")" = "$(tree "$O")" ] && pass "cli_folder_tree_identical" \
    || fail "cli_folder_tree_identical" "$(diff <(tree_out "$M") <(tree "$O") | head -5 | tr '\n' ' ')"
bad=0
while IFS= read -r f; do
    rel=${f#"$M"/}
    if [ -L "$f" ] && [ "$rel" != absolute_link ]; then
        [ -L "$O/$rel" ] && [ "$(readlink "$O/$rel")" = "$(readlink "$f")" ] || { bad=1; echo "link $rel"; }
    else
        cmp -s "$f" "$O/$rel" || { bad=1; echo "differs: $rel"; }
    fi
done < <(find "$M" -mindepth 1 \( -type f -o -type l \))
[ $bad -eq 0 ] && pass "cli_folder_every_file_cmp" || fail "cli_folder_every_file_cmp"
# Sharded checkpoints: every shard named in the index came back intact.
if [ -f "$M/model.safetensors.index.json" ]; then
    shards=$("$PY" -c 'import json,sys; print("\n".join(sorted(set(json.load(open(sys.argv[1]))["weight_map"].values()))))' "$M/model.safetensors.index.json")
    bad=0; for sh in $shards; do cmp -s "$M/$sh" "$O/$sh" || bad=1; done
    [ $bad -eq 0 ] && [ -n "$shards" ] && pass "cli_folder_shards" || fail "cli_folder_shards"
fi

# Existing outputs: refused without -f (exit 5), replaced with -f.
rc "cli_folder_refuses_existing" 5 "$DF11" compress -q "$M" -o "$S"
rc "cli_folder_force" 0 "$DF11" compress -q -f "$M" -o "$S"
rc "cli_folder_decompress_refuses_existing" 5 "$DF11" decompress -q "$S" -o "$O"
rc "cli_folder_decompress_force" 0 "$DF11" decompress -q -f "$S" -o "$O"
[ "$(tree_out "$M")" = "$(tree "$O")" ] && pass "cli_folder_force_tree" || fail "cli_folder_force_tree"

rc "cli_folder_needs_o" 1 "$DF11" compress "$M"
rc "cli_folder_same_dir" 1 "$DF11" compress "$M" -o "$M"
# An output folder inside the input folder is not walked into.
cp -a "$M" "$WORK/m2"
rc "cli_folder_output_inside" 0 "$DF11" compress -q "$WORK/m2" -o "$WORK/m2/store"
[ ! -e "$WORK/m2/store/store" ] && pass "cli_folder_output_inside_not_walked" || fail "cli_folder_output_inside_not_walked"
left=$(temp_files "$WORK" | wc -l)
[ "$left" -eq 0 ] && pass "cli_folder_no_temp_files" || fail "cli_folder_no_temp_files" "$left left"

# A dangling link: recreated as it is, reported, exit 2 (the store is not
# complete), and no other file is missing from the store.
D="$WORK/dangle"
mkdir -p "$D"
cp "$s" "$D/w.safetensors"
ln -s nowhere.safetensors "$D/dangling.safetensors"
rc "cli_folder_dangling_exit_2" 2 "$DF11" compress -q "$D" -o "$WORK/dangle-store"
grep -q "dangling" "$WORK/last.err" && pass "cli_folder_dangling_reported" || fail "cli_folder_dangling_reported"
[ -f "$WORK/dangle-store/w.df11" ] && [ -L "$WORK/dangle-store/dangling.safetensors" ] \
    && pass "cli_folder_dangling_rest_stored" || fail "cli_folder_dangling_rest_stored"
