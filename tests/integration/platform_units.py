# SPDX-License-Identifier: LicenseRef-veil-proprietary
"""The appliance's service side (platform/): veil-controld's sd_notify
messages as systemd sees them (READY=1 once it serves, RELOADING=1 then
READY=1 around a SIGHUP reload, WATCHDOG=1 pings while WATCHDOG_USEC asks for
them, STOPPING=1), the units' syntax (systemd-analyze verify) and sandbox
(systemd-analyze security: exposure at most 3.0 for controld, 6.0 for the
dataplane), and the shipped /etc/veil/veil.conf: both daemons accept it,
and it names every key they read.

usage: platform_units.py BUILD SOURCE_ROOT"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import veiltest
from veiltest import check

BUILD, SRC = sys.argv[1], sys.argv[2]
UNITS = os.path.join(SRC, "platform", "systemd")


def notify_messages(sock, want, secs=10.0):
    """Datagrams on @sock until one equals or starts with @want (a state
    line such as "READY=1"). @return every message read, in order."""
    got = []
    end = time.monotonic() + secs
    while time.monotonic() < end:
        sock.settimeout(max(0.05, end - time.monotonic()))
        try:
            m = sock.recv(4096).decode()
        except socket.timeout:
            break
        got.append(m)
        if want in m.split("\n"):
            break
    return got


def test_notify():
    root = tempfile.mkdtemp(prefix="veil-notify-%d-" % os.getpid())
    ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    npath = os.path.join(root, "notify.sock")
    ns.bind(npath)
    ctld = veiltest.Controld(BUILD, root)
    env = dict(os.environ, NOTIFY_SOCKET=npath, WATCHDOG_USEC="200000")
    log = open(os.path.join(root, "ctld.log"), "a")
    proc = subprocess.Popen([os.path.join(BUILD, "control", "veil-controld"),
                             "-f", "-c", ctld.conf], stderr=log, env=env)
    try:
        got = notify_messages(ns, "READY=1")
        check(got and got[-1].split("\n")[0] == "READY=1",
              "READY=1 once it serves: %r" % got)
        # READY=1 comes after the socket exists: a client can connect now
        check(veiltest.wait_unix(ctld.sock, proc, tries=1),
              "the admin socket accepts once READY=1 was sent")
        # WATCHDOG_USEC=200000: a ping at least every 100 ms
        pings = notify_messages(ns, "never", secs=1.0)
        check(pings.count("WATCHDOG=1") >= 3,
              "WATCHDOG=1 pings from the poll loop: %r" % pings)
        proc.send_signal(signal.SIGHUP)
        got = notify_messages(ns, "READY=1")
        states = [m for m in got if m != "WATCHDOG=1"]
        check(len(states) == 2 and states[0].startswith("RELOADING=1\nMONOTONIC_USEC=")
              and states[1] == "READY=1",
              "SIGHUP: RELOADING=1 (with MONOTONIC_USEC) then READY=1: %r" % got)
        proc.send_signal(signal.SIGTERM)
        got = notify_messages(ns, "STOPPING=1")
        check("STOPPING=1" in got, "SIGTERM: STOPPING=1: %r" % got)
        check(proc.wait(timeout=10) == 0, "controld exits 0 after SIGTERM")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
        ns.close()
    # without WATCHDOG_USEC: no pings at all
    root2 = tempfile.mkdtemp(prefix="veil-notify2-%d-" % os.getpid())
    ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    npath = os.path.join(root2, "notify.sock")
    ns.bind(npath)
    ctld = veiltest.Controld(BUILD, root2)
    env = dict(os.environ, NOTIFY_SOCKET=npath)
    env.pop("WATCHDOG_USEC", None)
    proc = subprocess.Popen([os.path.join(BUILD, "control", "veil-controld"),
                             "-f", "-c", ctld.conf], stderr=subprocess.DEVNULL, env=env)
    try:
        notify_messages(ns, "READY=1")
        check("WATCHDOG=1" not in notify_messages(ns, "never", secs=0.5),
              "no WATCHDOG=1 when systemd asks for no watchdog")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        ns.close()
    shutil.rmtree(root, ignore_errors=True)
    shutil.rmtree(root2, ignore_errors=True)


def test_units():
    if shutil.which("systemd-analyze") is None:
        print("SKIP units: no systemd-analyze (Debian package systemd)")
        return
    tmp = tempfile.mkdtemp(prefix="veil-units-%d-" % os.getpid())
    # verify wants the programs where the units say: point them at the build
    for u, prog in (("veil-controld.service", "control/veil-controld"),
                    ("veil-dataplane.service", "dataplane/veil-dataplane")):
        text = open(os.path.join(UNITS, u)).read()
        name = os.path.basename(prog)
        check("/usr/sbin/%s " % name in text, "%s runs /usr/sbin/%s" % (u, name))
        with open(os.path.join(tmp, u), "w") as f:
            f.write(text.replace("/usr/sbin/" + name, os.path.join(BUILD, prog)))
    p = subprocess.run(["systemd-analyze", "verify", "--man=no",
                        "veil-controld.service", "veil-dataplane.service"],
                       cwd=tmp, capture_output=True, text=True, timeout=60)
    check(p.returncode == 0 and p.stderr.strip() == "",
          "systemd-analyze verify: clean (%d): %s" % (p.returncode, p.stderr))
    for u, limit in (("veil-controld.service", 3.0), ("veil-dataplane.service", 6.0)):
        p = subprocess.run(["systemd-analyze", "security", "--offline=true", u],
                           cwd=UNITS, capture_output=True, text=True, timeout=60)
        m = re.search(r"Overall exposure level for %s: ([0-9.]+)" % re.escape(u),
                      p.stdout)
        check(m is not None and float(m.group(1)) <= limit,
              "%s: exposure %s, at most %.1f" % (u, m.group(1) if m else p.stdout[-300:], limit))
        if m:
            print("%s: exposure %s" % (u, m.group(1)))
    shutil.rmtree(tmp, ignore_errors=True)


def keys_read_by(path):
    """The key names a config parser compares against: !strcmp(name, "KEY")."""
    text = open(os.path.join(SRC, path)).read()
    return set(re.findall(r'!strcmp\(name, "([a-z_0-9]+)"\)', text))


def test_conf():
    conf = open(os.path.join(SRC, "platform", "veil.conf")).read()
    named = set(re.findall(r"^;?([a-z_0-9]+) = ", conf, re.M))
    # link_name is refused (replaced by link_socket): not offered
    for src in ("control/config.c", "dataplane/process/dpd_config.c"):
        for k in sorted(keys_read_by(src) - {"link_name"}):
            check(k in named, "platform/veil.conf names %s's key %s" % (src, k))
    for k in ("key_retention_days", "audit_retention_days", "rate_limit"):
        check(k in named, "platform/veil.conf names the setting %s" % k)
    # as shipped (its users swapped for ones this machine has, its paths
    # for a directory of our own), both daemons accept it
    tmp = tempfile.mkdtemp(prefix="veil-conf-%d-" % os.getpid())
    text = conf.replace("dataplane_user = veil-dp", "dataplane_user = root")
    text = text.replace("controld_user = veil\n", "controld_user = root\n")
    text = text.replace("[controld]\n", "[controld]\nstate_dir = %s/state\nsocket = %s/c.sock\n"
                        "link_socket = %s/l.sock\n" % (tmp, tmp, tmp), 1)
    path = os.path.join(tmp, "veil.conf")
    with open(path, "w") as f:
        f.write(text)
    p = subprocess.run([os.path.join(BUILD, "control", "veil-controld"), "-n", "-c", path],
                       capture_output=True, text=True, timeout=60)
    check(p.returncode == 0 and "configuration OK" in p.stdout,
          "veil-controld -n accepts platform/veil.conf: %s" % p.stderr)
    p = subprocess.run([os.path.join(BUILD, "dataplane", "veil-dataplane"), "--", "-n", "-c", path],
                       capture_output=True, text=True, timeout=60)
    check(p.returncode == 0 and "configuration OK" in p.stdout,
          "veil-dataplane -n accepts platform/veil.conf: %s" % p.stderr)
    shutil.rmtree(tmp, ignore_errors=True)


test_notify()
test_units()
test_conf()
sys.exit(veiltest.finish("platform-units"))
