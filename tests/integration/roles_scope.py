#!/usr/bin/env python3
# SPDX-License-Identifier: LicenseRef-veil-proprietary
"""Roles scoped to tenants, with the real veil-controld and veilctl: an
investigator granted for acme only (role grant --tenant) resolves and looks
up acme's tokens and is refused globex's, with a refusal record; role list
shows the scope; a second --tenant widens it; a grant without --tenant makes
the role unscoped again; a revoke removes the scope with the role.

usage: roles_scope.py BUILD_DIR
"""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import veiltest  # noqa: E402
from veiltest import check  # noqa: E402

UID = 61000 + os.getpid() % 1000
JUST = "incident 4711: scoped investigator"


def as_uid(d, *args):
    prog = os.path.join(veiltest.reachable_build(d.build), "control", "veilctl")

    def drop():
        os.setgid(UID)
        os.setuid(UID)
    p = subprocess.run([prog, "--socket", d.sock, "--json"] + list(args),
                       capture_output=True, text=True, preexec_fn=drop, timeout=60)
    try:
        return p.returncode, json.loads(p.stdout)
    except ValueError:
        return p.returncode, {"ok": False, "error": p.stderr}


def main(build):
    root = tempfile.mkdtemp(prefix="veil-scope-%d-" % os.getpid())
    os.chmod(root, 0o755)
    d = veiltest.Controld(build, root)
    d.start(tenants=("acme", "globex"))
    os.chmod(d.sock, 0o666)
    try:
        toks = {}
        for t in ("acme", "globex"):
            rc, a = d.ctl("lookup", "-t", t, "-j", JUST, "alice@example.com")
            toks[t] = a["tokens"][0]["token"]
        rc, a = d.ctl("role", "grant", "--uid", str(UID), "investigator", "--tenant", "acme")
        check(rc == 0 and a.get("tenants") == ["acme"], "grant scoped to acme: %s" % a)
        rc, a = d.ctl("role", "grant", "--uid", str(UID), "investigator", "--tenant", "nosuch")
        check(rc != 0 and "nosuch" in a.get("error", ""), "a scope to no tenant is refused")
        rc, a = d.ctl("role", "list")
        mine = [r for r in a.get("roles", []) if r.get("id") == UID]
        check(len(mine) == 1 and mine[0].get("tenants") == ["acme"], "role list shows the scope")
        rc, a = as_uid(d, "resolve", "-t", "acme", "-j", JUST, toks["acme"])
        check(rc == 0 and a.get("names") == ["alice@example.com"], "acme resolves: %s" % a)
        rc, a = as_uid(d, "resolve", "-t", "globex", "-j", JUST, toks["globex"])
        check(rc != 0 and "scoped" in a.get("error", ""), "globex is refused: %s" % a)
        rc, a = as_uid(d, "lookup", "-t", "globex", "-j", JUST, "alice@example.com")
        check(rc != 0 and "scoped" in a.get("error", ""), "globex lookup is refused")
        rc, a = d.ctl("audit", "show", "--tenant", "globex", "--uid", str(UID))
        check(any("scoped" in r.get("outcome", "") for r in a.get("records", [])),
              "the refusal is recorded")
        rc, a = d.ctl("role", "grant", "--uid", str(UID), "investigator", "--tenant", "globex")
        check(rc == 0 and a.get("tenants") == ["acme", "globex"], "a second tenant widens it")
        rc, a = as_uid(d, "resolve", "-t", "globex", "-j", JUST, toks["globex"])
        check(rc == 0, "globex resolves once granted")
        rc, a = d.ctl("audit", "show", "--action", "role.grant")
        check(any("for tenant globex" in r.get("outcome", "") for r in a.get("records", [])),
              "the scoped grant is recorded")
        d.ctl("role", "revoke", "--uid", str(UID))
        d.ctl("role", "grant", "--uid", str(UID), "reader", "--tenant", "acme")
        d.ctl("role", "grant", "--uid", str(UID), "investigator")
        rc, a = d.ctl("role", "list")
        mine = [r for r in a.get("roles", []) if r.get("id") == UID]
        check(mine and mine[0].get("tenants") == [], "a grant without --tenant is unscoped")
        rc, a = as_uid(d, "resolve", "-t", "globex", "-j", JUST, toks["globex"])
        check(rc == 0, "unscoped: every tenant")
    finally:
        d.stop()
    return veiltest.finish("roles-scope")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "build"))
