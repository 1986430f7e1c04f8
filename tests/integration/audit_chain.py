#!/usr/bin/env python3
# SPDX-License-Identifier: LicenseRef-veil-proprietary
"""The governance log's rollback protection, end to end: a real
veil-controld, its veil.db tampered with (Python's sqlite3) while it is
stopped, and the mark file kept beside the master key. Each case gets a
state directory of its own.

usage: audit_chain.py BUILD_DIR
"""
import glob
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
RECOVER = "--recover-audit"
DAEMONS = []  # stopped at the end, whatever happened


class Ctld(veiltest.Controld):
    """veiltest's Controld, plus starts that may be refused."""

    def __init__(self, root, name):
        os.mkdir(root)
        super().__init__(BUILD, root)
        self.db = os.path.join(root, "state", "veil.db")
        self.mark = os.path.join(root, "state", "audit.mark")
        DAEMONS.append(self)

    def try_start(self, *extra):
        """Start with @extra options. @return (True, "") once it serves, or
        (False, what it logged) if it exits first."""
        logpath = os.path.join(self.root, "ctld.log")
        start = os.path.getsize(logpath) if os.path.exists(logpath) else 0
        self.log = open(logpath, "a")
        self.proc = subprocess.Popen([CTLD, "-f", "-c", self.conf] + list(extra),
                                     stderr=self.log)
        up = veiltest.wait_unix(self.sock, self.proc)
        if not up:
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.log.close()
            self.log = None
        with open(logpath) as f:
            f.seek(start)
            return up, f.read()

    def logged(self):
        with open(os.path.join(self.root, "ctld.log")) as f:
            return f.read()

    def sql(self, *stmts):
        con = sqlite3.connect(self.db)
        for s in stmts:
            con.execute(s)
        con.commit()
        con.close()

    def rows(self, q):
        con = sqlite3.connect(self.db)
        r = con.execute(q).fetchall()
        con.close()
        return r

    def unstrict(self):
        """Make the audit table a plain one again (an attacker can:
        writable_schema), so that any type can be stored in it."""
        con = sqlite3.connect(self.db, isolation_level=None)
        v = con.execute("PRAGMA schema_version").fetchone()[0]
        con.execute("PRAGMA writable_schema=ON")
        con.execute("UPDATE sqlite_schema SET sql=replace(sql, ') STRICT', ')') "
                    "WHERE name='audit'")
        con.execute("PRAGMA schema_version=%d" % (v + 1))
        con.execute("PRAGMA writable_schema=OFF")
        con.close()

    def verify(self):
        rc, a = self.ctl("audit", "verify")
        return rc, a

    def recovers(self):
        rc, a = self.ctl("audit", "show", "--action", "audit.recover")
        return a.get("records", [])


def populated(root, name, tenants=("acme", "globex")):
    """A controld that made some records and is stopped again."""
    d = Ctld(os.path.join(root, name), name)
    d.start(tenants=tenants)
    for t in tenants:
        d.ctl("key", "roll", t)
    d.stop()
    return d


def refused(d, what, *extra):
    up, log = d.try_start(*extra)
    if up:
        d.stop()
    check(not up, "%s: controld refuses to start" % what)
    check(RECOVER in log, "%s: the refusal names the recovery command: %s"
          % (what, log.strip()[-300:]))
    return log


def recover_and_restart(d, what, reason):
    """Start with the recovery flag: it serves and records what it found;
    the next plain start is clean. @return verify's answer."""
    up, log = d.try_start(RECOVER, reason)
    check(up, "%s: starts with %s: %s" % (what, RECOVER, log.strip()[-300:]))
    if not up:
        return {}
    recs = d.recovers()
    check(len(recs) >= 1 and recs[-1]["justification"] == reason and
          recs[-1]["uid"] == os.getuid(),
          "%s: an audit.recover record with the reason and the operator: %r"
          % (what, recs[-1:]))
    d.stop()
    up, log = d.try_start()
    check(up, "%s: the next start is clean: %s" % (what, log.strip()[-300:]))
    if not up:
        return {}
    rc, a = d.verify()
    check(rc == 1 and a.get("intact") is False and a.get("accepted") is True,
          "%s: verify still reports the accepted break: %r" % (what, a))
    return a


def wiped_rows(root):
    d = populated(root, "wipe")
    n = d.rows("SELECT max(seq) FROM audit")[0][0]
    d.sql("DELETE FROM audit", "DELETE FROM meta")
    refused(d, "audit and meta rows deleted")
    a = recover_and_restart(d, "audit and meta rows deleted", "INC-1: restored host")
    check("records 1-%d" % n in a.get("problem", "") and "missing" in a.get("problem", ""),
          "wipe: verify names the lost records 1-%d: %r" % (n, a.get("problem")))
    # the new chain goes on after the lost records
    rc, s = d.ctl("audit", "show")
    check(rc == 0 and s["records"] and s["records"][0]["seq"] == n + 1,
          "wipe: the recovery record is record %d" % (n + 1))
    d.stop()
    # tenants and their keys were not in those rows: still there
    up, _ = d.try_start()
    rc, t = d.ctl("tenant", "list")
    check(up and rc == 0, "wipe: tenants still served")
    d.stop()


