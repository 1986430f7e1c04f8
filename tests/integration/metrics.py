#!/usr/bin/env python3
# SPDX-License-Identifier: LicenseRef-veil-proprietary
"""veil-controld's Prometheus metrics (metrics_listen), with the real
processes, scraped with curl and checked with promtool:

 - a non-loopback metrics_listen is refused at -n and at start, with the
   key that allows it named; metrics_allow_remote = yes lets -n pass; an
   address that does not parse and a port in use are refused with the
   error;
 - the scrape is the 0.0.4 text format (its Content-Type), every family
   with HELP and TYPE, and `promtool check metrics` finds nothing wrong;
 - the values move: a tenant created (tenants and live key versions +1), a
   lookup served and one refused, a resolve and its tokens, a key roll
   and a destruction, a tenant locked, an open API connection, the
   governance records written;
 - the dataplane's counters per worker, after a veil-dataplane run over
   the link, equal its own summary (lines in/out, drops by reason,
   identities by kind, bytes); the link's connections;
 - no name, tenant id or token in the text; 404 off /metrics, 405 for POST;
 - after a restart the gauges come from the state, the counters from zero.

Exits 77 (skipped) when curl or promtool (Debian package prometheus,
installed by platform/setup.sh) is missing.

usage: metrics.py BUILD_DIR
"""
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import veiltest
from veiltest import check

BUILD = sys.argv[1]
CTLD = os.path.join(BUILD, "control", "veil-controld")
JUST = "ticket 9464: metrics test"
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')


def scrape_raw(port, *curl_args):
    """curl the endpoint: (exit status, HTTP status, headers, body)."""
    p = subprocess.run(["curl", "-s", "-i", "--max-time", "10"] + list(curl_args)
                       + ["http://127.0.0.1:%d/metrics" % port],
                       capture_output=True, timeout=30)
    head, _, body = p.stdout.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1]) if lines and lines[0].startswith("HTTP/") else 0
    headers = {k.strip().lower(): v.strip() for k, _, v in
               (h.partition(":") for h in lines[1:])}
    return p.returncode, status, headers, body.decode("utf-8", "replace")


def parse(text):
    """{(name, labels text): value} of the samples."""
    out = {}
    for line in text.splitlines():
        if line.startswith("#") or not line:
            continue
        mt = SAMPLE.match(line)
        if mt:
            out[(mt.group(1), mt.group(2) or "")] = float(mt.group(3))
    return out


def scrape(port):
    _, _, _, body = scrape_raw(port)
    return parse(body), body


def wait_for(port, pred, secs=15.0):
    """Scrape until pred(samples) holds (the loop publishes a snapshot at
    most every second) or secs pass. @return the last samples."""
    end = time.monotonic() + secs
    while True:
        s, _ = scrape(port)
        if pred(s) or time.monotonic() > end:
            return s
        time.sleep(0.1)


def promtool_ok(text, what):
    p = subprocess.run(["promtool", "check", "metrics"], input=text.encode(),
                       capture_output=True, timeout=60)
    check(p.returncode == 0, "promtool check metrics (%s): %s%s"
          % (what, p.stdout.decode()[-1500:], p.stderr.decode()[-1500:]))


def write_conf(root, listen, extra=""):
    conf = os.path.join(root, "veil-%d.conf" % len(os.listdir(root)))
    with open(conf, "w") as f:
        f.write("[controld]\nstate_dir = %s/state\nsocket = %s/c.sock\n"
                "link_socket = %s/link.sock\nmetrics_listen = %s\n%s"
                % (root, root, root, listen, extra))
    return conf


