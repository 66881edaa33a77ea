#!/usr/bin/env python3
"""Memory and CPU of a process and all its descendants, from /proc.

CLI: proctree.py PID  ->  prints "rss_kb hwm_kb cpu_s nprocs"
  rss_kb  sum of VmRSS   (nginx: master + workers; wharf: its one process)
  hwm_kb  sum of VmHWM   (peak RSS of each process, summed)
  cpu_s   sum of utime+stime of the processes (all their threads), seconds
"""
import os
import sys

TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid):
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    # comm may contain spaces/parens: the fields after the last ')' are fixed
    rest = s[s.rindex(")") + 2:].split()
    ppid = int(rest[1])
    utime, stime = int(rest[11]), int(rest[12])
    return ppid, utime + stime


def tree(root):
    """root pid and all its descendants (pids that still exist)."""
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            ppid, _ = _stat(int(d))
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(d))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def _status_kb(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def measure(root):
    pids = tree(root)
    rss = sum(_status_kb(p, "VmRSS") for p in pids)
    hwm = sum(_status_kb(p, "VmHWM") for p in pids)
    cpu = 0
    for p in pids:
        try:
            cpu += _stat(p)[1]
        except (OSError, ValueError, IndexError):
            pass
    return {"rss_kb": rss, "hwm_kb": hwm, "cpu_s": cpu / TICKS, "nprocs": len(pids)}


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: proctree.py PID")
    pid = int(sys.argv[1])
    if not os.path.exists(f"/proc/{pid}"):
        sys.exit(f"proctree.py: no process {pid}")
    m = measure(pid)
    print(m["rss_kb"], m["hwm_kb"], f'{m["cpu_s"]:.2f}', m["nprocs"])
