#!/usr/bin/env python3
# SPDX-License-Identifier: LicenseRef-veil-proprietary
"""One person, one token, end to end: a source's normalize_user and
strip_domain (veil.conf [source NAME]) in veil-dataplane, and the same
rules in veil-controld's lookup, with the real processes.

 - a source with normalize_user = lower and strip_domain = yes turns
   CORP\\JDoe, jdoe@corp.example and JDoe into one token; veilctl lookup
   of JDoe and of CORP\\jdoe returns that token, labelled with the rule;
   resolve returns the normalized name (jdoe);
 - a tenant with two sources of different rules (none, lower): the lookup
   returns one token per distinct rule, each the one its source wrote; a
   name the rules do not change gives one token with both labels;
 - veilctl lookup --normalize RULE picks the rules; the governance record
   of a lookup names the tokens handed out, never the name;
 - a reload (SIGHUP) reads the sources' rules again; a bad value is a
   file:line error for veil-controld -n as for veil-dataplane -n.

usage: normalize.py BUILD_DIR
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import veiltest
from veiltest import check

BUILD = sys.argv[1]
CTLD = os.path.join(BUILD, "control", "veil-controld")
JUST = "ticket 1919: one person, one token"
TOKEN = re.compile(veiltest.TOKEN_RE.decode())

SOURCES = """[source proxies]
tenant = acme
format = cef
normalize_user = lower
strip_domain = yes

[source fw]
tenant = beta
format = cef

[source proxy2]
tenant = beta
format = cef
normalize_user = lower
"""


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def run(d, root, args, out):
    rc, s, err = veiltest.run_dataplane(
        BUILD, ["-c", d.conf, "--link", d.link, "--wait-keys", "20", "--out", out] + args,
        eal=veiltest.SNAPSHOT_EAL)
    check(rc == 0 and s is not None and s["lines_out"] == s["lines_in"],
          "dataplane %s: exit 0, every line out: %s" % (" ".join(args), err[-400:]))
    with open(out) as f:
        return f.read().splitlines()


def lookup(d, tenant, name, *opts):
    rc, a = d.ctl("lookup", "-t", tenant, "-j", JUST, *opts, name)
    check(rc == 0 and a.get("ok"), "lookup %s %s %s: %s" % (tenant, name, opts, a))
    return a.get("tokens", [])


def by_rule(tokens):
    """{rule: token} of a lookup's answer (one key version)."""
    out = {}
    for t in tokens:
        for r in t.get("rules", []):
            out[r] = t["token"]
    return out


def one_source(d, root):
    log = os.path.join(root, "acme.log")
    write(log, "CEF:0|V|P|1|1|n|1|suser=CORP\\\\JDoe src=10.0.0.1\n"
               "CEF:0|V|P|1|1|n|1|suser=jdoe@corp.example src=10.0.0.2\n"
               "CEF:0|V|P|1|1|n|1|suser=JDoe src=10.0.0.3\n")
    lines = run(d, root, ["--source", "proxies", "--in", log], os.path.join(root, "acme.out"))
    toks = [TOKEN.findall(ln) for ln in lines]
    check(len(lines) == 3 and all(len(t) == 1 for t in toks),
          "three lines, one token each: %r" % lines)
    check(not any(re.search("jdoe|corp", ln, re.I) for ln in lines),
          "no spelling of the name, nor its domain, in the output: %r" % lines)
    distinct = {t[0] for t in toks if t}
    check(len(distinct) == 1, "one token for CORP\\JDoe, jdoe@corp.example and "
          "JDoe: %r" % distinct)
    tok = distinct.pop() if len(distinct) == 1 else None

    for name in ("JDoe", "CORP\\jdoe", "jdoe@Corp.Example"):
        got = lookup(d, "acme", name)
        check(len(got) == 1 and got[0]["token"] == tok and
              got[0].get("rules") == ["lower,strip_domain"] and got[0].get("name") == "jdoe",
              "lookup %s: the token the dataplane wrote, labelled with its source's "
              "rule: %r (want %s)" % (name, got, tok))
    rc, a = d.ctl("resolve", "-t", "acme", "-j", JUST, tok or "none")
    check(rc == 0 and a.get("names") == ["jdoe"],
          "resolve returns the normalized name: %r" % a)

    # the governance record of a lookup: the tokens, never the name
    rc, a = d.ctl("audit", "show", "--action", "lookup", "--limit", "1")
    recs = a.get("records", [])
    check(rc == 0 and len(recs) == 1 and tok in (recs[0].get("tokens") or "") and
          "jdoe" not in str(recs[0]).lower(),
          "the lookup's record names the token, not the name: %r" % recs)

    # --normalize: the rules asked for, not the tenant's
    got = lookup(d, "acme", "JDoe", "--normalize", "none")
    check(len(got) == 1 and got[0]["rules"] == ["none"] and got[0]["token"] != tok
          and got[0]["name"] == "JDoe", "--normalize none: the name as typed: %r" % got)
    got = lookup(d, "acme", "CORP\\JDoe", "--normalize", "all")
    rules = by_rule(got)
    check(sorted(rules) == ["lower", "lower,strip_domain", "none", "strip_domain"] and
          rules["lower,strip_domain"] == tok and len(set(rules.values())) == 4,
          "--normalize all: four spellings, four tokens: %r" % got)
    got = lookup(d, "acme", "CORP\\JDoe", "--normalize", "strip_domain",
                 "--normalize", "lower")
    check(sorted(by_rule(got)) == ["lower", "strip_domain"],
          "--normalize twice: both rules: %r" % got)
    rc, a = d.ctl("lookup", "-t", "acme", "-j", JUST, "--normalize", "upper", "JDoe")
    check(rc != 0 and "upper" in a.get("error", ""),
          "--normalize upper: refused, the value named: %r" % a)
    # a name that is nothing but a domain: no user under strip_domain
    rc, a = d.ctl("lookup", "-t", "acme", "-j", JUST, "CORP\\")
    check(rc == 0 and a.get("tokens") == [],
          "CORP\\ under strip_domain: no user, no token: %r" % a)
    return tok


