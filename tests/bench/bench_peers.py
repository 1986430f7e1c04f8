#!/usr/bin/env python3
# SPDX-License-Identifier: LicenseRef-veil-proprietary
"""Peer benchmark (a `meson benchmark`, never a test): CPU seconds per
million lines of veil next to the best a stock log pipeline does, on the
same generated corpus (gen_corpus.py, its messages), from the same run.

  syslog-ng  3.38 (Debian's syslog-ng-core): the messages on stdin, a regex
             parser for the user and one for the device name, five regex
             substitutions (`subst`) of the user and device fields with a
             salted SHA-256 of the name (`$(sha256)`), to a file;
  veil       veil-dataplane in snapshot mode (format auto, one worker, one
             tenant with its key from a real veil-controld), to a file.

CPU time is the process's user + system time (wait4), the median of --runs
runs of each (interleaved). Prints the figures and the ratio; never fails
on a figure or a missing peer (it says why it skipped).

syslog-ng-core conflicts with rsyslog (both provide system-log-daemon), and
the test suite needs rsyslog: so its package and the libraries it needs that
are not installed are fetched with `apt-get download` and unpacked into the
benchmark's temporary directory, and run from there. Nothing is installed
or removed.

usage: bench_peers.py BUILD_DIR [--lines N] [--runs R]
"""
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import veiltest  # noqa: E402 (tests/integration, on the path above)

BUILD = sys.argv[1]
LINES = int(sys.argv[sys.argv.index("--lines") + 1]) if "--lines" in sys.argv else 1000000
RUNS = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 5
TARGET = 20.0      # veil >= 20x fewer CPU seconds per line, issue 20
BASELINE = "about 6x (issue 20, 1M lines, 2-core VAES machine)"
SNG_VERSION = "3.38"

# The peer's job: find the user and the device name (regexp-parser), then
# replace every user and device field of the eight formats of the corpus
# with a salted SHA-256 of the name, in five substitutions.
SNG_CONF = r'''@version: %(version)s
options { keep-hostname(yes); chain-hostnames(no); stats-freq(0); log-msg-size(65536); };
source s_in { stdin(flags(no-parse)); };
parser p_user {
  regexp-parser(template("$MSG") prefix(".u.")
    patterns("(?:suser=|usrName=|user=\"|src_user_name:\"|\"login\":\"|user = |,allow-web,|GET \\S+ )(?<name>[^ \t\",;]+)"));
};
parser p_dev {
  regexp-parser(template("$MSG") prefix(".d.")
    patterns("(?:shost=|identHostName=|srcname=\"|src_machine_name:\"|\"devicehostname\":\")(?<name>[^ \t\",;\\]]+)"));
};
rewrite r_anon {
  subst("(?<=suser=|usrName=|user=\")[^ \t\",]+", "u-$(sha256 --length 24 \"%(salt)s${.u.name}\")", value("MESSAGE"));
  subst("(?<=src_user_name:\"|\"login\":\"|user = |,allow-web,)[^ \t\",]+", "u-$(sha256 --length 24 \"%(salt)s${.u.name}\")", value("MESSAGE"));
  subst("(?<=\"deviceowner\":\")[^ \t\",]+|[^ \t]+(?= HIER_)", "u-$(sha256 --length 24 \"%(salt)s${.u.name}\")", value("MESSAGE"));
  subst("(?<=shost=|identHostName=|srcname=\")[^ \t\",]+", "d-$(sha256 --length 16 \"%(salt)s${.d.name}\")", value("MESSAGE"));
  subst("(?<=src_machine_name:\"|\"devicehostname\":\")[^ \t\",\\]]+", "d-$(sha256 --length 16 \"%(salt)s${.d.name}\")", value("MESSAGE"));
};
destination d_out { file("%(out)s" template("$MSG\n")); };
log {
  source(s_in);
  junction { channel { parser(p_user); flags(final); }; channel { flags(final); }; };
  junction { channel { parser(p_dev); flags(final); }; channel { flags(final); }; };
  rewrite(r_anon);
  destination(d_out);
  flags(flow-control);
};
'''


