#!/usr/bin/env python3
"""Helper for bench/replicas.sh: three wharf replicas behind nginx, and what clients see.

  replicas_load.py run --tmp DIR --wharf BIN --nginx BIN --commits FILE --work CLONE
                       --secret S --port P --admin A2,A3,A4 --balancer B [options]

DIR holds w2.ini .. w4.ini (fan-out scenario), k2.ini .. k4.ini (kill scenario: the same plus a
git_then that makes each deploy last about a second, so the kill lands inside one) and
nginx.conf (its upstream block includes DIR/upstream.conf). FILE has one "N SHA" line per
version; version 1 is already in the remote. Everything this script starts (three wharf
processes, nginx) is stopped by PID before it exits.

Processes and threads:
  replicas    wharf on 127.0.0.2, .3 and .4, port P (as pods: one port, their own addresses),
              each with its own state directory, git_peers naming all three, admin on A2..A4
  balancer    nginx round-robin over the three (upstream keepalive; proxy_next_upstream
              error timeout, its default: a refused or reset connection is retried on the
              next server, as ingress-nginx does)
  endpoints   a thread that probes each replica's /readyz every --probe-ms and rewrites
              DIR/upstream.conf (a not-ready replica is "down") and reloads nginx (SIGHUP)
              when the set changes: the part of Kubernetes that removes a pod that is not
              ready from a Service's endpoints
  clients     --clients threads, each one keep-alive connection to the balancer, sequential
              GET /index.html; every body names its version; a failure is an error, a
              status other than 200 or a body without a version
  observers   one thread per replica, GET /index.html straight to it every 10 ms: when each
              replica first served each version

Fan-out round (--rounds): push the next version to the bare remote, POST a signed push
webhook to one replica (they take turns), wait until all three serve it. Reported: the time
from the webhook to the first and the last replica serving it (observers); the disagreement
window (last minus first); the mixed window seen through the balancer (from the first client
response with the new version to the last one with an older version); failed client requests
from the webhook to 1 s after the last replica switched; clients that saw a newer version and
then an older one, in all and after the last replica had switched.

Kill round (--kill-rounds, replicas restarted with the k*.ini first): push, webhook replica
.2, wait until .4 is deploying (its git_status says so), kill -9 it, wait until .2 and .3
serve the new version, restart .4 after --restart-delay seconds on the same state, wait until
it serves the new version. Reported as above (the switch counts as complete once .2 and .3
serve the new version), plus how often the observer found .4 listed as ready while serving an
older version after the restart (10 ms samples), and its time from restart to the new version.
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

VERSION_RE = re.compile(rb'<meta name="version" content="v(\d+)">')


def now():
    return time.monotonic()


def log(msg):
    print("[replicas %s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


def get(host, port, path, timeout=2.0):
    """(status, body) or (None, None) on any error; a new connection each time."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read()
    except (OSError, http.client.HTTPException):
        return None, None
    finally:
        conn.close()


def version_of(body):
    m = VERSION_RE.search(body or b"")
    return int(m.group(1)) if m else None


class Replica:
    def __init__(self, n, a):
        self.n, self.a = n, a
        self.host = "127.0.0.%d" % n
        self.port = a.port
        self.admin = a.admin[n - 2]
        self.proc = None
        self.first = {}  # version -> first time served (observer)
        self.last = {}  # version -> last time served (observer)
        self.ready_old = []  # (t, version): ready while serving an older version than wanted
        self.lock = threading.Lock()

    def start(self, ini):
        err = open(os.path.join(self.a.tmp, "wharf%d.err" % self.n), "ab")
        self.proc = subprocess.Popen([self.a.wharf, "--config", os.path.join(self.a.tmp, ini)],
                                     stdout=subprocess.DEVNULL, stderr=err)
        err.close()

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def ready(self):
        st, _ = get("127.0.0.1", self.admin, "/readyz", 1.0)
        return st == 200

    def status(self):
        st, body = get(self.host, self.port, "/_status", 2.0)
        try:
            return json.loads(body) if st == 200 else {}
        except ValueError:
            return {}

    def saw(self, version, t):
        with self.lock:
            if version not in self.first:
                self.first[version] = t
            self.last[version] = t


