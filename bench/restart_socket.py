#!/usr/bin/env python3
"""Restart wharf under load, with and without socket activation, and count refused connections.

A holder process (this script) plays systemd's part for --mode activation: it binds and listens
on 127.0.0.1:PORT itself and starts wharf with the socket as fd 3 (LISTEN_FDS=1, LISTEN_PID),
so the socket outlives every wharf process. --mode bind lets wharf bind the port itself, as a
plain restart does. Meanwhile --clients threads each make requests, one new connection per
request (GET / with Connection: close), as fast as they can. Every --interval seconds wharf
gets SIGTERM (it drains and exits), and as soon as it has exited a new one is started.

Prints one JSON object: mode, restarts, requests, ok, refused (ECONNREFUSED), reset (the
connection was accepted and then closed or reset without a full, correct response: status 200
and the file's exact body), timeouts, other, seconds, and a few samples of what went wrong.
Usage: bench/restart_socket.py --wharf src/wharf [--mode activation|bind] [--restarts 10]
"""
import argparse
import json
import os
import signal
import socket
import shutil
import sys
import tempfile
import threading
import time


def start_wharf(args, root, port, lsock):
    """Start wharf; returns its pid. With lsock: fd 3 and LISTEN_FDS/LISTEN_PID, as systemd."""
    cmd = [args.wharf, "--config", os.path.join(root, "..", "wharf.ini")]
    log = os.open(os.path.join(root, "..", "wharf.err"), os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    pid = os.fork()
    if pid == 0:
        try:
            env = dict(os.environ)
            if lsock is not None:
                if lsock.fileno() != 3:
                    os.dup2(lsock.fileno(), 3)
                os.set_inheritable(3, True)  # dup2 onto itself would leave it close-on-exec
                env["LISTEN_FDS"] = "1"
                env["LISTEN_PID"] = str(os.getpid())  # sd_listen_fds checks it is ours
            os.dup2(log, 2)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.execve(cmd[0], cmd, env)
        finally:
            os._exit(127)
    os.close(log)
    return pid


def stop_wharf(pid):
    os.kill(pid, signal.SIGTERM)
    _, status = os.waitpid(pid, 0)
    return status


PATH = b"/"


def client(port, stop, counts, lock, samples):
    while not stop.is_set():
        kind = "ok"
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall(b"GET " + PATH + b" HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                d = s.recv(65536)
                if not d:
                    break
                data += d
            s.close()
            if not data.startswith(b"HTTP/1.1 200") or not data.endswith(b"restart-bench"):
                kind = "reset"
                with lock:
                    if len(samples) < 5:
                        samples.append("closed after %d bytes: %r" % (len(data), data))
        except ConnectionRefusedError:
            kind = "refused"
        except (ConnectionResetError, BrokenPipeError) as e:
            kind = "reset"
            with lock:
                if len(samples) < 5:
                    samples.append(str(e))
        except socket.timeout:
            kind = "timeouts"
        except OSError as e:
            kind = "other"
            with lock:
                if len(samples) < 5:
                    samples.append(str(e))
        with lock:
            counts[kind] += 1
            counts["requests"] += 1
        if kind == "refused":
            time.sleep(0.001)  # do not spin while nothing listens


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--wharf", required=True)
    ap.add_argument("--mode", choices=["activation", "bind"], default="activation")
    ap.add_argument("--restarts", type=int, default=10)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--file-cache", default="64m",
                    help="[server] file_cache (0 = off: every response sent from the file)")
    ap.add_argument("--fresh-file", action="store_true",
                    help="serve a file modified this second (exercises the file cache's "
                    "revalidation of a file that may still change)")
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="wharf-restart.")
    root = os.path.join(tmp, "www")
    os.mkdir(root)
    with open(os.path.join(root, "index.html"), "w") as f:
        f.write("restart-bench")
    if not args.fresh_file:  # an old file, as a deployed site has (see --fresh-file)
        old = time.time() - 3600
        os.utime(os.path.join(root, "index.html"), (old, old))
    lsock = None
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    with open(os.path.join(tmp, "wharf.ini"), "w") as f:
        f.write("[server]\nlisten = 127.0.0.1:%d\nfile_cache = %s\n[site default]\nroot = %s\n"
                % (port, args.file_cache, root))
    if args.mode == "activation":
        lsock = socket.socket()
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lsock.bind(("127.0.0.1", port))
        lsock.listen(4096)

    proc = start_wharf(args, root, port, lsock)
    for _ in range(200):  # first start: wait until it answers (not counted)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.05)
    counts = dict(requests=0, ok=0, refused=0, reset=0, timeouts=0, other=0)
    lock = threading.Lock()
    samples = []
    stop = threading.Event()
    threads = [threading.Thread(target=client, args=(port, stop, counts, lock, samples))
               for _ in range(args.clients)]
    t0 = time.time()
    for t in threads:
        t.start()
    gaps = []
    for _ in range(args.restarts):
        time.sleep(args.interval)
        t_kill = time.time()
        stop_wharf(proc)
        proc = start_wharf(args, root, port, lsock)
        gaps.append(time.time() - t_kill)
    time.sleep(args.interval)
    stop.set()
    for t in threads:
        t.join()
    stop_wharf(proc)
    with open(os.path.join(tmp, "wharf.err"), errors="replace") as f:
        errors = [ln.strip() for ln in f if "[error]" in ln or ln.startswith("wharf:")][:3]
    counts.update(mode=args.mode, file_cache=args.file_cache, restarts=args.restarts, clients=args.clients,
                  seconds=round(time.time() - t0, 1),
                  max_exit_to_start_ms=round(max(gaps) * 1000, 1) if gaps else 0,
                  samples=samples, wharf_errors=errors)
    print(json.dumps(counts))
    shutil.rmtree(tmp)


if __name__ == "__main__":
    sys.exit(main())
