#!/usr/bin/env python3
# SPDX-License-Identifier: LicenseRef-veil-proprietary
"""Network mode keeps each sender's order, not the interleaving of senders:
a tenant waiting for its key holds only its own lines. A real veil-controld
with tenants acme and beta, veil-dataplane with the socket driver (UDP in
on 127.0.0.1, UDP out to a receiver here), acme's firewall at 127.0.0.1,
beta's at 127.0.0.2:

  1. beta locked: acme's lines come out at once, in order; beta's are held
     (the link's lines_held says so);
  2. beta unlocked: its held lines come out, in order, tokenized;
  3. beta locked again and flooded past the hold queue (hold_lines 256):
     acme still flows; the beta lines that find no room are dropped at
     once (no-key), the held ones after wait_keys; nothing of beta's
     leaves in clear; the summary adds up.

usage: network_hold.py BUILD_DIR
"""
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import veiltest
from veiltest import check

BUILD = sys.argv[1]
DP = os.path.join(BUILD, "dataplane", "veil-dataplane")
TOKEN = re.compile(veiltest.TOKEN_RE)
WAIT_KEYS = 4.0


def line(tenant, i):
    return b"<134>Nov 25 10:00:00 fw CEF:0|V|P|1|1|n|3|suser=%s%04d cs1=%s-%d msg=x" % (
        tenant.encode(), i, tenant.encode(), i)


def recv_all(r, secs):
    """Datagrams that arrive within @secs of the last one."""
    got = []
    r.settimeout(secs)
    try:
        while True:
            got.append(r.recv(65536))
    except socket.timeout:
        pass
    return got


def seq(got, tenant):
    """The sequence numbers of @tenant's lines, in arrival order."""
    pat = re.compile(rb"cs1=" + tenant.encode() + rb"-(\d+)")
    return [int(m.group(1)) for g in got for m in [pat.search(g)] if m]


def stats(d):
    """The link's totals (veilctl stats)."""
    rc, a = d.ctl("stats")
    return a.get("totals", {}) if rc == 0 else {}


def main():
    root = tempfile.mkdtemp(prefix="veil-nethold-")
    link = os.path.join(root, "link.sock")
    inp = veiltest.free_port(socket.SOCK_DGRAM)
    r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    r.bind(("127.0.0.1", 0))
    out = r.getsockname()[1]
    # one config file for both daemons, as on the appliance
    d = veiltest.Controld(BUILD, root, link, extra=(
        "[dataplane]\nwait_keys = %g\nhold_lines = 256\n\n"
        "[network]\ndriver = socket\n\n[listen udp]\naddress = 127.0.0.1:%d\n\n"
        "[upstream out]\nprotocol = udp\naddress = 127.0.0.1:%d\n\n"
        "[source a]\ntenant = acme\nformat = cef\nnetworks = 127.0.0.1\n\n"
        "[source b]\ntenant = beta\nformat = cef\nnetworks = 127.0.0.2\n"
        % (WAIT_KEYS, inp, out)))
    dp = None
    try:
        d.start()
        for t in ("acme", "beta"):
            check(d.ctl("tenant", "create", t)[0] == 0, "tenant %s created" % t)
        check(d.ctl("tenant", "lock", "beta")[0] == 0, "beta locked")
        conf = d.conf
        dp = subprocess.Popen([DP, "-c", conf, "--json"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
        sa = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sa.bind(("127.0.0.1", 0))
        sb = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sb.bind(("127.0.0.2", 0))
        # wait until acme's key is there: a probe comes back tokenized
        t_end = time.monotonic() + 20
        up = False
        r.settimeout(0.3)
        while time.monotonic() < t_end and not up:
            sa.sendto(line("probe", 0), ("127.0.0.1", inp))
            try:
                up = TOKEN.search(r.recv(65536)) is not None
            except socket.timeout:
                pass
        check(up, "veil-dataplane forwards acme's lines")
        recv_all(r, 0.5)  # probes still on their way

        # 1. beta locked: acme flows, beta held
        t0 = time.monotonic()
        for i in range(100):
            sb.sendto(line("beta", i), ("127.0.0.1", inp))
            if i % 2 == 0:
                sa.sendto(line("acme", i // 2), ("127.0.0.1", inp))
        got = recv_all(r, 1.0)
        check(seq(got, "acme") == list(range(50)),
              "1: acme's 50 lines out, in order, while beta waits (%s)" % seq(got, "acme")[:8])
        check(time.monotonic() - t0 < WAIT_KEYS, "1: and before beta's wait_keys ran out")
        check(seq(got, "beta") == [], "1: none of beta's lines out")
        check(all(b"suser=acme" not in g for g in got), "1: no acme name in clear")
        time.sleep(1.2)  # the counters go up every second
        st = stats(d)
        check(st.get("lines_held") == 100, "1: the link says 100 lines held (%s)"
              % st.get("lines_held"))

        # 2. beta unlocked: its lines come out, in order, tokenized
        check(d.ctl("tenant", "unlock", "beta")[0] == 0, "beta unlocked")
        got = recv_all(r, 1.5)
        check(seq(got, "beta") == list(range(100)),
              "2: beta's 100 held lines out, in order (%s...)" % seq(got, "beta")[:8])
        check(all(b"suser=beta" not in g and TOKEN.search(g) for g in got),
              "2: every beta line tokenized")

        # 3. locked again, flooded past the queue: acme flows, beta dropped
        check(d.ctl("tenant", "lock", "beta")[0] == 0, "beta locked again")
        time.sleep(0.5)
        for i in range(400):
            sb.sendto(line("beta", 1000 + i), ("127.0.0.1", inp))
            if i % 4 == 0:
                sa.sendto(line("acme", 100 + i // 4), ("127.0.0.1", inp))
            if i % 50 == 0:
                time.sleep(0.01)  # stay under the socket's buffer
        got = recv_all(r, 1.0)
        check(seq(got, "acme") == list(range(100, 200)),
              "3: acme's 100 lines out in order past beta's full queue")
        check(seq(got, "beta") == [], "3: no beta line out")
        time.sleep(WAIT_KEYS + 1.0)
        got = recv_all(r, 0.5)
        check(seq(got, "beta") == [], "3: nor after wait_keys (dropped, no-key)")
        _, s, _ = veiltest.stop_dataplane(dp, timeout=30)
        dp = None
        check(s is not None, "a JSON summary")
        if s:
            check(s["lines_in"] == 2 + 50 + 100 + 400 + 100 or s["lines_in"] >= 650,
                  "summary: lines in %d" % s["lines_in"])
            check(s["dropped"]["no-key"] == 400,
                  "summary: beta's 400 flood lines dropped as no-key (%d)"
                  % s["dropped"]["no-key"])
            check(s["lines_held"] == 0, "summary: nothing held at the end")
            check(s["lines_in"] == s["lines_out"] + s["lines_dropped"] + s["lines_held"],
                  "summary: in = out + dropped + held")
            check(s["exit"] == 1, "exit 1: lines were dropped for want of a key")
    finally:
        if dp is not None and dp.poll() is None:
            dp.kill()
            dp.wait()
        d.stop()
        shutil.rmtree(root, ignore_errors=True)
    return veiltest.finish("network-hold")


if __name__ == "__main__":
    sys.exit(main())
