# fleet_lib.sh - helpers for the fleet tests and bench/fleet_bench.sh
# (sourced after remote_lib.sh and rl_init): the caching proxy tier of
# deploy/nginx/df11-cache.conf, started as shipped with only its ports,
# paths and origin rewritten.
#
#   fl_proxy_start HOST:PORT [MAX_SIZE]   # $FL_URL (reverse), $FL_FWD (forward proxy URL),
#                                         # $FL_LOG (its access log), $FL_DIR
# shellcheck shell=bash

# fl_render ORIGIN DIR PORT FWDPORT [MAX_SIZE]: the shipped file, rewritten:
# it listens on 127.0.0.1 only and lets in loopback clients only (the
# shipped site network, 10.0.0.0/8, is dropped).
fl_render() {
    local origin=$1 d=$2 port=$3 fwd=$4 max=${5:-4g}
    sed -e "s#192\.0\.2\.10:80#$origin#g" \
        -e "s#/var/cache/nginx/df11#$d/cache#" \
        -e "s#max_size=[0-9a-z]*#max_size=$max#" \
        -e "s#/var/log/nginx/#$d/#g" \
        -e "s#listen 8080;#listen 127.0.0.1:$port;#" \
        -e "s#listen 3128;#listen 127.0.0.1:$fwd;#" \
        -e '/^[[:space:]]*allow 10\.0\.0\.0\/8;/d' \
        "$DF11_ROOT/deploy/nginx/df11-cache.conf"
}

fl_proxy_start() {
    local origin=$1 max=${2:-4g} d port fwd nginx user=""
    nginx=$(command -v nginx || echo /usr/sbin/nginx)
    d="$RL_TMP/proxy.$RANDOM"
    mkdir -p "$d/tmp" "$d/cache"
    port=$(rl_free_port); fwd=$(rl_free_port)
    fl_render "$origin" "$d" "$port" "$fwd" "$max" >"$d/df11-cache.conf" || return 1
    [ "$(id -u)" = 0 ] && user="user root;"
    cat >"$d/nginx.conf" <<CONF
$user
worker_processes 2;
daemon off;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 1024; }
http {
    client_body_temp_path $d/tmp/body; proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fcgi; uwsgi_temp_path $d/tmp/uwsgi; scgi_temp_path $d/tmp/scgi;
    default_type application/octet-stream;
    keepalive_requests 100000;
    include $d/df11-cache.conf;
}
CONF
    "$nginx" -p "$d" -c "$d/nginx.conf" >"$d/stderr" 2>&1 &
    RL_PIDS+=($!)
    FL_PROXY_PID=$!
    rl_wait_port "$port" && rl_wait_port "$fwd" || { cat "$d/stderr" "$d/error.log" >&2; return 1; }
    FL_DIR=$d
    FL_URL="http://127.0.0.1:$port/store/"
    FL_FWD="http://127.0.0.1:$fwd"
    FL_LOG="$d/df11-cache.log"
    FL_FWD_LOG="$d/df11-forward.log"
}

fl_proxy_stop() {
    kill "$FL_PROXY_PID" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$FL_PROXY_PID" 2>/dev/null || return 0; sleep 0.1; done
    kill -9 "$FL_PROXY_PID" 2>/dev/null
}