def refused_addresses(root):
    port = veiltest.free_port()
    conf = write_conf(root, "0.0.0.0:%d" % port)
    p = subprocess.run([CTLD, "-n", "-c", conf], capture_output=True, timeout=60)
    err = p.stderr.decode()
    check(p.returncode == 1 and "not a loopback address" in err and
          "metrics_allow_remote = yes" in err and conf in err,
          "-n refuses 0.0.0.0 and names the key that allows it: rc %d %r"
          % (p.returncode, err))
    p = subprocess.run([CTLD, "-f", "-c", conf], capture_output=True, timeout=60)
    err = p.stderr.decode()
    check(p.returncode == 1 and "not a loopback address" in err and
          not os.path.exists(os.path.join(root, "c.sock")),
          "the start refuses it too, before any socket: rc %d %r" % (p.returncode, err))
    conf = write_conf(root, "[2001:db8::1]:%d" % port)
    p = subprocess.run([CTLD, "-n", "-c", conf], capture_output=True, timeout=60)
    check(p.returncode == 1 and "not a loopback address" in p.stderr.decode(),
          "-n refuses a non-loopback IPv6 address: %r" % p.stderr.decode())
    conf = write_conf(root, "0.0.0.0:%d" % port, "metrics_allow_remote = yes\n")
    p = subprocess.run([CTLD, "-n", "-c", conf], capture_output=True, timeout=60)
    check(p.returncode == 0 and b"configuration OK" in p.stdout,
          "metrics_allow_remote = yes lets -n pass: %r" % p.stderr.decode())
    for bad in ("localhost:9464", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000",
                "::1:9464"):
        conf = write_conf(root, bad)
        p = subprocess.run([CTLD, "-n", "-c", conf], capture_output=True, timeout=60)
        check(p.returncode == 1 and "is not ADDRESS:PORT" in p.stderr.decode(),
              "-n refuses metrics_listen = %s: %r" % (bad, p.stderr.decode()))
    conf = write_conf(root, "[::1]:%d" % port)
    p = subprocess.run([CTLD, "-n", "-c", conf], capture_output=True, timeout=60)
    check(p.returncode == 0, "[::1]:PORT is loopback: %r" % p.stderr.decode())
    # a port in use: the start fails with the error (not after daemonizing)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        conf = write_conf(root, "127.0.0.1:%d" % s.getsockname()[1])
        p = subprocess.run([CTLD, "-f", "-c", conf], capture_output=True, timeout=60)
        err = p.stderr.decode()
        check(p.returncode == 1 and "metrics_listen 127.0.0.1:" in err and
              "in use" in err, "a port in use stops the start: %r" % err)


def format_checks(port, d):
    rc, status, headers, body = scrape_raw(port)
    check(rc == 0 and status == 200 and headers.get("content-type", "").startswith(
          "text/plain; version=0.0.4"), "GET /metrics: 200, the 0.0.4 text format: %d %r"
          % (status, headers))
    names = {l.split()[2] for l in body.splitlines() if l.startswith("# TYPE ")}
    helps = {l.split()[2] for l in body.splitlines() if l.startswith("# HELP ")}
    samples = parse(body)
    check(names == helps and all(n.startswith("veil_") for n in names),
          "every family has HELP and TYPE, named veil_*: %r" % (names ^ helps))
    check(all(n.endswith("_total") for n, _ in samples if
              re.search(r"^# TYPE %s counter$" % re.escape(n), body, re.M)),
          "every counter ends in _total")
    want = ("veil_controld_start_time_seconds", "veil_tenants", "veil_tenants_locked",
            "veil_key_versions_live", "veil_api_callers", "veil_audit_records_total",
            "veil_link_connected", "veil_link_synced", "veil_key_cache_hits_total")
    check(all((n, "") in samples for n in want), "the daemon's figures are there: %r"
          % [n for n in want if (n, "") not in samples])
    start = samples.get(("veil_controld_start_time_seconds", ""), 0)
    check(abs(start - time.time()) < 3600, "the start time is now-ish: %r" % start)
    promtool_ok(body, "a fresh daemon")
    p = subprocess.run(["curl", "-s", "-I", "http://127.0.0.1:%d/metrics" % port],
                       capture_output=True, timeout=30)
    check(p.stdout.startswith(b"HTTP/1.1 200"), "HEAD /metrics: 200 (%r)" % p.stdout[:40])
    p = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                        "http://127.0.0.1:%d/secret" % port], capture_output=True,
                       timeout=30)
    check(p.stdout == b"404", "another path: 404 (%r)" % p.stdout)
    p = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                        "-X", "POST", "--data", "x=1", "http://127.0.0.1:%d/metrics" % port],
                       capture_output=True, timeout=30)
    check(p.stdout == b"405", "POST: 405 (%r)" % p.stdout)


