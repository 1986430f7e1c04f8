#!/usr/bin/env python3
# SPDX-License-Identifier: LicenseRef-veil-proprietary
"""Network benchmark (a `meson benchmark`, never a test). With a real
veil-controld holding the tenant's key, in one run:

  (a) the in-memory rate of one worker: bench_worker (veil-dataplane's
      worker loop over the mem driver) on the generator's payloads;
  (b) the DPDK path: gen_syslog (ours, one lcore) sends COUNT UDP syslog
      datagrams of 256 payload bytes over net_memif to veil-dataplane's
      dpdk driver (one worker, the other lcore), which forwards each
      anonymized datagram back over the same memif to the generator;
      the rate is the generator's: datagrams back per second, from the
      first sent to the last received, after a warm-up (WARMUP datagrams
      sent and back before the clock starts: veil-dataplane's caches,
      pool and rings warm, as (a)'s are after its calibration pass);
      the generator outruns veil-dataplane (its TX-full retries say so),
      so the rate is veil-dataplane's;
  (c) TCP over loopback through the socket driver: a sender (Python,
      octet counted, large writes) to a [listen] tcp, forwarded to an
      [upstream] tcp (LF framed) that a Python reader counts;
  (d) the same over TLS (both legs).

Both do the same work: the same payloads, source, format and key, the
same worker loop and pipeline; (b) adds only the driver (and memif's
copies). (a) and (b) are alternated for --rounds rounds (default 5),
so that a machine whose speed drifts slows both alike; each is reported
per round, then as the median with its spread (min, max), and (b) as a
share of (a) by the medians and round by round. Payload Gbit/s is
reported for each, with (b), (c), (d) as a share of (a) against the
targets (DPDK >= 80 %, TCP >= 50 %). Never fails on a figure; a part
that cannot run here says why.

usage: bench_network.py BUILD_DIR [--count N] [--rounds R] [--only ab]
(--only ab: (a) and (b) alone, without (c) and (d). The default COUNT,
4,000,000, is about 2 s of (b) at 2M lines/s: as long as (a)'s pass.)
"""
import json
import os
import shutil
import statistics
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                "integration"))
import veiltest  # noqa: E402 (tests/integration, on the path above)

BUILD = sys.argv[1]
COUNT = int(sys.argv[sys.argv.index("--count") + 1]) if "--count" in sys.argv else 4000000
ROUNDS = max(1, int(sys.argv[sys.argv.index("--rounds") + 1])
             if "--rounds" in sys.argv else 5)
