# SPDX-License-Identifier: LicenseRef-veil-proprietary
"""veilctl doctor on this machine: every check is there, in text and in
JSON, with a status from ok/warn/fail and a fix for every one that is not
ok; the exit status is 1 exactly when one failed. Then conditions that must
fail: controld not running, a [port] whose PCI device is not there, a
config file with an error; and the hugepages check follows the config
(fail for the dpdk driver, warn otherwise) against what /sys says.

usage: doctor.py BUILD"""
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

import veiltest
from veiltest import check

BUILD = sys.argv[1]
VEILCTL = os.path.join(BUILD, "control", "veilctl")
CHECKS = ["config", "cpu_crypto", "hugepages", "iommu", "nics", "memlock",
          "isolated_cpus", "clock", "state_dir", "controld"]
ENV = {k: v for k, v in os.environ.items() if k != "VEIL_SOCKET"}


def doctor(conf, *extra):
    """veilctl doctor -c CONF --json: (exit status, {check: entry}, doc)."""
    p = subprocess.run([VEILCTL, "doctor", "-c", conf, "--json"] + list(extra),
                       capture_output=True, text=True, timeout=60, env=ENV)
    try:
        doc = json.loads(p.stdout)
    except ValueError:
        check(False, "doctor --json prints JSON: %r %r" % (p.stdout[:300], p.stderr))
        return p.returncode, {}, None
    return p.returncode, {c["check"]: c for c in doc.get("checks", [])}, doc


def structure(rc, by, doc, what):
    check(doc is not None and list(by) == CHECKS,
          "%s: the checks, in order: %r" % (what, list(by)))
    for name, c in by.items():
        check(c.get("status") in ("ok", "warn", "fail"),
              "%s: %s has a status from ok/warn/fail: %r" % (what, name, c))
        check(isinstance(c.get("detail"), str) and c["detail"] != "",
              "%s: %s says what it found" % (what, name))
        check((c.get("fix") != "") == (c.get("status") != "ok"),
              "%s: %s has a fix exactly when it is not ok: %r" % (what, name, c))
    failed = any(c.get("status") == "fail" for c in by.values())
    check(rc == (1 if failed else 0) and doc is not None and doc.get("ok") == (not failed),
          "%s: exit %d and ok=%r match the failed checks (%s)" %
          (what, rc, doc and doc.get("ok"), failed))


def hugepages_reserved():
    total = 0
    for f in glob.glob("/sys/kernel/mm/hugepages/hugepages-*/nr_hugepages"):
        total += int(open(f).read())
    mounted = any(l.split()[2] == "hugetlbfs" for l in open("/proc/mounts"))
    return total > 0 and mounted


root = tempfile.mkdtemp(prefix="veil-doctor-%d-" % os.getpid())
ctld = veiltest.Controld(BUILD, root)
ctld.start(tenants=["acme"])
try:
    rc, by, doc = doctor(ctld.conf)
    structure(rc, by, doc, "this machine")
    check(by.get("controld", {}).get("status") == "ok" and
          "1 tenants" in by["controld"]["detail"],
          "controld reachable at the config's socket: %r" % by.get("controld"))
    check(by.get("config", {}).get("status") == "ok", "the config reads: %r" % by.get("config"))
    check(by.get("state_dir", {}).get("status") in ("ok", "warn") and
          by["state_dir"]["detail"].startswith(root + "/state:"),
          "the state dir checked is the config's: %r" % by.get("state_dir"))
    check(by.get("hugepages", {}).get("status") == ("ok" if hugepages_reserved() else "warn"),
          "no dpdk driver configured: hugepages ok or warn as /sys says: %r"
          % by.get("hugepages"))

    # the same in text: one line per check, its status first
    p = subprocess.run([VEILCTL, "doctor", "-c", ctld.conf], capture_output=True,
                       text=True, timeout=60, env=ENV)
    lines = [l.split() for l in p.stdout.splitlines() if l and not l.startswith(" ")]
    check([l[1] for l in lines] == CHECKS and
          all(l[0] == by[l[1]]["status"] for l in lines),
          "text: one line per check with the JSON's status: %r" % p.stdout)
    check(p.returncode == rc, "text and JSON exit the same (%d, %d)" % (p.returncode, rc))

    # --socket overrides the config's socket
    rc2, by2, _ = doctor(ctld.conf, "--socket", os.path.join(root, "nothing.sock"))
    check(by2.get("controld", {}).get("status") == "fail" and rc2 == 1,
          "--socket elsewhere: controld fails, exit 1: %r" % by2.get("controld"))
finally:
    ctld.stop()

# controld stopped: a fail line and a non-zero exit
rc, by, doc = doctor(ctld.conf)
structure(rc, by, doc, "controld stopped")
check(rc == 1 and by.get("controld", {}).get("status") == "fail" and
      "not reachable" in by["controld"]["detail"] and "systemctl start" in by["controld"]["fix"],
      "controld stopped: fail with what to do, exit 1: %r" % by.get("controld"))

# a [port] on a PCI address that is not there, with the dpdk driver
conf2 = os.path.join(root, "dpdk.conf")
with open(conf2, "w") as f:
    f.write(open(ctld.conf).read() + "\n[network]\ndriver = dpdk\n\n[port data]\n"
            "device = 0000:ff:1f.7\naddress = 192.0.2.10/24\n")
rc, by, doc = doctor(conf2)
structure(rc, by, doc, "missing port")
check(rc == 1 and by.get("nics", {}).get("status") == "fail" and
      "[port data] device 0000:ff:1f.7: no such PCI device" in by["nics"]["detail"],
      "a configured port that is not there fails: %r" % by.get("nics"))
check(by.get("hugepages", {}).get("status") == ("ok" if hugepages_reserved() else "fail"),
      "driver = dpdk: hugepages ok or fail as /sys says: %r" % by.get("hugepages"))

# a config file with an error: fail, the other checks still run
conf3 = os.path.join(root, "bad.conf")
with open(conf3, "w") as f:
    f.write("[controld\nstate_dir = /x\n")
rc, by, doc = doctor(conf3)
structure(rc, by, doc, "bad config")
check(rc == 1 and by.get("config", {}).get("status") == "fail" and
      by["config"]["detail"].startswith(conf3 + ":1:"),
      "a config with an error fails, naming file and line: %r" % by.get("config"))

# usage errors
p = subprocess.run([VEILCTL, "doctor", "extra"], capture_output=True, text=True,
                   timeout=60, env=ENV)
check(p.returncode == 2 and "usage: veilctl doctor" in p.stderr,
      "an extra argument is a usage error (2): %d %r" % (p.returncode, p.stderr))

shutil.rmtree(root, ignore_errors=True)
sys.exit(veiltest.finish("doctor"))
