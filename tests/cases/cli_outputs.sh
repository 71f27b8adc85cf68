#!/usr/bin/env bash
# The file policy of every output (tools/outfile.c): one hidden temporary
# file with a short name in the output's folder and one rename, so output
# names up to 255 bytes work; a signal (INT, TERM, HUP) during compress or
# decompress removes the temporary file and ends df11 with the signal's
# status; an input that changes while it is compressed gives exit 2 and no
# output; a full disk names the output, never a temporary file, and leaves
# nothing behind.
. "$(dirname "$0")/cli_lib.bash"

FX="$WORK/fx"
if ! make_fixtures "$FX"; then fail "cli_fixtures" "fixture generator failed"; exit 0; fi
src=$(ls -S "$FX"/*.safetensors | grep -v truncated | head -1)

# --- names up to 255 bytes ------------------------------------------------
L="$WORK/long"; mkdir -p "$L"
n245=$(printf 'a%.0s' $(seq 245))
ok "cli_out_long_compress_o" "$DF11" compress -q "$src" -o "$L/$n245.df11"          # 250 bytes
n243=$(printf 'b%.0s' $(seq 243))
cp "$src" "$L/$n243.safetensors"                                                 # 255 bytes
ok "cli_out_long_compress_default" "$DF11" compress -q "$L/$n243.safetensors"
[ -f "$L/$n243.df11" ] && pass "cli_out_long_compress_default_name" || fail "cli_out_long_compress_default_name"
n238=$(printf 'c%.0s' $(seq 238))
cp "$L/$n245.df11" "$L/$n238.df11"
# -f: the folder holds other .df11 files, where decompress refuses to add
# an original beside them without it (it would shadow them in a mount).
ok "cli_out_long_decompress_default" "$DF11" decompress -q -f "$L/$n238.df11"       # -> 250 bytes
same "cli_out_long_decompress_content" "$src" "$L/$n238.safetensors"
n240=$(printf 'd%.0s' $(seq 235))
ok "cli_out_long_decompress_o" "$DF11" decompress -q "$L/$n245.df11" -o "$L/$n240.safetensors.x1234"
same "cli_out_long_decompress_o_content" "$src" "$L/$n240.safetensors.x1234"
mkdir -p "$WORK/lm/sub" && cp "$src" "$WORK/lm/sub/$n243.safetensors" && cp "$src" "$WORK/lm/$n245.bin"
ok "cli_out_long_folder" "$DF11" compress -q "$WORK/lm" -o "$WORK/ls"
# $n245.bin holds safetensors: stored as $n245.bin.df11n (251 bytes).
[ -f "$WORK/ls/sub/$n243.df11" ] && [ -f "$WORK/ls/$n245.bin.df11n" ] && pass "cli_out_long_folder_files" \
    || fail "cli_out_long_folder_files"
left=$(temp_files "$WORK"); [ -z "$left" ] && pass "cli_out_long_no_temp" || fail "cli_out_long_no_temp" "$left"

# --- special outputs are never replaced, -f or not ----------------------------
mkfifo "$WORK/out.fifo"
rc "cli_out_fifo_not_replaced" 5 "$DF11" decompress -f "$L/$n245.df11" -o "$WORK/out.fifo"
[ -p "$WORK/out.fifo" ] && pass "cli_out_fifo_still_fifo" || fail "cli_out_fifo_still_fifo"
if mknod "$WORK/null" c 1 3 2>/dev/null; then
    rc "cli_out_device_not_replaced" 5 "$DF11" compress -f "$src" -o "$WORK/null"
    [ -c "$WORK/null" ] && pass "cli_out_device_still_device" || fail "cli_out_device_still_device"
else
    echo "SKIP cli_out_device_not_replaced mknod not allowed here"
fi

# --- one temporary file, one rename -----------------------------------------
if strace -f -qq -e trace=none true 2>/dev/null; then
    strace -f -qq -o "$WORK/trace" -e trace=openat,open,creat,rename,renameat,renameat2,link,linkat \
        "$DF11" compress -q "$src" -o "$WORK/traced.df11" 2>/dev/null
    creates=$(grep -c 'O_CREAT' "$WORK/trace"); renames=$(grep -cE '(rename|link)(at2?)?\(' "$WORK/trace")
    [ "$creates" -eq 1 ] && [ "$renames" -eq 1 ] && pass "cli_out_one_temp_one_rename" \
        || fail "cli_out_one_temp_one_rename" "$creates files created, $renames renames: $(grep -E 'O_CREAT|rename|link' "$WORK/trace" | head -c 400)"
else
    echo "SKIP cli_out_one_temp_one_rename strace cannot trace here"
fi

# --- signals ------------------------------------------------------------------
B="$WORK/big"; mkdir -p "$B"
big_st "$B/in.safetensors" 200
"$DF11" compress -q "$B/in.safetensors" -o "$B/in.df11" || fail "cli_out_big_compress"
# interrupted NAME SIG DIR CMD...: starts CMD, waits (bounded) until its
# temporary file exists in DIR, sends SIG; wants exit 128+SIG and DIR
# without any hidden file.
interrupted() {
    local name=$1 sig=$2 dir=$3; shift 3
    set -m # own process group: a background job in a script ignores SIGINT otherwise
    "$@" >/dev/null 2>"$WORK/sig.err" &
    local pid=$! i=0
    set +m
    while [ -z "$(temp_files "$dir")" ] && kill -0 $pid 2>/dev/null && [ $i -lt 5000 ]; do
        sleep 0.001; i=$((i + 1))
    done
    if [ -z "$(temp_files "$dir")" ]; then
        wait $pid; fail "$name" "no temporary file seen (exit $?)"; return
    fi
    kill -"$sig" $pid
    { wait $pid; } 2>/dev/null # no "Hangup" job notice in the log
    local got=$? want=$((128 + $(kill -l "$sig")))
    local hidden; hidden=$(find "$dir" -name '.*' | head -3)
    if [ "$got" -ne "$want" ]; then fail "$name" "exit $got, want $want: $(head -c 200 "$WORK/sig.err")"
    elif [ -n "$hidden" ]; then fail "$name" "left behind: $hidden"
    else pass "$name"; fi
}
for sig in INT TERM HUP; do
    mkdir -p "$B/c_$sig" "$B/d_$sig"
    interrupted "cli_out_signal_compress_$sig" $sig "$B/c_$sig" "$DF11" compress -q -T 1 "$B/in.safetensors" -o "$B/c_$sig/o.df11"
    [ ! -e "$B/c_$sig/o.df11" ] && pass "cli_out_signal_compress_${sig}_no_output" || fail "cli_out_signal_compress_${sig}_no_output"
    interrupted "cli_out_signal_decompress_$sig" $sig "$B/d_$sig" "$DF11" decompress -q -T 1 "$B/in.df11" -o "$B/d_$sig/o.safetensors"
done

# --- input changed while compressing ----------------------------------------
mkdir -p "$B/ch"
cp "$B/in.safetensors" "$B/ch/in.safetensors"
"$DF11" compress -q -T 1 "$B/ch/in.safetensors" -o "$B/ch/o.df11" 2>"$WORK/ch.err" &
pid=$! i=0
while [ -z "$(temp_files "$B/ch")" ] && kill -0 $pid 2>/dev/null && [ $i -lt 5000 ]; do sleep 0.001; i=$((i + 1)); done
printf 'more' >>"$B/ch/in.safetensors"
wait $pid; got=$?
if [ $got -eq 2 ] && grep -q "input changed while it was being compressed" "$WORK/ch.err"; then pass "cli_out_input_changed"
else fail "cli_out_input_changed" "exit $got: $(head -c 300 "$WORK/ch.err")"; fi
[ ! -e "$B/ch/o.df11" ] && [ -z "$(temp_files "$B/ch")" ] && pass "cli_out_input_changed_no_output" \
    || fail "cli_out_input_changed_no_output"
rm -rf "$B"

# --- full disk ------------------------------------------------------------------
F="$WORK/full"; mkdir -p "$F"
if ! mount -t tmpfs -o size=1m df11-test "$F" 2>/dev/null; then
    echo "SKIP cli_out_enospc cannot mount a tmpfs here"
    exit 0
fi
trap 'umount "$F" 2>/dev/null; rm -rf "$WORK"' EXIT
write_st "$WORK/2m.safetensors" '{"w": {"dtype": "BF16", "shape": [1048576], "data_offsets": [0, 2097152]}}' 2097152
"$DF11" compress -q "$WORK/2m.safetensors" -o "$WORK/2m.df11"
head -c 2097152 /dev/urandom >"$WORK/2m.bin"
# full NAME CMD... (output named $F/out): exit 2, "No space left", the
# output named, no temporary file named or left.
full() {
    local name=$1; shift
    "$@" >/dev/null 2>"$WORK/last.err"
    local got=$?
    if [ $got -ne 2 ]; then fail "$name" "exit $got, want 2: $(head -c 300 "$WORK/last.err")"
    elif ! grep -q "$F/out.*No space left on device" "$WORK/last.err"; then fail "$name" "message: $(head -c 300 "$WORK/last.err")"
    elif grep -qE '\.df11\.[A-Za-z0-9]{6}|df11tmp|\.tmp\.' "$WORK/last.err"; then fail "$name" "names a temporary file: $(head -c 300 "$WORK/last.err")"
    elif [ -n "$(ls -A "$F")" ]; then fail "$name" "left: $(ls -A "$F")"
    else pass "$name"; fi
}
full "cli_out_enospc_compress" "$DF11" compress "$WORK/2m.safetensors" -o "$F/out.df11"
full "cli_out_enospc_decompress" "$DF11" decompress "$WORK/2m.df11" -o "$F/out.safetensors"
mkdir -p "$WORK/fm" && cp "$WORK/2m.bin" "$WORK/fm/out.bin"
full "cli_out_enospc_folder_copy" "$DF11" compress "$WORK/fm" -o "$F"
