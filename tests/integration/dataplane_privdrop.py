#!/usr/bin/env python3
# SPDX-License-Identifier: LicenseRef-veil-proprietary
"""veil-dataplane drops root once its ports are up. The real process,
started as root in network mode (socket driver: a TCP listener on a port
below 1024, a TCP collector here with a disk spool), with --user USER (a
test user: nobody, or one made with useradd):

  1. while it runs, /proc/PID/status and every thread's say uid and gid
     USER's (real, effective, saved, fs), no capability (CapInh, CapPrm,
     CapEff, CapAmb all 0) and NoNewPrivs 1;
  2. it still takes lines on the privileged port, anonymizes them with
     the key it got over the link (made after the drop: controld's
     dataplane_user is USER) and forwards them; the spool root made at
     the start is USER's; veilctl status shows the dataplane as USER;
  3. a user equal to controld's (controld_user), given with --user or as
     [dataplane] user =, and root are refused (exit 2), saying why;
  4. the dpdk driver (a net_pcap vdev, with an exception TAP when this is
     root with /dev/net/tun): the EAL's threads dropped too, the link made
     as USER, and it stops cleanly.

usage: dataplane_privdrop.py BUILD_DIR
"""
import os
import pwd
import re
import socket
import struct
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
N = 200


def test_user():
    """nobody, or a system user made for the test."""
    for name in ("nobody", "veil-it-dp"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            pass
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell",
                    "/usr/sbin/nologin", "veil-it-dp"], check=True)
    return pwd.getpwnam("veil-it-dp")


def privileged_port():
    """A free TCP port below 1024 (only root can bind it)."""
    for p in range(900, 1024):
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", p))
            return p
        except OSError:
            continue
        finally:
            s.close()
    raise RuntimeError("no free TCP port below 1024")


class Collector:
    """A TCP collector: LF-framed lines into a list."""

    def __init__(self):
        self.srv = socket.socket()
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(4)
        self.port = self.srv.getsockname()[1]
        self.lines = []
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while True:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            threading.Thread(target=self._conn, args=(c,), daemon=True).start()

    def _conn(self, c):
        buf = b""
        while True:
            data = c.recv(1 << 16)
            if not data:
                return
            buf += data
            *whole, buf = buf.split(b"\n")
            self.lines.extend(whole)


def status_of(path):
    """/proc/.../status as a dict of its lines."""
    out = {}
    with open(path) as f:
        for ln in f:
            k, _, v = ln.partition(":")
            out[k] = v.split()
    return out


def line(i):
    return ("<134>Nov 25 10:00:00 fw CEF:0|V|P|1|1|n|3|suser=alice%04d "
            "cs1=seq-%d msg=x" % (i, i)).encode()


def refused(conf, args, what):
    p = subprocess.run([DP, "--", "-c", conf, "-n"] + args, capture_output=True,
                       text=True, timeout=60)
    check(p.returncode == 2, "%s: refused with exit 2 (%d: %s)"
          % (what, p.returncode, p.stderr.strip()[-300:]))
    return p.stderr


def dropped(pid, u):
    """Every thread of @pid has @u's ids and no capability; NoNewPrivs.
    @return what is off (empty: nothing)."""
    off = []
    try:
        tasks = os.listdir("/proc/%d/task" % pid)
    except FileNotFoundError:
        return ["no process"]
    for t in tasks:
        try:
            ts = status_of("/proc/%d/task/%s/status" % (pid, t))
        except FileNotFoundError:
            continue
        if (ts.get("Uid") != [str(u.pw_uid)] * 4 or ts.get("Gid") != [str(u.pw_gid)] * 4
                or any(int(ts[k][0], 16) for k in ("CapInh", "CapPrm", "CapEff", "CapAmb"))
                or ts.get("NoNewPrivs") != ["1"] and t == str(pid)):
            off.append((t, ts.get("Uid"), ts.get("CapEff"), ts.get("NoNewPrivs")))
    return off


