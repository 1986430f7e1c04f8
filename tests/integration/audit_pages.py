#!/usr/bin/env python3
# SPDX-License-Identifier: LicenseRef-veil-proprietary
"""The governance log at size, through the real daemon: audit.show pages
with a cursor (every record exactly once, in order, with and without
filters), veilctl audit show prints one page and says how to get the next,
audit export --csv walks every page.

usage: audit_pages.py BUILD_DIR [paging] [bulk]   (both by default)
"""
import csv
import io
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import json
import sqlite3

import veiltest
csv.field_size_limit(1 << 30)
from veiltest import check

BUILD = sys.argv[1]
VEILCTL = os.path.join(BUILD, "control", "veilctl")
JUST = "ticket 9001: audit paging test"


class Conn:
    """One API connection for many requests (records made quickly)."""

    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.connect(path)

    def _read(self, n):
        b = bytearray()
        while len(b) < n:
            c = self.s.recv(min(1 << 20, n - len(b)))
            if not c:
                raise ConnectionError("closed")
            b += c
        return bytes(b)

    def call(self, req):
        body = json.dumps(req).encode()
        self.s.sendall(struct.pack(">I", len(body)) + body)
        n = struct.unpack(">I", self._read(4))[0]
        return json.loads(self._read(n))

    def close(self):
        self.s.close()


def walk(c, req, ascending=True):
    """Every page of @req: the records in seq order, and the pages' sizes."""
    req = dict(req, cmd="audit.show")
    if ascending:
        req.setdefault("after_seq", 0)
    recs, sizes = [], []
    for _ in range(10000):
        a = c.call(req)
        if not a.get("ok"):
            raise RuntimeError(a)
        sizes.append(len(a["records"]))
        recs = recs + a["records"] if ascending else a["records"] + recs
        if "next_cursor" not in a:
            return recs, sizes
        # the cursor takes the place of its side; a range keeps the other
        side = "after_seq" if a["next_cursor"].startswith("after:") else "before_seq"
        req = {k: v for k, v in req.items() if k != side}
        req["cursor"] = a["next_cursor"]
    raise RuntimeError("no end")


def paging(d, c):
    c.call({"cmd": "tenant.create", "tenant": "t-one"})
    c.call({"cmd": "tenant.create", "tenant": "t-two"})
    for i in range(2300):
        a = c.call({"cmd": "resolve", "tenant": "t-one" if i % 3 else "t-two",
                    "justification": "%s #%d" % (JUST, i),
                    "token": "veil_u1_notarealtoken%d" % i})
        assert a.get("ok"), a
    last = c.call({"cmd": "status"})["audit_records"]
    check(last >= 2302, "records made: %d" % last)

    recs, sizes = walk(c, {"limit": 1000})
    seqs = [r["seq"] for r in recs]
    check(seqs == list(range(1, last + 1)),
          "the cursor walks every record once, in order (%d records, pages %r)"
          % (len(seqs), sizes))
    check(sizes == [1000, 1000, last - 2000], "pages of the limit asked: %r" % sizes)

    # the newest page by default, then older pages before it
    a = c.call({"cmd": "audit.show", "limit": 700})
    check([r["seq"] for r in a["records"]] == list(range(last - 699, last + 1)),
          "the default page is the newest, in seq order")
    check(a.get("next_cursor") == "before:%d" % (last - 699),
          "it says where the older ones go on: %r" % a.get("next_cursor"))
    back, _ = walk(c, {"limit": 700}, ascending=False)
    check([r["seq"] for r in back] == seqs, "walking back from the newest: every record")

    # filters keep working with the cursor
    for flt in ({"tenant": "t-two"}, {"action": "resolve", "tenant": "t-one"},
                {"action": "tenant"}, {"since_ms": recs[1000]["time_ms"],
                                       "until_ms": recs[1500]["time_ms"]}):
        got, _ = walk(c, dict(flt, limit=333))
        want = [r["seq"] for r in recs
                if ("tenant" not in flt or r.get("tenant") == flt["tenant"])
                and ("action" not in flt or r["action"] == flt["action"]
                     or r["action"].startswith(flt["action"] + "."))
                and r["time_ms"] >= flt.get("since_ms", 0)
                and r["time_ms"] <= flt.get("until_ms", 1 << 62)]
        check([r["seq"] for r in got] == want and want,
              "filter %r with the cursor: %d records, want %d" % (flt, len(got), len(want)))
        back, _ = walk(c, dict(flt, limit=333), ascending=False)
        check([r["seq"] for r in back] == want, "filter %r walked back" % flt)

    # a range: after and before together, over pages both ways
    a = c.call({"cmd": "audit.show", "after_seq": 10, "before_seq": 15})
    check([r["seq"] for r in a["records"]] == [11, 12, 13, 14] and "next_cursor" not in a,
          "after_seq and before_seq: the records between")
    got, _ = walk(c, {"after_seq": 100, "before_seq": 2000, "limit": 300})
    check([r["seq"] for r in got] == list(range(101, 2000)), "a range over pages")
    got, _ = walk(c, {"before_seq": 2000, "limit": 300}, ascending=False)
    check([r["seq"] for r in got] == list(range(1, 2000)), "before_seq over pages, back")
    # the caps: a page holds at most 10000; a limit below 1 is refused
    a = c.call({"cmd": "audit.show", "after_seq": 0, "limit": 10 ** 9})
    check(a["ok"] and len(a["records"]) == last, "a huge limit is one capped page")
    for bad in ({"limit": 0}, {"cursor": "sideways:3"}, {"cursor": 5},
                {"cursor": "after:3", "after_seq": 2}, {"after_seq": "x"},
                {"action": "x" * 40}):
        a = c.call(dict(bad, cmd="audit.show"))
        check(not a["ok"] and a.get("error"), "refused: %r -> %r" % (bad, a.get("error")))
    return recs


