#!/usr/bin/env python3
# SPDX-License-Identifier: LicenseRef-veil-proprietary
"""The network configurations the docs show are accepted as they are
written: every ```ini block of docs/network.md that has a [network]
section, and the config the README writes with `cat > /tmp/net.conf`, go
through `veil-dataplane -n -c FILE` (the check, no run), with the files
they name (certificates) made here. Then a few mistakes each give their
sentence with file and line.

usage: network_docs.py VEIL_DATAPLANE SOURCE_ROOT
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

DP, ROOT = sys.argv[1], sys.argv[2]
failed = 0


def check(cond, what):
    global failed
    if cond:
        print("ok   %s" % what)
    else:
        failed += 1
        print("FAIL %s" % what)


def run_check(path):
    return subprocess.run([DP, "-n", "-c", path], capture_output=True, text=True,
                          timeout=60)


def main():
    tmp = tempfile.mkdtemp(prefix="veil-netdocs-")
    # the files the examples name, made readable here
    files = {}
    for name in ("syslog.crt", "syslog.key", "siem-ca.pem"):
        p = os.path.join(tmp, name)
        with open(p, "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")
        files["/etc/veil/" + name] = p

    with open(os.path.join(ROOT, "docs", "network.md")) as f:
        doc = f.read()
    blocks = re.findall(r"```ini\n(.*?)```", doc, re.S)
    with open(os.path.join(ROOT, "README.md")) as f:
        readme = f.read()
    m = re.search(r"cat > \$D/veil.conf <<EOF\n(.*?)\nEOF\n", readme, re.S)
    check(m is not None, "the README writes a network config")
    if m:
        blocks.append(m.group(1).replace("$D", tmp).replace("$(id -u)", str(os.getuid()))
                      + "\n")
    n = 0
    for i, b in enumerate(blocks):
        if "[network]" not in b:
            continue
        n += 1
        for k, v in files.items():
            b = b.replace(k, v)
        path = os.path.join(tmp, "ex%d.conf" % i)
        with open(path, "w") as f:
            f.write(b)
        r = run_check(path)
        check(r.returncode == 0 and "configuration OK: network mode" in r.stdout,
              "example %d is accepted: %s" % (i, (r.stdout + r.stderr).strip()
                                              .splitlines()[:3]))
    check(n >= 3, "%d complete examples checked (socket, dpdk, README)" % n)

    bad = [
        ("[network]\ndriver = socket\n[upstream u]\naddress = 127.0.0.1:514\n"
         "[source s]\ntenant = t\n", "needs a [listen NAME]"),
        ("[network]\ndriver = socket\n[listen l]\naddress = 127.0.0.1:514\n"
         "[source s]\ntenant = t\n", "[upstream NAME]"),
        ("[network]\ndriver = socket\n[listen l]\naddress = 127.0.0.1:514\n"
         "[upstream u]\naddress = 127.0.0.1:515\n[source s]\ntenant = t\n"
         "networks = 10.1.2.3/8\n", ":9: [source s] networks: \"10.1.2.3/8\" has bits set"),
        ("[network]\ndriver = socket\ndefault_source = nosuch\n[listen l]\n"
         "address = 127.0.0.1:514\n[upstream u]\naddress = 127.0.0.1:515\n"
         "[source s]\ntenant = t\n", "default_source = nosuch: no [source nosuch]"),
        ("[network]\ndriver = socket\n[listen l]\naddress = 127.0.0.1:514\n"
         "protocol = tls\ntls_cert = /nonexistent.pem\ntls_key = /nonexistent.pem\n"
         "[upstream u]\naddress = 127.0.0.1:515\n[source s]\ntenant = t\n",
         "/nonexistent.pem: No such file"),
        ("[network]\ndriver = dpdk\n[port p]\ndevice = net_pcap0\n"
         "address = 192.0.2.10/24\n[upstream u]\naddress = collector.example:514\n"
         "[source s]\ntenant = t\n", "not a name"),
        ("[network]\ndriver = socket\n[listen l]\naddress = 127.0.0.1:99999\n",
         ":4: address: \"127.0.0.1:99999\" is not HOST:PORT"),
        ("[network]\ndriver = socket\n[listen l]\naddress = 127.0.0.1:514\n"
         "[upstream u]\naddress = 127.0.0.1:515\n",
         "network mode needs a [source NAME]"),
    ]
    for i, (conf, want) in enumerate(bad):
        path = os.path.join(tmp, "bad%d.conf" % i)
        with open(path, "w") as f:
            f.write(conf)
        r = run_check(path)
        check(r.returncode == 2 and want in r.stderr,
              "mistake %d refused with \"%s\": %s" % (i, want, r.stderr.strip()[:200]))
    quick_start(readme)
    print("%d failed" % failed)
    return 1 if failed else 0


def quick_start(readme):
    """The README's network quick start, run as written (from a directory
    whose build/ is this build), in a network namespace of its own: its
    fixed ports meet no other test's."""
    m = re.search(r"line sent with `logger`, its token resolved:\n\n```sh\n(.*?)```",
                  readme, re.S)
    check(m is not None, "the README has the network quick start")
    if m is None:
        return
    if os.getuid() != 0 or shutil.which("unshare") is None:
        print("skip the quick start's run: needs root and unshare (a namespace of its own)")
        return
    tmp = tempfile.mkdtemp(prefix="veil-quick-")
    os.symlink(os.path.dirname(os.path.dirname(os.path.abspath(DP))),
               os.path.join(tmp, "build"))
    script = os.path.join(tmp, "quick.sh")
    with open(script, "w") as f:
        f.write("set -m\nip link set lo up\n" + m.group(1))
    r = subprocess.run(["unshare", "-n", "bash", script], cwd=tmp, capture_output=True,
                       text=True, timeout=120)
    out = r.stdout
    tok = re.search(r"suser=(veil_u[0-9]+_[a-z2-7]+) src=10.0.0.7", out)
    check(tok is not None and "suser=alice" not in out,
          "quick start: the collector got the line, alice tokenized (%s)" % out[-400:])
    check(tok is not None and re.search(re.escape(tok.group(1)) + r"\talice", out),
          "quick start: the token resolves to alice")
    check("1 lines in" in out and "1 written, 0 dropped, 0 held" in out,
          "quick start: the summary adds up (%s)" % (out + r.stderr)[-300:])
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
