#!/usr/bin/env python3
# SPDX-License-Identifier: LicenseRef-veil-proprietary
"""Control-plane scale benchmark (a `meson benchmark`, never a test): prints
figures, passes unless something breaks.

A state directory with TENANTS tenants of one key version and DEEP tenants
of VERSIONS live versions each, generated in bulk by tests/tools/gen_tenants
(the API's own functions, thousands of changes to a transaction;
tests/integration/scale_tenants.py checks it writes what the API writes).
Then veil-controld on it:

  - generation time;
  - start time (spawn to the socket answering), twice;
  - VmRSS and VmLck after the start and after the resolves;
  - a lookup of a tenant with VERSIONS versions, cold (every version
    unwrapped) and warm;
  - a resolve of one token of an old version: a cache miss (the version
    is unwrapped) and a hit;
  - a tenant create with all of them present.

usage: bench_scale.py BUILD_DIR [--tenants N] [--deep N] [--versions N]
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                "integration"))
import veiltest  # noqa: E402

BUILD = sys.argv[1]


def arg(name, default):
    return int(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default


TENANTS = arg("--tenants", 100000)
DEEP = arg("--deep", 10)
VERSIONS = arg("--versions", 400)
JUST = "benchmark: control plane at scale"
CTLD = os.path.join(BUILD, "control", "veil-controld")
GEN = os.path.join(BUILD, "tests", "gen_tenants")


req = veiltest.api_call


def status(pid):
    """VmRSS and VmLck of a process, in KiB."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmLck"):
                out[k] = int(v.split()[0])
    return out


class Ctld:
    def __init__(self, root):
        self.root = root
        self.sock = os.path.join(root, "controld.sock")
        self.conf = os.path.join(root, "veil.conf")
        with open(self.conf, "w") as f:
            f.write("[controld]\nstate_dir = %s/state\nsocket = %s\nlink_socket = %s\n"
                    "\n[roles]\nadmin = uid:%d\n" % (root, self.sock,
                                                    os.path.join(root, "link.sock"),
                                                    os.getuid()))
        self.proc = None

    def start(self):
        """Start it; the seconds until it answers a request."""
        if os.path.exists(self.sock):
            os.unlink(self.sock)
        t0 = time.monotonic()
        self.proc = subprocess.Popen([CTLD, "-f", "-c", self.conf],
                                     stderr=open(os.path.join(self.root, "ctld.log"), "a"))
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("controld exited: see %s/ctld.log" % self.root)
            try:
                if req(self.sock, {"cmd": "status"}).get("ok") is not None:
                    return time.monotonic() - t0
            except (OSError, ValueError):
                time.sleep(0.002)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


def timed(fn):
    t0 = time.monotonic()
    r = fn()
    return time.monotonic() - t0, r


def main():
    root = tempfile.mkdtemp(prefix="veil-bench-scale-")
    d = Ctld(root)
    try:
        t, _ = timed(lambda: subprocess.run([GEN, "-c", d.conf, "t", str(TENANTS), "1"],
                                            check=True))
        print("generate: %d tenants of 1 version: %.1f s" % (TENANTS, t))
        t, _ = timed(lambda: subprocess.run([GEN, "-c", d.conf, "y", str(DEEP),
                                             str(VERSIONS)], check=True))
        print("generate: %d tenants of %d versions: %.1f s" % (DEEP, VERSIONS, t))
        size = os.path.getsize(os.path.join(root, "state", "veil.db"))
        print("database: %.0f MB" % (size / 1e6))

        print("start: %.3f s (%d tenants, %d live versions)"
              % (d.start(), TENANTS + DEEP, TENANTS + DEEP * VERSIONS))
        st = status(d.proc.pid)
        print("after start: VmRSS %d KiB, VmLck %d KiB" % (st["VmRSS"], st["VmLck"]))
        deep = ["y%05d" % i for i in range(DEEP)]
        look = {"cmd": "lookup", "kind": "user", "name": "alice", "justification": JUST}
        t, a = timed(lambda: req(d.sock, dict(look, tenant=deep[0])))
        assert len(a["tokens"]) == VERSIONS, a
        print("lookup, %d versions, cold (each unwrapped): %.1f ms" % (VERSIONS, t * 1e3))
        t, a = timed(lambda: req(d.sock, dict(look, tenant=deep[0])))
        print("lookup, %d versions, warm: %.1f ms" % (VERSIONS, t * 1e3))
        toks = {}
        for ten in deep:
            toks[ten] = {o["version"]: o["token"] for o in
                         req(d.sock, dict(look, tenant=ten))["tokens"]}
        d.stop()

        print("start again: %.3f s" % d.start())
        res = {"cmd": "resolve", "justification": JUST}
        miss, hit = [], []
        for i, ten in enumerate(deep):
            v = 1 + (i * 37) % VERSIONS
            for out in (miss, hit):
                t, a = timed(lambda: req(d.sock, dict(res, tenant=ten, token=toks[ten][v])))
                assert a["names"] == ["alice"], a
                out.append(t)
        miss.sort()
        hit.sort()
        print("resolve of an old version, cache miss: median %.2f ms (%d tenants)"
              % (miss[len(miss) // 2] * 1e3, len(miss)))
        print("resolve of an old version, cache hit: median %.2f ms"
              % (hit[len(hit) // 2] * 1e3))
        t, a = timed(lambda: req(d.sock, dict(res, tenant=deep[-1],
                                              tokens=list(toks[deep[-1]].values()))))
        assert a["resolved"] == VERSIONS, a
        print("bulk resolve, one token of each of %d versions: %.1f ms"
              % (VERSIONS, t * 1e3))
        t, a = timed(lambda: req(d.sock, {"cmd": "tenant.create", "tenant": "zz-new"}))
        assert a.get("ok"), a
        print("tenant create with %d present: %.1f ms" % (TENANTS + DEEP, t * 1e3))
        st = status(d.proc.pid)
        print("after the requests: VmRSS %d KiB, VmLck %d KiB" % (st["VmRSS"], st["VmLck"]))
    finally:
        d.stop()
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