def cli(d, recs):
    last = recs[-1]["seq"]
    p = subprocess.run([VEILCTL, "--socket", d.sock, "audit", "show", "--limit", "50"],
                       capture_output=True, text=True, timeout=60)
    shown = [l for l in p.stdout.splitlines() if l.startswith("#")]
    check(p.returncode == 0 and len(shown) == 50 and shown[-1].startswith("#%d " % last),
          "veilctl audit show --limit 50: the newest 50 (%d lines)" % len(shown))
    check("--before %d" % (last - 49) in p.stderr,
          "and how to get the page before: %r" % p.stderr)
    p = subprocess.run([VEILCTL, "--socket", d.sock, "audit", "show", "--limit", "50",
                        "--before", str(last - 49)], capture_output=True, text=True,
                       timeout=60)
    shown2 = [l for l in p.stdout.splitlines() if l.startswith("#")]
    check(len(shown2) == 50 and shown2[-1].startswith("#%d " % (last - 50)),
          "--before: the page before")
    p = subprocess.run([VEILCTL, "--socket", d.sock, "audit", "export", "--csv"],
                       capture_output=True, timeout=120)
    rows = list(csv.reader(io.StringIO(p.stdout.decode(), newline="")))
    body = rows[1:]
    check(p.returncode == 0 and rows[0][0] == "seq" and
          [int(r[0]) for r in body] == [r["seq"] for r in recs] + list(
              range(last + 1, last + 1 + len(body) - len(recs))),
          "audit export --csv: every record in order (%d rows)" % len(body))
    same = all(r[6] == x.get("tokens", "") and r[7] == x.get("justification", "")
               and r[8] == x["outcome"] for r, x in zip(body, recs))
    check(same, "the exported rows are the records")
    p = subprocess.run([VEILCTL, "--socket", d.sock, "audit", "export", "--csv",
                        "--tenant", "t-two"], capture_output=True, timeout=120)
    n = len(list(csv.reader(io.StringIO(p.stdout.decode(), newline="")))) - 1
    check(n == sum(1 for r in recs if r.get("tenant") == "t-two"),
          "export with a filter: %d rows" % n)
    p = subprocess.run([VEILCTL, "--socket", d.sock, "audit", "export", "--csv",
                        "--after", "5", "--before", "1500"], capture_output=True, timeout=120)
    rows = list(csv.reader(io.StringIO(p.stdout.decode(), newline="")))[1:]
    check([int(r[0]) for r in rows] == list(range(6, 1500)),
          "export of a range over pages: %d rows" % len(rows))


