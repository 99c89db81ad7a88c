#!/bin/bash
# Issue 17 A/B, alternating: main's Release build (Akka's hashed wheel scheduler) vs wip/sched's (DeadlineScheduler),
# cluster off and on, 1-pair ping-pong. Adapted from /work/notes/ab17/run.sh.
out=/tmp/sched-ab
declare -A dll=([main]=/work/main/src/Backend.Host/bin/Release/net10.0/Backend.Host.dll [sched]=/work/wt-sched/src/Backend.Host/bin/Release/net10.0/Backend.Host.dll)
for i in 1 2 3; do
  for b in off on; do
    for v in main sched; do
      echo "$(date -u +%T) run $i $v-$b load $(cut -d' ' -f1-3 /proc/loadavg)"
      if [ $b = on ]; then
        XNB_CLUSTER__ENABLED=true XNB_CLUSTER__PORT=4053 XNB_CLUSTER__SEEDS__0=akka.tcp://xnb@127.0.0.1:4053 dotnet ${dll[$v]} bench --output $out/$v-$b-$i --backends daemon --workloads pingpong --pairs 1 --steady-seconds 0 --idle-guests 0 > $out/$v-$b-$i.log 2>&1
      else
        dotnet ${dll[$v]} bench --output $out/$v-$b-$i --backends daemon --workloads pingpong --pairs 1 --steady-seconds 0 --idle-guests 0 > $out/$v-$b-$i.log 2>&1
      fi
    done
  done
done
echo "$(date -u +%T) done"
