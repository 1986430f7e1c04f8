#!/usr/bin/env python3
# SPDX-License-Identifier: LicenseRef-veil-proprietary
"""veil-dataplane end to end, in snapshot mode, with the real processes:
veil-controld (its own state directory and link), veil-dataplane and
veilctl.

 - every format's test lines (tests/data/lines/*.txt, one input and source
   per file, with its format): every expected identity is gone from the
   output, the tokens resolve through veilctl to exactly the expected names
   of their line, the rest of each line is unchanged, lines to drop are not
   written, the summary adds up (in = out + dropped + held), veilctl stats
   shows the same counters, and the governance log shows the resolve;
 - fail closed: no controld (nothing written, exit 1, the reason said), a
   tenant controld does not know, a locked tenant; a controld that comes
   late (the lines are held, then all written);
 - bad input files (binary garbage, a 10 MB line, NUL bytes, a truncated
   last line): counters and a clean exit, never a crash;
 - snapshot mode needs no root (when run as root: again as nobody);
 - W3C: a #Fields line without identity columns is refused with its data
   lines (format w3c and auto); columns pinned in the config; headers that
   change mid-file read the same through two workers as through one;
 - DPDK telemetry (on without --no-telemetry): /veil/counters, /veil/workers
   and /veil/keys over the telemetry socket of a running dataplane;
 - more tenants than the dataplane's old limit (256): 1,000 tenants, an
   input of the same name for each, every line's token is its own tenant's.

usage: dataplane.py BUILD_DIR LINES_DIR
"""
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import veiltest
from veiltest import check, two_workers_eal

BUILD, LINES = sys.argv[1], sys.argv[2]
CTLD = os.path.join(BUILD, "control", "veil-controld")
VEILCTL = os.path.join(BUILD, "control", "veilctl")
DP = os.path.join(BUILD, "dataplane", "veil-dataplane")
JUST = "ticket 5150: dataplane end-to-end test"
TOKEN = re.compile(veiltest.TOKEN_RE)

def run_dp(args, timeout=120, user=None, js=True, eal=None):
    """veil-dataplane with the snapshot defaults (or EAL options @eal);
    returns (rc, summary, stderr)."""
    return veiltest.run_dataplane(BUILD, args, eal=eal, js=js, timeout=timeout, user=user)


def adds_up(s):
    return (s is not None and
            s["lines_in"] == s["lines_out"] + s["lines_dropped"] + s["lines_held"]
            + s["lines_not_written"] and
            s["lines_dropped"] == sum(s["dropped"].values()))


def load_lines():
    """Per format file: its input lines (no '@' line), each with its
    expectation: None (a context line), "drop", or a list of (kind, name)."""
    corpus = []
    for fname in sorted(os.listdir(LINES)):
        if not fname.endswith(".txt"):
            continue
        lines, pend = [], None
        with open(os.path.join(LINES, fname), "rb") as f:
            for raw in f.read().split(b"\n"):
                if raw.startswith(b"@"):
                    if raw.startswith(b"@@"):
                        continue
                    if raw.startswith(b"@drop"):
                        pend = "drop"
                    else:
                        pend = []
                        for item in raw[1:].split(b"\t"):
                            item = item.decode()
                            if item.startswith("user:"):
                                pend.append(("user", item[5:]))
                            elif item.startswith("device:"):
                                pend.append(("device", item[7:]))
                    continue
                if raw == b"":
                    continue
                lines.append((raw, pend))
                pend = None
        corpus.append((fname[:-4], lines))
    return corpus


