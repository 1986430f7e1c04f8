#!/usr/bin/env python3
# SPDX-License-Identifier: LicenseRef-veil-proprietary
"""veil-controld end to end, with the real daemon, a real SQLite file, real
sockets, veilctl, and veil-link-peer playing the dataplane.

usage: controld.py BUILD_DIR
"""
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
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
PEER = os.path.join(BUILD, "control", "veil-link-peer")
JUST = "ticket 4711: suspected account takeover"
INVESTIGATOR, READER, STRANGER = 61001, 61002, 61003

class Daemon:
    def __init__(self, root, rate_limit=1000):
        self.root = root
        self.conf = os.path.join(root, "veil.conf")
        self.sock = os.path.join(root, "controld.sock")
        self.link = os.path.join(root, "link.sock")
        link = self.link
        with open(self.conf, "w") as f:
            f.write("[controld]\nstate_dir = %s/state\nsocket = %s\nlink_socket = %s\n"
                    "rate_limit = %d\n\n[roles]\nadmin = uid:0\n"
                    "investigator = uid:%d\nreader = uid:%d\n"
                    % (root, self.sock, link, rate_limit, INVESTIGATOR, READER))
        self.proc = None

    def start(self, expect_ok=True):
        self.log = open(os.path.join(self.root, "ctld.log"), "a")
        self.proc = subprocess.Popen([CTLD, "-f", "-c", self.conf], stderr=self.log)
        up = veiltest.wait_unix(self.sock, self.proc)
        if expect_ok:
            assert up, "controld did not start: %s" % self.errors()
            os.chmod(self.sock, 0o666)  # test uids are in no group
        return self.proc

    def errors(self):
        with open(os.path.join(self.root, "ctld.log")) as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=10)
        self.log.close()

    def ctl(self, *args, uid=None, stdin=None):
        def drop():
            if uid is not None:
                os.setgid(uid)
                os.setuid(uid)
        # a uid of its own runs a copy it can reach (a clone under /root)
        prog = VEILCTL if uid is None else os.path.join(
            veiltest.reachable_build(BUILD), "control", "veilctl")
        p = subprocess.run([prog, "--socket", self.sock] + list(args),
                           input=stdin, capture_output=True, text=True,
                           preexec_fn=drop, timeout=60)
        return p.returncode, p.stdout, p.stderr

    def jctl(self, *args, uid=None, stdin=None):
        rc, out, err = self.ctl("--json", *args, uid=uid, stdin=stdin)
        try:
            return rc, json.loads(out)
        except ValueError:
            return rc, {"ok": False, "error": err}

    def raw(self, payload, announce=None):
        s = socket.socket(socket.AF_UNIX)
        s.connect(self.sock)
        n = len(payload) if announce is None else announce
        s.sendall(struct.pack(">I", n) + payload)
        s.shutdown(socket.SHUT_WR)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
        if len(data) < 4:
            return None
        return json.loads(data[4:4 + struct.unpack(">I", data[:4])[0]])


