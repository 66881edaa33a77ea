#!/usr/bin/env python3
"""Turn bench/run.sh's raw results into the Markdown table.

usage: report.py RESULTS.tsv META.tsv
RESULTS.tsv lines: scenario <TAB> server <TAB> round <TAB> metric <TAB> value
META.tsv lines:    key <TAB> value
"""
import statistics
import sys

SERVERS = ("wharf", "nginx")

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
    out.append(f"# wharf vs nginx static benchmark ({meta.get('date', '?')})")
    out.append("")
    out.append(f"Machine: nproc {meta.get('nproc', '?')}, kernel {meta.get('kernel', '?')}, "
               f"{meta.get('cpu', '?')}; load avg at start {meta.get('load_start', '?')}, "
               f"at end {meta.get('load_end', '?')}.  ")
    out.append(f"Versions: {meta.get('wharf_version', '?')}; {meta.get('nginx_version', '?')}; "
               f"{meta.get('wrk_version', '?')}.  ")
    out.append(f"Method: {meta.get('rounds', '?')} interleaved rounds (wharf, nginx, wharf, ...) of "
               f"{meta.get('duration', '?')} s per scenario, wrk -t2 --latency, fresh server per run "
               f"after a 1 s warm-up; idle test with {meta.get('idle_count', '?')} connections. "
               f"Cells: median (min-max) over rounds.")
    out.append("")
    out.append("Ratio = wharf/nginx of the medians. **Higher is better** for req/s, MB/s and "
               "req per CPU-s; **lower is better** for latency, RSS and KB per connection.")
    out.append("")
    out.append("| Scenario | Metric | wharf | nginx | wharf/nginx |")
    out.append("|---|---|---|---|---|")
    for sc, title, metrics in SCENARIOS:
        if not any((sc, s, m[0]) in data for s in SERVERS for m in metrics):
            continue
        if sc == "s6":
            title = f"6. {meta.get('idle_count', '?')} idle keep-alive conns"
        first = True
        for metric, label, better, fmt in metrics:
            w = data.get((sc, "wharf", metric), [])
            n = data.get((sc, "nginx", metric), [])
            ratio = "-"
            if better and w and n and statistics.median(n) != 0:
                r = statistics.median(w) / statistics.median(n)
                arrow = "↑" if better == "high" else "↓"
                ratio = f"{r:.2f} ({arrow} better)"
            if metric.startswith("errors") and sc == "s4":
                ratio = " / ".join(
                    f"{s}: {'PASS' if vals and max(vals) == 0 else 'FAIL'}"
                    for s, vals in (("wharf", w), ("nginx", n)))
            out.append(f"| {title if first else ''} | {label} | {cell(w, fmt)} | {cell(n, fmt)} | {ratio} |")
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