def snapshot_all_formats(root, d):
    corpus = load_lines()
    args = ["--link", d.link, "--tenant", "acme", "--out", os.path.join(root, "out.log")]
    for fmt, lines in corpus:
        path = os.path.join(root, "in-%s.log" % fmt)
        with open(path, "wb") as f:
            f.write(b"".join(raw + b"\n" for raw, _ in lines))
        args += ["--format", fmt, "--in", path]
    rc, s, err = run_dp(args)
    check(rc == 0, "snapshot of every format exits 0: rc %d\n%s" % (rc, err[-2000:]))
    if not check(s is not None, "a JSON summary"):
        return
    expected = [(raw, exp) for _, lines in corpus for raw, exp in lines]
    kept = [(raw, exp) for raw, exp in expected if exp != "drop"]
    with open(os.path.join(root, "out.log"), "rb") as f:
        out = f.read()
    out_lines = out.split(b"\n")[:-1]
    check(out.endswith(b"\n") or out == b"", "the output ends with a line end")
    check(s["lines_in"] == len(expected), "lines in %d == %d input lines"
          % (s["lines_in"], len(expected)))
    check(adds_up(s), "the summary adds up: %r" % {k: s[k] for k in
          ("lines_in", "lines_out", "lines_dropped", "lines_held")})
    check(s["lines_out"] == len(out_lines) == len(kept),
          "lines out %d, written %d, expected %d" % (s["lines_out"], len(out_lines), len(kept)))
    check(s["lines_dropped"] == len(expected) - len(kept) and s["lines_held"] == 0,
          "exactly the @drop lines dropped: %r" % s["dropped"])
    check(s["link"]["synced"] and s["no_key"] == [], "keys came from controld")
    drops = [raw for raw, exp in expected if exp == "drop"]
    check(not any(raw in out_lines for raw in drops), "no @drop line written")

    # every token of the output, resolved in one request
    rc, a = d.ctl("resolve", "-t", "acme", "-j", JUST, "--text", "--file",
                  os.path.join(root, "out.log"))
    check(rc == 0 and a.get("ok") and a["failed"] == 0,
          "every token in the output resolves: %r" % a.get("error", a.get("failed")))
    n_tokens = len(a.get("tokens", []))
    names = {}
    for tok, name, kind in zip(a.get("tokens", []), a.get("names", []), a.get("kinds", [])):
        names[tok.encode()] = (kind, name if isinstance(name, str) else repr(name))
    bad = 0
    if len(out_lines) == len(kept):
        for i, (raw, exp) in enumerate(kept):
            o = out_lines[i]
            toks = TOKEN.findall(o)
            got = {names.get(t, ("?", "?")) for t in toks}
            want = set(exp) if exp else set()
            text = TOKEN.sub(b"\x00", o)
            clear = [n for _, n in want if n.encode() in text]
            # the rest of the line is unchanged: the tokens' places in the
            # input hold the names (or their escaped forms)
            parts = text.split(b"\x00")
            pos, ordered = 0, True
            for p in parts:
                k = raw.find(p, pos)
                if k < 0:
                    ordered = False
                    break
                pos = k + len(p)
            if got != want or clear or not ordered or (exp is None and o != raw):
                bad += 1
                if bad <= 5:
                    print("  line %r\n   -> %r\n   tokens resolve to %r, expected %r%s"
                          % (raw[:160], o[:160], sorted(got), sorted(want),
                             ", left in clear: %r" % clear if clear else ""))
    check(bad == 0 and len(out_lines) == len(kept),
          "each line: its tokens resolve to exactly its names, none in clear, the "
          "rest unchanged (%d bad)" % bad)
    check(len(names) > 100, "many identities (%d distinct tokens)" % len(names))

    # the governance log has the resolve, with its tokens, never a name
    rc, a = d.ctl("audit", "show", "--action", "resolve")
    recs = [r for r in a.get("records", []) if r.get("justification") == JUST]
    check(len(recs) == 1 and recs[0]["action"] == "resolve.bulk"
          and recs[0]["outcome"] == "ok: %d resolved, 0 failed" % n_tokens,
          "the audit log shows the resolve: %r" % [r.get("outcome") for r in recs])
    dump = json.dumps(a)
    check("jane.doe" not in dump and "alice" not in dump, "no name in the audit log")

    # the counters went up the link: veilctl stats
    rc, a = d.ctl("stats")
    t = a.get("totals", {})
    check(rc == 0 and len(a.get("workers", [])) == 1 and t.get("lines_in") == s["lines_in"]
          and t.get("lines_out") == s["lines_out"] and t.get("identities") == s["identities"]
          and t.get("dropped", {}).get("malformed") == s["dropped"]["malformed"],
          "veilctl stats shows the run's counters: %r" % t)
    check(t.get("identities_user", 0) > 0 and t.get("identities_device", 0) > 0 and
          t.get("identities_user", 0) + t.get("identities_device", 0) == t.get("identities"),
          "identities by kind add up: %r" % {k: t.get(k) for k in
                                             ("identities", "identities_user", "identities_device")})
    rc, txt = subprocess.run([VEILCTL, "--socket", d.sock, "stats"], capture_output=True,
                             text=True).returncode, None
    check(rc == 0, "veilctl stats (text)")


def w3c_in_band(root, d):
    """A W3C source cannot switch its tokenization off with a #Fields line
    that names no identity column (format w3c and auto); a source with
    pinned columns (w3c_fields, on two config lines) needs no header and
    drops in-band ones; the drops by name in the summary and veilctl stats."""
    conf = os.path.join(root, "w3c.conf")
    with open(conf, "w") as f:
        f.write("[dataplane]\nlink_socket = %s\n\n"
                "[source iis]\ntenant = acme\nformat = w3c\n\n"
                "[source iis-auto]\ntenant = acme\n\n"
                "[source pinned]\ntenant = acme\nformat = auto\n"
                "w3c_fields = date time c-ip\n  cs-username cs-uri\n" % d.link)
    p = subprocess.run([DP, "--", "-c", conf, "--source", "pinned", "--in", "x.log", "-n"],
                       capture_output=True, text=True)
    check(p.returncode == 0, "w3c: -n accepts w3c_fields: %s" % p.stderr.strip())
    injected = ["#Fields: date time c-ip cs-username cs-uri",
                "2024-03-01 10:00:00 10.1.2.3 w3c.alice /a",
                "#Fields: date time c-ip x-who cs-uri",
                "2024-03-01 10:00:01 10.1.2.3 w3c.mallory /b",
                "2024-03-01 10:00:02 10.1.2.3 w3c.bob /c",
                "#Fields: date time c-ip cs-username cs-uri",
                "2024-03-01 10:00:03 10.1.2.3 w3c.carol /d"]
    pinned = ["2024-03-01 10:00:00 10.1.2.3 w3c.dave /a",
              "#Fields: date time c-ip x-who cs-uri",
              "2024-03-01 10:00:01 10.1.2.3 w3c.erin /b"]
    args = ["--json"]
    for name, lines in (("iis", injected), ("iis-auto", injected), ("pinned", pinned)):
        path = os.path.join(root, "w3c-%s.log" % name)
        with open(path, "w") as f:
            f.write("".join(l + "\n" for l in lines))
        args += ["--source", name, "--in", path]
    out = os.path.join(root, "w3c.out")
    rc, s, err = run_dp(["-c", conf, "--out", out] + args[1:])
    with open(out, "rb") as f:
        o = f.read()
    check(rc == 0 and s is not None and adds_up(s), "w3c: snapshot runs: %s" % err[-800:])
    if s is None:
        return
    check(s["dropped"]["fields-without-identity"] == 6 and s["dropped"]["fields-pinned"] == 1
          and s["lines_out"] == 2 * 4 + 2,
          "w3c: the refused header and its lines dropped, by name: %r" % s["dropped"])
    check(not re.search(rb"w3c\.[a-z]+", o) and len(TOKEN.findall(o)) == 2 * 2 + 2,
          "w3c: no name in clear, the other lines tokenized: %r" % o)
    rc, a = d.ctl("stats")
    w = a.get("workers", [{}])[0].get("counters", {}).get("dropped", {})
    check(rc == 0 and w.get("fields-without-identity") == 6 and w.get("fields-pinned") == 1,
          "w3c: veilctl stats shows the drops by name: %r" % w)
    # the example of docs/formats.md, as written
    doc = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs",
                       "formats.md")
    with open(doc) as f:
        blocks = re.findall(r"```ini\n(.*?)```", f.read(), re.S)
    ex = [b for b in blocks if "w3c_fields" in b]
    with open(os.path.join(root, "w3c-doc.conf"), "w") as f:
        f.write(ex[0] if ex else "")
    p = subprocess.run([DP, "--", "-c", os.path.join(root, "w3c-doc.conf"), "--source", "iis",
                        "--in", "iis.log", "-n"], capture_output=True, text=True)
    check(len(ex) == 1 and p.returncode == 0 and "configuration OK" in p.stdout,
          "w3c: the example of formats.md is accepted: %s" % p.stderr.strip())
    # pinned columns without an identity column: refused when loaded
    with open(conf, "a") as f:
        f.write("[source noid]\ntenant = acme\nformat = w3c\nw3c_fields = date time\n")
    p = subprocess.run([DP, "--", "-c", conf, "--source", "noid", "--in", "x.log", "-n"],
                       capture_output=True, text=True)
    check(p.returncode == 2 and "[source noid] w3c_fields: no identity column" in p.stderr,
          "w3c: pinned columns without identity refused: %s" % p.stderr.strip())


