#!/usr/bin/env python3
# SPDX-License-Identifier: LicenseRef-veil-proprietary
"""Tenants and key versions at scale, with the real veil-controld:

- 2,500 tenants created through the API; controld restarts and serves them
  all (each listed, a token of several resolves).
- a tenant with 400 live versions and key_cache = 16: after a restart a
  token of version 1 resolves (unwrapped on demand), then tokens of many
  old versions, one request each and all in one bulk request, each to the
  right name: the cache evicts and the answers stay right.
- veil-controld -n states the locked memory key_cache needs and
  RLIMIT_MEMLOCK.
- the scale benchmark's bulk generator (tests/tools/gen_tenants.c) writes
  what the API writes: the same tenants, key versions and governance
  records (but for times, keys and MACs) as tenant create and key roll
  through controld; controld serves what it made, and its chain verifies.

usage: scale_tenants.py BUILD_DIR
"""
import os
import sqlite3
import shutil
import subprocess
import sys
import tempfile

import veiltest
from veiltest import check

BUILD = sys.argv[1]
CTLD = os.path.join(BUILD, "control", "veil-controld")
JUST = "incident 4711: who used this account"
TENANTS = 2500
VERSIONS = 400


req = veiltest.api_call


def lookup(sock, tenant, name):
    a = req(sock, {"cmd": "lookup", "tenant": tenant, "kind": "user", "name": name,
                   "justification": JUST})
    assert a.get("ok"), a
    return {t["version"]: t["token"] for t in a["tokens"]}


def resolve(sock, tenant, tokens):
    return req(sock, {"cmd": "resolve", "tenant": tenant, "tokens": tokens,
                      "justification": JUST})


def many_tenants(root):
    os.mkdir(os.path.join(root, "many"))
    d = veiltest.Controld(BUILD, os.path.join(root, "many"))
    d.start()
    try:
        bad = 0
        for i in range(TENANTS):
            bad += not req(d.sock, {"cmd": "tenant.create", "tenant": "t%05d" % i}).get("ok")
        check(bad == 0, "%d tenants created through the API (%d failed)" % (TENANTS, bad))
        some = ["t%05d" % i for i in range(0, TENANTS, 499)]
        toks = {t: lookup(d.sock, t, "alice@example.com")[1] for t in some}
        d.stop()
        d.start()
        a = req(d.sock, {"cmd": "tenant.list"})
        ids = [t["tenant"] for t in a.get("tenants", [])]
        check(ids == ["t%05d" % i for i in range(TENANTS)],
              "after a restart all %d tenants are listed (%d)" % (TENANTS, len(ids)))
        for t in some:
            a = resolve(d.sock, t, [toks[t]])
            check(a.get("names") == ["alice@example.com"],
                  "after a restart %s's token resolves: %r" % (t, a))
        a = req(d.sock, {"cmd": "tenant.create", "tenant": "t%05d" % TENANTS})
        check(a.get("ok"), "one more tenant after the restart: %r" % a)
    finally:
        d.stop()


def many_versions(root):
    os.mkdir(os.path.join(root, "versions"))
    d = veiltest.Controld(BUILD, os.path.join(root, "versions"),
                          extra="[controld]\nkey_cache = 16\n")
    d.start()
    try:
        check(req(d.sock, {"cmd": "tenant.create", "tenant": "acme"}).get("ok"), "acme")
        bad = 0
        for _ in range(VERSIONS - 1):
            bad += not req(d.sock, {"cmd": "key.roll", "tenant": "acme"}).get("ok")
        check(bad == 0, "%d rolls (%d failed)" % (VERSIONS - 1, bad))
        toks = lookup(d.sock, "acme", "bob")
        check(sorted(toks) == list(range(1, VERSIONS + 1)),
              "a lookup gives a token for each of the %d live versions (%d)"
              % (VERSIONS, len(toks)))
        d.stop()
        d.start()  # nothing unwrapped at start
        a = resolve(d.sock, "acme", [toks[1]])
        check(a.get("names") == ["bob"] and a.get("versions") == [1],
              "after a restart, a token of version 1 resolves: %r" % a)
        wrong = [v for v in range(VERSIONS, 0, -7)
                 if resolve(d.sock, "acme", [toks[v]]).get("names") != ["bob"]]
        check(not wrong, "tokens of old versions resolve one by one with a cache of "
              "16 (wrong: %r)" % wrong[:5])
        order = [(v * 37) % VERSIONS + 1 for v in range(VERSIONS)]
        a = resolve(d.sock, "acme", [toks[v] for v in order])
        check(a.get("resolved") == VERSIONS and a.get("names") == ["bob"] * VERSIONS
              and a.get("versions") == order,
              "one request with a token of each of %d versions: all resolve, each "
              "by its version (%r resolved)" % (VERSIONS, a.get("resolved")))
        a = req(d.sock, {"cmd": "resolve", "tenant": "acme", "token": toks[200],
                         "justification": JUST})
        check(a.get("names") == ["bob"], "and again, from the cache: %r" % a)
    finally:
        d.stop()


