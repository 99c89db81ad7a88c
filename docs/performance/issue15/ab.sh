#!/bin/bash
# Issue 15: the bench's figures at one queue, before (BASE, main before multi-queue, the ctrl ring and multicast
# control) and after (NEW), alternating builds, daemon only.
#   ab.sh OUT [ROUNDS]   windowed and ping-pong, 1 and 32 pairs, 64 and 1500 B, ROUNDS times each build (default 4).
# Summarise with ../issue17/fleet-thread/ab.py-style medians: ab.py OUT.
out=${1:?output directory}; rounds=${2:-4}
declare -A dll=([base]=${BASE:-/work/base/src/Backend.Host/bin/Release/net10.0/Backend.Host.dll}
                [new]=${NEW:-/work/main/src/Backend.Host/bin/Release/net10.0/Backend.Host.dll})
mkdir -p "$out"
for i in $(seq 1 "$rounds"); do
  for b in base new; do
    echo "$(date -u +%T) $b-$i load $(cut -d' ' -f1-3 /proc/loadavg)"
    dotnet "${dll[$b]}" bench --output "$out/$b-$i" --backends daemon --workloads windowed,pingpong --pairs 1,32 \
      --sizes 64,1500 --steady-seconds 0 --idle-guests 0 > "$out/$b-$i.log" 2>&1
  done
done
echo "$(date -u +%T) done"
