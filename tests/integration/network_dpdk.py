#!/usr/bin/python3
# SPDX-License-Identifier: LicenseRef-veil-proprietary
"""The dpdk driver (drivers/dpdk.c) end to end, on DPDK vdevs.

    network_dpdk.py BUILD_DIR

A. pcap files: frames made here with scapy (IPv4, IPv6, extension
   headers, IP options, fragments in and out of order, bad IP and UDP
   checksums, runts, junk, VLAN tags, unknown senders, oversize, ARP, ICMP,
   TCP, other UDP) go through tests/dpdk_echo (the driver alone, each line
   sent back upper-cased to an IPv4 and an IPv6 upstream) with
   --vdev=net_pcap0,rx_pcap=in.pcap,tx_pcap=out.pcap and exception = none.
   Every counter is checked against what was sent, with the identity
   rx_packets = rx_fast_path + rx_exception + drops + frag_pending; the
   output pcap is reassembled with scapy and every IP and UDP checksum is
   recomputed here, independently. A2: a reassembly table of 16
   datagrams refuses the 17th and expires the rest. A3: two RX queues.
B. the same with a VLAN and a TAP exception interface (root): the kernel
   answers an ARP request and a ping that came in on the port, tagged.
C. a live veth pair between two network namespaces (root): the driver on
   one end (net_pcap on the interface, the TAP in its namespace), a peer on
   the other. The peer's ping and ping -6 are answered by the kernel
   through the TAP, its ARP resolves to the port's MAC, and syslog over
   UDP from it (IPv4 and IPv6) comes back to its UDP receiver (the
   upstream), through a kernel socket until the next hop is learned from
   the kernel's neighbour table, then built by the driver; also to an
   upstream off the port's network through the port's gateway (a host
   route on the TAP for the kernel, the gateway's MAC for the driver). A
   TCP sender reaches the socket driver inside the dpdk driver through the
   TAP, and its lines leave as UDP too.
D. veil-dataplane itself in network mode with the dpdk driver on pcap
   files and a real veil-controld (keys over the link): every datagram
   that leaves carries tokens instead of the senders' user and device
   names, and the tokens resolve to them through veilctl.
E. the same with two workers, a queue pair each (a pcap file per RX and
   TX queue): each worker takes its RX queue's lines and sends them, in
   order, by its TX queue; as root, the TAP has a queue pair per worker
   and the kernel's ARP and ping replies leave by the port.
F. lines sent through the exception path and dropped there (root): an
   upstream on the port's network that nobody answers ARP for. Its first
   line goes to the kernel's socket (the kernel asks for the next hop
   through the TAP and, with no answer, drops the datagram), the rest are
   held and dropped when the next hop stays unknown. Every line counts as
   lost, none as sent; the kernel's line is counted by the driver's
   tx_kernel_lost, not taken as delivered when the kernel accepted it.
Exits 77 (skipped) if scapy is missing; B and C are skipped, with the
reason, when not root or without /dev/net/tun, and the run then exits 77
too once the other parts passed.
"""
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

import veiltest
from veiltest import check

import logging
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
try:
    from scapy.all import (ARP, ICMP, IP, UDP, TCP, Dot1Q, Ether, IPv6,
                           IPv6ExtHdrDestOpt, IPv6ExtHdrFragment,
                           IPv6ExtHdrHopByHop, ICMPv6ND_NS, IPOption_NOP, Raw,
                           defragment, fragment, fragment6, rdpcap, wrpcap)
except ImportError:
    print("SKIP: python3-scapy is not installed (Debian package python3-scapy)")
    sys.exit(77)

BUILD = sys.argv[1]
ECHO = os.path.join(BUILD, "tests", "dpdk_echo")
DP = os.path.join(BUILD, "dataplane", "veil-dataplane")
CTLD = os.path.join(BUILD, "control", "veil-controld")
VEILCTL = os.path.join(BUILD, "control", "veilctl")
TOKEN = re.compile(veiltest.TOKEN_RE)
PORT_MAC = "02:70:63:61:70:00"   # net_pcap's MAC for its first port
PEER_MAC = "02:00:00:00:00:01"
NH_MAC = "02:00:00:00:00:99"
US4, US6 = "192.0.2.10", "2001:db8::10"
UP4, UP6 = "192.0.2.99", "2001:db8::99"
FW4, FW6 = "198.51.100.7", "2001:db8:1::7"
MAX_MSG = 5000
OFF_LINK = "203.0.113.5"


# ---- independent checksums (RFC 1071) --------------------------------

def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return s


def ipv4_ok(raw):
    ihl = (raw[0] & 15) * 4
    return csum(raw[:ihl]) == 0xffff


def udp_ok(fam, src, dst, udp):
    ph = (socket.inet_pton(fam, src) + socket.inet_pton(fam, dst) +
          struct.pack("!HH", 17, len(udp)))
    stored = struct.unpack("!H", udp[6:8])[0]
    if stored == 0:
        return fam == socket.AF_INET
    return csum(ph + udp) == 0xffff


# ---- running the driver ----------------------------------------------

def eal(vdev):
    return [ECHO, "--no-huge", "-m", "512", "--no-pci", "--no-shconf",
            "--no-telemetry", "-l", "0", "--log-level=lib.eal:warning",
            "--log-level=pmd.net.tap:error", "--vdev=" + vdev, "--"]


def run_echo(cmd, timeout=60, netns=None):
    if netns:
        cmd = ["ip", "netns", "exec", netns] + cmd
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        print(p.stderr)
        raise SystemExit("dpdk_echo failed (%d)" % p.returncode)
    return json.loads(p.stdout.strip().splitlines()[-1])


def identity(x, what):
    drops = sum(v for k, v in x.items() if k.startswith("drop_") and
                k != "drop_tx_full")
    check(x["rx_packets"] == x["rx_fast_path"] + x["rx_exception"] + drops +
          x["frag_pending"],
          "%s: rx_packets %d != fast %d + exception %d + drops %d + pending %d"
          % (what, x["rx_packets"], x["rx_fast_path"], x["rx_exception"],
             drops, x["frag_pending"]))


