#!/usr/bin/env python3
# SPDX-License-Identifier: LicenseRef-veil-proprietary
"""Who may be at the other end of the link (docs/link-protocol.md), as root:

A. an impostor: a veil-controld of uid 65534 (nobody), with its own state
   and a tenant acme, listens at the link socket a root veil-dataplane is
   configured with (controld_user = root). The dataplane refuses it, counts
   it, never takes a key from it (lines dropped no-key, or held); once the
   impostor is gone and the real veil-controld starts there, the dataplane
   attaches and its tokens resolve with the real keys.
B. the reverse: veil-link-peer, then veil-dataplane, as nobody, at the
   real controld (dataplane_user root by default): refused, counted,
   logged; the dataplane says why its lines got no key.
C. the real controld restarts: the dataplane reattaches, through the same
   checks, and the new controld shows it connected and synced.

usage: link_trust.py BUILD_DIR
"""
import atexit
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import veiltest
from veiltest import check

BUILD = sys.argv[1]
NOBODY = 65534
JUST = "INC-77: who sent this through the impostor test?"
NAMES = ["alice.trust", "bob.trust", "carol.trust"]


def reachable(build):
    """The build as uid nobody can exec it: veiltest.reachable_build where
    there is one; else a copy of the programs nobody runs in a new 0755
    directory under /tmp (a clone under /root is mode 0700)."""
    if hasattr(veiltest, "reachable_build"):
        return veiltest.reachable_build(build)
    d = tempfile.mkdtemp(prefix="veil-bin-")
    os.chmod(d, 0o755)
    atexit.register(shutil.rmtree, d, True)
    os.mkdir(os.path.join(d, "control"), 0o755)
    os.mkdir(os.path.join(d, "dataplane"), 0o755)
    for rel in ("control/veil-controld", "control/veil-link-peer", "dataplane/veil-dataplane"):
        shutil.copy2(os.path.join(build, rel), os.path.join(d, rel))
        os.chmod(os.path.join(d, rel), 0o755)
    return d


def as_nobody():
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)


def lines(tag, n):
    return "".join("CEF:0|V|P|1|1|n|1|src=10.0.0.%d suser=%s shost=WS-%s-%d\n"
                   % (i % 250, NAMES[i % 3], tag, i % 7) for i in range(n))


def wait_for(pred, what, tries=200):
    """Poll @pred every 50 ms until it returns a true value (that value), or
    give up: None."""
    for _ in range(tries):
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    print("gave up waiting for %s" % what, flush=True)
    return None


def link_status(d):
    rc, a = d.ctl("status")
    return a.get("dataplane", {}) if rc == 0 else {}


class Impostor(veiltest.Controld):
    """A veil-controld of uid nobody, its files owned by nobody, its link
    socket at @link."""

    def __init__(self, bins, root, link):
        os.mkdir(root)
        os.chown(root, NOBODY, NOBODY)
        super().__init__(BUILD, root, link, extra="")
        with open(self.conf, "a") as f:
            f.write("[roles]\nadmin = uid:%d\n" % NOBODY)
        self.bins = bins

    def start(self, tenants=()):
        self.log = open(os.path.join(self.root, "ctld.log"), "a")
        self.proc = subprocess.Popen([os.path.join(self.bins, "control", "veil-controld"),
                                      "-f", "-c", self.conf], stderr=self.log,
                                     preexec_fn=as_nobody)
        if not veiltest.wait_unix(self.sock, self.proc):
            raise RuntimeError("the impostor did not start: %s" % self.errors())
        for t in tenants:
            rc, a = self.ctl("tenant", "create", t)
            if rc != 0:
                raise RuntimeError("impostor: tenant create %s: %r" % (t, a))

    def errors(self):
        with open(os.path.join(self.root, "ctld.log")) as f:
            return f.read()


def resolve_all(d, path):
    """Every user token of @path through controld @d: (tokens, names)."""
    rc, a = d.ctl("resolve", "-t", "acme", "-j", JUST, "--text", "--file", path)
    return rc, a