def sh(cmd, cwd=None, timeout=600):
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout + p.stderr


def depends(pkg):
    """The first alternative of each of @pkg's Depends, without versions."""
    rc, out = sh(["apt-cache", "show", "--no-all-versions", pkg])
    m = re.search(r"^Depends: (.*)$", out, re.M) if rc == 0 else None
    if m is None:
        return []
    return [d.split("|")[0].split("(")[0].strip().split(":")[0]
            for d in m.group(1).split(",")]


def installed(pkg):
    rc, out = sh(["dpkg-query", "-W", "-f=${Status}", pkg])
    return rc == 0 and "install ok installed" in out


def fetch_syslog_ng(root):
    """syslog-ng unpacked under @root: (argv prefix, environment), or
    (None, reason)."""
    if os.geteuid() != 0:
        return None, "fetching syslog-ng-core with apt-get needs root"
    pkgs = ["syslog-ng-core"] + [d for d in depends("syslog-ng-core") if not installed(d)]
    dl = os.path.join(root, "debs")
    os.makedirs(dl)
    os.chmod(dl, 0o755)
    cmd = ["apt-get", "download", "-q", "-o", "APT::Sandbox::User=root"] + pkgs
    rc, out = sh(cmd, cwd=dl)
    if rc != 0:  # stale or missing package lists: once more after an update
        sh(["apt-get", "update", "-qq"])
        rc, out = sh(cmd, cwd=dl)
    if rc != 0:
        return None, "apt-get download %s failed: %s" % (" ".join(pkgs), out.strip()[-300:])
    tree = os.path.join(root, "sng")
    for deb in sorted(os.listdir(dl)):
        rc, out = sh(["dpkg-deb", "-x", os.path.join(dl, deb), tree])
        if rc != 0:
            return None, "dpkg-deb -x %s: %s" % (deb, out.strip()[-300:])
    exe = os.path.join(tree, "usr", "sbin", "syslog-ng")
    mods = os.path.join(tree, "usr", "lib", "syslog-ng", SNG_VERSION)
    if not os.path.exists(exe) or not os.path.isdir(mods):
        return None, "syslog-ng-core is not version %s (no %s)" % (SNG_VERSION, mods)
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = ":".join([os.path.join(tree, "usr", "lib", "syslog-ng"),
                                       os.path.join(tree, "usr", "lib", "x86_64-linux-gnu"),
                                       os.path.join(tree, "lib", "x86_64-linux-gnu")])
    return ([exe, "-F", "--module-path=" + mods,
             "--persist-file=" + os.path.join(root, "sng.persist"),
             "--pidfile=" + os.path.join(root, "sng.pid"),
             "--control=" + os.path.join(root, "sng.ctl")], env), None


def count_lines(path):
    n = 0
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                return n
            n += b.count(b"\n")


def timed(argv, stdin=None, env=None, timeout=1800):
    """Run @argv to its end: (exit status, CPU seconds user + sys, wall
    seconds, stderr tail)."""
    err = tempfile.TemporaryFile()
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdin=stdin, stdout=subprocess.DEVNULL, stderr=err, env=env)
    deadline = t0 + timeout
    while True:
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid != 0:
            break
        if time.monotonic() > deadline:
            p.kill()
            pid, status, ru = os.wait4(p.pid, 0)
            break
        time.sleep(0.02)
    wall = time.monotonic() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    err.seek(0)
    tail = err.read()[-400:].decode("utf-8", "replace")
    err.close()
    return p.returncode, ru.ru_utime + ru.ru_stime, wall, tail