class Endpoints(threading.Thread):
    """Readiness-driven upstream list for nginx (see the module docstring)."""

    def __init__(self, a, replicas, nginx_pid):
        super().__init__(daemon=True)
        self.a, self.replicas, self.nginx_pid = a, replicas, nginx_pid
        self.stop_ev = threading.Event()
        self.ready = None
        self.changes = []  # (t, frozenset of ready replica numbers)
        self.want = None  # version every replica should serve (for ready_old)
        self.draining = set()  # replica numbers taken out before a planned stop
        self.lock = threading.Lock()

    def write(self, ready):
        path = os.path.join(self.a.tmp, "upstream.conf")
        with open(path + ".tmp", "w") as fh:
            for r in self.replicas:
                # max_fails=0: no passive marking of its own (ingress-nginx's default); the
                # endpoints alone decide, and a refused connection is retried on the next one
                fh.write("server %s:%d max_fails=0%s;\n" % (r.host, r.port,
                                                          "" if r.n in ready else " down"))
        os.rename(path + ".tmp", path)

    def probe(self):
        with self.lock:
            ready = frozenset(r.n for r in self.replicas
                              if r.proc and r.n not in self.draining and r.ready())
            self.update(ready)
        return ready

    def update(self, ready):
        if ready != self.ready:
            self.write(ready)
            if self.nginx_pid:
                os.kill(self.nginx_pid, signal.SIGHUP)  # nginx re-reads upstream.conf
            self.ready = ready
            self.changes.append((now(), ready))

    def run(self):
        while not self.stop_ev.wait(self.a.probe_ms / 1000.0):
            self.probe()


class Observer(threading.Thread):
    def __init__(self, r, endpoints):
        super().__init__(daemon=True)
        self.r, self.ep = r, endpoints
        self.stop_ev = threading.Event()

    def run(self):
        r = self.r
        while not self.stop_ev.wait(0.01):
            if not r.proc:
                continue
            st, body = get(r.host, r.port, "/index.html", 1.0)
            t = now()
            v = version_of(body) if st == 200 else None
            if v is None:
                continue
            r.saw(v, t)
            want = self.ep.want
            if want is not None and v < want and r.proc and r.n in (self.ep.ready or ()):
                # served an older version while the endpoints list it as ready
                r.ready_old.append((t, v))


class Clients:
    def __init__(self, a):
        self.a = a
        self.stop_ev = threading.Event()
        self.lock = threading.Lock()
        self.events = []  # (t, client, version or None, what)
        self.requests = 0
        self.retried = []  # times of keep-alive races retried (see loop)
        self.threads = [threading.Thread(target=self.loop, args=(i,), daemon=True)
                        for i in range(a.clients)]

    def start(self):
        for t in self.threads:
            t.start()

    def finish(self):
        self.stop_ev.set()
        for t in self.threads:
            t.join(10)

    def loop(self, i):
        conn = None
        n = 0
        while not self.stop_ev.is_set():
            n += 1
            for attempt in (1, 2):
                reused = conn is not None and conn.sock is not None
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.a.balancer, timeout=10)
                try:
                    conn.request("GET", "/index.html")
                    r = conn.getresponse()
                    body = r.read()
                    t = now()
                    v = version_of(body) if r.status == 200 else None
                    what = "ok" if v is not None else "status %d" % r.status
                    break
                except (OSError, http.client.HTTPException) as e:
                    t, v, what = now(), None, "error %r" % e
                    conn.close()
                    conn = None
                    # note: an idle kept-alive connection the balancer closes as the request
                    # goes out (nginx's reload closes its idle client connections) is retried
                    # once on a new one, as HTTP clients do for an idempotent request (RFC 9112
                    # 9.3.1); counted apart, never hidden
                    if not (reused and isinstance(e, (http.client.RemoteDisconnected,
                                                      ConnectionResetError, BrokenPipeError))):
                        break
                    with self.lock:
                        self.retried.append(t)
            with self.lock:
                self.events.append((t, i, v, what))
            time.sleep(self.a.client_pause_ms / 1000.0)
        with self.lock:
            self.requests += n
        if conn:
            conn.close()

    def between(self, t0, t1):
        with self.lock:
            return [e for e in self.events if t0 <= e[0] <= t1]


