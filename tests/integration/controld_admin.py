#!/usr/bin/env python3
# SPDX-License-Identifier: LicenseRef-veil-proprietary
"""What a new admin meets: veil-controld's reload on SIGHUP, its messages in
syslog when it runs as a daemon, its configuration check, veil-dataplane's
configuration check.

usage: controld_admin.py BUILD_DIR
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

BUILD = sys.argv[1]
CTLD = os.path.join(BUILD, "control", "veil-controld")
VEILCTL = os.path.join(BUILD, "control", "veilctl")
DATAPLANE = os.path.join(BUILD, "veil-dataplane")
JUST = "ticket 4711: suspected account takeover"
INVESTIGATOR, LATER = 61101, 61103


def conf_text(root, link, roles="", controld="", rest=""):
    return ("[controld]\nstate_dir = %s/state\nsocket = %s/controld.sock\n"
            "link_name = %s\n%s\n[roles]\nadmin = uid:0\n%s\n%s"
            % (root, root, link, controld, roles, rest))


class Ctld(veiltest.Controld):
    """veiltest's Controld with our own file, veilctl as any uid, and the
    daemon's stderr (it runs with -f)."""

    def __init__(self, root, link, **kw):
        super().__init__(BUILD, root, link)
        self.write(**kw)

    def write(self, **kw):
        with open(self.conf, "w") as f:
            f.write(conf_text(self.root, self.link, **kw))
        os.chmod(self.conf, 0o644)

    def start(self, world=True):
        super().start()
        if world:
            os.chmod(self.sock, 0o666)  # test uids are in no group

    def errors(self):
        with open(os.path.join(self.root, "ctld.log")) as f:
            return f.read()

    def run(self, *args, uid=None, stdin=None):
        """veilctl ARGS as is: (exit status, stdout, stderr) as text."""
        def drop():
            if uid is not None:
                os.setgroups([])
                os.setgid(uid)
                os.setuid(uid)
        p = subprocess.run([VEILCTL, "--socket", self.sock] + list(args), input=stdin,
                           capture_output=True, preexec_fn=drop, timeout=60)
        return (p.returncode, p.stdout.decode("utf-8", "replace"),
                p.stderr.decode("utf-8", "replace"))

    def records(self, action):
        rc, a = self.ctl("audit", "show", "--action", action)
        return a.get("records", []) if rc == 0 else []

    def wait_records(self, action, n):
        """Wait (up to 20 s) until the log holds @n records of @action."""
        for _ in range(200):
            recs = self.records(action)
            if len(recs) >= n or self.proc.poll() is not None:
                return recs
            time.sleep(0.1)
        return self.records(action)


def call_on(s, req):
    """One request on an open connection; the answer."""
    body = json.dumps(req).encode()
    s.sendall(struct.pack(">I", len(body)) + body)
    data = b""
    while len(data) < 4 or len(data) < 4 + struct.unpack(">I", data[:4])[0]:
        chunk = s.recv(65536)
        if not chunk:
            return None
        data += chunk
    return json.loads(data[4:])


