#!/usr/bin/env python3
# SPDX-License-Identifier: LicenseRef-veil-proprietary
"""What an upstream does when its collector is down or slow, and what the log
says while it happens. A real veil-controld with tenant acme, veil-dataplane
in network mode (socket driver, TCP in), a TCP collector here (LF framing):

  1. on_queue_full = spool: the collector is down, lines go to the spool on
     disk (never a name in clear there); veil-dataplane is killed with
     SIGKILL; started again, the collector comes back: every line arrives
     (at least once; duplicates are reported), in order of first arrival,
     tokenized; the log said the upstream was not reachable, then up again,
     and that the spooled lines are sent first;
  2. on_queue_full = drop with a small queue: lines beyond it are dropped,
     counted (upstream_dropped), the log says so once, the summary adds up
     (lines not written), and the exit status says lines were not delivered;
  3. lines a TCP sender wrote before a SIGTERM, not yet read, are read,
     delivered and counted before the end;
  4. on_queue_full = spool, the spool's file system (a small tmpfs made
     here) filled to the last byte while the collector is up: no line is
     dropped, every line arrives, in order, the log says once that the spool
     is full and, once the disk has room again, that it takes lines again;
  5. on_queue_full = spool, a burst of lines many times spool_bytes with the
     collector up and fast: no line is dropped, every line arrives, in
     order, the log says once that the spool is full;
  6. on_queue_full = spool, the collector down and more lines than
     spool_bytes holds: the spool fills, then the TCP sender waits (as with
     block) instead of lines being dropped; once the collector is up every
     line arrives, in order, the spool's before those kept in memory.

usage: upstream_full.py BUILD_DIR
"""
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import veiltest
from veiltest import check

BUILD = sys.argv[1]
DP = os.path.join(BUILD, "dataplane", "veil-dataplane")
TOKEN = re.compile(veiltest.TOKEN_RE)
N = 3000


def line(i):
    return ("<134>Nov 25 10:00:00 fw CEF:0|V|P|1|1|n|3|suser=alice%05d cs1=seq-%d msg=x"
            % (i, i)).encode()


class Collector:
    """A TCP collector: LF-framed lines into a list."""

    def __init__(self, port):
        self.port, self.lines, self.srv, self.stop_ev = port, [], None, None

    def start(self):
        self.srv = socket.socket()
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind(("127.0.0.1", self.port))
        self.srv.listen(8)
        self.stop_ev = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        conns = {}
        while not self.stop_ev.is_set():
            try:
                ready, _, _ = select.select([self.srv] + list(conns), [], [], 0.2)
            except (OSError, ValueError):
                break
            for r in ready:
                if r is self.srv:
                    try:
                        c, _ = self.srv.accept()
                    except OSError:
                        continue
                    conns[c] = b""
                    continue
                try:
                    data = r.recv(1 << 18)
                except OSError:
                    data = b""
                if not data:
                    del conns[r]
                    r.close()
                    continue
                *whole, conns[r] = (conns[r] + data).split(b"\n")
                self.lines.extend(whole)
        for c in conns:
            c.close()

    def stop(self):
        self.stop_ev.set()
        time.sleep(0.4)
        self.srv.close()


def seqs(lines):
    pat = re.compile(rb"cs1=seq-(\d+)")
    return [int(m.group(1)) for ln in lines for m in [pat.search(ln)] if m]


def send_tcp(port, lines):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"".join(ln + b"\n" for ln in lines))
    s.close()


