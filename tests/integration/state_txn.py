#!/usr/bin/env python3
# SPDX-License-Identifier: LicenseRef-veil-proprietary
"""A state change and its governance record commit together or not at all,
and crypto-shredding leaves no copy of a destroyed key in the state
directory. With the real veil-controld and veilctl:

- full disk: controld's state directory is a small tmpfs. For each state
  change (role grant and revoke, key roll and destroy, tenant lock, tenant
  create, config set) the tmpfs is filled to the last byte, then a few
  pages are freed (0, 1, 2, ... so that some changes fit and some do not);
  after the answer,
  space is freed and controld restarted: an ok answer has its record and its
  effect, an error answer has neither, and what controld shows from memory
  before the restart is what it shows from the database after it.
- a roll past max_live_versions (veil.conf) is refused, storing nothing.
- shredding: a destroyed version's wrapped key is in no file of the state
  directory once the answer is out (kill -9 right after it), for a destroy
  by an admin and for one by the key retention.

usage: state_txn.py BUILD_DIR
"""
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile

import veiltest
from veiltest import check

BUILD = sys.argv[1]
CTLD = os.path.join(BUILD, "control", "veil-controld")
VEILCTL = os.path.join(BUILD, "control", "veilctl")
REASON = "ticket 4712: the customer asked for the data to be erased"
GRANTEE = 61020  # a uid the tests grant roles to
PAGE = 4096
SLACKS = range(0, 17)  # pages left free on the full tmpfs
ACTIONS = {"tenant.set": "tenant.change", "config.set": "config.change"}  # of records


class Daemon:
    def __init__(self, root, state, extra=""):
        self.root, self.state = root, state
        link = os.path.join(root, "link.sock")
        self.conf = os.path.join(root, "veil.conf")
        self.sock = os.path.join(root, "controld.sock")
        with open(self.conf, "w") as f:
            f.write("[controld]\nstate_dir = %s\nsocket = %s\nlink_socket = %s\n%s"
                    "\n[roles]\nadmin = uid:0\n" % (state, self.sock, link, extra))
        self.proc = None
        self.log = None

    def start(self):
        self.log = open(os.path.join(self.root, "ctld.log"), "a")
        self.proc = subprocess.Popen([CTLD, "-f", "-c", self.conf], stderr=self.log)
        up = veiltest.wait_unix(self.sock, self.proc)
        assert up, "controld did not start: %s" % self.errors()
        os.chmod(self.sock, 0o666)

    def errors(self):
        with open(os.path.join(self.root, "ctld.log")) as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=20)
        if self.log:
            self.log.close()
            self.log = None

    def ctl(self, *args, uid=None):
        """veilctl --json ARGS (as @uid): (exit status, answer)."""
        def drop():
            if uid is not None:
                os.setgid(uid)
                os.setuid(uid)
        # a uid of its own runs a copy it can reach (a clone under /root)
        prog = VEILCTL if uid is None else os.path.join(
            veiltest.reachable_build(BUILD), "control", "veilctl")
        p = subprocess.run([prog, "--socket", self.sock, "--json"] + list(args),
                           capture_output=True, text=True, timeout=60,
                           preexec_fn=drop)
        try:
            return p.returncode, json.loads(p.stdout)
        except ValueError:
            return p.returncode, {"ok": False, "error": p.stderr}

    def req(self, obj):
        """One request as it goes over the socket: the answer (a dict)."""
        return veiltest.api_call(self.sock, obj)


# ---- the full disk ----

def snapshot(d):
    """What controld shows of every state the commands change (requests
    straight over the socket: no veilctl process for each)."""
    roles = d.req({"cmd": "role.list"})
    keys = d.req({"cmd": "key.list", "tenant": "acme"})
    conf = d.req({"cmd": "config.show"})
    tenants = d.req({"cmd": "tenant.list"})
    t = keys.get("tenant", {})
    return {
        "tenants": [x["tenant"] for x in tenants.get("tenants", [])],
        "roles": sorted((r["type"], r["id"], r["role"]) for r in roles.get("roles", [])
                        if r["source"] == "database"),
        "current": t.get("current_version"),
        "live": [v["version"] for v in t.get("versions", []) if v["live"]],
        "state": t.get("state"),
        "rate_limit": [s["value"] for s in conf.get("settings", [])
                       if s["name"] == "rate_limit"],
    }


