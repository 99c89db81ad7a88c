import itertools, json, os, statistics, sys
# Summarises ab.sh: per cell the samples of each build, medians, new/base, and an exact one-sided permutation
# test for "new is worse" (frames/s lower, p99 higher).
out = sys.argv[1]
cells = {}
for name in sorted(os.listdir(out)):
    path = os.path.join(out, name, 'report.json')
    if not os.path.isfile(path):
        continue
    build = name.split('-')[0]
    for r in json.load(open(path))['results']:
        if r.get('backend', 'daemon') != 'daemon':
            continue
        w = r['workload']
        value = r.get('p99Us') if w == 'pingpong' else r.get('framesPerSecond')
        if value:
            cells.setdefault((w, r['pairs'], r['size']), {'base': [], 'new': []})[build].append(value)

def worse(a, b, hi):
    d = statistics.median(b) - statistics.median(a)
    return d if hi else -d

def p_value(a, b, hi):
    pooled, n, observed = a + b, len(a), worse(a, b, hi)
    hits = total = 0
    for idx in itertools.combinations(range(len(pooled)), n):
        s = set(idx)
        x = [pooled[i] for i in s]
        y = [pooled[i] for i in range(len(pooled)) if i not in s]
        total += 1
        hits += worse(x, y, hi) >= observed - 1e-9
    return hits / total

print('| workload | pairs | frame | metric | base (median; samples) | new (median; samples) | new / base | p (new worse) |')
print('|---|---|---|---|---|---|---|---|')
for (w, pairs, size), v in sorted(cells.items()):
    a, b = v['base'], v['new']
    if not a or not b:
        continue
    hi = w == 'pingpong'
    fmt = (lambda x: f'{x:.0f}') if hi else (lambda x: f'{x/1000:.0f}k')
    ma, mb = statistics.median(a), statistics.median(b)
    print(f"| {w} | {pairs} | {size} | {'p99 µs' if hi else 'frames/s'} | **{fmt(ma)}**; {', '.join(fmt(x) for x in a)} | "
          f"**{fmt(mb)}**; {', '.join(fmt(x) for x in b)} | {mb/ma:.2f} | {p_value(a, b, hi):.2f} |")
