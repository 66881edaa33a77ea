#!/usr/bin/env python3
"""promq.py: read a Prometheus text page with the real parser (python3-prometheus-client).

  promq.py URL 'NAME{label="value",...}'   print the sum of the samples named NAME whose labels
                                          include the given ones (0 when none); histogram
                                          samples by their full name (NAME_count, NAME_bucket)
  promq.py URL --check                    parse the whole page; print "ok FAMILIES SAMPLES" or
                                          the error; fails unless the Content-Type is 0.0.4's
"""
import re
import sys
import urllib.request

from prometheus_client.parser import text_string_to_metric_families


def fetch(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.headers.get("Content-Type", ""), r.read().decode("utf-8")


def main():
    url, query = sys.argv[1], sys.argv[2]
    ctype, text = fetch(url)
    if query == "--check":
        if ctype != "text/plain; version=0.0.4; charset=utf-8":
            print("bad Content-Type: %r" % ctype)
            return 1
        fams = list(text_string_to_metric_families(text))
        print("ok %d %d" % (len(fams), sum(len(f.samples) for f in fams)))
        return 0
    m = re.fullmatch(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?', query)
    name, want = m.group(1), {}
    for k, v in re.findall(r'([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""):
        want[k] = v
    total = 0.0
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in want.items()):
                total += s.value
    print(int(total) if total == int(total) else total)
    return 0


sys.exit(main())