def conf(path, exception="none", vlan=0, upstreams=(("u4", UP4, 5514),
                                                    ("u6", "[%s]" % UP6, 5514)),
         next_hop=NH_MAC, addresses="%s/24, %s/64" % (US4, US6), extra=""):
    with open(path, "w") as f:
        f.write("[network]\ndriver = dpdk\nfrag_timeout = 0.5\n\n"
                "[port p0]\ndevice = net_pcap0\naddress = %s\n"
                "udp_ports = 514, 1514\nexception = %s\n" % (addresses, exception))
        if vlan:
            f.write("vlan = %d\n" % vlan)
        if next_hop:
            f.write("next_hop_mac = %s\n" % next_hop)
        f.write(extra)
        for name, addr, port in upstreams:
            f.write("\n[upstream %s]\nprotocol = udp\naddress = %s:%d\n"
                    % (name, addr, port))
        f.write("\n[source fw]\nnetworks = 198.51.100.0/24, 2001:db8:1::/48, "
                "192.0.2.0/24, 2001:db8::/64\n")
        # a host inside fw's networks: the longest prefix wins
        f.write("\n[source host]\nnetworks = 198.51.100.77, 2001:db8:1::77/128\n")


# ---- A: pcap files ----------------------------------------------------

def msg(i, n=0):
    body = b"<134>1 2026-11-25T20:00:00Z fw%d app - - - user=alice%d src=10.0.0.%d" % (
        i, i, i % 250)
    return body + b"x" * max(0, n - len(body))


