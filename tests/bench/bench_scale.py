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
  - a tenant create with all of them present;
  - a dataplane attaching on the link (tests/bench/bench_link --attach):
    the resync of every tenant's key;
  - audited lookups and resolves, one a request, from 8 and from 32
    connections: records/s (each answered request is one durable record);
  - then a governance log of RECORDS records over 400 days, generated in
    bulk by tests/bench/gen_audit (the store's own append: real MACs and
    chain; tests/integration/controld_offloop.py starts a daemon on one),
    and veil-controld on it: the start, and the latency of small requests
    (status, tenant.show) from 4 other callers while each long
    operation runs: the pruning of a quarter of it, audit export of the
    whole log (veilctl, page by page), audit verify; their throughput and
    peak RSS, and an extrapolation of each to 100,000,000 records (a
    year), labelled as such: computed, not measured.

Every target of the control plane at scale has its line; nothing is
asserted about a time.

With --rate-only, only the audited rates on 32 connections, on a state
directory of one tenant (no generation, no log at size): the quick check of
the request path.

usage: bench_scale.py BUILD_DIR [--tenants N] [--deep N] [--versions N]
                      [--records N] [--seconds S] [--rate-only]
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
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
RECORDS = arg("--records", 2000000)
SECONDS = arg("--seconds", 5)
YEAR = 100000000  # records: a year of a busy appliance
JUST = "benchmark: control plane at scale"
CTLD = os.path.join(BUILD, "control", "veil-controld")
GEN = os.path.join(BUILD, "tests", "gen_tenants")
GEN_AUDIT = os.path.join(BUILD, "tests", "gen_audit")
LINK = os.path.join(BUILD, "tests", "bench_link")
CALLS = os.path.join(BUILD, "tests", "bench_calls")


req = veiltest.api_call


def status(pid):
    """VmRSS and VmLck of a process, in KiB."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmLck", "VmHWM"):
                out[k] = int(v.split()[0])
    return out


class Ctld:
    def __init__(self, root, retention=3650):
        self.root = root
        self.sock = os.path.join(root, "controld.sock")
        self.conf = os.path.join(root, "veil.conf")
        self.link = os.path.join(root, "link.sock")
        self.write_conf(retention)
        self.proc = None

    def write_conf(self, retention):
        with open(self.conf, "w") as f:
            f.write("[controld]\nstate_dir = %s/state\nsocket = %s\nlink_socket = %s\n"
                    "rate_limit = 1000000\nconnections_per_uid = 64\naudit_retention_days = %d\n"
                    "\n[roles]\nadmin = uid:%d\n" % (self.root, self.sock, self.link,
                                                    retention, os.getuid()))

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


def link_resync(d):
    """A dataplane attaching: every tenant's current key over the link."""
    p = subprocess.run([LINK, "--attach", d.link, "--timeout", "600"],
                       stdout=subprocess.PIPE, text=True)
    if p.returncode != 0:
        print("link resync: no complete sync (bench_link exit %d)" % p.returncode)
        return
    r = json.loads(p.stdout)
    print("link resync of %d keys: %.3f s after HELLO (first key %.3f s), %.0f keys/s"
          % (r["keys"], r["seconds"], r["first_key_s"], r["keys_per_s"]))


def caller(sock_path, reqs, stop, lat, errors):
    """Requests in turn on one connection until @stop; each one's latency
    (s) into @lat."""
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(sock_path)
            i = 0
            while not stop.is_set():
                t = time.monotonic()
                a = veiltest.api_call_on(s, reqs[i % len(reqs)])
                lat.append(time.monotonic() - t)
                if a is None or not a.get("ok"):
                    errors.append(a)
                    return
                i += 1
    except OSError as e:
        errors.append(str(e))


def callers(sock_path, n, reqs):
    """Start @n callers; @return a function that stops them and returns
    (latencies, errors)."""
    stop = threading.Event()
    lat, errors = [], []
    th = [threading.Thread(target=caller, args=(sock_path, reqs, stop, lat, errors))
          for _ in range(n)]
    for t in th:
        t.start()

    def done():
        stop.set()
        for t in th:
            t.join()
        return lat, errors
    return done


