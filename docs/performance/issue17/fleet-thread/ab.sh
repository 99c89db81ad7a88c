#!/bin/bash
# Issue 17, after decision 80 (the fleet on its own thread): one Release build, the cluster off and on, alternating.
#   ab.sh OUT [ROUNDS]   1-pair ping-pong at every size ROUNDS times each way (default 8), then windowed 32 x 64 B 3 times.
# Cluster on = one node seeding itself on loopback (XNB_CLUSTER__*), as the earlier A/Bs. Summarise with ab.py OUT.
out=${1:?output directory}; rounds=${2:-8}
dll=${DLL:-/work/main/src/Backend.Host/bin/Release/net10.0/Backend.Host.dll}
mkdir -p "$out"
run() { # name on|off args...
  local name=$1 c=$2; shift 2
  echo "$(date -u +%T) $name load $(cut -d' ' -f1-3 /proc/loadavg)"
  if [ "$c" = on ]; then
    XNB_CLUSTER__ENABLED=true XNB_CLUSTER__PORT=4053 XNB_CLUSTER__SEEDS__0=akka.tcp://xnb@127.0.0.1:4053 \
      dotnet "$dll" bench --output "$out/$name" --backends daemon --steady-seconds 0 --idle-guests 0 "$@" > "$out/$name.log" 2>&1
  else
    dotnet "$dll" bench --output "$out/$name" --backends daemon --steady-seconds 0 --idle-guests 0 "$@" > "$out/$name.log" 2>&1
  fi
}
for i in $(seq 1 "$rounds"); do
  for c in off on; do run "pingpong-$c-$i" $c --workloads pingpong --pairs 1; done
done
for i in $(seq 1 "${WINDOWED_ROUNDS:-3}"); do
  for c in off on; do run "windowed-$c-$i" $c --workloads windowed --pairs 32 --sizes 64; done
done
echo "$(date -u +%T) done"