def main():
    if os.geteuid() != 0:
        print("link-trust: needs root (a controld of another uid)")
        return 77
    root = tempfile.mkdtemp(prefix="veil-trust-")
    os.chmod(root, 0o755)
    bins = reachable(BUILD)
    rundir = os.path.join(root, "run")          # the link socket's directory,
    os.mkdir(rundir, 0o750)                     # nobody's for the attack
    os.chown(rundir, NOBODY, NOBODY)
    link = os.path.join(rundir, "link.sock")
    dpconf = os.path.join(root, "dp.conf")
    with open(dpconf, "w") as f:
        f.write("[dataplane]\nlink_socket = %s\ncontrold_user = root\n" % link)
    imp = Impostor(bins, os.path.join(root, "imp"), link)
    real = None
    dp = None
    try:
        # ---- A: the impostor -------------------------------------------
        imp.start(tenants=["acme"])
        st = link_status(imp)
        check(st.get("socket") == link, "the impostor listens at the dataplane's "
              "link socket: %r" % st)

        # a snapshot run: every line dropped for want of a key, none written
        src = os.path.join(root, "a.log")
        with open(src, "w") as f:
            f.write(lines("A", 30))
        out = os.path.join(root, "a.out")
        rc, s, err = veiltest.run_dataplane(BUILD, ["-c", dpconf, "--wait-keys", "1",
                                                    "--tenant", "acme", "--in", src,
                                                    "--out", out],
                                            eal=veiltest.SNAPSHOT_EAL)
        check(rc == 1 and s is not None and s["lines_out"] == 0
              and s["dropped"]["no-key"] == 30 and os.path.getsize(out) == 0,
              "A: nothing written with the impostor's key: rc %d %r" % (rc, s and {
                  k: s[k] for k in ("lines_out", "dropped")}))
        check(s is not None and s["link"]["attached"] is False
              and s["link"]["refused_peers"] >= 1 and s["link"]["refused_uid"] == NOBODY
              and s["link"]["key_versions"] == 0,
              "A: the summary counts the refusals, uid %d, no key: %r"
              % (NOBODY, s and s["link"]))
        check(s is not None and s["no_key"] and "served by uid %d" % NOBODY
              in s["no_key"][0]["why"], "A: the summary says why: %r"
              % (s and s["no_key"]))
        check(re.search(r"REFUSED the link at %s: it is served by uid %d"
                        % (re.escape(link), NOBODY), err) is not None,
              "A: a log line names the uid: %s" % err[-800:])

        # a dataplane that keeps running (its telemetry on): its lines are
        # held while the impostor is there, and go out with the real
        # controld's keys
        prefix = "veiltrust%d" % os.getpid()
        tel = os.path.join(veiltest.dpdk_runtime_dir(prefix), "dpdk_telemetry.v2")
        dp = subprocess.Popen([os.path.join(BUILD, "dataplane", "veil-dataplane"), "--no-huge", "--no-pci",
                               "--file-prefix", prefix, "-l", "0-1",
                               "--", "-c", dpconf, "--wait-keys", "600", "--tenant", "acme",
                               "--in", "-", "--out", os.path.join(root, "held.out"),
                               "--json"], stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        dp.stdin.write(lines("H", 40).encode())
        dp.stdin.flush()

        def telemetry_link():
            try:
                return veiltest.telemetry_query(tel, "/veil/link")[1] or {}
            except (OSError, ValueError):
                return {}
        # refused more than once: it keeps trying, and keeps refusing
        lk = wait_for(lambda: (lambda t: t if t.get("refused_peers", 0) >= 2 else None)(
            telemetry_link()), "two refusals in the dataplane's telemetry")
        check(lk is not None and lk["refused_uid"] == NOBODY and lk["connected"] == 0
              and lk["attaches"] == 0 and lk["socket"] == link,
              "A: the dataplane's telemetry counts the refusals, uid %d: %r" % (NOBODY, lk))
        st = link_status(imp)
        check(st.get("connections") == 0 and st.get("synced") is False,
              "A: the impostor never handed it a region: %r" % st)
        check(os.path.getsize(os.path.join(root, "held.out")) == 0,
              "A: nothing written while the impostor is there")
        imp.stop()

        # the real controld: it will not take a directory nobody owns
        real_root = os.path.join(root, "real")
        os.mkdir(real_root, 0o700)
        real = veiltest.Controld(BUILD, real_root, link)
        p = subprocess.run([os.path.join(BUILD, "control", "veil-controld"), "-f", "-c",
                            real.conf], capture_output=True, text=True, timeout=30)
        check(p.returncode == 1 and "belongs to uid %d" % NOBODY in p.stderr,
              "A: the real controld refuses a link directory of another user: %s"
              % p.stderr.strip())
        os.chown(rundir, 0, 0)
        os.chmod(rundir, 0o755)  # B: nobody may reach the socket (and be refused)
        real.start(tenants=["acme"])
        st = wait_for(lambda: (lambda l: l if l.get("synced") and l.get("pid") == dp.pid
                               else None)(link_status(real)), "the dataplane at the real one")
        check(st is not None and st.get("uid") == 0 and st.get("refused_peers") == 0,
              "A: the dataplane attached to the real controld: %r" % st)
        lk = wait_for(lambda: (lambda t: t if t.get("synced") == 1 else None)(
            telemetry_link()), "the dataplane's telemetry to say synced")
        check(lk is not None and lk["connected"] == 1 and lk["attaches"] == 1,
              "A: its telemetry says connected and synced: %r" % lk)

        # ---- B: a dataplane of another uid, at the real controld ---------
        peer = subprocess.run([os.path.join(bins, "control", "veil-link-peer"), "--socket",
                               link, "--controld-user", "root", "--timeout", "1"],
                              capture_output=True, text=True, timeout=30,
                              preexec_fn=as_nobody)
        events = [json.loads(x) for x in peer.stdout.splitlines() if x.startswith("{")]
        kinds = {e["event"] for e in events}
        check(peer.returncode == 1 and "closed" in kinds and "attach" not in kinds
              and "key_add" not in kinds,
              "B: veil-link-peer as nobody gets no region, no key: %r" % sorted(kinds))
        st = link_status(real)
        check(st.get("refused_peers", 0) >= 1 and st.get("last_refused_uid") == NOBODY
              and st.get("connected") is True and st.get("pid") == dp.pid,
              "B: the real controld refused uid %d and counted it; its dataplane "
              "stays: %r" % (NOBODY, st))
        p = subprocess.run([os.path.join(BUILD, "control", "veilctl"), "--socket", real.sock,
                            "status"], capture_output=True, text=True, timeout=30)
        check("connections REFUSED (not the dataplane's uid; last uid %d)" % NOBODY
              in p.stdout, "B: veilctl status says so: %s" % p.stdout)
        with open(os.path.join(real_root, "ctld.log")) as f:
            log = f.read()
        check("refused a link connection from uid %d" % NOBODY in log,
              "B: controld's log names the uid: %s" % log[-600:])

        # veil-dataplane itself as nobody: it takes the (root) controld, the
        # controld does not take it; its lines are dropped, it says why
        nd = os.path.join(root, "nobody")
        os.mkdir(nd)
        os.chmod(nd, 0o777)
        nsrc = os.path.join(nd, "in.log")
        with open(nsrc, "w") as f:
            f.write(lines("N", 5))
        before = link_status(real).get("refused_peers", 0)
        rc, s, err = veiltest.run_dataplane(bins, ["--link", link, "--wait-keys", "0.5",
                                                   "--tenant", "acme", "--in", nsrc,
                                                   "--out", os.path.join(nd, "out")],
                                            eal=veiltest.SNAPSHOT_EAL, user=NOBODY)
        check(rc == 1 and s is not None and s["lines_out"] == 0
              and s["dropped"]["no-key"] == 5 and s["link"]["attached"] is False
              and "closed the connection without a region" in s["no_key"][0]["why"],
              "B: veil-dataplane as nobody gets no key, and says why: %r"
              % ((s and (s["link"], s["no_key"])),))
        check(link_status(real).get("refused_peers", 0) > before,
              "B: ... and controld counted it")

        # ---- C: the real controld restarts -------------------------------
        real.stop()
        real.start()
        st = wait_for(lambda: (lambda l: l if l.get("synced") and l.get("pid") == dp.pid
                               else None)(link_status(real)), "the dataplane after a restart")
        check(st is not None and st.get("connections") == 1,
              "C: the dataplane is back, synced, at the restarted controld: %r" % st)
        dp.stdin.write(lines("C", 20).encode())
        dp.stdin.close()
        err = dp.stderr.read().decode("utf-8", "replace")
        rc = dp.wait(timeout=60)
        s = veiltest.summary_of(err)
        held = os.path.join(root, "held.out")
        with open(held, "rb") as f:
            data = f.read()
        check(rc == 0 and s is not None and s["lines_out"] == 60 and s["lines_dropped"] == 0
              and s["lines_held"] == 0 and data.count(b"\n") == 60,
              "A, C: every line written once the real keys came: rc %s %r"
              % (rc, s and {k: s[k] for k in ("lines_out", "lines_dropped", "lines_held")}))
        check(s is not None and s["link"]["attaches"] == 2 and s["link"]["refused_peers"] >= 2
              and s["link"]["refused_uid"] == NOBODY,
              "A, C: two attaches (the real controld, then its restart), the "
              "impostor refused: %r" % (s and s["link"]))
        check(not any(n.encode() in data for n in NAMES), "no name in clear")
        rc, a = resolve_all(real, held)
        # a user and a device token a line
        check(rc == 0 and a.get("failed") == 0 and a.get("resolved") == 120
              and set(NAMES) <= set(a.get("names", [])),
              "the tokens resolve with the real controld's keys: %r"
              % {k: a.get(k) for k in ("resolved", "failed", "error")})
    finally:
        if dp is not None and dp.poll() is None:
            dp.kill()
            dp.wait()
        if dp is not None:
            shutil.rmtree(veiltest.dpdk_runtime_dir("veiltrust%d" % os.getpid()),
                          ignore_errors=True)
        imp.stop()
        if real is not None:
            real.stop()
        shutil.rmtree(root, ignore_errors=True)
    return veiltest.finish("link-trust")


if __name__ == "__main__":
    sys.exit(main())
