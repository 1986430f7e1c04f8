#!/usr/bin/python3
# SPDX-License-Identifier: LicenseRef-veil-proprietary
"""veil-dataplane in network mode with the socket driver, end to end, with
real senders and a real collector:

 - veil-controld (its own state directory and link) with tenant acme;
 - senders: `logger --tcp --octet-count` (util-linux) to a TCP listener,
   `logger --udp` to a UDP listener,
   and rsyslogd forwarding over TLS with a client certificate (the ossl
   netstream driver, octet-counted) to a TLS listener that requires one;
 - the collector: rsyslogd receiving over TLS (ossl) and writing each
   message as received (%rawmsg%) to a file; veil-dataplane's upstream
   verifies its certificate;
 - the collector's file holds exactly the anonymized lines, in order per
   sender, tokens that resolve through veilctl to each line's own name, no
   name in clear;
 - the collector stopped and restarted: the lines sent meanwhile wait in
   veil's queue and arrive, none lost; beyond queue_bytes veil stops reading
   its TCP/TLS senders (on_queue_full = block, the default for a TLS
   upstream): they wait, and every line arrives, in order, none dropped;
 - bad input over the network (an oversized octet-counted frame, a broken
   octet count, TLS garbage, a TLS handshake that never ends, a sender
   trickling a message byte by byte): counters and closed connections,
   never a crash, and good traffic still flows;
 - the summary at SIGTERM: the driver's counters add up.

usage: network_socket.py BUILD_DIR
"""
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

import veiltest
from veiltest import check, free_port, wait_port

BUILD = sys.argv[1]
CTLD = os.path.join(BUILD, "control", "veil-controld")
VEILCTL = os.path.join(BUILD, "control", "veilctl")
DP = os.path.join(BUILD, "dataplane", "veil-dataplane")
RSYSLOGD = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"
LOGGER = shutil.which("logger") or "/usr/bin/logger"
JUST = "ticket 6514: network socket end-to-end test"
TOKEN = re.compile(veiltest.TOKEN_RE)
QUEUE_BYTES = 256 * 1024

class Rsyslog:
    """rsyslogd -n with its own config, work directory and pid file."""

    def __init__(self, root, name, conf):
        self.dir = os.path.join(root, name)
        os.makedirs(os.path.join(self.dir, "work"), exist_ok=True)
        self.conf = os.path.join(self.dir, "rsyslog.conf")
        self.pid = os.path.join(self.dir, "rsyslog.pid")
        with open(self.conf, "w") as f:
            f.write(conf.replace("@DIR@", self.dir))
        self.proc = None

    def start(self, port):
        self.log = open(os.path.join(self.dir, "rsyslogd.out"), "a")
        self.proc = subprocess.Popen([RSYSLOGD, "-n", "-f", self.conf, "-i", self.pid],
                                     stdout=self.log, stderr=self.log)
        if not wait_port(port):
            raise RuntimeError("rsyslogd %s did not listen on %d" % (self.dir, port))

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=20)
            self.log.close()


TLS_GLOBAL = """global(workDirectory="@DIR@/work"
  DefaultNetstreamDriver="ossl"
  DefaultNetstreamDriverCAFile="%(ca)s"
  DefaultNetstreamDriverCertFile="%(cert)s"
  DefaultNetstreamDriverKeyFile="%(key)s")
"""


def collector_conf(certs, port):
    return (TLS_GLOBAL % {"ca": certs + "/ca.pem", "cert": certs + "/srv.pem",
                          "key": certs + "/srv.key"} +
            'module(load="imtcp" StreamDriver.Name="ossl" StreamDriver.Mode="1"\n'
            '       StreamDriver.AuthMode="anon")\n'
            'input(type="imtcp" port="%d" address="127.0.0.1")\n'
            'template(name="raw" type="string" string="%%rawmsg%%\\n")\n'
            '*.* action(type="omfile" file="@DIR@/collected.log" template="raw")\n'
            % port)