def cpu_s(pid):
    """User and system seconds of a process so far (all its threads)."""
    with open("/proc/%d/stat" % pid) as f:
        v = f.read().rsplit(")", 1)[1].split()
    return (int(v[11]) + int(v[12])) / os.sysconf("SC_CLK_TCK")


def api_pid(pid):
    """The api process: the daemon's child."""
    with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
        kids = f.read().split()
    return int(kids[0]) if kids else None


def audited_rate(d, conns, what, req):
    """@conns callers (tests/bench/bench_calls: one C thread polling them
    all, so that the daemon is what is measured) send @req (an audited
    request) for SECONDS: records/s from the log's head, as committed, and
    the CPU time the key process and the api process spent a record (less
    sensitive to the machine's other load than the rate, which waits on
    fsync)."""
    a0 = veiltest.api_call(d.sock, {"cmd": "status"})
    api = api_pid(d.proc.pid)
    k0, p0 = cpu_s(d.proc.pid), cpu_s(api) if api else 0
    p = subprocess.run([CALLS, d.sock, str(conns), str(SECONDS), json.dumps(req)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    k1, p1 = cpu_s(d.proc.pid), cpu_s(api) if api else 0
    a1 = veiltest.api_call(d.sock, {"cmd": "status"})
    if p.returncode != 0:
        print("audited %s, %d connections: failed: %s" % (what, conns, p.stderr.strip()))
        return
    r = json.loads(p.stdout)
    recs = a1["audit_records"] - a0["audit_records"]
    commits = a1["audit_commits"] - a0["audit_commits"]
    ckpts = a1.get("wal_checkpoints", 0) - a0.get("wal_checkpoints", 0)
    rate = recs / r["seconds"]
    print("audited %s, %d connections: %.0f records/s (%d in %.1f s, %.1f a commit, %d WAL checkpoints; "
          "answers p50 %.2f ms, p99 %.2f ms; CPU a record: key process %.1f us, "
          "api process %.1f us)%s"
          % (what, conns, rate, recs, r["seconds"], recs / max(commits, 1), ckpts,
             r["p50_ms"], r["p99_ms"], (k1 - k0) * 1e6 / max(recs, 1),
             (p1 - p0) * 1e6 / max(recs, 1),
             " (target >= 30000 on 32: %s)" % ("MET" if rate >= 30000 else "NOT MET")
             if conns == 32 else ""))


def p99(lat):
    if not lat:
        return float("nan")
    lat = sorted(lat)
    return lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000


def under_load(d, what, fn, small):
    """Run fn() while 4 callers send @small; print its figures and the
    callers' p99. @return fn's result."""
    done = callers(d.sock, 4, small)
    t0 = time.monotonic()
    r = fn()
    secs = time.monotonic() - t0
    lat, errors = done()
    print("  %-44s %7.2f s; small requests meanwhile: %d, p99 %.1f ms, max %.1f ms "
          "(target p99 <= 10 ms: %s)%s"
          % (what, secs, len(lat), p99(lat), max(lat) * 1000 if lat else float("nan"),
             "MET" if p99(lat) <= 10 else "NOT MET",
             "; errors: %r" % errors[:1] if errors else ""))
    return secs, r


def big_log(d):
    """The governance log at size, and the small requests while the long
    operations on it run."""
    t, _ = timed(lambda: subprocess.run([GEN_AUDIT, "make", d.conf, str(RECORDS), "400"],
                                        check=True, stdout=subprocess.DEVNULL))
    print("governance log: %d records over 400 days generated in %.1f s (%.0f records/s)"
          % (RECORDS, t, RECORDS / t))
    # retention 300 days: a quarter of the log is due for pruning at start
    d.write_conf(300)
    print("start with %d records: %.3f s (%s)" % (
        RECORDS, d.start(), "the chain from the mark, the whole walk behind it"
        if RECORDS > 100000 else "the whole chain"))
    req(d.sock, {"cmd": "tenant.create", "tenant": "small"})
    # reads: a caller that adds records would keep an export chasing the head
    small = [{"cmd": "status"}, {"cmd": "tenant.show", "tenant": "small"}]

    def pruned():
        """Wait until the first housekeeping's prune (50,000 records a
        minute, 1,000 a step between passes) is through."""
        first = None
        for _ in range(600):
            a = veiltest.api_call(d.sock, {"cmd": "audit.show", "after_seq": 0, "limit": 1})
            first = a["records"][0]["seq"] if a.get("records") else None
            if first is not None and first > min(50000, RECORDS // 4) - 10:
                break
            time.sleep(0.05)
        return first
    secs, first = under_load(d, "pruning from the start (<= 50,000 records):", pruned,
                             small)
    print("    pruned up to record %s (the oldest left is %s)" % (
        first - 1 if first else "?", first))

    base = callers(d.sock, 4, small)
    time.sleep(2)
    lat, _ = base()
    print("  %-44s %d small requests in 2 s, p99 %.1f ms" % ("idle (no long work):",
                                                              len(lat), p99(lat)))

    vctl = os.path.join(BUILD, "control", "veilctl")

    def export():
        t = time.monotonic()
        p = subprocess.run(["/usr/bin/time", "-f", "%M", vctl, "--socket", d.sock,
                            "audit", "export", "--csv"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True)
        rss = p.stderr.strip().splitlines()[-1] if p.stderr.strip() else "?"
        return time.monotonic() - t, rss, p.returncode
    n = RECORDS - (first or 1) + 1
    secs, (esecs, rss, rc) = under_load(d, "audit export --csv of the whole log:",
                                        export, small)
    print("    %d records, %.0f records/s (exit %d), veilctl peak RSS %s KiB, "
          "controld VmHWM %d KiB" % (n, n / esecs, rc, rss, status(d.proc.pid)["VmHWM"]))
    print("    extrapolated to %d records (computed, not measured): %.0f s"
          % (YEAR, YEAR / (n / esecs)))
    secs, a = under_load(d, "audit verify of the whole log:",
                         lambda: veiltest.api_call(d.sock, {"cmd": "audit.verify"}), small)
    print("    %d records, %.0f records/s, intact %s" % (a.get("records", 0),
                                                     a.get("records", 0) / secs,
                                                     a.get("intact")))
    if a.get("records"):
        print("    extrapolated to %d records (computed, not measured): %.0f s"
              % (YEAR, YEAR / (a["records"] / secs)))
    secs, a = under_load(d, "audit show, pages of 10,000 from the oldest:",
                         lambda: show_all(d), small)
    print("    %d records in %d pages, %.0f records/s, controld VmHWM %d KiB"
          % (a[0], a[1], a[0] / secs, status(d.proc.pid)["VmHWM"]))
    d.stop()


def show_all(d):
    n = pages = 0
    req = {"cmd": "audit.show", "after_seq": 0, "limit": 10000}
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(d.sock)
        while True:
            a = veiltest.api_call_on(s, req)
            n += len(a["records"])
            pages += 1
            if "next_cursor" not in a:
                return n, pages
            req = {"cmd": "audit.show", "cursor": a["next_cursor"], "limit": 10000}


def rate_only():
    """The audited rates on 32 connections alone, one tenant."""
    root = tempfile.mkdtemp(prefix="veil-bench-rate-")
    d = Ctld(root)
    try:
        d.start()
        req(d.sock, {"cmd": "tenant.create", "tenant": "rate"})
        look = {"cmd": "lookup", "kind": "user", "name": "alice", "justification": JUST,
                "tenant": "rate"}
        tok = req(d.sock, look)["tokens"][0]["token"]
        audited_rate(d, 32, "lookup", look)
        audited_rate(d, 32, "resolve", {"cmd": "resolve", "justification": JUST,
                                        "tenant": "rate", "token": tok})
    finally:
        d.stop()
        shutil.rmtree(root, ignore_errors=True)
    return 0


def main():
    if "--rate-only" in sys.argv:
        return rate_only()
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
        link_resync(d)
        # a tenant of one version: one token a lookup
        req(d.sock, {"cmd": "tenant.create", "tenant": "rate"})
        tok = req(d.sock, dict(look, tenant="rate"))["tokens"][0]["token"]
        for conns in (8, 32):
            audited_rate(d, conns, "lookup", dict(look, tenant="rate"))
            audited_rate(d, conns, "resolve", dict(res, tenant="rate", token=tok))
        d.stop()
        # the log on a state directory of its own: the records above are
        # newer than the generated ones and would stop the prune
        os.mkdir(os.path.join(root, "log"))
        d = Ctld(os.path.join(root, "log"))
        big_log(d)
    finally:
        d.stop()
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
