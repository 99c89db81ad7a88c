import json, statistics, sys
base = sys.argv[1] if len(sys.argv) > 1 else '/work/notes/ab13b'
runs = {'before': [], 'after': []}
for b in runs:
    for i in range(1, 6):
        try:
            runs[b].append(json.load(open(f'{base}/{b}-{i}/report.json'))['results'])
        except FileNotFoundError:
            pass
keys = [(x['workload'], x['pairs'], x['size']) for x in runs['before'][0]]
print('| workload | pairs | frame | before | after | after / before |')
print('|---|---|---|---|---|---|')
retries = {'before': 0, 'after': 0}
for k in keys:
    vals = {}
    for b in runs:
        v = []
        for rs in runs[b]:
            for x in rs:
                if (x['workload'], x['pairs'], x['size']) == k:
                    if k[0] == 'pingpong':
                        if x.get('p99Us'): v.append(x['p99Us'])
                        retries[b] += x.get('retries', 0)
                    else:
                        v.append(x['framesPerSecond'] / 1000)
        vals[b] = v
    mb, ma = statistics.median(vals['before']), statistics.median(vals['after'])
    ratio = (mb / ma) if k[0] == 'pingpong' else (ma / mb)
    unit = 'p99 µs' if k[0] == 'pingpong' else 'k/s'
    fmt = lambda v: ', '.join(f'{x:.0f}' for x in v)
    print(f'| {k[0]} ({unit}) | {k[1]} | {k[2]} | {fmt(vals["before"])} | {fmt(vals["after"])} | {ratio:.2f} |')
print('retries', retries)