def deleted_db(root):
    d = populated(root, "nodb")
    for f in glob.glob(d.db + "*"):
        os.unlink(f)
    refused(d, "veil.db deleted")
    check(not os.path.exists(d.db) or
          not d.rows("SELECT count(*) FROM audit")[0][0],
          "veil.db deleted: no new chain was started")
    d2 = populated(root, "trunc")
    for f in glob.glob(d2.db + "-*"):
        os.unlink(f)
    os.truncate(d2.db, 0)
    refused(d2, "veil.db truncated")
    recover_and_restart(d2, "veil.db truncated", "INC-2: disk replaced")
    d2.stop()


def rewound(root):
    d = populated(root, "rewind")
    old = os.path.join(d.root, "veil.db.old")
    shutil.copy(d.db, old)
    d.start()
    d.ctl("key", "roll", "acme")
    d.ctl("tenant", "create", "initech")
    d.stop()
    for f in glob.glob(d.db + "-*"):
        os.unlink(f)
    shutil.copy(old, d.db)
    log = refused(d, "veil.db rewound to an older copy")
    check("rewound" in log or "older" in log, "rewind: said so: %s" % log.strip()[-200:])
    a = recover_and_restart(d, "rewind", "INC-3: restored from backup")
    check("missing" in a.get("problem", ""), "rewind: verify says what was lost: %r" % a)
    d.stop()


def zero_times(root):
    d = populated(root, "prune")
    n = d.rows("SELECT count(*) FROM audit")[0][0]
    d.sql("UPDATE audit SET time=0 WHERE seq<=2")
    refused(d, "time=0 on the oldest records")
    check(d.rows("SELECT count(*) FROM audit")[0][0] == n, "time=0: nothing pruned")
    # with the flag it serves, but housekeeping prunes nothing it cannot verify
    up, log = d.try_start(RECOVER, "INC-4: clock investigation")
    check(up, "time=0: starts with the flag")
    d.stop()
    check(d.rows("SELECT count(*) FROM audit WHERE seq<=2")[0][0] == 2,
          "time=0: the edited records are still there")
    check("prun" in d.logged() and "record 1" in d.logged(),
          "time=0: pruning stopped and said where: %s" % d.logged().strip()[-300:])


def blob_field(root):
    d = populated(root, "blob")
    d.unstrict()
    d.sql("UPDATE audit SET tenant=CAST(tenant AS BLOB) WHERE seq=2")
    check(d.rows("SELECT typeof(tenant) FROM audit WHERE seq=2")[0][0] == "blob",
          "blob: the tamper took")
    log = refused(d, "a field stored as a BLOB")
    check("record 2" in log, "blob: the refusal names record 2: %s" % log.strip()[-300:])
    a = recover_and_restart(d, "blob", "INC-5: looked into it")
    d.stop()


def edited(root):
    d = populated(root, "edit")
    d.sql("UPDATE audit SET justification='nothing to see' WHERE seq=3")
    log = refused(d, "a record edited in the middle")
    check("record 3" in log, "edit: the refusal names record 3: %s" % log.strip()[-300:])
    a = recover_and_restart(d, "edit", "INC-6: edited by a script")
    check("record 3" in a.get("problem", "") and "INC-6" in a.get("problem", ""),
          "edit: verify names record 3 and the recovery: %r" % a.get("problem"))
    d.stop()
    # a new break is refused again
    d.sql("UPDATE audit SET outcome='denied' WHERE seq=2")
    refused(d, "another record edited after a recovery")


def legacy(root):
    d = populated(root, "legacy")
    # what a database from before the mark looks like: no chain id, a plain
    # audit table, no mark file
    d.sql("DELETE FROM meta WHERE k='chain_id'")
    d.unstrict()
    if os.path.exists(d.mark):
        os.unlink(d.mark)
    up, log = d.try_start()
    check(up, "legacy: starts: %s" % log.strip()[-300:])
    check(os.path.exists(d.mark), "legacy: the mark file was made")
    check("mark" in log, "legacy: the migration is logged: %s" % log.strip()[-300:])
    rc, a = d.verify()
    check(rc == 0 and a.get("intact") is True, "legacy: intact: %r" % a)
    d.stop()
    check(d.rows("SELECT strict FROM pragma_table_list WHERE name='audit'")[0][0] == 1,
          "legacy: the audit table is STRICT now")
    up, _ = d.try_start()
    check(up, "legacy: starts again")
    d.stop()
    # the mark file gone from a database that has one: refused
    os.unlink(d.mark)
    refused(d, "the mark file deleted")


def main():
    if os.geteuid() != 0:
        print("audit_chain: needs root: 0 passed, 0 failed, 1 skipped")
        return 77
    root = tempfile.mkdtemp(prefix="veil-chain-")
    try:
        for case in (wiped_rows, deleted_db, rewound, zero_times, blob_field,
                     edited, legacy):
            case(root)
    finally:
        for d in DAEMONS:
            d.stop()
        shutil.rmtree(root, ignore_errors=True)
    return veiltest.finish("audit_chain")


if __name__ == "__main__":
    sys.exit(main())
