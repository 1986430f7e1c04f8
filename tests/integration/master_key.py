#!/usr/bin/env python3
# SPDX-License-Identifier: LicenseRef-veil-proprietary
"""The master key checked while veil-controld runs, with the real daemon
and veilctl: master_key_check_interval = 1; master.key removed, then
replaced by another key, then put back: status says "missing", "changed",
then "ok" again, with since when; each change is one governance record and
one log line (not one a check); the metric follows; the tenant keeps
resolving from memory all along.

usage: master_key.py BUILD_DIR
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import veiltest  # noqa: E402
from veiltest import check  # noqa: E402

JUST = "incident 4711: master key check test"


def wait_status(d, want, secs=20):
    """Poll status until master_key is want; the last answer."""
    end = time.monotonic() + secs
    a = {}
    while time.monotonic() < end:
        rc, a = d.ctl("status")
        if a.get("master_key") == want:
            return a
        time.sleep(0.2)
    return a


def metric(port):
    try:
        body = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port,
                                      timeout=5).read().decode()
    except OSError:
        return None
    for line in body.splitlines():
        if line.startswith("veil_master_key_ok "):
            return float(line.split()[1])
    return None


def main(build):
    root = tempfile.mkdtemp(prefix="veil-mkey-%d-" % os.getpid())
    port = veiltest.free_port()
    d = veiltest.Controld(build, root)
    # the check's interval in [controld], beside the rest
    with open(d.conf) as f:
        conf = f.read()
    with open(d.conf, "w") as f:
        f.write(conf.replace("[controld]\n", "[controld]\nmaster_key_check_interval = 1\n"
                             "metrics_listen = 127.0.0.1:%d\n" % port, 1))
    key = os.path.join(root, "state", "master.key")
    try:
        d.start(tenants=("acme",))
        rc, a = d.ctl("lookup", "-t", "acme", "-j", JUST, "alice@example.com")
        tok = a["tokens"][0]["token"]
        a = wait_status(d, "ok")
        check(a.get("master_key") == "ok", "status: master_key ok: %s" % a)
        check(metric(port) == 1, "metric veil_master_key_ok 1")
        with open(key, "rb") as f:
            orig = f.read()

        os.rename(key, key + ".away")
        a = wait_status(d, "missing")
        check(a.get("master_key") == "missing" and a.get("master_key_since"),
              "removed: status says missing, since when: %s" % a)
        time.sleep(2.5)  # more checks fail: still one record, one line
        rc, a = d.ctl("resolve", "-t", "acme", "-j", JUST, tok)
        check(rc == 0 and a.get("names") == ["alice@example.com"],
              "the tenant resolves from memory meanwhile")
        check(metric(port) == 0, "metric veil_master_key_ok 0")

        with open(key, "wb") as f:
            f.write(os.urandom(32))
        os.chmod(key, 0o600)
        a = wait_status(d, "changed")
        check(a.get("master_key") == "changed", "another key: status says changed: %s" % a)

        os.unlink(key)
        os.rename(key + ".away", key)
        with open(key, "rb") as f:
            check(f.read() == orig, "the key is back as it was")
        a = wait_status(d, "ok")
        check(a.get("master_key") == "ok", "put back: status ok again: %s" % a)

        rc, a = d.ctl("audit", "show", "--action", "master_key")
        outs = [r.get("outcome", "") for r in a.get("records", [])]
        check(len(outs) == 3 and outs[0].startswith("missing") and
              outs[1].startswith("changed") and outs[2].startswith("ok"),
              "one record per change: %s" % outs)
        rc, a = d.ctl("audit", "verify")
        check(rc == 0 and a.get("intact") is True, "the log verifies")
        d.stop()
        with open(os.path.join(root, "ctld.log")) as f:
            lines = [ln for ln in f if "master key" in ln]
        check(len(lines) == 3, "one log line per change: %s" % lines)
        # and it starts again with the key put back
        d.start()
        rc, a = d.ctl("resolve", "-t", "acme", "-j", JUST, tok)
        check(rc == 0, "a restart with the key back serves")
    finally:
        d.stop()
        shutil.rmtree(root, ignore_errors=True)
    return veiltest.finish("master-key")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
