#!/usr/bin/env python3
"""File-level import cycles in a Rust crate: `python3 scripts/import_cycles.py http/src`.
CI runs it on keel-http and keel-pool, which must have none (exit 1 lists them).

A path `crate::a::b::Name` / `super::Name` / `self::Name` is resolved to the file that
defines Name: when it lands on a facade (mod.rs/lib.rs) that merely re-exports Name from
a child (`pub use child::Name` or `use child::Name`), it is followed to the child. A
facade's own `mod x;` and re-export lines are not dependencies. Prints SCCs of size > 1."""
import os, re, sys
root = sys.argv[1]
files = {}
for d, _, fs in os.walk(root):
    for f in fs:
        if f.endswith('.rs'):
            p = os.path.join(d, f); rel = os.path.relpath(p, root)
            parts = rel[:-3].split(os.sep)
            if parts[-1] in ('mod', 'lib', 'main'): parts = parts[:-1]
            files[tuple(parts)] = rel
srcs = {}
for mod, rel in files.items():
    src = open(os.path.join(root, rel)).read()
    m = re.search(r'#\[cfg\(test\)\]\s*mod tests\b', src)
    if m: src = src[:m.start()]
    src = re.sub(r'//[^\n]*', '', src)
    srcs[mod] = src
usegroup = re.compile(r'\b(pub(?:\([a-z]+\))?\s+)?use\s+((?:crate|super|self)::[^;]*|[a-z_][a-z0-9_]*::[^;]*);', re.S)
def expand(prefix, s):
    s = s.strip()
    if '{' not in s: return [prefix + [x for x in s.split('::') if x]]
    i = s.index('{'); pre = s[:i]; inner = s[i+1:s.rindex('}')]
    depth = 0; cur = ''; items = []
    for ch in inner:
        if ch == ',' and depth == 0: items.append(cur); cur = ''; continue
        if ch == '{': depth += 1
        if ch == '}': depth -= 1
        cur += ch
    if cur.strip(): items.append(cur)
    pp = prefix + [x for x in pre.split('::') if x]
    out = []
    for it in items: out += expand(pp, it)
    return out
def base_for(mod, kind):
    if kind == 'crate': return []
    if kind == 'self': return list(mod)
    return list(mod[:-1])
# re-export map: facade mod -> {name: absolute path}
reexp = {}
uses = {}
for mod, src in srcs.items():
    reexp[mod] = {}; uses[mod] = []
    for m in usegroup.finditer(src):
        body = re.sub(r'\s+', ' ', m.group(2))
        for p in expand([], body):
            p = [x.strip() for x in p]
            if not p: continue
            alias = None
            last = p[-1]
            if ' as ' in last:
                last, alias = [x.strip() for x in last.split(' as ')]
                p[-1] = last
            if p[-1] in ('self', '*'): p = p[:-1]
            if not p: continue
            first = p[0]
            if first in ('crate', 'super', 'self'):
                ab = base_for(mod, first) + p[1:]
            elif tuple(list(mod) + [first]) in files:  # `use child::X` in a facade
                ab = list(mod) + p
            else:
                continue
            uses[mod].append(ab)
            reexp[mod][alias or ab[-1]] = ab
def resolve(path, depth=0):
    for i in range(len(path), -1, -1):
        f = tuple(path[:i])
        if f in files:
            rest = path[i:]
            if rest and depth < 10 and rest[0] in reexp.get(f, {}):
                tgt = reexp[f][rest[0]]
                if tgt != path:
                    return resolve(tgt + rest[1:], depth + 1)
            return f
    return None
inline = re.compile(r'\b(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)+)')
edges = {k: set() for k in files}
for mod, src in srcs.items():
    paths = list(uses[mod])
    body = usegroup.sub('', src)
    for m in inline.finditer(body):
        paths.append(base_for(mod, m.group(1)) + [x for x in m.group(2).split('::') if x])
    for p in paths:
        t = resolve(p)
        if t is None or t == mod or t == (): continue
        # a facade's re-export of its own child is not a dependency
        if t[:len(mod)] == mod and p in uses[mod] and re.search(r'\bpub(\([a-z]+\))?\s+use\b', src) and False:
            pass
        edges[mod].add(t)
# drop facade->child edges that come only from `pub use` re-exports
for mod, src in srcs.items():
    reexported = set()
    for m in usegroup.finditer(src):
        if m.group(1):
            for p in expand([], re.sub(r'\s+', ' ', m.group(2))):
                first = p[0].strip()
                ab = base_for(mod, first) + p[1:] if first in ('crate','super','self') else list(mod) + p
                ab = [x.split(' as ')[0].strip() for x in ab]
                t = resolve(ab)
                if t: reexported.add(t)
    body = usegroup.sub('', src)
    used_inline = set()
    for m in inline.finditer(body):
        t = resolve(base_for(mod, m.group(1)) + [x for x in m.group(2).split('::') if x])
        if t: used_inline.add(t)
    # non-pub uses
    priv = set()
    for m in usegroup.finditer(src):
        if not m.group(1):
            for p in expand([], re.sub(r'\s+', ' ', m.group(2))):
                first = p[0].strip()
                ab = base_for(mod, first) + p[1:] if first in ('crate','super','self') else list(mod) + p
                ab = [x.split(' as ')[0].strip() for x in ab]
                t = resolve(ab)
                if t: priv.add(t)
    for t in list(edges[mod]):
        if t in reexported and t not in used_inline and t not in priv:
            edges[mod].discard(t)
idx = {}; low = {}; st = []; on = set(); sccs = []; c = [0]
sys.setrecursionlimit(10000)
def sc(v):
    idx[v] = low[v] = c[0]; c[0] += 1; st.append(v); on.add(v)
    for w in edges[v]:
        if w not in idx: sc(w); low[v] = min(low[v], low[w])
        elif w in on: low[v] = min(low[v], idx[w])
    if low[v] == idx[v]:
        comp = []
        while True:
            w = st.pop(); on.discard(w); comp.append(w)
            if w == v: break
        if len(comp) > 1: sccs.append(comp)
for v in edges:
    if v not in idx: sc(v)
for comp in sccs:
    s = set(comp)
    print('CYCLE:', ', '.join(files[m] for m in sorted(comp)))
    for m in sorted(comp):
        print('   ', files[m], '->', ', '.join(files[t] for t in sorted(edges[m] & s)))
if not sccs: print('no cycles')
sys.exit(1 if sccs else 0)
