#!/usr/bin/env python3
"""faultproxy.py - an HTTP/1.1 proxy for the remote-store tests that breaks
responses on command. Python standard library only; loopback only.

    faultproxy.py --listen 127.0.0.1:PORT --target 127.0.0.1:PORT --control FILE

It forwards each request of a client connection over its own keep-alive
connection to the target and parses each response (status line, headers,
Content-Length body), so a fault hits exactly one response. The control
file holds one line, read before every request:

    pass            forward unchanged
    drop [N]        close the client connection without answering
    reset [N]       close it with a TCP reset
    stall [N]       answer nothing (until the client gives up, at most 300 s)
    truncate [N]    send the headers and half the body, then close
    flip [N]        flip one byte in the middle of the body
    500 [N]         answer 500 Internal Server Error (connection kept)
    shift [N]       move the Content-Range one byte (body unchanged)
    rate BPS        pass, throttled to BPS bytes/s over all connections

N: only the next N requests get the fault, then "pass" (the count restarts
whenever the file's content changes); "-" for every request. A third word
limits the fault to requests whose URI contains it ("flip - bf16.df11"). Each request is logged on stdout as
"METHOD URI RANGE -> MODE".
"""
import argparse
import os
import socket
import struct
import sys
import threading
import time

lock = threading.Lock()
state = {"text": None, "used": 0}
bucket = {"t": time.monotonic(), "tokens": 0.0}


def take_mode(ctl, uri):
    """The fault for the request of uri (mode, arg)."""
    try:
        with open(ctl) as f:
            text = f.read().strip()
    except OSError:
        text = "pass"
    with lock:
        if text != state["text"]:
            state["text"] = text
            state["used"] = 0
        parts = text.split()
        mode = parts[0] if parts else "pass"
        arg = parts[1] if len(parts) > 1 else None
        if mode == "rate":
            return mode, float(arg or 0)
        if len(parts) > 2 and parts[2] not in uri:
            return "pass", None
        if arg not in (None, "-") and mode != "pass":
            if state["used"] >= int(arg):
                return "pass", None
            state["used"] += 1
        return mode, None


def throttle(n, rate):
    """Global token bucket: wait until n bytes may go out."""
    if not rate:
        return
    while True:
        with lock:
            now = time.monotonic()
            # a burst of at most 20 ms of traffic
            cap = max(rate * 0.02, 65536)
            bucket["tokens"] = min(cap, bucket["tokens"] + (now - bucket["t"]) * rate)
            bucket["t"] = now
            if bucket["tokens"] >= min(n, cap):
                bucket["tokens"] -= n
                return
            need = (min(n, cap) - bucket["tokens"]) / rate
        time.sleep(max(need, 0.001))


def read_head(sock, buf):
    """Reads up to the end of an HTTP head; returns (head, rest) or None."""
    while b"\r\n\r\n" not in buf:
        data = sock.recv(65536)
        if not data:
            return None
        buf += data
        if len(buf) > 1 << 20:
            return None
    i = buf.index(b"\r\n\r\n") + 4
    return buf[:i], buf[i:]


def header(head, name):
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == name:
            return v.strip()
    return None


def read_exact(sock, n, buf):
    while len(buf) < n:
        data = sock.recv(min(1 << 20, n - len(buf)))
        if not data:
            break
        buf += data
    return buf[:n], buf[n:]


def send(sock, data, rate):
    if not rate:
        sock.sendall(data)
        return
    for i in range(0, len(data), 65536):
        piece = data[i:i + 65536]
        throttle(len(piece), rate)
        sock.sendall(piece)


def serve(client, target, ctl, log):
    up = None
    cbuf = b""
    try:
        while True:
            r = read_head(client, cbuf)
            if r is None:
                return
            req, cbuf = r
            line = req.split(b"\r\n", 1)[0].decode("latin-1")
            rng = (header(req, b"range") or b"-").decode("latin-1")
            mode, rate = take_mode(ctl, line)
            log.write(f"{line} {rng} -> {mode}\n")
            log.flush()
            if mode == "drop":
                return
            if mode == "reset":
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return
            if mode == "stall":
                client.settimeout(300)
                try:
                    while client.recv(65536):
                        pass
                except OSError:
                    pass
                return
            if mode == "500":
                client.sendall(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n")
                continue
            if up is None:
                up = socket.create_connection(target)
                ubuf = b""
            up.sendall(req)
            r = read_head(up, ubuf)
            if r is None:
                return
            head, ubuf = r
            status = head.split(b" ", 2)[1]
            cl = header(head, b"content-length")
            method = line.split(" ", 1)[0]
            n = 0 if method == "HEAD" or status in (b"304", b"204") else int(cl or 0)
            if mode in ("pass", "rate"):
                # Streamed: a 1 GB body is never held whole.
                send(client, head, rate)
                while n > 0:
                    if not ubuf:
                        ubuf = up.recv(min(n, 1 << 18))
                        if not ubuf:
                            return
                    piece, ubuf = ubuf[:n], ubuf[n:]
                    send(client, piece, rate)
                    n -= len(piece)
                continue
            body, ubuf = read_exact(up, n, ubuf)
            if mode == "shift":
                cr = header(head, b"content-range")
                if cr:
                    u, _, tot = cr.partition(b"/")
                    a, _, b = u.split(b" ")[-1].partition(b"-")
                    new = b"bytes %d-%d/%s" % (int(a) + 1, int(b) + 1, tot)
                    head = head.replace(b"Content-Range: " + cr, b"Content-Range: " + new)
            if mode == "flip" and body:
                i = len(body) // 2
                body = body[:i] + bytes([body[i] ^ 0x5A]) + body[i + 1:]
            if mode == "truncate":
                send(client, head + body[: len(body) // 2], rate)
                return
            send(client, head + body, rate)
    except OSError:
        pass
    finally:
        for s in (client, up):
            if s is not None:
                try:
                    s.close()
                except OSError:
                    pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True)
    ap.add_argument("--target", required=True)
    ap.add_argument("--control", required=True)
    a = ap.parse_args()
    lh, lp = a.listen.rsplit(":", 1)
    th, tp = a.target.rsplit(":", 1)
    if lh not in ("127.0.0.1", "::1", "localhost") or th not in ("127.0.0.1", "::1", "localhost"):
        sys.exit("faultproxy: loopback addresses only")
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((lh, int(lp)))
    srv.listen(64)
    while True:
        c, _ = srv.accept()
        threading.Thread(target=serve, args=(c, (th, int(tp)), a.control, sys.stdout),
                         daemon=True).start()


if __name__ == "__main__":
    main()