def end_to_end(d):
    rc, a = d.jctl("tenant", "create", "acme")
    check(rc == 0 and a["ok"], "tenant create")
    rc, a = d.jctl("tenant", "create", "acme")
    check(rc == 1 and "exists" in a["error"], "tenant create twice refused")
    rc, a = d.jctl("tenant", "create", "Bad Name")
    check(rc == 1, "bad tenant id refused")

    # the dataplane's side gets key version 1, then the roll within a second
    peer = subprocess.Popen([PEER, "--socket", d.link, "--probe", "alice@example.com",
                             "--timeout", "20"], stdout=subprocess.PIPE, text=True)
    events = []

    def wait_event(pred, timeout):
        end = time.time() + timeout
        while time.time() < end:
            line = peer.stdout.readline()
            if not line:
                break
            ev = json.loads(line)
            events.append(ev)
            if pred(ev):
                return ev
        return None

    ev = wait_event(lambda e: e["event"] == "sync_done", 5)
    check(ev is not None and ev["keys"] == 1, "peer gets every live key at hello")
    probe_v1 = [e for e in events if e["event"] == "key_add"][0]["probe_token"]

    rc, a = d.jctl("lookup", "-t", "acme", "-j", JUST, "alice@example.com")
    tok_v1 = a["tokens"][0]["token"]
    check(rc == 0 and tok_v1 == probe_v1, "the key the peer got makes the same token")

    t0 = time.time()
    rc, a = d.jctl("key", "roll", "acme")
    check(rc == 0 and a["version"] == 2, "key roll")
    ev = wait_event(lambda e: e["event"] == "key_add" and e["version"] == 2, 5)
    check(ev is not None and time.time() - t0 < 1.0 and ev["current"],
          "a roll reaches the peer within a second")
    probe_v2 = ev["probe_token"] if ev else ""

    # resolve old and new tokens, as an investigator
    rc, out, _ = d.ctl("resolve", "-t", "acme", "-j", JUST, tok_v1, probe_v2, uid=INVESTIGATOR)
    lines = out.splitlines()
    check(rc == 0 and lines == ["%s\talice@example.com" % tok_v1,
                                "%s\talice@example.com" % probe_v2],
          "old and new tokens resolve: %r" % lines)
    rc, a = d.jctl("lookup", "-t", "acme", "-j", JUST, "alice@example.com", uid=INVESTIGATOR)
    check(rc == 0 and [t["version"] for t in a["tokens"]] == [1, 2], "lookup for every live version")
    check(a["tokens"][1]["token"] == probe_v2, "lookup v2 token equals the peer's")

    # every token in a text, per-token errors
    text = "Nov 24 fw1 CEF:0|x|y|1|1|n|1|suser=%s shost=veil_d2_aaaa msg=%s" % (tok_v1, tok_v1[:-4])
    rc, a = d.jctl("resolve", "-t", "acme", "-j", JUST, "--text", stdin=text)
    errs = a.get("errors", [])
    check(rc == 1 and a["resolved"] == 1 and sorted(errs[1:]) == ["E_TRUNCATED", "E_TRUNCATED"],
          "tokens in free text, per-token errors: %r" % errs)

    # crypto-shredding
    rc, a = d.jctl("key", "roll", "acme")
    rc, a = d.jctl("key", "destroy", "acme", "1", "--reason", JUST, "--yes")
    check(rc == 0, "destroy an old version")
    ev = wait_event(lambda e: e["event"] == "key_destroy" and e["version"] == 1, 5)
    check(ev is not None and ev["had"], "destruction reaches the peer")
    rc, a = d.jctl("resolve", "-t", "acme", "-j", JUST, tok_v1)
    check(rc == 1 and a["errors"] == ["E_VERSION"], "destroyed version never resolves")
    rc, a = d.jctl("key", "destroy", "acme", "3", "--reason", JUST, "--yes")
    check(rc == 1 and "current" in a["error"], "the current version cannot be destroyed")

    # another tenant's token
    d.jctl("tenant", "create", "globex")
    rc, a = d.jctl("lookup", "-t", "globex", "-j", JUST, "alice@example.com")
    gtok = a["tokens"][0]["token"]
    rc, a = d.jctl("resolve", "-t", "acme", "-j", JUST, gtok)
    check(a["errors"] == ["E_TENANT"] and a["names"] == [None], "other tenant's token")

    # status tells the link as it is: the peer connected and synced, then gone
    rc, a = d.jctl("status")
    l = a.get("dataplane", {})
    check(rc == 0 and a.get("dataplane_synced") is True and l.get("connected") is True
          and l.get("synced") is True and l.get("pid") == peer.pid and l.get("uid") == 0
          and l.get("last_contact_ms_ago", -1) >= 0 and l.get("socket") == d.link,
          "status: the dataplane connected and synced, its pid and uid: %r" % l)
    rc, out, _ = d.ctl("status")
    check(rc == 0 and "dataplane: connected, synced, pid %d (uid 0)" % peer.pid in out,
          "status, as text: %s" % out)
    peer.send_signal(signal.SIGTERM)
    peer.wait(timeout=5)
    for _ in range(100):  # controld notices within its poll (100 ms)
        rc, a = d.jctl("status")
        if not a.get("dataplane", {}).get("connected", True):
            break
        time.sleep(0.05)
    l = a.get("dataplane", {})
    check(a.get("dataplane_synced") is False and l.get("connected") is False
          and l.get("synced") is False and l.get("pid") == peer.pid,
          "status: the dataplane that exited is not synced any more: %r" % l)
    rc, out, _ = d.ctl("status")
    check(rc == 0 and "dataplane: NOT connected (the last one, pid %d" % peer.pid in out
          and " synced" not in out, "status, as text, once it left: %s" % out)

    # the governance log has it all, never a name
    rc, a = d.jctl("audit", "show", "--tenant", "acme")
    actions = [r["action"] for r in a["records"]]
    check("resolve.bulk" in actions and "lookup" in actions and "key.roll" in actions
          and "key.destroy" in actions and "tenant.create" in actions, "audit actions: %r" % actions)
    dump = json.dumps(a)
    check("alice@example.com" not in dump, "no name in the governance log")
    check(all(r.get("justification") == JUST for r in a["records"]
              if r["action"].startswith("resolve") and r["outcome"].startswith("ok")),
          "justifications recorded")
    rc, out, _ = d.ctl("audit", "verify")
    check(rc == 0 and "intact" in out, "chain verifies")
    raw = subprocess.run([VEILCTL, "--socket", d.sock, "audit", "export", "--csv"],
                         capture_output=True).stdout
    check(raw.startswith(b"seq,time,uid,role,action,tenant,tokens,justification,outcome\r\n")
          and b'"[""veil_' in raw, "CSV export, RFC 4180 line ends and quoting")
    return tok_v1, probe_v2