def records_after(d, seq):
    a = d.req({"cmd": "audit.show", "since_ms": 0, "limit": 100000})
    return [r for r in a.get("records", []) if r["seq"] > seq]


def last_seq(d):
    return d.req({"cmd": "status"}).get("audit_records", 0)


def live_in_memory(d):
    """The key versions in controld's keyring: a lookup makes a token with
    every one of them."""
    a = d.req({"cmd": "lookup", "tenant": "acme", "justification": REASON,
               "kind": "user", "name": "mallory"})
    return [t["version"] for t in a.get("tokens", [])]


def one_change(d, filler, name, prepare, request, expect, slack):
    """Run @request with @slack pages free; @prepare(d) first (disk free),
    @expect(before) is the state after an ok answer."""
    prepare(d)
    d.stop()  # a clean stop: no WAL left, so the change must grow it
    d.start()
    before = snapshot(d)
    seq = last_seq(d)
    veiltest.fill(filler, slack * PAGE)
    a = d.req(request)
    os.unlink(filler)
    mem = snapshot(d)
    mem_live = live_in_memory(d)
    d.stop()
    d.start()
    after = snapshot(d)
    action = ACTIONS.get(request["cmd"], request["cmd"])
    recs = [r for r in records_after(d, seq) if r["action"] == action]
    what = "%s with %d pages free (answer %s)" % (name, slack, a)
    if a.get("ok"):
        check(after == expect(before), "%s: ok, so changed: %r -> %r" % (what, before, after))
        check(len(recs) == 1 and not recs[0]["outcome"].startswith(("failed", "refused")),
              "%s: ok, so recorded: %r" % (what, recs))
    else:
        check(after == before, "%s: refused, so unchanged: %r -> %r" % (what, before, after))
        check(recs == [], "%s: refused, so no record of a change: %r" % (what, recs))
        check("governance log" in a.get("error", "") or "no answer" in a.get("error", ""),
              "%s: the error says why" % what)
    check(mem == after, "%s: memory %r is what the database says %r" % (what, mem, after))
    if after["state"] == "active":  # a locked tenant has no lookups
        check(mem_live == after["live"], "%s: keyring %r, database %r"
              % (what, mem_live, after["live"]))
    out = d.req({"cmd": "audit.verify"})
    check(out.get("intact"), "%s: the chain verifies" % what)
    return a


