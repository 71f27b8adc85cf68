# remote_lib.sh - helpers for the remote-store tests (sourced, not run):
# an nginx origin (HTTP or HTTPS, optional bandwidth limit, access log),
# a SeaweedFS S3 origin, the fault-injecting proxy, and result lines.
# Everything listens on 127.0.0.1 on free ports and is stopped by
# rl_cleanup (installed as an EXIT trap by rl_init).
#
#   . tests/cases/remote_lib.sh
#   rl_init                     # $RL_TMP, $DF11, $BUILD, traps
#   rl_nginx_start ROOT [https] [limit_rate]   # $RL_HTTP_URL, $RL_NGINX_LOG
#   rl_weed_start               # $RL_S3_ENDPOINT, $RL_S3_KEY, $RL_S3_SECRET
#   rl_s3_put BUCKET/KEY FILE   # upload (curl --aws-sigv4)
#   rl_proxy_start HOST:PORT    # $RL_PROXY_PORT, $RL_PROXY_CTL; rl_proxy MODE
#   rl_log_bytes [REGEX]        # body bytes nginx sent for matching URIs

# shellcheck shell=bash
RL_PIDS=()

rl_pass() { echo "PASS $1"; }
rl_fail() { echo "FAIL $1${2:+: $2}"; }
rl_skip() { echo "SKIP $1 $2"; }
rl_check() { # NAME CMD...: PASS when CMD succeeds
    local n=$1; shift
    if "$@"; then rl_pass "$n"; else rl_fail "$n" "$*"; fi
}