def roles(d, tok):
    # investigator: resolve yes, roll no
    rc, a = d.jctl("key", "roll", "acme", uid=INVESTIGATOR)
    check(rc == 1 and "permission denied" in a["error"], "investigator cannot roll")
    # reader: stats and audit yes, names never
    rc, a = d.jctl("tenant", "list", uid=READER)
    check(rc == 0, "reader lists tenants")
    rc, a = d.jctl("audit", "show", uid=READER)
    check(rc == 0, "reader reads the audit log")
    rc, a = d.jctl("resolve", "-t", "acme", "-j", JUST, tok, uid=READER)
    check(rc == 1 and "permission denied" in a["error"], "reader cannot resolve")
    rc, a = d.jctl("lookup", "-t", "acme", "-j", JUST, "bob", uid=READER)
    check(rc == 1, "reader cannot look up")
    # a stranger gets nothing
    for args in (["status"], ["tenant", "list"], ["audit", "show"]):
        rc, a = d.jctl(*args, uid=STRANGER)
        check(rc == 1 and "permission denied" in a["error"], "stranger refused: %s" % args)
    # refusals are audited: the first at once, the others of the minute
    # counted (one record with the count when the minute ends)
    rc, a = d.jctl("audit", "show", "--uid", str(STRANGER))
    check(len(a["records"]) == 1 and a["records"][0]["outcome"].startswith("refused"),
          "refusals audited")
    # a grant in the database takes effect at the next connection
    rc, a = d.jctl("role", "grant", "--uid", str(STRANGER), "reader")
    rc, a = d.jctl("tenant", "list", uid=STRANGER)
    check(rc == 0, "granted role works")
    rc, a = d.jctl("role", "revoke", "--uid", str(STRANGER))
    rc, a = d.jctl("tenant", "list", uid=STRANGER)
    check(rc == 1, "revoked role gone")