def part_a(tmp):
    E = Ether(src=PEER_MAC, dst=PORT_MAC)
    frames, expect_msgs = [], []
    exp = dict(rx_fast_path=0, drop_bad_ip_checksum=0, drop_bad_udp_checksum=0,
               drop_runt=0, drop_bad_length=0, drop_bad_ip_header=0,
               drop_bad_vlan=0, drop_unknown_sender=0, drop_oversize=0,
               drop_empty=0, drop_no_exception=0, drop_frag_timeout=0,
               reassembled=0, rx_fragments=0)

    def fast(pkts, m):
        frames.extend(pkts)
        exp["rx_fast_path"] += len(pkts)
        expect_msgs.append(m.rstrip(b"\r\n\0"))

    for i, end in enumerate([b"", b"\n", b"\r\n", b"\0", b"\n\n"] * 4):
        m = msg(i) + end
        fast([E / IP(src=FW4, dst=US4) / UDP(sport=40000 + i, dport=514) / m], m)
    for i in range(5):
        m = msg(100 + i)
        fast([E / IPv6(src=FW6, dst=US6) / UDP(sport=40000, dport=514) / m], m)
    for i in range(3):
        m = msg(200 + i)
        fast([E / IP(src=FW4, dst=US4) / UDP(sport=1, dport=1514) / m], m)
    for i in range(3):  # source "host"
        m = msg(250 + i)
        fast([E / IP(src="198.51.100.77", dst=US4) / UDP(sport=1, dport=514) / m], m)
    for i in range(2):
        m = msg(260 + i)
        fast([E / IPv6(src="2001:db8:1::77", dst=US6) / UDP(sport=1, dport=514) / m], m)
    for i in range(2):  # no UDP checksum: allowed over IPv4
        m = msg(300 + i)
        p = E / IP(src=FW4, dst=US4) / UDP(sport=1, dport=514, chksum=0) / m
        fast([p], m)
    for i in range(2):  # IP options
        m = msg(400 + i)
        fast([E / IP(src=FW4, dst=US4, options=[IPOption_NOP()] * 4) /
              UDP(sport=1, dport=514) / m], m)
    for i in range(2):  # IPv6 extension headers
        m = msg(500 + i)
        fast([E / IPv6(src=FW6, dst=US6) / IPv6ExtHdrHopByHop() /
              IPv6ExtHdrDestOpt() / UDP(sport=1, dport=514) / m], m)
    # fragments: in order, reversed, IPv6, and a long line sent fragmented
    m = msg(600, 4000)
    fr = fragment(E / IP(src=FW4, dst=US4, id=600) / UDP(sport=1, dport=514) / m,
                  fragsize=1480)
    fast(fr, m)
    exp["reassembled"] += 1
    exp["rx_fragments"] += len(fr)
    m = msg(601, 2500)
    fr = fragment(E / IP(src=FW4, dst=US4, id=601) / UDP(sport=1, dport=514) / m,
                  fragsize=800)
    fast(list(reversed(fr)), m)
    exp["reassembled"] += 1
    exp["rx_fragments"] += len(fr)
    m = msg(602, 3000)
    fr = fragment6(E / IPv6(src=FW6, dst=US6) / IPv6ExtHdrFragment(id=602) /
                   UDP(sport=1, dport=514) / m, 1280)
    fast(fr, m)
    exp["reassembled"] += 1
    exp["rx_fragments"] += len(fr)
    # incomplete: the fragments expire
    fr = fragment(E / IP(src=FW4, dst=US4, id=603) / UDP(sport=1, dport=514) /
                  msg(603, 3000), fragsize=1480)[:2]
    frames.extend(fr)
    exp["rx_fragments"] += 2
    exp["drop_frag_timeout"] += 2
    # oversize, reassembled first: every fragment counted
    fr = fragment(E / IP(src=FW4, dst=US4, id=604) / UDP(sport=1, dport=514) /
                  msg(604, MAX_MSG + 500), fragsize=1480)
    frames.extend(fr)
    exp["rx_fragments"] += len(fr)
    exp["reassembled"] += 1
    exp["drop_oversize"] += len(fr)

    def bad(p, reason):
        frames.append(p)
        exp[reason] += 1

    p = E / IP(src=FW4, dst=US4, chksum=0x1234) / UDP(sport=1, dport=514) / msg(700)
    bad(p, "drop_bad_ip_checksum")
    bad(E / IP(src=FW4, dst=US4, chksum=0) / UDP(sport=1, dport=514) / msg(701),
        "drop_bad_ip_checksum")
    bad(E / IP(src=FW4, dst=US4) / UDP(sport=1, dport=514, chksum=0x1234) /
        msg(702), "drop_bad_udp_checksum")
    bad(E / IPv6(src=FW6, dst=US6) / UDP(sport=1, dport=514, chksum=0x1234) /
        msg(703), "drop_bad_udp_checksum")
    bad(E / IPv6(src=FW6, dst=US6) / UDP(sport=1, dport=514, chksum=0) /
        msg(704), "drop_bad_udp_checksum")
    bad(Raw(bytes(E)[:10]), "drop_runt")  # scapy warns: a Raw frame
    bad(Ether(bytes(E / IP(src=FW4, dst=US4))[:24]), "drop_runt")
    raw = bytes(E / IP(src=FW4, dst=US4) / UDP(sport=1, dport=514) / msg(705))
    bad(Ether(raw[:-20]), "drop_bad_length")  # IP total beyond the frame
    bad(E / IP(src=FW4, dst=US4) / UDP(sport=1, dport=514, len=4000) / msg(706),
        "drop_bad_length")
    junk = bytearray(bytes(E / IP(src=FW4, dst=US4) / UDP(dport=514) / msg(707)))
    junk[14] = 0x43  # IHL 3
    bad(Ether(bytes(junk)), "drop_bad_ip_header")
    bad(Ether(src=PEER_MAC, dst=PORT_MAC) / Dot1Q(vlan=5) / IP(src=FW4, dst=US4) /
        UDP(sport=1, dport=514) / msg(708), "drop_bad_vlan")
    bad(E / IP(src="203.0.113.5", dst=US4) / UDP(sport=1, dport=514) / msg(709),
        "drop_unknown_sender")
    bad(E / IP(src=FW4, dst=US4) / UDP(sport=1, dport=514) / b"\r\n",
        "drop_empty")
    # not syslog: the kernel's, and there is no exception interface here
    for p in [Ether(src=PEER_MAC, dst="ff:ff:ff:ff:ff:ff") /
              ARP(psrc="192.0.2.1", pdst=US4, hwsrc=PEER_MAC),
              E / IP(src=FW4, dst=US4) / ICMP() / b"ping",
              E / IP(src=FW4, dst=US4) / UDP(sport=1, dport=53) / b"dns?",
              E / IP(src=FW4, dst=US4) / TCP(sport=40000, dport=6514, flags="S"),
              E / IPv6(src=FW6, dst="ff02::1:ff00:10") / ICMPv6ND_NS(tgt=US6),
              E / IP(src=FW4, dst="192.0.2.11") / UDP(sport=1, dport=514) / b"x"]:
        bad(p, "drop_no_exception")

    inp, out, cfg = (os.path.join(tmp, n) for n in ("in.pcap", "out.pcap",
                                                    "a.conf"))
    wrpcap(inp, frames, linktype=1)
    conf(cfg)
    t0 = time.time()
    res = run_echo(eal("net_pcap0,rx_pcap=%s,tx_pcap=%s" % (inp, out)) +
                   ["--config", cfg, "--max-msg", str(MAX_MSG), "--idle", "1.5",
                    "--upper"])
    print("A: %d frames in, %.1f s" % (len(frames), time.time() - t0))
    x, st = res["xstats"], res["stats"]
    print("A:", json.dumps({k: v for k, v in x.items() if v}))
    check(x["rx_packets"] == len(frames),
          "A: rx_packets %d, sent %d" % (x["rx_packets"], len(frames)))
    for k, v in exp.items():
        check(x[k] == v, "A: %s = %d, expected %d" % (k, x[k], v))
    check(x["frag_pending"] == 0, "A: fragments still pending")
    identity(x, "A")
    n = len(expect_msgs)
    check(st["rx_msgs"] == n, "A: rx_msgs %d, expected %d" % (st["rx_msgs"], n))
    check(st["rx_oversize"] == 1, "A: rx_oversize %d" % st["rx_oversize"])
    check(res["sources"] == [n - 5, 5], "A: messages by source %s" % res["sources"])
    check(st["tx_msgs"] == n and x["tx_datagrams"] == 2 * n,
          "A: tx_msgs %d, tx_datagrams %d, expected %d and %d"
          % (st["tx_msgs"], x["tx_datagrams"], n, 2 * n))
    check(st["tx_lost"] == 0 and st["tx_errors"] == 0, "A: tx errors")
    check(x["tx_fragments"] > 0, "A: no fragments sent")

    # the output: frames within the MTU, checksums right, the lines upper-cased
    pk = rdpcap(out)
    check(len(pk) == 2 * n - 2 * 3 + x["tx_fragments"],
          "A: %d frames out" % len(pk))
    got = {4: [], 6: []}
    v4 = []
    v6frags = {}
    for p in pk:
        raw = bytes(p)
        check(len(raw) <= 1514, "A: a frame of %d bytes" % len(raw))
        check(p[Ether].src == PORT_MAC and p[Ether].dst == NH_MAC,
              "A: MACs %s > %s" % (p[Ether].src, p[Ether].dst))
        if IP in p:
            check(ipv4_ok(raw[14:]), "A: bad IPv4 header checksum out")
            check(p[IP].src == US4 and p[IP].dst == UP4, "A: IPv4 addresses")
            check(len(raw) - 14 == p[IP].len, "A: IPv4 length")
            v4.append(p[IP])
        else:
            check(p[IPv6].src == US6 and p[IPv6].dst == UP6, "A: IPv6 addresses")
            check(len(raw) - 14 - 40 == p[IPv6].plen, "A: IPv6 length")
            if IPv6ExtHdrFragment in p:
                f = p[IPv6ExtHdrFragment]
                v6frags.setdefault(f.id, []).append((f.offset, raw[14 + 48:]))
            else:
                udp = raw[14 + 40:]
                check(udp_ok(socket.AF_INET6, US6, UP6, udp), "A: IPv6 UDP checksum")
                got[6].append(udp)
    for ip in defragment(v4):
        raw = bytes(ip)
        udp = raw[(raw[0] & 15) * 4:]
        check(udp_ok(socket.AF_INET, US4, UP4, udp), "A: IPv4 UDP checksum")
        got[4].append(udp)
    for frags in v6frags.values():
        udp = b"".join(b for _, b in sorted(frags))
        check(udp_ok(socket.AF_INET6, US6, UP6, udp), "A: IPv6 UDP checksum (fragmented)")
        got[6].append(udp)
    want = sorted(m.upper() for m in expect_msgs)
    for fam in (4, 6):
        for udp in got[fam]:
            sport, dport, ulen = struct.unpack("!HHH", udp[:6])
            check(sport == 514 and dport == 5514 and ulen == len(udp),
                  "A: UDP header %d > %d len %d/%d" % (sport, dport, ulen, len(udp)))
        check(sorted(u[8:] for u in got[fam]) == want,
              "A: IPv%d payloads are not the upper-cased lines" % fam)