def start_dp(conf):
    p = subprocess.Popen([DP, "-c", conf, "--json"], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    return p


def conf_text(d, p_in, p_out, extra_net, extra_up):
    return ("[dataplane]\nlink_socket = %s\nwait_keys = 20\n\n"
            "[network]\ndriver = socket\nreconnect_min = 0.1\nreconnect_max = 0.5\n"
            "drain_timeout = 2\n%s\n"
            "[listen tcp]\nprotocol = tcp\naddress = 127.0.0.1:%d\n\n"
            "[upstream coll]\nprotocol = tcp\naddress = 127.0.0.1:%d\nframing = lf\n%s\n"
            "[source fw]\ntenant = acme\nformat = cef\nnetworks = 127.0.0.0/8\n"
            % (d.link, extra_net, p_in, p_out, extra_up))


def wait_listen(port, proc, secs=20):
    end = time.time() + secs
    while time.time() < end and proc.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


def spooled(root):
    """Every byte of the spool's segment files."""
    data = b""
    for dp, _, files in os.walk(os.path.join(root, "spool")):
        for f in files:
            if f.endswith(".seg"):
                with open(os.path.join(dp, f), "rb") as fh:
                    data += fh.read()
    return data


def part_spool(d, root):
    p_in, p_out = veiltest.free_port(), veiltest.free_port()
    spool = os.path.join(root, "spool")
    os.mkdir(spool, 0o700)
    conf = os.path.join(root, "spool.conf")
    with open(conf, "w") as f:
        f.write(conf_text(d, p_in, p_out, "spool_dir = %s\nqueue_bytes = 65536\n" % spool,
                          "on_queue_full = spool\nspool_bytes = 64M\n"))
    p = subprocess.run([DP, "--", "-n", "-c", conf], capture_output=True, text=True)
    check(p.returncode == 0 and "on a full queue: spool" in p.stdout,
          "1: -n shows the spool (%s%s)" % (p.stdout[-300:], p.stderr[-300:]))
    dp = start_dp(conf)
    try:
        check(wait_listen(p_in, dp), "1: veil-dataplane listens")
        time.sleep(1.0)  # the key from controld
        send_tcp(p_in, [line(i) for i in range(N)])
        end = time.time() + 20
        while time.time() < end and spooled(root).count(b"cs1=seq-") < N:
            time.sleep(0.2)
        data = spooled(root)
        check(data.count(b"cs1=seq-") == N, "1: the %d lines are in the spool (%d)"
              % (N, data.count(b"cs1=seq-")))
        check(b"alice" not in data and TOKEN.search(data) is not None,
              "1: the spool holds anonymized lines only")
        dp.send_signal(signal.SIGKILL)
        _, err1 = dp.communicate(timeout=10)
        err1 = err1.decode("utf-8", "replace")
        check("upstream coll" in err1 and "not reachable" in err1 and "spool" in err1,
              "1: the log said the upstream was not reachable, lines kept in the spool "
              "(%s)" % err1[-400:])
    finally:
        if dp.poll() is None:
            dp.kill()
    coll = Collector(p_out)
    coll.start()
    dp = start_dp(conf)
    try:
        end = time.time() + 30
        while time.time() < end and len(set(seqs(coll.lines))) < N:
            time.sleep(0.2)
        got = seqs(coll.lines)
        check(set(got) == set(range(N)), "1: after kill -9 and a restart every line "
              "arrived (%d distinct of %d)" % (len(set(got)), N))
        firsts = []
        seen = set()
        for g in got:
            if g not in seen:
                seen.add(g)
                firsts.append(g)
        check(firsts == sorted(firsts), "1: in order")
        if len(got) > len(set(got)):
            print("  note: %d duplicates (sent, not acknowledged before the kill)"
                  % (len(got) - len(set(got))))
        check(all(b"alice" not in ln and TOKEN.search(ln) for ln in coll.lines),
              "1: every line tokenized, no name in clear")
        rc, s, err2 = veiltest.stop_dataplane(dp)
        check("lines from the spool" in err2 and "sent first" in err2,
              "1: the restart said the spooled lines go first (%s)" % err2[-400:])
        check(rc == 0 and s is not None and s["lines_not_written"] == 0,
              "1: a clean stop, nothing lost (%s)" % (s and {k: s[k] for k in (
                  "lines_in", "lines_out", "lines_held", "lines_not_written")}))
    finally:
        if dp.poll() is None:
            dp.kill()
        coll.stop()


def part_drop(d, root):
    p_in, p_out = veiltest.free_port(), veiltest.free_port()
    conf = os.path.join(root, "drop.conf")
    with open(conf, "w") as f:
        f.write(conf_text(d, p_in, p_out, "queue_bytes = 32768\n", "on_queue_full = drop\n"))
    dp = start_dp(conf)
    try:
        check(wait_listen(p_in, dp), "2: veil-dataplane listens")
        time.sleep(1.0)
        send_tcp(p_in, [line(i) for i in range(N)])
        time.sleep(2.0)
        rc, s, err = veiltest.stop_dataplane(dp)
        check(err.count("lines DROPPED") == 1 and "queue is full" in err,
              "2: the log says once that lines are dropped, and why (%s)" % err[-500:])
        if check(s is not None, "2: a summary"):
            x = s.get("driver", {})
            check(x.get("upstream_dropped", 0) > 0, "2: upstream_dropped counted (%s)"
                  % x.get("upstream_dropped"))
            check(s["lines_in"] == s["lines_out"] + s["lines_dropped"] + s["lines_held"]
                  + s["lines_not_written"] and s["lines_not_written"] > 0,
                  "2: the summary adds up, with the lines not written")
        check(rc != 0, "2: the exit status says lines were not delivered (%d)" % rc)
    finally:
        if dp.poll() is None:
            dp.kill()


def part_stop(d, root):
    """3. What a TCP sender wrote before a SIGTERM (still in the kernel's
    buffers: veil-dataplane was stopped by SIGSTOP meanwhile) is read and
    delivered before the end, and counted."""
    p_in, p_out = veiltest.free_port(), veiltest.free_port()
    conf = os.path.join(root, "stop.conf")
    with open(conf, "w") as f:
        f.write(conf_text(d, p_in, p_out, "", ""))
    coll = Collector(p_out)
    coll.start()
    dp = start_dp(conf)
    try:
        check(wait_listen(p_in, dp), "3: veil-dataplane listens")
        time.sleep(1.0)
        s = socket.create_connection(("127.0.0.1", p_in))
        s.sendall(line(0) + b"\n")
        end = time.time() + 20
        while time.time() < end and len(coll.lines) < 1:
            time.sleep(0.1)
        dp.send_signal(signal.SIGSTOP)
        s.sendall(b"".join(line(i) + b"\n" for i in range(1, 301)))
        s.close()
        dp.send_signal(signal.SIGTERM)
        dp.send_signal(signal.SIGCONT)
        rc, sm, err = veiltest.stop_dataplane(dp)
        end = time.time() + 10
        while time.time() < end and len(set(seqs(coll.lines))) < 301:
            time.sleep(0.1)
        check(sm is not None and sm["lines_in"] == 301,
              "3: the 300 lines written before the SIGTERM were read (lines_in %s)"
              % (sm and sm["lines_in"]))
        check(set(seqs(coll.lines)) == set(range(301)),
              "3: and delivered (%d of 301)" % len(set(seqs(coll.lines))))
        check(rc == 0, "3: a clean stop (%d)" % rc)
    finally:
        if dp.poll() is None:
            dp.kill()
        coll.stop()


def wait_lines(coll, n, secs=60):
    """Until the collector has lines 0..n-1 (or @secs passed). @return the
    sequence numbers it got, in order of arrival."""
    end = time.time() + secs
    while time.time() < end and len(set(seqs(coll.lines))) < n:
        time.sleep(0.1)
    return seqs(coll.lines)


def in_order(got):
    """Whether the lines first arrived in the order they were sent."""
    firsts, seen = [], set()
    for g in got:
        if g not in seen:
            seen.add(g)
            firsts.append(g)
    return firsts == sorted(firsts)


def adds_up(s):
    return s is not None and s["lines_in"] == (s["lines_out"] + s["lines_dropped"] +
                                               s["lines_held"] + s["lines_not_written"])


def figures(s):
    return s and dict({k: s[k] for k in ("lines_in", "lines_out", "lines_dropped",
                                         "lines_held", "lines_not_written")},
                      **{k: v for k, v in s.get("driver", {}).items()
                         if k.startswith(("upstream_", "rx_paused"))})


def said(err):
    """What the log said of the upstream."""
    return [ln for ln in err.splitlines() if "upstream coll" in ln][-8:]


def part_disk_full(d, root):
    """4. The spool's file system is full (a 4 MiB tmpfs filled to the last
    byte) while the collector is up: the lines go through memory, none is
    dropped; once the disk has room the spool takes lines again."""
    p_in, p_out = veiltest.free_port(), veiltest.free_port()
    mnt = os.path.join(root, "spool-fs")
    os.mkdir(mnt, 0o700)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700",
                       "veil-test-spool-%d" % os.getpid(), mnt]).returncode != 0:
        veiltest.skip("4", "cannot mount a tmpfs on %s" % mnt)
        return
    filler = os.path.join(mnt, "filler")
    conf = os.path.join(root, "disk.conf")
    with open(conf, "w") as f:
        f.write(conf_text(d, p_in, p_out, "spool_dir = %s\nqueue_bytes = 65536\n" % mnt,
                          "on_queue_full = spool\nspool_bytes = 64M\n"))
    coll = Collector(p_out)
    coll.start()
    dp = start_dp(conf)
    try:
        check(wait_listen(p_in, dp), "4: veil-dataplane listens")
        time.sleep(1.0)
        send_tcp(p_in, [line(i) for i in range(100)])
        check(set(wait_lines(coll, 100)) == set(range(100)), "4: the first lines arrive")
        veiltest.fill(filler)
        send_tcp(p_in, [line(i) for i in range(100, 3100)])
        got = wait_lines(coll, 3100, 30)
        check(set(got) == set(range(3100)), "4: with the spool's disk full and the "
              "collector up every line arrived (%d distinct of 3100)" % len(set(got)))
        os.unlink(filler)
        for k in range(6):  # the spool tries its disk again now and then
            time.sleep(0.3)
            send_tcp(p_in, [line(i) for i in range(3100 + 50 * k, 3150 + 50 * k)])
        got = wait_lines(coll, 3400, 30)
        check(set(got) == set(range(3400)), "4: and after the disk had room again "
              "(%d distinct of 3400)" % len(set(got)))
        check(in_order(got), "4: in order")
        rc, s, err = veiltest.stop_dataplane(dp)
        check(rc == 0 and adds_up(s) and s["lines_not_written"] == 0
              and s["lines_in"] == 3400, "4: a clean stop, every line in and delivered, "
              "nothing dropped or not written (rc %d, %s)" % (rc, figures(s)))
        x = (s or {}).get("driver", {})
        print("  note: 4: the spool refused lines %s time(s), %s lines went through "
              "memory only, the senders waited %s rounds" % (x.get("upstream_spool_full"),
              x.get("upstream_spool_bypassed"), x.get("rx_paused_upstream")))
        for ln in said(err):
            print("  log: " + ln)
        check(x.get("upstream_dropped") == 0 and x.get("upstream_spool_full", 0) >= 1,
              "4: no line dropped at the upstream, the spool's full state counted (%s)"
              % figures(s))
        check("lines DROPPED" not in err and err.count("spool is full") == 1
              and "No space left on device" in err
              and err.count("spool takes lines again") == 1,
              "4: the log says once that the spool is full and why, once that it takes "
              "lines again, and drops nothing (%s)" % said(err))
    finally:
        if dp.poll() is None:
            dp.kill()
        coll.stop()
        subprocess.run(["umount", mnt])


