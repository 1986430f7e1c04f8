#!/usr/bin/python3
# SPDX-License-Identifier: LicenseRef-veil-proprietary
"""The dpdk driver's lab scripts, run as the docs quote them.

    network_lab.py BUILD_DIR SOURCE_ROOT

docs/network-dpdk.md and docs/network.md quote `bash platform/lab/pcap.sh`
and `sudo bash platform/lab/veth.sh`; each script is run here as it is
(from the source root, with VEIL_BUILD naming this build and a work
directory of this run as its argument) and what it leaves is checked here,
independently of what it says:

- pcap.sh: it exits 0; out.pcap (read with scapy) holds a datagram to the
  upstream for every datagram of in.pcap, each with tokens and none with a
  user or host name of in.pcap's lines; the token it resolved is one of
  those names; the dataplane's summary says N lines in, N written.
- veth.sh (root, /dev/net/tun): the same with the collector's file and
  the names of the lines it sent with logger; its namespaces are gone at
  the end.
- a script that cannot run says why and exits 1 (no programs found; in
  veth.sh a step that fails part way, its namespaces removed all the same).
Exits 77 if scapy is missing; veth.sh's part is skipped, saying why, when
not root or without /dev/net/tun.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

import veiltest
from veiltest import check

import logging
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
try:
    from scapy.all import IP, UDP, rdpcap
except ImportError:
    print("SKIP: python3-scapy is not installed (Debian package python3-scapy)")
    sys.exit(77)

BUILD, ROOT = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
TOKEN = re.compile(veiltest.TOKEN_RE.decode())
PCAP_CMD = "bash platform/lab/pcap.sh"
VETH_CMD = "sudo bash platform/lab/veth.sh"


def run_script(cmd, workdir, env=None):
    """@cmd as the docs write it (without sudo: this runs as root already),
    from the source root, with @workdir as its argument."""
    argv = cmd.split()
    if argv[0] == "sudo":
        argv = argv[1:]
    e = dict(os.environ, VEIL_BUILD=BUILD)
    e.update(env or {})
    p = subprocess.run(argv + [workdir], cwd=ROOT, env=e, capture_output=True,
                       text=True, timeout=240)
    print("---- %s: exit %d\n%s%s----" % (cmd, p.returncode, p.stdout[-3000:],
                                         p.stderr[-1500:]), flush=True)
    return p


def summary_ok(p, n, what):
    text = p.stdout + p.stderr
    check(re.search(r"^veil-dataplane: %d lines in [0-9.]+ s: %d written, "
                    r"0 dropped, 0 held$" % (n, n), text, re.M) is not None,
          "%s: the summary says %d lines in, %d written, nothing lost" % (what, n, n))


def resolved_ok(p, names, what):
    m = re.search(r"^(%s)\t(\S+)$" % TOKEN.pattern, p.stdout, re.M)
    check(m is not None and m.group(2) in names,
          "%s: a token resolved to a name that was sent: %s"
          % (what, m.group(0) if m else None))


def payloads(path):
    return [bytes(pk[UDP].payload).decode(errors="replace")
            for pk in rdpcap(path) if UDP in pk]


def names_of(lines):
    return set(n for ln in lines for n in re.findall(r"(?:suser|shost)=(\S+)", ln))


def pcap_lab(tmp):
    d = os.path.join(tmp, "pcap")
    p = run_script(PCAP_CMD, d)
    if not check(p.returncode == 0 and "LAB FAILED" not in p.stderr,
                 "pcap.sh exits 0 (%d)" % p.returncode):
        return
    sent = payloads(os.path.join(d, "in.pcap"))
    out = [pk for pk in rdpcap(os.path.join(d, "out.pcap"))
           if UDP in pk and pk[IP].dst == "192.0.2.99" and pk[UDP].dport == 514]
    got = [bytes(pk[UDP].payload).decode(errors="replace") for pk in out]
    names = names_of(sent)
    n = len(sent)
    check(n >= 10 and len(names) == 2 * n, "pcap.sh: %d lines sent, %d names"
          % (n, len(names)))
    check(len(got) == n, "pcap.sh: %d datagrams to the upstream, of %d"
          % (len(got), n))
    check(all(len(TOKEN.findall(g)) >= 2 for g in got),
          "pcap.sh: every datagram carries tokens for its user and host")
    left = [x for x in names if any(re.search(r"\b%s\b" % re.escape(x), g)
                                    for g in got)]
    check(not left, "pcap.sh: names left in clear in out.pcap: %s" % left[:5])
    summary_ok(p, n, "pcap.sh")
    resolved_ok(p, names, "pcap.sh")
    doc_matches("pcap.sh", p, d)


def veth_lab(tmp):
    d = os.path.join(tmp, "veth")
    p = run_script(VETH_CMD, d)
    m = re.search(r"removed the namespaces (\S+) and (\S+);", p.stdout)
    left = subprocess.run(["ip", "netns", "list"], capture_output=True,
                          text=True).stdout
    check(m is not None and m.group(1) not in left and m.group(2) not in left,
          "veth.sh: its namespaces are removed at the end")
    if not check(p.returncode == 0 and "LAB FAILED" not in p.stderr,
                 "veth.sh exits 0 (%d)" % p.returncode):
        return
    # what it sent, from the commands it printed
    sent = [ln for ln in p.stdout.splitlines() if " logger " in ln and
            ln.startswith("$ ")]
    names = names_of(sent)
    n = len(sent)
    with open(os.path.join(d, "collected.log")) as f:
        got = f.read().splitlines()
    check(n >= 5 and len(names) == 2 * n, "veth.sh: %d lines sent with logger, "
          "%d names" % (n, len(names)))
    check(len(got) == n and all(g.startswith("192.0.2.10:514 ") for g in got),
          "veth.sh: the collector got %d lines from 192.0.2.10:514, of %d"
          % (len(got), n))
    check(all(len(TOKEN.findall(g)) >= 2 for g in got),
          "veth.sh: every collected line carries tokens for its user and host")
    leftn = [x for x in names if any(re.search(r"\b%s\b" % re.escape(x), g)
                                     for g in got)]
    check(not leftn, "veth.sh: names left in clear at the collector: %s" % leftn[:5])
    summary_ok(p, n, "veth.sh")
    resolved_ok(p, names, "veth.sh")
    doc_matches("veth.sh", p, d)


def veth_fails(tmp):
    """A step that fails part way (here: Python, which turns the peer's
    checksum offload off, is /bin/false) ends the script with exit 1 and
    the reason, and its namespaces are removed all the same."""
    p = run_script(VETH_CMD, os.path.join(tmp, "veth-fail"),
                   env={"PYTHON": "/bin/false"})
    m = re.search(r"removed the namespaces (\S+) and (\S+);", p.stdout)
    left = subprocess.run(["ip", "netns", "list"], capture_output=True,
                          text=True).stdout
    check(p.returncode == 1 and "LAB FAILED: cannot turn vlab1's checksum "
          "offload off" in p.stderr, "veth.sh failing: exit 1 and why (%d)"
          % p.returncode)
    check(m is not None and m.group(1) not in left and m.group(2) not in left,
          "veth.sh failing: its namespaces are removed")


def docs_quote():
    for doc in ("network.md", "network-dpdk.md"):
        with open(os.path.join(ROOT, "docs", doc)) as f:
            text = f.read()
        for cmd in (PCAP_CMD, VETH_CMD):
            check(re.search(r"^%s\b" % re.escape(cmd), text, re.M) is not None,
                  "docs/%s quotes `%s`" % (doc, cmd))


def lab_doc(script):
    """The part of docs/network-dpdk.md about @script: its config (an ini
    block) and its veil-dataplane command (a sh block), normalized."""
    with open(os.path.join(ROOT, "docs", "network-dpdk.md")) as f:
        text = f.read()
    part = text.split("**%s**" % script, 1)[1].split("\n**", 1)[0]
    ini = re.search(r"```ini\n(.*?)```", part, re.S).group(1)
    cmd = re.search(r"```sh\n(.*?)```", part, re.S).group(1)
    return conf_lines(ini), " ".join(cmd.replace("\\\n", " ").split())


def conf_lines(text):
    out = []
    for ln in text.splitlines():
        ln = ln.split(";")[0].strip()
        if ln:
            out.append(re.sub(r"\s*=\s*", " = ", ln))
    return out


def doc_matches(script, p, d):
    """What the docs say @script does is what it did: the config it wrote
    holds the docs' config, in order, and the veil-dataplane command it
    printed is the docs' (DIR, PID and the CPUs filled in)."""
    ini, cmd = lab_doc(script)
    with open(os.path.join(d, "veil.conf")) as f:
        wrote = conf_lines(f.read())
    it = iter(wrote)
    check(all(ln in it for ln in ini),
          "%s: the config it wrote holds docs/network-dpdk.md's: %s" % (script, ini))
    ran = re.search(r"^\$ ((?:ip netns exec \S+ )?\S*veil-dataplane --no-huge.*?) "
                    r"2> \S+ &$", p.stdout.replace("\\\n", " "), re.M | re.S)
    ran = " ".join(ran.group(1).split()) if ran else ""
    lc = re.search(r"--lcores (\S+)", ran)
    pid = re.search(r"veil-lab-app-(\d+)", ran)
    want = (cmd.replace("DIR", d).replace("0@0,1@1", lc.group(1) if lc else "?")
            .replace("veil-lab-app-PID", "veil-lab-app-%s" % (pid.group(1) if pid else "?"))
            .replace("veil-dataplane ", os.path.join(BUILD, "dataplane",
                                                     "veil-dataplane") + " "))
    check(ran == want, "%s ran the docs' command:\n  ran  %s\n  docs %s"
          % (script, ran, want))
    # the docs' config is a valid one on its own
    path = os.path.join(d, "doc.conf")
    with open(path, "w") as f:
        f.write("\n".join(ini) + "\n")
    r = subprocess.run([os.path.join(BUILD, "dataplane", "veil-dataplane"), "-n",
                        "-c", path], capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, "%s: the docs' config passes -n: %s"
          % (script, r.stderr.strip()[:300]))


def refused(tmp):
    """Without the programs, the script says so and exits 1."""
    if shutil.which("veil-dataplane"):
        veiltest.skip("no programs", "veil-dataplane is installed")
        return
    p = run_script(PCAP_CMD, os.path.join(tmp, "none"),
                   env={"VEIL_BUILD": os.path.join(tmp, "nobuild")})
    check(p.returncode == 1 and "LAB FAILED: veil-dataplane, veil-controld or "
          "veilctl not found" in p.stderr,
          "pcap.sh without programs: exit 1 and why (%d)" % p.returncode)


def main():
    tmp = tempfile.mkdtemp(prefix="veil-lab-test-")
    try:
        docs_quote()
        refused(tmp)
        pcap_lab(tmp)
        if os.geteuid() != 0:
            veiltest.skip("veth.sh", "not root (network namespaces, TAP)")
        elif not os.path.exists("/dev/net/tun"):
            veiltest.skip("veth.sh", "no /dev/net/tun")
        else:
            veth_lab(tmp)
            veth_fails(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return veiltest.finish("network-lab")


if __name__ == "__main__":
    sys.exit(main())
