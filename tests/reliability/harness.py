#!/usr/bin/python3
# SPDX-License-Identifier: LicenseRef-veil-proprietary
"""The reliability harness: real processes, real peers, faults on a schedule,
and every line accounted for at the end.

What runs (all on 127.0.0.1, in a temporary directory of its own):
 - veil-controld (tests/integration/veiltest.py's Controld), tenant acme;
 - veil-dataplane in network mode, socket driver: a TCP listener, one TCP
   upstream with on_queue_full = spool, its spool_dir on a small tmpfs
   mounted here (so that "disk full" can be made and undone); restarted
   like systemd's Restart=always, about 1 s after it ended;
 - senders: two rsyslogd, each with a plain TCP input fed by the generator
   and an omfwd action to veil's listener (TCP, octet-counted) with a
   disk-assisted action queue and endless resume retries, so that they
   keep and resend what veil did not take while it was down;
 - the collector: rsyslogd with a TCP input, writing each message as
   received (%rawmsg%) to a file;
 - the generator: one thread per sender writing CEF lines, each with a
   sequence number (cs1=SENDER-SEQ), a user name and a host name that must
   never leave veil in clear.

Faults, on a schedule drawn from a seeded random generator (printed, so a
run can be repeated with --seed): controld kill -9 and restart; dataplane
kill -9 and restart; dataplane SIGTERM and restart (its --json summary is
checked); collector down and up; the spool's file system full, then freed;
key rolls; tenant lock and unlock; SIGHUP to controld; a slow collector
(SIGSTOP, then SIGCONT); bursts from the generator at full speed.

Checks at the end:
 - no user or host name in clear in the collector's file, the spool, or the
   logs of veil-dataplane and veil-controld;
 - every sequence number is accounted for: delivered (duplicates are
   counted: the spool delivers at least once), or counted by veil as not
   delivered (dropped, not written, held), or lost in a kill -9 window of
   the dataplane (counted apart, with the window);
 - each dataplane run ended by SIGTERM: its summary's identity
   lines_in = lines_out + lines_dropped + lines_held + lines_not_written;
 - RSS and open fds of both daemons, sampled every few seconds, stay under
   the stated bounds, without growth from the first third of the run to
   the last beyond the stated margin;
 - no stuck worker: after each fault, new lines reach the collector.

usage: harness.py [--minutes M | --short] [--seed S] [--json] BUILD_DIR
"""
import argparse
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "integration"))
import veiltest  # noqa: E402
from veiltest import check, free_port, wait_port  # noqa: E402

RSYSLOGD = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"
TENANT = "acme"
SENDERS = ("sa", "sb")
SEQ = re.compile(rb"cs1=(s[ab])-([0-9]{8})")
TOKEN = re.compile(veiltest.TOKEN_RE)
JUST = "reliability harness: tokens of a soak resolve after key rolls"
CLEAR = (b"reluser", b"relhost-")  # the names' stems: never past veil
SPOOL_FS = 64 * 1024 * 1024       # the tmpfs the spool lives on
SPOOL_BYTES = 32 * 1024 * 1024    # the spool's bound (spool_bytes)
# Bounds for the daemons (stated in docs/reliability.md): absolute, and the
# growth allowed from the first third of the run to the last.
RSS_MAX_KB = {"dataplane": 256 * 1024, "controld": 128 * 1024}
FDS_MAX = 256
RSS_GROWTH_KB = 16 * 1024
RSS_GROWTH_FRAC = 0.25
FDS_GROWTH = 16


def log(msg):
    print("[%7.1f] %s" % (time.monotonic() - T0, msg), flush=True)


T0 = time.monotonic()


# ---------------------------------------------------------------- rsyslog --

class Rsyslog:
    """rsyslogd -n with its own config, work directory and pid file."""

    def __init__(self, root, name, conf, port):
        self.dir = os.path.join(root, name)
        self.name, self.port = name, port
        os.makedirs(os.path.join(self.dir, "work"), exist_ok=True)
        self.conf = os.path.join(self.dir, "rsyslog.conf")
        self.pidf = os.path.join(self.dir, "rsyslog.pid")
        with open(self.conf, "w") as f:
            f.write(conf.replace("@DIR@", self.dir))
        self.proc = None
        self.log = None

    def start(self):
        self.log = open(os.path.join(self.dir, "rsyslogd.out"), "a")
        self.proc = subprocess.Popen([RSYSLOGD, "-n", "-f", self.conf, "-i", self.pidf],
                                     stdout=self.log, stderr=self.log)
        if not wait_port(self.port, 30):
            raise RuntimeError("rsyslogd %s did not listen on %d" % (self.name, self.port))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        if self.alive():
            self.proc.send_signal(sig)

    def stop(self, timeout=60):
        if self.alive():
            self.proc.send_signal(signal.SIGCONT)
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.log:
            self.log.close()
            self.log = None


def collector_conf(port):
    # A ruleset of its own: rsyslogd's own messages stay out of the file.
    return ('global(workDirectory="@DIR@/work")\n'
            'module(load="imtcp")\n'
            'input(type="imtcp" port="%d" address="127.0.0.1" ruleset="in")\n'
            'template(name="raw" type="string" string="%%rawmsg%%\\n")\n'
            'ruleset(name="in") {\n'
            '  action(type="omfile" file="@DIR@/collected.log" template="raw")\n'
            '}\n' % port)