def webhook(a, r, sha):
    body = json.dumps({"ref": "refs/heads/main", "after": sha}).encode()
    sig = "sha256=" + hmac.new(a.secret.encode(), body, hashlib.sha256).hexdigest()
    conn = http.client.HTTPConnection(r.host, r.port, timeout=10)
    t = now()
    conn.request("POST", "/_hook", body=body, headers={
        "Content-Type": "application/json", "X-GitHub-Event": "push", "X-Hub-Signature-256": sig})
    code = conn.getresponse().status
    conn.close()
    return t, code


def wait(pred, timeout, step=0.01):
    end = now() + timeout
    while now() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()


def push(a, sha):
    subprocess.run(["git", "-C", a.work, "push", "-q", "origin", "%s:refs/heads/main" % sha], check=True)


def judge(clients, t0, t_all, version, t_end=None):
    """Client-side view of one round, from t0 to t_end (default t_all + 1 s): failures, mixed
    window, backwards (all / after t_all, when every replica in service had switched)."""
    t_end = t_all + 1.0 if t_end is None else t_end
    evs = clients.between(t0 - 1.0, t_end)
    fails = [e for e in evs if e[2] is None and e[0] >= t0]
    first_new = min((e[0] for e in evs if e[2] == version), default=None)
    last_old = max((e[0] for e in evs if e[2] is not None and e[2] < version), default=None)
    mixed = max(0.0, last_old - first_new) if first_new is not None and last_old is not None else 0.0
    back, back_after = 0, 0
    newest = {}
    for t, c, v, _ in sorted(evs):
        if v is None:
            continue
        if v < newest.get(c, 0):
            back += 1
            if t > t_all:
                back_after += 1
        newest[c] = max(newest.get(c, 0), v)
    with clients.lock:
        retried = len([t for t in clients.retried if t0 <= t <= t_end])
    return dict(requests=len([e for e in evs if e[0] >= t0]), failures=len(fails), retried=retried,
                fail_samples=[e[3] for e in fails[:3]], mixed_ms=mixed * 1000,
                backwards=back, backwards_after=back_after)


def fanout_round(a, reps, clients, ep, version, sha, hooked):
    ep.want = None
    push(a, sha)
    t0, code = webhook(a, hooked, sha)
    ok = code == 202 and wait(lambda: all(version in r.first for r in reps), a.timeout)
    if not ok:
        return dict(version=version, ok=False, code=code, hooked=hooked.n)
    firsts = [r.first[version] for r in reps]
    t_all = max(firsts)
    ep.want = version
    time.sleep(1.0)  # the tail the judge looks at
    row = dict(version=version, ok=True, code=code, hooked=hooked.n,
               first_ms=(min(firsts) - t0) * 1000, all_ms=(t_all - t0) * 1000,
               disagree_ms=(t_all - min(firsts)) * 1000)
    row.update(judge(clients, t0, t_all, version))
    return row