def two_workers(root, d):
    """The same inputs with two worker lcores (-l 0-2, or --lcores on fewer
    than 3 CPUs: the main lcore reads,
    distributes, writes in order; lcores 1 and 2 rewrite): the output is
    byte for byte the one-worker run's, the summary the same, and controld
    gets the counters of 2 workers that add up to it."""
    ref = os.path.join(root, "out.log")
    if not os.path.exists(ref):
        check(False, "two workers: the one-worker output exists")
        return
    args = ["--link", d.link, "--tenant", "acme", "--out", os.path.join(root, "out2.log")]
    for fmt, _ in load_lines():
        args += ["--format", fmt, "--in", os.path.join(root, "in-%s.log" % fmt)]
    # twice the inputs, so that both workers get bursts
    args += args[6:]
    args1 = args[:5] + [os.path.join(root, "out1b.log")] + args[6:]
    rc1, s1, err1 = run_dp(args1)
    rc, s, err = run_dp(args, eal=two_workers_eal())
    check(rc == 0 and rc1 == 0, "two workers: exit 0: rc %d\n%s" % (rc, err[-2000:]))
    if not check(s is not None and s1 is not None, "two workers: a JSON summary"):
        return
    with open(os.path.join(root, "out2.log"), "rb") as f:
        out2 = f.read()
    with open(os.path.join(root, "out1b.log"), "rb") as f:
        out1 = f.read()
    with open(ref, "rb") as f:
        ref1 = f.read()
    check(out2 == out1 and out1 == ref1 + ref1 and len(out1) > 0,
          "two workers: the output is byte for byte the one-worker run's "
          "(%d and %d bytes)" % (len(out2), len(out1)))
    same = ("lines_in", "lines_out", "lines_dropped", "lines_held", "identities",
            "repeats", "bytes_in", "bytes_out", "dropped", "sources")
    check(all(s[k] == s1[k] for k in same) and adds_up(s),
          "two workers: the same summary: %r" % {k: (s[k], s1[k]) for k in same
                                                  if s[k] != s1[k]})
    rc, a = d.ctl("stats")
    ws = a.get("workers", [])
    t = a.get("totals", {})
    check(rc == 0 and len(ws) == 2 and t.get("lines_in") == s["lines_in"]
          and t.get("lines_out") == s["lines_out"] and t.get("identities") == s["identities"]
          and t.get("bytes_in") == s["bytes_in"] and t.get("bytes_out") == s["bytes_out"],
          "two workers: veilctl stats shows 2 workers adding up to the run: %r" % a)
    ins = [w.get("counters", {}).get("lines_in", 0) for w in ws]
    check(len(ins) == 2 and all(n > 0 for n in ins),
          "two workers: both workers rewrote lines: %r" % ins)


def w3c_two_workers(root, d):
    """A W3C source whose #Fields change mid-file, with the same number of
    columns in another order, through two workers: bursts go round the
    workers, so each must read a data line against the header before it
    in the file, not the last one its own bursts held. The output is byte
    for byte the one-worker run's and no name is left in clear."""
    hdr = ("#Fields: date time cs-username c-ip cs-uri",
           "#Fields: date time c-ip cs-username cs-uri")
    lines, users = [], 0
    for k in range(8):
        lines.append(hdr[k % 2])
        for i in range(301):
            u, ip = "w3cw.u%d-%d" % (k, i), "10.%d.%d.9" % (k, i % 250)
            cols = (u, ip) if k % 2 == 0 else (ip, u)
            lines.append("2024-03-01 10:%02d:%02d %s %s /p%d" % (k, i % 60, cols[0], cols[1], i))
            users += 1
    conf = os.path.join(root, "w3cw.conf")
    with open(conf, "w") as f:
        f.write("[dataplane]\nlink_socket = %s\n\n"
                "[source w3cw]\ntenant = acme\nformat = w3c\n\n"
                "[source w3cw-auto]\ntenant = acme\n" % d.link)
    args = []
    for name in ("w3cw", "w3cw-auto"):
        path = os.path.join(root, "%s.log" % name)
        with open(path, "w") as f:
            f.write("".join(l + "\n" for l in lines))
        args += ["--source", name, "--in", path]
    outs = {}
    for nw, eal in ((1, None), (2, two_workers_eal())):
        out = os.path.join(root, "w3cw-%d.out" % nw)
        rc, s, err = run_dp(["-c", conf, "--out", out] + args, eal=eal)
        check(rc == 0 and s is not None and adds_up(s),
              "w3c, %d worker(s): the run: rc %d %s" % (nw, rc, err[-800:]))
        with open(out, "rb") as f:
            outs[nw] = f.read()
        check(s is not None and s["lines_out"] == 2 * len(lines),
              "w3c, %d worker(s): every line written (%s of %d): %r"
              % (nw, s and s["lines_out"], 2 * len(lines), s and s["dropped"]))
        clear = re.findall(rb"w3cw\.u[0-9-]+", outs[nw])
        check(not clear and len(TOKEN.findall(outs[nw])) == 2 * users,
              "w3c, %d worker(s): no name in clear (%d are), a token per name"
              % (nw, len(clear)))
    check(outs[1] == outs[2] and len(outs[1]) > 0,
          "w3c, two workers: the output is byte for byte the one-worker run's")


