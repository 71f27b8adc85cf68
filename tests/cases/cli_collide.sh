#!/usr/bin/env bash
# Folder mode refuses, before writing anything, a tree in which a renamed
# file would land on another entry's name (x.safetensors beside x.df11, a
# file, folder or symlink), with a message that names both; exit 3.
. "$(dirname "$0")/cli_lib.bash"

FX="$WORK/fx"
if ! make_fixtures "$FX"; then fail "cli_fixtures" "fixture generator failed"; exit 0; fi
src=$(ls "$FX"/*.safetensors | grep -v truncated | head -1)

# clash NAME WHAT CMD... : exit 3, message names WHAT, output folder $WORK/out
# absent or empty afterwards.
clash() {
    local name=$1 what=$2; shift 2
    rm -rf "$WORK/out"
    "$@" >"$WORK/last.out" 2>"$WORK/last.err"
    local got=$?
    if [ $got -ne 3 ]; then fail "$name" "exit $got, want 3: $(head -c 300 "$WORK/last.err")"
    elif ! grep -q "would be written as $what, but .*/$what is in the same folder" "$WORK/last.err"; then
        fail "$name" "message: $(head -c 300 "$WORK/last.err")"
    elif [ -n "$(ls -A "$WORK/out" 2>/dev/null)" ]; then fail "$name" "wrote: $(ls -A "$WORK/out")"
    else pass "$name"; fi
}

M="$WORK/m1"; mkdir -p "$M"
cp "$src" "$M/x.safetensors"; echo precious >"$M/x.df11"; echo '{}' >"$M/config.json"
clash "cli_collide_file" x.df11 "$DF11" compress "$M" -o "$WORK/out"
clash "cli_collide_file_force" x.df11 "$DF11" compress -f "$M" -o "$WORK/out"

M="$WORK/m2"; mkdir -p "$M/x.df11"; cp "$src" "$M/x.safetensors"
clash "cli_collide_folder" x.df11 "$DF11" compress "$M" -o "$WORK/out"
M="$WORK/m3"; mkdir -p "$M"; cp "$src" "$M/x.safetensors"; ln -s elsewhere "$M/x.df11"
clash "cli_collide_symlink" x.df11 "$DF11" compress "$M" -o "$WORK/out"
M="$WORK/m4"; mkdir -p "$M/a/b"; cp "$src" "$M/top.safetensors"; cp "$src" "$M/a/b/y.safetensors"; echo 1 >"$M/a/b/y.df11"
clash "cli_collide_nested_nothing_written" y.df11 "$DF11" compress "$M" -o "$WORK/out"

# The store side: x.df11 beside x.safetensors.
S="$WORK/s1"; mkdir -p "$S"
"$DF11" compress -q "$src" -o "$S/x.df11"; cp "$src" "$S/x.safetensors"
clash "cli_collide_decompress" x.safetensors "$DF11" decompress "$S" -o "$WORK/out"

# Names that only look alike are fine.
M="$WORK/m5"; mkdir -p "$M"; cp "$src" "$M/x.safetensors"; echo 1 >"$M/x.safetensors.df11"; echo 2 >"$M/X.df11"
rm -rf "$WORK/out"
ok "cli_collide_lookalikes_ok" "$DF11" compress -q "$M" -o "$WORK/out"
[ -f "$WORK/out/x.df11" ] && [ -f "$WORK/out/x.safetensors.df11" ] && [ -f "$WORK/out/X.df11" ] \
    && pass "cli_collide_lookalikes_all_there" || fail "cli_collide_lookalikes_all_there" "$(ls "$WORK/out")"