ONLY = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else ""
WARMUP = min(200000, max(COUNT // 10, 1000))
SIZE = 256
DP = os.path.join(BUILD, "dataplane", "veil-dataplane")
GEN = os.path.join(BUILD, "tests", "gen_syslog")
BENCH_WORKER = os.path.join(BUILD, "tests", "bench_worker")
VEIL_MAC = "02:00:00:00:00:10"


def gbps(lines, secs):
    return lines * SIZE * 8 / secs / 1e9 if secs > 0 else 0.0


def in_memory(root):
    """The worker loop of one worker over the mem driver (bench_worker, the
    code veil-dataplane runs, pass (b) only), on the generator's payloads."""
    tsv = os.path.join(root, "payloads.tsv")
    if not os.path.exists(tsv):
        path = os.path.join(root, "payloads.log")
        subprocess.run([GEN, "--dump", path, "--count", "4096", "--size", str(SIZE)],
                       check=True, timeout=300)
        with open(path, "rb") as f, open(tsv, "wb") as o:
            for line in f:
                o.write(b"cef\t" + line)
    p = subprocess.run([BENCH_WORKER, tsv, "--seconds", "2", "--pass", "b"],
                       capture_output=True, timeout=900)
    out = p.stdout.decode("utf-8", "replace")
    rate = None
    for line in out.splitlines():
        if line.strip().startswith("(b) worker, ipsec-mb"):
            # the first one is the 1-worker pass: "run N lines/s"
            rate = float(line.split("run", 1)[1].split()[0])
            break
    if p.returncode != 0 or rate is None:
        print("  (a) in memory: bench_worker exit %d: %s" % (p.returncode, out[-300:]))
        return None
    print("  (a) in memory, 1 worker:   %9.0f lines/s  %6.3f Gbit/s payload  "
          "(bench_worker: the worker loop over the mem driver, same payloads)"
          % (rate, rate * SIZE * 8 / 1e9))
    return rate


def write_conf(root, link, body):
    conf = os.path.join(root, "dataplane.conf")  # controld's is veil.conf
    with open(conf, "w") as f:
        f.write("[dataplane]\nlink_socket = %s\nwait_keys = 30\n\n"
                "[source fw]\ntenant = bench\nformat = cef\nnetworks = 10.1.0.0/16, "
                "127.0.0.0/8\n\n%s" % (link, body))
    return conf


def dpdk_path(root, link, base):
    """One run of the DPDK path. @return its rate (lines/s), or None."""
    sockp = os.path.join(root, "memif.sock")
    if os.path.exists(sockp):
        os.unlink(sockp)
    conf = write_conf(root, link,
                      "[network]\ndriver = dpdk\n\n[port p0]\ndevice = net_memif0\n"
                      "address = 192.0.2.10/24\nudp_ports = 514\nexception = none\n"
                      "next_hop_mac = 02:00:00:00:00:99\n\n"
                      "[upstream collector]\nprotocol = udp\naddress = 192.0.2.99:514\n")
    dp = subprocess.Popen([DP, "-l", "1", "--no-huge", "-m", "512", "--no-pci",
                           "--file-prefix", "veil-bench-dp-%d" % os.getpid(),
                           "--vdev", "net_memif0,role=server,socket=%s,mac=%s"
                           % (sockp, VEIL_MAC), "--", "-c", conf, "--json"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(200):
        if os.path.exists(sockp) or dp.poll() is not None:
            break
        time.sleep(0.05)
    if dp.poll() is not None:
        print("  (b) DPDK path: veil-dataplane exit %d: %s"
              % (dp.returncode, dp.stderr.read().decode()[-400:]))
        return None
    time.sleep(1.0)  # its keys from controld
    g = subprocess.run([GEN, "-l", "0", "--no-huge", "-m", "512", "--no-pci",
                        "--file-prefix", "veil-bench-gen-%d" % os.getpid(),
                        "--vdev", "net_memif0,role=client,socket=%s" % sockp, "--",
                        "--dst", "192.0.2.10", "--dst-mac", VEIL_MAC,
                        "--count", str(COUNT), "--warmup", str(WARMUP),
                        "--size", str(SIZE)],
                       capture_output=True, timeout=600)
    _, s, err = veiltest.stop_dataplane(dp)
    gj = None
    for line in g.stdout.decode().splitlines():
        if line.startswith("{"):
            gj = json.loads(line)
    if g.returncode != 0 or gj is None:
        print("  (b) DPDK path: generator exit %d: %s" % (g.returncode,
                                                        g.stderr.decode()[-400:]))
        return None
    rate = gj["pps"]
    print("  (b) DPDK path, memif:      %9.0f lines/s  %6.3f Gbit/s payload  "
          "(%d sent, %d back in %.2f s after a warm-up of %d; %.3f Gbit/s of "
          "anonymized payload back, its tokens are longer than the names; "
          "generator TX-full retries %d)"
          % (rate, gbps(rate, 1.0), gj["sent"], gj["received"], gj["seconds"],
             gj["warmup_received"], gj["payload_gbps"], gj["tx_full_retries"]))
    if s is not None:
        d = s.get("driver", {})
        drops = ", ".join("%s %d" % (k, v) for k, v in d.items()
                          if k.startswith("drop_") and v) or "none"
        print("      veil-dataplane (the warm-up included): %d lines in, %d out, %d dropped, %d identities; "
              "driver rx_packets %s, fast path %s; driver drops: %s"
              % (s["lines_in"], s["lines_out"], s["lines_dropped"], s["identities"],
                 d.get("rx_packets", "?"), d.get("rx_fast_path", "?"), drops))
    else:
        print("      veil-dataplane gave no summary: %s" % err[-300:])
    if base:
        print("      %.0f %% of this round's in-memory rate" % (rate / base * 100))
    return rate


def spread(xs):
    return "median %9.0f lines/s (%6.3f Gbit/s), min %9.0f, max %9.0f" % (
        statistics.median(xs), gbps(statistics.median(xs), 1.0), min(xs), max(xs))


def alternated(root, link):
    """(a) and (b), alternated ROUNDS times. @return the median of (a)."""
    mem, net, shares = [], [], []
    for rnd in range(ROUNDS):
        print("  round %d of %d:" % (rnd + 1, ROUNDS))
        a = in_memory(root)
        b = dpdk_path(root, link, a)
        if a:
            mem.append(a)
        if b:
            net.append(b)
        if a and b:
            shares.append(b / a)
    if mem:
        print("  (a) in memory, %d rounds:  %s" % (len(mem), spread(mem)))
    if net:
        print("  (b) DPDK path, %d rounds:  %s" % (len(net), spread(net)))
    if mem and net:
        share = statistics.median(net) / statistics.median(mem)
        print("      (b) / (a): %.0f %% by the medians (round by round: %s); target >= "
              "80 %%: %s" % (share * 100, ", ".join("%.0f %%" % (x * 100) for x in shares),
                             "MET" if share >= 0.8 else "NOT MET"))
    return statistics.median(mem) if mem else None


def stream_path(root, link, base, tls):
    label = "(d) TLS, loopback:        " if tls else "(c) TCP, loopback:        "
    lport, uport = veiltest.free_port(), veiltest.free_port()
    extra_l = extra_u = ""
    ctx_srv = ctx_cli = None
    if tls:
        veiltest.make_certs(root)
        ca, crt, key = (os.path.join(root, n) for n in ("ca.pem", "srv.pem", "srv.key"))
        extra_l = "tls_cert = %s\ntls_key = %s\n" % (crt, key)
        extra_u = "tls_ca = %s\ntls_server_name = localhost\n" % ca
        ctx_srv = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx_srv.load_cert_chain(crt, key)
        ctx_cli = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx_cli.check_hostname = False
        ctx_cli.verify_mode = ssl.CERT_NONE
    proto = "tls" if tls else "tcp"
    conf = write_conf(root, link,
                      "[network]\ndriver = socket\n\n[listen in]\nprotocol = %s\n"
                      "address = 127.0.0.1:%d\nframing = octet-counting\n%s\n"
                      "[upstream out]\nprotocol = %s\naddress = 127.0.0.1:%d\nframing = lf\n%s"
                      % (proto, lport, extra_l, proto, uport, extra_u))
    # the upstream: count LF-ended lines
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", uport))
    srv.listen(4)
    # the frames: octet counted, made once (the generator's 4096 payloads);
    # whole blocks of them, so the upstream waits for that many lines
    fpath = os.path.join(root, "frames.log")
    subprocess.run([GEN, "--dump", fpath, "--count", "4096", "--size", str(SIZE)],
                   check=True, timeout=60)
    with open(fpath, "rb") as f:
        frames = [b"%d %s" % (len(l), l) for l in f.read().split(b"\n") if l]
    block = b"".join(frames)
    nblocks = max(1, COUNT // len(frames))
    total = nblocks * len(frames)
    got = {"lines": 0, "t_last": 0.0}

    def reader():
        c, _ = srv.accept()
        if tls:
            c = ctx_srv.wrap_socket(c, server_side=True)
        buf = bytearray(1 << 20)
        while got["lines"] < total:
            n = c.recv_into(buf)
            if n <= 0:
                break
            got["lines"] += buf.count(b"\n", 0, n)
            got["t_last"] = time.monotonic()
        c.close()

    th = threading.Thread(target=reader, daemon=True)
    th.start()
    dp = subprocess.Popen([DP, "-l", "1", "--no-huge", "--no-pci", "--no-shconf",
                           "--no-telemetry", "--", "-c", conf, "--json"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    cli = None
    for _ in range(200):
        try:
            cli = socket.create_connection(("127.0.0.1", lport))
            break
        except OSError:
            if dp.poll() is not None:
                break
            time.sleep(0.05)
    if cli is None:
        print("  %s veil-dataplane did not listen: %s" % (label, dp.stderr.read().decode()[-300:]))
        dp.kill()
        srv.close()
        return
    if tls:
        cli = ctx_cli.wrap_socket(cli)
    time.sleep(1.0)  # its keys from controld
    t0 = time.monotonic()
    for _ in range(nblocks):
        cli.sendall(block)
    t_sent = time.monotonic()
    # every line at the upstream, or none more for 10 s (lines lost: the
    # rate is still that of those that came)
    while th.is_alive():
        th.join(timeout=1.0)
        if time.monotonic() - max(got["t_last"], t_sent) > 10:
            break
    cli.close()
    _, s, err = veiltest.stop_dataplane(dp)
    srv.close()
    secs = got["t_last"] - t0
    rate = got["lines"] / secs if secs > 0 else 0
    print("  %s %9.0f lines/s  %6.3f Gbit/s payload  (%d sent in %.2f s, %d at the upstream "
          "after %.2f s)" % (label, rate, gbps(got["lines"], secs), total, t_sent - t0,
                            got["lines"], secs))
    if s is None:
        print("      veil-dataplane gave no summary: %s" % err[-300:])
    if base:
        share = rate / base
        print("      %.0f %% of the in-memory rate%s" % (
            share * 100, ": target >= 50 %%: %s" % ("MET" if share >= 0.5 else "NOT MET")
            if not tls else " (no target)"))


def main():
    print("veil network benchmark: %d syslog messages of %d payload bytes (CEF, a user "
          "and a device each), tenant key from a real veil-controld" % (COUNT, SIZE))
    root = tempfile.mkdtemp(prefix="veil-bench-net-")
    link = os.path.join(root, "link.sock")
    d = veiltest.Controld(BUILD, root, link)
    try:
        d.start(tenants=["bench"])
        base = alternated(root, link)
        if ONLY != "ab":
            stream_path(root, link, base, tls=False)
            stream_path(root, link, base, tls=True)
    finally:
        d.stop()
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