def full_disk(root):
    state = os.path.join(root, "state")
    os.mkdir(state)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "veil-test-txn",
                       state]).returncode != 0:
        check(False, "mount a tmpfs on %s" % state)
        return
    d = Daemon(root, state)
    filler = os.path.join(state, "filler")
    try:
        d.start()
        rc, a = d.ctl("tenant", "create", "acme")
        check(rc == 0, "tenant create: %r" % a)

        def nothing(d):
            pass

        def rolled(d):
            d.req({"cmd": "key.roll", "tenant": "acme"})

        def grantee_bound(d):
            d.req({"cmd": "role.grant", "uid": GRANTEE, "role": "reader"})

        def unlocked(d):
            d.req({"cmd": "tenant.set", "tenant": "acme", "state": "active"})

        def roles_plus(before, role):
            return dict(before, roles=sorted(set(before["roles"]) | {("uid", GRANTEE, role)}))

        cases = [
            ("role grant", nothing, lambda k: {"cmd": "role.grant", "uid": GRANTEE + 1 + k,
                                               "role": "admin"},
             lambda k: lambda b: dict(b, roles=sorted(b["roles"] + [("uid", GRANTEE + 1 + k,
                                                                      "admin")]))),
            ("role revoke", grantee_bound, lambda k: {"cmd": "role.revoke", "uid": GRANTEE},
             lambda k: lambda b: dict(b, roles=[r for r in b["roles"] if r[1] != GRANTEE])),
            ("key roll", nothing, lambda k: {"cmd": "key.roll", "tenant": "acme"},
             lambda k: lambda b: dict(b, current=b["current"] + 1,
                                      live=b["live"] + [b["current"] + 1])),
            ("key destroy", rolled, None, None),
            ("tenant lock", unlocked, lambda k: {"cmd": "tenant.set", "tenant": "acme",
                                                 "state": "locked"},
             lambda k: lambda b: dict(b, state="locked")),
            ("tenant create", nothing, lambda k: {"cmd": "tenant.create",
                                                   "tenant": "globex%d" % k},
             lambda k: lambda b: dict(b, tenants=b["tenants"] + ["globex%d" % k])),
            ("config set", unlocked, lambda k: {"cmd": "config.set", "name": "rate_limit",
                                               "value": 500 + k},
             lambda k: lambda b: dict(b, rate_limit=[500 + k])),
        ]
        for name, prepare, request, expect in cases:
            answers = []
            for k in SLACKS:
                if name == "key destroy":
                    # the oldest live version that is not current, known
                    # only once prepare() has rolled
                    rolled(d)
                    a = d.req({"cmd": "key.list", "tenant": "acme"})
                    old = min(v["version"] for v in a["tenant"]["versions"] if v["live"])
                    req = {"cmd": "key.destroy", "tenant": "acme", "version": old,
                           "reason": REASON}
                    exp = (lambda o: lambda b: dict(b, live=[v for v in b["live"] if v != o]))(old)
                    a = one_change(d, filler, name, nothing, req, exp, k)
                else:
                    a = one_change(d, filler, name, prepare, request(k), expect(k), k)
                answers.append(bool(a.get("ok")))
            check(not answers[0], "%s on a full disk is refused: %r" % (name, answers))
            check(answers[-1], "%s with %d pages free is done: %r" % (name, SLACKS[-1], answers))

        # nobody became admin while the disk was full
        rc, a = d.ctl("role", "list")
        admins = [r["id"] for r in a["roles"] if r["source"] == "database"
                  and r["role"] == "admin"]
        for k in SLACKS:
            uid = GRANTEE + 1 + k
            rc, b = d.ctl("tenant", "lock", "acme", uid=uid)
            if uid in admins:
                d.ctl("tenant", "unlock", "acme")
            else:
                check(rc == 1 and "permission denied" in b["error"],
                      "uid %d, refused its grant, is not admin: %r" % (uid, b))
    finally:
        d.stop()
        subprocess.run(["umount", state])


# ---- shredding ----

def files_holding(state, blob):
    found = []
    for dirpath, _, names in os.walk(state):
        for n in names:
            p = os.path.join(dirpath, n)
            with open(p, "rb") as f:
                if blob in f.read():
                    found.append(n)
    return found


def wrapped(state, version):
    con = sqlite3.connect("file:%s/veil.db?mode=ro" % state, uri=True)
    try:
        row = con.execute("SELECT wrapped FROM keys WHERE tenant='acme' AND version=?",
                          (version,)).fetchone()
    finally:
        con.close()
    return row[0]


def shredding(root):
    r = os.path.join(root, "shred")
    os.mkdir(r)
    state = os.path.join(r, "state")
    d = Daemon(r, state)
    d.start()
    try:
        d.ctl("tenant", "create", "acme")
        d.ctl("key", "roll", "acme")
        blob = wrapped(state, 1)
        check(blob is not None and len(blob) == 40 and files_holding(state, blob),
              "the wrapped key is in the state directory before")
        a = d.req({"cmd": "key.destroy", "tenant": "acme", "version": 1, "reason": REASON})
        d.stop(signal.SIGKILL)
        check(a.get("ok"), "key destroy: %r" % a)
        check(a.get("shredded") is True, "the answer says the shred is complete: %r" % a)
        found = files_holding(state, blob)
        check(found == [], "no copy of the destroyed key after the answer: in %r" % found)

        # the key retention's destruction, by controld itself
        d.start()
        d.ctl("key", "roll", "acme")
        d.ctl("config", "set", "key_retention_days", "1")
        blob = wrapped(state, 2)
        d.stop()
        con = sqlite3.connect(os.path.join(state, "veil.db"))
        con.execute("PRAGMA secure_delete=ON")  # no copy left behind by the test
        con.execute("UPDATE keys SET created = created - 3 * 86400000 WHERE tenant='acme'")
        con.commit()
        con.close()
        d.start()  # the housekeeping runs before the first answer
        rc, a = d.ctl("key", "list", "acme")
        vs = {v["version"]: v["live"] for v in a["tenant"]["versions"]}
        d.stop(signal.SIGKILL)
        check(vs.get(2) is False, "version 2 destroyed by the retention: %r" % vs)
        found = files_holding(state, blob)
        check(found == [], "no copy of the key the retention destroyed: in %r" % found)
        d.start()
        rc, a = d.ctl("audit", "show", "--action", "key.destroy")
        recs = a["records"]
        check(any(x["role"] == "system" and "retention" in x["outcome"] for x in recs),
              "the retention's destruction is recorded as the system's: %r" % recs)
        check(any(x["role"] == "admin" and x.get("justification") == REASON for x in recs),
              "an admin's destruction is recorded with its reason: %r" % recs)
        rc, out = d.ctl("audit", "verify")
        check(rc == 0 and out.get("intact"), "the chain verifies after the shreds")
    finally:
        d.stop()


