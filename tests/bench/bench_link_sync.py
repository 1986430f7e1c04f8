#!/usr/bin/env python3
# SPDX-License-Identifier: LicenseRef-veil-proprietary
"""Link sync benchmark (a `meson benchmark`, never a test): figures only.

  (1) bench_link alone: the link server and a dataplane's side in one
      process over 100,000 tenants (no database): time to the full sync at
      controld's settings, keys/s back to back, and a slow dataplane;
  (2) a real veil-controld on a state directory of its own with N tenants
      (default 100,000), created through its API (16 connections, so that
      the group commit takes many at once): tenants/s; then bench_link
      --attach plays the dataplane on controld's link socket: time from
      HELLO to SYNC_DONE, keys/s (every key read from the database by the
      resync's cursor and unwrapped).

If controld refuses a create (a tenant limit), (2) goes on with the tenants
it took and says so.

usage: bench_link_sync.py BUILD_DIR [--tenants N]
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

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "integration"))
import veiltest  # noqa: E402

BUILD = sys.argv[1]
N = int(sys.argv[sys.argv.index("--tenants") + 1]) if "--tenants" in sys.argv else 100000
BENCH = os.path.join(BUILD, "tests", "bench_link")
CONNS = 16


def creates(sock_path, ids, out):
    """tenant.create for each id, one after the other on one connection;
    appends the ids made to out, stops at the first refusal."""
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock_path)
    for t in ids:
        a = veiltest.api_call_on(s, {"cmd": "tenant.create", "tenant": t})
        if a is None:
            out.append(("error", "connection closed"))
            return
        if not a.get("ok"):
            out.append(("error", a.get("error")))
            return
        out.append(("ok", t))
    s.close()


def main():
    if not os.access(BENCH, os.X_OK):
        print("bench_link_sync: %s not built" % BENCH)
        return 1
    print("(1) the link alone")
    sys.stdout.flush()
    if subprocess.run([BENCH, "--tenants", "100000"]).returncode != 0:
        return 1

    root = tempfile.mkdtemp(prefix="veil-bench-link-")
    os.chmod(root, 0o755)
    d = veiltest.Controld(BUILD, root)
    try:
        d.start()
        ids = ["tenant-%06d" % i for i in range(N)]
        results = [[] for _ in range(CONNS)]
        threads = [threading.Thread(target=creates,
                                    args=(d.sock, ids[i::CONNS], results[i]))
                   for i in range(CONNS)]
        t0 = time.time()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        dt = time.time() - t0
        made = sum(1 for r in results for k, _ in r if k == "ok")
        errs = [e for r in results for k, e in r if k == "error"]
        print("(2) veil-controld: %d tenants created through the API in %.1f s "
              "(%.0f/s, %d connections)" % (made, dt, made / dt if dt else 0, CONNS))
        if errs:
            print("    controld refused more: %s" % errs[0])
        p = subprocess.run([BENCH, "--attach", d.link, "--timeout", "600"],
                           stdout=subprocess.PIPE, text=True)
        if p.returncode != 0:
            print("bench_link_sync: the dataplane's side got no complete sync")
            return 1
        r = json.loads(p.stdout)
        print("    a dataplane attaching: %d keys, full sync %.3f s after its "
              "HELLO (first key after %.3f s), %.0f keys/s"
              % (r["keys"], r["seconds"], r["first_key_s"], r["keys_per_s"]))
        if r["keys"] != made:
            print("bench_link_sync: %d keys for %d tenants" % (r["keys"], made))
            return 1
    finally:
        d.stop()
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
