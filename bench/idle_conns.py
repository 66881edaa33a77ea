#!/usr/bin/env python3
"""Idle keep-alive memory test for bench/run.sh.

Measures the server's RSS (process tree of --pid, VmRSS summed), then opens
--count connections, sends one keep-alive GET on each and reads the whole
response, leaves them all open and idle, waits --settle seconds and measures
again. Prints one JSON object:
  ok, failed, still_open, rss_before_kb, rss_with_kb, kb_per_conn, hwm_kb,
  open_s, errors (first few error strings)
"""
import argparse
import json
import os
import resource
import select
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import proctree  # noqa: E402


def raise_nofile(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= want:
        return
    if hard != resource.RLIM_INFINITY and hard < want:
        try:  # works as root
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
            return
        except (ValueError, OSError):
            want = hard
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def read_response(s):
    """Read one HTTP/1.1 response with Content-Length; return (status, keepalive)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("closed before headers")
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length, close = None, False
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        k = k.strip().lower()
        if k == b"content-length":
            length = int(v.strip())
        elif k == b"connection" and b"close" in v.lower():
            close = True
        elif k == b"transfer-encoding":
            raise ConnectionError("unexpected transfer-encoding")
    if length is None:
        raise ConnectionError("no content-length")
    while len(body) < length:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("closed in body")
        body += chunk
    return status, not close


def count_open(socks):
    """Sockets the server has not closed (not readable, or readable with data)."""
    p = select.poll()
    for s in socks:
        p.register(s.fileno(), select.POLLIN | select.POLLRDHUP | select.POLLHUP)
    closed = 0
    for fd, ev in p.poll(0):
        if ev & (select.POLLRDHUP | select.POLLHUP):
            closed += 1
        else:
            s = socket.socket(fileno=os.dup(fd))
            try:
                if s.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b"":
                    closed += 1
            except OSError:
                closed += 1
            finally:
                s.close()
    return len(socks) - closed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--path", default="/1k.bin")
    ap.add_argument("--count", type=int, default=5000)
    ap.add_argument("--pid", type=int, required=True, help="server (master) pid")
    ap.add_argument("--settle", type=float, default=1.0)
    ap.add_argument("--timeout", type=float, default=10.0)
    a = ap.parse_args()

    raise_nofile(a.count + 64)
    req = (f"GET {a.path} HTTP/1.1\r\nHost: {a.host}:{a.port}\r\n"
           "User-Agent: wharf-bench-idle\r\nAccept: */*\r\n\r\n").encode()

    time.sleep(a.settle)
    before = proctree.measure(a.pid)

    socks, failed, errors = [], 0, []
    t0 = time.monotonic()
    for _ in range(a.count):
        s = None
        try:
            s = socket.create_connection((a.host, a.port), timeout=a.timeout)
            s.sendall(req)
            status, keep = read_response(s)
            if status != 200 or not keep:
                raise ConnectionError(f"status {status}, keep-alive {keep}")
            socks.append(s)
        except (OSError, ValueError, IndexError) as e:
            failed += 1
            if len(errors) < 5:
                errors.append(repr(e))
            if s is not None:
                s.close()
    open_s = time.monotonic() - t0

    time.sleep(a.settle)
    with_ = proctree.measure(a.pid)
    still_open = count_open(socks)
    ok = len(socks)
    res = {
        "ok": ok,
        "failed": failed,
        "still_open": still_open,
        "rss_before_kb": before["rss_kb"],
        "rss_with_kb": with_["rss_kb"],
        "kb_per_conn": round((with_["rss_kb"] - before["rss_kb"]) / ok, 2) if ok else None,
        "hwm_kb": with_["hwm_kb"],
        "open_s": round(open_s, 2),
        "errors": errors,
    }
    for s in socks:
        s.close()
    print(json.dumps(res))


if __name__ == "__main__":
    main()
