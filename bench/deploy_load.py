#!/usr/bin/env python3
"""Helper for bench/deploy.sh: the versioned test site, and the deploy-under-load measurement.

  deploy_load.py site DIR N
      write version N of the test site into DIR (about 20 files in nested directories, every
      file embedding "vN"; assets/big.txt is exactly 100 KiB in every version)

  deploy_load.py run --port P --work CLONE --commits FILE --secret S [options]
      FILE has one "N SHA" line per version, version 1 already live. Builds a sha256 -> version
      map of every file of every commit (git cat-file), then runs two phases against wharf:
        baseline  wrk + checker for --baseline seconds, no deploys
        deploys   wrk + checker while each remaining commit is pushed to the bare remote and
                  announced with a signed webhook (X-Hub-Signature-256), one after another:
                  wait until the new version is served, then --gap seconds
      wrk runs with -d far beyond the phase and is stopped with SIGINT (it prints its summary
      for the time it ran). The checker threads fetch /index.html, /assets/big.txt and one of
      the other files in turn, on one keep-alive connection each, and check that every body is
      exactly one known version of that file and that versions never go backwards on a client
      (requests are sequential, so once a client has seen vN it must never see an older one).
      Push-to-live latency = from sending the webhook POST to the end of the first response
      (from the deployer's own poller or any checker) that carries the new version.
      Prints a Markdown report on stdout; raw wrk output and per-deploy rows go to --log.
"""
import argparse
import hashlib
import hmac
import http.client
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time

# ------------------------------------------------------------------------------- the site

OTHER_PAGES = [
    "about/index.html",
    "blog/index.html",
    "blog/2024/01/post-1.html",
    "blog/2024/02/post-2.html",
    "docs/guide/intro.html",
    "docs/guide/advanced/deep.html",
    "downloads/notes.md",
]
BIG = "assets/big.txt"
BIG_SIZE = 100 * 1024