def bad_input(d):
    a = d.raw(b"not json")
    check(a and not a["ok"] and "not JSON" in a["error"], "non-JSON request")
    a = d.raw(b"[1,2]")
    check(a and not a["ok"], "non-object request")
    a = d.raw(b'{"cmd": 5}')
    check(a and not a["ok"] and "cmd" in a["error"], "wrong-type cmd")
    a = d.raw(b'{"cmd": "format.disk"}')
    check(a and "unknown command" in a["error"], "unknown command")
    a = d.raw(b'{"cmd": "resolve", "tenant": "acme", "justification": "because I said so", "tokens": "x"}')
    check(a and "array" in a["error"], "wrong-type tokens")
    a = d.raw(b"", announce=64 << 20)
    check(a and "too large" in a["error"], "oversized request")
    a = d.raw(b'{"cmd": "stat', announce=100)  # truncated: the peer closes early
    check(a is None, "truncated request gets the connection closed")
    rc, a = d.jctl("status")
    check(rc == 0 and a["ok"], "the daemon still serves after bad input")


def restart_and_tamper(d, tok):
    d.stop()
    d.start()
    rc, a = d.jctl("resolve", "-t", "acme", "-j", JUST, tok)
    check(rc == 0 and a["names"] == ["alice@example.com"], "keys survive a restart")
    rc, a = d.jctl("tenant", "list")
    check([t["tenant"] for t in a["tenants"]] == ["acme", "globex"], "tenants survive")
    rc, out, _ = d.ctl("audit", "verify")
    check(rc == 0, "chain verifies after restart")
    rc, a = d.jctl("role", "grant", "--uid", str(STRANGER), "reader")
    d.stop()
    d.start()
    rc, a = d.jctl("role", "list")
    check(any(r["id"] == STRANGER and r["source"] == "database" for r in a["roles"]),
          "roles survive a restart")
    d.jctl("role", "revoke", "--uid", str(STRANGER))

    # kill -9 during a stream of resolves: every answered resolve has its record
    answered = 0
    procs = []
    for i in range(30):
        procs.append(subprocess.Popen([VEILCTL, "--socket", d.sock, "resolve", "-t", "acme",
                                       "-j", "%s #%d" % (JUST, i), tok],
                                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL))
        if i == 20:
            # the first resolve answered before the kill, so that the
            # check below has something to check also on a slow machine
            # (a sanitizer build on 2 loaded cores starts veilctl slowly)
            procs[0].wait(timeout=30)
            d.proc.send_signal(signal.SIGKILL)
    for p in procs:
        p.communicate(timeout=30)
        answered += p.returncode == 0
    d.proc.wait()
    d.log.close()
    d.start()
    rc, a = d.jctl("audit", "show", "--action", "resolve", "--limit", "1000")
    recorded = sum(1 for r in a["records"] if JUST + " #" in r.get("justification", ""))
    check(recorded >= answered and answered > 0,
          "every answered resolve was recorded (%d answered, %d recorded)" % (answered, recorded))
    rc, out, _ = d.ctl("audit", "verify")
    check(rc == 0, "chain verifies after kill -9")

    # tamper with the database directly: controld refuses to start on a
    # broken chain and names the record (tests/integration/audit_chain.py
    # covers the recovery)
    db = os.path.join(d.root, "state", "veil.db")
    d.stop()

    def refused(what, needle):
        p = d.start(expect_ok=False)
        p.wait(timeout=10)
        d.log.close()
        log = d.errors().strip().splitlines()[-1]
        check(p.returncode != 0 and needle in log and "--recover-audit" in log,
              "%s: refused, named: %s" % (what, log))
    con = sqlite3.connect(db)
    original = con.execute("SELECT justification FROM audit WHERE seq=3").fetchone()[0]
    con.execute("UPDATE audit SET justification='nothing to see' WHERE seq=3")
    con.commit()
    con.close()
    refused("edited record", "record 3")
    shutil.copy(db, db + ".edited")
    con = sqlite3.connect(db)
    con.execute("UPDATE audit SET justification=? WHERE seq=3", (original,))  # undo
    con.execute("DELETE FROM audit WHERE seq=5")
    con.commit()
    con.close()
    refused("deleted record", "record 5")
    con = sqlite3.connect(db)
    row = con.execute("SELECT * FROM audit WHERE seq=6").fetchone()
    con.execute("INSERT INTO audit VALUES(5,?,?,?,?,?,?,?,?,?)", row[1:])
    con.commit()
    con.close()
    refused("inserted record", "record 5")

    # the master key file missing: a clear error, never a new key
    mk = os.path.join(d.root, "state", "master.key")
    os.rename(mk, mk + ".away")
    p = d.start(expect_ok=False)
    p.wait(timeout=10)
    d.log.close()
    check(p.returncode != 0 and "refusing to start" in d.errors() and not os.path.exists(mk),
          "missing master key: clear error, no new key")
    os.rename(mk + ".away", mk)