rl_init() {
    : "${DF11_ROOT:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
    : "${BUILD:=build}"
    case $BUILD in /*) ;; *) BUILD="$DF11_ROOT/$BUILD" ;; esac
    DF11="$BUILD/df11"
    RL_TMP=$(mktemp -d /tmp/df11-remote.XXXXXX)
    chmod 755 "$RL_TMP"
    trap rl_cleanup EXIT
}

rl_cleanup() {
    local p
    for p in "${RL_PIDS[@]}"; do
        kill "$p" 2>/dev/null
    done
    for p in "${RL_PIDS[@]}"; do
        for _ in $(seq 20); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null && wait "$p" 2>/dev/null
    done
    RL_PIDS=()
    [ -n "${RL_KEEP:-}" ] || rm -rf "$RL_TMP"
}

# rl_cmp_tree SRC MNT: every file of SRC equals the one at MNT (cmp), and
# every symlink has the same target; names what differs.
rl_cmp_tree() {
    local src=$1 m=$2 f bad=0
    while IFS= read -r -d '' f; do
        f=${f#"$src"/}
        if [ -L "$src/$f" ]; then
            [ "$(readlink "$m/$f")" = "$(readlink "$src/$f")" ] || { echo "$m: link $f"; bad=1; }
        else
            cmp -s "$src/$f" "$m/$f" || { echo "$m: differs: $f"; bad=1; }
        fi
    done < <(find "$src" \( -type f -o -type l \) -print0)
    [ "$bad" = 0 ]
}

rl_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Waits until 127.0.0.1:PORT accepts connections (at most ~15 s).
rl_wait_port() {
    local i
    for i in $(seq 150); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

rl_have_nginx() { command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; }

# rl_nginx_start ROOT [https] [LIMIT_RATE]: serves ROOT at /store/.
rl_nginx_start() {
    local root=$1 tls=${2:-} rate=${3:-0}
    local d="$RL_TMP/nginx.$RANDOM" port nginx
    nginx=$(command -v nginx || echo /usr/sbin/nginx)
    mkdir -p "$d/tmp"
    port=$(rl_free_port)
    local listen="listen 127.0.0.1:$port;" user=""
    if [ "$tls" = https ]; then
        openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/key.pem" -out "$d/cert.pem" \
            -days 2 -subj /CN=127.0.0.1 -addext "subjectAltName=IP:127.0.0.1" >/dev/null 2>&1 || return 1
        listen="listen 127.0.0.1:$port ssl; ssl_certificate $d/cert.pem; ssl_certificate_key $d/key.pem;"
        RL_CA_FILE="$d/cert.pem"
    fi
    # As root the workers would run as nobody, who may not read ROOT.
    [ "$(id -u)" = 0 ] && user="user root;"
    cat >"$d/nginx.conf" <<EOF
$user
worker_processes 2;
daemon off;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 256; }
http {
    access_log off;
    log_format df11 '\$request_uri \$status \$body_bytes_sent "\$http_range" \$connection';
    client_body_temp_path $d/tmp/body; proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fcgi; uwsgi_temp_path $d/tmp/uwsgi; scgi_temp_path $d/tmp/scgi;
    types { application/octet-stream df11; }
    default_type application/octet-stream;
    sendfile on;
    keepalive_requests 100000;
    server {
        $listen
        access_log $d/access.log df11;
        location /store/ { alias $root/; limit_rate $rate; }
    }
}
EOF
    "$nginx" -p "$d" -c "$d/nginx.conf" >"$d/stderr" 2>&1 &
    RL_PIDS+=($!)
    RL_NGINX_PID=$!
    rl_wait_port "$port" || { cat "$d/stderr" "$d/error.log" >&2; return 1; }
    RL_NGINX_DIR=$d
    RL_NGINX_PORT=$port
    RL_NGINX_LOG="$d/access.log"
    RL_HTTP_URL="${tls:-http}://127.0.0.1:$port/store/"
    [ "$tls" = https ] || RL_HTTP_URL="http://127.0.0.1:$port/store/"
}

rl_nginx_stop() {
    kill "$RL_NGINX_PID" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$RL_NGINX_PID" 2>/dev/null || return 0; sleep 0.1; done
    kill -9 "$RL_NGINX_PID" 2>/dev/null
}

# Body bytes and requests nginx logged for URIs matching REGEX (default all).
rl_log_bytes() { awk -v re="${1:-.}" '$1 ~ re { b += $3 } END { print b + 0 }' "$RL_NGINX_LOG"; }
rl_log_requests() { awk -v re="${1:-.}" '$1 ~ re { n++ } END { print n + 0 }' "$RL_NGINX_LOG"; }

rl_weed_bin() {
    local w="${DF11_VENV:-$DF11_ROOT/.venv}/bin/weed"
    [ -x "$w" ] && echo "$w"
}

# A SeaweedFS server (master, volume, filer, S3) with one identity.
rl_weed_start() {
    local weed d p
    weed=$(rl_weed_bin) || return 1
    d="$RL_TMP/weed"
    mkdir -p "$d/data"
    RL_S3_KEY=df11testkey
    RL_S3_SECRET=df11testsecret
    cat >"$d/s3.json" <<EOF
{"identities":[{"name":"df11","credentials":[{"accessKey":"$RL_S3_KEY","secretKey":"$RL_S3_SECRET"}],
  "actions":["Admin","Read","Write","List","Tagging"]}]}
EOF
    local mp vp fp sp
    mp=$(rl_free_port); vp=$(rl_free_port); fp=$(rl_free_port); sp=$(rl_free_port)
    "$weed" server -dir="$d/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
        -master.port="$mp" -master.port.grpc="$(rl_free_port)" \
        -volume.port="$vp" -volume.port.grpc="$(rl_free_port)" -volume.max=8 \
        -master.volumeSizeLimitMB=64 \
        -filer -filer.port="$fp" -filer.port.grpc="$(rl_free_port)" \
        -s3 -s3.port="$sp" -s3.port.grpc="$(rl_free_port)" -s3.config="$d/s3.json" \
        >"$d/log" 2>&1 &
    RL_PIDS+=($!)
    RL_WEED_PID=$!
    RL_S3_ENDPOINT="http://127.0.0.1:$sp"
    rl_wait_port "$sp" || { tail -20 "$d/log" >&2; return 1; }
    # The S3 port opens before the filer is ready: wait for a bucket PUT.
    local i
    for i in $(seq 100); do
        curl -sf -o /dev/null --aws-sigv4 "aws:amz:us-east-1:s3" --user "$RL_S3_KEY:$RL_S3_SECRET" \
            -X PUT "$RL_S3_ENDPOINT/df11probe" && return 0
        sleep 0.2
    done
    tail -20 "$d/log" >&2
    return 1
}

# rl_s3_put BUCKET KEY FILE (creates the bucket when needed)
rl_s3_put() {
    curl -sf -o /dev/null --aws-sigv4 "aws:amz:us-east-1:s3" --user "$RL_S3_KEY:$RL_S3_SECRET" \
        -X PUT "$RL_S3_ENDPOINT/$1" 2>/dev/null
    curl -sf -o /dev/null --aws-sigv4 "aws:amz:us-east-1:s3" --user "$RL_S3_KEY:$RL_S3_SECRET" \
        -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -T "$3" "$RL_S3_ENDPOINT/$1/$2"
}

# rl_s3_put_tree BUCKET PREFIX DIR: every file of DIR (manifest last).
rl_s3_put_tree() {
    local b=$1 p=$2 dir=$3 f rel
    while IFS= read -r -d '' f; do
        rel=${f#"$dir"/}
        [ "$rel" = .df11-manifest.json ] && continue
        rl_s3_put "$b" "$p/$rel" "$f" || return 1
    done < <(find "$dir" -type f -print0)
    [ -f "$dir/.df11-manifest.json" ] && rl_s3_put "$b" "$p/.df11-manifest.json" "$dir/.df11-manifest.json"
}

# rl_proxy_start HOST:PORT: the fault proxy in front of an origin.
rl_proxy_start() {
    RL_PROXY_PORT=$(rl_free_port)
    RL_PROXY_CTL="$RL_TMP/proxy.ctl"
    echo pass >"$RL_PROXY_CTL"
    python3 "$DF11_ROOT/tests/tools/faultproxy.py" --listen "127.0.0.1:$RL_PROXY_PORT" \
        --target "$1" --control "$RL_PROXY_CTL" >"$RL_TMP/proxy.log" 2>&1 &
    RL_PIDS+=($!)
    RL_PROXY_PID=$!
    rl_wait_port "$RL_PROXY_PORT"
}

# rl_proxy MODE: pass, drop, stall, truncate, flip, 500, reset (see faultproxy.py)
rl_proxy() { echo "$*" >"$RL_PROXY_CTL.new" && mv "$RL_PROXY_CTL.new" "$RL_PROXY_CTL"; }

# rl_gen_store DIR: a small store made from the golden .df11 files, a
# subfolder, a plain file larger than a block, a symlink; manifest written.
rl_gen_store() {
    local s=$1
    mkdir -p "$s/sub"
    cp "$DF11_ROOT"/tests/golden/{bf16,mixed,empty,many_chunks}.df11 "$s/"
    cp "$DF11_ROOT/tests/golden/f32.df11" "$s/sub/"
    head -c 5000000 /dev/urandom >"$s/sub/tokenizer.bin"
    echo '{"model_type":"test"}' >"$s/config.json"
    ln -s bf16.safetensors "$s/latest.safetensors"
    "$DF11" manifest -q "$s"
}