def reload(root):
    """SIGHUP: roles and settings from the file, state and connections
    kept, a broken file refused whole, a record of each reload."""
    r = os.path.join(root, "reload")
    os.mkdir(r)
    d = Ctld(r, "veil-test-adm-rl-%d" % os.getpid(), controld="rate_limit = 1000\n")
    d.start()
    try:
        d.ctl("tenant", "create", "acme")
        d.ctl("config", "set", "audit_retention_days", "7")  # a runtime setting
        rc, _, err = d.run("lookup", "-t", "acme", "-j", JUST, "bob", uid=INVESTIGATOR)
        check(rc == 1 and "permission denied" in err, "before the reload: no role")
        conn = socket.socket(socket.AF_UNIX)
        conn.connect(d.sock)
        a = call_on(conn, {"cmd": "status"})
        check(a and a["ok"], "a connection open across the reload")

        d.write(roles="investigator = uid:%d\n" % INVESTIGATOR,
                controld="rate_limit = 500\naudit_retention_days = 30\n"
                         "key_retention_days = 45\n",
                rest="")
        # a key that cannot change at run time
        with open(d.conf) as f:
            text = f.read().replace("socket = %s" % d.sock,
                                    "socket = %s/other.sock" % r)
        with open(d.conf, "w") as f:
            f.write(text)
        d.proc.send_signal(signal.SIGHUP)
        recs = d.wait_records("config.reload", 1)
        check(d.proc.poll() is None, "controld survives SIGHUP")
        check(len(recs) == 1 and recs[0]["role"] == "system"
              and recs[0]["outcome"].startswith("ok"),
              "the reload is in the governance log: %r" % recs)
        out = recs[0]["outcome"] if recs else ""
        check("uid:%d investigator" % INVESTIGATOR in out and "rate_limit" in out
              and "socket" in out and "restart" in out,
              "the record says what changed and what needs a restart: %s" % out)
        a = call_on(conn, {"cmd": "status"})
        check(a is not None and a["ok"], "the same connection still answers after SIGHUP")
        conn.close()
        rc, out, err = d.run("lookup", "-t", "acme", "-j", JUST, "bob", uid=INVESTIGATOR)
        check(rc == 0 and out.startswith("v1\t"), "a role added to the file applies after "
              "SIGHUP: %s" % err.strip())
        rc, a = d.ctl("config", "show")
        s = {x["name"]: x for x in a.get("settings", [])}
        check(s and s["rate_limit"]["value"] == 500 and s["rate_limit"]["source"] == "file",
              "a file setting changes on reload: %r" % s.get("rate_limit"))
        check(s and s["key_retention_days"]["value"] == 45, "key_retention_days reloaded")
        check(s and s["audit_retention_days"]["value"] == 7
              and s["audit_retention_days"]["file_value"] == 30
              and s["audit_retention_days"]["source"] == "runtime",
              "a runtime setting stays over a reload: %r" % s.get("audit_retention_days"))
        check(os.path.exists(d.sock) and not os.path.exists(os.path.join(r, "other.sock")),
              "the socket stays where it was until a restart")
        log = d.errors()
        check("needs a restart" in log and "socket" in log, "the log says what needs a "
              "restart: %s" % log[-400:])
        rc, a = d.ctl("tenant", "list")
        check(rc == 0 and [t["tenant"] for t in a["tenants"]] == ["acme"],
              "state kept over the reload")

        # a broken file: refused whole, the old configuration stays
        with open(d.conf, "a") as f:
            f.write("superuser = uid:%d\n" % LATER)
        with open(d.conf) as f:
            bad_line = len(f.read().splitlines())
        d.proc.send_signal(signal.SIGHUP)
        recs = d.wait_records("config.reload", 2)
        check(d.proc.poll() is None, "a broken file does not stop controld")
        check(len(recs) == 2 and recs[-1]["outcome"].startswith("refused")
              and "veil.conf:%d" % bad_line in recs[-1]["outcome"],
              "a refused reload is recorded with file:line: %r" % recs[-1:])
        check("veil.conf:%d: unknown role" % bad_line in d.errors(),
              "the refusal is logged with file and line")
        rc, out, _ = d.run("lookup", "-t", "acme", "-j", JUST, "bob", uid=INVESTIGATOR)
        check(rc == 0, "the old configuration stays after a broken file")
        rc, _, _ = d.run("status")
        check(rc == 0, "still serving")
        rc, out, _ = d.run("audit", "verify")
        check(rc == 0, "the chain verifies after reloads")
    finally:
        d.stop()


def syslog(root):
    """Without -f, controld's messages go to syslog (here a socket of ours
    bound over /dev/log in a mount namespace of the daemon's own)."""
    if subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode != 0:
        print("controld_admin: SKIP the syslog check: unshare -m is not permitted here")
        return
    r = os.path.join(root, "syslog")
    os.mkdir(r)
    d = Ctld(r, "veil-test-adm-sl-%d" % os.getpid())
    logsock = os.path.join(r, "log.sock")
    lst = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    lst.bind(logsock)
    lst.settimeout(20)
    script = ("set -e; mkdir {r}/olddev; mount --rbind /dev {r}/olddev; "
              "mount -t tmpfs tmpfs /dev; for n in null zero urandom random; do "
              "touch /dev/$n; mount --bind {r}/olddev/$n /dev/$n; done; "
              "mkdir /dev/shm; mount --rbind {r}/olddev/shm /dev/shm; "
              "touch /dev/log; mount --bind {log} /dev/log; exec {ctld} -c {conf}"
              ).format(r=r, log=logsock, ctld=CTLD, conf=d.conf)
    p = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True,
                       text=True, timeout=60)
    check(p.returncode == 0, "controld daemonizes: %s" % p.stderr.strip())
    up = veiltest.wait_unix(d.sock)
    check(up, "the daemon serves")
    pid = 0
    msgs = []
    try:
        try:
            while up and not any("serving" in m for m in msgs):
                msgs.append(lst.recv(4096).decode("utf-8", "replace"))
        except socket.timeout:
            pass
        m = [x for x in msgs if "serving" in x]
        # "<PRI>TIME veil-controld[PID]: serving ...", facility daemon (3)
        m = re.match(r"<(\d+)>.* veil-controld\[(\d+)\]: serving ", m[0]) if m else None
        check(m and int(m.group(1)) >> 3 == 3,
              "the daemon's start is in syslog (facility daemon, its pid): %r" % msgs)
        pid = int(m.group(2)) if m else 0
        if pid:
            os.kill(pid, signal.SIGHUP)
            try:
                while not any("reload" in x for x in msgs):
                    msgs.append(lst.recv(4096).decode("utf-8", "replace"))
            except socket.timeout:
                pass
            check(any("reload" in x for x in msgs), "a reload is logged to syslog: %r" % msgs)
            os.kill(pid, signal.SIGTERM)
            try:
                while not any("stopping" in x for x in msgs):
                    msgs.append(lst.recv(4096).decode("utf-8", "replace"))
            except socket.timeout:
                pass
            check(any("stopping" in x for x in msgs), "the stop is logged to syslog")
    finally:
        # whatever is left of it (found by its config file, ours alone)
        for p in os.listdir("/proc"):
            try:
                with open("/proc/%s/cmdline" % p, "rb") as f:
                    argv = f.read().split(b"\0")
                if argv[:1] == [CTLD.encode()] and d.conf.encode() in argv:
                    os.kill(int(p), signal.SIGTERM)
            except (OSError, ValueError):
                pass
        for _ in range(200):
            if not os.path.exists(d.sock):
                break
            time.sleep(0.05)
        lst.close()