def rate_limit(root):
    """A per-identity limit on resolves and lookups; refusals are audited."""
    r = os.path.join(root, "rate")
    os.mkdir(r)
    d = Daemon(r, rate_limit=3)
    d.start()
    try:
        d.jctl("tenant", "create", "acme")
        rcs = [d.jctl("lookup", "-t", "acme", "-j", JUST, "bob")[0] for _ in range(5)]
        check(rcs == [0, 0, 0, 1, 1], "rate limit after 3 requests: %r" % rcs)
        rc, a = d.jctl("lookup", "-t", "acme", "-j", JUST, "bob", uid=INVESTIGATOR)
        check(rc == 0, "the limit is per identity")
        rc, a = d.jctl("audit", "show", "--action", "lookup")
        refused = [x for x in a["records"] if "rate limit" in x["outcome"]]
        check(len(refused) == 1, "rate-limit refusal audited at once")
        d.stop()
        d.start()  # the end of the interval: the second, counted
        rc, a = d.jctl("audit", "show", "--action", "lookup")
        refused = [x["outcome"] for x in a["records"] if "rate limit" in x["outcome"]]
        check(len(refused) == 2 and refused[1].startswith("refused 1 time: rate limit"),
              "rate-limit refusals audited: %r" % refused)
    finally:
        d.stop()


def config_check(root):
    bad = os.path.join(root, "bad.conf")
    with open(bad, "w") as f:
        f.write("[controld]\nstate_dir = /tmp/x\n\n[roles]\nsuperuser = uid:5\n")
    p = subprocess.run([CTLD, "-n", "-c", bad], capture_output=True, text=True)
    check(p.returncode == 1 and "bad.conf:5: unknown role" in p.stderr, "config error with file and line: %s" % p.stderr.strip())