def part_a2(tmp):
    """A reassembly table of 16 datagrams: the 17th to 24th are refused,
    the 16 it holds expire."""
    E = Ether(src=PEER_MAC, dst=PORT_MAC)
    frames = [fragment(E / IP(src=FW4, dst=US4, id=1000 + i) /
                       UDP(sport=1, dport=514) / msg(i, 3000), fragsize=1480)[0]
              for i in range(24)]
    inp, out, cfg = (os.path.join(tmp, n) for n in ("a2-in.pcap", "a2-out.pcap",
                                                    "a2.conf"))
    wrpcap(inp, frames, linktype=1)
    conf(cfg)
    with open(cfg) as f:
        text = f.read().replace("frag_timeout = 0.5\n",
                                "frag_timeout = 0.5\nfrag_entries = 16\n")
    with open(cfg, "w") as f:
        f.write(text)
    res = run_echo(eal("net_pcap0,rx_pcap=%s,tx_pcap=%s" % (inp, out)) +
                   ["--config", cfg, "--idle", "1.5"])
    x = res["xstats"]
    print("A2:", json.dumps({k: v for k, v in x.items() if v}))
    check(x["rx_fragments"] == 24 and x["drop_frag_table_full"] == 8 and
          x["drop_frag_timeout"] == 16 and x["frag_pending"] == 0,
          "A2: table full %d, timeout %d" % (x["drop_frag_table_full"],
                                             x["drop_frag_timeout"]))
    identity(x, "A2")


def part_a3(tmp):
    """queues = 2: both RX queues are polled (net_pcap: a file each)."""
    E = Ether(src=PEER_MAC, dst=PORT_MAC)
    paths = []
    for q, n in ((0, 7), (1, 5)):
        path = os.path.join(tmp, "a3-in%d.pcap" % q)
        wrpcap(path, [E / IP(src=FW4, dst=US4) / UDP(sport=q, dport=514) /
                      msg(900 + 10 * q + i) for i in range(n)], linktype=1)
        paths.append(path)
    cfg = os.path.join(tmp, "a3.conf")
    conf(cfg, extra="queues = 2\n")
    vdev = "net_pcap0,rx_pcap=%s,rx_pcap=%s,tx_pcap=%s,tx_pcap=%s" % (
        paths[0], paths[1], os.path.join(tmp, "a3-o0.pcap"),
        os.path.join(tmp, "a3-o1.pcap"))
    res = run_echo(eal(vdev) + ["--config", cfg, "--idle", "1"])
    x = res["xstats"]
    check(x["rx_packets"] == 12 and x["rx_fast_path"] == 12 and
          res["stats"]["rx_msgs"] == 12, "A3: two queues: %d" % x["rx_packets"])
    identity(x, "A3")


# ---- B: VLAN, the TAP exception interface, on pcap files --------------

def netns(name):
    subprocess.run(["ip", "netns", "del", name], capture_output=True)
    subprocess.run(["ip", "netns", "add", name], check=True)


def part_b(tmp):
    ns = "veil-dpdk-b-%d" % os.getpid()  # two builds may run this at once
    netns(ns)
    try:
        E = Ether(src=PEER_MAC, dst=PORT_MAC)
        frames = [
            Ether(src=PEER_MAC, dst="ff:ff:ff:ff:ff:ff") / Dot1Q(vlan=100) /
            ARP(psrc="192.0.2.1", hwsrc=PEER_MAC, pdst=US4),
            E / Dot1Q(vlan=100) / IP(src="192.0.2.1", dst=US4) / ICMP(id=7, seq=1) /
            b"veil-ping",
            E / Dot1Q(vlan=100) / IP(src=FW4, dst=US4) / UDP(sport=1, dport=514) /
            msg(1),
            E / IP(src=FW4, dst=US4) / UDP(sport=1, dport=514) / msg(2),  # untagged
        ]
        # a fragmented datagram to a port nobody listens on: reassembled,
        # then the kernel's (which says port unreachable)
        frag = fragment(E / Dot1Q(vlan=100) / IP(src="192.0.2.1", dst=US4, id=9) /
                        UDP(sport=7, dport=9999) / (b"z" * 3000), fragsize=1480)
        frames += frag
        inp, out, cfg = (os.path.join(tmp, n) for n in ("b-in.pcap", "b-out.pcap",
                                                        "b.conf"))
        wrpcap(inp, frames, linktype=1)
        conf(cfg, exception="veilb0", vlan=100, upstreams=(("u4", UP4, 5514),))
        res = run_echo(eal("net_pcap0,rx_pcap=%s,tx_pcap=%s" % (inp, out)) +
                       ["--config", cfg, "--idle", "1.5"], netns=ns)
        x = res["xstats"]
        print("B:", json.dumps({k: v for k, v in x.items() if v}))
        check(x["rx_packets"] == 4 + len(frag) and x["rx_fast_path"] == 1 and
              x["rx_exception"] == 2 + len(frag) and x["drop_bad_vlan"] == 1 and
              x["reassembled"] == 1, "B: counters")
        identity(x, "B")
        check(x["rx_from_kernel"] == x["tx_to_wire"] and x["rx_from_kernel"] >= 2,
              "B: kernel frames %d, to the wire %d" % (x["rx_from_kernel"],
                                                       x["tx_to_wire"]))
        pk = rdpcap(out)
        arp = [p for p in pk if ARP in p and p[ARP].op == 2]
        echo = [p for p in pk if ICMP in p and p[ICMP].type == 0]
        check(len(arp) == 1 and arp[0][ARP].hwsrc == PORT_MAC and
              arp[0][ARP].psrc == US4 and Dot1Q in arp[0] and
              arp[0][Dot1Q].vlan == 100,
              "B: the kernel's ARP reply, tagged, with the port's MAC")
        check(len(echo) == 1 and Dot1Q in echo[0] and echo[0][Dot1Q].vlan == 100
              and bytes(echo[0][ICMP].payload) == b"veil-ping",
              "B: the kernel's echo reply, tagged")
        unreach = [p for p in pk if ICMP in p and p[ICMP].type == 3 and
                   p[ICMP].code == 3]
        check(len(unreach) == 1, "B: the kernel's port unreachable for the "
              "reassembled datagram")
        for p in pk:
            check(Dot1Q in p and p[Dot1Q].vlan == 100,
                  "B: an untagged frame left: %s" % p.summary())
        syslog = [p for p in pk if UDP in p and p[UDP].dport == 5514]
        check(len(syslog) == 1 and Dot1Q in syslog[0], "B: the datagram, tagged")
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)



# ---- F: lines the exception path dropped ------------------------------

