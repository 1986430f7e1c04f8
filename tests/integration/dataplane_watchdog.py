#!/usr/bin/env python3
# SPDX-License-Identifier: LicenseRef-veil-proprietary
"""The watchdogs: veil-dataplane's systemd notifications, and veil-controld
noticing a dataplane that went silent on the link.

A. The real veil-dataplane (snapshot mode, a worker lcore, input and
   output FIFOs) with $NOTIFY_SOCKET a datagram socket this test listens
   on and WATCHDOG_USEC = 0.4 s:
     1. READY=1 comes, then WATCHDOG=1 again and again while lines flow,
        and STATUS= with the lines in and out;
     2. a real stall: the test stops reading the output, the worker
        blocks in its write, and WATCHDOG=1 stops (a gap of many ping
        periods) while the process still runs; its log says which worker;
     3. the test reads the output again: WATCHDOG=1 comes back, and every
        line comes out, anonymized.
B. veil-controld with dataplane_watchdog = 1 (second), a dataplane
   connected: SIGSTOP the dataplane and `veilctl status` reports it silent
   (dropped from the link, counted, in the metrics too); SIGCONT and it
   connects again: status says connected, not silent.

usage: dataplane_watchdog.py BUILD_DIR
"""
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import veiltest
from veiltest import check

BUILD = sys.argv[1]
DP = os.path.join(BUILD, "dataplane", "veil-dataplane")
TOKEN = re.compile(veiltest.TOKEN_RE)
PING_USEC = 400000
F_SETPIPE_SZ = 1031


def one_worker_eal():
    """A worker lcore next to the main one (its housekeeping pings)."""
    lc = ["-l", "0-1"] if (os.cpu_count() or 1) >= 2 else ["--lcores", "0@0,1@0"]
    return lc + veiltest.SNAPSHOT_EAL


def line(i):
    return ("<134>Nov 25 10:00:00 fw CEF:0|V|P|1|1|n|3|suser=alice%05d "
            "cs1=seq-%d msg=%s" % (i, i, "x" * 1000)).encode() + b"\n"


class Notify:
    """The notification socket: every datagram, with when it came."""

    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.s.bind(path)
        self.msgs = []  # (monotonic time, text)
        self.lock = threading.Lock()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while True:
            try:
                data = self.s.recv(4096)
            except OSError:
                return
            with self.lock:
                self.msgs.append((time.monotonic(), data.decode("utf-8", "replace")))

    def pings(self, since=0.0):
        with self.lock:
            return [t for t, m in self.msgs if t >= since and "WATCHDOG=1" in m.split("\n")]

    def texts(self):
        with self.lock:
            return [m for _, m in self.msgs]


def wait_for(cond, secs):
    end = time.monotonic() + secs
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def part_a(d, root):
    nsock = os.path.join(root, "notify.sock")
    nt = Notify(nsock)
    fin, fout = os.path.join(root, "in.fifo"), os.path.join(root, "out.fifo")
    os.mkfifo(fin)
    os.mkfifo(fout)
    # ours: a write end of the input (O_RDWR does not wait for a reader)
    # and the read end of the output, made small so that it fills soon
    win = os.open(fin, os.O_RDWR)
    rout = os.open(fout, os.O_RDONLY | os.O_NONBLOCK)
    try:
        import fcntl
        fcntl.fcntl(rout, F_SETPIPE_SZ, 4096)
    except OSError:
        pass
    env = dict(os.environ, NOTIFY_SOCKET=nsock, WATCHDOG_USEC=str(PING_USEC))
    env.pop("WATCHDOG_PID", None)
    dp = subprocess.Popen([DP] + one_worker_eal() + [
        "--", "--link", d.link, "--in", fin, "--tenant", "acme", "--format", "cef",
        "--out", fout, "--json"], env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE)
    out = bytearray()

    def read_some():
        try:
            while True:
                b = os.read(rout, 65536)
                if not b:
                    return
                out.extend(b)
        except BlockingIOError:
            pass

    try:
        # 1. READY=1, then pings and lines
        check(wait_for(lambda: any("READY=1" in m.split("\n") for m in nt.texts()), 30),
              "A1: READY=1 (%s)" % nt.texts()[:3])
        os.write(win, b"".join(line(i) for i in range(20)))
        t1 = time.monotonic()
        check(wait_for(lambda: len(nt.pings(t1)) >= 3, 20),
              "A1: WATCHDOG=1 again and again (%d)" % len(nt.pings(t1)))
        check(wait_for(lambda: any(re.search(r"STATUS=lines in 20, out 20", m)
                                   for m in nt.texts()), 10),
              "A1: STATUS= with the lines in and out (%s)"
              % [m for m in nt.texts() if "STATUS" in m][-1:])

        # 2. a real stall: nobody reads the output, the worker blocks
        #    writing it (past its 1 MiB buffer and the pipe); the writer
        #    thread here blocks too, once the input is full
        total = 20 + 3000
        writer = threading.Thread(target=lambda: [os.write(win, line(i)) for i in
                                                  range(20, total)], daemon=True)
        writer.start()
        gap = 12 * PING_USEC / 1e6

        def silent():
            p = nt.pings()
            last = p[-1] if p else 0
            return time.monotonic() - last >= gap

        stalled = wait_for(silent, 60)
        check(stalled and len(nt.pings()) >= 3,
              "A2: WATCHDOG=1 stops while the worker is stalled (%.1f s without, "
              "after %d pings)" % (gap, len(nt.pings())))
        check(dp.poll() is None, "A2: the process still runs (it is not pinging)")

        # 3. read again: pings come back, every line comes out
        t3 = time.monotonic()
        reader_stop = threading.Event()

        def reader():
            while not reader_stop.is_set():
                read_some()
                time.sleep(0.01)
        rt = threading.Thread(target=reader, daemon=True)
        rt.start()
        check(wait_for(lambda: len(nt.pings(t3)) >= 2, 30),
              "A3: WATCHDOG=1 comes back once the output drains (%d)" % len(nt.pings(t3)))
        writer.join(60)
        os.close(win)
        win = None
        try:
            _, err = dp.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            dp.kill()
            _, err = dp.communicate()
        reader_stop.set()
        rt.join(5)
        read_some()
        err = err.decode("utf-8", "replace")
        check(dp.returncode == 0, "A3: it ends at the input's end (%d: %s)"
              % (dp.returncode, err[-300:]))
        lines = bytes(out).splitlines()
        check(len(lines) == total, "A3: all %d lines out (%d)" % (total, len(lines)))
        check(all(TOKEN.search(x) and b"alice" not in x for x in lines),
              "A3: every line anonymized")
        check("made no progress" in err and "progress again" in err,
              "A2/3: the log says the worker stalled and went on (%s)" % err[-500:])
        check(any("STOPPING=1" in m.split("\n") for m in nt.texts()), "A3: STOPPING=1")
    finally:
        if win is not None:
            os.close(win)
        os.close(rout)
        if dp.poll() is None:
            dp.kill()
            dp.wait()


