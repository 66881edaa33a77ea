#!/usr/bin/env python3
"""The shape of wharf's code: the module graph, its cycles, the largest files and functions.

    tools/code-map.py            this checkout
    tools/code-map.py REV        the tree of commit REV (read with git, nothing checked out)
    tools/code-map.py --top 15   how many files and functions to list (default 10)

A module is src/X.c with include/X.h. X depends on Y when either file includes "Y.h". The graph
is printed by layer: layer 0 depends on no module, layer n on modules below n only, so reading
down the list climbs from the codecs to main. A module cycle (modules that include each other
in a circle) has no layer; it is printed as a cycle, and the script exits 1.

A function is counted from its definition line (an identifier followed by "(" at column 0,
after its return type) to the "}" in column 0 that closes it: the repository's clang-format
style writes every function that way."""
import re
import subprocess
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"(?:[^"]*/)?([^"/]+)\.h"', re.M)
FUNC = re.compile(r"^(?:static\s+|inline\s+|const\s+|enum\s+|struct\s+|unsigned\s+)*[A-Za-z_][\w\s\*]*?\b([a-z_][a-z0-9_]*)\(")


def read_tree(rev):
    """{path: text} of src/*.c and include/*.h, from the work tree or from commit rev."""
    if rev is None:
        out = subprocess.run(["git", "ls-files", "src", "include"], capture_output=True, text=True, check=True).stdout
        paths = [p for p in out.split() if re.match(r"(src/[^/]+\.c|include/[^/]+\.h)$", p)]
        return {p: open(p, errors="replace").read() for p in paths}
    out = subprocess.run(["git", "ls-tree", "-r", "--name-only", rev, "src", "include"], capture_output=True, text=True, check=True).stdout
    paths = [p for p in out.split() if re.match(r"(src/[^/]+\.c|include/[^/]+\.h)$", p)]
    return {p: subprocess.run(["git", "show", f"{rev}:{p}"], capture_output=True, text=True, errors="replace").stdout for p in paths}


def module_of(path):
    return path.split("/")[-1].rsplit(".", 1)[0]


def graph(tree):
    mods = {module_of(p) for p in tree}
    dep = {m: set() for m in mods}
    for p, text in tree.items():
        m = module_of(p)
        dep[m] |= {y for y in INCLUDE.findall(text) if y in mods and y != m}
    return dep


def components(dep):
    """Strongly connected components (Tarjan, iterative)."""
    index, low, on, stack, comps, counter = {}, {}, set(), [], [], [0]
    for root in sorted(dep):
        if root in index:
            continue
        work = [(root, iter(sorted(dep[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(dep[w]))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                comps.append(sorted(comp))
    return comps


def layers(dep, comps):
    """Layer of each module; the members of a cycle share the cycle's layer."""
    comp_of = {m: i for i, c in enumerate(comps) for m in c}
    layer = {}

    def of(ci, seen=()):
        if ci in layer:
            return layer[ci]
        below = [comp_of[y] for m in comps[ci] for y in dep[m] if comp_of[y] != ci]
        layer[ci] = 1 + max((of(b) for b in below), default=-1)
        return layer[ci]

    return {m: of(comp_of[m]) for m in dep}


def functions(tree):
    """[(lines, 'file:function')] for every function definition."""
    found = []
    for p, text in tree.items():
        if not p.endswith(".c"):
            continue
        lines = text.split("\n")
        i = 0
        while i < len(lines):
            m = FUNC.match(lines[i])
            if m and not lines[i].rstrip().endswith(";"):
                j = i
                while j < len(lines) and lines[j] != "{" and not lines[j].rstrip().endswith(";"):
                    j += 1
                if j < len(lines) and lines[j] == "{":
                    k = j + 1
                    while k < len(lines) and lines[k] != "}":
                        k += 1
                    found.append((k - i + 1, f"{p}:{m.group(1)}"))
                    i = k
            i += 1
    return sorted(found, reverse=True)


def main(argv):
    top, rev = 10, None
    args = list(argv)
    while args:
        a = args.pop(0)
        if a == "--top":
            top = int(args.pop(0))
        elif a in ("-h", "--help"):
            print(__doc__)
            return 0
        else:
            rev = a
    tree = read_tree(rev)
    dep = graph(tree)
    comps = components(dep)
    layer = layers(dep, comps)
    cycles = [c for c in comps if len(c) > 1]
    print(f"# {len(dep)} modules, {len(cycles)} module cycle(s)" + (f" at {rev}" if rev else ""))
    for n in range(max(layer.values()) + 1):
        row = sorted(m for m in dep if layer[m] == n)
        print(f"layer {n}:")
        for m in row:
            print(f"  {m} -> {' '.join(sorted(dep[m])) or '(none)'}")
    for c in cycles:
        print("cycle:", " ".join(c))
    sizes = sorted(((t.count("\n"), p) for p, t in tree.items()), reverse=True)[:top]
    print(f"\n# largest files (lines)")
    for n, p in sizes:
        print(f"  {n:5d}  {p}")
    print(f"\n# largest functions (lines)")
    for n, name in functions(tree)[:top]:
        print(f"  {n:5d}  {name}")
    return 1 if cycles else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