def run_syslog_ng(sng, root, msgs, nlines):
    argv, env = sng
    out = os.path.join(root, "sng.out")
    conf = os.path.join(root, "sng.conf")
    if os.path.exists(out):
        os.unlink(out)
    with open(conf, "w") as f:
        f.write(SNG_CONF % {"version": SNG_VERSION, "out": out, "salt": "s4lt-%d" % os.getpid()})
    # stdin() takes a pipe (not a regular file) and ends syslog-ng at its end
    cat = subprocess.Popen(["cat", msgs], stdout=subprocess.PIPE)
    rc, cpu, wall, err = timed(argv + ["-f", conf], stdin=cat.stdout, env=env)
    cat.stdout.close()
    cat.wait()
    got = count_lines(out) if os.path.exists(out) else 0
    if rc != 0 or got != nlines:
        print("  syslog-ng: exit %d, %d of %d lines out: %s" % (rc, got, nlines, err.strip()))
        return None
    return cpu, wall


def run_veil(link, root, msgs, nlines):
    out = os.path.join(root, "veil.out")
    if os.path.exists(out):
        os.unlink(out)
    rc, cpu, wall, err = timed([os.path.join(BUILD, "dataplane", "veil-dataplane"), "--", "--link", link,
                                "--tenant", "bench", "--in", msgs, "--out", out])
    got = count_lines(out) if os.path.exists(out) else 0
    if rc != 0 or got != nlines:
        print("  veil: exit %d, %d of %d lines out: %s" % (rc, got, nlines, err.strip()))
        return None
    return cpu, wall


def main():
    root = tempfile.mkdtemp(prefix="veil-bench-peers-")
    os.chmod(root, 0o755)
    link = os.path.join(root, "link.sock")
    d = None
    try:
        corpus = os.path.join(root, "corpus.tsv")
        rc, out = sh([sys.executable, os.path.join(HERE, "gen_corpus.py"), corpus,
                      "--lines", str(LINES)], timeout=1800)
        if rc != 0:
            print("peers: gen_corpus.py failed: %s" % out[-400:])
            return 0
        msgs = os.path.join(root, "messages.log")
        with open(corpus, "rb") as f, open(msgs, "wb") as g:
            for line in f:
                if b"\t" in line:
                    g.write(line.split(b"\t", 1)[1])
        nlines = count_lines(msgs)
        size = os.path.getsize(msgs)
        print("veil peer benchmark: %d lines of the gen_corpus.py mix (%.1f bytes a line), "
              "median of %d runs each, CPU = user + sys of the process" % (
                  nlines, size / max(nlines, 1), RUNS))
        print("  baseline: %s; target: veil >= %.0fx fewer CPU seconds per line" % (
            BASELINE, TARGET))
        sng, why = fetch_syslog_ng(root)
        if sng is None:
            print("  syslog-ng: skipped: %s" % why)
        d = veiltest.Controld(BUILD, root, link)
        d.start(tenants=["bench"])
        res = {"syslog-ng": [], "veil": []}
        for _ in range(RUNS):
            if sng is not None:
                r = run_syslog_ng(sng, root, msgs, nlines)
                if r is not None:
                    res["syslog-ng"].append(r)
            r = run_veil(link, root, msgs, nlines)
            if r is not None:
                res["veil"].append(r)
        med = {}
        for name, rs in res.items():
            if not rs:
                continue
            cpu = statistics.median(c for c, _ in rs)
            wall = statistics.median(w for _, w in rs)
            med[name] = cpu / nlines * 1e6
            print("  %-10s %8.2f CPU s per million lines (median of %d; runs %s), "
                  "%7.0f lines per CPU second, wall %.2f s" % (
                      name, med[name], len(rs), " ".join("%.2f" % c for c, _ in rs),
                      nlines / cpu if cpu > 0 else 0, wall))
        if "syslog-ng" in med and "veil" in med and med["veil"] > 0:
            ratio = med["syslog-ng"] / med["veil"]
            print("  ratio: syslog-ng spends %.1fx the CPU of veil per line (target >= %.0fx): %s"
                  % (ratio, TARGET, "MET" if ratio >= TARGET else "NOT MET"))
        else:
            print("  ratio: not measured (a side did not run)")
    except Exception as e:  # a benchmark reports, never fails
        print("peers: %s: %s" % (type(e).__name__, e))
    finally:
        if d is not None:
            d.stop()
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
