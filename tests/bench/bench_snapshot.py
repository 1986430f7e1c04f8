#!/usr/bin/env python3
# SPDX-License-Identifier: LicenseRef-veil-proprietary
"""Snapshot-mode benchmark (a `meson benchmark`, never a test): veil-controld
on a state directory of its own with a tenant, then veil-dataplane (the
snapshot defaults, format auto, one tenant) on files of the messages of the
gen_corpus.py corpus (`cut -f2`) in /tmp, the output to a file in /tmp:

  (a) the corpus's messages once (about 50 MB), and
  (b) the same repeated to about 1 GB (skipped, with a message, when /tmp
      has less than 3 GB free: the input and its output);
  each with one worker, then again with two worker lcores (a2, b2).

Reports MB/s end to end (wall clock of the process, keys from controld
included) and the dataplane's own summary figure. Never fails on a figure.

usage: bench_snapshot.py BUILD_DIR CORPUS [--gb G]
"""
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                "integration"))
import veiltest  # noqa: E402 (tests/integration, on the path above)

BUILD, CORPUS = sys.argv[1], sys.argv[2]
GB = float(sys.argv[sys.argv.index("--gb") + 1]) if "--gb" in sys.argv else 1.0
TARGET = 500.0     # MB/s, issue 5
BASELINE = "first cut by hand: 190-280 MB/s on 25.7 MB, 210-290 MB/s on 257 MB"


def run(label, path, out, link, eal=None):
    size = os.path.getsize(path)
    t0 = time.monotonic()
    rc, s, err = veiltest.run_dataplane(BUILD, ["--link", link, "--tenant", "bench",
                                              "--in", path, "--out", out],
                                        eal=eal, timeout=1800)
    wall = time.monotonic() - t0
    if rc != 0 or s is None:
        print("  %s: veil-dataplane exit %d: %s" % (label, rc, err[-400:]))
        return
    print("  %-28s %7.1f MB in %6.2f s: %6.1f MB/s end to end (process wall clock), "
          "%6.1f MB/s by its summary; %d lines, %d written, %d dropped"
          % (label, size / 1e6, wall, size / 1e6 / wall, s["mb_per_s"], s["lines_in"],
             s["lines_out"], s["lines_dropped"]))
    return size / 1e6 / wall


def main():
    with open(CORPUS, "rb") as f:
        msgs = b"".join(l.split(b"\t", 1)[1] for l in f if b"\t" in l)
    print("veil snapshot benchmark: veil-dataplane (snapshot defaults, format auto, "
          "one tenant, keys from a real veil-controld), input and output in /tmp")
    print("  baseline: %s; target >= %.0f MB/s on 1 GB" % (BASELINE, TARGET))
    root = tempfile.mkdtemp(prefix="veil-bench-snap-")
    link = os.path.join(root, "link.sock")
    small = os.path.join(tempfile.gettempdir(), "veil-bench-snap-%d.log" % os.getpid())
    big = os.path.join(tempfile.gettempdir(), "veil-bench-snap-%d-1g.log" % os.getpid())
    out = os.path.join(tempfile.gettempdir(), "veil-bench-snap-%d.out" % os.getpid())
    d = veiltest.Controld(BUILD, root, link)
    try:
        d.start(tenants=["bench"])
        with open(small, "wb") as f:
            f.write(msgs)
        run("(a) the corpus once", small, out, link)
        os.unlink(out)
        run("(a2) the same, 2 workers", small, out, link, veiltest.two_workers_eal())
        os.unlink(out)
        free = shutil.disk_usage(tempfile.gettempdir()).free
        if free < 3 * 1024 ** 3:
            print("  (b) 1 GB: skipped, %s has %.1f GB free (needs 3 GB)"
                  % (tempfile.gettempdir(), free / 1024 ** 3))
        else:
            reps = max(1, int(GB * 1e9 / len(msgs)) + 1)
            with open(big, "wb") as f:
                for _ in range(reps):
                    f.write(msgs)
            r = run("(b) %.0f x the corpus" % reps, big, out, link)
            if r is not None:
                print("  (b) vs target %.0f MB/s: %s" % (TARGET, "MET" if r >= TARGET
                                                         else "NOT MET"))
            os.unlink(out)
            r2 = run("(b2) the same, 2 workers", big, out, link, veiltest.two_workers_eal())
            if r2 is not None and r is not None:
                print("  (b2) vs target %.0f MB/s: %s; %.2fx 1 worker"
                      % (TARGET, "MET" if r2 >= TARGET else "NOT MET", r2 / r))
    finally:
        for p in (small, big, out):
            if os.path.exists(p):
                os.unlink(p)
        d.stop()
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