def config_check(root):
    """veil-controld -n checks the master key; veil-dataplane -n a snapshot
    configuration."""
    r = os.path.join(root, "check")
    os.mkdir(r)
    d = Ctld(r, "veil-test-adm-ck-%d" % os.getpid())
    d.start()
    d.stop()
    mk = os.path.join(r, "state", "master.key")

    def drop():
        os.setgroups([])
        os.setgid(INVESTIGATOR)
        os.setuid(INVESTIGATOR)
    os.chmod(os.path.join(r, "state"), 0o755)
    p = subprocess.run([CTLD, "-n", "-c", d.conf], capture_output=True, text=True,
                       preexec_fn=drop)
    check(p.returncode == 1 and mk in p.stderr and "Permission denied" in p.stderr,
          "-n with an unreadable master key names it: %r" % (p.stdout + p.stderr))
    os.chmod(mk, 0o644)
    p = subprocess.run([CTLD, "-n", "-c", d.conf], capture_output=True, text=True)
    check(p.returncode == 1 and mk in p.stderr and "0600" in p.stderr,
          "-n with a master key open to others names it: %r" % (p.stdout + p.stderr))
    os.chmod(mk, 0o600)
    p = subprocess.run([CTLD, "-n", "-c", d.conf], capture_output=True, text=True)
    check(p.returncode == 0 and p.stdout.strip() == "configuration OK",
          "-n with a good master key: %r" % (p.stdout + p.stderr))
    # a new state directory: the key must be creatable
    fresh = os.path.join(r, "fresh.conf")
    nodir = os.path.join(r, "no", "such", "dir", "master.key")
    with open(fresh, "w") as f:
        f.write("[controld]\nstate_dir = %s/fresh\nmaster_key = %s\n" % (r, nodir))
    p = subprocess.run([CTLD, "-n", "-c", fresh], capture_output=True, text=True)
    check(p.returncode == 1 and nodir in p.stderr,
          "-n: a master key that cannot be created is named: %r" % p.stderr)
    with open(fresh, "w") as f:
        f.write("[controld]\nstate_dir = %s/fresh\n" % r)
    p = subprocess.run([CTLD, "-n", "-c", fresh], capture_output=True, text=True)
    check(p.returncode == 0 and not os.path.exists(os.path.join(r, "fresh")),
          "-n for a new state directory: OK, nothing made: %r" % p.stderr)

    # the man page's veil-dataplane -n -c veil.conf on a snapshot-mode file
    snap = os.path.join(r, "snap.conf")
    with open(snap, "w") as f:
        f.write(conf_text(r, d.link, rest="[dataplane]\nwait_keys = 5\n\n"
                          "[source hq-fw]\ntenant = acme\nformat = cef\n"))
    p = subprocess.run([DATAPLANE, "-n", "-c", snap], capture_output=True, text=True,
                       timeout=60)
    check(p.returncode == 0 and p.stdout.startswith("configuration OK"),
          "veil-dataplane -n on a snapshot config without [network]: %r"
          % (p.stdout + p.stderr))


def main():
    if os.geteuid() != 0:
        print("controld_admin: needs root (switches to other uids): 0 passed, 0 failed, "
              "1 skipped")
        return 77
    root = tempfile.mkdtemp(prefix="veil-adm-")
    os.chmod(root, 0o755)  # other uids reach the socket
    try:
        for part in (reload, syslog, config_check):
            try:
                part(root)
            except Exception as e:  # a part that breaks is a failure; the rest runs
                check(False, "%s: %s: %s" % (part.__name__, type(e).__name__, e))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return veiltest.finish("controld_admin")


if __name__ == "__main__":
    sys.exit(main())