def sender_conf(certs, in_port, veil_port):
    """A plain TCP input relayed over TLS (client certificate, octet
    counting) to veil's TLS listener, verifying veil's name."""
    return (TLS_GLOBAL % {"ca": certs + "/ca.pem", "cert": certs + "/cli.pem",
                          "key": certs + "/cli.key"} +
            'module(load="imtcp")\n'
            'input(type="imtcp" port="%d" address="127.0.0.1" ruleset="fwd")\n'
            'template(name="raw" type="string" string="%%rawmsg%%")\n'
            'ruleset(name="fwd") {\n'
            '  action(type="omfwd" target="127.0.0.1" port="%d" protocol="tcp"\n'
            '         template="raw" StreamDriver="ossl" StreamDriverMode="1"\n'
            '         StreamDriverAuthMode="x509/name" StreamDriverPermittedPeers="localhost"\n'
            '         TCP_Framing="octet-counted")\n'
            '}\n' % (in_port, veil_port))


class Dataplane:
    def __init__(self, root, conf):
        self.root, self.conf = root, conf
        self.proc = None

    def start(self, ports):
        self.err = open(os.path.join(self.root, "dataplane.err"), "wb")
        self.proc = subprocess.Popen([DP, "--", "-c", self.conf, "--json"],
                                     stderr=self.err)
        for p in ports:
            if not wait_port(p):
                raise RuntimeError("veil-dataplane did not listen on %d" % p)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """SIGTERM; returns (rc, the JSON summary or None, stderr)."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.err.close()
        with open(os.path.join(self.root, "dataplane.err"), "rb") as f:
            err = f.read().decode("utf-8", "replace")
        return self.proc.returncode, veiltest.summary_of(err), err


def cef(tag, i):
    """A CEF message of sender @tag, number @i: user and device names that
    must not leave veil, and a sequence number that must."""
    return ("<14>Nov 25 10:00:00 fw01 CEF:0|Veil|Test|1.0|100|login|3|"
            "src=10.0.0.%d suser=%s.user%d shost=%s-WS-%d cs1Label=seq cs1=%s-%06d"
            % (i % 250, tag, i % 97, tag, i % 13, tag, i))


SEQ = re.compile(rb"cs1=([a-z0-9]+)-([0-9]{6})")


def collected(path):
    try:
        with open(path, "rb") as f:
            return f.read().split(b"\n")[:-1]
    except FileNotFoundError:
        return []


def by_tag(lines):
    """{tag: [seq, ...]} in the file's order."""
    out = {}
    for ln in lines:
        m = SEQ.search(ln)
        if m:
            out.setdefault(m.group(1).decode(), []).append(int(m.group(2)))
    return out


def wait_for(path, count, secs=30.0):
    end = time.time() + secs
    while time.time() < end:
        if len(collected(path)) >= count:
            break
        time.sleep(0.1)
    time.sleep(0.3)  # nothing more must come
    return collected(path)


def send_plain(port, data):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(data)
    s.close()


def closed_soon(s, secs):
    """Does the peer (veil) close @s within @secs?"""
    s.settimeout(secs)
    try:
        while True:
            b = s.recv(4096)
            if not b:
                return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False
    except ssl.SSLError:
        # a fatal TLS alert from veil (TLS 1.3 rejects a missing client
        # certificate after the client's handshake): the session is over
        return True
    except OSError:
        return False


