import itertools, json, math, os, random, statistics, sys
# Summarises ab.sh: per cell the samples off and on, their medians, on/off, and a one-sided permutation test
# (the share of relabellings of the pooled samples whose on-minus-off median difference is at least the
# observed one in the "worse" direction: p99 higher, frames/s lower): every relabelling up to 200,000 of them
# (8 + 8 samples: 12,870), else 200,000 drawn at random with a fixed seed (16 + 16: 601 million).
out = sys.argv[1]
cells = {}
for name in sorted(os.listdir(out)):
    path = os.path.join(out, name, 'report.json')
    if not os.path.isfile(path):
        continue
    workload, c, _ = name.split('-')
    for r in json.load(open(path))['results']:
        if r.get('backend', 'daemon') != 'daemon':
            continue
        key = (workload, r['pairs'], r['size'])
        value = r['p99Us'] if workload == 'pingpong' else r['framesPerSecond']
        if value:
            cells.setdefault(key, {'off': [], 'on': []})[c].append(value)

def worse(off, on, higher_is_worse):
    d = statistics.median(on) - statistics.median(off)
    return d if higher_is_worse else -d

def p_value(off, on, higher_is_worse):
    pooled = off + on
    observed = worse(off, on, higher_is_worse)
    n, hits, total = len(off), 0, 0
    if math.comb(len(pooled), n) <= 200_000:
        relabellings = itertools.combinations(range(len(pooled)), n)
    else:
        rng = random.Random(17)
        relabellings = (rng.sample(range(len(pooled)), n) for _ in range(200_000))
    for idx in relabellings:
        s = set(idx)
        a = [pooled[i] for i in s]
        b = [pooled[i] for i in range(len(pooled)) if i not in s]
        total += 1
        if worse(a, b, higher_is_worse) >= observed - 1e-9:
            hits += 1
    return hits / total

print('| workload | pairs | frame | metric | off (median; samples) | on (median; samples) | on / off | p (on worse) |')
print('|---|---|---|---|---|---|---|---|')
for (w, pairs, size), v in sorted(cells.items()):
    off, on = v['off'], v['on']
    if not off or not on:
        continue
    hi = w == 'pingpong'
    fmt = (lambda x: f'{x:.0f}') if hi else (lambda x: f'{x/1000:.0f}k')
    mo, mn = statistics.median(off), statistics.median(on)
    print(f"| {w} | {pairs} | {size} | {'p99 µs' if hi else 'frames/s'} | **{fmt(mo)}**; {', '.join(fmt(x) for x in off)} | "
          f"**{fmt(mn)}**; {', '.join(fmt(x) for x in on)} | {mn/mo:.2f} | {p_value(off, on, hi):.2f} |")
