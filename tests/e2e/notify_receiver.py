#!/usr/bin/env python3
"""A git_notify receiver for the e2e tests, on 127.0.0.1 only.

notify_receiver.py PORTFILE LOG SECRET [FAIL_FIRST [CERT KEY]]
Binds port 0, writes the port to PORTFILE, then appends one JSON line to LOG per POST:
{"n": request number, "path", "event": X-Wharf-Event, "sig_ok": the X-Wharf-Signature-256
header is sha256=<hex HMAC-SHA256(SECRET, body)>, "answered": the status sent, "body": the
parsed JSON body (or null)}. The first FAIL_FIRST requests are answered 500, the rest 200.
With CERT and KEY it serves HTTPS.
"""
import hashlib
import hmac
import http.server
import json
import os
import ssl
import sys

portfile, log, secret = sys.argv[1], sys.argv[2], sys.argv[3].encode()
fail_first = int(sys.argv[4]) if len(sys.argv) > 4 else 0
count = 0


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        global count
        count += 1
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        want = "sha256=" + hmac.new(secret, raw, hashlib.sha256).hexdigest()
        got = self.headers.get("X-Wharf-Signature-256", "")
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        code = 500 if count <= fail_first else 200
        with open(log, "a") as f:
            f.write(json.dumps({"n": count, "path": self.path,
                                "event": self.headers.get("X-Wharf-Event"),
                                "type": self.headers.get("Content-Type"),
                                "sig_ok": hmac.compare_digest(want, got),
                                "answered": code, "body": body}) + "\n")
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
if len(sys.argv) > 6:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[5], sys.argv[6])
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
with open(portfile + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(portfile + ".tmp", portfile)
srv.serve_forever()
