# SPDX-License-Identifier: LicenseRef-veil-proprietary
"""What the integration tests share: the check() tally, a real
veil-controld on a state directory of its own (Controld), veilctl calls,
free ports, and veil-dataplane's JSON summary. Each test script imports it
from its own directory (`import veiltest`)."""
import json
import os
import signal
import socket
import subprocess
import time

TOKEN_RE = rb"veil_[ud][0-9]+_[a-z2-7]+"

results = {"passed": 0, "failed": 0}


def check(cond, what):
    """Count an assertion; print it when it fails. @return cond."""
    if cond:
        results["passed"] += 1
    else:
        results["failed"] += 1
        print("FAIL: %s" % what, flush=True)
    return cond


def finish(name):
    """Print the tally. @return the exit status (1 if anything failed)."""
    print("%s: %d checks passed, %d failed" % (name, results["passed"],
                                              results["failed"]))
    return 1 if results["failed"] else 0


def free_port(kind=socket.SOCK_STREAM):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, secs=10.0):
    """Wait until something accepts TCP connections on 127.0.0.1:port."""
    end = time.monotonic() + secs
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def summary_of(stderr):
    """veil-dataplane's --json summary: the last line of stderr that is a
    JSON object, or None."""
    if isinstance(stderr, bytes):
        stderr = stderr.decode("utf-8", "replace")
    for line in reversed(stderr.splitlines()):
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                return None
    return None


class Controld:
    """A real veil-controld with its own state directory, socket and link."""

    def __init__(self, build, root, link, extra=""):
        """@extra: more sections for the same file (veil-dataplane's: one
        config file for both daemons, as on the appliance)."""
        self.build, self.root, self.link = build, root, link
        self.conf = os.path.join(root, "veil.conf")
        self.sock = os.path.join(root, "controld.sock")
        with open(self.conf, "w") as f:
            f.write("[controld]\nstate_dir = %s/state\nsocket = %s\nlink_name = %s\n"
                    "\n[roles]\nadmin = uid:%d\n\n%s" % (root, self.sock, link,
                                                      os.getuid(), extra))
        self.proc = None
        self.log = None

    def start(self):
        self.log = open(os.path.join(self.root, "ctld.log"), "a")
        self.proc = subprocess.Popen([os.path.join(self.build, "control", "veil-controld"),
                                      "-f", "-c", self.conf], stderr=self.log)
        for _ in range(200):
            try:
                s = socket.socket(socket.AF_UNIX)
                s.connect(self.sock)
                s.close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("controld did not start")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=10)
        if self.log:
            self.log.close()
            self.log = None

    def ctl(self, *args, stdin=None):
        """veilctl --json ARGS: (exit status, the JSON answer)."""
        p = subprocess.run([os.path.join(self.build, "control", "veilctl"), "--socket",
                            self.sock, "--json"] + list(args), input=stdin,
                           capture_output=True, timeout=60)
        try:
            return p.returncode, json.loads(p.stdout)
        except ValueError:
            return p.returncode, {"ok": False, "error": p.stderr.decode()}