def kill_round(a, reps, clients, ep, version, sha):
    r2, r3, r4 = reps
    ep.want = None
    push(a, sha)
    t0, code = webhook(a, r2, sha)
    row = dict(version=version, code=code)
    deploying = wait(lambda: r4.status().get("deploying") is True, a.timeout, 0.005)
    t_kill = now()
    r4.stop(signal.SIGKILL)
    row["killed_in_deploy"] = deploying
    row["kill_ms"] = (t_kill - t0) * 1000
    ok = wait(lambda: version in r2.first and version in r3.first, a.timeout)
    row["others_ms"] = (max(r2.first.get(version, t0), r3.first.get(version, t0)) - t0) * 1000
    row["others_ok"] = ok
    ep.want = version  # from here on, every replica listed as ready must serve it
    time.sleep(a.restart_delay)
    n_ready_old = len(r4.ready_old)
    t_restart = now()
    r4.start("k4.ini")
    row["restarted_ok"] = wait(lambda: r4.last.get(version, 0) > t_restart, a.timeout * 2)
    row["restart_to_new_ms"] = (r4.first.get(version, t_restart) - t_restart) * 1000 \
        if r4.first.get(version, 0) > t_restart else None
    served_old = [t for v, t in r4.last.items() if v < version and t > t_restart]
    row["served_old_after_restart"] = bool(served_old)
    row["ready_on_old"] = len(r4.ready_old) - n_ready_old
    wait(lambda: 4 in (ep.ready or ()), 10)
    time.sleep(1.0)
    # the switch is complete once .2 and .3 serve it (.4 is out of the endpoints then): from
    # there on, a client that gets an older version got it from the restarted .4
    t_switch = max(r2.first.get(version, t0), r3.first.get(version, t0))
    row.update(judge(clients, t0, t_switch, version, now()))
    row["ok"] = code == 202 and ok and row["restarted_ok"]
    return row


