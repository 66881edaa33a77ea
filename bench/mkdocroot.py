#!/usr/bin/env python3
"""Build the benchmark docroot: 1k.bin, 100k.bin, 10m.bin (random bytes),
page.html (exactly 100 KiB of realistic, compressible HTML; deterministic) and the PHP
scripts of the FastCGI scenarios: hello.php, table.php (~5 KiB HTML table of 50 rows of
computed values), slow.php (usleep 200 ms), flush.php (60 kB in 12 flushed pieces) and opcache.php (prints opcache=1 when OPcache
is enabled in the serving php-fpm)."""
import os
import random
import sys

WORDS = """the a of to and in is for on with that this by from at as be are was it
server request response connection client file static content cache header body
memory thread event socket kernel buffer latency throughput benchmark nginx proxy
configuration module performance network traffic gzip compression encoding
document page site user browser image style script query path host port
release version update feature support issue change note guide example section
install build test deploy production system service process worker daemon
reliable fast small simple secure modern open source project community team
article comment author date archive category tag search home about contact""".split()

rng = random.Random(20240601)


def sentence():
    n = rng.randint(6, 18)
    w = [rng.choice(WORDS) for _ in range(n)]
    if rng.random() < 0.25:
        i = rng.randrange(n)
        w[i] = f'<a href="/{rng.choice(WORDS)}/{rng.choice(WORDS)}.html">{w[i]}</a>'
    if rng.random() < 0.15:
        i = rng.randrange(n)
        w[i] = f"<strong>{w[i]}</strong>"
    s = " ".join(w)
    return s[0].upper() + s[1:] + rng.choice([".", ".", ".", "?", "!"])


def article(i):
    title = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 7))).title()
    out = [f'<article class="post" id="post-{i}">',
           f'  <header><h2><a href="/posts/{i}/">{title}</a></h2>',
           f'    <p class="meta">Posted on <time datetime="2024-{1 + i % 12:02d}-{1 + i % 28:02d}">'
           f'{1 + i % 28} {["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][i % 12]} 2024</time>'
           f' by <a href="/authors/{rng.choice(WORDS)}">{rng.choice(WORDS).title()}</a></p></header>']
    for _ in range(rng.randint(2, 4)):
        out.append("  <p>" + " ".join(sentence() for _ in range(rng.randint(2, 5))) + "</p>")
    if rng.random() < 0.3:
        out.append("  <ul>")
        for _ in range(rng.randint(3, 6)):
            out.append(f"    <li>{sentence()}</li>")
        out.append("  </ul>")
    if rng.random() < 0.2:
        out.append('  <table class="data"><thead><tr><th>Name</th><th>Value</th><th>Unit</th></tr></thead><tbody>')
        for _ in range(rng.randint(3, 6)):
            out.append(f"    <tr><td>{rng.choice(WORDS)}</td><td>{rng.randint(1, 99999)}</td>"
                       f"<td>{rng.choice(['ms', 'KiB', 'req/s', '%'])}</td></tr>")
        out.append("  </tbody></table>")
    tags = " ".join(f'<a class="tag" href="/tags/{t}">{t}</a>' for t in rng.sample(WORDS, 3))
    out.append(f'  <footer class="tags">{tags}</footer>')
    out.append("</article>")
    return "\n".join(out) + "\n"


def page(size):
    head = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Wharf Bench Blog - Notes on serving static content</title>
  <link rel="stylesheet" href="/css/site.css">
  <style>
    body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 60rem; color: #222; }
    .post { border-bottom: 1px solid #ddd; padding: 1rem 0; }
    .meta, .tags { color: #777; font-size: 0.9rem; }
    table.data td, table.data th { padding: 0.2rem 0.5rem; border: 1px solid #eee; }
  </style>
</head>
<body>
<nav class="top"><ul>
  <li><a href="/">Home</a></li><li><a href="/archive/">Archive</a></li>
  <li><a href="/tags/">Tags</a></li><li><a href="/about/">About</a></li>
</ul></nav>
<main>
"""
    tail = """</main>
<footer class="site"><p>&copy; 2024 Wharf Bench. Served statically.</p></footer>
</body>
</html>
"""
    body, i = "", 0
    while True:
        a = article(i)
        if len((head + body + a + tail).encode()) > size - 64:
            break
        body += a
        i += 1
    extra = ""
    while True:  # fill the rest with prose, then pad to the exact size
        t = sentence() + " "
        if len((head + body + "<p>" + extra + t + "</p>\n" + tail).encode()) > size - 16:
            break
        extra += t
    body += "<p>" + extra + "</p>\n"
    pad = size - len((head + body + tail).encode()) - len("<!--  -->\n")
    return (head + body + "<!-- " + "x" * max(pad, 0) + " -->\n" + tail).encode()


PHP_SCRIPTS = {
    "hello.php": '<?php echo "Hello, world!";\n',
    "table.php": r"""<?php
// 50 rows x 7 columns of computed values, ~5 KiB of HTML
$rows = [];
for ($i = 1; $i <= 50; $i++) {
    $rows[] = [
        'id' => $i,
        'name' => 'item-' . str_pad((string)($i * 37 % 101), 3, '0', STR_PAD_LEFT),
        'square' => $i * $i,
        'root' => sqrt($i),
        'hash' => substr(md5("row $i"), 0, 6),
        'price' => $i * 3.75 + ($i % 7) * 0.35,
    ];
}
$total = array_sum(array_column($rows, 'price'));
header('Content-Type: text/html; charset=utf-8');
echo "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Price table</title></head><body>\n";
echo "<table class=\"prices\">\n<tr><th>#</th><th>Name</th><th>Square</th><th>Root</th><th>Hash</th><th>Price</th><th>Share</th></tr>\n";
foreach ($rows as $r) {
    printf("<tr><td>%d</td><td>%s</td><td>%d</td><td>%.2f</td><td>%s</td><td>%s</td><td>%.2f%%</td></tr>\n",
        $r['id'], htmlspecialchars($r['name']), $r['square'], $r['root'], $r['hash'],
        number_format($r['price'], 2), 100 * $r['price'] / $total);
}
echo "</table>\n<p>Total: ", number_format($total, 2), "</p>\n</body></html>\n";
""",
    "slow.php": '<?php usleep(200000); echo "slept\n";\n',
    # 60 kB flushed in 12 pieces (scenario 10, over TCP: each flush is a small segment)
    "flush.php": """<?php
while (ob_get_level()) ob_end_flush();
$piece = str_repeat("x", 4999) . "\\n";
for ($i = 0; $i < 12; $i++) {
    echo $piece;
    flush();
}
""",
    "opcache.php": """<?php
$s = function_exists('opcache_get_status') ? @opcache_get_status(false) : false;
echo 'opcache=', ($s && !empty($s['opcache_enabled'])) ? 1 : 0, "\n";
""",
}


def main():
    root = sys.argv[1]
    os.makedirs(root, exist_ok=True)
    for name, n in (("1k.bin", 1024), ("100k.bin", 100 * 1024), ("10m.bin", 10 * 1024 * 1024)):
        with open(os.path.join(root, name), "wb") as f:
            f.write(os.urandom(n))
    p = page(100 * 1024)
    assert len(p) == 100 * 1024, len(p)
    with open(os.path.join(root, "page.html"), "wb") as f:
        f.write(p)
    for name, text in PHP_SCRIPTS.items():
        with open(os.path.join(root, name), "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