def main():
    for exe in (CTLD, VEILCTL, DP):
        if not os.path.exists(exe):
            print("missing %s" % exe)
            return 1
    for exe in (RSYSLOGD, LOGGER):
        if not os.path.exists(exe):
            print("missing %s: install the Debian packages rsyslog, rsyslog-openssl, "
                  "bsdutils" % exe)
            return 1
    root = tempfile.mkdtemp(prefix="veil-net-")
    d = coll = snd = dp = None
    try:
        certs = os.path.join(root, "certs")
        os.mkdir(certs)
        veiltest.make_certs(certs)
        d = veiltest.Controld(BUILD, root)
        d.start()
        rc, a = d.ctl("tenant", "create", "acme")
        check(rc == 0, "tenant acme created: %r" % a)

        p_tcp, p_tls, p_coll, p_snd = free_port(), free_port(), free_port(), free_port()
        p_udp = free_port()
        conf = os.path.join(root, "dataplane.conf")  # controld's is veil.conf
        with open(conf, "w") as f:
            f.write("[dataplane]\nlink_socket = %s\nwait_keys = 20\nmax_message = 4096\n\n"
                    "[network]\ndriver = socket\nqueue_bytes = %d\nreconnect_min = 0.1\n"
                    "reconnect_max = 0.5\ndrain_timeout = 5\nidle_timeout = 60\n\n"
                    "[listen tcp]\nprotocol = tcp\naddress = 127.0.0.1:%d\n\n"
                    "[listen udp]\nprotocol = udp\naddress = 127.0.0.1:%d\n\n"
                    "[listen tls]\nprotocol = tls\naddress = 127.0.0.1:%d\n"
                    "tls_cert = %s/srv.pem\ntls_key = %s/srv.key\ntls_client_ca = %s/ca.pem\n\n"
                    "[upstream collector]\nprotocol = tls\naddress = 127.0.0.1:%d\n"
                    "tls_ca = %s/ca.pem\ntls_server_name = localhost\n\n"
                    "[source fw]\ntenant = acme\nformat = cef\nnetworks = 127.0.0.0/8\n"
                    % (d.link, QUEUE_BYTES, p_tcp, p_udp, p_tls, certs, certs, certs, p_coll,
                       certs))
        p = subprocess.run([DP, "--", "-n", "-c", conf], capture_output=True, text=True)
        check(p.returncode == 0 and "network mode" in p.stdout,
              "veil-dataplane -n: configuration OK (%s%s)" % (p.stdout, p.stderr))

        coll = Rsyslog(root, "collector", collector_conf(certs, p_coll))
        coll.start(p_coll)
        out = os.path.join(coll.dir, "collected.log")
        dp = Dataplane(root, conf)
        dp.start([p_tcp, p_tls])
        snd = Rsyslog(root, "sender", sender_conf(certs, p_snd, p_tls))
        snd.start(p_snd)

        # 1. logger over TCP (octet counting) and rsyslog over TLS
        with open(os.path.join(root, "logger.txt"), "w") as f:
            for i in range(300):
                f.write(cef("lg", i)[len("<14>Nov 25 10:00:00 fw01 "):] + "\n")
        lg = subprocess.run([LOGGER, "--tcp", "--octet-count", "-n", "127.0.0.1", "-P",
                             str(p_tcp), "--rfc3164", "-t", "fw01", "-f",
                             os.path.join(root, "logger.txt")],
                            capture_output=True, text=True, timeout=30)
        check(lg.returncode == 0, "logger --tcp --octet-count: %s" % lg.stderr)
        send_plain(p_snd, "".join(cef("rs", i) + "\n" for i in range(300)).encode())
        with open(os.path.join(root, "udp.txt"), "w") as f:
            for i in range(50):
                f.write(cef("ud", i)[len("<14>Nov 25 10:00:00 fw01 "):] + "\n")
        lg = subprocess.run([LOGGER, "--udp", "-n", "127.0.0.1", "-P", str(p_udp),
                             "--rfc3164", "-t", "fw01", "-f", os.path.join(root, "udp.txt")],
                            capture_output=True, text=True, timeout=30)
        check(lg.returncode == 0, "logger --udp: %s" % lg.stderr)
        lines = wait_for(out, 650)
        tags = by_tag(lines)
        check(tags.get("ud") == list(range(50)),
              "logger's 50 UDP datagrams arrived, in order (%d)" % len(tags.get("ud", [])))
        check(tags.get("lg") == list(range(300)),
              "logger's 300 lines arrived once each, in order (%d)" % len(tags.get("lg", [])))
        check(tags.get("rs") == list(range(300)),
              "rsyslog's 300 lines (TLS, client certificate) arrived once each, in order "
              "(%d)" % len(tags.get("rs", [])))
        check(len(lines) == 650, "the collector has exactly 650 lines (%d)" % len(lines))
        clear = [ln for ln in lines if b".user" in ln or b"-WS-" in ln]
        check(not clear, "no user or device name in clear at the collector: %r" % clear[:2])
        check(all(len(TOKEN.findall(ln)) == 2 for ln in lines),
              "two tokens in every line")
        rc, a = d.ctl("resolve", "-t", "acme", "-j", JUST, "--text", "--file", out)
        check(rc == 0 and a.get("failed") == 0, "every token resolves: %r"
              % a.get("error", a.get("failed")))
        names = dict(zip(a.get("tokens", []), a.get("names", [])))
        bad = 0
        for ln in lines:
            m = SEQ.search(ln)
            toks = [t.decode() for t in TOKEN.findall(ln)]
            if m is None or len(toks) != 2:
                bad += 1
                continue
            tag, i = m.group(1).decode(), int(m.group(2))
            if names.get(toks[0]) != "%s.user%d" % (tag, i % 97) or \
                    names.get(toks[1]) != "%s-WS-%d" % (tag, i % 13):
                bad += 1
        check(bad == 0, "each line's tokens resolve to its own names (%d bad)" % bad)

        # 2. the collector goes away and comes back: nothing lost
        coll.stop()
        time.sleep(0.5)
        send_plain(p_snd, "".join(cef("down", i) + "\n" for i in range(100)).encode())
        time.sleep(1.5)  # veil has them queued; the collector is down
        coll.start(p_coll)
        lines = wait_for(out, 750)
        t = by_tag(lines)
        down = t.get("down", [])
        firsts = sorted(set(down))
        check(firsts == list(range(100)) and down == sorted(down),
              "the collector restarted: the 100 lines sent while it was down arrived, in "
              "order (%d, %d distinct)" % (len(down), len(firsts)))
        if len(down) != 100:
            print("  note: %d duplicates (a line re-sent after the break)" % (len(down) - 100))

        # 3. beyond queue_bytes: the senders wait (block), nothing is dropped
        coll.stop()
        time.sleep(0.5)
        n_big = 5000  # ~ 5000 * 220 bytes, well over queue_bytes (256 KiB)
        send_plain(p_snd, "".join(cef("over", i) + "\n" for i in range(n_big)).encode())
        time.sleep(2.0)
        coll.start(p_coll)
        t_end = time.time() + 30
        over = []
        while time.time() < t_end:
            over = by_tag(collected(out)).get("over", [])
            if len(set(over)) == n_big:
                break
            time.sleep(0.5)
        check(len(set(over)) == n_big and over == sorted(over),
              "over the queue bound: %d of %d lines arrived, in order (the senders "
              "waited)" % (len(set(over)), n_big))

        # 4. bad input: counters and closes, never a crash
        s = socket.create_connection(("127.0.0.1", p_tcp))
        s.sendall(b"99999999 " + b"x" * 5000)
        check(closed_soon(s, 5), "an oversize octet-counted frame closes the connection")
        s.close()
        s = socket.create_connection(("127.0.0.1", p_tcp))
        s.sendall(b"12 <14>ok frame12x <14>broken\n")
        check(closed_soon(s, 5), "a broken octet count closes the connection")
        s.close()
        s = socket.create_connection(("127.0.0.1", p_tls))
        s.sendall(b"<14>not TLS at all\n" * 20)
        check(closed_soon(s, 5), "garbage to the TLS port closes the connection")
        s.close()
        s = socket.create_connection(("127.0.0.1", p_tls))
        ctx = ssl.create_default_context(cafile=os.path.join(certs, "ca.pem"))
        try:
            t0 = time.time()
            ts = ctx.wrap_socket(s, server_hostname="localhost")
            ts.sendall(b"<14>no client certificate\n")
            check(closed_soon(ts, 5), "TLS without a client certificate is closed")
        except (ssl.SSLError, OSError):
            check(True, "TLS without a client certificate is refused")
        s.close()
        hs = socket.create_connection(("127.0.0.1", p_tls))
        hs.sendall(b"\x16\x03\x01")  # a handshake that never ends
        trickle = socket.create_connection(("127.0.0.1", p_tcp))
        msg = (cef("slow", 0) + "\n").encode()
        for i in range(len(msg)):  # a message byte by byte, over ~2 s
            trickle.sendall(msg[i:i + 1])
            time.sleep(2.0 / len(msg))
        trickle.close()
        t0 = time.time()
        check(closed_soon(hs, 15) and time.time() - t0 > 5,
              "a TLS handshake that never ends is closed at the deadline")
        hs.close()
        send_plain(p_snd, "".join(cef("after", i) + "\n" for i in range(50)).encode())
        lines = wait_for(out, len(collected(out)) + 52, 20)
        t = by_tag(lines)
        check(t.get("slow") == [0], "the trickled message arrived whole")
        check(t.get("ok") is None, "nothing of the broken stream's later frames")
        check(t.get("after") == list(range(50)), "good traffic flows after the bad input")
        check(dp.alive(), "veil-dataplane is still running")

        # 5. the summary at SIGTERM
        snd.stop()
        rc, sm, err = dp.stop()
        check(rc == 0, "veil-dataplane exits 0 at SIGTERM (rc %d)\n%s" % (rc, err[-2000:]))
        if check(sm is not None and "driver" in sm, "a JSON summary with the driver's "
                 "counters"):
            x = sm["driver"]
            print("  driver counters: %s" % json.dumps({k: v for k, v in x.items() if v}))
            check(x.get("name") == "socket", "driver socket")
            check(x.get("tcp_oversize_closes", 0) >= 1 and x.get("oversize", 0) >= 1,
                  "oversize counted")
            check(x.get("tcp_bad_frames", 0) >= 1, "the broken octet count counted")
            check(x.get("tls_failed", 0) >= 2, "TLS garbage and the missing client "
                  "certificate counted (%d)" % x.get("tls_failed", 0))
            check(x.get("tls_handshake_timeouts", 0) >= 1, "the endless handshake counted")
            check(x.get("upstream_dropped", 0) == 0 and x.get("rx_paused_upstream", 0) > 0,
                  "over the queue bound: none dropped (%d), the senders were paused "
                  "(%d rounds)" % (x.get("upstream_dropped", 0),
                                   x.get("rx_paused_upstream", 0)))
            check(x.get("upstream_disconnects", 0) >= 2 and
                  x.get("upstream_connects", 0) >= 3, "the collector's restarts seen")
            check(x.get("upstream_lost", 0) == 0 and x.get("upstream_queued", 0) == 0,
                  "nothing left in the queue at exit")
            check(sm.get("lines_in") == sm.get("lines_out") + sm.get("lines_dropped", 0)
                  + sm.get("lines_held", 0) + sm.get("lines_not_written", 0),
                  "the summary adds up")
        with open(os.path.join(root, "dataplane.err"), "rb") as f:
            e = f.read()
        check(b".user" not in e and b"-WS-" not in e, "no name on veil-dataplane's stderr")
    finally:
        for p in (snd, coll):
            if p is not None:
                p.stop()
        if dp is not None and dp.alive():
            dp.stop()
        if d is not None:
            d.stop()
        if veiltest.results["failed"] == 0:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print("kept %s" % root)
    return veiltest.finish("network-socket")


if __name__ == "__main__":
    sys.exit(main())
