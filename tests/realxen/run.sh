#!/bin/bash
# The daemon on real Xen 4.17 with stock Linux netfront guests, on ../shared/realxen (QEMU, TCG).
#
#   tests/realxen/run.sh [checks...]      default: all checks, in order
#
# Checks: setup boot package daemon pv pvh guest2guest bulk rate multiqueue restart attach saverestore destroy kernel
# The PV and PVH guests get 2 vCPUs (a copy of the test bed's cfg, which has 1), so stock netfront asks for
# 2 queues; the daemon runs with MaxQueues=2 whatever dom0's core count. "multiqueue" checks that the PV
# guest connected with 2 queues, that a multi-flow transfer is intact (md5 per flow) and that /status
# shows traffic on both queues; "restart" then checks the 2 queues are re-attached unnoticed.
# "package" builds the Debian package (deploy/build-deb.sh) and installs it in dom0 with dpkg -i, as an
# administrator would; the daemon then runs from what the package installed (/usr/bin/xnb, /etc/xnb).
# Each prints "CHECK <name> OK|FAIL <seconds>s <detail>"; the last line is "REALXEN <n> passed, <m> failed".
# "kernel" is a measurement: in the same boot it alternates the kernel's xen-netback and xnb, ROUNDS rounds
# each (K X K X ...), one freshly created guest per round, and prints every sample (SAMPLE lines), the
# medians and their ratios (SIDE-BY-SIDE lines). It needs only the package installed (setup boot package).
# Emulation makes the timings functional figures only. Environment: REALXEN (path of the test bed,
# default ../shared/realxen beside the repo), KEEP=1 leaves the test bed running at the end; for "kernel":
# ROUNDS (5), PINGS (20, round trips per rtt sample), KERNEL_LOG (its raw log, default
# $REALXEN_BUILD/share/kernel-check.log: every ping, every timing, every guest start).
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
R="${REALXEN:-$(cd "$REPO/../shared/realxen" && pwd)}"
D0="$R/dom0run.sh"
G="$R/guest.sh"
DEBDIR="${DEBDIR:-/var/tmp/xnb-realxen-deb}"
XNB="/usr/bin/xnb --config /etc/xnb/xnb.json"
LOG=/mnt/host/xnb.log
passed=0; failed=0
now() { date +%s.%N; }
el() { awk "BEGIN{printf \"%.1f\", $(now) - $1}"; }
check() { # name, then a command; reports and counts
  local name="$1"; shift; local t0; t0=$(now)
  local out; out="$("$@" 2>&1)"; local rc=$?
  # Measurement lines (the kernel check's samples and medians) are printed whether the check passed or not.
  echo "$out" | grep -E '^(SAMPLE|SIDE-BY-SIDE|LOAD) '
  if [ $rc = 0 ]; then passed=$((passed+1)); echo "CHECK $name OK $(el "$t0")s ${out##*$'\n'}";
  else failed=$((failed+1)); echo "CHECK $name FAIL $(el "$t0")s"; echo "$out" | grep -vE '^(SAMPLE|SIDE-BY-SIDE|LOAD) ' | tail -25 | sed 's/^/    /'; fi
  return $rc
}