def fail_closed(root, d):
    src = os.path.join(root, "fc.log")
    names = ["alice.fc", "bob.fc", "carol.fc"]
    with open(src, "w") as f:
        for i in range(300):
            f.write("CEF:0|V|P|1|1|n|1|src=10.0.0.%d suser=%s shost=WS-FC-%d\n"
                    % (i % 250, names[i % 3], i % 7))
    out = os.path.join(root, "fc.out")

    # no controld: nothing written, exit 1, the reason
    t0 = time.time()
    rc, s, err = run_dp(["--link", os.path.join(root, "nothing.sock"), "--wait-keys", "1",
                         "--tenant", "acme", "--in", src, "--out", out])
    took = time.time() - t0
    check(rc == 1, "no controld: exit 1 (rc %d)" % rc)
    check(os.path.getsize(out) == 0, "no controld: nothing written")
    check(s is not None and s["dropped"]["no-key"] == 300 and s["lines_out"] == 0 and adds_up(s),
          "no controld: 300 lines dropped, reason no-key")
    check(s is not None and len(s["no_key"]) == 1 and "not reachable" in s["no_key"][0]["why"],
          "no controld: the summary says why")
    check(0.9 < took < 10, "no controld: held about --wait-keys (%.1f s)" % took)
    check(not any(n in err for n in names), "no name on stderr")
    rc, s, err = run_dp(["--link", os.path.join(root, "nothing.sock"), "--wait-keys", "0",
                         "--tenant", "acme", "--in", src, "--out", out], js=False)
    check(rc == 1 and os.path.getsize(out) == 0 and "300 lines of tenant acme were dropped, "
          "never written: no key: veil-controld was not reachable" in err,
          "no controld: said in the text summary: %s" % err[-600:])

    # a tenant controld does not know
    rc, s, err = run_dp(["--link", d.link, "--wait-keys", "0.5", "--tenant", "nosuch",
                         "--in", src, "--out", out])
    check(rc == 1 and os.path.getsize(out) == 0 and s and s["dropped"]["no-key"] == 300
          and "no key for tenant nosuch" in s["no_key"][0]["why"],
          "unknown tenant: nothing written, reason said (%s)" % (s and s["no_key"]))

    # a locked tenant
    d.ctl("tenant", "create", "locked1")
    d.ctl("tenant", "lock", "locked1")
    rc, s, err = run_dp(["--link", d.link, "--wait-keys", "0.5", "--tenant", "locked1",
                         "--in", src, "--out", out])
    check(rc == 1 and os.path.getsize(out) == 0 and s and s["dropped"]["no-key"] == 300
          and "is locked" in s["no_key"][0]["why"],
          "locked tenant: nothing written, reason said (%s)" % (s and s["no_key"]))

    # controld comes late: the lines wait in the hold queue, then all go
    os.mkdir(os.path.join(root, "late"))
    late = veiltest.Controld(BUILD, os.path.join(root, "late"))
    late.start()
    late.ctl("tenant", "create", "acme")
    late.stop()  # the keys are in its database; the link is gone
    p = subprocess.Popen([DP, "--", "--link", late.link, "--wait-keys", "20", "--tenant",
                          "acme", "--in", src, "--out", out, "--json"],
                         stderr=subprocess.PIPE)
    time.sleep(1.0)
    held_while_away = os.path.getsize(out)
    late.start()
    _, err = p.communicate(timeout=60)
    late.stop()
    s = veiltest.summary_of(err)
    with open(out, "rb") as f:
        data = f.read()
    check(held_while_away == 0, "late controld: nothing written while it was away")
    check(p.returncode == 0 and s["lines_out"] == 300 and s["lines_dropped"] == 0
          and s["identities"] == 600 and adds_up(s),
          "late controld: every held line written once the keys came: %r"
          % {k: s[k] for k in ("lines_out", "lines_dropped", "lines_held")})
    check(data.count(b"\n") == 300 and not any(n.encode() in data for n in names),
          "late controld: 300 lines, no name in clear")


