#!/usr/bin/env python3
# SPDX-License-Identifier: LicenseRef-veil-proprietary
"""Every line that enters is counted once and ends in exactly one place:
written whole, dropped with a reason, held, or not written. A real
veil-controld with a tenant, veil-dataplane in snapshot mode on a mixed
log, with outputs that fail part way:

  1. an output file that can take only part of the run (RLIMIT_FSIZE,
     the same EFBIG/partial write a full disk gives): lines_in is the
     input's line count, lines_out the whole lines in the file, the file
     ends with a whole line (a failed write is cut back), and
     in = out + dropped + held + not_written, in the --json summary and in
     the link's counters (veilctl stats); the exit status is non-zero;
  2. the same with two workers;
  3. an output where no write succeeds (/dev/full): nothing written,
     everything accounted for, non-zero exit;
  4. the same run without a fault: everything written, exit 0.

usage: accounting.py BUILD_DIR
"""
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile

import veiltest
from veiltest import check

BUILD = sys.argv[1]
HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLE = os.path.join(HERE, "..", "..", "platform", "demo", "sample.log")


def lines_of(path):
    with open(path, "rb") as f:
        data = f.read()
    return data.count(b"\n"), data


def run(ctld, inp, out, eal=None, fsize=None):
    def limit():
        if fsize is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    p = subprocess.run([os.path.join(BUILD, "dataplane", "veil-dataplane")]
                       + (eal or veiltest.SNAPSHOT_EAL) + ["--", "-c", ctld.conf,
                       "--tenant", "acme", "--in", inp, "--out", out, "--json"],
                       capture_output=True, timeout=120, preexec_fn=limit)
    err = p.stderr.decode("utf-8", "replace")
    return p.returncode, veiltest.summary_of(err), err


def identity(s):
    return s["lines_in"] == (s["lines_out"] + s["lines_dropped"] + s["lines_held"]
                             + s["lines_not_written"])


def check_run(name, ctld, inp, n_in, out, rc, s, err, faulty):
    check(s is not None, "%s: a JSON summary (%s)" % (name, err[-400:]))
    if s is None:
        return
    fig = "in %d out %d dropped %d held %d not_written %d" % (
        s["lines_in"], s["lines_out"], s["lines_dropped"], s["lines_held"],
        s["lines_not_written"])
    check(s["lines_in"] == n_in, "%s: lines_in is the input's %d lines (%s)"
          % (name, n_in, fig))
    check(identity(s), "%s: in = out + dropped + held + not_written (%s)" % (name, fig))
    whole = 0
    if os.path.exists(out) and os.path.isfile(out):
        whole, data = lines_of(out)
        check(data == b"" or data.endswith(b"\n"),
              "%s: the output ends with a whole line (last bytes %r)" % (name, data[-20:]))
    if out != "/dev/full":
        check(s["lines_out"] == whole, "%s: lines_out %d is the %d whole lines in the "
              "output" % (name, s["lines_out"], whole))
    if faulty:
        check(rc != 0, "%s: exit status non-zero when lines were not written (%d)"
              % (name, rc))
        check(s["lines_not_written"] > 0, "%s: lines not written are counted" % name)
    else:
        check(rc == 0, "%s: exit 0 (%d: %s)" % (name, rc, err[-300:]))
        check(s["lines_not_written"] == 0 and s["lines_out"] == n_in,
              "%s: everything written (%s)" % (name, fig))
    # the link's counters say the same (controld's view of the run)
    rc2, st = ctld.ctl("stats")
    t = st.get("totals", st) if isinstance(st, dict) else {}
    if rc2 == 0 and "lines_in" in t:
        check(t["lines_in"] == s["lines_in"], "%s: controld's lines_in %s = %d"
              % (name, t.get("lines_in"), s["lines_in"]))
        if "lines_not_written" in t:
            check(t["lines_not_written"] == s["lines_not_written"],
                  "%s: controld's lines_not_written %s = %d" % (
                      name, t["lines_not_written"], s["lines_not_written"]))
        else:
            check(False, "%s: controld's stats have lines_not_written (%s)"
                  % (name, sorted(t)))


def main():
    root = tempfile.mkdtemp(prefix="veil-acct-")
    ctld = veiltest.Controld(BUILD, root)
    try:
        ctld.start(tenants=["acme"])
        inp = os.path.join(root, "in.log")
        with open(SAMPLE, "rb") as f:
            sample = f.read()
        with open(inp, "wb") as f:
            for _ in range(400):
                f.write(sample)
        n_in, _ = lines_of(inp)
        size = os.path.getsize(inp)
        # a limit that falls inside a line, well into the run
        limit = size // 3 + 7

        out = os.path.join(root, "a.out")
        rc, s, err = run(ctld, inp, out, fsize=limit)
        check_run("file limit", ctld, inp, n_in, out, rc, s, err, True)

        out = os.path.join(root, "b.out")
        rc, s, err = run(ctld, inp, out, eal=veiltest.two_workers_eal(), fsize=limit)
        check_run("file limit, 2 workers", ctld, inp, n_in, out, rc, s, err, True)

        rc, s, err = run(ctld, inp, "/dev/full")
        check_run("/dev/full", ctld, inp, n_in, "/dev/full", rc, s, err, True)
        if s is not None:
            check(s["lines_out"] == 0, "/dev/full: nothing written (%d)" % s["lines_out"])

        out = os.path.join(root, "c.out")
        rc, s, err = run(ctld, inp, out)
        check_run("no fault", ctld, inp, n_in, out, rc, s, err, False)
    finally:
        ctld.stop()
        shutil.rmtree(root, ignore_errors=True)
    sys.exit(veiltest.finish("accounting"))


if __name__ == "__main__":
    main()
