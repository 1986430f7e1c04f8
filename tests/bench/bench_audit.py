#!/usr/bin/env python3
# SPDX-License-Identifier: LicenseRef-veil-proprietary
"""Governance log benchmark (a `meson benchmark`, never a test): N records
made in bulk through the store's own append (tests/bench/gen_audit.c: real
MACs and chain, as controld writes them), spread over 400 days, with a few
bulk resolves of 200,000 tokens; then

  - veil-controld's start (it walks the whole chain),
  - audit show: the newest page, a page in the middle (cursor), filtered
    pages (a tenant, a rare action, an action group), each from one caller,
    while another caller's status is timed,
  - audit export --csv of all of it (veilctl walking the pages): records/s
    and veilctl's peak RSS,
  - audit verify through the daemon and in process: records/s,
  - pruning past 365 days one step at a time: the longest step, the WAL
    and the file after.

usage: bench_audit.py BUILD_DIR [--records N] [--bulk B] [--baseline OLD_BUILD]
(--baseline: the verify of another build's veil-controld on the same log)
"""
import json
import os
import resource
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                "integration"))
import veiltest  # noqa: E402

BUILD = sys.argv[1]
ARGS = sys.argv[2:]
N = int(ARGS[ARGS.index("--records") + 1]) if "--records" in ARGS else 500000
BULK = int(ARGS[ARGS.index("--bulk") + 1]) if "--bulk" in ARGS else 3
BASELINE = ARGS[ARGS.index("--baseline") + 1] if "--baseline" in ARGS else None
GEN = os.path.join(BUILD, "tests", "gen_audit")


def call_raw(path, req):
    """One request: the answer's bytes."""
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    body = json.dumps(req).encode()
    s.sendall(struct.pack(">I", len(body)) + body)
    data = b""
    while len(data) < 4 or len(data) < 4 + struct.unpack(">I", data[:4])[0]:
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        data += chunk
    s.close()
    return data[4:]


def call(path, req):
    return json.loads(call_raw(path, req)), None


def timed(path, req):
    """The time from the request to the answer's last byte (not parsing it)."""
    t = time.monotonic()
    raw = call_raw(path, req)
    return time.monotonic() - t, json.loads(raw), len(raw)


def gen(*args):
    p = subprocess.run([GEN] + [str(a) for a in args], capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("gen_audit %s: %s" % (args, p.stderr))
    return json.loads(p.stdout)


def main():
    root = tempfile.mkdtemp(prefix="veil-bench-audit-")
    d = veiltest.Controld(BUILD, root)
    with open(d.conf) as f:
        # the daemons' own housekeeping prunes nothing here: the prune is
        # measured step by step below
        conf = f.read().replace("[controld]\n", "[controld]\naudit_retention_days = 3650\n", 1)
    with open(d.conf, "w") as f:
        f.write(conf)
    try:
        os.makedirs(os.path.join(root, "state"), mode=0o700)
        g = gen("make", d.conf, N, 400, BULK)
        print("made %d records (%d bulk of 200,000 tokens) in %.1f s: %.0f records/s, "
              "%.0f MB" % (g["records"], BULK, g["seconds"], g["records"] / g["seconds"],
                           g["db_bytes"] / 1e6))
        t = time.monotonic()
        d.start()
        print("veil-controld start (over 100,000 records: from the mark, the whole walk "
              "behind it): %.2f s" % (time.monotonic() - t))
        last = call(d.sock, {"cmd": "status"})[0]["audit_records"]
        for what, req in (
                ("newest page (1000)", {}),
                ("page of 10000 from the middle (cursor)",
                 {"cursor": "after:%d" % (last // 2), "limit": 10000}),
                ("tenant t42, newest 1000", {"tenant": "t42"}),
                ("rare action key.roll, newest 1000", {"action": "key.roll"}),
                ("rare action key.roll from the oldest", {"action": "key.roll",
                                                          "after_seq": 0}),
                ("action group resolve, newest 1000", {"action": "resolve"}),
                ("uid 1007 from the oldest, 1000", {"uid": 1007, "after_seq": 0}),
                ("time: one day 200 days ago, 1000",
                 {"since_ms": int(time.time() * 1000) - 200 * 86400000,
                  "until_ms": int(time.time() * 1000) - 199 * 86400000, "after_seq": 0})):
            secs, a, size = timed(d.sock, dict(req, cmd="audit.show"))
            print("audit.show %-40s %7.1f ms, %5d records, %7d bytes" % (
                what + ":", secs * 1000, len(a.get("records", [])), size))
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        t = time.monotonic()
        with open(os.devnull, "wb") as null:
            p = subprocess.run([os.path.join(BUILD, "control", "veilctl"), "--socket",
                                d.sock, "audit", "export", "--csv"], stdout=null)
        secs = time.monotonic() - t
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        print("audit export --csv of all: %.1f s, %.0f records/s (exit %d), veilctl "
              "peak RSS %s MB" % (secs, last / secs, p.returncode,
                                  "%.0f" % (rss / 1024) if rss > before else "<= %.0f"
                                  % (before / 1024)))
        secs, a, _ = timed(d.sock, {"cmd": "audit.verify"})
        print("audit verify (daemon): %.2f s, %.0f records/s, intact %s" % (
            secs, a["records"] / secs, a["intact"]))
        d.stop()
        v = gen("verify", d.conf)
        print("verify in process: %.2f s, %.0f records/s" % (v["seconds"],
                                                           v["records_per_s"]))
        if BASELINE:
            old = veiltest.Controld(BASELINE, root)
            with open(d.conf, "w") as f:
                f.write(conf)
            old.start()
            secs, a, _ = timed(d.sock, {"cmd": "audit.verify"})
            print("baseline %s audit verify: %.2f s, %.0f records/s" % (
                BASELINE, secs, a["records"] / secs))
            old.stop()
        pr = gen("prune", d.conf, 365)
        print("prune past 365 days: %d records in %d steps, %.1f s, longest step %.0f ms; "
              "veil.db %.0f -> %.0f MB, WAL after %.1f MB" % (
                  pr["pruned"], pr["steps"], pr["seconds"], pr["longest_step_ms"],
                  pr["db_bytes_before"] / 1e6, pr["db_bytes_after"] / 1e6,
                  pr["wal_bytes_after"] / 1e6))
        v = gen("verify", d.conf)
        print("after pruning: %d records verify (bad %d)" % (v["records"], v["bad"]))
    finally:
        d.stop()
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