def run(a):
    commits = []
    with open(a.commits) as fh:
        for line in fh:
            if line.strip():
                n, sha = line.split()
                commits.append((int(n), sha))
    need = 1 + a.rounds + a.kill_rounds
    if len(commits) < need:
        sys.exit("replicas_load: %d commits, need %d" % (len(commits), need))
    reps = [Replica(n, a) for n in (2, 3, 4)]
    nginx = None
    threads = []
    clients = None
    try:
        ep = Endpoints(a, reps, 0)
        ep.write(frozenset())  # all down until the first probe
        for r in reps:
            r.start("w%d.ini" % r.n)
        nginx = subprocess.Popen([a.nginx, "-p", a.tmp, "-c", os.path.join(a.tmp, "nginx.conf")],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ep.nginx_pid = nginx.pid
        obs = [Observer(r, ep) for r in reps]
        for o in obs:
            o.start()
        if not wait(lambda: all(r.ready() for r in reps) and all(r.last.get(1) for r in reps), 60, 0.05):
            sys.exit("replicas_load: the replicas are not ready on v1 within 60 s")
        ep.probe()
        ep.start()
        threads = obs + [ep]
        if not wait(lambda: get("127.0.0.1", a.balancer, "/index.html")[0] == 200, 10, 0.05):
            sys.exit("replicas_load: nginx does not answer on %d" % a.balancer)
        clients = Clients(a)
        clients.start()
        time.sleep(1.0)
        rows, krows = [], []
        for i in range(a.rounds):
            version, sha = commits[1 + i]
            row = fanout_round(a, reps, clients, ep, version, sha, reps[i % 3])
            rows.append(row)
            log("fan-out v%d (webhook to .%d): %s" % (version, row["hooked"], json.dumps(row)))
            time.sleep(a.gap)
        if a.kill_rounds:
            log("restarting the replicas with a git_then of about 1 s (k*.ini)")
            ep.want = None
            last = commits[a.rounds][0]
            for r in reps:  # one at a time, as a rolling update would: out of the
                ep.draining.add(r.n)  # endpoints first (a preStop), then stopped
                ep.probe()
                time.sleep(0.5)
                r.stop()
                r.start("k%d.ini" % r.n)
                wait(r.ready, 60, 0.05)
                ep.draining.discard(r.n)
                ep.probe()
            wait(lambda: all(r.last.get(last, 0) for r in reps), 30)
            time.sleep(1.5)
        for i in range(a.kill_rounds):
            version, sha = commits[1 + a.rounds + i]
            row = kill_round(a, reps, clients, ep, version, sha)
            krows.append(row)
            log("kill v%d: %s" % (version, json.dumps(row)))
            time.sleep(a.gap)
        clients.finish()
        report(a, rows, krows, clients, ep)
        bad = any(not r["ok"] or r["failures"] or r["backwards_after"] for r in rows + krows) or \
            any(r["ready_on_old"] for r in krows)
        return 1 if bad else 0
    finally:
        if clients:
            clients.stop_ev.set()
        for t in threads:
            t.stop_ev.set()
        for r in reps:
            r.stop()
        if nginx and nginx.poll() is None:
            nginx.send_signal(signal.SIGQUIT)
            try:
                nginx.wait(10)
            except subprocess.TimeoutExpired:
                nginx.kill()


def fmt(x):
    return "-" if x is None else ("%.0f" % x if x >= 10 else "%.1f" % x)


def spread(xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        return "-"
    return "%s / %s / %s" % (fmt(min(xs)), fmt(statistics.median(xs)), fmt(max(xs)))


def report(a, rows, krows, clients, ep):
    out = sys.stdout
    out.write("### Fan-out: push, webhook one replica, all three converge\n\n")
    out.write("| round | webhook to | first replica (ms) | all three (ms) | disagreement (ms) "
              "| mixed via balancer (ms) | client requests | failed | newer-then-older "
              "(all / after the switch) |\n|---|---|---|---|---|---|---|---|---|\n")
    for r in rows:
        if not r["ok"]:
            out.write("| v%d | .%d | NEVER (webhook %s) | | | | | | |\n" % (r["version"], r["hooked"], r["code"]))
            continue
        out.write("| v%d | .%d | %s | %s | %s | %s | %d | %d | %d / %d |\n" % (
            r["version"], r["hooked"], fmt(r["first_ms"]), fmt(r["all_ms"]), fmt(r["disagree_ms"]),
            fmt(r["mixed_ms"]), r["requests"], r["failures"], r["backwards"], r["backwards_after"]))
    good = [r for r in rows if r["ok"]]
    if good:
        out.write("\nmin / median / max over %d rounds: all three %s ms, disagreement %s ms, "
                  "mixed via the balancer %s ms.\n" % (
                      len(good), spread(r["all_ms"] for r in good),
                      spread(r["disagree_ms"] for r in good), spread(r["mixed_ms"] for r in good)))
    if krows:
        out.write("\n### Kill -9 of replica .4 during a deploy, restart on the same state\n\n")
        out.write("| round | killed inside its deploy | kill after (ms) | .2 and .3 on it (ms) "
                  "| .4 restart to new commit (ms) | .4 served the old after restart | .4 ready on the old "
                  "| client requests | failed | keep-alive closes retried | newer-then-older (all / after) |\n"
                  "|---|---|---|---|---|---|---|---|---|---|---|\n")
        for r in krows:
            out.write("| v%d | %s | %s | %s | %s | %s | %d | %d | %d | %d | %d / %d |\n" % (
                r["version"], "yes" if r["killed_in_deploy"] else "no", fmt(r["kill_ms"]),
                fmt(r["others_ms"]) if r["others_ok"] else "NEVER", fmt(r["restart_to_new_ms"]),
                "yes" if r["served_old_after_restart"] else "no", r["ready_on_old"],
                r["requests"], r["failures"], r["retried"], r["backwards"], r["backwards_after"]))
    fails = [s for r in rows + krows for s in r.get("fail_samples", [])]
    out.write("\nClients: %d threads, %d requests in all through nginx; endpoints probe every %d ms, "
              "%d changes of the ready set.%s\n" % (
                  a.clients, clients.requests, a.probe_ms, len(ep.changes),
                  (" First failures: " + "; ".join("`%s`" % s for s in fails[:5])) if fails else ""))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["run"])
    ap.add_argument("--tmp", required=True)
    ap.add_argument("--wharf", required=True)
    ap.add_argument("--nginx", required=True)
    ap.add_argument("--commits", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--secret", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--admin", required=True, type=lambda s: [int(x) for x in s.split(",")])
    ap.add_argument("--balancer", type=int, required=True)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--kill-rounds", type=int, default=3)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--client-pause-ms", type=float, default=2)
    ap.add_argument("--probe-ms", type=int, default=500)
    ap.add_argument("--restart-delay", type=float, default=1.0)
    ap.add_argument("--gap", type=float, default=1.5)
    ap.add_argument("--timeout", type=float, default=20)
    return run(ap.parse_args())


if __name__ == "__main__":
    sys.exit(main())
