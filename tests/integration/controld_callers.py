#!/usr/bin/env python3
# SPDX-License-Identifier: LicenseRef-veil-proprietary
"""veil-controld and the callers that could stall or bloat it: idle
connections, callers that never read their answers, bodies from callers
without a role, the per-uid connection cap, the idle timeout, role changes
on open connections, refusal records, bulk tokens and the rate limit,
supplementary groups and socket_group. The real daemon; other uids'
connections are made by a child that drops to that uid, connects and hands
the connected socket back (the daemon sees the child's credentials, taken
at connect).

usage: controld_callers.py BUILD_DIR
"""
import grp
import json
import os
import shutil
import signal
import socket
import stat
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
JUST = "ticket 5150: callers and their limits"
READERS_GID = 62500          # reader = gid:62500
READER = 62001               # in READERS_GID
STRANGER = 62900             # no role at all
SHORT = 2.0                  # how long a client waits for an answer


def real_group():
    """A group that exists in /etc/group (for group: identities and
    socket_group) and is no test uid's primary group."""
    for name in ("games", "users", "staff", "nogroup"):
        try:
            return name, grp.getgrnam(name).gr_gid
        except KeyError:
            pass
    raise RuntimeError("no usable group in /etc/group")


GROUP, GROUP_GID = real_group()


class Daemon:
    def __init__(self, root, name, controld="", roles="", sock=None):
        self.root = root
        self.conf = os.path.join(root, "veil.conf")
        self.sock = sock or os.path.join(root, "controld.sock")
        with open(self.conf, "w") as f:
            f.write("[controld]\nstate_dir = %s/state\nsocket = %s\n"
                    "link_socket = %s/link-%s.sock\n%s\n[roles]\nadmin = uid:0\n%s"
                    % (root, self.sock, root, name, controld, roles))
        self.proc = None
        self.log = None

    def start(self, open_socket=True):
        self.log = open(os.path.join(self.root, "ctld.log"), "a")
        self.proc = subprocess.Popen([CTLD, "-f", "-c", self.conf], stderr=self.log)
        up = veiltest.wait_unix(self.sock, self.proc)
        if not up:
            raise RuntimeError("controld did not start: %s" % self.errors())
        if open_socket:
            os.chmod(self.sock, 0o666)  # the test uids are in no group

    def errors(self):
        with open(os.path.join(self.root, "ctld.log")) as f:
            return f.read()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=20)
            # (in the sanitizer build, a leak or an error is a non-zero exit)
            check(self.proc.returncode == 0, "controld stops cleanly: exit %d, %s"
                  % (self.proc.returncode, self.errors()[-2000:]))
        if self.log:
            self.log.close()
            self.log = None

    def status_field(self, key):
        """A line of /proc/PID/status, in kB."""
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        return None

    def admin(self, req):
        """One request as root on a connection of its own."""
        s = socket.socket(socket.AF_UNIX)
        s.connect(self.sock)
        try:
            return call(s, req, timeout=30)
        finally:
            s.close()


def connect_as(path, uid, gid=None, groups=()):
    """A socket connected to @path by a child running as @uid:@gid with
    supplementary @groups."""
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            a.close()
            os.setgroups(list(groups))
            os.setgid(uid if gid is None else gid)
            os.setuid(uid)
            s = socket.socket(socket.AF_UNIX)
            s.connect(path)
            socket.send_fds(b, [b"k"], [s.fileno()])
            code = 0
        except BaseException as e:  # the parent reports it
            try:
                b.sendall(b"E" + str(e).encode())
            except OSError:
                pass
        os._exit(code)
    b.close()
    msg, fds, _, _ = socket.recv_fds(a, 1024, 1)
    os.waitpid(pid, 0)
    a.close()
    if not fds:
        raise OSError("connect as %d: %s" % (uid, msg.decode(errors="replace")))
    return socket.socket(fileno=fds[0])


def send(s, req):
    body = req if isinstance(req, bytes) else json.dumps(req).encode()
    s.sendall(struct.pack(">I", len(body)) + body)


