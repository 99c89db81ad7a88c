#!/bin/bash
for i in 1 2 3 4 5; do
  for b in before after; do
    if [ $b = before ]; then dll=/work/wt-base/src/Backend.Host/bin/Release/net10.0/Backend.Host.dll; else dll=/work/main/src/Backend.Host/bin/Release/net10.0/Backend.Host.dll; fi
    echo "$(date -u +%T) run $i $b load $(cut -d' ' -f1-3 /proc/loadavg)"
    dotnet $dll bench --output /work/notes/ab13c/$b-$i --backends daemon --workloads unpaced,pingpong --sizes 9000,65535 --steady-seconds 0 --idle-guests 0 > /work/notes/ab13c/$b-$i.log 2>&1
  done
done
echo "$(date -u +%T) done"
