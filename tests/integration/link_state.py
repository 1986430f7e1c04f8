#!/usr/bin/env python3
# SPDX-License-Identifier: LicenseRef-veil-proprietary
"""The link's state changes are logged while veil-dataplane runs, not only
in the summary at its end. veil-dataplane in network mode (socket driver,
UDP in and out) started before veil-controld, from one config file:

  1. no controld: within a few seconds the log says there is no link, where,
     why ("nobody listens there") and what happens to the lines meanwhile;
  2. controld starts: the log says the link is attached;
  3. controld stops: the log says the link is lost;
  4. it comes back: attached again.

usage: link_state.py BUILD_DIR
"""
import os
import queue
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

import veiltest
from veiltest import check

BUILD = sys.argv[1]
DP = os.path.join(BUILD, "dataplane", "veil-dataplane")


class Lines:
    """stderr of a process, line by line, read in a thread."""

    def __init__(self, f):
        self.q = queue.Queue()
        self.all = []
        threading.Thread(target=self._read, args=(f,), daemon=True).start()

    def _read(self, f):
        for raw in iter(f.readline, b""):
            self.q.put(raw.decode("utf-8", "replace").rstrip("\n"))

    def wait_for(self, text, secs):
        """The first line (from now) that holds @text within @secs, or None."""
        end = time.monotonic() + secs
        while time.monotonic() < end:
            try:
                ln = self.q.get(timeout=max(0.05, end - time.monotonic()))
            except queue.Empty:
                break
            self.all.append(ln)
            if text in ln:
                return ln
        return None


def main():
    root = tempfile.mkdtemp(prefix="veil-linkstate-")
    link = os.path.join(root, "link.sock")
    inp = veiltest.free_port(socket.SOCK_DGRAM)
    r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    r.bind(("127.0.0.1", 0))
    out = r.getsockname()[1]
    d = veiltest.Controld(BUILD, root, link, extra=(
        "[network]\ndriver = socket\n\n[listen udp]\naddress = 127.0.0.1:%d\n\n"
        "[upstream out]\nprotocol = udp\naddress = 127.0.0.1:%d\n\n"
        "[source a]\ntenant = acme\nformat = cef\nnetworks = 127.0.0.1\n" % (inp, out)))
    dp = None
    try:
        dp = subprocess.Popen([DP, "-c", d.conf, "--json"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
        log = Lines(dp.stderr)
        ln = log.wait_for("no link to veil-controld", 10)
        check(ln is not None, "1: the log says there is no link (%s)" % log.all[-5:])
        if ln:
            check(link in ln and "nobody listens there" in ln and "never written in clear"
                  in ln, "1: where, why and what happens to the lines: %s" % ln)

        d.start(tenants=["acme"])
        ln = log.wait_for("attached", 10)
        check(ln is not None and link in ln and "after" in ln,
              "2: the log says the link is attached (%s)" % (ln or log.all[-5:]))

        d.stop()
        ln = log.wait_for("LOST", 10)
        check(ln is not None and link in ln,
              "3: the log says the link is lost (%s)" % (ln or log.all[-5:]))

        d.start()
        ln = log.wait_for("attached", 15)
        check(ln is not None, "4: attached again (%s)" % (ln or log.all[-5:]))
        rc, s, err = veiltest.stop_dataplane(dp)
        check(rc == 0, "veil-dataplane stops cleanly (%s)" % err[-300:])
    finally:
        if dp is not None and dp.poll() is None:
            dp.kill()
        d.stop()
        shutil.rmtree(root, ignore_errors=True)
    return veiltest.finish("link-state")


if __name__ == "__main__":
    sys.exit(main())
