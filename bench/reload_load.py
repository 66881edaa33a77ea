#!/usr/bin/env python3
"""bench/reload_load.py - the client side of bench/reload.sh: THREADS keep-alive clients
(http.client) request a static file and a PHP script of site s, and the hosts only one of the
two configurations has, for SECONDS, and check every response against the two configurations
A and B. Each configuration's content carries its version: the static file says "A" or "B",
the PHP script prints its fastcgi_env VER, the basename of its DOCUMENT_ROOT and its php-fpm
pool (env[POOL]), so a response that mixes the two ("A rootB two") is counted as mixed.

Usage: reload_load.py PORT SECONDS THREADS  -> prints one JSON object with the counts.
"""
import http.client
import json
import random
import sys
import threading
import time

PORT, SECONDS, THREADS = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
# (host, path) -> the bodies each configuration may give
EXPECT = [
    ("s.test", "/v.txt", {"A", "B"}),
    ("s.test", "/v.php", {"A rootA one", "B rootB two"}),
    ("onlya.test", "/", {"only A", "default"}),
    ("onlyb.test", "/", {"only B", "default"}),
]
lock = threading.Lock()
counts = {"requests": 0, "failed": 0, "mixed": 0, "by_body": {}}
samples = []


def worker(seed):
    rnd = random.Random(seed)
    conn = None
    end = time.time() + SECONDS
    while time.time() < end:
        host, path, allowed = rnd.choice(EXPECT)
        status, body, err = 0, "", None
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=10)
            conn.request("GET", path, headers={"Host": host})
            r = conn.getresponse()
            status, body = r.status, r.read().decode("utf-8", "replace").strip()
            if r.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = None
        except Exception as e:  # a refused or cut connection is a failure
            err = repr(e)
            if conn:
                conn.close()
            conn = None
        with lock:
            counts["requests"] += 1
            if err or status != 200:
                counts["failed"] += 1
                if len(samples) < 10:
                    samples.append({"host": host, "path": path, "status": status, "error": err})
            elif body not in allowed:
                counts["mixed"] += 1
                if len(samples) < 10:
                    samples.append({"host": host, "path": path, "body": body[:80]})
            else:
                key = host + path + " " + body
                counts["by_body"][key] = counts["by_body"].get(key, 0) + 1


threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
for t in threads:
    t.start()
for t in threads:
    t.join()
counts["samples"] = samples
print(json.dumps(counts, sort_keys=True))