def part_burst(d, root):
    """5. A burst of many times spool_bytes, the collector up and fast: what
    the spool cannot take goes through memory, the senders wait; nothing is
    dropped."""
    p_in, p_out = veiltest.free_port(), veiltest.free_port()
    spool = os.path.join(root, "spool5")
    os.mkdir(spool, 0o700)
    conf = os.path.join(root, "burst.conf")
    with open(conf, "w") as f:
        f.write(conf_text(d, p_in, p_out, "spool_dir = %s\nqueue_bytes = 65536\n" % spool,
                          "on_queue_full = spool\nspool_bytes = 1M\n"))
    coll = Collector(p_out)
    coll.start()
    dp = start_dp(conf)
    m = 40000
    try:
        check(wait_listen(p_in, dp), "5: veil-dataplane listens")
        time.sleep(1.0)
        send_tcp(p_in, [line(i) for i in range(m)])
        got = wait_lines(coll, m, 90)
        check(set(got) == set(range(m)), "5: a burst far beyond spool_bytes, the "
              "collector up: every line arrived (%d distinct of %d)" % (len(set(got)), m))
        check(in_order(got), "5: in order")
        rc, s, err = veiltest.stop_dataplane(dp)
        check(rc == 0 and adds_up(s) and s["lines_not_written"] == 0
              and s["lines_in"] == m, "5: a clean stop, every line in and delivered, "
              "nothing dropped or not written (rc %d, %s)" % (rc, figures(s)))
        x = (s or {}).get("driver", {})
        print("  note: 5: the spool refused lines %s time(s), %s lines went through "
              "memory only, the senders waited %s rounds" % (x.get("upstream_spool_full"),
              x.get("upstream_spool_bypassed"), x.get("rx_paused_upstream")))
        for ln in said(err):
            print("  log: " + ln)
        check(x.get("upstream_dropped") == 0 and x.get("upstream_spool_full", 0) >= 1,
              "5: no line dropped at the upstream, the spool's full state counted (%s)"
              % figures(s))
        check("lines DROPPED" not in err and err.count("spool is full") == 1,
              "5: the log says once that the spool is full, drops nothing (%s)"
              % said(err))
    finally:
        if dp.poll() is None:
            dp.kill()
        coll.stop()


