#!/bin/bash
# Issue 17: the data path with the cluster off and on, alternating, daemon only (main's Release build).
B=/work/main/src/Backend.Host/bin/Release/net10.0/Backend.Host.dll
for i in 1 2 3; do
  for c in off on; do
    echo "$(date -u +%T) run $i cluster $c load $(cut -d' ' -f1-3 /proc/loadavg)"
    if [ $c = on ]; then
      XNB_CLUSTER__ENABLED=true XNB_CLUSTER__PORT=4053 XNB_CLUSTER__SEEDS__0=akka.tcp://xnb@127.0.0.1:4053 \
        dotnet $B bench --output ab-$c-$i --backends daemon --workloads windowed,pingpong --steady-seconds 0 --idle-guests 0 > ab-$c-$i.log 2>&1
    else
      dotnet $B bench --output ab-$c-$i --backends daemon --workloads windowed,pingpong --steady-seconds 0 --idle-guests 0 > ab-$c-$i.log 2>&1
    fi
  done
done
echo done