def part_f(tmp):
    ns = "veil-dpdk-f-%d" % os.getpid()
    netns(ns)
    try:
        E = Ether(src=PEER_MAC, dst=PORT_MAC)
        n = 20
        frames = [E / IP(src=FW4, dst=US4) / UDP(sport=1, dport=514) / msg(i)
                  for i in range(n)]
        inp, out, cfg = (os.path.join(tmp, x) for x in ("f-in.pcap", "f-out.pcap",
                                                        "f.conf"))
        wrpcap(inp, frames, linktype=1)
        # 192.0.2.77 is on the port's network and nobody has it: the
        # kernel's ARP requests leave by the port (into the pcap file) and
        # are never answered
        conf(cfg, exception="veilf0", next_hop=None,
             upstreams=(("dead", "192.0.2.77", 5514),))
        res = run_echo(eal("net_pcap0,rx_pcap=%s,tx_pcap=%s" % (inp, out)) +
                       ["--config", cfg, "--idle", "1.5"], netns=ns)
        x, st = res["xstats"], res["stats"]
        print("F:", json.dumps({k: v for k, v in x.items() if v}), json.dumps(st))
        check(st["rx_msgs"] == n and st["tx_msgs"] == n, "F: %d lines in, %d taken"
              % (st["rx_msgs"], st["tx_msgs"]))
        pk = rdpcap(out)
        sent = [p for p in pk if UDP in p and p[UDP].dport == 5514]
        arp = [p for p in pk if ARP in p and p[ARP].op == 1 and
               p[ARP].pdst == "192.0.2.77"]
        check(not sent and arp, "F: no datagram left (%d), the kernel asked for "
              "the next hop (%d ARP requests)" % (len(sent), len(arp)))
        check(x["tx_via_kernel"] == 1 and x["drop_no_next_hop"] == n - 1,
              "F: one line by the kernel, %d held and dropped: %d, %d"
              % (n - 1, x["tx_via_kernel"], x["drop_no_next_hop"]))
        # the line the kernel took and dropped is lost, not delivered
        check(x.get("tx_kernel_lost") == 1 and x.get("tx_kernel_out") == 0,
              "F: the kernel's line counted lost: tx_kernel_lost %s, "
              "tx_kernel_out %s" % (x.get("tx_kernel_lost"), x.get("tx_kernel_out")))
        check(st["tx_lost"] == n, "F: every line lost (tx_lost %d of %d)"
              % (st["tx_lost"], n))
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)

# ---- C: a live veth pair ----------------------------------------------

RECEIVER = r"""
import socket, sys, json
out = []
ss = []
for fam, addr, port in ((socket.AF_INET, "0.0.0.0", 5514),
                        (socket.AF_INET6, "::", 5514),
                        (socket.AF_INET, "0.0.0.0", 5515)):
    s = socket.socket(fam, socket.SOCK_DGRAM)
    if fam == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((addr, port))
    s.settimeout(0.2)
    ss.append(s)
print("ready", flush=True)
import time
# until argv[2] datagrams came (all that are expected) or argv[1] seconds
end = time.time() + float(sys.argv[1])
want = int(sys.argv[2])
while time.time() < end and len(out) < want:
    for s in ss:
        try:
            d, a = s.recvfrom(65535)
            out.append([a[0], a[1], d.decode(), s.getsockname()[1]])
        except socket.timeout:
            pass
print(json.dumps(out), flush=True)
"""

TX_CSUM_OFF = r"""
import array, fcntl, socket, struct, sys
ev = array.array("I", [0x17, 0])  # ETHTOOL_STXCSUM, off
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
fcntl.ioctl(s.fileno(), 0x8946,  # SIOCETHTOOL
            struct.pack("16sP", sys.argv[1].encode(), ev.buffer_info()[0]))
"""

TCP_SENDER = r"""
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
s.sendall(b"<34>user=tcp n=0\n<34>user=tcp n=1\n")
time.sleep(1)
s.close()
"""

SENDER = r"""
import sys, time
from scapy.all import IP, IPv6, UDP, send
fam, dst, n, tag = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
for i in range(n):
    L3 = IP(dst=dst) if fam == "4" else IPv6(dst=dst)
    # scapy computes the UDP checksum (a veth would leave it to offload)
    send(L3 / UDP(sport=40000, dport=514) / ("<34>user=%s n=%d" % (tag, i)).encode(),
         verbose=0)
    time.sleep(0.7)
"""


# lines as fast as a socket sends them (the kernel's own UDP: vdB computes
# its checksums once TX_CSUM_OFF ran)
BURST = r"""
import socket, sys
fam, dst, n, tag = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
s = socket.socket(socket.AF_INET if fam == "4" else socket.AF_INET6, socket.SOCK_DGRAM)
for i in range(n):
    s.sendto(("<34>user=%s n=%d" % (tag, i)).encode(), (dst, 514))
"""
EARLY = 50  # lines sent before any next hop is known


def sh(ns, *cmd, check_rc=True):
    return subprocess.run(["ip", "netns", "exec", ns] + list(cmd),
                          capture_output=True, text=True, check=check_rc)


