#!/usr/bin/env bash
# Operands that are not regular files (FIFO, socket, device) are refused by
# every command at once, with a message that says what they are and exit 3;
# none may block (a FIFO without a writer blocks a plain open or read).
. "$(dirname "$0")/cli_lib.bash"

mkfifo "$WORK/pipe.df11" "$WORK/pipe.safetensors"
"$PY" -c 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$WORK/sock.df11" 2>/dev/null
# refused NAME WHAT CMD...: finishes within 10 s, exit 3, message names WHAT.
refused() {
    local name=$1 what=$2; shift 2
    timeout 10 "$@" >"$WORK/last.out" 2>"$WORK/last.err" </dev/null
    local got=$?
    if [ "$got" -eq 124 ]; then fail "$name" "hung (killed after 10 s)"
    elif [ "$got" -ne 3 ]; then fail "$name" "exit $got, want 3: $(head -c 200 "$WORK/last.err")"
    elif ! grep -q "is a $what.*not a regular file" "$WORK/last.err"; then fail "$name" "message: $(head -c 200 "$WORK/last.err")"
    else pass "$name"; fi
}
for cmd in verify info bench; do
    refused "cli_special_fifo_$cmd" "FIFO" "$DF11" $cmd "$WORK/pipe.df11"
    refused "cli_special_device_$cmd" "character device" "$DF11" $cmd /dev/null
    [ -S "$WORK/sock.df11" ] && refused "cli_special_socket_$cmd" "socket" "$DF11" $cmd "$WORK/sock.df11"
done
refused "cli_special_fifo_decompress" "FIFO" "$DF11" decompress "$WORK/pipe.df11" -o "$WORK/o1"
refused "cli_special_fifo_decompress_c" "FIFO" "$DF11" decompress -c "$WORK/pipe.df11"
refused "cli_special_fifo_compress" "FIFO" "$DF11" compress "$WORK/pipe.safetensors" -o "$WORK/o2.df11"
refused "cli_special_device_compress" "character device" "$DF11" compress /dev/zero -o "$WORK/o3.df11"
[ -S "$WORK/sock.df11" ] && refused "cli_special_socket_decompress" "socket" "$DF11" decompress "$WORK/sock.df11" -o "$WORK/o4"
# The first failure decides, and the good operand after it is still done.
refused "cli_special_verify_goes_on" "FIFO" "$DF11" verify "$WORK/pipe.df11" /dev/null
[ -e "$WORK/o1" ] || [ -e "$WORK/o2.df11" ] || [ -e "$WORK/o3.df11" ] || [ -e "$WORK/o4" ] \
    && fail "cli_special_no_outputs" || pass "cli_special_no_outputs"

# Folder mode skips a FIFO inside the tree with a warning, and does not block.
mkdir -p "$WORK/m"
mkfifo "$WORK/m/weights.safetensors"
timeout 10 "$DF11" compress "$WORK/m" -o "$WORK/s" >"$WORK/last.out" 2>"$WORK/last.err" </dev/null
got=$?
if [ "$got" -eq 0 ] && grep -q "weights.safetensors: skipped" "$WORK/last.err" && [ ! -e "$WORK/s/weights.df11" ]
then pass "cli_special_folder_fifo_skipped"
else fail "cli_special_folder_fifo_skipped" "exit $got: $(head -c 200 "$WORK/last.err")"; fi