do_setup() {
  # lib.sh needs a Debian kernel on the host to exist before it can be sourced.
  ls /lib/modules 2>/dev/null | grep -q -- '-amd64$' || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends linux-image-amd64 >/dev/null
  # So does the hypervisor: on a fresh host lib.sh's `ls /boot/xen-*` fails under setup.sh's set -e
  # before setup.sh could install it. Name the file its packages step installs.
  ls /boot/xen-*-amd64.gz >/dev/null 2>&1 || export XEN_GZ=/boot/xen-4.17-amd64.gz
  local b; b="$(. "$R/lib.sh"; echo "$REALXEN_BUILD")"
  if [ -f "$b/dom0.img" ] && [ -f "$b/share/domu/initrd.gz" ]; then echo "cached in $b"; return 0; fi
  "$R/setup.sh"
}
do_boot() {
  local ctl; ctl="$(. "$R/lib.sh"; echo "$CTL")"
  if [ -f "$ctl/dom0-ready" ] && "$D0" true 2>/dev/null; then echo "already running"; return 0; fi
  "$R/boot.sh"
}
do_package() {
  local deb; deb="$("$REPO/deploy/build-deb.sh" -o "$DEBDIR" | tail -1)" && [ -f "$deb" ] || return 1
  "$D0" "[ -f /root/xnb.pid ] && kill \$(cat /root/xnb.pid) 2>/dev/null; sleep 1; true"
  local share; share="$(. "$R/lib.sh"; echo "$SHARE")"
  mkdir -p "$share" && cp "$deb" "$share/xnb.deb" || return 1
  # dom0 runs without systemd: postinst enables the unit but starts nothing; start_daemon runs it. Under
  # emulation unpacking 120 MB takes minutes.
  DOM0RUN_TIMEOUT=900 "$D0" "dpkg -i /mnt/host/xnb.deb > /root/dpkg.log 2>&1 || { tail -20 /root/dpkg.log; exit 1; }" || return 1
  echo "installed $("$D0" "dpkg-query -W -f='\${Package} \${Version} \${Status}' xnb") ($(du -h "$deb" | cut -f1))"
}
start_daemon() {
  "$D0" "rmmod xen-netback 2>/dev/null; cd /root; : > $LOG; XNB_MAXQUEUES=2 $XNB > $LOG 2>&1 & echo \$! > /root/xnb.pid"
  for _ in $(seq 1 240); do "$D0" "grep -q '^READY' $LOG" && return 0; sleep 3; done
  "$D0" "tail -20 $LOG"; return 1
}
do_daemon() { start_daemon && "$D0" "grep -m1 ADMIN_URL $LOG"; }
# The test bed's cfg $1 with 2 vCPUs (../shared stays as it is): its path, for guest.sh start.
two_vcpus() {
  local dir="${TMPDIR:-/tmp}/xnb-realxen-cfg"; mkdir -p "$dir"
  sed -e 's/^ *vcpus *=.*/vcpus = 2/' "$R/domu/$1.cfg" > "$dir/$1.cfg"
  grep -q '^vcpus = 2' "$dir/$1.cfg" || echo 'vcpus = 2' >> "$dir/$1.cfg"
  echo "$dir/$1.cfg"
}
do_pv() { GUEST_TIMEOUT=400 "$G" start "$(two_vcpus guest)" | grep -E '^(RESULT|TIME)' | tr '\n' ' '; }
do_pvh() { GUEST_TIMEOUT=400 "$G" start "$(two_vcpus guest-pvh)" | grep -E '^(RESULT|TIME)' | tr '\n' ' '; }
do_guest2guest() {
  "$G" exec guest 'ping -c 3 -W 5 10.99.0.4' | grep -q ' 0% packet loss' || { echo "PV -> PVH failed"; return 1; }
  "$G" exec guestpvh 'ping -c 3 -W 5 10.99.0.2' | grep -q ' 0% packet loss' || { echo "PVH -> PV failed"; return 1; }
  "$D0" 'ip link show master xenbr0 | grep -o "vif[0-9]*\.0" | tr "\n" " "; ping -c 3 -W 5 10.99.0.2 | tail -1'
}
# Bulk transfer of 4 MiB each way between dom0 and guest $1 at address $2, md5 compared. Prints
# "<dom0->guest s> <guest->dom0 s>", each timed on the sender's clock from its start until the receiver has
# the whole stream and closed the connection (dom0 around socat, the guest around nc with its
# /proc/uptime), so the console round trips of the test bed are not in the figures and neither direction
# stops its clock while the end of the stream still sits in its socket buffer.
bulk_with() {
  local guest="$1" ip="$2" want got
  "$D0" '[ -f /root/blob ] || { head -c 4194304 /dev/urandom > /root/blob; md5sum /root/blob | cut -d" " -f1 > /root/blob.md5; }'
  want="$("$D0" 'cat /root/blob.md5')"
  # The guest's busybox nc half-closes when its stdin ends and closes the connection when the stream
  # ends; its stdin is a FIFO it holds open itself (<>), which never ends, so it closes only once it has
  # read the whole stream. The listener is awaited before dom0 connects.
  "$G" exec "$guest" 'rm -f /tmp/in /tmp/in.md5 /tmp/hold; mkfifo /tmp/hold
(nc -l -p 5001 <> /tmp/hold > /tmp/in; md5sum /tmp/in > /tmp/in.md5) &
for i in $(seq 100); do netstat -ltn | grep -q ":5001 " && break; sleep 0.1; done; echo listening' >/dev/null
  # dom0 sends with socat: busybox nc exits at the end of its input and the rest of the stream was lost
  # (30 KB of 4 MiB arrived), while socat delivers it all (checked by hand, md5 equal both ways). socat
  # runs both ways (not -u): at the end of the file it half-closes and waits (-t) for the guest's nc to
  # close, i.e. until the guest has read everything; -T ends a stalled transfer (the md5 then tells).
  local down; down="$("$D0" <<EOS
s=\$(date +%s.%N); socat -t 120 -T 120 - TCP:$ip:5001 < /root/blob > /dev/null || exit 1
awk -v s="\$s" -v e="\$(date +%s.%N)" 'BEGIN{printf "%.2f", e - s}'
EOS
)" || { echo "socat to $ip failed" >&2; return 1; }
  # The receiver writes its md5 once its nc has seen the end of the stream: wait for it.
  got=""
  for _ in $(seq 1 20); do
    got="$("$G" exec "$guest" 'cat /tmp/in.md5 2>/dev/null' | grep -oE '^[0-9a-f]{32}' | head -1)"
    [ -n "$got" ] && break
    sleep 3
  done
  [ "$got" = "$want" ] || { echo "dom0 -> $guest md5 $got != $want; guest has $("$G" exec "$guest" 'wc -c < /tmp/in' | grep -oE '^[0-9]+' | tail -1) of 4194304 bytes" >&2; return 1; }
  # The guest's nc half-closes at the end of /tmp/in and exits when dom0's socat, having read the whole
  # stream, closes: its time covers the whole transfer.
  "$D0" 'rm -f /root/back /root/back.md5; (socat -u TCP-LISTEN:5002,reuseaddr CREATE:/root/back; md5sum /root/back | cut -d" " -f1 > /root/back.md5) > /dev/null 2>&1 &