def metric(port, name):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as r:
        for ln in r.read().decode().splitlines():
            if ln.startswith(name + " "):
                return float(ln.split()[1])
    return None


def part_b(d, mport):
    fin = os.path.join(d.root, "b-in.fifo")
    os.mkfifo(fin)
    win = os.open(fin, os.O_RDWR)
    dp = subprocess.Popen([DP] + one_worker_eal() + [
        "--", "--link", d.link, "--in", fin, "--tenant", "acme", "--format", "cef",
        "--out", os.devnull], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def link():
        rc, a = d.ctl("status")
        return a.get("dataplane", {}) if rc == 0 else {}
    try:
        check(wait_for(lambda: link().get("connected") and link().get("pid") == dp.pid, 30),
              "B: the dataplane connects (%s)" % link())
        check(link().get("silent") is False and link().get("watchdog_s") == 1,
              "B: not silent; watchdog 1 s (%s)" % link())
        os.kill(dp.pid, signal.SIGSTOP)
        check(wait_for(lambda: link().get("silent") is True, 30),
              "B: SIGSTOP: status reports the dataplane silent (%s)" % link())
        st = link()
        check(not st.get("connected") and st.get("silent_drops") == 1,
              "B: dropped from the link, counted once (%s)" % st)
        p = subprocess.run([os.path.join(BUILD, "control", "veilctl"), "--socket", d.sock,
                            "status"], capture_output=True, text=True, timeout=30)
        check("SILENT" in p.stdout, "B: veilctl status says SILENT (%s)" % p.stdout[-300:])
        check(wait_for(lambda: metric(mport, "veil_link_dataplane_silent") == 1 and
                       metric(mport, "veil_link_silent_drops_total") == 1, 10),
              "B: the metrics say it (they are refreshed every second)")
        with open(os.path.join(d.root, "ctld.log")) as f:
            check("was silent for" in f.read(), "B: controld's log says it")
        os.kill(dp.pid, signal.SIGCONT)
        check(wait_for(lambda: link().get("connected") and not link().get("silent"), 30),
              "B: SIGCONT: it connects again, not silent (%s)" % link())
        check(wait_for(lambda: metric(mport, "veil_link_dataplane_silent") == 0, 10),
              "B: the metrics say it is back")
    finally:
        os.close(win)
        if dp.poll() is None:
            os.kill(dp.pid, signal.SIGCONT)
            dp.terminate()
            try:
                dp.wait(timeout=30)
            except subprocess.TimeoutExpired:
                dp.kill()
                dp.wait()


def main():
    root = tempfile.mkdtemp(prefix="veil-watchdog-%d-" % os.getpid())
    mport = veiltest.free_port()
    d = veiltest.Controld(BUILD, root, extra=(
        "[controld]\ndataplane_watchdog = 1\nmetrics_listen = 127.0.0.1:%d\n" % mport))
    try:
        d.start(tenants=("acme",))
        part_a(d, root)
        part_b(d, mport)
    finally:
        d.stop()
    return veiltest.finish("dataplane-watchdog")


if __name__ == "__main__":
    sys.exit(main())