def part_c(tmp):
    app, peer = "veil-dpdk-app-%d" % os.getpid(), "veil-dpdk-peer-%d" % os.getpid()
    netns(app)
    netns(peer)
    proc = None
    try:
        subprocess.run(["ip", "link", "add", "vdA", "netns", app, "type", "veth",
                        "peer", "name", "vdB", "netns", peer], check=True)
        # the veth end stands for a port the kernel does not own: it must
        # not answer for the TAP's addresses itself
        sh(app, "sysctl", "-qw", "net.ipv6.conf.vdA.disable_ipv6=1")
        sh(app, "sysctl", "-qw", "net.ipv4.conf.vdA.arp_ignore=8")
        sh(app, "sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0")
        sh(app, "ip", "link", "set", "vdA", "up")
        sh(app, "ip", "link", "set", "lo", "up")
        sh(peer, "sysctl", "-qw", "net.ipv6.conf.vdB.accept_dad=0")
        sh(peer, "ip", "addr", "add", "192.0.2.1/24", "dev", "vdB")
        sh(peer, "ip", "addr", "add", "2001:db8::1/64", "dev", "vdB", "nodad")
        sh(peer, "ip", "link", "set", "vdB", "up")
        # a veth leaves TCP and UDP checksums to offload: captured on the
        # other end they are wrong. Compute them (ethtool -K vdB tx off).
        sh(peer, "/usr/bin/python3", "-c", TX_CSUM_OFF, "vdB")
        sh(peer, "ip", "link", "set", "lo", "up")
        sh(peer, "ip", "addr", "add", OFF_LINK + "/32", "dev", "lo")
        cfg = os.path.join(tmp, "c.conf")
        # u4, u6 on the port's networks; uoff behind the gateway (the
        # peer, which has that address on its loopback)
        conf(cfg, exception="veilc0", next_hop=None,
             upstreams=(("u4", "192.0.2.1", 5514), ("u6", "[2001:db8::1]", 5514),
                        ("uoff", OFF_LINK, 5515)),
             extra="gateway = 192.0.2.1\n\n[listen tcp]\nprotocol = tcp\n"
                   "address = %s:6514\n" % US4)
        cmd = ["ip", "netns", "exec", app] + eal(
            "net_pcap0,rx_iface_in=vdA,tx_iface=vdA") + ["--config", cfg]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        # running once its TAP has the port's address (the driver is made)
        deadline = time.time() + 30
        while time.time() < deadline:
            if proc.poll() is not None:
                raise SystemExit("C: dpdk_echo exited %d: %s" %
                                 (proc.returncode, proc.stderr.read()[-3000:]))
            r = sh(app, "ip", "addr", "show", "veilc0", check_rc=False)
            if "192.0.2.10/24" in r.stdout:
                break
            time.sleep(0.2)
        time.sleep(1)
        if proc.poll() is not None:
            raise SystemExit("C: dpdk_echo exited %d: %s" %
                             (proc.returncode, proc.stderr.read()[-3000:]))
        rcv = subprocess.Popen(["ip", "netns", "exec", peer, "/usr/bin/python3",
                                # 13 lines to 3 upstreams; a deadline that a
                                # loaded machine (ASan, 2 cores) meets too
                                "-c", RECEIVER, "90", str(3 * (12 + EARLY))],
                               stdout=subprocess.PIPE, text=True)
        check(rcv.stdout.readline().strip() == "ready", "C: receiver")
        # before anything resolved the next hops: the first line to each
        # upstream through the kernel (its ARP or ND request makes the
        # next hop known), the others held until it is, then by the port
        # (before, all went through the kernel and overflowed the TAP)
        sh(peer, "/usr/bin/python3", "-c", BURST, "4", US4, str(EARLY), "early")
        addrs = sh(app, "ip", "addr", "show", "veilc0").stdout
        check("192.0.2.10/24" in addrs and "2001:db8::10/64" in addrs,
              "C: the TAP's addresses: " + addrs)
        r = sh(peer, "ping", "-c", "3", "-W", "2", US4, check_rc=False)
        check(r.returncode == 0, "C: ping %s through the TAP: %s" % (US4, r.stdout))
        r = sh(peer, "ping", "-6", "-c", "3", "-W", "2", US6, check_rc=False)
        check(r.returncode == 0, "C: ping -6 %s through the TAP: %s" % (US6, r.stdout))
        neigh = sh(peer, "ip", "neigh", "show", US4).stdout
        check(PORT_MAC in neigh, "C: ARP for %s resolved to %s: %s" %
              (US4, PORT_MAC, neigh))
        neigh6 = sh(peer, "ip", "-6", "neigh", "show", US6).stdout
        check(PORT_MAC in neigh6, "C: ND for %s resolved: %s" % (US6, neigh6))

        s4 = subprocess.Popen(["ip", "netns", "exec", peer, "/usr/bin/python3",
                               "-c", SENDER, "4", US4, "5", "v4"])
        s6 = subprocess.Popen(["ip", "netns", "exec", peer, "/usr/bin/python3",
                               "-c", SENDER, "6", US6, "5", "v6"])
        s4.wait(30)
        s6.wait(30)
        # TCP: through the TAP to the socket driver inside the dpdk driver
        r = sh(peer, "/usr/bin/python3", "-c", TCP_SENDER, US4, "6514",
               check_rc=False)
        check(r.returncode == 0, "C: TCP to %s:6514: %s" % (US4, r.stderr))
        got = json.loads(rcv.communicate(timeout=100)[0].strip().splitlines()[-1])
        proc.send_signal(signal.SIGTERM)
        outp, errp = proc.communicate(timeout=30)
        check(proc.returncode == 0, "C: dpdk_echo exited %d: %s" %
              (proc.returncode, errp[-2000:]))
        proc = None
        res = json.loads(outp.strip().splitlines()[-1])
        x, st = res["xstats"], res["stats"]
        print("C:", json.dumps({k: v for k, v in x.items() if v}))
        identity(x, "C")
        check(st["rx_msgs"] == 12 + EARLY, "C: rx_msgs %d" % st["rx_msgs"])
        # each line to the three upstreams, by the port once the next hop
        # is known, by the kernel before: one line each
        n_out = 3 * (12 + EARLY)
        check(x["tx_datagrams"] + x["tx_via_kernel"] == n_out,
              "C: datagrams %d + via kernel %d != %d" % (x["tx_datagrams"],
                                                         x["tx_via_kernel"], n_out))
        check(x["tx_via_kernel"] == 3 and x["neighbour_misses"] >= 3,
              "C: one early line an upstream through the kernel, not %d"
              % x["tx_via_kernel"])
        check(x["tx_held"] > 0 and x["drop_no_next_hop"] == 0 and
              x["drop_hold_full"] == 0,
              "C: early lines held for their next hop, none lost: held %d, "
              "lost %d + %d" % (x["tx_held"], x["drop_no_next_hop"],
                                x["drop_hold_full"]))
        check(x.get("tx_kernel_out") == 3 and x.get("tx_kernel_lost") == 0 and
              st["tx_lost"] == 0,
              "C: the kernel's lines seen leaving by the port: out %s, lost %s, "
              "tx_lost %d" % (x.get("tx_kernel_out"), x.get("tx_kernel_lost"),
                              st["tx_lost"]))
        check(x["rx_exception"] > 0 and x["rx_from_kernel"] > 0, "C: exception path")
        want = sorted(["<34>user=early n=%d" % i for i in range(EARLY)] +
                      ["<34>user=tcp n=0", "<34>user=tcp n=1"] + [
            "<34>user=%s n=%d" % (t, i) for t in ("v4", "v6") for i in range(5)])
        for name, src, lport in (("u4", US4, 5514), ("u6", US6, 5514),
                                 ("uoff", US4, 5515)):
            mine = sorted(d for a, p, d, lp in got
                          if a == src and p == 514 and lp == lport)
            check(mine == want, "C: upstream %s got %s" % (name, mine))
    finally:
        if proc is not None:
            proc.kill()
            proc.communicate()
        subprocess.run(["ip", "netns", "del", app], capture_output=True)
        subprocess.run(["ip", "netns", "del", peer], capture_output=True)


# ---- D: veil-dataplane with veil-controld -----------------------------