for i in $(seq 100); do ss -ltn | grep -q ":5002 " && break; sleep 0.1; done; echo ok' >/dev/null
  local up; up="$("$G" exec "$guest" 'a=$(cut -d" " -f1 /proc/uptime); nc 10.99.0.1 5002 < /tmp/in; b=$(cut -d" " -f1 /proc/uptime); echo "UP $a $b"' | awk '/^UP /{printf "%.2f", $3 - $2}')"
  got=""
  for _ in $(seq 1 20); do
    got="$("$D0" 'cat /root/back.md5 2>/dev/null')"
    [ -n "$got" ] && break
    sleep 3
  done
  [ "$got" = "$want" ] || { echo "$guest -> dom0 md5 $got != $want; dom0 has $("$D0" 'wc -c < /root/back') of 4194304 bytes" >&2; return 1; }
  echo "$down $up"
}
# Round trip from dom0 to $1: "min/avg/max" in ms over 10 pings.
rtt_to() { "$D0" "ping -c 10 -i 0.3 $1 | sed -n 's#.*= \\([0-9.]*/[0-9.]*/[0-9.]*\\)/.*#\\1#p'"; }
mibps() { awk -v t="$1" 'BEGIN { if (t + 0 > 0) printf "%.2f", 4 / t; else print "-" }'; }
do_bulk() {
  local r; r="$(bulk_with guest 10.99.0.2)" || return 1
  set -- $r
  local rtt; rtt="$(rtt_to 10.99.0.2)"
  echo "4 MiB md5 equal both ways; dom0->guest $1 s ($(mibps "$1") MiB/s), guest->dom0 $2 s ($(mibps "$2") MiB/s); rtt $rtt ms"
}
# A guest whose vif config sets a rate is held to it (issue 15). libxl turns `rate=` into the backend's
# "rate" key (bytes per interval, interval in us); Linux netback limits the guest's transmit by it, and xnb
# limits its receive by the same figure too. The limit is 1 Mb/s, not 10: under emulation an unthrottled
# guest moves about 3.5 Mb/s (the bulk check), so a 10 Mb/s limit would never bind and the check could not
# fail. Each direction's 4 MiB must take at least the limit's time less 10 % (the credit the rate allows
# as a burst), and the figures are printed.
do_rate() {
  local mbit="${RATE_MBIT:-1}" dir cfg d key r
  dir="$(mktemp -d)"; cfg="$dir/guest-rate.cfg"
  sed -e 's/^name *=.*/name = "guestrate"/' -e 's#realxen\.ip=[^ "]*#realxen.ip=10.99.0.6/24#' \
      -e "s#'mac=[0-9a-f:]*,bridge=xenbr0'#'mac=00:16:3e:00:00:06,bridge=xenbr0,rate=${mbit}Mb/s'#" "$R/domu/guest.cfg" > "$cfg"
  grep -q "rate=${mbit}Mb/s" "$cfg" || { echo "could not set the rate in a copy of guest.cfg"; return 1; }
  local out; out="$(GUEST_TIMEOUT=400 "$G" start "$cfg" 2>&1)"
  echo "$out" | grep -q 'DOMU-PING-OK' || { echo "the rate-limited guest did not come up:"; echo "$out" | tail -15; "$G" log guestrate 2>/dev/null | tail -15; "$G" stop guestrate >/dev/null; return 1; }
  rm -rf "$dir"
  d="$("$D0" 'xl domid guestrate')"
  key="$("$D0" "xenstore-read /local/domain/0/backend/vif/$d/0/rate")"
  r="$(bulk_with guestrate 10.99.0.6)" || { "$G" stop guestrate >/dev/null; return 1; }
  "$G" stop guestrate >/dev/null
  set -- $r
  # 4 MiB = 33.55 Mbit.
  awk -v down="$1" -v up="$2" -v lim="$mbit" -v key="$key" 'BEGIN {
    rd = 33.554432 / down; ru = 33.554432 / up
    printf "rate key %s; guest->dom0 %.2f Mb/s, dom0->guest %.2f Mb/s against %s Mb/s\n", key, ru, rd, lim
    exit !(ru <= lim * 1.1 && rd <= lim * 1.1 && ru >= lim * 0.5) }'
}
# GET /status from dom0 (busybox wget: dom0 has no curl), on one line without the indentation (no value read
# here holds a space).
status_json() { "$D0" 'busybox wget -qO- http://127.0.0.1:8690/status' | tr -d '\n '; }
# The "queues" array of vif<domid>.0 in /status, or nothing (one queue, or no such vif).
vif_queues() { status_json | grep -oE "\"name\":\"vif$1\.0\"[^]]*\"queues\":\[[^]]*\]" | grep -oE '"queues":\[.*'; }
# Whether every queue in $1 (a "queues" array) has a nonzero value of field $2; prints the values.
every_queue() { local v; v="$(echo "$1" | grep -oE "\"$2\":[0-9]+" | cut -d: -f2 | tr '\n' ' ')"; echo "$v"; [ -n "$v" ] && ! echo " $v" | grep -q ' 0 '; }
do_multiqueue() { # the PV guest (2 vCPUs) on 2 queues: 4 flows at once intact, traffic on both queues
  local d; d="$("$D0" 'xl domid guest')"
  local n; n="$("$D0" "xenstore-read /local/domain/$d/device/vif/0/multi-queue-num-queues 2>/dev/null; true")"
  [ "$n" = 2 ] || { echo "the guest asked for '$n' queues, not 2 (max $("$D0" "xenstore-read /local/domain/0/backend/vif/$d/0/multi-queue-max-queues"))"; return 1; }
  "$D0" '[ -f /root/blob ] || { head -c 4194304 /dev/urandom > /root/blob; md5sum /root/blob | cut -d" " -f1 > /root/blob.md5; }'
  local want; want="$("$D0" 'cat /root/blob.md5')"
  # Four listeners, as bulk_with's (busybox nc on a FIFO it holds open), then four socat senders at once:
  # four TCP flows (different ports), which the flow hash spreads over the two queues.
  "$G" exec guest 'for p in 5011 5012 5013 5014; do rm -f /tmp/mf$p /tmp/mf$p.md5 /tmp/hold$p; mkfifo /tmp/hold$p
(nc -l -p $p <> /tmp/hold$p > /tmp/mf$p; md5sum /tmp/mf$p > /tmp/mf$p.md5) &
done
for i in $(seq 100); do [ $(netstat -ltn | grep -cE ":501[1-4] ") = 4 ] && break; sleep 0.1; done; echo listening' >/dev/null
  "$D0" 'for p in 5011 5012 5013 5014; do socat -t 120 -T 120 - TCP:10.99.0.2:$p < /root/blob > /dev/null & done; wait' || { echo "a socat to the guest failed"; return 1; }
  local got=""
  for _ in $(seq 1 30); do
    got="$("$G" exec guest 'cat /tmp/mf501[1-4].md5 2>/dev/null' | grep -oE '^[0-9a-f]{32}' | tr '\n' ' ')"
    [ "$(echo "$got" | wc -w)" = 4 ] && break
    sleep 3
  done
  for m in $got; do [ "$m" = "$want" ] || { echo "a flow's md5 $m != $want (all: $got)"; return 1; }; done
  [ "$(echo "$got" | wc -w)" = 4 ] || { echo "only $(echo "$got" | wc -w) of 4 flows finished: $got"; return 1; }
  local q; q="$(vif_queues "$d")"
  [ -n "$q" ] || { echo "/status has no queues for vif$d.0"; return 1; }
  [ "$(echo "$q" | grep -o '"queue":' | wc -l)" = 2 ] || { echo "/status queues: $q"; return 1; }
  local rx tx
  rx="$(every_queue "$q" rxPackets)" || { echo "a queue delivered nothing to the guest: rxPackets $rx"; return 1; }
  tx="$(every_queue "$q" txPackets)" || { echo "a queue took nothing from the guest: txPackets $tx"; return 1; }
  echo "2 queues; 4 flows of 4 MiB at once, md5 equal; per queue rxPackets $rx/ txPackets $tx"
}
do_restart() { # kill -9 mid-ping, restart: pings resume, frontend state never leaves 4
  local d; d="$("$D0" 'xl domid guest')"
  "$D0" "(xenstore-watch /local/domain/$d/device/vif/0/state > /root/festate.log 2>&1 &) ; echo"
  "$G" exec guest '(ping -c 100000 -i 0.5 10.99.0.1 > /tmp/ping.log 2>&1 &); echo started' >/dev/null
  sleep 10
  "$D0" 'kill -9 $(cat /root/xnb.pid)'
  local t0; t0=$(now)
  start_daemon || return 1
  local restart; restart=$(el "$t0")
  sleep 15
  local before after
  before="$("$G" exec guest 'grep -c "bytes from" /tmp/ping.log')"
  sleep 10
  after="$("$G" exec guest 'grep -c "bytes from" /tmp/ping.log')"
  before="$(echo "$before" | grep -oE '^[0-9]+' | tail -1)"; after="$(echo "$after" | grep -oE '^[0-9]+' | tail -1)"
  "$G" exec guest 'killall ping; echo' >/dev/null
  [ "${after:-0}" -gt "${before:-0}" ] || { echo "pings did not resume ($before -> $after)"; return 1; }
  local states; states="$("$D0" 'pkill xenstore-watch; sort -u /root/festate.log | tr "\n" " "')"
  "$D0" "[ \$(xenstore-read /local/domain/$d/device/vif/0/state) = 4 ]" || { echo "frontend not Connected"; return 1; }
  # xenstore-watch prints the path once per event; one line means only its initial event fired.
  [ "$("$D0" 'wc -l < /root/festate.log')" -le 1 ] || { echo "frontend state changed: $states"; return 1; }
  # The guest's 2 queues were re-attached, both serving again (pings go on whichever queue their flow hashes to; a
  # queue's indices in /status are those of the new ring actors, which resume at rsp_prod: nonzero once attached).
  local q; q="$(vif_queues "$d")"
  [ "$(echo "$q" | grep -o '"queue":' | wc -l)" = 2 ] || { echo "after the restart /status queues: ${q:-none}"; return 1; }
  echo "daemon back in ${restart}s; pings ${before} -> ${after}; frontend stayed Connected on 2 queues"
}
do_attach() { # a second vif detached and attached three times
  for i in 1 2 3; do
    "$D0" 'xl network-attach guest mac=00:16:3e:00:01:02 bridge=xenbr0' || { echo "attach $i failed"; return 1; }
    "$D0" 'xl network-list guest | grep -c "^1 "' | grep -q 1 || { echo "attach $i: no vif 1"; return 1; }
    "$D0" 'xl network-detach guest 1' || { echo "detach $i failed"; return 1; }
  done
  "$D0" 'ip link show | grep -c "vif[0-9]*\.1" || true' | grep -q '^0$' || { echo "a vif*.1 TAP is left"; return 1; }
  echo "3 attach/detach cycles"
}
do_saverestore() {
  "$D0" 'xl save guest /root/guest.save && xl restore /root/guest.save' >/dev/null || return 1
  sleep 20
  "$G" exec guest 'ping -c 3 -W 5 10.99.0.1' | grep -q ' 0% packet loss' || { echo "no network after restore"; return 1; }
  echo "restored as domid $("$D0" 'xl domid guest')"
}
do_destroy() {
  local pid; pid="$("$D0" 'cat /root/xnb.pid')"
  "$G" stop guest >/dev/null; "$G" stop guestpvh >/dev/null; sleep 10
  "$D0" "ls /sys/class/net | grep -E '^vif' && exit 1; grep -c gntdev /proc/$pid/maps && exit 1; true" || { echo "TAP or grant mapping left"; return 1; }
  "$D0" "xnb status --config /etc/xnb/xnb.json" | grep -q ', 0 vif(s)' || { echo "status still lists vifs"; return 1; }
  echo "no TAP, no gntdev mapping, no vif in status"
}
# ---- kernel: the kernel's xen-netback and xnb side by side, alternated in one boot ----
ROUNDS="${ROUNDS:-5}"
PINGS="${PINGS:-20}"
KLOG=/dev/null
KWORK=""
klog() { echo "$*" >> "$KLOG"; echo "$*" >&2; }
stop_daemon() { # SIGTERM, then wait until the process is gone (SIGKILL after 60 s); the pid must be xnb's
  "$D0" 'p=$(cat /root/xnb.pid 2>/dev/null) && kill -0 "$p" 2>/dev/null && grep -q xnb "/proc/$p/cmdline" || exit 0
kill "$p"; for i in $(seq 120); do kill -0 "$p" 2>/dev/null || exit 0; sleep 0.5; done
kill -9 "$p"; sleep 1; echo "xnb did not stop within 60 s of SIGTERM: killed"'
}
# One rtt sample from dom0 to $1: 5 unmeasured round trips (the warm-up, see do_kernel), then
# $PINGS answered ones (-w: a lost one is sent again, and shows as sent > answered). Prints
# "<answered> <sent> <min> <p50> <avg> <max>" (ms); the round trips go to $KWORK/round.rtt, one a line, and
# the raw ping output to the log.
rtt_sample() {
  local raw; raw="$("$D0" "ping -q -c 5 -i 0.2 -W 2 $1 > /dev/null 2>&1; ping -c $PINGS -w $((PINGS * 3 + 30)) -i 0.2 $1")"
  printf '%s\n' "$raw" >> "$KLOG"
  printf '%s\n' "$raw" | grep -v DUP | sed -n 's/.* time=\([0-9.]*\) ms.*/\1/p' | tee "$KWORK/round.rtt" | sort -g |
    awk -v sent="$(printf '%s\n' "$raw" | sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p')" '
      { v[NR] = $1; s += $1 }
      END { if (!NR) { print 0, sent + 0, "-", "-", "-", "-"; exit }
            printf "%d %d %.3f %.3f %.3f %.3f\n", NR, sent, v[1], NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2, s / NR, v[NR] }'
}
# Median of the numbers on stdin, one a line, printed with format $1 (default %.3f; "-" if there are none).
median() { sort -g | awk -v f="${1:-%.3f}" '{ v[NR] = $1 } END { if (!NR) { print "-"; exit } printf f, NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "-" && b != "-" && b > 0) printf "%.2f", a / b; else print "-" }'; }
# Starts the round's guest (guest.sh start "$@", environment as given). Once more if libxl killed the vif's
# hotplug script for its timeout: that script (the stock vif-bridge, a bash script forking ip and xenstore
# tools under emulation) runs alike for either backend and overran its time under host load (load average
# ~30: "killing execution of /etc/xen/scripts/vif-bridge online because of timeout", xl create rc 3). The
# retry is marked (RETRY, and on the SAMPLE line). Any other failure, xnb missing libxl's InitWait deadline
# included, stays a failure of the sample.
start_round_guest() {
  local out rc
  out="$("$G" start "$@" 2>&1)"; rc=$?
  printf '%s\n' "$out"
  [ $rc = 3 ] && grep -q 'vif-bridge online because of timeout' <<< "$out" || return $rc
  echo "RETRY libxl killed the hotplug script for its timeout; xl create once more"
  "$G" stop "$name" > /dev/null 2>&1 # xl create destroyed it already; in case it did not
  "$G" start "$@" 2>&1
}
# Round $1 on backend $2 (kernel | xnb): switch dom0 to that backend, create its guest (fresh: a vif cannot
# change backends under a running netfront here), take one rtt and one bulk sample, destroy the guest. Prints
# the SAMPLE line. Returns 0, 1 if a sample did not run or a transfer was not intact (the next round can
# still run), 2 if switching failed and the test bed is in a state no further round should run in.
kernel_round() {
  local n="$1" be="$2" t0 t1 cfg name ip out rc up
  t0=$(now)
  if [ "$be" = kernel ]; then
    cfg=domu/kernel-netback.cfg name=knb ip=10.99.0.11
    # xnb would claim the vif as well: stop it. The package's modprobe.d file refuses xen-netback: it is set
    # aside while this round runs.
    out="$(stop_daemon)" || { klog "round $n: could not stop xnb: $out"; return 2; }
    [ -z "$out" ] || klog "round $n: $out"
    "$D0" '[ ! -f /etc/modprobe.d/xnb.conf ] || mv /etc/modprobe.d/xnb.conf /root/xnb.conf.kernel-check' || return 2
    out="$(KERNEL_NETBACK=1 GUEST_TIMEOUT=400 start_round_guest "$cfg")"; rc=$?
  else
    cfg=domu/guest.cfg name=guest ip=10.99.0.2
    # xen-netback is unloaded (the kernel round checked it); xnb is started and awaited until READY.
    start_daemon >> "$KLOG" 2>&1 || { klog "round $n: xnb did not become READY"; return 2; }
    out="$(GUEST_TIMEOUT=400 start_round_guest "$cfg")"; rc=$?
  fi
  printf 'round %d (%s): guest start rc %d\n%s\n' "$n" "$be" "$rc" "$out" >> "$KLOG"
  up=$(el "$t0"); t1=$(now)
  local ok=1 rtt="0 0 - - - -" r="" bootping=""
  # DOMU-PING-FAIL: the guest is up, but its 3 pings at boot went before its backend connected (seen with
  # xnb under host load: rings mapped 74 s after the backend directory appeared, the guest's pings long
  # gone). That is the pv check's matter; here the samples are still taken, once the guest answers, and
  # the SAMPLE line says so.
  if [ $rc = 1 ] && grep -q '^RESULT DOMU-PING-FAIL' <<< "$out"; then
    rc=0; bootping="; the guest's boot pings failed (backend connected later)"; echo "$be" >> "$KWORK/bootping"
  fi
  if [ $rc != 0 ]; then
    ok=0; klog "round $n ($be): the guest did not come up: $(echo "$out" | grep -E '^RESULT' | head -1)"
  elif ! "$D0" "for i in \$(seq 60); do ping -c 1 -W 2 $ip > /dev/null && exit 0; done; exit 1"; then
    ok=0; klog "round $n ($be): the guest did not answer a ping within 120 s of its start"
  else
    rtt="$(rtt_sample "$ip")"
    set -- $rtt
    [ "$1" -ge "$PINGS" ] || { ok=0; klog "round $n ($be): $1 of $PINGS round trips answered"; }
    r="$(bulk_with "$name" "$ip" 2> "$KWORK/bulk.err")" || { ok=0; r=""; }
    [ -s "$KWORK/bulk.err" ] && klog "round $n ($be): $(cat "$KWORK/bulk.err")"
  fi
  local measured; measured=$(el "$t1")
  # Teardown: the guest goes; the kernel's module is unloaded once its vif is gone (xl destroy returns
  # before that), and the modprobe.d file comes back. xnb keeps running: the next kernel round stops it.
  "$G" stop "$name" >> "$KLOG" 2>&1
  "$D0" "! xl domid $name > /dev/null 2>&1" || { klog "round $n: guest $name still exists after xl destroy"; return 2; }
  if [ "$be" = kernel ]; then
    "$D0" 'for i in $(seq 60); do grep -q "^xen_netback " /proc/modules || break; rmmod xen-netback 2>/dev/null && break; sleep 0.5; done
mv /root/xnb.conf.kernel-check /etc/modprobe.d/xnb.conf 2>/dev/null
! grep -q "^xen_netback " /proc/modules' || { klog "round $n: xen-netback still loaded 30 s after its guest was destroyed"; return 2; }
  else
    "$D0" "cp $LOG /mnt/host/xnb-kernel-check-round-$n.log" # the daemon's log of this round, for a failure
  fi
  local total; total=$(el "$t0")
  echo "$be $total" >> "$KWORK/rounds"
  set -- $rtt
  local down="-" upl="-"
  [ -n "$r" ] && { down="${r% *}"; upl="${r#* }"; }
  # Only a sample that ran whole counts towards the medians.
  [ $ok = 1 ] && { echo "$5 $(mibps "$down") $(mibps "$upl")" >> "$KWORK/$be.samples"; cat "$KWORK/round.rtt" >> "$KWORK/$be.rtt"; }
  local line retry=""
  grep -q '^RETRY' <<< "$out" && { retry="; guest created at the 2nd try (hotplug script timeout)"; echo "$be" >> "$KWORK/retries"; }
  line="$(printf 'SAMPLE %2d %-6s rtt ms min/p50/avg/max %s/%s/%s/%s (%s answered of %s sent) | 4 MiB dom0->guest %s s, %s MiB/s | guest->dom0 %s s, %s MiB/s | %s | round %s s (guest up %s s, samples %s s%s)' \
    "$n" "$be" "$3" "$4" "$5" "$6" "$1" "$2" "$down" "$(mibps "$down")" "$upl" "$(mibps "$upl")" \
    "$([ $ok = 1 ] && echo 'md5 equal both ways' || echo FAILED)" "$total" "$up" "$measured" "$retry$bootping")"
  echo "$line"; echo "$line" >> "$KLOG"
  [ $ok = 1 ]
}
# The kernel's xen-netback and xnb side by side in the same boot, as a measurement: ROUNDS rounds of each,
# alternated K X K X ... (the kernel first: the check then ends on an xnb round and leaves xnb running as
# the other checks expect, with no extra restart; and a load that drifts during the check weighs on both
# backends' rounds alike, rather than on a block of one). Each round creates its guest afresh (switching
# netbacks means stopping xnb or unloading the module, and a vif cannot change backends under a live
# netfront). Every round: 5 unmeasured round trips (the fresh guest and a freshly started daemon have
# cold paths; the same warm-up for both backends), then an rtt sample of $PINGS round trips and a 4 MiB
# bulk sample each way (md5 checked). dom0 keeps no TCP metrics between connections, so no sample inherits
# a congestion window from the one before. The check passes when every sample ran and every transfer was
# intact; the medians and their ratios are reported, not asserted.
do_kernel() {
  local share; share="$(. "$R/lib.sh"; echo "$SHARE")"
  KLOG="${KERNEL_LOG:-$share/kernel-check.log}"
  KWORK="$(mktemp -d "${TMPDIR:-/tmp}/xnb-realxen-kernel.XXXXXX")"
  local t0; t0=$(now)
  : > "$KLOG"
  klog "kernel check $(date -u +%FT%TZ): $ROUNDS rounds each, K X K X ..., $PINGS round trips per rtt sample"
  local load; load="LOAD start $(date -u +%TZ): host $(uptime | sed 's/.*load average/load average/'); dom0 load average $("$D0" 'cut -d" " -f1-3 /proc/loadavg')"
  echo "$load"; echo "$load" >> "$KLOG"
  # No guest of an earlier check may stay: the kernel's netback would claim its vif when loaded.
  "$D0" 'for g in $(xl list | awk "NR > 2 { print \$1 }"); do xl destroy "$g" && echo "destroyed the leftover guest $g"; done
sysctl -n net.ipv4.tcp_no_metrics_save > /root/no_metrics_save.orig; sysctl -qw net.ipv4.tcp_no_metrics_save=1; ip tcp_metrics flush all 2>/dev/null
[ -f /root/blob ] || { head -c 4194304 /dev/urandom > /root/blob; md5sum /root/blob | cut -d" " -f1 > /root/blob.md5; }; true' >> "$KLOG" 2>&1
  local i be n=0 bad=0 fatal=0 rc
  for i in $(seq 1 "$ROUNDS"); do
    for be in kernel xnb; do
      n=$((n + 1))
      kernel_round "$n" "$be"; rc=$?
      [ $rc = 0 ] || bad=$((bad + 1))
      [ $rc = 2 ] && { fatal=1; klog "no further round: the test bed could not be switched cleanly"; break 2; }
    done
  done
  # Leave the test bed as the other checks expect it: the modprobe.d file back, xen-netback unloaded, xnb
  # running (it is, after a last xnb round; not after a failed switch).
  "$D0" 'mv /root/xnb.conf.kernel-check /etc/modprobe.d/xnb.conf 2>/dev/null; sysctl -qw net.ipv4.tcp_no_metrics_save=$(cat /root/no_metrics_save.orig); true'
  if ! "$D0" 'p=$(cat /root/xnb.pid 2>/dev/null) && kill -0 "$p" 2>/dev/null && grep -q xnb "/proc/$p/cmdline"'; then
    "$D0" 'xl list | awk "NR > 2 { print \$1 }" | xargs -r -n1 xl destroy; for i in $(seq 60); do grep -q "^xen_netback " /proc/modules || break; rmmod xen-netback 2>/dev/null && break; sleep 0.5; done' >> "$KLOG" 2>&1
    start_daemon >> "$KLOG" 2>&1 || { klog "the daemon did not come back after the kernel netback"; fatal=1; }
  fi
  load="LOAD end $(date -u +%TZ): host $(uptime | sed 's/.*load average/load average/'); dom0 load average $("$D0" 'cut -d" " -f1-3 /proc/loadavg')"
  echo "$load"; echo "$load" >> "$KLOG"
  touch "$KWORK/kernel.samples" "$KWORK/xnb.samples" "$KWORK/kernel.rtt" "$KWORK/xnb.rtt"
  local kn xn; kn=$(wc -l < "$KWORK/kernel.samples"); xn=$(wc -l < "$KWORK/xnb.samples")
  local k x
  {
    echo "SIDE-BY-SIDE medians of $kn kernel and $xn xnb samples | kernel xen-netback | xnb | xnb / kernel"
    k=$(cut -d' ' -f1 "$KWORK/kernel.samples" | median); x=$(cut -d' ' -f1 "$KWORK/xnb.samples" | median)
    echo "SIDE-BY-SIDE rtt dom0->guest, mean of a sample's $PINGS round trips, ms | $k | $x | $(ratio "$x" "$k")"
    k=$(median < "$KWORK/kernel.rtt"); x=$(median < "$KWORK/xnb.rtt")
    echo "SIDE-BY-SIDE rtt dom0->guest, every round trip pooled ($(wc -l < "$KWORK/kernel.rtt") kernel, $(wc -l < "$KWORK/xnb.rtt") xnb), ms | $k | $x | $(ratio "$x" "$k")"
    k=$(cut -d' ' -f2 "$KWORK/kernel.samples" | median %.2f); x=$(cut -d' ' -f2 "$KWORK/xnb.samples" | median %.2f)
    echo "SIDE-BY-SIDE 4 MiB dom0->guest, MiB/s | $k | $x | $(ratio "$x" "$k")"
    k=$(cut -d' ' -f3 "$KWORK/kernel.samples" | median %.2f); x=$(cut -d' ' -f3 "$KWORK/xnb.samples" | median %.2f)
    echo "SIDE-BY-SIDE 4 MiB guest->dom0, MiB/s | $k | $x | $(ratio "$x" "$k")"
  } | tee -a "$KLOG"
  local rounds; rounds="$(awk '{ n[$1]++; s[$1] += $2; if (!($1 in lo) || $2 < lo[$1]) lo[$1] = $2; if ($2 > hi[$1]) hi[$1] = $2 }
    END { for (b in n) printf "%s%s rounds %.0f-%.0f s (mean %.0f)", sep++ ? ", " : "", b, lo[b], hi[b], s[b] / n[b] }' "$KWORK/rounds" 2>/dev/null)"
  local retries; retries="$(sort "$KWORK/retries" 2>/dev/null | uniq -c | awk '{ printf "%s%d %s", (NR > 1 ? ", " : ""), $1, $2 }')"
  local bootpings; bootpings="$(sort "$KWORK/bootping" 2>/dev/null | uniq -c | awk '{ printf "%s%d %s", (NR > 1 ? ", " : ""), $1, $2 }')"
  rounds="${rounds}; guests created at a 2nd try: ${retries:-none}; boot pings failed: ${bootpings:-none}"
  rm -rf "$KWORK"
  local want=$((2 * ROUNDS))
  if [ $bad = 0 ] && [ $fatal = 0 ] && [ $((kn + xn)) = $want ]; then
    klog "$want samples ($ROUNDS kernel, $ROUNDS xnb, alternated), every one ran and every transfer was intact; ${rounds}; check $(el "$t0") s; raw log $KLOG"
    return 0
  fi
  klog "$((want - kn - xn)) of $want samples failed or did not run; ${rounds}; check $(el "$t0") s; raw log $KLOG"
  return 1
}

all=(setup boot package daemon pv pvh guest2guest bulk rate multiqueue restart attach saverestore destroy kernel)
for c in "${@:-${all[@]}}"; do check "$c" "do_$c"; done
[ "${KEEP:-0}" = 1 ] || "$R/stop.sh" >/dev/null 2>&1
echo "REALXEN $passed passed, $failed failed"
[ "$failed" = 0 ]