def tenant_and_config(root):
    """Lock/unlock, roll interval and runtime settings: each change audited,
    each kept over a restart; the housekeeping's automatic roll and key
    retention, with the keys' ages moved back in the database."""
    r = os.path.join(root, "tc")
    os.mkdir(r)
    d = Daemon(r)
    d.start()
    try:
        d.jctl("tenant", "create", "acme")
        rc, a = d.jctl("lookup", "-t", "acme", "-j", JUST, "carol")
        tok = a["tokens"][0]["token"]
        rc, a = d.jctl("tenant", "lock", "acme")
        check(rc == 0 and a["tenant"]["state"] == "locked", "tenant lock")
        rc, a = d.jctl("resolve", "-t", "acme", "-j", JUST, tok)
        check(rc == 1 and "locked" in a["error"], "a locked tenant's token is not resolved")
        rc, a = d.jctl("tenant", "lock", "acme", uid=INVESTIGATOR)
        check(rc == 1 and "permission denied" in a["error"], "only an admin locks")
        rc, a = d.jctl("tenant", "unlock", "acme")
        rc, a = d.jctl("resolve", "-t", "acme", "-j", JUST, tok)
        check(rc == 0 and a["names"] == ["carol"], "unlocked: resolves again")
        rc, a = d.jctl("tenant", "roll-every", "acme", "30")
        check(rc == 0 and a["tenant"]["roll_days"] == 30, "roll interval set")
        rc, a = d.jctl("tenant", "roll-every", "acme", "99999")
        check(rc == 1 and "3650" in a["error"], "roll interval bounded")

        rc, a = d.jctl("config", "set", "rate_limit", "2")
        check(rc == 0, "config set")
        rc, a = d.jctl("config", "show", uid=READER)
        rl = [x for x in a["settings"] if x["name"] == "rate_limit"][0]
        check(rl["value"] == 2 and rl["source"] == "runtime" and rl["file_value"] == 1000,
              "config show: value, source, file value")
        rc, a = d.jctl("config", "set", "rate_limit", "0")
        check(rc == 1 and "from 1 to" in a["error"], "config value checked")
        rc, a = d.jctl("config", "set", "colour", "3")
        check(rc == 1 and "unknown setting" in a["error"], "unknown setting refused")
        rc, a = d.jctl("config", "set", "rate_limit", "5", uid=READER)
        check(rc == 1 and "permission denied" in a["error"], "a reader cannot change config")
        d.stop()
        d.start()
        rcs = [d.jctl("lookup", "-t", "acme", "-j", JUST, "dave")[0] for _ in range(3)]
        check(rcs == [0, 0, 1], "a runtime setting survives a restart and applies: %r" % rcs)
        rc, a = d.jctl("config", "reset", "rate_limit")
        rl = [x for x in a["settings"] if x["name"] == "rate_limit"][0]
        check(rc == 0 and rl["value"] == 1000 and rl["source"] == "file", "config reset")
        rc, a = d.jctl("audit", "show", "--action", "config.change")
        outs = [x["outcome"] for x in a["records"]]
        check("ok: rate_limit: 1000 -> 2" in outs and any("reset" in o for o in outs),
              "config changes audited: %r" % outs)
        rc, a = d.jctl("audit", "show", "--action", "tenant.change")
        check(len(a["records"]) == 3 and all(x["tenant"] == "acme" for x in a["records"]),
              "tenant changes audited")

        # housekeeping: retention 1 day, roll every day, keys 3 days old
        d.jctl("key", "roll", "acme")
        d.jctl("config", "set", "key_retention_days", "1")
        d.jctl("tenant", "roll-every", "acme", "1")
        d.stop()
        con = sqlite3.connect(os.path.join(r, "state", "veil.db"))
        con.execute("UPDATE keys SET created = created - 3 * 86400000 WHERE tenant='acme'")
        con.commit()
        con.close()
        d.start()  # housekeeping runs at start
        rc, a = d.jctl("key", "list", "acme")
        vs = {v["version"]: v for v in a["tenant"]["versions"]}
        check(a["tenant"]["current_version"] == 3 and not vs[1]["live"] and vs[2]["live"]
              and vs[3]["current"], "version 1 shredded after the retention, 3 rolled in: %r"
              % [(v["version"], v["live"]) for v in vs.values()])
        rc, a = d.jctl("resolve", "-t", "acme", "-j", JUST, tok)
        check(rc == 1 and a["errors"] == ["E_VERSION"], "a shredded version never resolves")
        rc, a = d.jctl("audit", "show", "--action", "key.roll")
        check(any("automatic roll, every 1 days" in x["outcome"] for x in a["records"]),
              "automatic roll audited")
        rc, a = d.jctl("audit", "show", "--action", "key.destroy")
        check(any("after 1 days of retention" in x["outcome"] for x in a["records"]),
              "retention destruction audited")
        rc, out, _ = d.ctl("audit", "verify")
        check(rc == 0, "chain verifies after housekeeping")
    finally:
        d.stop()


