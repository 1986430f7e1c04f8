#!/usr/bin/env python3
# SPDX-License-Identifier: LicenseRef-veil-proprietary
"""`veilctl audit export` of a log that grows while it runs ends at the
newest record there was when it started: an export of a busy appliance
ends, and it holds every record up to there, once, in order.

A real veil-controld with 3,000 lookups' records; the export's output is
read slowly (a pipe that fills stops it mid-page), 600 more lookups come
meanwhile, then the rest is read.

usage: audit_export.py BUILD_DIR
"""
import csv
import io
import os
import shutil
import socket
import subprocess
import sys
import tempfile

import veiltest
from veiltest import check

BUILD = sys.argv[1]
VEILCTL = os.path.join(BUILD, "control", "veilctl")
JUST = "INC-7: export while the log grows"


def lookups(sock, n, start):
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(sock)
        for i in range(start, start + n):
            a = veiltest.api_call_on(s, {"cmd": "lookup", "tenant": "acme",
                                         "justification": JUST, "kind": "user",
                                         "name": "user%05d" % i})
            if a is None or not a.get("ok"):
                return False
    return True


def newest(sock):
    a = veiltest.api_call(sock, {"cmd": "audit.show", "limit": 1})
    return a["records"][-1]["seq"] if a and a.get("records") else 0


def main():
    root = tempfile.mkdtemp(prefix="veil-export-")
    d = veiltest.Controld(BUILD, root)
    try:
        d.start(tenants=["acme"])
        check(lookups(d.sock, 3000, 0), "3,000 lookups")
        n0 = newest(d.sock)
        p = subprocess.Popen([VEILCTL, "--socket", d.sock, "audit", "export", "--csv"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
        first = p.stdout.readline()  # the header (unbuffered: nothing read past it)
        check(first.startswith(b"seq,"), "the CSV header (%r)" % first[:40])
        check(lookups(d.sock, 600, 3000), "600 more lookups while it runs")
        rest, err = p.communicate(timeout=120)
        check(p.returncode == 0, "the export ends, status 0 (%d: %s)" % (p.returncode, err[-300:]))
        rows = list(csv.reader(io.StringIO(rest.decode("utf-8", "replace"))))
        seqs = [int(r[0]) for r in rows if r]
        check(seqs == list(range(1, n0 + 1)),
              "every record up to the newest at its start (%d), once, in order; none "
              "after it (got %d rows, %s..%s)" % (n0, len(seqs), seqs[:1], seqs[-1:]))
        check(newest(d.sock) >= n0 + 600, "the records of the lookups meanwhile exist")
    finally:
        d.stop()
        shutil.rmtree(root, ignore_errors=True)
    return veiltest.finish("audit-export")


if __name__ == "__main__":
    sys.exit(main())
