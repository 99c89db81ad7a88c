#!/bin/bash
dll=/work/main/src/Backend.Host/bin/Release/net10.0/Backend.Host.dll
for i in 1 2 3 4 5; do
  for b in off on; do
    echo "$(date -u +%T) run $i $b load $(cut -d' ' -f1-3 /proc/loadavg)"
    if [ $b = on ]; then
      XNB_CLUSTER__ENABLED=true XNB_CLUSTER__PORT=4053 XNB_CLUSTER__SEEDS__0=akka.tcp://xnb@127.0.0.1:4053 dotnet $dll bench --output /work/notes/ab17c/$b-$i --backends daemon --workloads pingpong --pairs 1 --steady-seconds 0 --idle-guests 0 > /work/notes/ab17c/$b-$i.log 2>&1
    else
      dotnet $dll bench --output /work/notes/ab17c/$b-$i --backends daemon --workloads pingpong --pairs 1 --steady-seconds 0 --idle-guests 0 > /work/notes/ab17c/$b-$i.log 2>&1
    fi
  done
done
echo "$(date -u +%T) done"
