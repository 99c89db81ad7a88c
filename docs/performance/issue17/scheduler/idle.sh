#!/bin/bash
# Idle daemon (--demo 0), cluster off vs on: CPU ticks, context switches, GC counts over 20 s.
dll=${1:-/work/wt-sched/src/Backend.Host/bin/Release/net10.0/Backend.Host.dll}
measure() {
  local label=$1; shift
  env "$@" dotnet $dll --demo 0 --log-level Warning > /tmp/ci-$label.log 2>&1 &
  local pid=$!
  sleep 8
  read -r u1 s1 < <(awk '{print $14, $15}' /proc/$pid/stat)
  c1=$(cat /proc/$pid/task/*/status | awk '/ctxt_switches/{s+=$2} END{print s}')
  t1=$(ls /proc/$pid/task | wc -l)
  sleep 20
  read -r u2 s2 < <(awk '{print $14, $15}' /proc/$pid/stat)
  c2=$(cat /proc/$pid/task/*/status | awk '/ctxt_switches/{s+=$2} END{print s}')
  t2=$(ls /proc/$pid/task | wc -l)
  echo "$label: cpu ticks/20s $(( (u2-u1)+(s2-s1) )) (user $((u2-u1)) sys $((s2-s1))) ctxsw/20s $((c2-c1)) threads $t1->$t2"
  # per-thread busiest
  for t in /proc/$pid/task/*; do n=$(cat $t/comm); a=$(awk '{print $14+$15}' $t/stat); echo "$a $n"; done | sort -rn | head -6 | sed 's/^/   /'
  kill -TERM $pid; wait $pid 2>/dev/null
}
measure off XNB_CLUSTER__ENABLED=false
#measure on XNB_CLUSTER__ENABLED=true XNB_CLUSTER__PORT=4053 XNB_CLUSTER__SEEDS__0=akka.tcp://xnb@127.0.0.1:4053
measure on-config XNB_CLUSTER__ENABLED=true XNB_CLUSTER__PORT=4053 XNB_CLUSTER__SEEDS__0=akka.tcp://xnb@127.0.0.1:4053