def sender_conf(in_port, veil_port):
    """A plain TCP input relayed to veil over TCP, octet-counted, through a
    disk-assisted action queue that is kept at shutdown and retried for
    ever: what veil does not take while it is down waits here."""
    return ('global(workDirectory="@DIR@/work")\n'
            'module(load="imtcp")\n'
            'input(type="imtcp" port="%d" address="127.0.0.1" ruleset="fwd")\n'
            'template(name="raw" type="string" string="%%rawmsg%%")\n'
            'ruleset(name="fwd") {\n'
            '  action(type="omfwd" target="127.0.0.1" port="%d" protocol="tcp"\n'
            '         template="raw" TCP_Framing="octet-counted"\n'
            '         queue.type="LinkedList" queue.filename="fwdq"\n'
            '         queue.size="20000" queue.highWatermark="15000"\n'
            '         queue.lowWatermark="5000" queue.maxDiskSpace="1g"\n'
            '         queue.saveOnShutdown="on" queue.timeoutEnqueue="0"\n'
            '         action.resumeRetryCount="-1" action.resumeInterval="1")\n'
            '}\n' % (in_port, veil_port))


# -------------------------------------------------------------- generator --

class Generator(threading.Thread):
    """Writes numbered CEF lines to one sender's TCP input at @rate lines/s;
    burst(n) adds n lines at full speed. Records when each line was written."""

    def __init__(self, tag, port, rate):
        super().__init__(daemon=True)
        self.tag, self.port, self.rate = tag, port, rate
        self.times = []          # times[i]: when line i was written (monotonic)
        self.stop_ev = threading.Event()
        self.bursts = 0
        self.lock = threading.Lock()
        self.error = None

    def line(self, i):
        return ("<14>Nov 25 10:00:00 fw01 CEF:0|Veil|Rel|1.0|100|login|3|"
                "src=10.0.%d.%d suser=reluser%04d shost=relhost-%03d cs1Label=seq "
                "cs1=%s-%08d\n" % (i % 7, i % 250, i % 1000, i % 101, self.tag, i)).encode()

    def burst(self, n):
        with self.lock:
            self.bursts += n

    def run(self):
        try:
            s = socket.create_connection(("127.0.0.1", self.port), timeout=120)
        except OSError as e:
            self.error = "connect: %s" % e
            return
        step = 0.05
        per_step = max(1, int(self.rate * step))
        nxt = time.monotonic()
        while not self.stop_ev.is_set():
            with self.lock:
                n, self.bursts = per_step + self.bursts, 0
            buf = []
            base = len(self.times)
            for k in range(n):
                buf.append(self.line(base + k))
            try:
                s.sendall(b"".join(buf))
            except OSError as e:
                self.error = "send: %s" % e
                return
            now = time.monotonic()
            self.times.extend([now] * n)
            nxt += step
            delay = nxt - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                nxt = time.monotonic()
        s.close()


# -------------------------------------------------------------- the veil --

class Dataplane:
    """veil-dataplane in network mode; every run's stderr in a file of its
    own (run-N.err) so that its summary and log stay apart."""

    def __init__(self, build, root, conf, port):
        self.exe = os.path.join(build, "dataplane", "veil-dataplane")
        self.root, self.conf, self.port = root, conf, port
        self.proc = None
        self.runs = []      # {"n", "start", "end", "how", "rc", "summary"}
        self.err = None

    def start(self):
        n = len(self.runs)
        path = os.path.join(self.root, "dataplane-run-%03d.err" % n)
        self.err = open(path, "wb")
        self.proc = subprocess.Popen([self.exe, "--", "-c", self.conf, "--json"],
                                     stderr=self.err)
        self.runs.append({"n": n, "start": time.monotonic(), "end": None, "how": None,
                          "rc": None, "summary": None, "err": path, "pid": self.proc.pid})
        if not wait_port(self.port, 60):
            raise RuntimeError("veil-dataplane did not listen on %d (%s)" % (self.port, path))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def pid(self):
        return self.proc.pid if self.alive() else None

    def _ended(self, how):
        r = self.runs[-1]
        r["end"], r["how"], r["rc"] = time.monotonic(), how, self.proc.returncode
        self.err.close()
        with open(r["err"], "rb") as f:
            r["summary"] = veiltest.summary_of(f.read())

    def kill9(self):
        self.proc.kill()
        self.proc.wait()
        self._ended("kill -9")

    def term(self, timeout=120):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
            self._ended("SIGTERM")
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self._ended("SIGTERM, then kill -9 after %d s" % timeout)

    def died(self):
        """Ended on its own (a crash): recorded, True."""
        if self.proc is not None and self.proc.poll() is not None and \
                self.runs[-1]["how"] is None:
            self._ended("exited by itself, status %d" % self.proc.returncode)
            return True
        return False