def shape(db):
    """What a state directory holds, without what differs every time
    (times, the keys themselves, MACs)."""
    con = sqlite3.connect(db)
    try:
        return {
            "tenants": con.execute("SELECT id, state, roll_days FROM tenants "
                                   "ORDER BY id").fetchall(),
            "keys": con.execute("SELECT tenant, version, length(wrapped), "
                                "destroyed IS NULL, created > 0 FROM keys "
                                "ORDER BY tenant, version").fetchall(),
            "audit": con.execute("SELECT seq, uid, role, action, tenant, tokens, "
                                 "justification, outcome, length(mac) FROM audit "
                                 "ORDER BY seq").fetchall(),
        }
    finally:
        con.close()


def generated_as_api(root):
    """gen_tenants s 2 1; gen_tenants r 1 4 == tenant create s00000,
    s00001, r00000 and three rolls of r00000 through the API."""
    api_root, gen_root = os.path.join(root, "api"), os.path.join(root, "gen")
    os.mkdir(api_root)
    os.mkdir(gen_root)
    a = veiltest.Controld(BUILD, api_root)
    a.start()
    try:
        for t in ("s00000", "s00001", "r00000"):
            check(req(a.sock, {"cmd": "tenant.create", "tenant": t}).get("ok"), "api: " + t)
        for _ in range(3):
            check(req(a.sock, {"cmd": "key.roll", "tenant": "r00000"}).get("ok"), "api: roll")
    finally:
        a.stop()
    g = veiltest.Controld(BUILD, gen_root)
    gen = os.path.join(BUILD, "tests", "gen_tenants")
    for args in (["s", "2", "1"], ["r", "1", "4"]):
        p = subprocess.run([gen, "-c", g.conf] + args, capture_output=True, text=True)
        check(p.returncode == 0, "gen_tenants %s: %s" % (" ".join(args), p.stderr))
    want = shape(os.path.join(api_root, "state", "veil.db"))
    got = shape(os.path.join(gen_root, "state", "veil.db"))
    for k in want:
        check(got[k] == want[k], "generated %s as the API writes them:\n%r\n%r"
              % (k, got[k], want[k]))
    g.start()
    try:
        rc, a = g.ctl("audit", "verify")
        check(rc == 0, "the generated governance log verifies: %r" % a)
        toks = lookup(g.sock, "r00000", "dave")
        check(sorted(toks) == [1, 2, 3, 4], "a generated tenant's 4 versions: %r" % toks)
        a = resolve(g.sock, "r00000", [toks[v] for v in (1, 2, 3, 4)])
        check(a.get("names") == ["dave"] * 4, "each resolves: %r" % a)
        check(req(g.sock, {"cmd": "key.roll", "tenant": "r00000"}).get("version") == 5,
              "and rolls on")
    finally:
        g.stop()


def check_n(root):
    conf = os.path.join(root, "n.conf")
    with open(conf, "w") as f:
        f.write("[controld]\nstate_dir = %s/n-state\nkey_cache = 1600\n" % root)
    p = subprocess.run([CTLD, "-n", "-c", conf], capture_output=True, text=True)
    check(p.returncode == 0 and
          "locked memory: 1600 keys (key_cache) need 2000 KiB" in p.stdout and
          "RLIMIT_MEMLOCK is" in p.stdout and
          p.stdout.strip().splitlines()[-1] == "configuration OK",
          "-n states the locked memory the keys need: %r" % (p.stdout + p.stderr))


def main():
    root = tempfile.mkdtemp(prefix="veil-scale-")
    try:
        check_n(root)
        generated_as_api(root)
        many_versions(root)
        many_tenants(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return veiltest.finish("scale-tenants")


if __name__ == "__main__":
    sys.exit(main())