def recv_exact(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(min(1 << 20, n - len(data)))
        if not chunk:
            return None
        data += chunk
    return data


def receive(s, timeout=SHORT):
    """The next answer, or None if none comes within @timeout (or the
    connection ends first)."""
    s.settimeout(timeout)
    try:
        hdr = recv_exact(s, 4)
        if hdr is None:
            return None
        body = recv_exact(s, struct.unpack(">I", hdr)[0])
        return None if body is None else json.loads(body)
    except (socket.timeout, ConnectionResetError):
        return None


def call(s, req, timeout=SHORT):
    send(s, req)
    return receive(s, timeout)


def closed_by_peer(s, timeout):
    """True if the daemon closes @s (EOF or reset) within @timeout."""
    s.settimeout(timeout)
    try:
        while True:
            if not s.recv(65536):
                return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def ctl_as(d, uid, *args, gid=None, groups=()):
    def drop():
        os.setgroups(list(groups))
        os.setgid(uid if gid is None else gid)
        os.setuid(uid)
    # a uid of its own runs a copy it can reach (a clone under /root)
    prog = os.path.join(veiltest.reachable_build(BUILD), "control", "veilctl")
    p = subprocess.run([prog, "--socket", d.sock, "--json"] + list(args),
                       capture_output=True, text=True, preexec_fn=drop, timeout=60)
    try:
        return p.returncode, json.loads(p.stdout)
    except ValueError:
        return p.returncode, {"ok": False, "error": p.stderr}


def idle_flood(d):
    """300 idle connections from 20 uids (15 each, under the per-uid cap):
    an admin's status is still answered."""
    held = []
    try:
        for u in range(20):
            for _ in range(15):
                held.append(connect_as(d.sock, READER + u, READERS_GID))
        s = socket.socket(socket.AF_UNIX)
        s.connect(d.sock)
        a = call(s, {"cmd": "status"})
        s.close()
        check(a is not None and a["ok"] and a["role"] == "admin",
              "300 idle connections: an admin's status is answered: %r" % a)
        a = call(held[-1], {"cmd": "status"})
        check(a is not None and a["ok"], "the newest idle connection still serves")
    finally:
        for s in held:
            s.close()


def per_uid_cap(d):
    """16 connections of one uid are served; the 17th gets an error answer
    and is closed; once one closes, a new one is served again."""
    held = [connect_as(d.sock, READER + 30, READERS_GID) for _ in range(16)]
    try:
        a = call(held[0], {"cmd": "status"})
        check(a is not None and a["ok"], "the uid's first connection is served")
        extra = connect_as(d.sock, READER + 30, READERS_GID)
        a = receive(extra)
        check(a is not None and not a["ok"] and "too many connections" in a["error"]
              and "connections_per_uid" in a["error"],
              "the 17th connection of a uid is refused with an answer: %r" % a)
        check(closed_by_peer(extra, 5), "and closed")
        extra.close()
        other = connect_as(d.sock, READER + 31, READERS_GID)
        a = call(other, {"cmd": "status"})
        check(a is not None and a["ok"], "another uid is not limited by it")
        other.close()
        held.pop().close()
        a = None
        for _ in range(50):  # until the daemon has seen the close
            s = connect_as(d.sock, READER + 30, READERS_GID)
            a = call(s, {"cmd": "status"})
            s.close()
            if a is not None and a["ok"]:
                break
            time.sleep(0.1)
        check(a is not None and a["ok"], "under the cap again: served")
    finally:
        for s in held:
            s.close()


def never_reads(d, tok):
    """A reader sends 20 audit.show requests with large answers and reads
    nothing: another caller's status is answered meanwhile; when the reader
    reads at last, its answers are all there, in order."""
    # records of ~100 KB each (the tokens of bulk resolves): answers of MBs
    for _ in range(8):
        a = d.admin({"cmd": "resolve", "tenant": "acme", "justification": JUST,
                     "tokens": [tok] * 3000})
        assert a and a["ok"], a
    greedy = connect_as(d.sock, READER + 40, READERS_GID)
    try:
        for i in range(20):
            send(greedy, {"cmd": "audit.show", "limit": 1000 + i})
        time.sleep(0.5)  # let the daemon choke on it, if it can be choked
        s = socket.socket(socket.AF_UNIX)
        s.connect(d.sock)
        a = call(s, {"cmd": "status"})
        s.close()
        check(a is not None and a["ok"],
              "a caller that never reads does not hold up another's status: %r" % a)
        rc, a = ctl_as(d, READER + 41, "tenant", "list", gid=READERS_GID)
        check(rc == 0, "nor a reader's veilctl")
        sizes = []
        for i in range(20):
            a = receive(greedy, timeout=30)
            if a is None or not a["ok"]:
                break
            sizes.append(len(a["records"]))
        check(len(sizes) == 20 and min(sizes) >= 8,
              "the greedy caller's answers all arrive, in order, when it reads: %r" % sizes)
    finally:
        greedy.close()


def no_role_body(root):
    """A caller without a role announces 20 MiB: the refusal comes before
    the body is sent, and the daemon never holds the body. A reader's 1 MiB
    (over a reader's 64 KiB) likewise. A fresh daemon, so that its peak RSS
    says what this did."""
    r = os.path.join(root, "body")
    os.mkdir(r)
    os.chmod(r, 0o755)
    d = Daemon(r, "body", roles="reader = gid:%d\n" % READERS_GID)
    d.start()
    try:
        rss0 = d.status_field("VmRSS")
        s = connect_as(d.sock, STRANGER)
        n = 20 << 20
        s.sendall(struct.pack(">I", n))
        a = receive(s)
        check(a is not None and not a["ok"] and "permission denied" in a["error"]
              and "no role" in a["error"],
              "no role: refused before the 20 MiB body is sent: %r" % a)
        body = b'{"cmd":"status","pad":"' + b"x" * (n - 26) + b'"}'
        s.settimeout(3)
        try:
            s.sendall(body)
        except (socket.timeout, BrokenPipeError, ConnectionResetError):
            pass
        s.close()
        s = connect_as(d.sock, READER, READERS_GID)
        s.sendall(struct.pack(">I", 1 << 20))
        a = receive(s)
        check(a is not None and not a["ok"] and "too large" in a["error"]
              and "65536" in a["error"],
              "a reader's 1 MiB request is refused before its body: %r" % a)
        s.close()
        a = d.admin({"cmd": "status"})
        check(a and a["ok"], "the daemon serves on")
        rss1, hwm = d.status_field("VmRSS"), d.status_field("VmHWM")
        check(rss1 - rss0 < 8192 and hwm - rss0 < 8192,
              "the body never came in: RSS %d kB -> %d kB, peak %d kB" % (rss0, rss1, hwm))
    finally:
        d.stop()


def memory_returned(root):
    """A bulk resolve of 150,000 tokens (a 6 MB request, an answer of MBs,
    ~100 MB at the peak) and an audit.show over five such records (their
    lists are kept aside: the answer is small): afterwards the daemon's RSS
    is back near where it was. Not
    under AddressSanitizer, whose allocator keeps freed memory on purpose."""
    with open(CTLD, "rb") as f:
        if b"__asan_init" in f.read():
            veiltest.skip("memory returned", "AddressSanitizer build (its "
                          "allocator keeps freed memory)")
            return
    r = os.path.join(root, "mem")
    os.mkdir(r)
    d = Daemon(r, "mem", controld="rate_limit = 1000000\n")
    d.start()
    try:
        d.admin({"cmd": "tenant.create", "tenant": "acme"})
        a = d.admin({"cmd": "lookup", "tenant": "acme", "justification": JUST,
                     "kind": "user", "name": "alice@example.com"})
        tok = a["tokens"][0]["token"]
        d.admin({"cmd": "resolve", "tenant": "acme", "justification": JUST,
                 "tokens": [tok] * 1000})
        rss0 = d.status_field("VmRSS")
        grown = []
        for _ in range(5):
            a = d.admin({"cmd": "resolve", "tenant": "acme", "justification": JUST,
                         "tokens": [tok] * 150000})
            check(a and a["ok"] and a["resolved"] == 150000, "a bulk of 150,000 resolves")
            grown.append(d.status_field("VmRSS") - rss0)
        check(max(grown) < 16384 and d.status_field("VmHWM") - rss0 > 32768,
              "after each bulk the memory is given back: RSS +%r kB" % grown)
        a = d.admin({"cmd": "audit.show"})
        check(a and a["ok"] and [r.get("tokens_total") for r in a["records"][-5:]]
              == [150000] * 5, "audit.show over five bulk records: %r" % (a and a.get("error")))
        rss = d.status_field("VmRSS")
        check(rss - rss0 < 16384, "and after it: RSS %d kB -> %d kB" % (rss0, rss))
    finally:
        d.stop()


def idle_timeout(root):
    """idle_timeout = 2: a connection without a request, or with half a
    request, is closed; one that keeps asking stays."""
    r = os.path.join(root, "idle")
    os.mkdir(r)
    d = Daemon(r, "idle", controld="idle_timeout = 2\n")
    d.start()
    try:
        quiet = socket.socket(socket.AF_UNIX)
        quiet.connect(d.sock)
        half = socket.socket(socket.AF_UNIX)
        half.connect(d.sock)
        half.sendall(struct.pack(">I", 100) + b'{"cmd"')
        busy = socket.socket(socket.AF_UNIX)
        busy.connect(d.sock)
        answers = []
        for _ in range(4):
            a = call(busy, {"cmd": "status"})
            answers.append(a is not None and a["ok"])
            time.sleep(1)
        check(closed_by_peer(quiet, 10), "a connection without a request is closed")
        check(closed_by_peer(half, 10), "a connection with half a request is closed")
        check(all(answers), "a connection that keeps asking is served: %r" % answers)
        quiet.close()
        half.close()
        busy.close()
    finally:
        d.stop()


def role_changes(d):
    """A role granted or revoked applies to the next request of a
    connection that is already open."""
    u = READER + 50  # not in READERS_GID: only the database gives it a role
    d.admin({"cmd": "role.grant", "uid": u, "role": "reader"})
    s = connect_as(d.sock, u)
    try:
        a = call(s, {"cmd": "status"})
        check(a is not None and a["ok"] and a["role"] == "reader", "reader at first: %r" % a)
        lk = {"cmd": "lookup", "tenant": "acme", "justification": JUST, "kind": "user",
              "name": "mallory"}
        a = call(s, lk)
        check(a is not None and "permission denied" in a.get("error", ""),
              "a reader cannot look up")
        d.admin({"cmd": "role.grant", "uid": u, "role": "investigator"})
        a = call(s, lk)
        check(a is not None and a["ok"], "granted on an open connection: it applies: %r" % a)
        d.admin({"cmd": "role.revoke", "uid": u})
        a = call(s, {"cmd": "status"})
        check(a is not None and not a["ok"] and "permission denied" in a["error"],
              "revoked on an open connection: the next request is refused: %r" % a)
        check(closed_by_peer(s, 5), "and the connection closed")
    finally:
        s.close()


def sent_ahead(d, tok):
    """A caller that sends its next requests before it reads an answer:
    the daemon reads a request's length and what follows in one call, so
    it may read a next request's bytes with this one's. Each request is
    still answered, in order, with its own answer; a next request's
    length split across reads is put together; and the role's limit
    applies to a request read ahead as to any other."""
    def frame(req):
        body = json.dumps(req).encode()
        return struct.pack(">I", len(body)) + body
    u = READER + 90
    d.admin({"cmd": "role.grant", "uid": u, "role": "investigator"})
    s = connect_as(d.sock, u)
    try:
        look = {"cmd": "lookup", "tenant": "acme", "justification": JUST,
                "kind": "user", "name": "alice@example.com"}
        other = dict(look, name="bob@example.com")
        s.sendall(frame({"cmd": "status"}) + frame(look) + frame(other) + frame(look))
        a = [receive(s) for _ in range(4)]
        check(all(x is not None and x.get("ok") for x in a),
              "four requests sent at once: four answers: %r" % a)
        toks = [x["tokens"][0]["token"] if x and x.get("tokens") else None for x in a[1:]]
        check(a[0] is not None and a[0].get("role") == "investigator" and
              toks[0] == tok and toks[2] == tok and toks[1] not in (None, tok),
              "each answer is its own request's, in order: %r" % toks)
        # a request, and the first two bytes of the next one's length
        nxt = frame(other)
        s.sendall(frame(look) + nxt[:2])
        a1 = receive(s)
        time.sleep(0.2)
        s.sendall(nxt[2:])
        a2 = receive(s)
        check(a1 is not None and a1.get("ok") and a1["tokens"][0]["token"] == tok and
              a2 is not None and a2.get("ok") and a2["tokens"][0]["token"] != tok,
              "a next request's length split across reads: %r, %r" % (a1, a2))
    finally:
        s.close()
    d.admin({"cmd": "role.revoke", "uid": u})
    # a reader's request over its limit, sent right behind one that is not
    s = connect_as(d.sock, READER, READERS_GID)
    try:
        s.sendall(frame({"cmd": "status"}) + struct.pack(">I", 1 << 20) + b"x" * 100)
        a1, a2 = receive(s), receive(s)
        check(a1 is not None and a1.get("ok"), "the reader's status: %r" % a1)
        check(a2 is not None and not a2["ok"] and "too large" in a2["error"],
              "the one over its limit, read ahead, is refused: %r" % a2)
        check(closed_by_peer(s, 5), "and the connection closed")
    finally:
        s.close()


def refusal_records(d):
    """50 refusals of one caller in a minute: one record at once, one with
    the count at the end of the interval (here: at shutdown)."""
    u = READER + 60
    s = connect_as(d.sock, u, READERS_GID)
    errs = set()
    for i in range(50):
        a = call(s, {"cmd": "resolve", "tenant": "acme", "justification": JUST,
                     "token": "veil_u1_aaaa"})
        errs.add(a["error"] if a else None)
    s.close()
    check(len(errs) == 1 and "permission denied" in errs.pop(), "50 refusals answered")
    for _ in range(10):  # a caller without a role, through veilctl
        rc, a = ctl_as(d, STRANGER, "status")
        if rc != 1 or "permission denied" not in a["error"]:
            break
    check(rc == 1 and "permission denied" in a["error"], "veilctl without a role: %r" % a)

    def records(uid):
        a = d.admin({"cmd": "audit.show", "uid": uid})
        return [x["outcome"] for x in a["records"]]
    now = records(u)
    check(len(now) == 1 and now[0].startswith("refused: permission denied"),
          "the first refusal is recorded at once, the rest are counted: %d records, "
          "%r" % (len(now), now[:2]))
    check(len(records(STRANGER)) == 1, "the same for a caller without a role")
    d.stop()
    d.start()
    later = records(u)
    counted = [x for x in later if x.startswith("refused 49 times: permission denied")
               and "other reasons" not in x]
    check(len(later) == 2 and len(counted) == 1,
          "the other 49 in one record with their count: %d records, %r"
          % (len(later), later[:2]))
    st = records(STRANGER)
    check(len(st) == 2 and st[1].startswith("refused 9 times: permission denied"),
          "and the caller without a role's 9: %d records, %r" % (len(st), st[:2]))
    rc, out = ctl_as(d, 0, "audit", "verify")
    check(rc == 0 and out.get("intact"), "the chain verifies")


def bulk_tokens(d, tok):
    """rate_limit counts tokens: a bulk of 8 uses 8 of 10."""
    u = READER + 70
    d.admin({"cmd": "role.grant", "uid": u, "role": "investigator"})
    d.admin({"cmd": "config.set", "name": "rate_limit", "value": 10})
    while time.time() % 60 > 50:  # the window is the clock's minute
        time.sleep(1)
    s = connect_as(d.sock, u)
    try:
        def resolve(n):
            return call(s, {"cmd": "resolve", "tenant": "acme", "justification": JUST,
                            "tokens": [tok] * n})
        a = resolve(8)
        check(a is not None and a["ok"] and a["resolved"] == 8, "a bulk of 8 under a limit of 10")
        a = resolve(5)
        check(a is not None and not a["ok"] and "rate limit" in a["error"]
              and "5 tokens" in a["error"] and "2 of" in a["error"],
              "a bulk of 5 more is over it, and says so: %r" % a)
        a = resolve(2)
        check(a is not None and a["ok"], "2 more fit")
        a = resolve(1)
        check(a is not None and not a["ok"] and "rate limit" in a["error"], "then nothing")
        a = call(s, {"cmd": "lookup", "tenant": "acme", "justification": JUST,
                     "kind": "user", "name": "trent"})
        check(a is not None and not a["ok"] and "rate limit" in a["error"],
              "a lookup counts against the same limit")
    finally:
        s.close()
        d.admin({"cmd": "config.set", "name": "rate_limit", "value": None})


def supplementary_group(d):
    """A uid whose supplementary group has a group: role gets that role."""
    u = 62200
    rc, a = ctl_as(d, u, "status", groups=[GROUP_GID])
    check(rc == 0 and a.get("role") == "investigator",
          "investigator through supplementary group %s: %r" % (GROUP, a))
    rc, a = ctl_as(d, u, "status")
    check(rc == 1 and "permission denied" in a["error"], "not without the group")


def socket_group(root):
    """socket_group: the daemon makes the socket's directory 0750
    root:GROUP, and a member of GROUP (not the owner) reaches the socket;
    an existing directory the group cannot pass is an error, left as is."""
    r = os.path.join(root, "sg")
    os.mkdir(r)
    os.chmod(r, 0o755)
    sockdir = os.path.join(r, "run")
    d = Daemon(r, "sg", controld="socket_group = %s\n" % GROUP,
               roles="reader = group:%s\n" % GROUP,
               sock=os.path.join(sockdir, "controld.sock"))
    d.start(open_socket=False)
    try:
        st = os.stat(sockdir)
        check(stat.S_IMODE(st.st_mode) == 0o750 and st.st_gid == GROUP_GID,
              "socket directory 0750 root:%s: %o gid %d" % (GROUP, st.st_mode, st.st_gid))
        st = os.stat(d.sock)
        check(stat.S_IMODE(st.st_mode) == 0o660 and st.st_gid == GROUP_GID, "socket 0660")
        rc, a = ctl_as(d, 62300, "status", groups=[GROUP_GID])
        check(rc == 0 and a.get("role") == "reader",
              "a member of socket_group reaches the socket: %r" % a)
        rc, a = ctl_as(d, 62301, "status")
        check(rc == 3, "a non-member does not: %r" % a)
    finally:
        d.stop()
    os.chown(sockdir, 0, 0)
    os.chmod(sockdir, 0o700)
    p = subprocess.run([CTLD, "-f", "-c", d.conf], capture_output=True, text=True,
                       timeout=20)
    st = os.stat(sockdir)
    check(p.returncode != 0 and sockdir in p.stderr and GROUP in p.stderr
          and stat.S_IMODE(st.st_mode) == 0o700,
          "an existing directory the group cannot pass: an error, not loosened: %s"
          % p.stderr.strip())


def main():
    if os.geteuid() != 0:
        print("controld-callers: needs root (switches to other uids): "
              "0 passed, 0 failed, 1 skipped")
        return 77
    root = tempfile.mkdtemp(prefix="veil-callers-")
    os.chmod(root, 0o755)  # other uids reach the sockets
    d = Daemon(root, "main", controld="rate_limit = 1000000\n",
               roles="reader = gid:%d\ninvestigator = group:%s\n" % (READERS_GID, GROUP))
    try:
        d.start()
        d.admin({"cmd": "tenant.create", "tenant": "acme"})
        a = d.admin({"cmd": "lookup", "tenant": "acme", "justification": JUST,
                     "kind": "user", "name": "alice@example.com"})
        tok = a["tokens"][0]["token"]
        steps = [("idle flood", lambda: idle_flood(d)),
                 ("per-uid cap", lambda: per_uid_cap(d)),
                 ("never reads", lambda: never_reads(d, tok)),
                 ("role changes", lambda: role_changes(d)),
                 ("sent ahead", lambda: sent_ahead(d, tok)),
                 ("bulk tokens", lambda: bulk_tokens(d, tok)),
                 ("supplementary group", lambda: supplementary_group(d)),
                 ("refusal records", lambda: refusal_records(d)),
                 ("no-role body", lambda: no_role_body(root)),
                 ("idle timeout", lambda: idle_timeout(root)),
                 ("memory returned", lambda: memory_returned(root)),
                 ("socket group", lambda: socket_group(root))]
        for name, fn in steps:
            try:
                fn()
            except Exception as e:  # one broken step does not hide the others
                check(False, "%s: %s: %s" % (name, type(e).__name__, e))
    finally:
        d.stop()
        shutil.rmtree(root, ignore_errors=True)
    return veiltest.finish("controld-callers")


if __name__ == "__main__":
    sys.exit(main())