def reason_rule(root):
    """key.destroy needs a reason, like a justification."""
    r = os.path.join(root, "reason")
    os.mkdir(r)
    d = Daemon(r, os.path.join(r, "state"))
    d.start()
    try:
        d.ctl("tenant", "create", "acme")
        d.ctl("key", "roll", "acme")
        for why in (None, "", "   short  "):
            req = {"cmd": "key.destroy", "tenant": "acme", "version": 1}
            if why is not None:
                req["reason"] = why
            a = d.req(req)
            check(not a["ok"] and "reason" in a["error"] and "8" in a["error"],
                  "key destroy without a reason (%r) refused: %r" % (why, a))
        rc, a = d.ctl("key", "list", "acme")
        check([v["live"] for v in a["tenant"]["versions"]] == [True, True],
              "nothing destroyed without a reason")
        p = subprocess.run([VEILCTL, "--socket", d.sock, "key", "destroy", "acme", "1",
                            "--reason", REASON, "--yes"], capture_output=True, text=True)
        check(p.returncode == 0 and "destroyed" in p.stdout, "veilctl key destroy --reason: %s%s"
              % (p.stdout, p.stderr))
        rc, a = d.ctl("role", "grant", "--uid", str(GRANTEE), "investigator")
        check(rc == 0 and a.get("uid") == GRANTEE and a.get("role") == "investigator",
              "role grant answers with the uid and the role: %r" % a)
        rc, a = d.ctl("role", "grant", "--gid", str(GRANTEE), "reader")
        check(rc == 0 and a.get("gid") == GRANTEE and a.get("role") == "reader",
              "role grant answers with the gid and the role: %r" % a)
    finally:
        d.stop()


def ring_full(root):
    """A tenant keeps at most max_live_versions (here 64) live versions: a
    roll past that is refused before anything is stored."""
    r = os.path.join(root, "ring")
    os.mkdir(r)
    d = Daemon(r, os.path.join(r, "state"), "max_live_versions = 64\n")
    d.start()
    try:
        d.ctl("tenant", "create", "acme")
        for _ in range(63):
            d.req({"cmd": "key.roll", "tenant": "acme"})
        rc, a = d.ctl("key", "roll", "acme")
        check(rc == 1 and "destroy old ones" in a.get("error", ""),
              "a 65th live version is refused: %r" % a)
        rc, a = d.ctl("key", "list", "acme")
        check(a["tenant"]["current_version"] == 64 and len(a["tenant"]["versions"]) == 64,
              "nothing stored for the refused roll")
        d.stop()
        d.start()
        rc, a = d.ctl("key", "list", "acme")
        check(rc == 0 and a["tenant"]["current_version"] == 64, "controld starts again")
        rc, a = d.ctl("key", "destroy", "acme", "1", "--reason", REASON, "--yes")
        rc, a = d.ctl("key", "roll", "acme")
        check(rc == 0 and a["version"] == 65, "after a destroy, a roll: %r" % a)
    finally:
        d.stop()


def main():
    if os.geteuid() != 0:
        print("state-txn: needs root (mounts a tmpfs): 0 passed, 0 failed, 1 skipped")
        return 77
    root = tempfile.mkdtemp(prefix="veil-txn-")
    os.chmod(root, 0o755)  # other uids reach the socket
    try:
        reason_rule(root)
        ring_full(root)
        shredding(root)
        full_disk(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return veiltest.finish("state-txn")


if __name__ == "__main__":
    sys.exit(main())
