import json, statistics, sys
# p99 (µs) of 1-pair ping-pong per frame size: main vs wip/sched, cluster off and on; samples and median.
bases = sys.argv[1:]
cols = ['main-off', 'sched-off', 'main-on', 'sched-on']
data = {c: {} for c in cols}
for base in bases:
    for c in cols:
        for i in range(1, 4):
            try:
                rs = json.load(open(f'{base}/{c}-{i}/report.json'))['results']
            except FileNotFoundError:
                continue
            for x in rs:
                if x['workload'] == 'pingpong' and x.get('p99Us'):
                    data[c].setdefault(x['size'], []).append(x['p99Us'])
sizes = sorted(data['main-off'])
print('| frame | ' + ' | '.join(f'{c} (median; samples)' for c in cols) + ' |')
print('|---|' + '---|' * len(cols))
for s in sizes:
    cells = []
    for c in cols:
        v = data[c].get(s, [])
        cells.append(f'**{statistics.median(v):.0f}**; ' + ', '.join(f'{x:.0f}' for x in v) if v else '-')
    print(f'| {s} | ' + ' | '.join(cells) + ' |')