def site_files(n):
    v = "v%d" % n
    lorem = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor "
             "incididunt ut labore et dolore magna aliqua. ")
    f = {}
    links = "\n".join('<li><a href="/%s">%s</a></li>' % (p, p) for p in OTHER_PAGES)
    f["index.html"] = (
        '<!doctype html>\n<html><head><meta charset="utf-8"><title>wharf bench %s</title>\n'
        '<meta name="version" content="%s">\n<link rel="stylesheet" href="/css/site.css">\n'
        '<script src="/js/app.js" defer></script></head>\n<body data-version="%s">\n'
        '<h1>Deploy bench, version %s</h1>\n<ul>\n%s\n</ul>\n<p>%s</p>\n</body></html>\n'
        % (v, v, v, v, links, lorem * 4))
    for p in OTHER_PAGES:
        f[p] = ("<!doctype html>\n<html><head><title>%s %s</title></head>\n<body>\n<h1>%s</h1>\n"
                "<p>version %s</p>\n<p>%s</p>\n</body></html>\n" % (p, v, p, v, lorem * 3))
    f["downloads/notes.md"] = "# Release notes %s\n\n%s\n" % (v, lorem * 5)
    f["css/site.css"] = "/* site.css %s */\n" % v + "".join(
        ".c%d { margin: %dpx; padding: %dpx; color: #%06x; }\n" % (i, i % 17, i % 7, i * 2654435 % 0xffffff)
        for i in range(80))
    f["css/print.css"] = "/* print.css %s */\n" % v + "".join(
        "@media print { .p%d { display: none; } }\n" % i for i in range(25))
    f["js/app.js"] = ("// app.js %s\nconst VERSION = '%s';\n" % (v, v)) + "".join(
        "function f%d(x) { return (x * %d + %d) %% 9973; }\n" % (i, i + 3, i * 7) for i in range(70))
    f["js/vendor/lib.js"] = "/* lib.js %s */\n" % v + "".join(
        "export const k%d = [%s];\n" % (i, ", ".join(str((i * j) % 251) for j in range(20))) for i in range(60))
    f["data/version.json"] = json.dumps({"version": v, "n": n}) + "\n"
    f["data/items.json"] = json.dumps({"version": v, "items": [
        {"id": i, "name": "item %d %s" % (i, v), "tags": ["a", "b", "c"]} for i in range(40)]}) + "\n"
    f["assets/logo.svg"] = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40"><!-- %s -->'
        '<rect width="120" height="40" fill="#234"/><text x="10" y="26" fill="#fff">%s</text></svg>\n' % (v, v))
    f["robots.txt"] = "# %s\nUser-agent: *\nDisallow:\n" % v
    f["humans.txt"] = "/* TEAM %s */\nbench: wharf\n" % v
    f["feed.xml"] = ('<?xml version="1.0"?>\n<rss version="2.0"><channel><title>bench %s</title>'
                     "%s</channel></rss>\n" % (v, "".join("<item><title>post %d %s</title></item>" % (i, v) for i in range(10))))
    f["sitemap.xml"] = ('<?xml version="1.0"?>\n<urlset><!-- %s -->%s</urlset>\n'
                        % (v, "".join("<url><loc>/%s</loc></url>" % p for p in OTHER_PAGES)))
    line = "%s %s\n" % (v, lorem.strip())
    big = (line * (BIG_SIZE // len(line) + 1))[:BIG_SIZE - len(v) - 2] + "\n" + v + "\n"
    assert len(big) == BIG_SIZE
    f[BIG] = big
    return f


def write_site(d, n):
    for p, text in site_files(n).items():
        path = os.path.join(d, p)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as fh:
            fh.write(text)


# ------------------------------------------------------------------------ measurement

def known_bodies(work, commits):
    """{path: {sha256: version}} for every file of every commit, read with one git cat-file."""
    paths = sorted(site_files(1).keys())
    req = [(n, sha, p) for n, sha in commits for p in paths]
    proc = subprocess.run(["git", "-C", work, "cat-file", "--batch"], check=True,
                          input="".join("%s:%s\n" % (sha, p) for _, sha, p in req).encode(),
                          stdout=subprocess.PIPE)
    out, pos, m = proc.stdout, 0, {}
    for n, sha, p in req:
        nl = out.index(b"\n", pos)
        head = out[pos:nl].split()
        if len(head) != 3 or head[1] != b"blob":
            sys.exit("deploy_load: %s:%s missing in the commits (%r)" % (sha, p, out[pos:nl]))
        size = int(head[2])
        body = out[nl + 1:nl + 1 + size]
        pos = nl + 1 + size + 1
        m.setdefault("/" + p, {})[hashlib.sha256(body).hexdigest()] = n
    for p, d in m.items():
        if len(d) != len(commits):
            sys.exit("deploy_load: %s is identical in two versions" % p)
    return m


class FirstSeen:
    def __init__(self):
        self.lock = threading.Lock()
        self.t = {}

    def saw(self, version, t):
        with self.lock:
            if version not in self.t or t < self.t[version]:
                self.t[version] = t

    def get(self, version):
        with self.lock:
            return self.t.get(version)


class Checker:
    def __init__(self, port, known, nthreads, first_seen):
        self.port, self.known, self.first = port, known, first_seen
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.c = dict(requests=0, failures=0, non200=0, errors=0, unknown=0, backwards=0, reconnects=0)
        self.samples = []
        others = sorted(p for p in known if p not in ("/index.html", "/" + BIG))
        self.threads = [threading.Thread(target=self.loop, args=(i, others), daemon=True)
                        for i in range(nthreads)]

    def start(self):
        for t in self.threads:
            t.start()

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(10)
        return self.c

    def note(self, what, detail):
        with self.lock:
            self.c[what] += 1
            if what != "failures" and len(self.samples) < 10:
                self.samples.append("%s: %s" % (what, detail))

    def loop(self, idx, others):
        conn, newest, k = None, 0, idx
        local = dict(requests=0)
        while not self.stop.is_set():
            for path in ("/index.html", "/" + BIG, others[k % len(others)]):
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                local["requests"] += 1
                try:
                    conn.request("GET", path)
                    r = conn.getresponse()
                    body = r.read()
                    t = time.monotonic()
                except (OSError, http.client.HTTPException) as e:
                    self.note("errors", "%s %r" % (path, e))
                    self.note("failures", path)
                    conn.close()
                    conn = None
                    with self.lock:
                        self.c["reconnects"] += 1
                    time.sleep(0.05)
                    continue
                if r.status != 200:
                    self.note("non200", "%s %d" % (path, r.status))
                    self.note("failures", path)
                else:
                    v = self.known[path].get(hashlib.sha256(body).hexdigest())
                    if v is None:
                        self.note("unknown", "%s %d bytes: %r" % (path, len(body), body[:60]))
                        self.note("failures", path)
                    else:
                        self.first.saw(v, t)
                        if v < newest:
                            self.note("backwards", "%s v%d after v%d" % (path, v, newest))
                        newest = max(newest, v)
                if r.will_close:
                    conn.close()
                    conn = None
            k += 1
        if conn:
            conn.close()
        with self.lock:
            self.c["requests"] += local["requests"]


def start_wrk(a):
    cmd = ["wrk", "-t%d" % a.wrk_threads, "-c%d" % a.wrk_conns, "-d3600s", "--latency",
           "http://127.0.0.1:%d/index.html" % a.port]
    return cmd, subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def stop_wrk(p):
    p.send_signal(signal.SIGINT)
    out, _ = p.communicate(timeout=30)
    return out


def unit_ms(num, unit):
    return float(num) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def parse_wrk(out):
    r = {}
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    r["rps"] = float(m.group(1)) if m else None
    m = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
    r["p99"] = unit_ms(*m.groups()) if m else None
    m = re.search(r"^\s+50%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
    r["p50"] = unit_ms(*m.groups()) if m else None
    m = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", out)
    r["requests"], r["secs"] = (int(m.group(1)), unit_ms(m.group(2), m.group(3)) / 1000) if m else (None, None)
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    r["non2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    r["errors"] = sum(map(int, m.groups())) if m else 0
    r["errors_detail"] = m.group(0) if m else "none"
    return r


def webhook(a, sha):
    body = json.dumps({"ref": "refs/heads/main", "before": "0" * 40, "after": sha,
                       "repository": {"full_name": "bench/site", "default_branch": "main"},
                       "pusher": {"name": "bench"}, "commits": [{"id": sha, "message": "bench"}]}).encode()
    sig = hmac.new(a.secret.encode(), body, hashlib.sha256).hexdigest()
    conn = http.client.HTTPConnection("127.0.0.1", a.port, timeout=10)
    t = time.monotonic()
    conn.request("POST", a.hook, body, {"Content-Type": "application/json", "X-GitHub-Event": "push",
                                        "X-Hub-Signature-256": "sha256=" + sig})
    r = conn.getresponse()
    r.read()
    conn.close()
    return t, r.status


def wait_live(a, known, version, first, deadline):
    """Poll /index.html on one keep-alive connection until VERSION is served; the time of the
    first response that carried it (this poller or a checker), or None."""
    idx = known["/index.html"]
    conn = None
    while time.monotonic() < deadline:
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", a.port, timeout=5)
            conn.request("GET", "/index.html")
            r = conn.getresponse()
            body = r.read()
            t = time.monotonic()
            if r.status == 200 and idx.get(hashlib.sha256(body).hexdigest()) == version:
                first.saw(version, t)
                break
        except (OSError, http.client.HTTPException):
            if conn:
                conn.close()
            conn = None
        time.sleep(0.005)
    if conn:
        conn.close()
    return first.get(version)


def get_status(a):
    try:
        conn = http.client.HTTPConnection("127.0.0.1", a.port, timeout=5)
        conn.request("GET", a.status)
        r = conn.getresponse()
        d = json.loads(r.read())
        conn.close()
        return d
    except Exception as e:  # report, do not fail the run
        return {"error": repr(e)}


def run(a):
    commits = []
    with open(a.commits) as fh:
        for line in fh:
            if line.strip():
                n, sha = line.split()
                commits.append((int(n), sha))
    known = known_bodies(a.work, commits)
    log = open(a.log, "w") if a.log else open(os.devnull, "w")
    log.write("deploy-under-load log, %s\n" % time.strftime("%Y-%m-%d %H:%M:%S"))

    def phase(name, body):
        first = FirstSeen()
        cmd, wrk = start_wrk(a)
        chk = Checker(a.port, known, a.checkers, first)
        chk.start()
        time.sleep(a.warmup)
        extra = body(first)
        c = chk.finish()
        out = stop_wrk(wrk)
        log.write("\n==== %s: %s\n%s" % (name, " ".join(cmd), out))
        log.write("checker: %s\n" % json.dumps(c))
        for s in chk.samples:
            log.write("  sample %s\n" % s)
        return parse_wrk(out), c, chk.samples, extra

    base = None
    if a.baseline > 0:
        print("[deploy] baseline: wrk + checker, no deploys, %g s" % a.baseline, file=sys.stderr)
        base = phase("baseline", lambda first: time.sleep(a.baseline))

    def deploys(first):
        rows = []
        for n, sha in commits[1:]:
            t0 = time.monotonic()
            subprocess.run(["git", "-C", a.work, "push", "-q", "origin", "%s:refs/heads/main" % sha], check=True)
            push_ms = (time.monotonic() - t0) * 1000
            t_post, code = webhook(a, sha)
            t_live = wait_live(a, known, n, first, t_post + a.timeout) if code == 202 else None
            lat = (t_live - t_post) * 1000 if t_live is not None else None
            rows.append(dict(version=n, sha=sha, push_ms=push_ms, code=code, latency_ms=lat))
            print("[deploy] v%d %s: push %.0f ms, webhook %d, live after %s" % (
                n, sha[:12], push_ms, code, "%.0f ms" % lat if lat is not None else "NEVER"), file=sys.stderr)
            time.sleep(a.gap)
        return rows

    print("[deploy] %d deploys under load (wrk -t%d -c%d + %d checker threads)" % (
        len(commits) - 1, a.wrk_threads, a.wrk_conns, a.checkers), file=sys.stderr)
    w, c, samples, rows = phase("deploys", deploys)
    st = get_status(a)
    log.write("\nper deploy:\n")
    for r in rows:
        log.write("  %s\n" % json.dumps(r))
    log.write("status: %s\n" % json.dumps(st))
    log.close()

    lats = [r["latency_ms"] for r in rows if r["latency_ms"] is not None]
    ok = len(lats)

    def ms(x):
        return "-" if x is None else ("%.0f" % x if x >= 10 else "%.1f" % x)

    def rps(x):
        return "-" if x is None else "{:,.0f}".format(x).replace(",", " ")

    lat3 = "%s / %s / %s" % (ms(min(lats)), ms(statistics.median(lats)), ms(max(lats))) if lats else "-"
    durs = st.get("durations_ms") or []
    print("| deploys live | push-to-live min / median / max (ms) | wrk req/s | wrk p99 (ms) "
          "| wrk non-2xx + socket errors | checker requests | failures | unknown body | backwards |")
    print("|---|---|---|---|---|---|---|---|---|")
    print("| %d / %d | %s | %s | %s | %d + %d | %d | %d | %d | %d |" % (
        ok, len(rows), lat3, rps(w["rps"]), ms(w["p99"]), w["non2xx"], w["errors"],
        c["requests"], c["failures"], c["unknown"], c["backwards"]))
    print()
    if base:
        bw, bc = base[0], base[1]
        print("Same load without deploys (%.0f s): wrk %s req/s, p99 %s ms, non-2xx + errors %d + %d; "
              "checker %d requests, %d failures." % (bw["secs"] or 0, rps(bw["rps"]), ms(bw["p99"]),
                                                     bw["non2xx"], bw["errors"], bc["requests"], bc["failures"]))
    print("During deploys: wrk ran %.1f s (%s requests, p50 %s ms); the checker (%d threads, keep-alive) "
          "fetched /index.html, the 100 KiB /%s and the other %d files in turn and matched every body "
          "against the sha256 of each version's file." % (
              w["secs"] or 0, w["requests"], ms(w["p50"]), a.checkers, BIG, len(known) - 2))
    if rows:
        print("Push-to-live = from the webhook POST to the first response carrying the new version "
              "(includes wharf's 250 ms debounce); each deploy waited for the previous one to be live "
              "plus %g s. git push to the local bare remote: median %.0f ms. wharf's own deploy "
              "durations (status `durations_ms`, fetch + checkout + switch): %s." % (
                  a.gap, statistics.median(r["push_ms"] for r in rows),
                  ", ".join(str(x) for x in durs) if durs else "n/a"))
    if st.get("error") is None:
        print("Status after the run: deploys %s, failures %s, last_error %s." % (
            st.get("deploys"), st.get("failures"), json.dumps(st.get("last_error"))))
    print("\"backwards\" = a client saw an older version after a newer one; the root is switched "
          "with one rename() of a symlink, so it cannot happen unless a cache serves stale files.")
    if samples:
        print("\nFirst failures: " + "; ".join("`%s`" % s for s in samples))
    bad = (ok != len(rows) or w["non2xx"] or w["errors"] or c["failures"] or c["backwards"])
    return 1 if bad else 0


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "site":
        if len(sys.argv) != 4:
            sys.exit("usage: deploy_load.py site DIR N")
        write_site(sys.argv[2], int(sys.argv[3]))
        return 0
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["run"])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--commits", required=True)
    ap.add_argument("--secret", required=True)
    ap.add_argument("--hook", default="/_deploy")
    ap.add_argument("--status", default="/_status")
    ap.add_argument("--wrk-threads", type=int, default=2)
    ap.add_argument("--wrk-conns", type=int, default=64)
    ap.add_argument("--checkers", type=int, default=3)
    ap.add_argument("--baseline", type=float, default=5)
    ap.add_argument("--warmup", type=float, default=1)
    ap.add_argument("--gap", type=float, default=1)
    ap.add_argument("--timeout", type=float, default=15)
    ap.add_argument("--log")
    return run(ap.parse_args())


if __name__ == "__main__":
    sys.exit(main())