def values_move(port, d):
    s0, _ = scrape(port)
    tenants0 = s0.get(("veil_tenants", ""))
    keys0 = s0.get(("veil_key_versions_live", ""))
    rc, _ = d.ctl("tenant", "create", "acme")
    check(rc == 0, "tenant create")
    s1 = wait_for(port, lambda s: s.get(("veil_tenants", "")) == tenants0 + 1)
    check(s1.get(("veil_tenants", "")) == tenants0 + 1 and
          s1.get(("veil_key_versions_live", "")) == keys0 + 1,
          "a tenant created: veil_tenants %r -> %r, key versions %r -> %r"
          % (tenants0, s1.get(("veil_tenants", "")), keys0,
             s1.get(("veil_key_versions_live", ""))))
    check(s1.get(("veil_audit_records_total", ""), 0) >
          s0.get(("veil_audit_records_total", ""), 0), "its governance record counted")

    served = ("veil_lookup_requests_total", '{outcome="served"}')
    refused = ("veil_lookup_requests_total", '{outcome="refused"}')
    rc, a = d.ctl("lookup", "-t", "acme", "-j", JUST, "-K", "user", "jane.doe")
    check(rc == 0 and a.get("tokens"), "lookup: %r" % a)
    token = a["tokens"][0]["token"] if a.get("tokens") else "none"
    s2 = wait_for(port, lambda s: s.get(served) == s1.get(served) + 1)
    check(s2.get(served) == s1.get(served) + 1 and s2.get(refused) == s1.get(refused),
          "a lookup: served %r -> %r" % (s1.get(served), s2.get(served)))
    check(s2.get(("veil_key_cache_hits_total", ""), 0) +
          s2.get(("veil_key_cache_misses_total", ""), 0) >
          s1.get(("veil_key_cache_hits_total", ""), 0) +
          s1.get(("veil_key_cache_misses_total", ""), 0),
          "the lookup used the key cache (hits + misses moved)")

    rc, a = d.ctl("lookup", "-t", "acme", "-j", "x", "-K", "user", "jane.doe")
    check(rc != 0, "a lookup without a justification is refused")
    rl = ("veil_refusals_total", '{action="lookup"}')
    s3 = wait_for(port, lambda s: s.get(refused) == s2.get(refused) + 1)
    check(s3.get(refused) == s2.get(refused) + 1 and s3.get(rl) == s2.get(rl) + 1,
          "a refused lookup: refused %r -> %r, refusals{lookup} %r -> %r"
          % (s2.get(refused), s3.get(refused), s2.get(rl), s3.get(rl)))

    rs = ("veil_resolve_requests_total", '{outcome="served"}')
    tr = ("veil_resolve_tokens_total", '{result="resolved"}')
    rc, a = d.ctl("resolve", "-t", "acme", "-j", JUST, token)
    check(rc == 0 and a.get("resolved") == 1, "resolve: %r" % a)
    s4 = wait_for(port, lambda s: s.get(rs) == s3.get(rs) + 1)
    check(s4.get(rs) == s3.get(rs) + 1 and s4.get(tr) == s3.get(tr) + 1,
          "a resolve: served %r -> %r, tokens resolved %r -> %r"
          % (s3.get(rs), s4.get(rs), s3.get(tr), s4.get(tr)))

    # key versions follow rolls and destructions
    kv = ("veil_key_versions_live", "")
    rc, _ = d.ctl("key", "roll", "acme")
    check(rc == 0, "key roll")
    s5 = wait_for(port, lambda s: s.get(kv) == s4.get(kv) + 1)
    check(s5.get(kv) == s4.get(kv) + 1, "a roll: key versions %r -> %r"
          % (s4.get(kv), s5.get(kv)))
    rc, a = d.ctl("key", "destroy", "acme", "1", "--reason", "metrics test: shred v1",
                  "--yes")
    check(rc == 0, "key destroy: %r" % a)
    s5 = wait_for(port, lambda s: s.get(kv) == s4.get(kv))
    check(s5.get(kv) == s4.get(kv), "a destruction: key versions back to %r (%r)"
          % (s4.get(kv), s5.get(kv)))

    rc, _ = d.ctl("tenant", "lock", "acme")
    check(rc == 0, "tenant lock")
    s5 = wait_for(port, lambda s: s.get(("veil_tenants_locked", "")) == 1)
    check(s5.get(("veil_tenants_locked", "")) == 1, "a tenant locked: veil_tenants_locked 1")
    rc, _ = d.ctl("tenant", "unlock", "acme")

    # an API connection held open is a caller
    with socket.socket(socket.AF_UNIX) as c:
        c.connect(d.sock)
        s6 = wait_for(port, lambda s: s.get(("veil_api_callers", ""), 0) >= 1)
        check(s6.get(("veil_api_callers", ""), 0) >= 1, "an open connection: "
              "veil_api_callers %r" % s6.get(("veil_api_callers", "")))
    _, body = scrape(port)
    check("jane.doe" not in body and "acme" not in body and token not in body,
          "no name, tenant id or token in the metrics")
    promtool_ok(body, "after requests")


