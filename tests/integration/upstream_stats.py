#!/usr/bin/env python3
# SPDX-License-Identifier: LicenseRef-veil-proprietary
"""veilctl stats and status show each upstream (its state, what waits in
memory and in the spool, what was delivered, dropped and why) and the
kernel's UDP drops, and "written" means delivered. A real veil-controld with
tenant acme, veil-dataplane in network mode (socket driver, TCP and UDP in),
a TCP collector here (LF framing) that the test stops and starts:

  1. the collector is down: the upstream is shown down, lines go to its spool,
     queued and spooled grow with more lines; nothing is counted written;
  2. the collector comes up: the upstream is shown connected, its delivered
     count and the written total equal the lines sent, the collector has them;
  3. a UDP listener with a small receive buffer is flooded while
     veil-dataplane is stopped (SIGSTOP): the kernel drops datagrams; the stats
     show them as dropped (reason kernel-udp, and on the listener's row),
     lines_in counts every datagram sent, and
     in = written + dropped + held + not written holds with them;
  4. the same figures are Prometheus metrics.

usage: upstream_stats.py BUILD_DIR
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import veiltest
from veiltest import check
from upstream_full import Collector, seqs, send_tcp, wait_listen

BUILD = sys.argv[1]
DP = os.path.join(BUILD, "dataplane", "veil-dataplane")
VEILCTL = os.path.join(BUILD, "control", "veilctl")
N1, N2, M = 1500, 1500, 20000


def line(i):
    return ("<134>Nov 25 10:00:00 fw CEF:0|V|P|1|1|n|3|suser=bob%05d cs1=seq-%d msg=%s"
            % (i, i, "x" * 200)).encode()


def stats(d):
    rc, a = d.ctl("stats")
    return a if rc == 0 and a.get("ok") else {}


def upstream(a, name):
    for u in a.get("upstreams", []):
        if u.get("name") == name:
            return u
    return None


def listener(a, name):
    for x in a.get("listeners", []):
        if x.get("name") == name:
            return x
    return None


def wait_for(d, cond, secs=30):
    """The stats once @cond holds for them (or the last ones after @secs)."""
    end = time.time() + secs
    a = stats(d)
    while time.time() < end:
        if cond(a):
            return a
        time.sleep(0.3)
        a = stats(d)
    return a


def identity(t):
    return t.get("lines_in", -1) == (t.get("lines_out", 0) + t.get("lines_dropped", 0)
                                     + t.get("lines_held", 0)
                                     + t.get("lines_not_written", 0))


def text(d, *args):
    p = subprocess.run([VEILCTL, "--socket", d.sock] + list(args), capture_output=True,
                       text=True, timeout=60)
    return p.stdout + p.stderr


def main():
    root = tempfile.mkdtemp(prefix="veil-upstats-%d-" % os.getpid())
    mport = veiltest.free_port()
    d = veiltest.Controld(BUILD, root, extra="[controld]\nmetrics_listen = 127.0.0.1:%d\n" % mport)
    p_in, p_udp, p_out = (veiltest.free_port(), veiltest.free_port(socket.SOCK_DGRAM),
                          veiltest.free_port())
    spool = os.path.join(root, "spool")
    os.mkdir(spool, 0o700)
    conf = os.path.join(root, "dp.conf")
    with open(conf, "w") as f:
        f.write("[dataplane]\nlink_socket = %s\nwait_keys = 20\n\n"
                "[network]\ndriver = socket\nreconnect_min = 0.1\nreconnect_max = 0.5\n"
                "drain_timeout = 2\nspool_dir = %s\nqueue_bytes = 65536\n"
                "udp_rcvbuf = 4096\n\n"
                "[listen tcp]\nprotocol = tcp\naddress = 127.0.0.1:%d\n\n"
                "[listen udp]\nprotocol = udp\naddress = 127.0.0.1:%d\n\n"
                "[upstream coll]\nprotocol = tcp\naddress = 127.0.0.1:%d\nframing = lf\n"
                "on_queue_full = spool\nspool_bytes = 64M\n\n"
                "[source fw]\ntenant = acme\nformat = cef\nnetworks = 127.0.0.0/8\n"
                % (d.link, spool, p_in, p_udp, p_out))
    coll = Collector(p_out)
    dp = None
    try:
        d.start(tenants=["acme"])
        dp = subprocess.Popen([DP, "-c", conf, "--json"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
        check(wait_listen(p_in, dp), "veil-dataplane listens")
        time.sleep(1.0)  # the key from controld

        # 1. the collector is down
        send_tcp(p_in, [line(i) for i in range(N1)])
        a1 = wait_for(d, lambda a: (upstream(a, "coll") or {}).get("spooled_lines", 0)
                      + (upstream(a, "coll") or {}).get("queued_lines", 0) >= N1)
        u1 = upstream(a1, "coll") or {}
        check(u1.get("state") == "down" and u1.get("protocol") == "tcp"
              and u1.get("address") == "127.0.0.1:%d" % p_out,
              "1: the upstream is shown down (%s)" % u1)
        check(u1.get("spooled_lines", 0) >= N1 and u1.get("queued_lines", 0) > 0
              and u1.get("queued_bytes", 0) > 0 and u1.get("spooled_bytes", 0) > 0,
              "1: its lines wait in memory and in the spool (%s)" % u1)
        check(u1.get("delivered") == 0 and a1.get("totals", {}).get("lines_out") == 0,
              "1: nothing counted delivered or written (%s, %s)"
              % (u1.get("delivered"), a1.get("totals", {}).get("lines_out")))
        check(identity(a1.get("totals", {})), "1: the totals add up (%s)" % a1.get("totals"))
        send_tcp(p_in, [line(i) for i in range(N1, N1 + N2)])
        a2 = wait_for(d, lambda a: (upstream(a, "coll") or {}).get("spooled_lines", 0)
                      >= N1 + N2)
        u2 = upstream(a2, "coll") or {}
        check(u2.get("spooled_lines", 0) >= N1 + N2
              and u2.get("spooled_bytes", 0) > u1.get("spooled_bytes", 0)
              and u2.get("state") == "down",
              "1: more lines: the spool grows, still down (%s)" % u2)
        t = text(d, "stats")
        check(re.search(r"coll\s+tcp\s+127\.0\.0\.1:%d\s+DOWN" % p_out, t) is not None,
              "1: veilctl stats shows it down (%s)" % t)
        t = text(d, "status")
        check(re.search(r"upstream coll .*DOWN", t) is not None,
              "1: veilctl status shows it down (%s)" % t)

        # 2. the collector comes up
        coll.start()
        a3 = wait_for(d, lambda a: (upstream(a, "coll") or {}).get("delivered", 0)
                      >= N1 + N2 and len(set(seqs(coll.lines))) >= N1 + N2)
        u3 = upstream(a3, "coll") or {}
        check(u3.get("state") == "connected" and u3.get("reconnects", 0) >= 1,
              "2: the upstream is shown connected (%s)" % u3)
        check(u3.get("delivered") == N1 + N2 and len(coll.lines) == N1 + N2
              and set(seqs(coll.lines)) == set(range(N1 + N2)),
              "2: delivered equals the lines, which the collector has (%s; %d lines)"
              % (u3.get("delivered"), len(coll.lines)))
        check(u3.get("queued_lines") == 0 and u3.get("spooled_lines") == 0,
              "2: nothing waits (%s)" % u3)
        tot = a3.get("totals", {})
        check(tot.get("lines_out") == N1 + N2 and identity(tot),
              "2: written is what was delivered, the totals add up (%s)" % tot)
        t = text(d, "stats")
        check(re.search(r"coll\s+tcp\s+127\.0\.0\.1:%d\s+connected" % p_out, t) is not None,
              "2: veilctl stats shows it connected (%s)" % t)

        # 3. kernel drops of a UDP listener
        us = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        dp.send_signal(signal.SIGSTOP)
        try:
            for i in range(M):
                us.sendto(line(100000 + i), ("127.0.0.1", p_udp))
        finally:
            dp.send_signal(signal.SIGCONT)
        us.close()
        total = N1 + N2 + M
        a4 = wait_for(d, lambda a: a.get("totals", {}).get("lines_in", 0) >= total
                      and (upstream(a, "coll") or {}).get("queued_lines", 1) == 0
                      and (upstream(a, "coll") or {}).get("spooled_lines", 1) == 0)
        tot = a4.get("totals", {})
        kd = tot.get("dropped", {}).get("kernel-udp", 0)
        lu = listener(a4, "udp") or {}
        check(kd > 0 and lu.get("kernel_drops") == kd and lu.get("protocol") == "udp",
              "3: the kernel's drops are counted, on the listener too (%s, %s)" % (kd, lu))
        check(tot.get("lines_in") == total,
              "3: lines_in counts every line sent, those the kernel dropped too (%s of %d)"
              % (tot.get("lines_in"), total))
        check(identity(tot) and tot.get("lines_dropped", 0) >= kd,
              "3: the totals add up with them (%s)" % tot)
        u4 = upstream(a4, "coll") or {}
        check(u4.get("delivered") == tot.get("lines_out"),
              "3: written is what the upstream delivered (%s, %s)"
              % (u4.get("delivered"), tot.get("lines_out")))
        t = text(d, "stats")
        check("kernel-udp" in t and re.search(r"udp\s+udp\s+127\.0\.0\.1:%d" % p_udp, t),
              "3: veilctl stats shows the kernel's drops (%s)" % t)

        # 4. Prometheus
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % mport, timeout=10) as r:
            m = r.read().decode()
        check(re.search(r'veil_upstream_delivered_lines_total\{upstream="coll"[^}]*\} %d'
                        % u4.get("delivered", -1), m) is not None
              and re.search(r'veil_upstream_up\{upstream="coll"[^}]*\} 1', m) is not None
              and re.search(r'veil_listener_kernel_drops_total\{listener="udp"[^}]*\} %d'
                            % kd, m) is not None,
              "4: the metrics have the upstream and the listener")
    finally:
        if dp is not None and dp.poll() is None:
            dp.send_signal(signal.SIGCONT)
            veiltest.stop_dataplane(dp)
        coll.stop() if coll.srv else None
        d.stop()
        shutil.rmtree(root, ignore_errors=True)
    return veiltest.finish("upstream_stats")


if __name__ == "__main__":
    sys.exit(main())
