#!/usr/bin/env python3
# SPDX-License-Identifier: LicenseRef-veil-proprietary
"""Resolve benchmark (a `meson benchmark`, never a test): veil-controld on a
state directory of its own, then

  (a) one bulk resolve of 100,000 tokens in one request: tokens/s, and
  (b) single resolves from 8 concurrent clients for a few seconds:
      resolves/s, which is also audit records committed per second (every
      answered resolve has its own durable record).

usage: bench_resolve.py BUILD_DIR [--seconds S] [--tokens N]
"""
import json
import multiprocessing
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

BUILD = sys.argv[1]
SECONDS = float(sys.argv[sys.argv.index("--seconds") + 1]) if "--seconds" in sys.argv else 5.0
NTOK = int(sys.argv[sys.argv.index("--tokens") + 1]) if "--tokens" in sys.argv else 100000
JUST = "benchmark: resolve throughput measurement"


def call_raw(sock_path, body):
    """Send one encoded request, return the answer's raw bytes."""
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock_path)
    s.sendall(struct.pack(">I", len(body)) + body)
    hdr = b""
    while len(hdr) < 4:
        hdr += s.recv(4 - len(hdr))
    n = struct.unpack(">I", hdr)[0]
    data = bytearray()
    while len(data) < n:
        chunk = s.recv(min(1 << 20, n - len(data)))
        if not chunk:
            break
        data += chunk
    s.close()
    return bytes(data)


def call(sock_path, req):
    return json.loads(call_raw(sock_path, json.dumps(req).encode()))


def worker(args):
    sock_path, token, seconds = args
    n = 0
    end = time.time() + seconds
    while time.time() < end:
        a = call(sock_path, {"cmd": "resolve", "tenant": "bench", "justification": JUST,
                             "token": token})
        if not a.get("ok") or a["resolved"] != 1:
            return -1
        n += 1
    return n


def main():
    root = tempfile.mkdtemp(prefix="veil-bench-")
    sock_path = os.path.join(root, "controld.sock")
    conf = os.path.join(root, "veil.conf")
    with open(conf, "w") as f:
        f.write("[controld]\nstate_dir = %s/state\nsocket = %s\nlink_socket = %s/link.sock\n"
                "rate_limit = 1000000\n\n[roles]\nadmin = uid:%d\n"
                % (root, sock_path, root, os.geteuid()))
    log = open(os.path.join(root, "ctld.log"), "w")
    ctld = subprocess.Popen([os.path.join(BUILD, "control", "veil-controld"), "-f", "-c", conf],
                            stderr=log)
    try:
        for _ in range(200):
            if os.path.exists(sock_path):
                break
            time.sleep(0.05)
        call(sock_path, {"cmd": "tenant.create", "tenant": "bench"})
        # The cost of a resolve does not depend on the name: the bulk request
        # repeats the tokens of 100 distinct names made by the daemon's lookup.
        names = ["user%06d@example.com" % i for i in range(100)]
        sample = []
        for n in names:
            a = call(sock_path, {"cmd": "lookup", "tenant": "bench", "justification": JUST,
                                 "kind": "user", "name": n})
            sample.append(a["tokens"][0]["token"])
        tokens = [sample[i % 100] for i in range(NTOK)]

        # timed: from the first byte of the request to the last byte of the
        # answer (the client's own JSON encoding and decoding are not)
        body = json.dumps({"cmd": "resolve", "tenant": "bench", "justification": JUST,
                           "tokens": tokens}).encode()
        t0 = time.time()
        raw = call_raw(sock_path, body)
        bulk_s = time.time() - t0
        a = json.loads(raw)
        assert a["ok"] and a["resolved"] == NTOK, a.get("error")
        st0 = call(sock_path, {"cmd": "status"})

        with multiprocessing.Pool(8) as pool:
            t0 = time.time()
            counts = pool.map(worker, [(sock_path, sample[0], SECONDS)] * 8)
            single_s = time.time() - t0
        assert all(c > 0 for c in counts), counts
        total = sum(counts)
        st = call(sock_path, {"cmd": "status"})

        print("veil-controld resolve benchmark (crypto %s)" % st["crypto"])
        print("  bulk resolve, %d tokens in one request: %.3f s = %.0f tokens/s "
              "(target >= 500000: %s)" % (NTOK, bulk_s, NTOK / bulk_s,
                                          "MET" if NTOK / bulk_s >= 500000 else "NOT MET"))
        commits = st["audit_commits"] - st0["audit_commits"]
        print("  bulk request %.1f MB, answer %.1f MB" % (len(body) / 1e6, len(raw) / 1e6))
        print("  single resolves, 8 clients, %.1f s: %d answered = %.0f resolves/s = "
              "%.0f audit records/s in %.0f commits/s (%.1f records per fsync; "
              "target >= 2000: %s)"
              % (single_s, total, total / single_s, total / single_s,
                 commits / single_s, total / max(commits, 1),
                 "MET" if total / single_s >= 2000 else "NOT MET"))
        print("  audit records in the log: %d" % st["audit_records"])
    finally:
        ctld.terminate()
        ctld.wait(timeout=10)
        log.close()
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