def resolve_stream(sock, tok, prefix, stop_at, answered):
    """Resolve in a loop until the daemon goes away; record what was answered."""
    i = 0
    while time.time() < stop_at:
        body = json.dumps({"cmd": "resolve", "tenant": "acme", "token": tok,
                           "justification": "%s %d" % (prefix, i)}).encode()
        try:
            s = socket.socket(socket.AF_UNIX)
            s.connect(sock)
            s.sendall(struct.pack(">I", len(body)) + body)
            data = b""
            while len(data) < 4 or len(data) < 4 + struct.unpack(">I", data[:4])[0]:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            s.close()
        except OSError:
            return
        if len(data) >= 4 and json.loads(data[4:]).get("ok"):
            answered.append(i)
        elif len(data) < 4:
            return
        i += 1


def durability(root):
    """kill -9 at random points during concurrent resolves (group commit):
    after each restart, every answered resolve has its record, the chain
    verifies, tenants and keys are intact."""
    import threading
    r = os.path.join(root, "dur")
    os.mkdir(r)
    d = Daemon(r, rate_limit=1000000)
    d.start()
    d.jctl("tenant", "create", "acme")
    rc, a = d.jctl("lookup", "-t", "acme", "-j", JUST, "erin")
    tok = a["tokens"][0]["token"]
    rng = random.Random(os.getpid())
    total = 0
    try:
        for rnd in range(4):
            answered = [[] for _ in range(6)]
            stop_at = time.time() + 5
            ts = [threading.Thread(target=resolve_stream,
                                   args=(d.sock, tok, "round %d client %d #" % (rnd, c),
                                         stop_at, answered[c]))
                  for c in range(6)]
            for t in ts:
                t.start()
            time.sleep(rng.uniform(0.05, 0.6))
            d.proc.send_signal(signal.SIGKILL)
            d.proc.wait()
            for t in ts:
                t.join()
            d.log.close()
            d.start()
            con = sqlite3.connect(os.path.join(r, "state", "veil.db"))
            recorded = set(x[0] for x in con.execute(
                "SELECT justification FROM audit WHERE justification LIKE 'round %d %%'" % rnd))
            con.close()
            missing = [(c, i) for c in range(6) for i in answered[c]
                       if "round %d client %d # %d" % (rnd, c, i) not in recorded]
            n = sum(len(x) for x in answered)
            total += n
            check(not missing and n > 0, "kill -9 round %d: %d answered, every one recorded "
                  "(missing %r)" % (rnd, n, missing[:5]))
            rc, out, _ = d.ctl("audit", "verify")
            check(rc == 0, "round %d: the chain verifies after kill -9: %s" % (rnd, out.strip()))
            rc, a = d.jctl("resolve", "-t", "acme", "-j", JUST, tok)
            check(rc == 0 and a["names"] == ["erin"], "round %d: keys intact" % rnd)
        rc, a = d.jctl("status")
        print("  durability: %d answered resolves over 4 kills; %d records, %d commits "
              "in the log" % (total, a["audit_records"], a["audit_commits"]))
    finally:
        d.stop()


def main():
    if os.geteuid() != 0:
        print("controld: needs root (switches to other uids): 0 passed, 0 failed, 1 skipped")
        return 77
    root = tempfile.mkdtemp(prefix="veil-ctld-")
    os.chmod(root, 0o755)  # other uids reach the socket
    d = Daemon(root)
    try:
        config_check(root)
        p = subprocess.run([CTLD, "-n", "-c", d.conf], capture_output=True, text=True)
        check(p.stdout.strip().splitlines()[-1] == "configuration OK" and
              "locked memory: 4096 keys (key_cache) need" in p.stdout,
              "-n says configuration OK and the locked memory needed: %r" % p.stdout)
        d.start()
        tok, tok2 = end_to_end(d)
        roles(d, tok2)
        bad_input(d)
        restart_and_tamper(d, tok2)
        rate_limit(root)
        tenant_and_config(root)
        durability(root)
    finally:
        d.stop()
        shutil.rmtree(root, ignore_errors=True)
    return veiltest.finish("controld")


if __name__ == "__main__":
    sys.exit(main())
