#!/usr/bin/env python3
# SPDX-License-Identifier: LicenseRef-veil-proprietary
"""Long work off veil-controld's request loop.

- The governance log's mark is written by a thread of its own, after each
  commit: after a kill -9 in the middle of audited lookups from several
  callers, the next start is never refused (the mark never names a record
  the database does not hold) and the chain verifies.
- audit.verify and audit.show run in a worker with a connection of its
  own: a small request sent after a long one is answered first (the order
  of the answers, no time limit).
- A log longer than a start walks at once (tests/bench/gen_audit makes
  one) starts from the mark's checkpoint; the whole chain is walked in the
  background, and a record edited in the middle still stops the daemon,
  with the refusal and the recovery command in its log.
- Pruning and the WAL's checkpoints run on the store's keeper thread: a
  kill -9 while it prunes, and a prune of a log that is old to its last
  record, never leave a start refused (the anchor never passes the head
  the mark names); the pruning goes on after the restart up to exactly the
  records older than the retention, the chain verifies, and status counts
  the records pruned and the checkpoints.

usage: controld_offloop.py BUILD_DIR
"""
import os
import select
import shutil
import signal
import socket
import sqlite3
import struct
import json
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import veiltest  # noqa: E402
from veiltest import check  # noqa: E402

BUILD = sys.argv[1]
GEN = os.path.join(BUILD, "tests", "gen_audit")
JUST = "INC-1: the mark under load"
BIG = 150000  # records: more than a start walks at once (CTL_WALK_AT_START)


def hammer(sock, stop, counts, i):
    """Audited lookups on one connection until @stop is set."""
    n = 0
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(sock)
            while not stop.is_set():
                a = veiltest.api_call_on(s, {"cmd": "lookup", "tenant": "acme",
                                             "justification": JUST, "kind": "user",
                                             "name": "u%d-%d@example.com" % (i, n)})
                if a is None or not a.get("ok"):
                    break
                n += 1
    except OSError:
        pass
    counts[i] = n


def kill9_under_load(root):
    os.mkdir(os.path.join(root, "kill"))
    d = veiltest.Controld(BUILD, os.path.join(root, "kill"))
    d.start(tenants=("acme",))
    for rnd in range(3):
        stop = threading.Event()
        counts = [0] * 6
        th = [threading.Thread(target=hammer, args=(d.sock, stop, counts, i))
              for i in range(6)]
        for t in th:
            t.start()
        time.sleep(1.0)
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait()
        stop.set()
        for t in th:
            t.join()
        d.log.close()
        d.log = None
        check(sum(counts) > 0, "kill -9 round %d: lookups were answered (%d)"
              % (rnd, sum(counts)))
        try:
            d.start()
        except RuntimeError:
            with open(os.path.join(d.root, "ctld.log")) as f:
                log = f.read()
            check(False, "kill -9 round %d: the next start is refused: %s"
                  % (rnd, log.strip()[-400:]))
            return
        rc, a = d.ctl("audit", "verify")
        check(rc == 0 and a.get("intact") is True,
              "kill -9 round %d: the chain verifies: %r" % (rnd, a))
    d.stop()


def send(sock_path, req):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock_path)
    body = json.dumps(req).encode()
    s.sendall(struct.pack(">I", len(body)) + body)
    return s


def read_answer(s):
    data = b""
    while len(data) < 4 or len(data) < 4 + struct.unpack(">I", data[:4])[0]:
        chunk = s.recv(1 << 20)
        if not chunk:
            return None
        data += chunk
    return json.loads(data[4:])


def first_answer(long_req, small_req, sock_path):
    """Send @long_req, then @small_req on another connection. @return
    which answer began to arrive first ("long" or "small"), and both."""
    a = send(sock_path, long_req)
    b = send(sock_path, small_req)
    r, _, _ = select.select([a, b], [], [], 120)
    first = "small" if b in r and a not in r else "long"
    la, sa = read_answer(a), read_answer(b)
    a.close()
    b.close()
    return first, la, sa


def big_log(root):
    os.mkdir(os.path.join(root, "big"))
    d = veiltest.Controld(BUILD, os.path.join(root, "big"))
    p = subprocess.run([GEN, "make", d.conf, str(BIG), "30"], capture_output=True,
                       text=True, timeout=600)
    check(p.returncode == 0, "gen_audit made the log: %s" % p.stderr)
    if p.returncode != 0:
        return
    d.start()
    # the start walked from the mark; the whole walk runs behind it, and
    # every verify below queues behind that walk in the same worker
    st = veiltest.api_call(d.sock, {"cmd": "status"})
    check(isinstance(st.get("audit_chain_walking"), bool),
          "status says whether the chain is being walked: %r" % st)
    for what, req in (("audit.verify", {"cmd": "audit.verify"}),
                      ("audit.show of a full page", {"cmd": "audit.show",
                                                     "limit": 10000})):
        first, la, sa = first_answer(req, {"cmd": "status"}, d.sock)
        check(first == "small", "%s: a status sent after it is answered first" % what)
        check(sa is not None and sa.get("ok"), "%s: the status answer: %r" % (what, sa))
        check(la is not None and la.get("ok"), "%s: its own answer comes: %r"
              % (what, None if la is None else la.get("error")))
    rc, a = d.ctl("audit", "verify")
    check(a.get("intact") is True and a.get("records") == BIG,
          "the whole chain verifies in the background: %r" % a)
    # the start's walk ran before that verify (one worker, in order): done
    st = veiltest.api_call(d.sock, {"cmd": "status"})
    check(st.get("audit_chain_walking") is False,
          "after it, status says the walk is done: %r" % st.get("audit_chain_walking"))
    # the loop stays free to take state changes while a verify runs
    s = send(d.sock, {"cmd": "audit.verify"})
    rc, t = d.ctl("tenant", "create", "acme")
    check(rc == 0, "a tenant is created while a verify runs: %r" % t)
    check(read_answer(s).get("intact") is True, "that verify still says intact")
    s.close()
    d.stop()

    # a record edited in the middle: the start from the mark serves, the
    # walk behind it finds the break and stops the daemon, as a refused
    # start would (with the recovery command)
    con = sqlite3.connect(os.path.join(d.root, "state", "veil.db"))
    con.execute("UPDATE audit SET justification='nothing to see' WHERE seq=3")
    con.commit()
    con.close()
    logpath = os.path.join(d.root, "ctld.log")
    start = os.path.getsize(logpath)
    with open(logpath, "a") as log:
        proc = subprocess.Popen([os.path.join(BUILD, "control", "veil-controld"), "-f",
                                 "-c", d.conf], stderr=log)
        try:
            rc = proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
    with open(logpath) as f:
        f.seek(start)
        log = f.read()
    check(rc == 1, "edited in the middle: the daemon stops with status 1 (%d)" % rc)
    check("record 3" in log and "--recover-audit" in log and "refusing" in log,
          "edited in the middle: the log names record 3 and the recovery: %s"
          % log.strip()[-400:])