def settled(d, secs=30):
    """veilctl stats' totals once lines_in stopped growing (three looks in a
    row the same), or the last after @secs."""
    end, last, same, tot = time.time() + secs, None, 0, {}
    while time.time() < end and same < 3:
        time.sleep(0.5)
        rc, a = d.ctl("stats")
        tot = a.get("totals", {}) if rc == 0 else {}
        n = tot.get("lines_in")
        same = same + 1 if n and n == last else 0
        last = n
    return tot


def cpu_seconds(pid):
    """The user + system CPU time of process @pid so far, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def part_down_full(d, root):
    """6. The collector down, the spool at spool_bytes: the TCP sender is
    held back, nothing is dropped; the collector back: all of it, in
    order."""
    p_in, p_out = veiltest.free_port(), veiltest.free_port()
    spool = os.path.join(root, "spool6")
    os.mkdir(spool, 0o700)
    conf = os.path.join(root, "downfull.conf")
    with open(conf, "w") as f:
        f.write(conf_text(d, p_in, p_out, "spool_dir = %s\nqueue_bytes = 65536\n" % spool,
                          "on_queue_full = spool\nspool_bytes = 1M\n"))
    dp = start_dp(conf)
    m = 30000
    coll = Collector(p_out)
    try:
        check(wait_listen(p_in, dp), "6: veil-dataplane listens")
        time.sleep(1.0)
        sender = threading.Thread(target=send_tcp, args=(p_in, [line(i) for i in range(m)]),
                                  daemon=True)
        sender.start()
        tot = settled(d)
        check(0 < tot.get("lines_in", 0) < m and tot.get("lines_dropped") == 0
              and tot.get("lines_not_written") == 0,
              "6: with the spool full and the collector down, the TCP sender is held "
              "back (veilctl stats: %s of %d lines in), nothing dropped (%s)"
              % (tot.get("lines_in"), m, tot))
        # held back costs no CPU: the held connections stay readable, and a
        # loop that still asked epoll for them woke at once, every round
        cpu = cpu_seconds(dp.pid)
        time.sleep(3.0)
        cpu = cpu_seconds(dp.pid) - cpu
        check(cpu < 0.5, "6: while the sender is held back veil-dataplane waits, it "
              "does not spin (%.2f CPU s in 3 s)" % cpu)
        coll.start()
        sender.join(60)
        got = wait_lines(coll, m, 90)
        check(set(got) == set(range(m)), "6: the collector up: every line arrived "
              "(%d distinct of %d)" % (len(set(got)), m))
        check(in_order(got), "6: in order")
        rc, s, err = veiltest.stop_dataplane(dp)
        x = (s or {}).get("driver", {})
        print("  note: 6: the spool refused lines %s time(s), %s lines went through "
              "memory only, the senders waited %s rounds" % (x.get("upstream_spool_full"),
              x.get("upstream_spool_bypassed"), x.get("rx_paused_upstream")))
        check(rc == 0 and adds_up(s) and s["lines_not_written"] == 0
              and s["lines_in"] == m, "6: a clean stop, every line in and delivered "
              "(rc %d, %s)" % (rc, figures(s)))
        check(x.get("upstream_dropped") == 0 and x.get("rx_paused_upstream", 0) > 0
              and "lines DROPPED" not in err and err.count("spool is full") == 1,
              "6: nothing dropped, the senders were held back, the log says the spool "
              "is full once (%s; %s)" % (figures(s), said(err)))
    finally:
        if dp.poll() is None:
            dp.kill()
        if coll.srv is not None:
            coll.stop()


def main():
    root = tempfile.mkdtemp(prefix="veil-upfull-")
    d = veiltest.Controld(BUILD, root)
    try:
        d.start(tenants=["acme"])
        part_spool(d, root)
        part_drop(d, root)
        part_stop(d, root)
        part_disk_full(d, root)
        part_burst(d, root)
        part_down_full(d, root)
    finally:
        d.stop()
        shutil.rmtree(root, ignore_errors=True)
    return veiltest.finish("upstream-full")


if __name__ == "__main__":
    sys.exit(main())