def part_d(tmp):
    """veil-dataplane in network mode on pcap files, keys from a real
    veil-controld: the datagrams that leave carry tokens, not names, and
    the tokens resolve to the names through veilctl."""
    link = os.path.join(tmp, "link-d.sock")
    conf_path = dp_conf(os.path.join(tmp, "d.conf"), link, "none")
    ctld = veiltest.Controld(BUILD, tmp, link)
    dp = None
    try:
        if not start_tenant(ctld, tmp, "D"):
            return

        E = Ether(src=PEER_MAC, dst=PORT_MAC)
        users = ["user%03d" % i for i in range(40)]
        lines = [("CEF:0|Security|threatmanager|1.0|100|worm stopped|10|"
                  "src=10.0.0.%d dst=2.1.2.2 spt=1232 suser=%s shost=WKS-%04d"
                  % (i, u, i)).encode() for i, u in enumerate(users)]
        frames = []
        for i, ln in enumerate(lines):
            if i % 4 == 1:
                frames.append(E / IPv6(src=FW6, dst=US6) / UDP(sport=1, dport=514) / ln)
            else:
                frames.append(E / IP(src=FW4, dst=US4) / UDP(sport=1, dport=514) / ln)
        # one long line, fragmented on the way in and on the way out
        long_line = (b"CEF:0|Security|threatmanager|1.0|100|worm stopped|10|"
                     b"suser=longuser shost=WKS-LONG msg=" + b"m" * 3500)
        fr = fragment(E / IP(src=FW4, dst=US4, id=4242) / UDP(sport=1, dport=514) /
                      long_line, fragsize=1480)
        frames += fr
        inp, out = os.path.join(tmp, "d-in.pcap"), os.path.join(tmp, "d-out.pcap")
        wrpcap(inp, frames, linktype=1)
        cmd = ([DP, "--no-huge", "-m", "512", "--no-pci", "--no-shconf",
                "--no-telemetry", "-l", "0-1",
                "--vdev=net_pcap0,rx_pcap=%s,tx_pcap=%s" % (inp, out), "--",
                "-c", conf_path, "--json"])
        dp = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
        time.sleep(6)  # the keys come over the link, the pcap is read at once
        rc, summary, err = veiltest.stop_dataplane(dp)
        check(rc == 0, "D: veil-dataplane exit %d: %s" % (rc, err[-2000:]))
        dp = None
        if not check(summary is not None, "D: a JSON summary: " + err[-2000:]):
            return
        x = summary["driver"]
        print("D: lines in %d out %d, identities %d; driver %s" % (
            summary["lines_in"], summary["lines_out"], summary["identities"],
            json.dumps({k: v for k, v in x.items() if v and k != "name"})))
        n = len(lines) + 1
        check(x["name"] == "dpdk" and x["rx_packets"] == len(frames) and
              x["rx_fast_path"] == len(frames) and x["reassembled"] == 1,
              "D: driver counters")
        check(summary["lines_in"] == n and summary["lines_out"] == n and
              x["tx_datagrams"] == n, "D: %d lines in, out, sent" % n)
        check(summary["identities"] >= 2 * n, "D: identities %d" % summary["identities"])

        pk = rdpcap(out)
        v4 = []
        for p in pk:
            raw = bytes(p)
            check(ipv4_ok(raw[14:]), "D: IPv4 header checksum")
            v4.append(p[IP])
        payloads = []
        for ip in defragment(v4):
            raw = bytes(ip)
            udp = raw[(raw[0] & 15) * 4:]
            check(udp_ok(socket.AF_INET, US4, UP4, udp), "D: UDP checksum")
            payloads.append(udp[8:])
        check(len(payloads) == n, "D: %d datagrams out" % len(payloads))
        text = b"\n".join(payloads)
        clear = [u for u in users + ["longuser"] if u.encode() in text]
        check(not clear, "D: names left in clear: %s" % clear[:5])
        resolve_check(ctld, tmp, text, users + ["longuser"], "D")
    finally:
        if dp is not None:
            dp.kill()
            dp.communicate()
        ctld.stop()


def dp_conf(path, link, exception):
    """veil-dataplane's config for D and E: net_pcap0, tenant acme's CEF
    senders, one UDP upstream. @return @path."""
    with open(path, "w") as f:
        f.write("[dataplane]\nlink_socket = %s\n" % link)
        f.write("\n[network]\ndriver = dpdk\n\n[port p0]\ndevice = net_pcap0\n"
                "address = %s/24, %s/64\nexception = %s\nnext_hop_mac = %s\n"
                "\n[upstream u4]\nprotocol = udp\naddress = %s:5514\n"
                "\n[source fw]\ntenant = acme\nformat = cef\n"
                "networks = 198.51.100.0/24, 2001:db8:1::/48\n"
                % (US4, US6, exception, NH_MAC, UP4))
    return path


def start_tenant(ctld, tmp, part):
    """Start controld and create tenant acme. @return success."""
    try:
        ctld.start()
    except RuntimeError:
        pass  # then the tenant create fails, with controld's log
    rc, a = ctld.ctl("tenant", "create", "acme")
    if not check(rc == 0, "%s: tenant create: %r" % (part, a)):
        with open(os.path.join(tmp, "ctld.log")) as f:
            print(f.read()[-2000:])
        return False
    return True


def resolve_check(ctld, tmp, text, names, part):
    """The tokens in @text resolve, through veilctl, to at least @names."""
    toks = set(TOKEN.findall(text))
    tf = os.path.join(tmp, "%s-out.txt" % part)
    with open(tf, "wb") as f:
        f.write(text + b"\n")
    rc, a = ctld.ctl("resolve", "-t", "acme", "-j", "ticket 77: dpdk driver test",
                     "--text", "--file", tf)
    got = set(n for n in a.get("names", []) if isinstance(n, str))
    check(rc == 0 and a.get("ok") and a.get("failed") == 0 and set(names) <= got,
          "%s: the tokens (%d) resolve to the senders' names" % (part, len(toks)))


