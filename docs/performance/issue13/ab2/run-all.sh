#!/bin/bash
# Issue 13 A/B after the late-EOI fix: before (45ec101) and after (main 8416b50) alternating, daemon only.
for i in 1 2 3; do
  for b in before after; do
    if [ $b = before ]; then dll=/work/wt-base/src/Backend.Host/bin/Release/net10.0/Backend.Host.dll; else dll=/work/main/src/Backend.Host/bin/Release/net10.0/Backend.Host.dll; fi
    echo "$(date -u +%T) run $i $b load $(cut -d' ' -f1-3 /proc/loadavg)"
    dotnet $dll bench --output /work/notes/ab13b/$b-$i --backends daemon --workloads windowed,unpaced,pingpong --steady-seconds 0 --idle-guests 0 > /work/notes/ab13b/$b-$i.log 2>&1
  done
done
echo "$(date -u +%T) done"
