#!/usr/bin/env python3
"""raw_fake: a raw-socket FastCGI "server" (the application side) for the end-to-end tests.

It writes the malformed output that libfcgi cannot produce. Each request is read completely
(BEGIN_REQUEST, PARAMS, STDIN), then answered according to its mode: the QUERY_STRING
parameter mode=NAME, else the basename of SCRIPT_NAME without its extension.

  ok             a valid response: "Content-Type: text/plain" and body "raw ok\\n"; the
                 connection is kept when the server asked for FCGI_KEEP_CONN
  badversion     a STDOUT record with version byte 2 (a valid head inside), then waits
  otherid        a complete valid response for request id 2 (not the one asked), then waits
  midrecord      a STDOUT record header announcing 100 bytes, 10 bytes of it, then close
  endfirst       END_REQUEST (request complete) before any STDOUT
  truncatedhead  STDOUT "Content-Type: text/pl" (no end of head), then close
  badhead        STDOUT with a head line without ':', END_REQUEST
  truncated      a valid head and 100 bytes of body, then close without END_REQUEST, all in
                 one write
  truncatedlate  the same, but the close comes 500 ms after the head and the 100 bytes
  noread         reads BEGIN_REQUEST and PARAMS, never the body (STDIN), answers nothing
  earlyclose     reads BEGIN_REQUEST and PARAMS, answers 413 "too big" at once and closes
                 without reading the body
  status         a complete response with "Status: CODE" (query code=CODE, default 101)
  afterend       a complete response "good", then in the same write a second one ("LEAKED",
                 STDOUT and END_REQUEST under the same request id); the connection is kept
  late           a complete response "good", then 100 ms later a second one ("LEAKED")
                 under the same request id; the connection is kept
  bighead        a response whose head holds one header of kb=N KiB (default 30), then "big ok"
"Waits" means: keeps the connection open until the server closes it (so a server that
ignored the record would time out rather than answer). Every connection and what happened to
it is logged to stderr, one line each: "raw_fake conn N MODE: EVENT".

Usage: raw_fake.py LISTEN            LISTEN: a unix socket path or HOST:PORT
       raw_fake.py --blackhole HOST:PORT
         a TCP listener whose accept queue is full and never served: a connect() to it hangs
         (the SYN is dropped), like an unreachable host. Prints "ready" when set up.
"""
import os
import socket
import struct
import sys
import threading
import time
from urllib.parse import parse_qs

BEGIN_REQUEST, ABORT_REQUEST, END_REQUEST, PARAMS, STDIN, STDOUT, STDERR = 1, 2, 3, 4, 5, 6, 7
KEEP_CONN = 1


def log(msg):
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


def record(rtype, req_id, content=b"", version=1, padding=0):
    return (struct.pack(">BBHHBB", version, rtype, req_id, len(content), padding, 0)
            + content + b"\0" * padding)


def end_request(req_id, app_status=0, protocol_status=0):
    return record(END_REQUEST, req_id, struct.pack(">IB3x", app_status, protocol_status))


def parse_pairs(data):
    out, i = {}, 0

    def length():
        nonlocal i
        b = data[i]
        if b < 128:
            i += 1
            return b
        n = struct.unpack(">I", data[i:i + 4])[0] & 0x7FFFFFFF
        i += 4
        return n

    while i < len(data):
        nl = length()
        vl = length()
        name = data[i:i + nl]
        i += nl
        value = data[i:i + vl]
        i += vl
        out[name.decode("latin-1")] = value.decode("latin-1")
    return out


class Conn:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def read_exact(self, n):
        while len(self.buf) < n:
            d = self.sock.recv(65536)
            if not d:
                raise EOFError
            self.buf += d
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_record(self):
        h = self.read_exact(8)
        version, rtype, req_id, clen, plen, _ = struct.unpack(">BBHHBB", h)
        content = self.read_exact(clen)
        self.read_exact(plen)
        return rtype, req_id, content

    def read_request(self):
        """Returns (req_id, flags, params) once the empty STDIN record arrived (for modes
        noread and earlyclose: as soon as the params are in)."""
        req_id, flags, params, stdin_done, params_done = None, 0, b"", False, False
        while not (params_done and stdin_done):
            rtype, rid, content = self.read_record()
            if rtype == BEGIN_REQUEST:
                req_id, flags = rid, content[2]
            elif rtype == PARAMS:
                if content:
                    params += content
                else:
                    params_done = True
                    if mode_of(parse_pairs(params)) in ("noread", "earlyclose"):
                        break
            elif rtype == STDIN:
                if not content:
                    stdin_done = True
        return req_id, flags, parse_pairs(params)

    def wait_closed(self):
        """Keep the connection open until the peer closes it (or sends anything)."""
        try:
            while True:
                d = self.sock.recv(65536)
                if not d:
                    return "peer closed"
                rtype = d[1] if len(d) > 1 else -1
                if rtype == ABORT_REQUEST:
                    return "peer sent ABORT_REQUEST"
        except OSError as e:
            return "peer error %s" % e


HEAD = b"Content-Type: text/plain\r\n\r\n"


def complete(req_id, head, body):
    """A whole response: STDOUT (split into records of at most 65535 bytes), its end, and
    END_REQUEST."""
    out, data = b"", head + body
    for i in range(0, len(data), 65535):
        out += record(STDOUT, req_id, data[i:i + 65535])
    return out + record(STDOUT, req_id) + end_request(req_id)