def two_sources(d, root):
    a_log, b_log = os.path.join(root, "fw.log"), os.path.join(root, "p2.log")
    write(a_log, "CEF:0|V|P|1|1|n|1|suser=JDoe src=10.0.0.1\n")
    write(b_log, "CEF:0|V|P|1|1|n|1|suser=JDoe src=10.0.0.2\n")
    lines = run(d, root, ["--source", "fw", "--in", a_log, "--source", "proxy2",
                          "--in", b_log], os.path.join(root, "beta.out"))
    fw = [TOKEN.findall(ln)[0] for ln in lines if "10.0.0.1" in ln and TOKEN.search(ln)]
    p2 = [TOKEN.findall(ln)[0] for ln in lines if "10.0.0.2" in ln and TOKEN.search(ln)]
    check(len(fw) == 1 and len(p2) == 1 and fw != p2,
          "two sources, two rules, two tokens: %r" % lines)
    got = lookup(d, "beta", "JDoe")
    rules = by_rule(got)
    check(len(got) == 2 and rules.get("none") == (fw or [None])[0] and
          rules.get("lower") == (p2 or [None])[0],
          "lookup JDoe: one token per distinct rule, each its source's: %r" % got)
    got = lookup(d, "beta", "jdoe")
    check(len(got) == 1 and got[0]["rules"] == ["none", "lower"] and
          got[0]["token"] == (p2 or [None])[0],
          "lookup jdoe: the rules agree, one token with both labels: %r" % got)
    rc, a = d.ctl("resolve", "-t", "beta", "-j", JUST, *(fw + p2))
    check(rc == 0 and a.get("names") == ["JDoe", "jdoe"],
          "resolve: what each source encrypted: %r" % a)
    # devices are never lowered: one rule, the name as typed
    rc, a = d.ctl("lookup", "-t", "beta", "-j", JUST, "-K", "device", "PC-1")
    check(rc == 0 and len(a.get("tokens", [])) == 1 and
          a["tokens"][0]["rules"] == ["none"], "a device: as typed: %r" % a)
    # a tenant without a source in the file: the name as typed, as before
    rc, a = d.ctl("tenant", "create", "gamma")
    got = lookup(d, "gamma", "JDoe")
    check(len(got) == 1 and got[0]["rules"] == ["none"] and got[0]["name"] == "JDoe",
          "a tenant without sources: the name as typed: %r" % got)


def reload(d, root, tok):
    # acme's source stops normalizing: after SIGHUP the lookup follows
    write(d.conf, open(d.conf).read().replace(
        "normalize_user = lower\nstrip_domain = yes\n", ""))
    d.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 10
    got = []
    while time.time() < deadline:
        got = lookup(d, "acme", "JDoe")
        if got and got[0].get("rules") == ["none"]:
            break
        time.sleep(0.2)
    check(len(got) == 1 and got[0]["rules"] == ["none"] and got[0]["token"] != tok,
          "after a reload: the file's rules: %r" % got)
    rc, a = d.ctl("audit", "show", "--action", "config.reload", "--limit", "1")
    recs = a.get("records", [])
    check(rc == 0 and len(recs) == 1 and "lookup name rules: 1 tenant(s) with a source "
          "that normalizes user names" in recs[0].get("outcome", ""),
          "the reload's record says the rules changed: %r" % recs)
    # a bad value: refused by both daemons, file:line
    bad = os.path.join(root, "bad.conf")
    write(bad, "[source x]\ntenant = acme\nnormalize_user = upper\n")
    p = subprocess.run([CTLD, "-n", "-c", bad], capture_output=True, text=True)
    check(p.returncode == 1 and "bad.conf:3: [source x] normalize_user: \"upper\" is not "
          "lower or none" in p.stderr, "controld -n: a bad normalize_user: %s" % p.stderr)
    write(bad, "[source x]\ntenant = acme\nstrip_domain = maybe\n")
    p = subprocess.run([CTLD, "-n", "-c", bad], capture_output=True, text=True)
    check(p.returncode == 1 and "bad.conf:3: [source x] strip_domain: \"maybe\" is not "
          "yes or no" in p.stderr, "controld -n: a bad strip_domain: %s" % p.stderr)


def main():
    root = tempfile.mkdtemp(prefix="veil-norm-%d-" % os.getpid())
    os.chmod(root, 0o755)
    d = veiltest.Controld(BUILD, root, extra=SOURCES)
    try:
        d.start(tenants=("acme", "beta"))
        tok = one_source(d, root)
        two_sources(d, root)
        reload(d, root, tok)
    finally:
        d.stop()
        shutil.rmtree(root, ignore_errors=True)
    return veiltest.finish("normalize")


if __name__ == "__main__":
    sys.exit(main())
