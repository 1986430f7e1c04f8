#!/usr/bin/env bash
# SPDX-License-Identifier: LicenseRef-veil-proprietary
# The dpdk driver's lab on a live interface: a veth pair between two
# network namespaces of its own, no NIC, no hugepages. Needs root.
#
#   sudo bash platform/lab/veth.sh [DIR]
#
# Namespace "veil-lab-app-PID" is the appliance: veil-dataplane's dpdk
# driver on the veth end vlab0 (DPDK's net_pcap vdev on a live interface)
# and its exception interface (a TAP, veil-lab), through which the
# namespace's kernel answers ARP and ping. Namespace "veil-lab-peer-PID"
# is the network: the other end vlab1 (192.0.2.1), a firewall sending
# syslog over UDP with logger, and a collector (a few lines of Python on
# 192.0.2.1:5514) that gets the anonymized lines. veil-controld (a state
# of its own, tenant "lab") runs in the host's namespace: the link is a
# Unix socket. Then a token is resolved with veilctl and the dataplane's
# summary must account for every line. The namespaces (and with them the
# veth pair and the TAP) and the processes are removed at the end, also
# on failure; the files stay in DIR (default: a new /tmp/veil-lab.XXXXXX).
# Exits 1 with the reason when a step fails. docs/network-dpdk.md, "In a
# lab".
set -euo pipefail
# shellcheck source=platform/lab/lib.sh disable=SC2034
. "$(dirname "$0")/lib.sh"
N=${N:-10} # lines
APP=veil-lab-app-$$
PEER=veil-lab-peer-$$

[ "$(id -u)" -eq 0 ] || fail "run as root: it makes network namespaces, a veth pair and a TAP"
[ -e /dev/net/tun ] || fail "no /dev/net/tun: the exception interface is a TAP"
for c in ip logger; do
	command -v $c >/dev/null || fail "no $c (Debian: iproute2, bsdutils)"
done
need_programs
workdir "${1:-}"

cleanup() {
	stop_all
	ip netns del "$APP" 2>/dev/null || true
	ip netns del "$PEER" 2>/dev/null || true
	echo "removed the namespaces $APP and $PEER; the files are in $D"
}
trap cleanup EXIT
echo "lab (veth) in $D, programs from $(dirname "$DATAPLANE")"
app() { run ip netns exec "$APP" "$@"; }
peer() { run ip netns exec "$PEER" "$@"; }

say "two namespaces and a veth pair: vlab0 (the port) in $APP, vlab1 in $PEER"
run ip netns add "$APP"
run ip netns add "$PEER"
run ip link add vlab0 netns "$APP" type veth peer name vlab1 netns "$PEER"
# vlab0 stands for a port the kernel does not own: no address, and it must
# not answer ARP for the TAP's addresses itself
app sysctl -qw net.ipv4.conf.vlab0.arp_ignore=8
app sysctl -qw net.ipv6.conf.vlab0.disable_ipv6=1
app ip link set vlab0 up
app ip link set lo up
peer ip addr add 192.0.2.1/24 dev vlab1
peer ip link set vlab1 up
peer ip link set lo up
# a veth leaves UDP checksums to offload: the port would see them wrong
# (drop_bad_udp_checksum). Have the kernel compute them (ethtool -K vlab1
# tx off, without needing ethtool).
printf '$ ip netns exec %s ethtool -K vlab1 tx off   (SIOCETHTOOL from Python)\n' "$PEER"
ip netns exec "$PEER" "$PYTHON" -c '
import array, fcntl, socket, struct, sys
ev = array.array("I", [0x17, 0])  # ETHTOOL_STXCSUM: off
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
fcntl.ioctl(s.fileno(), 0x8946, struct.pack("16sP", b"vlab1", ev.buffer_info()[0]))' ||
	fail "cannot turn vlab1's checksum offload off"

say "the config: controld's part, the dpdk driver on net_pcap0, tenant lab's senders"
{
	controld_conf
	cat <<EOF
[network]
driver = dpdk

[port lab]
device    = net_pcap0
address   = 192.0.2.10/24
udp_ports = 514
; the TAP: the kernel of $APP answers ARP and ping for 192.0.2.10
exception = veil-lab

[upstream collector]
protocol = udp
address  = 192.0.2.1:5514

[source fw]
tenant   = lab
networks = 192.0.2.0/24
EOF
} >"$D/veil.conf"
cat "$D/veil.conf"

start_controld lab

say "the collector in $PEER: 192.0.2.1:5514, what it gets in $D/collected.log"
printf '$ ip netns exec %s %s -u -c COLLECTOR > %s &\n' "$PEER" "$PYTHON" "$D/collected.log"
ip netns exec "$PEER" "$PYTHON" -u -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("192.0.2.1", 5514))
while True:
    d, a = s.recvfrom(65535)
    print("%s:%d %s" % (a[0], a[1], d.decode(errors="replace")))' >"$D/collected.log" &
PIDS+=($!)

say "check the config"
run "$DATAPLANE" -n -c "$D/veil.conf" || fail "the config was refused"

say "veil-dataplane in $APP on vlab0"
LCORES=$(eal_lcores)
printf '$ %s\n' "ip netns exec $APP $DATAPLANE --no-huge -m 512 --no-pci --no-shconf \\
    --lcores $LCORES --vdev=net_pcap0,rx_iface_in=vlab0,tx_iface=vlab0 \\
    -- -c $D/veil.conf 2> $D/dataplane.log &"
ip netns exec "$APP" "$DATAPLANE" --no-huge -m 512 --no-pci --no-shconf \
	--lcores "$LCORES" --vdev=net_pcap0,rx_iface_in=vlab0,tx_iface=vlab0 \
	-- -c "$D/veil.conf" 2>"$D/dataplane.log" &
DP_PID=$!
# running once the TAP has the port's address
for _ in $(seq 300); do
	ip netns exec "$APP" ip addr show veil-lab 2>/dev/null | grep -q 192.0.2.10/24 && break
	kill -0 "$DP_PID" 2>/dev/null || fail "veil-dataplane stopped: $(tail -20 "$D/dataplane.log")"
	sleep 0.1
done
app ip addr show veil-lab || fail "no exception interface veil-lab after 30 s"

say "the kernel answers for 192.0.2.10 through the TAP"
peer ping -c 2 -W 2 192.0.2.10 || fail "no answer to ping 192.0.2.10"

say "$N syslog lines from $PEER with logger (UDP to 192.0.2.10:514)"
: >"$D/names.txt"
for i in $(seq "$N"); do
	u=user$i h=WKS-$((100 + i))
	printf '%s\n%s\n' "$u" "$h" >>"$D/names.txt"
	peer logger -d -n 192.0.2.10 -P 514 --rfc5424 -t firewall \
		"CEF:0|Acme|Firewall|1.0|100|login|5|src=10.0.0.$i suser=$u shost=$h"
done

say "the collector's lines"
for _ in $(seq 300); do
	[ "$(wc -l <"$D/collected.log")" -ge "$N" ] && break
	sleep 0.1
done
cat "$D/collected.log"
[ "$(wc -l <"$D/collected.log")" -eq "$N" ] ||
	fail "the collector got $(wc -l <"$D/collected.log") of $N lines in 30 s"
wait_written "$N" 30
ctl stats
stop_dataplane "$N"
no_plaintext "$D/names.txt" "$D/collected.log"
resolve_one "$D/collected.log" lab

say "done: every line anonymized, delivered and accounted for"