def retention_conf(d, days):
    with open(d.conf) as f:
        text = f.read()
    with open(d.conf, "w") as f:
        f.write(text.replace("[controld]\n", "[controld]\naudit_retention_days = %d\n"
                             % days, 1))


def due_records(d, days):
    con = sqlite3.connect(os.path.join(d.root, "state", "veil.db"))
    cut = int(time.time() * 1000) - days * 86400000
    n = con.execute("SELECT count(*) FROM audit WHERE time < ?", (cut,)).fetchone()[0]
    con.close()
    return n


def wait_status(d, pred, timeout=120):
    end = time.monotonic() + timeout
    st = {}
    while time.monotonic() < end:
        st = veiltest.api_call(d.sock, {"cmd": "status"})
        if pred(st):
            return st
        time.sleep(0.02)
    return st


def oldest(d):
    a = veiltest.api_call(d.sock, {"cmd": "audit.show", "after_seq": 0, "limit": 1})
    return a["records"][0]["seq"] if a.get("records") else None


def keeper_prunes(root):
    n_rec = 120000
    os.mkdir(os.path.join(root, "prune"))
    d = veiltest.Controld(BUILD, os.path.join(root, "prune"))
    p = subprocess.run([GEN, "make", d.conf, str(n_rec), "400"], capture_output=True,
                       text=True, timeout=600)
    check(p.returncode == 0, "gen_audit made the log: %s" % p.stderr)
    if p.returncode != 0:
        return
    retention_conf(d, 300)
    due = due_records(d, 300)
    check(due > 5000, "a quarter of the log is older than the retention: %d" % due)
    d.start()
    st = wait_status(d, lambda s: s.get("audit_pruned", 0) > 0)
    check(st.get("audit_pruned", 0) > 0, "status counts the records pruned: %r"
          % {k: st.get(k) for k in ("audit_pruned", "wal_checkpoints")})
    mid = st.get("audit_pruned", 0) < due
    d.proc.kill()  # kill -9, most likely in the middle of the run
    d.proc.wait()
    d.log.close()
    d.log = None
    d.start()
    check(d.proc.poll() is None, "the start after a kill -9 %s pruning is not refused"
          % ("in the middle of" if mid else "after"))
    # the next housekeeping (at start) goes on where the last step left it
    end = time.monotonic() + 120
    while time.monotonic() < end and oldest(d) != due + 1:
        time.sleep(0.05)
    check(oldest(d) == due + 1, "pruned exactly the %d records older than the "
          "retention: the oldest left is %r" % (due, oldest(d)))
    rc, a = d.ctl("audit", "verify")
    check(a.get("intact") is True and a.get("records") == n_rec - due,
          "the chain from the anchor verifies: %r" % a)
    st = wait_status(d, lambda s: s.get("wal_checkpoints", 0) > 0, timeout=30)
    check(st.get("wal_checkpoints", 0) > 0, "the keeper checkpointed the WAL: %r"
          % st.get("wal_checkpoints"))
    d.stop()
    d.start()
    check(d.proc.poll() is None, "it starts again after the prune")
    d.stop()

    # a log old to its last record, nothing written since: the keeper
    # prunes up to the head the mark names, never past it
    os.mkdir(os.path.join(root, "idle"))
    d = veiltest.Controld(BUILD, os.path.join(root, "idle"))
    p = subprocess.run([GEN, "make", d.conf, "3000", "400"], capture_output=True,
                       text=True, timeout=600)
    check(p.returncode == 0, "gen_audit made the idle log: %s" % p.stderr)
    retention_conf(d, 1)
    d.start()
    st = wait_status(d, lambda s: s.get("audit_pruned", 0) >= due_records(d, 1) - 1)
    check(st.get("audit_pruned", 0) > 0, "the idle log is pruned: %r"
          % st.get("audit_pruned"))
    d.stop()
    d.start()
    check(d.proc.poll() is None, "a log pruned to its head starts again")
    rc, a = d.ctl("audit", "verify")
    check(a.get("intact") is True, "and verifies: %r" % a)
    d.stop()


def main():
    root = tempfile.mkdtemp(prefix="veil-offloop-%d-" % os.getpid())
    try:
        kill9_under_load(root)
        big_log(root)
        keeper_prunes(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return veiltest.finish("controld-offloop")


if __name__ == "__main__":
    sys.exit(main())
