#!/usr/bin/env bash
# SPDX-License-Identifier: LicenseRef-veil-proprietary
# The dpdk driver's lab on pcap files: no NIC, no hugepages, no network.
#
#   bash platform/lab/pcap.sh [DIR]
#
# veil-controld with a state of its own and a tenant "lab"; a pcap file of
# syslog datagrams (CEF lines, a user and a host each) that veil-dataplane
# reads through DPDK's net_pcap vdev (rx_pcap=) and anonymizes; the
# datagrams it sends to its UDP upstream land in a second pcap file
# (tx_pcap=). Then the output is shown, a token resolved with veilctl, and
# the dataplane's summary, which must account for every line.
# Everything is in DIR (default: a new /tmp/veil-lab.XXXXXX), kept at the
# end. Exits 1 with the reason when a step fails. Runs as root or as any
# user (no TAP, no namespace); docs/network-dpdk.md, "In a lab".
set -euo pipefail
# shellcheck source=platform/lab/lib.sh disable=SC2034
. "$(dirname "$0")/lib.sh"
N=${N:-20} # datagrams

need_programs
workdir "${1:-}"
trap stop_all EXIT
echo "lab (pcap files) in $D, programs from $(dirname "$DATAPLANE")"

say "the config: controld's part, the dpdk driver on net_pcap0, tenant lab's senders"
{
	controld_conf
	cat <<EOF
[network]
driver = dpdk

[port lab]
device       = net_pcap0
address      = 192.0.2.10/24
udp_ports    = 514
; a pcap file answers no ARP: no exception interface, the next hop's MAC given
exception    = none
next_hop_mac = 02:00:00:00:00:01

[upstream siem]
protocol = udp
address  = 192.0.2.99:514

[source fw]
tenant   = lab
networks = 198.51.100.0/24
EOF
} >"$D/veil.conf"
cat "$D/veil.conf"

say "$N syslog datagrams from 198.51.100.7 to 192.0.2.10:514 in $D/in.pcap"
run "$PYTHON" "$LAB/syslog_pcap.py" make "$D/in.pcap" "$N"
"$PYTHON" "$LAB/syslog_pcap.py" names "$N" >"$D/names.txt"
"$PYTHON" "$LAB/syslog_pcap.py" show "$D/in.pcap" | sed -n 1,3p
echo "..."

start_controld lab

say "check the config"
run "$DATAPLANE" -n -c "$D/veil.conf" || fail "the config was refused"

say "veil-dataplane on net_pcap0: in.pcap in, out.pcap out"
LCORES=$(eal_lcores)
printf '$ %s\n' "$DATAPLANE --no-huge -m 512 --no-pci --no-shconf --lcores $LCORES \\
    --vdev=net_pcap0,rx_pcap=$D/in.pcap,tx_pcap=$D/out.pcap \\
    -- -c $D/veil.conf 2> $D/dataplane.log &"
"$DATAPLANE" --no-huge -m 512 --no-pci --no-shconf --lcores "$LCORES" \
	--vdev="net_pcap0,rx_pcap=$D/in.pcap,tx_pcap=$D/out.pcap" \
	-- -c "$D/veil.conf" 2>"$D/dataplane.log" &
DP_PID=$!
# the lines wait for the tenant's key (over the link), then leave
wait_written "$N" 60
ctl stats
stop_dataplane "$N"

say "what left for the upstream ($D/out.pcap)"
run "$PYTHON" "$LAB/syslog_pcap.py" show "$D/out.pcap" | tee "$D/out.txt"
[ "$(grep -c ' -> 192.0.2.99:514 ' "$D/out.txt")" -eq "$N" ] ||
	fail "$D/out.pcap does not hold $N datagrams to 192.0.2.99:514"
no_plaintext "$D/names.txt" "$D/out.txt"
resolve_one "$D/out.txt" lab

say "done: every line anonymized, written and accounted for; the files are in $D"
