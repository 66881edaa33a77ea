#!/usr/bin/env python3
"""config-man.py: docs/configuration.md -> docs/wharf.ini.5 (the same reference as a man page).

The Markdown file is the source; the man page is generated so the two cannot drift apart.
  python3 tools/config-man.py docs/configuration.md > docs/wharf.ini.5
tests/e2e/64-systemd-units.sh checks that the committed page is what this prints.
Handles what configuration.md uses: headings, paragraphs, "- " lists (with indented
continuations), fenced code, pipe tables (each row becomes a tagged paragraph), `code`,
**bold** and [links](target).
"""
import re
import sys

VERSION = "0.1.0"


def esc(text):
    """Escape roff specials in running text (not in already-made font escapes)."""
    text = text.replace("\\", "\\e")
    text = text.replace("-", "\\-")
    # non-ASCII as groff's Unicode escapes, so the page renders the same in any locale
    return "".join(c if ord(c) < 128 else "\\[u%04X]" % ord(c) for c in text)


def inline(text):
    out = []
    pos = 0
    pat = re.compile(r"`([^`]+)`|\*\*([^*]+)\*\*|\[([^\]]+)\]\(([^)]+)\)")
    for m in pat.finditer(text):
        out.append(esc(text[pos:m.start()]))
        if m.group(1) is not None:
            out.append("\\fB" + esc(m.group(1)) + "\\fR")
        elif m.group(2) is not None:
            out.append("\\fB" + esc(m.group(2)) + "\\fR")
        else:
            label, target = m.group(3), m.group(4)
            out.append(esc(label))
            if not target.startswith("#"):
                out.append(" (" + esc(target) + ")")
        pos = m.end()
    out.append(esc(text[pos:]))
    return "".join(out)


def line_out(s):
    """A text line that does not start a roff request by accident."""
    if s.startswith(".") or s.startswith("'"):
        return "\\&" + s
    return s


def cells(row):
    row = row.strip()
    if row.startswith("|"):
        row = row[1:]
    if row.endswith("|"):
        row = row[:-1]
    # a pipe inside `code` is part of the value (e.g. on|off)
    parts, cur, in_code = [], "", False
    for ch in row:
        if ch == "`":
            in_code = not in_code
        if ch == "|" and not in_code:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    parts.append(cur.strip())
    return parts


def convert(md):
    lines = md.split("\n")
    out = [
        '.TH WHARF.INI 5 "2026" "wharf %s" "File Formats"' % VERSION,
        ".\\\" generated from docs/configuration.md by tools/config-man.py: do not edit",
        ".SH NAME",
        "wharf.ini \\- configuration file of the wharf web server",
        ".SH SYNOPSIS",
        "/etc/wharf/wharf.ini",
        ".br",
        ".B wharf \\-\\-config /etc/wharf/wharf.ini \\-\\-test",
    ]
    i = 0
    para = []

    def flush():
        if para:
            out.append(".PP")
            out.extend(line_out(inline(p)) for p in para)
            para.clear()

    while i < len(lines):
        ln = lines[i]
        if ln.lstrip().startswith("```"):
            indent = len(ln) - len(ln.lstrip())  # a fence inside a list item is indented
            flush()
            out.append(".PP")
            out.append(".nf")
            out.append(".RS 4")
            i += 1
            while i < len(lines) and not lines[i].lstrip().startswith("```"):
                out.append(line_out(esc(lines[i][indent:])))
                i += 1
            out.append(".RE")
            out.append(".fi")
            i += 1
            continue
        m = re.match(r"^(#+)\s+(.*)$", ln)
        if m:
            flush()
            level, title = len(m.group(1)), m.group(2)
            if level == 1:
                out.append(".SH DESCRIPTION")
            elif level == 2:
                out.append(".SH " + inline(title).upper().replace("\\FB", "\\fB").replace("\\FR", "\\fR"))
            else:
                out.append(".SS " + inline(title))
            i += 1
            continue
        if ln.startswith("|"):
            flush()
            header = cells(ln)
            i += 2  # the header row and the |---| row
            while i < len(lines) and lines[i].startswith("|"):
                row = cells(lines[i])
                out.append(".TP")
                out.append(line_out(inline(row[0])))
                rest = []
                for h, v in zip(header[1:], row[1:]):
                    if h.lower() in ("meaning", "effect"):
                        rest.append(inline(v))
                    elif v:
                        rest.append(inline(h) + ": " + inline(v) + ".")
                meaning = [r for r in rest if not r.endswith(".") or ": " not in r]
                attrs = [r for r in rest if r not in meaning]
                text = " ".join(meaning)
                if attrs:
                    text = (text + " " if text else "") + "(" + " ".join(a[:-1] + ";" for a in attrs)[:-1] + ")"
                out.append(line_out(text))
                i += 1
            continue
        if ln.startswith("- "):
            flush()
            item = [ln[2:]]
            i += 1
            while i < len(lines) and lines[i].startswith("  ") and lines[i].strip():
                item.append(lines[i].strip())
                i += 1
            out.append(".IP \\(bu 2")
            out.extend(line_out(inline(p)) for p in item)
            continue
        if not ln.strip():
            flush()
            i += 1
            continue
        para.append(ln.strip())
        i += 1
    flush()
    out += [
        ".SH FILES",
        ".TP",
        "/etc/wharf/wharf.ini",
        "the configuration read by wharf.service",
        ".SH SEE ALSO",
        ".BR wharf (1),",
        ".BR systemd.service (5),",
        ".BR php\\-fpm (8)",
    ]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as f:
        sys.stdout.write(convert(f.read()))
