#!/usr/bin/env python3
"""Turn bench/run.sh's raw results into the Markdown table.

usage: report.py RESULTS.tsv META.tsv
RESULTS.tsv lines: scenario <TAB> server <TAB> round <TAB> metric <TAB> value
META.tsv lines:    key <TAB> value
"""
import statistics
import sys

# column order; h2o, lighttpd and direct (fcgi_load straight to php-fpm) only appear when
# they ran
SERVERS = ("wharf", "nginx", "h2o", "lighttpd", "direct")
LABELS = {"direct": "php-fpm direct"}
RATIOS = ("nginx", "h2o", "lighttpd", "direct")  # wharf/X columns

PHP_METRICS = [
    ("rps", "req/s", "high", "{:.0f}"),
    ("p99_ms", "p99 latency (ms)", "low", "{:.2f}"),
    ("errors", "errors", None, "{:.0f}"),
    ("front_cpu_per_1k", "front server CPU-s per 1k req", "low", "{:.3f}"),
    ("fpm_cpu_per_1k", "php-fpm CPU-s per 1k req", "low", "{:.3f}"),
    ("fpm_backlog", "conns in php-fpm's listen backlog (mid-run)", None, "{:.0f}"),
    ("peak_rss_mib", "front peak RSS (MiB)", "low", "{:.1f}"),
]

# scenario id -> (title, [(metric, label, better, fmt)]); better: "high", "low" or None
SCENARIOS = [
    ("s1", "1. 1 KiB file, 64 conns", [
        ("rps", "req/s", "high", "{:.0f}"),
        ("p99_ms", "p99 latency (ms)", "low", "{:.2f}"),
        ("errors", "errors", None, "{:.0f}"),
        ("req_per_cpu", "req per server CPU-s", "high", "{:.0f}"),
        ("peak_rss_mib", "peak RSS (MiB)", "low", "{:.1f}"),
    ]),
    ("s2", "2. 100 KiB file, 64 conns", [
        ("rps", "req/s", "high", "{:.0f}"),
        ("p99_ms", "p99 latency (ms)", "low", "{:.2f}"),
        ("errors", "errors", None, "{:.0f}"),
        ("req_per_cpu", "req per server CPU-s", "high", "{:.0f}"),
        ("peak_rss_mib", "peak RSS (MiB)", "low", "{:.1f}"),
    ]),
    ("s3", "3. 10 MiB file, 16 conns", [
        ("mbps", "MB/s (wrk Transfer/sec, MiB)", "high", "{:.0f}"),
        ("p99_ms", "p99 latency (ms)", "low", "{:.1f}"),
        ("errors", "errors", None, "{:.0f}"),
        ("peak_rss_mib", "peak RSS (MiB)", "low", "{:.1f}"),
    ]),
    ("s4", "4. 1 KiB file, 1000 keep-alive conns", [
        ("rps", "req/s", "high", "{:.0f}"),
        ("p99_ms", "p99 latency (ms)", "low", "{:.2f}"),
        ("errors", "errors (must be 0)", None, "{:.0f}"),
        ("req_per_cpu", "req per server CPU-s", "high", "{:.0f}"),
        ("peak_rss_mib", "peak RSS (MiB)", "low", "{:.1f}"),
    ]),
    ("s5", "5. gzip, 100 KiB HTML, 64 conns", [
        ("rps", "req/s", "high", "{:.0f}"),
        ("p99_ms", "p99 latency (ms)", "low", "{:.2f}"),
        ("errors", "errors", None, "{:.0f}"),
        ("req_per_cpu", "req per server CPU-s", "high", "{:.0f}"),
        ("peak_rss_mib", "peak RSS (MiB)", "low", "{:.1f}"),
    ]),
    ("s6", "6. idle keep-alive conns", [
        ("held", "conns held open", None, "{:.0f}"),
        ("rss_before_mib", "RSS before (MiB)", "low", "{:.1f}"),
        ("rss_with_mib", "RSS with idle conns (MiB)", "low", "{:.1f}"),
        ("kb_per_conn", "KB per idle conn", "low", "{:.2f}"),
        ("peak_rss_mib", "peak RSS (MiB)", "low", "{:.1f}"),
    ]),
    ("s11", "11. 1 KiB file, 64 conns, access log on", [
        ("rps", "req/s", "high", "{:.0f}"),
        ("p99_ms", "p99 latency (ms)", "low", "{:.2f}"),
        ("errors", "errors", None, "{:.0f}"),
        ("req_per_cpu", "req per server CPU-s", "high", "{:.0f}"),
        ("log_lines", "access log lines written", None, "{:.0f}"),
    ]),
    ("s7", "7. PHP hello.php, 64 conns", PHP_METRICS),
    ("s12", "12. PHP hello.php, 64 conns, access log on",
     PHP_METRICS + [("log_lines", "access log lines written", None, "{:.0f}")]),
    ("s8", "8. PHP table.php (~5 KiB), 64 conns", PHP_METRICS),
    ("s10", "10. PHP flush.php (60 kB in 12 flushes) over TCP, 16 conns", PHP_METRICS),
    ("s9", "9. static 1 KiB, 64 conns, under slow.php saturation", [
        ("rps_alone", "static req/s, PHP idle", "high", "{:.0f}"),
        ("p99_alone", "static p99 (ms), PHP idle", "low", "{:.2f}"),
        ("rps_during", "static req/s, 200 conns on slow.php", "high", "{:.0f}"),
        ("p99_during", "static p99 (ms), 200 conns on slow.php", "low", "{:.2f}"),
        ("errors", "static errors", None, "{:.0f}"),
        ("slow_ok_rps", "slow.php 2xx/s (ceiling 20)", "high", "{:.1f}"),
        ("slow_errors", "slow.php non-2xx + socket errors", None, "{:.0f}"),
        ("rss_during_mib", "front RSS during (MiB)", "low", "{:.1f}"),
    ]),
]