def dataplane_conf(path, link, spool_dir, listen, upstream):
    with open(path, "w") as f:
        f.write("[dataplane]\nlink_socket = %s\nwait_keys = 30\nmax_message = 4096\n\n"
                "[network]\ndriver = socket\nqueue_bytes = 1M\nreconnect_min = 0.1\n"
                "reconnect_max = 1\ndrain_timeout = 10\nidle_timeout = 3600\n"
                "spool_dir = %s\n\n"
                "[listen tcp]\nprotocol = tcp\naddress = 127.0.0.1:%d\n\n"
                "[upstream coll]\nprotocol = tcp\naddress = 127.0.0.1:%d\n"
                "on_queue_full = spool\nspool_bytes = %dM\n\n"
                "[source fw]\ntenant = %s\nformat = cef\nnetworks = 127.0.0.0/8\n"
                % (link, spool_dir, listen, upstream, SPOOL_BYTES >> 20, TENANT))


# ------------------------------------------------------------- bookkeeping --

class Delivered:
    """Follows the collector's file: how often each (sender, seq) arrived."""

    def __init__(self, path):
        self.path, self.off, self.rest = path, 0, b""
        self.count = {t: bytearray() for t in SENDERS}
        self.total = 0
        self.clear = 0        # lines with a name in clear
        self.other = 0        # lines without a sequence number

    def poll(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.off)
                data = f.read()
        except FileNotFoundError:
            return self.total
        self.off += len(data)
        data = self.rest + data
        lines = data.split(b"\n")
        self.rest = lines.pop()
        for ln in lines:
            if any(c in ln for c in CLEAR):
                self.clear += 1
            m = SEQ.search(ln)
            if m is None:
                self.other += 1
                continue
            c = self.count[m.group(1).decode()]
            i = int(m.group(2))
            if i >= len(c):
                c.extend(b"\0" * (i + 1 - len(c) + 4096))
            if c[i] < 255:
                c[i] += 1
            self.total += 1
        return self.total


class Sampler(threading.Thread):
    """RSS and open fds of the daemons every @every seconds."""

    def __init__(self, every, pids, spool_dir, stats):
        super().__init__(daemon=True)
        self.every, self.pids, self.spool_dir = every, pids, spool_dir
        self.stats = stats    # called at each round: veilctl stats
        self.spool_max = 0    # the spool's files together, bytes
        self.samples = []     # (t, daemon, pid, rss_kb, fds)
        self.stop_ev = threading.Event()

    def run(self):
        while not self.stop_ev.wait(self.every):
            for name, fn in self.pids.items():
                pid = fn()
                if pid is None:
                    continue
                try:
                    with open("/proc/%d/status" % pid) as f:
                        rss = next(int(ln.split()[1]) for ln in f if ln.startswith("VmRSS:"))
                    fds = len(os.listdir("/proc/%d/fd" % pid))
                except (OSError, StopIteration, ValueError):
                    continue
                self.samples.append((time.monotonic(), name, pid, rss, fds))
            total = 0
            for dp, _, files in os.walk(self.spool_dir):
                for fn in files:
                    try:
                        total += os.stat(os.path.join(dp, fn)).st_size
                    except OSError:
                        pass
            self.spool_max = max(self.spool_max, total)
            self.stats()


# ------------------------------------------------------------------ faults --

FAULTS = ("controld_kill9", "dataplane_kill9", "dataplane_term", "collector_down",
          "spool_disk_full", "key_roll", "tenant_lock", "controld_sighup",
          "slow_collector", "burst")