def paced_run(root, d, name, middle, batches=24, per=100, pause=0.1, eal=None):
    """Lines fed on stdin over a few seconds; middle(d) runs half-way.
    Returns (rc, summary, expected names by line, output lines)."""
    out = os.path.join(root, "%s.out" % name)
    p = subprocess.Popen([DP] + (eal or []) + ["--", "--link", d.link, "--tenant", "acme", "--wait-keys", "20",
                          "--out", out, "--json"], stdin=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    want = []
    for b in range(batches):
        chunk = []
        for i in range(per):
            n = len(want)
            want.append("%s.user%d" % (name, n % 250))
            chunk.append("CEF:0|V|P|1|1|n|1|src=10.0.0.1 suser=%s shost=%s-WS-%d\n"
                         % (want[-1], name, n % 40))
        p.stdin.write("".join(chunk).encode())
        p.stdin.flush()
        time.sleep(pause)
        if b == batches // 2:
            middle(d)
    p.stdin.close()
    err = p.stderr.read().decode()
    p.wait(timeout=60)
    s = veiltest.summary_of(err)
    with open(out, "rb") as f:
        lines = f.read().split(b"\n")[:-1]
    return p.returncode, s, want, lines, out


def resolves_per_line(d, name, want, lines, out):
    """Every line's user token resolves to its own name; none in clear."""
    rc, a = d.ctl("resolve", "-t", "acme", "-j", JUST + " (" + name + ")", "--text",
                  "--file", out)
    check(rc == 0 and a.get("failed") == 0, "%s: every token resolves (%r)"
          % (name, a.get("error", a.get("failed"))))
    names = dict(zip(a.get("tokens", []), a.get("names", [])))
    bad = 0
    for i, o in enumerate(lines):
        m = re.search(rb"suser=(veil_u[0-9]+_[a-z2-7]+)", o)
        if m is None or names.get(m.group(1).decode()) != want[i] or \
                want[i].encode() in o:
            bad += 1
    check(bad == 0 and len(lines) == len(want),
          "%s: each line's token is its own name, none in clear (%d bad)" % (name, bad))


def roll_and_restart(root, d):
    # a key roll half-way: no line lost, old and new tokens both resolve,
    # and once the new version shows up the old one is not used again
    def roll(d):
        rc, a = d.ctl("key", "roll", "acme")
        check(rc == 0, "key roll during the run")
    rc, s, want, lines, out = paced_run(root, d, "roll", roll)
    check(rc == 0 and s["lines_in"] == len(want) == s["lines_out"] == len(lines),
          "roll: every line written (%d of %d)" % (s["lines_out"], len(want)))
    vers = [int(re.search(rb"suser=veil_u([0-9]+)_", o).group(1)) for o in lines]
    first2 = vers.index(2) if 2 in vers else len(vers)
    check(1 in vers and 2 in vers and all(v == 1 for v in vers[:first2])
          and all(v == 2 for v in vers[first2:]),
          "roll: version 1 until the roll, version 2 after (switch at line %d)" % first2)
    resolves_per_line(d, "roll", want, lines, out)

    # the same with two workers: the new version reaches both, no line is
    # lost or out of order, each switches once (version 2, then 3)
    rc, s, want, lines, out = paced_run(root, d, "roll2", roll, eal=two_workers_eal())
    check(rc == 0 and s["lines_in"] == len(want) == s["lines_out"] == len(lines),
          "roll, two workers: every line written (%d of %d)" % (s["lines_out"], len(want)))
    vers = [int(re.search(rb"suser=veil_u([0-9]+)_", o).group(1)) for o in lines]
    first3 = vers.index(3) if 3 in vers else len(vers)
    check(2 in vers and 3 in vers and all(v == 2 for v in vers[:first3])
          and all(v == 3 for v in vers[first3:]),
          "roll, two workers: version 2 until the roll, version 3 after (switch at "
          "line %d)" % first3)
    resolves_per_line(d, "roll2", want, lines, out)

    # controld killed (-9) half-way, then restarted: the keys it had keep
    # serving, the new region is attached again, nothing in clear
    def kill_restart(d):
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait()
        d.log.close()
        time.sleep(0.5)
        d.start()
    rc, s, want, lines, out = paced_run(root, d, "restart", kill_restart)
    check(rc == 0 and s["lines_in"] == len(want) == s["lines_out"] == len(lines)
          and s["lines_dropped"] == 0,
          "restart: every line written (%d of %d)" % (s["lines_out"], len(want)))
    check(s["link"]["attaches"] == 2, "restart: attached again to the new controld "
          "(%d attaches)" % s["link"]["attaches"])
    resolves_per_line(d, "restart", want, lines, out)
    rc, a = d.ctl("stats")
    check(a.get("totals", {}).get("lines_out") == len(want),
          "restart: the new controld got the final counters: %r" % a.get("totals"))


def api_calls(d, reqs):
    """Requests to controld's API, one after the other on one connection;
    their answers."""
    s = socket.socket(socket.AF_UNIX)
    s.connect(d.sock)
    answers = []
    for req in reqs:
        a = veiltest.api_call_on(s, req)
        if a is None:
            raise RuntimeError("controld closed the connection")
        answers.append(a)
    s.close()
    return answers


def many_tenants(root, d, n=1000):
    """More tenants than the dataplane once took (256): n tenants, a line
    with the same user name for each, every token its own tenant's (the
    token controld's lookup gives under that tenant's key), all distinct."""
    ids = ["mt%04d" % i for i in range(n)]
    made = api_calls(d, [{"cmd": "tenant.create", "tenant": t} for t in ids])
    check(all(a.get("ok") for a in made), "%d tenants created (%r)"
          % (n, [a for a in made if not a.get("ok")][:1]))
    args = []
    for t in ids:
        path = os.path.join(root, "in-%s.log" % t)
        with open(path, "w") as f:
            f.write("CEF:0|V|P|1|1|n|1|src=10.0.0.1 suser=alice@example.com "
                    "msg=%s\n" % t)
        args += ["--tenant", t, "--in", path]
    out = os.path.join(root, "many.out")
    rc, s, err = run_dp(["--link", d.link, "--wait-keys", "30", "--out", out] + args,
                        timeout=300)
    check(rc == 0 and s is not None and s["lines_out"] == n and s["lines_dropped"] == 0,
          "%d tenants: every line written (rc %d, %s)" % (n, rc, (err or "")[-300:]))
    with open(out, "rb") as f:
        lines = f.read().split(b"\n")[:-1]
    got = []
    for o in lines:
        m = re.search(rb"suser=(veil_u[0-9]+_[a-z2-7]+) msg=(mt[0-9]{4})$", o)
        got.append((m.group(2).decode(), m.group(1).decode()) if m else None)
    want = api_calls(d, [{"cmd": "lookup", "tenant": t, "justification": JUST,
                          "kind": "user", "name": "alice@example.com"} for t in ids])
    bad = [i for i, t in enumerate(ids)
           if i >= len(got) or got[i] is None or got[i][0] != t or
           not want[i].get("ok") or got[i][1] != want[i]["tokens"][-1]["token"]]
    check(len(lines) == n and not bad,
          "%d tenants: each line's token is its own tenant's (%d bad, first %r)"
          % (n, len(bad), [(ids[i], got[i] if i < len(got) else None) for i in bad[:1]]))
    check(len(set(g[1] for g in got if g)) == n,
          "%d tenants: the same name gives %d different tokens" % (n, n))


def bad_inputs(root, d):
    rng = random.Random(4711)
    good = b"CEF:0|V|P|1|1|n|1|suser=dave.bad shost=WS-BAD\n"
    cases = {
        "garbage": bytes(rng.randrange(256) for _ in range(1 << 20)),
        "huge-line": good + b"x" * (10 << 20) + b"\n" + good,
        "nul-bytes": (good + b"CEF:0|V|P|1|1|n|1|suser=nul\x00user shost=A\x00B\n"
                      + b"\x00" * 5000 + b"\n" + good),
        "truncated": good * 3 + good[:-len(b" shost=WS-BAD\n")],
        "empty": b"",
        "crlf-only": b"\r\n" * 1000,
    }
    for name, data in cases.items():
        path = os.path.join(root, "bad-%s.log" % name)
        with open(path, "wb") as f:
            f.write(data)
        out = os.path.join(root, "bad-%s.out" % name)
        rc, s, err = run_dp(["--link", d.link, "--tenant", "acme", "--in", path,
                             "--out", out, "--wait-keys", "5"])
        check(rc == 0, "%s: clean exit (rc %d)%s" % (name, rc, "" if rc == 0 else "\n" + err[-1500:]))
        check(s is not None and adds_up(s) and s["lines_held"] == 0,
              "%s: counters add up: %r" % (name, s and {k: s[k] for k in
                                                        ("lines_in", "lines_out", "lines_dropped")}))
        if s is None:
            continue
        with open(out, "rb") as f:
            written = f.read()
        check(written.count(b"\n") == s["lines_out"], "%s: the output has lines_out lines" % name)
        check(b"dave.bad" not in written, "%s: no name in clear" % name)
        if name == "huge-line":
            check(s["dropped"]["oversize"] == 1 and s["lines_out"] == 2,
                  "huge-line: dropped whole (oversize), the others written")
        if name == "truncated":
            check(s["unterminated"] == 1 and s["lines_out"] == 4 and s["identities"] == 7
                  and written.endswith(b"suser=" + TOKEN.findall(written)[-1] + b"\n"),
                  "truncated: the last line is taken, tokenized and counted: %r"
                  % {k: s[k] for k in ("unterminated", "lines_out", "identities")})
        if name == "garbage":
            check(s["lines_in"] > 1000 and s["bytes_in"] == len(data),
                  "garbage: every byte read, %d lines counted" % s["lines_in"])
        if name == "nul-bytes":
            check(s["lines_in"] == 4 and b"nul\x00user" not in written,
                  "nul-bytes: NUL is data, the name with a NUL never in clear")
        if name in ("empty", "crlf-only"):
            check(s["lines_in"] == 0 and written == b"", "%s: nothing in, nothing out" % name)


def output_error(root, d):
    src = os.path.join(root, "oe.log")
    with open(src, "w") as f:
        for i in range(20000):
            f.write("CEF:0|V|P|1|1|n|1|suser=gina.oe%d shost=WS-OE\n" % (i % 50))
    rc, s, err = run_dp(["--link", d.link, "--tenant", "acme", "--in", src,
                         "--out", "/dev/full"])
    check(rc == 1 and s is not None and "/dev/full: write: No space left" in (s["error"] or "")
          and s["lines_not_written"] > 0 and s["bytes_out"] == 0 and adds_up(s),
          "output error: exit 1, said, the lines not written counted: %r"
          % (s and {k: s[k] for k in ("lines_in", "lines_out", "lines_not_written",
                                      "lines_held", "error")}))


def explain_preview(root, d):
    """--explain: the preview of a sample, with no key and no controld;
    the format, the identities marked, the drops and why, the counts."""
    sample = os.path.join(root, "explain-%d.log" % os.getpid())
    lines = ["<134>Mar  1 10:15:22 proxysg01 2024-03-01 10:15:22 128 10.1.20.45 200 "
             "TCP_NC_MISS 5084 2228 GET https www.example.com 443 /search ?q=a ex.jdoe "
             "CORP\\Sales DIRECT www.example.com text/html - \"Mozilla/5.0\" OBSERVED "
             "\"Search Engines/Portals\" - 10.1.0.5",
             "CEF:0|V|P|1|1|n|5|suser=- shost=EX-PC1",
             "hello world"]
    with open(sample, "w") as f:
        f.write("\n".join(lines) + "\n")
    # no tenant, no config, no link: nothing is asked of controld
    p = subprocess.run([DP, "--", "--explain", sample, "--json"],
                       capture_output=True, text=True, timeout=60)
    check(p.returncode == 0, "explain: exit 0: %s" % p.stderr[-500:])
    objs = [json.loads(l) for l in p.stdout.splitlines()]
    check(len(objs) == 4 and objs[3]["summary"]["lines"] == 3,
          "explain: one object per line and a summary: %r" % objs[-1:])
    sg, cef, bad, summ = objs[0], objs[1], objs[2], objs[3]["summary"]
    check(sg["format"] == "w3c" and sg["verdict"] == "forward"
          and [(f["kind"], f["value"], f["action"]) for f in sg["fields"]]
          == [("user", "ex.jdoe", "token")]
          and lines[0][sg["fields"][0]["offset"]:].startswith("ex.jdoe"),
          "explain: the header-less ProxySG line, its user and span: %r" % sg)
    check(cef["format"] == "cef" and [f["action"] for f in cef["fields"]]
          == ["no-user", "token"], "explain: a no-user value and a device: %r" % cef)
    check(bad["verdict"] == "drop" and bad["reason"] == "unknown-format"
          and bad["format"] is None, "explain: the drop and why: %r" % bad)
    check(summ["by_format"] == {"w3c": 1, "cef": 1} and summ["drops"] ==
          {"unknown-format": 1} and summ["users"] == 1 and summ["devices"] == 1,
          "explain: counts per format and reason: %r" % summ)
    # text: the value marked in the line
    p = subprocess.run([DP, "--", "--explain", sample], capture_output=True,
                       text=True, timeout=60)
    check(p.returncode == 0 and "\u00abex.jdoe\u00bb" in p.stdout
          and "DROPPED (unknown-format)" in p.stdout
          and "explain: 3 lines: 2 parsed, 1 would be dropped" in p.stdout,
          "explain: text preview: %s" % p.stdout[-800:])
    # a source of the config: its options apply (fields, normalization)
    conf = os.path.join(root, "explain.conf")
    with open(conf, "w") as f:
        f.write("[dataplane]\nlink_socket = %s\n\n[source sg]\ntenant = acme\n"
                "format = w3c\nfields = proxysg-main\n" % d.link)
    p = subprocess.run([DP, "--", "-c", conf, "--source", "sg", "--explain", sample,
                        "--json"], capture_output=True, text=True, timeout=60)
    objs = [json.loads(l) for l in p.stdout.splitlines()]
    check(p.returncode == 0 and [o.get("verdict") for o in objs[:3]]
          == ["forward", "drop", "drop"] and objs[1]["reason"] == "malformed",
          "explain: a pinned W3C source drops the others as malformed: %r" % objs)
    os.unlink(sample)


def usage_and_config(root, d):
    p = subprocess.run([DP, "--", "--in", "x", "--bogus"], capture_output=True, text=True)
    check(p.returncode == 2 and "--bogus" in p.stderr, "unknown option: exit 2")
    p = subprocess.run([DP, "--", "--in", "/nonexistent/input.log", "--tenant", "acme"],
                       capture_output=True, text=True)
    check(p.returncode == 1 and "/nonexistent/input.log: No such file" in p.stderr,
          "missing input: exit 1, said")
    p = subprocess.run([DP, "--", "--in", "x.log"], capture_output=True, text=True)
    check(p.returncode == 2 and "no tenant" in p.stderr, "an input without a tenant: exit 2")
    conf = os.path.join(root, "dp.conf")
    with open(conf, "w") as f:
        f.write("[controld]\nlink_socket = %s\nstate_dir = /x\n\n[roles]\nadmin = uid:0\n\n"
                "[byok]\nbyok_grace = 3600\n\n"
                "[dataplane]\nwait_keys = 3\n\n[source fw]\ntenant = acme\nformat = cef\n"
                "keep_domain = yes\n" % d.link)
    p = subprocess.run([DP, "--", "-c", conf, "--source", "fw", "--in", "a.log", "-n"],
                       capture_output=True, text=True)
    check(p.returncode == 0 and "configuration OK" in p.stdout and d.link in p.stdout,
          "-n: configuration OK, the link from [controld], [byok] is controld's: %s%s"
          % (p.stdout, p.stderr))
    p = subprocess.run([CTLD, "-n", "-c", conf], capture_output=True, text=True)
    check(p.returncode == 0, "controld accepts the dataplane's sections: %s" % p.stderr)
    with open(conf, "a") as f:
        f.write("colour = blue\n")
    p = subprocess.run([DP, "--", "-c", conf, "-n"], capture_output=True, text=True)
    check(p.returncode == 2 and "dp.conf:18: [source fw] unknown source option" in p.stderr,
          "unknown key: file:line error: %s" % p.stderr.strip())
    with open(conf, "w") as f:
        f.write("[dataplane]\nmax_mesage = 5\n")
    p = subprocess.run([DP, "--", "-c", conf, "-n"], capture_output=True, text=True)
    check(p.returncode == 2 and "dp.conf:2: unknown key \"max_mesage\"" in p.stderr,
          "unknown [dataplane] key: file:line error: %s" % p.stderr.strip())
    # the /dev/shm name of before: both daemons say what replaced it
    for section in ("dataplane", "controld"):
        with open(conf, "w") as f:
            f.write("[%s]\nlink_name = veil-link\n" % section)
        p = subprocess.run([DP, "--", "-c", conf, "-n"], capture_output=True, text=True)
        check(p.returncode == 2 and "dp.conf:2: link_name was replaced by link_socket "
              "(a path)" in p.stderr, "[%s] link_name: veil-dataplane says it was "
              "replaced: %s" % (section, p.stderr.strip()))
    p = subprocess.run([CTLD, "-n", "-c", conf], capture_output=True, text=True)
    check(p.returncode == 1 and "dp.conf:2: link_name was replaced by link_socket "
          "(a path)" in p.stderr, "link_name: veil-controld says it was replaced: %s"
          % p.stderr.strip())

    # a config source, end to end
    with open(conf, "w") as f:
        f.write("[dataplane]\nlink_socket = %s\n\n[source fw]\ntenant = acme\nformat = cef\n"
                "keep_domain = yes\n" % d.link)
    src = os.path.join(root, "kd.log")
    with open(src, "w") as f:
        f.write("CEF:0|V|P|1|1|n|1|suser=CORP\\\\erin.kd\n")
    rc, s, err = run_dp(["-c", conf, "--source", "fw", "--in", src,
                         "--out", os.path.join(root, "kd.out")])
    with open(os.path.join(root, "kd.out")) as f:
        o = f.read()
    check(rc == 0 and s["sources"][0]["name"] == "fw"
          and re.search(r"suser=CORP\\\\veil_u[0-9]+_", o) and "erin.kd" not in o,
          "a [source] with keep_domain: %r" % o)


def as_nobody(root):
    """Snapshot mode needs no root and no hugepages."""
    if os.geteuid() != 0:
        veiltest.skip("as nobody", "not root (runs the dataplane as uid nobody)")
        return
    d = os.path.join(root, "nobody")
    os.mkdir(d)
    os.chmod(d, 0o777)
    src = os.path.join(d, "in.log")
    with open(src, "w") as f:
        f.write("CEF:0|V|P|1|1|n|1|suser=frank.nobody\n")
    os.chmod(src, 0o644)
    rc, s, err = run_dp(["--link", os.path.join(d, "none.sock"), "--wait-keys", "0.2",
                         "--tenant", "acme", "--in", src, "--out", os.path.join(d, "o")],
                        user=65534)
    check(rc == 1 and s is not None and s["dropped"]["no-key"] == 1 and "EAL" not in err,
          "as nobody: EAL starts, the run ends with its summary: %s" % err[-500:])


def telemetry(root, d):
    """A dataplane with telemetry on (EAL without --no-telemetry), fed on a
    pipe kept open: its counters over the telemetry socket."""
    prefix = "veiltest%d" % os.getpid()
    rundir = veiltest.dpdk_runtime_dir(prefix)
    sock = os.path.join(rundir, "dpdk_telemetry.v2")
    out = os.path.join(root, "telemetry.out")
    n = 37
    p = subprocess.Popen([DP, "--no-huge", "--no-pci", "--file-prefix", prefix, "-l", "0-1",
                          "--", "--link", d.link, "--tenant", "acme", "--wait-keys", "20",
                          "--out", out, "--json"], stdin=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        p.stdin.write("".join("CEF:0|V|P|1|1|n|1|src=10.0.0.1 suser=tel.user%d\n" % i
                              for i in range(n)).encode())
        p.stdin.flush()
        c = None
        hello = None
        for _ in range(200):  # the socket appears, then the counters catch up
            if os.path.exists(sock):
                try:
                    hello, c = veiltest.telemetry_query(sock, "/veil/counters")
                except (OSError, ValueError):
                    c = None
                if c is not None and c.get("lines_out") == n:
                    break
            time.sleep(0.05)
        check(hello is not None and "pid" in hello and hello["pid"] == p.pid,
              "telemetry: the socket's greeting: %r" % (hello,))
        check(c is not None and c["lines_in"] == n and c["lines_out"] == n and
              c["lines_dropped"] == 0 and c["lines_held"] == 0 and
              c["identities"] >= n and c["bytes_in"] > 0 and
              "dropped_no_key" in c and "dropped_oversize" in c,
              "telemetry: /veil/counters has the %d lines written: %r" % (n, c))
        _, w = veiltest.telemetry_query(sock, "/veil/workers")
        check(w is not None and w["workers"] >= 1 and
              sum(w["lines_in"]) == n and len(w["lines_in"]) == w["workers"],
              "telemetry: /veil/workers adds up: %r" % (w,))
        _, k = veiltest.telemetry_query(sock, "/veil/keys")
        check(k is not None and "acme" in k["tenants"] and
              k["versions_held"][k["tenants"].index("acme")] >= 1 and
              k["current"][k["tenants"].index("acme")] >= 1,
              "telemetry: /veil/keys lists acme's versions: %r" % (k,))
        _, k1 = veiltest.telemetry_query(sock, "/veil/keys,acme")
        check(k1 is not None and k1["tenant"] == "acme" and
              k1["current"] in k1["versions"] and
              all(isinstance(v, int) for v in k1["versions"]),
              "telemetry: /veil/keys,acme gives version numbers: %r" % (k1,))
        _, lk = veiltest.telemetry_query(sock, "/veil/link")
        check(lk is not None and lk["socket"] == d.link and lk["connected"] == 1 and
              lk["synced"] == 1 and lk["attaches"] == 1 and lk["refused_peers"] == 0,
              "telemetry: /veil/link says connected and synced: %r" % (lk,))
        p.stdin.close()
        err = p.stderr.read().decode()
        rc = p.wait(timeout=60)
        s = veiltest.summary_of(err)
        check(rc == 0 and s["lines_in"] == n and s["lines_out"] == n,
              "telemetry: stdin closed, the run ends cleanly: rc %s %s" % (rc, err[-500:]))
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        shutil.rmtree(rundir, ignore_errors=True)
    check(not os.path.exists(rundir), "telemetry: runtime dir %s removed" % rundir)


def main():
    for exe in (CTLD, VEILCTL, DP):
        if not os.access(exe, os.X_OK):
            print("dataplane: %s not built" % exe)
            return 1
    root = tempfile.mkdtemp(prefix="veil-dp-")
    os.chmod(root, 0o755)
    d = veiltest.Controld(BUILD, root)
    try:
        d.start()
        rc, a = d.ctl("tenant", "create", "acme")
        check(rc == 0, "tenant create")
        snapshot_all_formats(root, d)
        w3c_in_band(root, d)
        two_workers(root, d)
        w3c_two_workers(root, d)
        fail_closed(root, d)
        roll_and_restart(root, d)
        bad_inputs(root, d)
        output_error(root, d)
        usage_and_config(root, d)
        explain_preview(root, d)
        as_nobody(root)
        telemetry(root, d)
        many_tenants(root, d)
    finally:
        d.stop()
        shutil.rmtree(root, ignore_errors=True)
    return veiltest.finish("dataplane")


if __name__ == "__main__":
    sys.exit(main())