def load(path):
    data = {}
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 5:
                continue
            sc, srv, _rnd, metric, val = parts
            try:
                v = float(val)
            except ValueError:
                continue
            data.setdefault((sc, srv, metric), []).append(v)
    return data


def cell(vals, fmt):
    if not vals:
        return "n/a"
    med = fmt.format(statistics.median(vals))
    if len(vals) == 1:
        return med
    return f"{med} ({fmt.format(min(vals))}-{fmt.format(max(vals))})"


def main():
    data = load(sys.argv[1])
    meta = {}
    with open(sys.argv[2]) as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("\t")
            meta[k] = v
    out = []
    servers = [s for s in SERVERS if any(k[1] == s for k in data)]
    for s in ("wharf", "nginx"):
        if s not in servers:
            servers.insert(("wharf", "nginx").index(s), s)
    ratios = [s for s in RATIOS if s in servers]
    php = any(k[0] in ("s7", "s8", "s9", "s10", "s12") for k in data)
    others = ", ".join(s for s in servers if s not in ("wharf", "direct"))
    out.append(f"# wharf vs {others} benchmark{' (static + PHP)' if php else ''} ({meta.get('date', '?')})")
    out.append("")
    out.append(f"Machine: nproc {meta.get('nproc', '?')}, kernel {meta.get('kernel', '?')}, "
               f"{meta.get('cpu', '?')}; load avg at start {meta.get('load_start', '?')}, "
               f"at end {meta.get('load_end', '?')}.  ")
    out.append(f"Versions: {meta.get('wharf_version', '?')}; {meta.get('nginx_version', '?')}; "
               f"{meta.get('wrk_version', '?')}"
               + (f"; {meta.get('php_fpm_version', '?')}" if php else "")
               + (f"; {meta['h2o_version']}" if "h2o_version" in meta else "")
               + (f"; {meta['lighttpd_version']}" if "lighttpd_version" in meta else "")
               + ".  ")
    out.append(f"Method: {meta.get('rounds', '?')} interleaved rounds ({', '.join(servers)}, wharf, ...) of "
               f"{meta.get('duration', '?')} s per scenario, {meta.get('wrk_cmd', 'wrk -t2')} --latency, fresh server per run "
               f"after a 1 s warm-up"
               + (f"; idle test with {meta.get('idle_count', '?')} connections" if any(k[0] == "s6" for k in data) else "")
               + ". "
               f"Cells: median (min-max) over rounds.")
    if php:
        n = meta.get("fcgi_conns", "4")
        out.append("")
        out.append(
            f"PHP (scenarios 7-10): a fresh php-fpm per run (pm = static, {n} children, OPcache on, "
            f"unix socket; scenario 10: the same pool on 127.0.0.1 TCP) and one front end at a "
            f"time. wharf: `fastcgi_max_conns` = `fastcgi_keep_conns` = {n} (kept "
            f"FastCGI connections + queue); nginx: upstream `keepalive` x 2 workers = {n}, "
            f"`fastcgi_keep_conn on`"
            + ("; h2o: a FastCGI connection per request" if "h2o" in servers else "")
            + ("; lighttpd: a FastCGI connection per request" if "lighttpd" in servers else "")
            + f"; php-fpm direct: bench/fcgi_load.c, {n} kept-alive FastCGI connections, no HTTP "
            f"(the ceiling; wharf/direct = share of it). CPU-s per 1k req: utime+stime of the "
            f"front server's processes (php-fpm separately), delta over the run / requests. "
            f"Scenario 9: wrk -t1 -c64 on a 1 KiB file alone, then while wrk -c200 keeps slow.php "
            f"(usleep 200 ms) saturated (started {meta.get('php_ramp', '?')} s before). php-fpm backlog = "
            f"connections waiting in its accept queue at mid-run: with nginx these wait behind "
            f"children pinned by nginx's idle kept connections (nginx opens upstream connections "
            f"beyond its keepalive cache; docs/design-notes.md §2), hence a p99 near 1 s and wrk "
            f"timeouts; h2o connects per request, so its backlog is an ordinary FIFO; wharf and "
            f"the direct client queue in front of their {n} connections instead.")
    out.append("")
    out.append("Ratio = wharf/X of the medians. **Higher is better** for req/s, MB/s and "
               "req per CPU-s; **lower is better** for latency, RSS, KB per connection and CPU-s "
               "per 1k req.")
    out.append("")
    head = ["Scenario", "Metric"] + [LABELS.get(s, s) for s in servers] + \
        [f"wharf/{LABELS.get(s, s)}" for s in ratios]
    out.append("| " + " | ".join(head) + " |")
    out.append("|" + "---|" * len(head))
    for sc, title, metrics in SCENARIOS:
        if not any((sc, s, m[0]) in data for s in SERVERS for m in metrics):
            continue
        if sc == "s6":
            title = f"6. {meta.get('idle_count', '?')} idle keep-alive conns"
        ran = {s for s in servers if any((sc, s, m[0]) in data for m in metrics)}
        first = True
        for metric, label, better, fmt in metrics:
            vals = {s: data.get((sc, s, metric), []) for s in servers}
            w = vals["wharf"]
            cells = [cell(vals[s], fmt) if s in ran or s in ("wharf", "nginx") else "-"
                     for s in servers]
            rcells = []
            for s in ratios:
                x = vals[s]
                ratio = "-"
                if better and w and x and statistics.median(x) != 0:
                    r = statistics.median(w) / statistics.median(x)
                    arrow = "↑" if better == "high" else "↓"
                    ratio = f"{r:.2f} ({arrow} better)"
                rcells.append(ratio)
            if metric.startswith("errors") and sc == "s4":
                rcells[0] = " / ".join(
                    f"{s}: {'PASS' if vals[s] and max(vals[s]) == 0 else 'FAIL'}"
                    for s in servers if s in ran)
            out.append("| " + " | ".join([title if first else "", label] + cells + rcells) + " |")
            first = False
    out.append("")
    notes = [v for k, v in sorted(meta.items()) if k.startswith("note")]
    if notes:
        out.append("Notes:")
        out.extend(f"- {v}" for v in notes)
        out.append("")
    print("\n".join(out))


if __name__ == "__main__":
    main()