class Harness:
    def __init__(self, args):
        self.args = args
        self.build = os.path.abspath(args.build)
        self.rng = random.Random(args.seed)
        self.root = tempfile.mkdtemp(prefix="veil-rel-")
        self.faults = {k: 0 for k in FAULTS}
        self.events = []      # (t, kind, detail)
        self.kill_windows = []  # (t_kill, t_back): dataplane kill -9 .. listening again
        self.term_windows = []  # (t_term, t_back): dataplane SIGTERM .. listening again
        self.full_windows = []  # (t_fill, t_free): the spool's file system full
        self.stuck = []
        self.stats_by_pid = {}
        self.crashes = []
        self.ctld_crashes = []
        self.spool_mounted = False
        self.filler = None

    # --- the processes
    def setup(self):
        self.spool_root = os.path.join(self.root, "spoolfs")
        os.mkdir(self.spool_root, 0o700)
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%d,mode=0700" % SPOOL_FS,
                            "tmpfs", self.spool_root], capture_output=True, text=True)
        self.spool_mounted = p.returncode == 0
        if not self.spool_mounted:
            veiltest.skip("spool_disk_full", "cannot mount a tmpfs here (%s): the spool is "
                          "on the temporary directory's file system" % p.stderr.strip())
        self.spool_dir = os.path.join(self.spool_root, "spool")
        os.mkdir(self.spool_dir, 0o700)

        self.ctld = veiltest.Controld(self.build, self.root)
        self.ctld.start(tenants=(TENANT,))
        p_veil, p_coll = free_port(), free_port()
        self.coll = Rsyslog(self.root, "collector", collector_conf(p_coll), p_coll)
        self.coll.start()
        self.delivered = Delivered(os.path.join(self.coll.dir, "collected.log"))
        conf = os.path.join(self.root, "dataplane.conf")
        dataplane_conf(conf, self.ctld.link, self.spool_dir, p_veil, p_coll)
        p = subprocess.run([os.path.join(self.build, "dataplane", "veil-dataplane"),
                            "--", "-n", "-c", conf], capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError("veil-dataplane -n refused the config: %s%s"
                               % (p.stdout, p.stderr))
        self.dp = Dataplane(self.build, self.root, conf, p_veil)
        self.dp.start()
        self.senders, self.gens = [], []
        for tag in SENDERS:
            p_in = free_port()
            s = Rsyslog(self.root, "sender-" + tag, sender_conf(p_in, p_veil), p_in)
            s.start()
            self.senders.append(s)
            self.gens.append(Generator(tag, p_in, self.args.rate))
        self.sampler = Sampler(self.args.sample_every,
                               {"dataplane": self.dp.pid,
                                "controld": lambda: (self.ctld.proc.pid
                                                     if self.ctld.proc.poll() is None
                                                     else None)},
                               self.spool_dir, self.sample_stats)
        self.sampler.start()
        for g in self.gens:
            g.start()

    def sample_stats(self):
        """veilctl stats: the link's counters of the running dataplane, kept
        by its pid (the last ones a run sent are what is known of a run
        ended by kill -9)."""
        if self.ctld.proc.poll() is not None:
            return
        try:
            rc, a = self.ctld.ctl("stats")
        except (subprocess.TimeoutExpired, OSError):
            return
        pid = (a.get("dataplane") or {}).get("pid")
        if rc == 0 and pid and a.get("totals"):
            self.stats_by_pid[pid] = a["totals"]

    def event(self, kind, detail=""):
        self.events.append((time.monotonic(), kind, detail))
        log("%s %s" % (kind, detail))

    def supervise(self, secs):
        """Wait @secs while following the collector's file; restart a
        dataplane that ended by itself (Restart=always: after 1 s) and a
        controld that did."""
        end = time.monotonic() + secs
        while True:
            self.delivered.poll()
            if self.dp.died():
                r = self.dp.runs[-1]
                self.crashes.append(r)
                self.event("dataplane-ended", "%s (%s)" % (r["how"], r["err"]))
                time.sleep(1.0)
                self.dp.start()
            if self.ctld.proc.poll() is not None and not getattr(self, "ctld_down", False):
                self.ctld_crashes.append(self.ctld.proc.returncode)
                self.event("controld-ended", "status %d" % self.ctld.proc.returncode)
                self.ctld.stop()
                self.ctld.start()
            for g in self.gens:
                if g.error:
                    raise RuntimeError("generator %s: %s" % (g.tag, g.error))
            left = end - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(0.25, left))

    def progress(self, kind):
        """No stuck worker: after fault @kind, new lines reach the collector
        (generous: up to 90 s on a loaded machine)."""
        before = self.delivered.poll()
        t0 = time.monotonic()
        while time.monotonic() - t0 < 90:
            self.supervise(0.5)
            if self.delivered.total > before:
                return True
        self.stuck.append((t0, kind))
        log("STUCK: nothing reached the collector for 90 s after %s" % kind)
        return False

    def dur(self, lo, hi):
        """A fault's length, drawn in [lo, hi] s (in the short run, at most
        2.5 s)."""
        if self.args.short:
            hi = min(hi, 2.5)
        return round(self.rng.uniform(lo, hi), 1)

    # --- the faults
    def fault(self, kind):
        self.faults[kind] += 1
        if kind == "controld_kill9":
            d = self.dur(0.5, 3)
            self.ctld_down = True
            self.ctld.proc.kill()
            self.ctld.proc.wait()
            self.event(kind, "down %.1f s" % (d + 1))
            self.supervise(d + 1.0)
            self.ctld.stop()
            self.ctld.start()
            self.ctld_down = False
        elif kind == "dataplane_kill9":
            t = time.monotonic()
            self.dp.kill9()
            self.event(kind, "run %d" % self.dp.runs[-1]["n"])
            time.sleep(1.0)  # Restart=always, RestartSec=1
            self.dp.start()
            self.kill_windows.append((t, time.monotonic()))
        elif kind == "dataplane_term":
            t = time.monotonic()
            self.dp.term()
            r = self.dp.runs[-1]
            self.event(kind, "run %d: %s, status %s" % (r["n"], r["how"], r["rc"]))
            time.sleep(1.0)
            self.dp.start()
            self.term_windows.append((t, time.monotonic()))
        elif kind == "collector_down":
            d = self.dur(1, 6)
            self.coll.stop()
            self.event(kind, "%.1f s" % d)
            self.supervise(d)
            self.coll.start()
        elif kind == "spool_disk_full":
            if not self.spool_mounted:
                self.faults[kind] -= 1
                return
            d = self.dur(1, 4)
            t = time.monotonic()
            n = self.fill_spool_fs()
            self.event(kind, "filled with %d bytes for %.1f s" % (n, d))
            self.supervise(d)
            self.free_spool_fs()
            self.full_windows.append((t, time.monotonic()))
        elif kind == "key_roll":
            rc, a = self.ctld.ctl("key", "roll", TENANT)
            self.event(kind, "rc %d %s" % (rc, a.get("error", "")))
            check(rc == 0, "veilctl key roll %s: %r" % (TENANT, a))
        elif kind == "tenant_lock":
            d = self.dur(1, 4)
            rc, a = self.ctld.ctl("tenant", "lock", TENANT)
            check(rc == 0, "veilctl tenant lock: %r" % a)
            self.event(kind, "%.1f s" % d)
            self.supervise(d)
            rc, a = self.ctld.ctl("tenant", "unlock", TENANT)
            check(rc == 0, "veilctl tenant unlock: %r" % a)
        elif kind == "controld_sighup":
            self.ctld.proc.send_signal(signal.SIGHUP)
            self.event(kind)
        elif kind == "slow_collector":
            d = self.dur(1, 6)
            self.coll.signal(signal.SIGSTOP)
            self.event(kind, "stopped %.1f s" % d)
            self.supervise(d)
            self.coll.signal(signal.SIGCONT)
        elif kind == "burst":
            n = self.rng.choice((5000, 10000, 20000))
            for g in self.gens:
                g.burst(n)
            self.event(kind, "%d lines per sender" % n)
        self.progress(kind)

    def fill_spool_fs(self):
        """Fill the spool's file system to the last byte. @return the bytes
        written (0 if it was full already)."""
        self.filler = os.path.join(self.spool_root, "filler")
        n = 0
        try:
            fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        except OSError:  # already full (the spool filled it)
            return 0
        try:
            for blk in (b"\0" * 65536, b"\0" * 512):
                try:
                    while True:
                        w = os.write(fd, blk)
                        n += w
                        if w < len(blk):
                            break
                except OSError:
                    pass
        finally:
            os.close(fd)
        return n

    def free_spool_fs(self):
        if self.filler:
            try:
                os.unlink(self.filler)
            except FileNotFoundError:
                pass
            self.filler = None

    def schedule(self):
        """The faults: in the short run every kind about twice, in random
        order; in the long one, kinds drawn at random until the time is up."""
        kinds = [k for k in FAULTS if k != "spool_disk_full" or self.spool_mounted]
        if self.args.short:
            plan = kinds * 2
            self.rng.shuffle(plan)
            return plan
        return None

    def run(self):
        self.setup()
        self.event("start", "seed %d, %d lines/s per sender" % (self.args.seed,
                                                                 self.args.rate))
        self.supervise(3)
        self.progress("start")
        plan = self.schedule()
        t_end = time.monotonic() + self.args.minutes * 60
        i = 0
        while True:
            if plan is not None:
                if i >= len(plan):
                    break
                kind = plan[i]
            else:
                if time.monotonic() >= t_end:
                    break
                kind = self.rng.choice([k for k in FAULTS
                                        if k != "spool_disk_full" or self.spool_mounted])
            i += 1
            self.fault(kind)
            if self.spool_mounted:
                self.scan_spool()
            self.supervise(self.dur(*self.args.gap))
        self.finish()

    def scan_spool(self):
        """The spool holds anonymized lines only (looked at while it runs,
        as it may be empty at the end)."""
        total = 0
        for dp, _, files in os.walk(self.spool_dir):
            for fn in files:
                try:
                    with open(os.path.join(dp, fn), "rb") as f:
                        data = f.read()
                except OSError:
                    continue
                total += len(data)
                for c in CLEAR:
                    if c in data:
                        self.spool_clear = getattr(self, "spool_clear", 0) + 1
        self.spool_bytes_seen = max(getattr(self, "spool_bytes_seen", 0), total)

    # --- the end
    def quiesce(self):
        """The generators stop; wait until the senders' queues and veil's
        spool have emptied: nothing new at the collector for 20 s, or every
        line there."""
        for g in self.gens:
            g.stop_ev.set()
        for g in self.gens:
            g.join(30)
        self.sent = {g.tag: len(g.times) for g in self.gens}
        total = sum(self.sent.values())
        last, t_last = self.delivered.poll(), time.monotonic()
        t0 = time.monotonic()
        while time.monotonic() - t_last < 20 and time.monotonic() - t0 < 600:
            self.supervise(1)
            got = sum(1 for t in SENDERS for i in range(self.sent[t])
                      if i < len(self.delivered.count[t]) and self.delivered.count[t][i]) \
                if self.delivered.total >= total else -1
            if got == total:
                break
            if self.delivered.total != last:
                last, t_last = self.delivered.total, time.monotonic()
        log("quiet: %d delivered of %d sent, after %.0f s"
            % (self.delivered.total, total, time.monotonic() - t0))

    def resolve_sample(self, n=2000):
        """Tokens made under every key the run rolled to resolve, through
        veilctl, to each line's own names: @n lines spread over the file."""
        step = max(1, self.delivered.total // n)
        sample = []
        with open(self.delivered.path, "rb") as f:
            for k, ln in enumerate(f):
                if k % step == 0 and ln.endswith(b"\n"):
                    sample.append(ln)
        path = os.path.join(self.root, "sample.log")
        with open(path, "wb") as f:
            f.writelines(sample)
        rc, a = self.ctld.ctl("resolve", "-t", TENANT, "-j", JUST, "--text", "--file", path)
        if not check(rc == 0 and a.get("failed") == 0, "every sampled token resolves "
                     "(%d lines): %r" % (len(sample), a.get("error", a.get("failed")))):
            return
        names = dict(zip(a.get("tokens", []), a.get("names", [])))
        bad = 0
        for ln in sample:
            m = SEQ.search(ln)
            toks = [t.decode() for t in TOKEN.findall(ln)]
            if m is None or len(toks) != 2:
                bad += 1
                continue
            i = int(m.group(2))
            if names.get(toks[0]) != "reluser%04d" % (i % 1000) or \
                    names.get(toks[1]) != "relhost-%03d" % (i % 101):
                bad += 1
        check(bad == 0, "each sampled line's tokens resolve to its own names, across %d "
              "key rolls (%d of %d bad)" % (self.faults["key_roll"], bad, len(sample)))

    def finish(self):
        self.quiesce()
        self.resolve_sample()
        rc, a = self.ctld.ctl("stats")
        t = a.get("totals") or {}
        self.final_stats = t
        check(rc == 0 and t.get("lines_in", -1) == t.get("lines_out", 0) +
              t.get("lines_dropped", 0) + t.get("lines_held", 0) +
              t.get("lines_not_written", 0),
              "veilctl stats adds up once the lines have settled: %r"
              % {k: v for k, v in t.items() if k.startswith("lines")})
        self.dp.term()
        for s in self.senders:
            s.stop()
        self.coll.stop()
        self.sampler.stop_ev.set()
        self.ctld.stop()
        self.delivered.poll()
        if self.spool_mounted:
            self.scan_spool()

    def cleanup(self):
        for g in getattr(self, "gens", []):
            g.stop_ev.set()
        for p in getattr(self, "senders", []) + [getattr(self, "coll", None)]:
            if p is not None:
                p.stop()
        dp = getattr(self, "dp", None)
        if dp is not None and dp.alive():
            dp.term()
        ctld = getattr(self, "ctld", None)
        if ctld is not None:
            ctld.stop()
        if self.spool_mounted:
            subprocess.run(["umount", self.spool_root], capture_output=True)
            self.spool_mounted = False

    def save_raw(self):
        """What the report is made from, in ROOT/raw.pickle (kept with
        --keep or when a check failed), to look at a run again."""
        import pickle
        raw = {"times": {g.tag: g.times for g in self.gens},
               "count": self.delivered.count, "sent": self.sent, "events": self.events,
               "kill_windows": self.kill_windows, "term_windows": self.term_windows,
               "full_windows": self.full_windows, "runs": self.dp.runs,
               "samples": self.sampler.samples, "stats_by_pid": self.stats_by_pid,
               "faults": self.faults, "t0": T0}
        with open(os.path.join(self.root, "raw.pickle"), "wb") as f:
            pickle.dump(raw, f)

    # --- the figures
    def report(self):
        d = self.delivered
        missing = {t: [i for i in range(self.sent[t])
                       if i >= len(d.count[t]) or d.count[t][i] == 0] for t in SENDERS}
        dups = sum(max(0, c - 1) for t in SENDERS for c in d.count[t])
        extra = sum(1 for t in SENDERS for i, c in enumerate(d.count[t])
                    if c and i >= self.sent[t])
        # what veil counted as not delivered, run by run (the SIGTERM runs'
        # summaries; a kill -9 leaves none)
        counted = {"dropped": 0, "not_written": 0, "held_at_end": 0}
        reasons = {}
        ident_bad = []
        for r in self.dp.runs:
            sm = r["summary"]
            if r["how"] != "SIGTERM":
                # no summary: the last counters it sent controld (a lower
                # bound: what it counted after them is not known)
                st = self.stats_by_pid.get(r["pid"], {})
                counted["dropped"] += st.get("lines_dropped", 0)
                counted["not_written"] += st.get("lines_not_written", 0)
                for k, v in (st.get("dropped") or {}).items():
                    if isinstance(v, int) and v:
                        reasons[k] = reasons.get(k, 0) + v
                if st.get("lines_not_written"):
                    reasons["not_written (killed runs, veilctl stats)"] = reasons.get(
                        "not_written (killed runs, veilctl stats)", 0) + st["lines_not_written"]
                continue
            if not check(sm is not None, "run %d (SIGTERM) left a --json summary" % r["n"]):
                continue
            lhs = sm.get("lines_in", 0)
            rhs = (sm.get("lines_out", 0) + sm.get("lines_dropped", 0) +
                   sm.get("lines_held", 0) + sm.get("lines_not_written", 0))
            if lhs != rhs:
                ident_bad.append((r["n"], lhs, rhs))
            counted["dropped"] += sm.get("lines_dropped", 0)
            counted["not_written"] += sm.get("lines_not_written", 0)
            for k, v in (sm.get("drops") or {}).items():
                if isinstance(v, int) and v:
                    reasons[k] = reasons.get(k, 0) + v
            for k in ("upstream_dropped", "upstream_spool_dropped", "upstream_lost"):
                v = (sm.get("driver") or {}).get(k, 0)
                if v:
                    reasons[k] = reasons.get(k, 0) + v
        last = self.dp.runs[-1]["summary"] or {}
        counted["held_at_end"] = last.get("lines_held", 0)
        # lost lines: a run of missing numbers is put in the first dataplane
        # kill -9 window that began at most KILL_REACH s after its first
        # line was written (a line reaches veil through the sender's queue,
        # which may hold it while veil is down)
        reach = self.args.kill_reach
        in_kill, in_term, in_full, outside = 0, 0, 0, []
        windows, twindows = [], []

        def near(wins, t_first, t_last):
            """The first window that began between a second before the run's
            first line was written and @reach s after its last."""
            return next((w for w in wins if t_first - 1.0 <= w[0] <= t_last + reach), None)

        for g in self.gens:
            ms = missing[g.tag]
            j = 0
            while j < len(ms):
                k = j
                while k + 1 < len(ms) and ms[k + 1] == ms[k] + 1:
                    k += 1
                t_first, t_last = g.times[ms[j]], g.times[ms[k]]
                n = k - j + 1
                run = {"sender": g.tag, "first": ms[j], "last": ms[k], "lines": n}
                # lost around a restart first (lines counted by veil in such
                # a window only make the check below looser, never fail it)
                if near(self.kill_windows, t_first, t_last) is not None:
                    w = near(self.kill_windows, t_first, t_last)
                    in_kill += n
                    run.update(kill_at=round(w[0] - T0, 1),
                               written_s_before_kill=round(w[0] - t_first, 1))
                    windows.append(run)
                elif near(self.term_windows, t_first, t_last) is not None:
                    w = near(self.term_windows, t_first, t_last)
                    in_term += n
                    run.update(term_at=round(w[0] - T0, 1),
                               written_s_before_term=round(w[0] - t_first, 1))
                    twindows.append(run)
                # written while the spool's disk was full: veil counts them
                # (upstream_dropped), checked below against its counters
                elif any(tf - 1.0 <= t_first and t_last <= tb + reach
                         for tf, tb in self.full_windows):
                    in_full += n
                else:
                    run["written_at"] = round(t_first - T0, 1)
                    outside.append(run)
                j = k + 1
        n_missing = sum(len(v) for v in missing.values())
        n_outside = sum(o["lines"] for o in outside)
        veil_counted = counted["dropped"] + counted["not_written"] + counted["held_at_end"]
        # memory and fds
        samples = self.sampler.samples
        mem = {}
        for name in ("dataplane", "controld"):
            ss = [s for s in samples if s[1] == name]
            if not ss:
                continue
            t_a, t_b = ss[0][0], ss[-1][0]
            third = (t_b - t_a) / 3
            first = [s for s in ss if s[0] <= t_a + third] or ss
            lastt = [s for s in ss if s[0] >= t_b - third] or ss
            mem[name] = {"samples": len(ss),
                         "max_rss_kb": max(s[3] for s in ss),
                         "max_fds": max(s[4] for s in ss),
                         "first_third_max_rss_kb": max(s[3] for s in first),
                         "last_third_max_rss_kb": max(s[3] for s in lastt),
                         "first_third_max_fds": max(s[4] for s in first),
                         "last_third_max_fds": max(s[4] for s in lastt)}
        res = {
            "seed": self.args.seed, "minutes": round((time.monotonic() - T0) / 60, 1),
            "rate_per_sender": self.args.rate,
            "lines_sent": sum(self.sent.values()), "lines_delivered": d.total,
            "distinct_delivered": sum(self.sent.values()) - n_missing,
            "duplicates": dups, "unknown_numbers": extra, "missing": n_missing,
            "veil_counted_not_delivered": counted, "dropped_by_reason": reasons,
            "missing_while_spool_disk_full": in_full,
            "lost_in_kill9_windows": in_kill, "kill9_windows": windows,
            "lost_in_sigterm_windows": in_term, "sigterm_windows": twindows,
            "missing_outside_kill9_windows": n_outside, "missing_outside": outside[:20],
            "faults": self.faults, "dataplane_runs": len(self.dp.runs),
            "dataplane_crashes": [r["how"] for r in self.crashes],
            "controld_crashes": self.ctld_crashes,
            "identity_failures": ident_bad, "stuck_after": [k for _, k in self.stuck],
            "memory": mem, "clear_names_in_output": d.clear,
            "clear_names_in_spool": getattr(self, "spool_clear", 0),
            "max_spool_bytes": max(getattr(self, "spool_bytes_seen", 0),
                                   self.sampler.spool_max),
            "lines_without_number": d.other,
        }
        # veil's logs: never a name
        clear_logs = []
        for fn in [r["err"] for r in self.dp.runs] + [os.path.join(self.root, "ctld.log")]:
            with open(fn, "rb") as f:
                data = f.read()
            if any(c in data for c in CLEAR):
                clear_logs.append(fn)
        res["clear_names_in_logs"] = clear_logs

        # the checks
        check(d.clear == 0, "no user or host name in clear at the collector (%d lines)"
              % d.clear)
        check(res["clear_names_in_spool"] == 0, "no name in clear in the spool")
        check(not clear_logs, "no name in clear in veil's logs: %s" % clear_logs)
        check(extra == 0 and d.other == 0, "the collector has only lines that were sent "
              "(%d unknown numbers, %d without a number)" % (extra, d.other))
        check(not ident_bad, "each SIGTERM run's summary adds up (in = out + dropped + "
              "held + not_written): %s" % ident_bad)
        check(n_outside + in_full <= veil_counted, "every line missing outside a kill -9 "
              "window or SIGTERM restart is counted by veil as not delivered (%d missing "
              "while the spool's disk was full, %d elsewhere; %d counted): %s"
              % (in_full, n_outside, veil_counted, outside[:5]))
        check(res["max_spool_bytes"] <= SPOOL_BYTES + SPOOL_BYTES // 8,
              "the spool's files never held more than spool_bytes and a segment "
              "(%d bytes, spool_bytes %d)" % (res["max_spool_bytes"], SPOOL_BYTES))
        check(not self.crashes, "no dataplane run ended by itself: %s"
              % [(r["n"], r["how"], r["err"]) for r in self.crashes])
        check(not self.ctld_crashes, "controld never ended by itself: %s" % self.ctld_crashes)
        check(not self.stuck, "lines reached the collector after every fault: stuck "
              "after %s" % res["stuck_after"])
        for name, m in mem.items():
            check(m["max_rss_kb"] <= RSS_MAX_KB[name], "%s RSS at most %d KiB (%d)"
                  % (name, RSS_MAX_KB[name], m["max_rss_kb"]))
            check(m["max_fds"] <= FDS_MAX, "%s fds at most %d (%d)"
                  % (name, FDS_MAX, m["max_fds"]))
            bound = m["first_third_max_rss_kb"] * (1 + RSS_GROWTH_FRAC) + RSS_GROWTH_KB
            check(m["last_third_max_rss_kb"] <= bound, "%s RSS does not grow: last third "
                  "%d KiB, first third %d KiB (bound %d)" % (
                      name, m["last_third_max_rss_kb"], m["first_third_max_rss_kb"], bound))
            check(m["last_third_max_fds"] <= m["first_third_max_fds"] + FDS_GROWTH,
                  "%s fds do not grow: last third %d, first third %d" % (
                      name, m["last_third_max_fds"], m["first_third_max_fds"]))
        return res


def table(res):
    rows = [("lines sent", res["lines_sent"]),
            ("delivered (distinct)", res["distinct_delivered"]),
            ("delivered (with duplicates)", res["lines_delivered"]),
            ("duplicates", res["duplicates"]),
            ("missing", res["missing"]),
            ("  while the spool's disk was full", res["missing_while_spool_disk_full"]),
            ("  lost in kill -9 windows", res["lost_in_kill9_windows"]),
            ("  lost in SIGTERM restarts", res["lost_in_sigterm_windows"]),
            ("  elsewhere", res["missing_outside_kill9_windows"]),
            ("veil: dropped", res["veil_counted_not_delivered"]["dropped"]),
            ("veil: not written", res["veil_counted_not_delivered"]["not_written"]),
            ("veil: held at the end", res["veil_counted_not_delivered"]["held_at_end"])]
    rows += [("  by reason: %s" % k, v) for k, v in sorted(res["dropped_by_reason"].items())]
    rows += [("fault: %s" % k, v) for k, v in res["faults"].items()]
    rows += [("dataplane runs", res["dataplane_runs"]),
             ("spool max bytes", res["max_spool_bytes"])]
    for name, m in sorted(res["memory"].items()):
        rows += [("%s max RSS (KiB)" % name, m["max_rss_kb"]),
                 ("%s max fds" % name, m["max_fds"])]
    w = max(len(r[0]) for r in rows)
    return "\n".join("%-*s %12s" % (w, k, v) for k, v in rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("build")
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--short", action="store_true",
                    help="every kind of fault about twice (the suite's version)")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--rate", type=int, default=None, help="lines/s per sender")
    ap.add_argument("--json", action="store_true", help="the figures as one JSON line too")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1 << 31)
    if args.rate is None:
        args.rate = 300 if args.short else 400
    args.gap = (1.0, 3.0) if args.short else (5.0, 30.0)
    args.sample_every = 2.0 if args.short else 5.0
    args.kill_reach = 5.0
    for exe in ("control/veil-controld", "control/veilctl", "dataplane/veil-dataplane"):
        if not os.path.exists(os.path.join(args.build, exe)):
            print("missing %s in %s" % (exe, args.build))
            return 1
    if not os.path.exists(RSYSLOGD):
        print("missing %s: install the Debian package rsyslog" % RSYSLOGD)
        return 1
    print("reliability harness: seed %d (repeat with --seed %d)" % (args.seed, args.seed),
          flush=True)
    def stop(sig, _frame):
        # SIGTERM (a meson timeout, kill) and SIGINT: the processes are
        # stopped and the tmpfs unmounted on the way out
        raise KeyboardInterrupt("signal %d" % sig)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    h = Harness(args)
    res = None
    try:
        h.run()
        h.save_raw()
        res = h.report()
    finally:
        h.cleanup()
        keep = args.keep or veiltest.results["failed"] or res is None
        if keep:
            print("kept %s" % h.root)
        else:
            shutil.rmtree(h.root, ignore_errors=True)
    print(table(res))
    if res["kill9_windows"]:
        print("lost in kill -9 windows: %s" % json.dumps(res["kill9_windows"]))
    if res["sigterm_windows"]:
        # a known defect, reported: not counted anywhere by veil, see
        # docs/reliability.md ("The reliability harness")
        print("KNOWN DEFECT: lost uncounted around a SIGTERM restart: %s"
              % json.dumps(res["sigterm_windows"]))
    if args.json:
        print(json.dumps(res, sort_keys=True))
    return veiltest.finish("reliability")


if __name__ == "__main__":
    sys.exit(main())