def dataplane_counters(root, port, d):
    inp = os.path.join(root, "in.log")
    with open(inp, "w") as f:
        for i in range(20):
            f.write("CEF:0|Security|threatmanager|1.0|100|stopped|10|src=10.0.0.%d "
                    "suser=user%d shost=WKS-%04d\n" % (i, i, i))
        f.write("not a CEF line at all\n")
    rc, s, err = veiltest.run_dataplane(BUILD, ["--link", d.link, "--tenant", "acme",
                                                "--format", "cef", "--in", inp, "--out",
                                                os.path.join(root, "out.log")],
                                        eal=["--no-huge", "--no-pci", "--no-shconf",
                                             "--no-telemetry"])
    if not check(rc == 0 and s is not None, "veil-dataplane ran: %d %s" % (rc, err[-1500:])):
        return
    key = ("veil_dataplane_lines_in_total", '{worker="0"}')
    w0 = '{worker="0"}'
    # the last counters the run sent, not one sent while it ran (a slow
    # machine publishes the lines read before they are written)
    m = wait_for(port, lambda x: x.get(key) == s["lines_in"] and
                 x.get(("veil_dataplane_lines_out_total", w0)) == s["lines_out"] and
                 x.get(("veil_dataplane_written_bytes_total", w0)) == s["bytes_out"])
    check(m.get(key) == s["lines_in"] == 21 and
          m.get(("veil_dataplane_lines_out_total", w0)) == s["lines_out"] and
          m.get(("veil_dataplane_lines_held", w0)) == s["lines_held"] and
          m.get(("veil_dataplane_read_bytes_total", w0)) == s["bytes_in"] and
          m.get(("veil_dataplane_written_bytes_total", w0)) == s["bytes_out"],
          "worker 0's lines and bytes equal the dataplane's summary: %r vs %r"
          % ({k[0]: v for k, v in m.items() if k[1] == w0}, s))
    drops = {k[1]: v for k, v in m.items() if k[0] == "veil_dataplane_lines_dropped_total"}
    want = {'{worker="0",reason="%s"}' % r: float(n) for r, n in s["dropped"].items()}
    check(all(drops.get(k) == v for k, v in want.items()) and
          sum(drops.values()) == s["lines_dropped"] >= 1,
          "drops by reason equal the summary's: %r vs %r" % (drops, s["dropped"]))
    check(m.get(("veil_dataplane_identities_total", '{worker="0",kind="user"}')) == 20 and
          m.get(("veil_dataplane_identities_total", '{worker="0",kind="device"}')) == 20,
          "identities by kind: 20 users, 20 devices")
    check(m.get(("veil_link_connections_total", ""), 0) >= 1,
          "the link's connections counted")
    _, body = scrape(port)
    check("user1" not in body and "WKS-" not in body, "no name from the lines")
    promtool_ok(body, "with the dataplane's counters")


def main():
    for tool in ("curl", "promtool"):
        if shutil.which(tool) is None:
            print("metrics: %s is missing (bash platform/setup.sh installs it): "
                  "skipped" % tool)
            return 77
    root = tempfile.mkdtemp(prefix="veil-metrics-%d-" % os.getpid())
    d = None
    try:
        refused_addresses(root)
        port = veiltest.free_port()
        droot = os.path.join(root, "d")
        os.mkdir(droot)
        d = veiltest.Controld(BUILD, droot, extra="")
        with open(d.conf) as f:
            text = f.read()
        with open(d.conf, "w") as f:  # the key belongs to [controld]
            f.write(text.replace("[roles]", "metrics_listen = 127.0.0.1:%d\n\n[roles]"
                                 % port, 1))
        d.start()
        check(veiltest.wait_port(port), "the metrics port accepts connections")
        format_checks(port, d)
        values_move(port, d)
        dataplane_counters(droot, port, d)
        # a restart: the gauges from the state, the counters from zero
        before, _ = scrape(port)
        d.stop()
        d.start()
        check(veiltest.wait_port(port), "the metrics port again after a restart")
        after, _ = scrape(port)
        for g in ("veil_tenants", "veil_key_versions_live", "veil_tenants_locked"):
            check(after.get((g, "")) == before.get((g, "")), "after a restart %s %r == %r"
                  % (g, after.get((g, "")), before.get((g, ""))))
        check(after.get(("veil_lookup_requests_total", '{outcome="served"}')) == 0 and
              after.get(("veil_audit_records_total", "")) == 0,
              "the counters count from the start")
    finally:
        if d is not None:
            d.stop()
        shutil.rmtree(root, ignore_errors=True)
    return veiltest.finish("metrics")


if __name__ == "__main__":
    sys.exit(main())
