#!/bin/bash
# The daemon on real Xen 4.17 with stock Linux netfront guests, on ../shared/realxen (QEMU, TCG).
#
#   tests/realxen/run.sh [checks...]      default: all checks, in order
#
# Checks: setup boot package daemon pv pvh guest2guest bulk restart attach saverestore destroy kernel
# "package" builds the Debian package (deploy/build-deb.sh) and installs it in dom0 with dpkg -i, as an
# administrator would; the daemon then runs from what the package installed (/usr/bin/xnb, /etc/xnb).
# Each prints "CHECK <name> OK|FAIL <seconds>s <detail>"; the last line is "REALXEN <n> passed, <m> failed".
# Emulation makes the timings functional figures only. Environment: REALXEN (path of the test bed,
# default ../shared/realxen beside the repo), KEEP=1 leaves the test bed running at the end.
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
  if [ $rc = 0 ]; then passed=$((passed+1)); echo "$out" | grep '^SIDE-BY-SIDE'; echo "CHECK $name OK $(el "$t0")s ${out##*$'\n'}";
  else failed=$((failed+1)); echo "CHECK $name FAIL $(el "$t0")s"; echo "$out" | tail -25 | sed 's/^/    /'; fi
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
  "$D0" "rmmod xen-netback 2>/dev/null; cd /root; : > $LOG; $XNB > $LOG 2>&1 & echo \$! > /root/xnb.pid"
  for _ in $(seq 1 240); do "$D0" "grep -q '^READY' $LOG" && return 0; sleep 3; done
  "$D0" "tail -20 $LOG"; return 1
}
do_daemon() { start_daemon && "$D0" "grep -m1 ADMIN_URL $LOG"; }
do_pv() { GUEST_TIMEOUT=400 "$G" start domu/guest.cfg | grep -E '^(RESULT|TIME)' | tr '\n' ' '; }
do_pvh() { GUEST_TIMEOUT=400 "$G" start domu/guest-pvh.cfg | grep -E '^(RESULT|TIME)' | tr '\n' ' '; }
do_guest2guest() {
  "$G" exec guest 'ping -c 3 -W 5 10.99.0.4' | grep -q ' 0% packet loss' || { echo "PV -> PVH failed"; return 1; }
  "$G" exec guestpvh 'ping -c 3 -W 5 10.99.0.2' | grep -q ' 0% packet loss' || { echo "PVH -> PV failed"; return 1; }
  "$D0" 'ip link show master xenbr0 | grep -o "vif[0-9]*\.0" | tr "\n" " "; ping -c 3 -W 5 10.99.0.2 | tail -1'
}
# Bulk transfer of 4 MiB each way between dom0 and guest $1 at address $2, md5 compared. Prints
# "<dom0->guest s> <guest->dom0 s>", each timed by the sender (dom0 around socat, the guest around nc with
# its /proc/uptime), so the console round trips of the test bed are not in the figures.
bulk_with() {
  local guest="$1" ip="$2" want got
  "$D0" '[ -f /root/blob ] || { head -c 4194304 /dev/urandom > /root/blob; md5sum /root/blob | cut -d" " -f1 > /root/blob.md5; }'
  want="$("$D0" 'cat /root/blob.md5')"
  "$G" exec "$guest" 'rm -f /tmp/in /tmp/in.md5; (nc -l -p 5001 > /tmp/in; md5sum /tmp/in > /tmp/in.md5) & echo listening' >/dev/null
  # dom0 sends with socat: busybox nc exits at the end of its input and the rest of the stream was lost
  # (30 KB of 4 MiB arrived), while socat delivers it all (checked by hand, md5 equal both ways).
  local down; down="$("$D0" <<EOS
s=\$(date +%s.%N); socat -u FILE:/root/blob TCP:$ip:5001 || exit 1
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
  "$D0" 'rm -f /root/back /root/back.md5; (socat -u TCP-LISTEN:5002,reuseaddr CREATE:/root/back; md5sum /root/back | cut -d" " -f1 > /root/back.md5) > /dev/null 2>&1 & echo ok' >/dev/null
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
mibps() { awk "BEGIN{ if ($1 > 0) printf \"%.2f\", 4 / $1; else print \"?\" }"; }
SIDE="${TMPDIR:-/tmp}/xnb-realxen-side"
do_bulk() {
  local r; r="$(bulk_with guest 10.99.0.2)" || return 1
  set -- $r
  local rtt; rtt="$(rtt_to 10.99.0.2)"
  echo "$1 $2 $rtt" > "$SIDE.xnb"
  echo "4 MiB md5 equal both ways; dom0->guest $1 s ($(mibps "$1") MiB/s), guest->dom0 $2 s ($(mibps "$2") MiB/s); rtt $rtt ms"
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
  echo "daemon back in ${restart}s; pings ${before} -> ${after}; frontend stayed Connected"
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
do_kernel() { # the same ping and bulk transfer with the in-kernel netback in the same boot, side by side
  "$D0" 'kill $(cat /root/xnb.pid); sleep 2; true'
  # The package's modprobe.d file refuses xen-netback; set it aside for this check only.
  "$D0" 'mv /etc/modprobe.d/xnb.conf /root/xnb.conf.kernel-check'
  local out; out="$(KERNEL_NETBACK=1 GUEST_TIMEOUT=400 "$G" start domu/kernel-netback.cfg | grep -E '^(RESULT|TIME)' | tr '\n' ' ')"
  local ok=0 r rtt
  if r="$(bulk_with knb 10.99.0.11)"; then rtt="$(rtt_to 10.99.0.11)"; echo "$r $rtt" > "$SIDE.kernel"; ok=1; fi
  "$G" stop knb >/dev/null; sleep 3; "$D0" 'rmmod xen-netback; mv /root/xnb.conf.kernel-check /etc/modprobe.d/xnb.conf'
  start_daemon >/dev/null || { echo "daemon did not come back after the kernel netback"; return 1; }
  [ $ok = 1 ] || { echo "kernel netback: $out; bulk failed"; return 1; }
  [ -f "$SIDE.xnb" ] || { echo "no xnb figures (run the bulk check first)"; return 1; }
  local x k; read -r -a x < "$SIDE.xnb"; read -r -a k < "$SIDE.kernel"
  echo "SIDE-BY-SIDE   | kernel xen-netback | xnb"
  echo "SIDE-BY-SIDE rtt dom0->guest min/avg/max ms | ${k[2]} | ${x[2]}"
  echo "SIDE-BY-SIDE 4 MiB dom0->guest | ${k[0]} s, $(mibps "${k[0]}") MiB/s | ${x[0]} s, $(mibps "${x[0]}") MiB/s"
  echo "SIDE-BY-SIDE 4 MiB guest->dom0 | ${k[1]} s, $(mibps "${k[1]}") MiB/s | ${x[1]} s, $(mibps "${x[1]}") MiB/s"
  echo "kernel netback guest: $out"
}

all=(setup boot package daemon pv pvh guest2guest bulk restart attach saverestore destroy kernel)
for c in "${@:-${all[@]}}"; do check "$c" "do_$c"; done
[ "${KEEP:-0}" = 1 ] || "$R/stop.sh" >/dev/null 2>&1
echo "REALXEN $passed passed, $failed failed"
[ "$failed" = 0 ]