def part_e(tmp, tap):
    """veil-dataplane with two workers: a queue pair each (net_pcap: a file
    per RX and per TX queue). Each worker's lines are those of its RX
    queue, they leave by its TX queue in the order they came, as tokens
    that resolve; with @tap (root), the TAP has a queue pair per worker
    and the kernel's ARP and ping replies leave by the port."""
    link = os.path.join(tmp, "link-e.sock")
    conf_path = dp_conf(os.path.join(tmp, "e.conf"), link,
                        "veile0" if tap else "none")
    E = Ether(src=PEER_MAC, dst=PORT_MAC)
    users = {0: ["qzero%02d" % i for i in range(12)],
             1: ["qone%02d" % i for i in range(9)]}
    inputs, outputs = [], []
    for q in (0, 1):
        frames = []
        for i, u in enumerate(users[q]):
            ln = ("CEF:0|Security|threatmanager|1.0|100|worm stopped|10|"
                  "cs1=q%d-n%02d suser=%s shost=WKS-%d%02d" % (q, i, u, q, i)).encode()
            L3 = IP(src=FW4, dst=US4) if q == 0 else IPv6(src=FW6, dst=US6)
            frames.append(E / L3 / UDP(sport=1000 + q, dport=514) / ln)
        if tap and q == 0:
            frames.append(Ether(src=PEER_MAC, dst="ff:ff:ff:ff:ff:ff") /
                          ARP(psrc="192.0.2.1", hwsrc=PEER_MAC, pdst=US4))
        if tap and q == 1:
            frames.append(E / IP(src="192.0.2.1", dst=US4) / ICMP(id=8, seq=1) /
                          b"veil-ping-e")
        path = os.path.join(tmp, "e-in%d.pcap" % q)
        wrpcap(path, frames, linktype=1)
        inputs.append(path)
        outputs.append(os.path.join(tmp, "e-out%d.pcap" % q))
    cpus = sorted(os.sched_getaffinity(0))
    lcores = "0@%d,1@%d,2@%d" % (cpus[0], cpus[-1], cpus[-1])
    # a device with fewer queue pairs than workers: refused, saying so
    p = subprocess.run([DP, "--no-huge", "-m", "512", "--no-pci", "--no-shconf",
                        "--no-telemetry", "--lcores=" + lcores,
                        "--vdev=net_pcap0,rx_pcap=%s,tx_pcap=%s" % (
                            inputs[0], os.path.join(tmp, "e-x.pcap")),
                        "--", "-c", conf_path], capture_output=True, text=True,
                       timeout=60)
    check(p.returncode == 1 and "a queue pair per worker (2), net_pcap0 has 1"
          in p.stderr, "E: one queue for two workers refused: %d %s"
          % (p.returncode, p.stderr[-300:]))
    cmd = [DP, "--no-huge", "-m", "512", "--no-pci", "--no-shconf",
           "--no-telemetry", "--lcores=" + lcores,
           "--log-level=pmd.net.tap:error",
           "--vdev=net_pcap0,rx_pcap=%s,rx_pcap=%s,tx_pcap=%s,tx_pcap=%s" % (
               inputs[0], inputs[1], outputs[0], outputs[1]),
           "--", "-c", conf_path, "--json"]
    ns = None
    if tap:
        ns = "veil-dpdk-e-%d" % os.getpid()
        netns(ns)
        cmd = ["ip", "netns", "exec", ns] + cmd
    root = os.path.join(tmp, "e")  # controld's own state, apart from D's
    os.makedirs(root)
    ctld = veiltest.Controld(BUILD, root, link)
    dp = None
    try:
        if not start_tenant(ctld, root, "E"):
            return
        dp = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
        time.sleep(6)  # the keys come over the link, the pcaps are read at once
        rc, summary, err = veiltest.stop_dataplane(dp)
        dp = None
        check(rc == 0, "E: veil-dataplane exit %d: %s" % (rc, err[-2000:]))
        if not check(summary is not None, "E: a JSON summary: " + err[-2000:]):
            return
        x = summary["driver"]
        w = summary["workers"]
        print("E: mode %s, workers %s; driver %s" % (
            summary["worker_mode"], json.dumps(w),
            json.dumps({k: v for k, v in x.items() if v and k != "name"})))
        check(summary["worker_mode"] == "queue" and len(w) == 2,
              "E: two workers, a queue pair each")
        check(len(w) == 2 and w[0]["lines_in"] == 12 and w[1]["lines_in"] == 9 and
              w[0]["lines_out"] == 12 and w[1]["lines_out"] == 9,
              "E: each worker took its own queue's lines")
        check(summary["lines_in"] == 21 and summary["lines_out"] == 21 and
              x["tx_datagrams"] == 21 and x["rx_fast_path"] == 21,
              "E: 21 lines in, out, sent")
        identity(x, "E")
        pk = [rdpcap(o) for o in outputs]
        text = b""
        for q in (0, 1):
            pays = [bytes(p[UDP].payload) for p in pk[q]
                    if UDP in p and p[UDP].dport == 5514]
            order = [int(m) for m in re.findall(rb"cs1=q%d-n(\d+)" % q,
                                                b"\n".join(pays))]
            check(len(pays) == len(users[q]) and order == list(range(len(users[q]))),
                  "E: queue %d's lines leave by TX queue %d, in order: %s"
                  % (q, q, order))
            text += b"\n".join(pays) + b"\n"
        allu = users[0] + users[1]
        clear = [u for u in allu if u.encode() in text]
        check(not clear, "E: names left in clear: %s" % clear[:5])
        resolve_check(ctld, root, text.rstrip(b"\n"), allu, "E")
        if tap:
            both = pk[0] + pk[1]
            arp = [p for p in both if ARP in p and p[ARP].op == 2]
            echo = [p for p in both if ICMP in p and p[ICMP].type == 0]
            check(x["rx_exception"] == 2 and len(arp) == 1 and
                  arp[0][ARP].hwsrc == PORT_MAC and len(echo) == 1 and
                  bytes(echo[0][ICMP].payload) == b"veil-ping-e",
                  "E: the kernel's ARP and echo replies, through the TAP's "
                  "queues, left by the port")
            check(x["rx_from_kernel"] == x["tx_to_wire"],
                  "E: kernel frames %d, to the wire %d" % (x["rx_from_kernel"],
                                                           x["tx_to_wire"]))
    finally:
        if dp is not None:
            dp.kill()
            dp.communicate()
        ctld.stop()
        if ns:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def main():
    if not os.access(ECHO, os.X_OK):
        raise SystemExit("no %s: build first" % ECHO)
    tmp = tempfile.mkdtemp(prefix="veil-dpdk-")
    try:
        part_a(tmp)
        part_a2(tmp)
        part_a3(tmp)
        why = None
        if os.geteuid() != 0:
            why = "not root (network namespaces, TAP)"
        elif not os.path.exists("/dev/net/tun"):
            why = "no /dev/net/tun"
        elif shutil.which("ip") is None or shutil.which("ping") is None:
            why = "iproute2 or iputils-ping missing"
        if all(os.access(x, os.X_OK) for x in (DP, CTLD, VEILCTL)):
            part_d(tmp)
            if why:
                veiltest.skip("E's TAP", why)
            part_e(tmp, tap=why is None)
        else:
            veiltest.skip("D and E", "veil-dataplane, veil-controld or veilctl not built")
        if why:
            veiltest.skip("B and C", why)
        else:
            part_b(tmp)
            part_c(tmp)
            part_f(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return veiltest.finish("network-dpdk")


if __name__ == "__main__":
    sys.exit(main())