def bulk(d, c):
    """A 200,000-token bulk resolve, then more records: pages stay small,
    show gives the count, audit.tokens all of them, the export the list as
    the record holds it, and verify catches an edit of the list."""
    toks = ["veil_u1_bulk%07dtoken" % i for i in range(200000)]
    a = c.call({"cmd": "resolve", "tenant": "t-one", "justification": JUST,
                "tokens": toks})
    check(a.get("ok") and a["failed"] == 200000, "the bulk resolve is answered")
    for i in range(3):
        c.call({"cmd": "resolve", "tenant": "t-two", "justification": JUST,
                "tokens": toks[:1000]})
    for i in range(60):
        c.call({"cmd": "resolve", "tenant": "t-two", "justification": JUST,
                "token": toks[i]})
    last = c.call({"cmd": "status"})["audit_records"]
    seq = last - 63
    a = c.call({"cmd": "audit.show", "limit": 64})
    check(a["ok"] and len(a["records"]) == 64, "audit.show over the bulk records works")
    rec = a["records"][0]
    check(rec["seq"] == seq and rec["tokens_total"] == 200000 and
          json.loads(rec["tokens"]) == toks[:20],
          "the bulk record shows its first 20 tokens and tokens_total")
    check(all(r["tokens_total"] == 1000 and len(json.loads(r["tokens"])) == 20
              for r in a["records"][1:4]), "so do lists of 1,000")
    check(a["records"][4]["tokens_total"] == 1 and
          json.loads(a["records"][4]["tokens"]) == toks[:1], "a single token is inline")
    p = subprocess.run([VEILCTL, "--socket", d.sock, "audit", "show", "--limit", "50"],
                       capture_output=True, text=True, timeout=60)
    check(p.returncode == 0 and p.stdout.count("\n#") + p.stdout.startswith("#") == 50,
          "veilctl audit show --limit 50 after the bulk records")
    p = subprocess.run([VEILCTL, "--socket", d.sock, "audit", "show", "--limit", "64"],
                       capture_output=True, text=True, timeout=60)
    check("199,980 more tokens (veilctl audit tokens %d" % seq in p.stdout,
          "veilctl prints the count and how to list them")
    got, off = [], 0
    while off is not None:
        a = c.call({"cmd": "audit.tokens", "seq": seq, "offset": off, "limit": 30000})
        got += a["tokens"]
        off = a.get("next_offset")
    check(got == toks, "audit.tokens returns all 200,000 in order (%d)" % len(got))
    a = c.call({"cmd": "audit.tokens", "seq": seq, "offset": 1999, "limit": 3})
    check(a["tokens"] == toks[1999:2002] and a["next_offset"] == 2002,
          "a page across chunks")
    a = c.call({"cmd": "audit.tokens", "seq": seq + 10})
    check(a["tokens"] == [toks[6]] and a["tokens_total"] == 1, "an inline list")
    a = c.call({"cmd": "audit.tokens", "seq": 10 ** 9})
    check(not a["ok"] and "no record" in a["error"], "no such record: %r" % a)
    p = subprocess.run([VEILCTL, "--socket", d.sock, "audit", "tokens", str(seq)],
                       capture_output=True, text=True, timeout=120)
    check(p.returncode == 0 and p.stdout.split() == toks,
          "veilctl audit tokens SEQ: %d lines %r" % (len(p.stdout.split()), p.stderr[:200]))
    p = subprocess.run([VEILCTL, "--socket", d.sock, "audit", "export", "--csv",
                        "--after", str(seq - 1), "--before", str(seq + 2)],
                       capture_output=True, timeout=120)
    rows = list(csv.reader(io.StringIO(p.stdout.decode(), newline="")))
    check(p.returncode == 0 and len(rows) == 3 and json.loads(rows[1][6]) == toks
          and json.loads(rows[2][6]) == toks[:1000],
          "the export holds the whole lists")
    rc, a = d.ctl("audit", "verify")
    check(rc == 0 and a["intact"], "the chain with lists aside verifies: %r" % a)
    # an edit of a listed token, behind the daemon's back
    con = sqlite3.connect(os.path.join(d.root, "state", "veil.db"))
    con.execute("UPDATE audit_tokens SET tokens=replace(tokens, ?, ?) WHERE seq=? "
                "AND idx=7", (toks[7123], "veil_u1_innocent000token", seq))
    con.commit()
    con.close()
    rc, a = d.ctl("audit", "verify")
    check(rc != 0 and not a["intact"] and a["first_bad_seq"] == seq and
          "token list" in a["problem"], "verify names the record whose list was "
          "edited: %r" % a)


def main():
    root = tempfile.mkdtemp(prefix="veil-apages-")
    d = veiltest.Controld(BUILD, root)
    try:
        # the records are resolves: a rate limit that lets them through
        with open(d.conf) as f:
            conf = f.read().replace("[controld]\n", "[controld]\nrate_limit = 1000000\n", 1)
        with open(d.conf, "w") as f:
            f.write(conf)
        d.start()
        c = Conn(d.sock)
        parts = sys.argv[2:] or ["paging", "bulk"]
        if "paging" in parts:
            cli(d, paging(d, c))
        if "bulk" in parts:
            c.call({"cmd": "tenant.create", "tenant": "t-one"})
            c.call({"cmd": "tenant.create", "tenant": "t-two"})
            bulk(d, c)
        c.close()
    finally:
        d.stop()
        shutil.rmtree(root, ignore_errors=True)
    return veiltest.finish("audit-pages")


if __name__ == "__main__":
    sys.exit(main())
