#!/usr/bin/env python3
# SPDX-License-Identifier: LicenseRef-veil-proprietary
"""The pcap files of the lab (platform/lab/pcap.sh), without scapy.

    syslog_pcap.py make FILE N      N syslog datagrams (CEF lines, a user
                                    and a host each) from 198.51.100.7 to
                                    192.0.2.10:514, Ethernet to the port
    syslog_pcap.py show FILE        each UDP datagram of FILE: addresses
                                    and its payload, a line each
    syslog_pcap.py names N          the user and host names the N lines
                                    of `make` carry, a line each

Frames are Ethernet II / IPv4 / UDP with both checksums right (the dpdk
driver checks them); `show` reads what veil-dataplane wrote (tx_pcap=),
IPv4 and IPv6, untagged or with an 802.1Q tag.
"""
import socket
import struct
import sys

PORT_MAC = bytes.fromhex("027063617000")  # net_pcap's first port
PEER_MAC = bytes.fromhex("020000000001")
SENDER, APPLIANCE = "198.51.100.7", "192.0.2.10"
USERS = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"]


def names(i):
    return USERS[i % len(USERS)] + "%02d" % i, "WKS-%04d" % (100 + i)


def line(i):
    user, host = names(i)
    return ("<134>1 2026-12-05T09:00:%02dZ fw01 firewall - - - CEF:0|Acme|Firewall|"
            "1.0|100|login|5|src=10.0.0.%d suser=%s shost=%s"
            % (i % 60, 1 + i % 250, user, host)).encode()


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def frame(i, payload):
    src, dst = socket.inet_aton(SENDER), socket.inet_aton(APPLIANCE)
    udp = struct.pack("!HHHH", 40000 + i % 1000, 514, 8 + len(payload), 0) + payload
    c = csum(src + dst + struct.pack("!HH", 17, len(udp)) + udp) or 0xffff
    udp = udp[:6] + struct.pack("!H", c) + udp[8:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i & 0xffff, 0, 64,
                     17, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return PORT_MAC + PEER_MAC + b"\x08\x00" + ip + udp


def make(path, n):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for i in range(n):
            fr = frame(i, line(i))
            f.write(struct.pack("<IIII", 1764925200 + i, 0, len(fr), len(fr)) + fr)


def frames(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return
    magic = struct.unpack("<I", data[:4])[0]
    end = "<" if magic in (0xa1b2c3d4, 0xa1b23c4d) else ">"
    off = 24
    while off + 16 <= len(data):
        incl = struct.unpack(end + "IIII", data[off:off + 16])[2]
        yield data[off + 16:off + 16 + incl]
        off += 16 + incl


def show(path):
    for fr in frames(path):
        et, l3 = struct.unpack("!H", fr[12:14])[0], fr[14:]
        if et == 0x8100:
            et, l3 = struct.unpack("!H", fr[16:18])[0], fr[18:]
        if et == 0x0800 and l3[9] == 17:
            ihl = (l3[0] & 15) * 4
            src, dst = socket.inet_ntoa(l3[12:16]), socket.inet_ntoa(l3[16:20])
            udp = l3[ihl:struct.unpack("!H", l3[2:4])[0]]
        elif et == 0x86dd and l3[6] == 17:
            src = socket.inet_ntop(socket.AF_INET6, l3[8:24])
            dst = socket.inet_ntop(socket.AF_INET6, l3[24:40])
            udp = l3[40:40 + struct.unpack("!H", l3[4:6])[0]]
        else:
            continue
        sp, dp = struct.unpack("!HH", udp[:4])
        print("%s:%d -> %s:%d  %s" % (src, sp, dst, dp,
                                      udp[8:].decode(errors="replace")))


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "make":
        make(sys.argv[2], int(sys.argv[3]))
    elif len(sys.argv) == 3 and sys.argv[1] == "show":
        show(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "names":
        for i in range(int(sys.argv[2])):
            print("\n".join(names(i)))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