def mode_of(params):
    q = parse_qs(params.get("QUERY_STRING", ""))
    if "mode" in q:
        return q["mode"][0]
    base = params.get("SCRIPT_NAME", "").rsplit("/", 1)[-1]
    return base.split(".", 1)[0] or "ok"


def serve(sock, n):
    c = Conn(sock)
    mode = "?"
    try:
        while True:
            try:
                rid, flags, params = c.read_request()
            except EOFError:
                log("raw_fake conn %d %s: peer closed between requests" % (n, mode))
                return
            mode = mode_of(params)
            log("raw_fake conn %d %s: request id %s" % (n, mode, rid))
            if mode == "earlyclose":
                sock.sendall(complete(rid, b"Status: 413\r\n" + HEAD, b"too big\n"))
                log("raw_fake conn %d %s: answered without reading the body" % (n, mode))
                return
            if mode == "noread":
                log("raw_fake conn %d %s: not reading the request body" % (n, mode))
                time.sleep(60)
                return
            if mode == "badversion":
                sock.sendall(record(STDOUT, rid, HEAD + b"bad version\n", version=2))
                log("raw_fake conn %d %s: %s" % (n, mode, c.wait_closed()))
                return
            if mode == "otherid":
                other = rid + 1
                sock.sendall(record(STDOUT, other, HEAD + b"for another request\n")
                             + record(STDOUT, other) + end_request(other))
                log("raw_fake conn %d %s: %s" % (n, mode, c.wait_closed()))
                return
            if mode == "midrecord":
                hdr = struct.pack(">BBHHBB", 1, STDOUT, rid, 100, 0, 0)
                sock.sendall(hdr + HEAD[:10])
                return
            if mode == "endfirst":
                sock.sendall(end_request(rid))
                log("raw_fake conn %d %s: %s" % (n, mode, c.wait_closed()))
                return
            if mode == "overloaded":
                # FCGI_OVERLOADED (protocol status 2): the application refuses the request
                sock.sendall(end_request(rid, app_status=0, protocol_status=2))
                log("raw_fake conn %d %s: %s" % (n, mode, c.wait_closed()))
                return
            if mode == "truncatedhead":
                sock.sendall(record(STDOUT, rid, b"Content-Type: text/pl"))
                return
            if mode == "badhead":
                sock.sendall(record(STDOUT, rid, b"Content-Type: text/plain\r\nno colon here\r\n\r\nx")
                             + record(STDOUT, rid) + end_request(rid))
                log("raw_fake conn %d %s: %s" % (n, mode, c.wait_closed()))
                return
            if mode == "status":
                code = parse_qs(params.get("QUERY_STRING", "")).get("code", ["101"])[0]
                sock.sendall(complete(rid, b"Status: " + code.encode() + b"\r\n" + HEAD,
                                      b"status body\n"))
                continue
            if mode in ("afterend", "late"):
                good, leaked = complete(rid, HEAD, b"good\n"), complete(rid, HEAD, b"LEAKED\n")
                if mode == "late":
                    sock.sendall(good)
                    time.sleep(0.1)
                    sock.sendall(leaked)
                else:
                    sock.sendall(good + leaked)
                log("raw_fake conn %d %s: sent a second answer" % (n, mode))
                continue
            if mode == "bighead":
                kb = int(parse_qs(params.get("QUERY_STRING", "")).get("kb", ["30"])[0])
                sock.sendall(complete(rid, b"X-Big: " + b"b" * (kb * 1024) + b"\r\n" + HEAD,
                                      b"big ok\n"))
                continue
            if mode in ("truncated", "truncatedlate"):
                part = record(STDOUT, rid, HEAD + b"t" * 100)
                sock.sendall(part)
                if mode == "truncatedlate":
                    time.sleep(0.5)
                return
            # ok
            sock.sendall(record(STDOUT, rid, HEAD + b"raw ok\n", padding=3) + record(STDOUT, rid)
                         + end_request(rid))
            if not flags & KEEP_CONN:
                return
    except (OSError, EOFError) as e:
        log("raw_fake conn %d %s: %s" % (n, mode, e))
    finally:
        log("raw_fake conn %d %s: closing" % (n, mode))
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()


def listen(addr, backlog=64):
    if ":" in addr and not addr.startswith("/"):
        host, port = addr.rsplit(":", 1)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host or "127.0.0.1", int(port)))
    else:
        if os.path.exists(addr):
            os.unlink(addr)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(addr)
    s.listen(backlog)
    return s


def blackhole(addr):
    s = listen(addr, 0)
    host, port = addr.rsplit(":", 1)
    fillers = []
    # fill the accept queue (backlog 0 holds one connection); later SYNs are dropped
    for _ in range(2):
        f = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        f.setblocking(False)
        f.connect_ex((host, int(port)))
        fillers.append(f)
    time.sleep(0.2)
    print("ready", flush=True)
    while True:
        time.sleep(3600)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--blackhole":
        blackhole(sys.argv[2])
        return
    if len(sys.argv) != 2:
        sys.exit("usage: raw_fake.py LISTEN | --blackhole HOST:PORT")
    s = listen(sys.argv[1])
    log("raw_fake: listening on %s" % sys.argv[1])
    n = 0
    while True:
        sock, _ = s.accept()
        n += 1
        threading.Thread(target=serve, args=(sock, n), daemon=True).start()


if __name__ == "__main__":
    main()
