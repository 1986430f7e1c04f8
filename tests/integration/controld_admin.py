#!/usr/bin/env python3
# SPDX-License-Identifier: LicenseRef-veil-proprietary
"""What a new admin meets: veil-controld's reload on SIGHUP, its messages in
syslog when it runs as a daemon, its configuration check, veil-dataplane's
configuration check, and veilctl's manners (errors, --help, --json, --yes,
escaped output, times it prints and takes back).

usage: controld_admin.py BUILD_DIR
"""
import grp
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

import veiltest
from veiltest import check

BUILD = sys.argv[1]
CTLD = os.path.join(BUILD, "control", "veil-controld")
VEILCTL = os.path.join(BUILD, "control", "veilctl")
DATAPLANE = os.path.join(BUILD, "dataplane", "veil-dataplane")
JUST = "ticket 4711: suspected account takeover"
INVESTIGATOR, STRANGER, LATER = 61101, 61102, 61103
TIME_RE = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"


def conf_text(root, link, roles="", controld="", rest=""):
    return ("[controld]\nstate_dir = %s/state\nsocket = %s/controld.sock\n"
            "link_socket = %s\n%s\n[roles]\nadmin = uid:0\n%s\n%s"
            % (root, root, link, controld, roles, rest))


class Ctld(veiltest.Controld):
    """veiltest's Controld with our own file, veilctl as any uid, and the
    daemon's stderr (it runs with -f)."""

    def __init__(self, root, name, **kw):
        """@name: what the test is (for its messages); the link socket
        is ROOT/link.sock."""
        self.name = name
        super().__init__(BUILD, root)
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
        # a uid of its own runs a copy it can reach (a clone under /root)
        prog = VEILCTL if uid is None else os.path.join(
            veiltest.reachable_build(BUILD), "control", "veilctl")
        p = subprocess.run([prog, "--socket", self.sock] + list(args), input=stdin,
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


call_on = veiltest.api_call_on


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
        veiltest.skip("syslog", "unshare -m is not permitted here")
        return
    r = os.path.join(root, "syslog")
    os.mkdir(r)
    d = Ctld(r, "veil-test-adm-sl-%d" % os.getpid(), controld="key_cache = 1\n")
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
    # private propagation: the mounts stay in the daemon's namespace
    p = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                       capture_output=True, text=True, timeout=60)
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
        # a message from the library's side of the daemon (the key cache):
        # version 1 no longer unwraps, and a resolve needs it (the cache
        # holds one version, the current one)
        d.ctl("tenant", "create", "acme")
        _, a = d.ctl("lookup", "-t", "acme", "-j", JUST, "alice")
        tok = a["tokens"][0]["token"] if a.get("tokens") else ""
        d.ctl("key", "roll", "acme")
        d.ctl("lookup", "-t", "acme", "-j", JUST, "alice")
        with sqlite3.connect(os.path.join(r, "state", "veil.db"), timeout=10) as db:
            db.execute("UPDATE keys SET wrapped = zeroblob(40) WHERE tenant = 'acme' "
                       "AND version = 1")
        d.ctl("resolve", "-t", "acme", "-j", JUST, tok)
        try:
            while not any("does not unwrap" in x for x in msgs):
                msgs.append(lst.recv(4096).decode("utf-8", "replace"))
        except socket.timeout:
            pass
        check(any("version 1 does not unwrap" in x for x in msgs),
              "a message of the key cache is in syslog too: %r" % msgs)
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
    ctld_other = os.path.join(veiltest.reachable_build(BUILD), "control", "veil-controld")
    p = subprocess.run([ctld_other, "-n", "-c", d.conf], capture_output=True, text=True,
                       preexec_fn=drop)
    check(p.returncode == 1 and mk in p.stderr and "Permission denied" in p.stderr,
          "-n with an unreadable master key names it: %r" % (p.stdout + p.stderr))
    os.chmod(mk, 0o644)
    p = subprocess.run([CTLD, "-n", "-c", d.conf], capture_output=True, text=True)
    check(p.returncode == 1 and mk in p.stderr and "0600" in p.stderr,
          "-n with a master key open to others names it: %r" % (p.stdout + p.stderr))
    os.chmod(mk, 0o600)
    p = subprocess.run([CTLD, "-n", "-c", d.conf], capture_output=True, text=True)
    check(p.returncode == 0 and p.stdout.strip().splitlines()[-1] == "configuration OK",
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


def veilctl(root):
    r = os.path.join(root, "ctl")
    os.mkdir(r)
    d = Ctld(r, "veil-test-adm-ctl-%d" % os.getpid(),
             roles="investigator = uid:%d\n" % INVESTIGATOR)
    d.start()
    try:
        d.ctl("tenant", "create", "acme")
        rc, a = d.ctl("lookup", "-t", "acme", "-j", JUST, "alice")
        tok = a["tokens"][0]["token"]

        # the justification rule in the error
        rc, _, err = d.run("resolve", "-t", "acme", "-j", "why", tok)
        check(rc == 1 and "a justification of at least 8 characters is required" in err,
              "the justification rule is in the error: %s" % err.strip())

        # one wording for a bad tenant id
        want = 'bad tenant id "Bad Name": 1 to 64 of a-z 0-9 . _ -'
        for args in (["tenant", "create", "Bad Name"], ["tenant", "show", "Bad Name"],
                     ["key", "roll", "Bad Name"]):
            rc, _, err = d.run(*args)
            check(rc == 1 and err.strip() == "veilctl: " + want,
                  "bad tenant id wording (%s): %s" % (args[:2], err.strip()))

        # control characters never reach the terminal raw
        evil = "ticket 9: \x1b[31mred\nFAKE #1 line\x07\x7f"
        rc, _, _ = d.run("resolve", "-t", "acme", "-j", evil, tok)
        check(rc == 0, "a resolve with an odd justification")
        rc, out, _ = d.run("audit", "show", "--action", "resolve")
        check(rc == 0 and "\x1b" not in out and "\x07" not in out and "\x7f" not in out
              and "\nFAKE" not in out,
              "no raw control characters in audit show: %r" % out[-300:])
        check("\\x1b[31mred\\x0aFAKE #1 line\\x07\\x7f" in out,
              "control characters are printed as \\xNN: %r" % out[-300:])
        rc, _, err = d.run("tenant", "show", "a\x1b[2Jb")
        check(rc == 1 and "\x1b" not in err and "\\x1b[2J" in err,
              "an error that quotes the input is escaped: %r" % err)
        rc, a = d.ctl("lookup", "-t", "acme", "-j", JUST, "eve\x1b]0;owned\x07\u009b2J")
        rc, out, _ = d.run("resolve", "-t", "acme", "-j", JUST, a["tokens"][0]["token"])
        check(rc == 0 and out.endswith("\teve\\x1b]0;owned\\x07\\xc2\\x9b2J\n"),
              "a resolved name is escaped, C1 controls too: %r" % out)
        p = subprocess.run([VEILCTL, "--socket", d.sock, "audit", "show", "--since",
                            b"\xff\xfe\x1b"], capture_output=True)
        check(p.returncode == 2 and b'"\\xff\\xfe\\x1b"' in p.stderr,
              "bytes that are not UTF-8 are escaped: %r" % p.stderr)
        rc, out, _ = d.run("--json", "audit", "show", "--action", "resolve")
        check(any(r.get("justification") == evil for r in json.loads(out)["records"]),
              "--json keeps the field as it is")

        # audit show --since takes the time it prints
        rc, out, _ = d.run("audit", "show")
        first = re.search(TIME_RE, out)
        check(first is not None, "audit show prints times")
        if first:
            rc, out2, err = d.run("audit", "show", "--since", first.group(0))
            check(rc == 0 and out2.splitlines()[:1] == out.splitlines()[:1],
                  "--since takes the printed time: %s" % err.strip())
        rc, out, err = d.run("audit", "show", "--since", "2099-01-01T00:00:00Z")
        check(rc == 0 and out == "", "--since a printed time in the future: nothing")
        rc, _, err = d.run("audit", "show", "--since", "2026-13-45 25:00")
        check(rc == 2 and "YYYY-MM-DDTHH:MM:SSZ" in err, "a bad time: a clear error: %s"
              % err.strip())

        # audit show: every token, or how many are left out
        n = 300
        rc, _, _ = d.run("resolve", "-t", "acme", "-j", JUST, *([tok] * n))
        rc, out, _ = d.run("audit", "show", "--action", "resolve.bulk")
        shown = out.count(tok)
        more = re.search(r"and ([\d,]+) more tokens \(veilctl audit tokens \d+ lists them "
                         r"all\)", out)
        left = int(more.group(1).replace(",", "")) if more else 0
        check(rc == 0 and shown + left == n and shown > 0,
              "audit show: %d tokens shown, %d said to be left out, of %d" % (shown, left, n))

        # per-command --help
        for args, want in ((["resolve", "--help"], "usage: veilctl resolve"),
                           (["audit", "show", "--help"], "usage: veilctl audit"),
                           (["key", "-h"], "usage: veilctl key"),
                           (["status", "--help"], "usage: veilctl status")):
            rc, out, err = d.run(*args)
            check(rc == 0 and out.startswith(want) and "lookup" not in out.split("\n", 1)[1],
                  "%s: that command's usage, exit 0: %r" % (" ".join(args), out[:80]))

        # --json and --socket after the command
        p = subprocess.run([VEILCTL, "status", "--json", "--socket", d.sock],
                           capture_output=True, text=True)
        try:
            ok = json.loads(p.stdout)["ok"]
        except ValueError:
            ok = False
        check(p.returncode == 0 and ok, "status --json --socket S: %r" % p.stderr)
        rc, out, _ = d.run("tenant", "list", "--json")
        check(rc == 0 and json.loads(out or "{}").get("tenants"), "tenant list --json")
        rc, out, _ = d.run("resolve", "-t", "acme", "-j", "--json is what I mean", tok)
        check(rc == 0 and out.startswith(tok), "an option's value that looks like --json stays")

        # irreversible: --yes or nothing happens
        d.ctl("key", "roll", "acme")
        rc, out, err = d.run("key", "destroy", "acme", "1", "--reason", "rotation ticket 77 done")
        check(rc == 2 and "--yes" in err and "version 1" in err and "acme" in err,
              "destroy without --yes: exit 2, what and how: %s" % err.strip())
        rc, a = d.ctl("key", "list", "acme")
        check(a["tenant"]["versions"][0]["live"], "nothing destroyed without --yes")
        rc, out, err = d.run("key", "destroy", "acme", "1", "--reason",
                             "rotation ticket 77 done", "--yes")
        rc2, a = d.ctl("key", "list", "acme")
        check(rc == 0 and not a["tenant"]["versions"][0]["live"], "destroy --yes: %s"
              % err.strip())

        # role grant echoes the role
        rc, out, _ = d.run("role", "grant", "--uid", str(LATER), "investigator")
        check(rc == 0 and out.strip() == "granted uid:%d role investigator" % LATER,
              "role grant echo: %r" % out)
        rc, out, _ = d.run("role", "revoke", "--uid", str(LATER))
        check(rc == 0 and out.strip() == "revoked uid:%d" % LATER, "role revoke echo: %r" % out)
    finally:
        d.stop()

    # a socket the caller may not open: which group grants access
    group = grp.getgrgid(1).gr_name
    r = os.path.join(root, "perm")
    os.mkdir(r)
    d = Ctld(r, "veil-test-adm-pm-%d" % os.getpid(), controld="socket_group = %s\n" % group)
    d.start(world=False)
    try:
        rc, _, err = d.run("status", uid=STRANGER)
        check(rc == 3 and "group %s" % group in err and "usermod" in err,
              "permission denied on the socket names the group: %s" % err.strip())
    finally:
        d.stop()


def main():
    if os.geteuid() != 0:
        print("controld_admin: needs root (switches to other uids): 0 passed, 0 failed, "
              "1 skipped")
        return 77
    root = tempfile.mkdtemp(prefix="veil-adm-")
    os.chmod(root, 0o755)  # other uids reach the socket
    try:
        for part in (reload, syslog, config_check, veilctl):
            try:
                part(root)
            except Exception as e:  # a part that breaks is a failure; the rest runs
                check(False, "%s: %s: %s" % (part.__name__, type(e).__name__, e))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return veiltest.finish("controld_admin")


if __name__ == "__main__":
    sys.exit(main())