def part_dpdk(d, root, u):
    """4. the dpdk driver on a pcap vdev (nothing to read), its TAP."""
    tap = os.geteuid() == 0 and os.path.exists("/dev/net/tun")
    if not tap:
        veiltest.skip("4's TAP", "not root or no /dev/net/tun")
    inp, out = os.path.join(root, "in.pcap"), os.path.join(root, "out.pcap")
    with open(inp, "wb") as f:  # a pcap file with no packet
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    conf = os.path.join(root, "dpdk.conf")
    with open(conf, "w") as f:
        f.write("[dataplane]\nlink_socket = %s\n\n[network]\ndriver = dpdk\n\n"
                "[port p0]\ndevice = net_pcap0\naddress = 192.0.2.10/24\n"
                "exception = %s\nnext_hop_mac = 02:00:00:00:00:99\n\n"
                "[upstream u4]\nprotocol = udp\naddress = 192.0.2.99:5514\n\n"
                "[source fw]\ntenant = acme\nformat = cef\nnetworks = 198.51.100.0/24\n"
                % (d.link, ("vpd%d" % (os.getpid() % 100000)) if tap else "none"))
    dp = subprocess.Popen([DP, "--no-huge", "-m", "256", "--no-pci", "--no-shconf",
                           "--no-telemetry", "-l", "0-1",
                           "--vdev=net_pcap0,rx_pcap=%s,tx_pcap=%s" % (inp, out), "--",
                           "-c", conf, "--user", u.pw_name, "--json"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        def connected():
            rc, a = d.ctl("status")
            dp_ = a.get("dataplane", {}) if rc == 0 else {}
            return dp_.get("connected") and dp_.get("pid") == dp.pid and dp_.get("uid") == u.pw_uid
        ok = False
        end = time.monotonic() + 60
        while time.monotonic() < end and dp.poll() is None and not ok:
            ok = connected()
            time.sleep(0.2)
        check(ok, "4: dpdk: connected to controld as uid %d" % u.pw_uid)
        off = dropped(dp.pid, u)
        check(not off, "4: dpdk: every thread dropped, no capability (%s)" % off)
    finally:
        rc, summary, err = veiltest.stop_dataplane(dp)
    check(rc == 0, "4: dpdk: it stops cleanly (%d: %s)" % (rc, err[-600:]))


def main():
    u = test_user()
    root = tempfile.mkdtemp(prefix="veil-privdrop-%d-" % os.getpid())
    os.chmod(root, 0o755)  # the user reaches the link socket through it
    link = os.path.join(root, "link.sock")
    spool = os.path.join(root, "spool")
    os.mkdir(spool, 0o700)
    coll = Collector()
    port = privileged_port()
    d = veiltest.Controld(BUILD, root, link, extra=(
        "[controld]\ndataplane_user = %s\n\n"
        "[network]\ndriver = socket\nspool_dir = %s\nreconnect_min = 0.1\n"
        "reconnect_max = 0.5\n\n"
        "[listen tcp]\nprotocol = tcp\naddress = 127.0.0.1:%d\n\n"
        "[upstream coll]\nprotocol = tcp\naddress = 127.0.0.1:%d\nframing = lf\n"
        "on_queue_full = spool\nspool_bytes = 16M\n\n"
        "[source fw]\ntenant = acme\nformat = cef\nnetworks = 127.0.0.0/8\n"
        % (u.pw_name, spool, port, coll.port)))
    dp = None
    try:
        d.start(tenants=("acme",))

        # 3. refusals first (nothing starts)
        bad = os.path.join(root, "bad.conf")
        with open(d.conf) as f:
            base = f.read()
        with open(bad, "w") as f:
            f.write(base + "\n[dataplane]\ncontrold_user = %s\n" % u.pw_name)
        err = refused(bad, ["--user", u.pw_name], "3: --user = controld_user")
        check("controld's user" in err, "3: and says it is controld's user (%s)" % err[-200:])
        with open(bad, "w") as f:
            f.write(base + "\n[dataplane]\ncontrold_user = %s\nuser = %s\n"
                    % (u.pw_name, u.pw_name))
        err = refused(bad, [], "3: [dataplane] user = controld_user")
        check("controld's user" in err, "3: and says it is controld's user (%s)" % err[-200:])
        err = refused(d.conf, ["--user", "root"], "3: --user root")
        check("is root" in err, "3: and says it is root (%s)" % err[-200:])

        # 1. the real process, dropped
        dp = subprocess.Popen([DP, "--", "-c", d.conf, "--user", u.pw_name, "--json"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        st = {}
        end = time.monotonic() + 30
        while time.monotonic() < end and dp.poll() is None:
            st = status_of("/proc/%d/status" % dp.pid)
            if st.get("Uid", ["0"])[0] != "0":
                break
            time.sleep(0.1)
        check(dp.poll() is None, "1: veil-dataplane runs after the drop")
        uid, gid = str(u.pw_uid), str(u.pw_gid)
        check(st.get("Uid") == [uid] * 4, "1: Uid all %s (%s)" % (uid, st.get("Uid")))
        check(st.get("Gid") == [gid] * 4, "1: Gid all %s (%s)" % (gid, st.get("Gid")))
        for k in ("CapInh", "CapPrm", "CapEff", "CapAmb"):
            check(st.get(k) and int(st[k][0], 16) == 0, "1: %s 0 (%s)" % (k, st.get(k)))
        check(st.get("NoNewPrivs") == ["1"], "1: NoNewPrivs 1 (%s)" % st.get("NoNewPrivs"))
        tasks = os.listdir("/proc/%d/task" % dp.pid) if dp.poll() is None else []
        check(len(tasks) > 1, "1: the EAL's threads are there (%d)" % len(tasks))
        bad_threads = []
        for t in tasks:
            try:
                ts = status_of("/proc/%d/task/%s/status" % (dp.pid, t))
            except FileNotFoundError:
                continue
            if (ts.get("Uid") != [uid] * 4 or ts.get("Gid") != [gid] * 4 or
                    any(int(ts[k][0], 16) for k in ("CapPrm", "CapEff", "CapAmb"))):
                bad_threads.append((t, ts.get("Uid"), ts.get("CapEff")))
        check(not bad_threads, "1: every thread dropped too (%s)" % bad_threads)

        if dp.poll() is not None:
            check(False, "1: veil-dataplane exited (%d): %s"
                  % (dp.returncode, dp.stderr.read().decode()[-400:]))
            return veiltest.finish("dataplane-privdrop")

        # 2. it still works: the privileged port, the key, the upstream
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(b"".join(line(i) + b"\n" for i in range(N)))
        s.close()
        end = time.monotonic() + 30
        while time.monotonic() < end and len(coll.lines) < N:
            time.sleep(0.1)
        got = list(coll.lines)
        check(len(got) == N, "2: the %d lines forwarded after the drop (%d)" % (N, len(got)))
        check(all(TOKEN.search(g) and b"alice" not in g for g in got),
              "2: every line anonymized, no name in clear")
        owners = {}
        for dirpath, dirs, files in os.walk(spool):
            for n in [dirpath] + [os.path.join(dirpath, f) for f in files]:
                owners[n] = os.lstat(n).st_uid
        check(owners and all(o == u.pw_uid for o in owners.values()),
              "2: the spool is the user's (%s)" % owners)
        rc, a = d.ctl("status")
        dpst = a.get("dataplane", {}) if rc == 0 else {}
        check(dpst.get("connected") and dpst.get("uid") == u.pw_uid,
              "2: veilctl status: the dataplane is connected as uid %d (%s)"
              % (u.pw_uid, dpst))
        rc, summary, err = veiltest.stop_dataplane(dp)
        check(rc == 0, "2: it stops cleanly at SIGTERM (%d: %s)" % (rc, err[-400:]))
        check("running as user %s" % u.pw_name in err, "2: its log says it dropped")

        part_dpdk(d, root, u)
    finally:
        if dp is not None and dp.poll() is None:
            dp.kill()
            dp.wait()
        d.stop()
    return veiltest.finish("dataplane-privdrop")


if __name__ == "__main__":
    sys.exit(main())
