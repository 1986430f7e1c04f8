#!/usr/bin/env python3
# SPDX-License-Identifier: LicenseRef-veil-proprietary
"""veil-controld's privilege separation: callers' JSON is parsed by an api
process of its own, never by the process with the keys and the database.

- Two processes: the daemon and one child, its api process
  (veil-controld --api-child).
- The api process holds no fd of the database, its WAL or the master key
  (the daemon does: the check can see them), has NoNewPrivs 1 and is not
  dumpable; started as root, it runs under another uid (api_user) in a
  chroot to an empty directory.
- kill -9 of the api process: the daemon goes on, logs it, starts another,
  which answers; a token made before still resolves (no key was lost).
- Many requests in flight at once (one of them over 64 KiB): each caller
  gets the answer to its own request.
- What the api process refuses (a field of the wrong type, not JSON) is
  answered as before, and a caller without the role for the command is
  still refused and recorded first.

usage: controld_privsep.py BUILD_DIR
"""
import os
import shutil
import json
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import veiltest  # noqa: E402
from veiltest import check  # noqa: E402

BUILD = sys.argv[1]
JUST = "INC-7: privilege separation check"


def children(pid):
    """The pids whose parent is @pid."""
    out = []
    for e in os.listdir("/proc"):
        if not e.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % e) as f:
                st = f.read()
        except OSError:
            continue
        # the fields after the name (which may hold spaces): state, ppid
        rest = st[st.rindex(")") + 2:].split()
        if int(rest[1]) == pid:
            out.append(int(e))
    return out


def api_child(pid, other_than=None, tries=200):
    """The api process of daemon @pid (not @other_than), waiting for it to
    be there (at most @tries times 50 ms). None if there is none."""
    for _ in range(tries):
        for c in children(pid):
            try:
                with open("/proc/%d/cmdline" % c, "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            if c != other_than and b"--api-child" in argv:
                return c
        time.sleep(0.05)
    return None


def fd_targets(pid):
    d = "/proc/%d/fd" % pid
    out = []
    for fd in os.listdir(d):
        try:
            out.append(os.readlink(os.path.join(d, fd)))
        except OSError:
            pass
    return out


def status(pid):
    with open("/proc/%d/status" % pid) as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def landlock_abi():
    """The kernel's Landlock ABI version, 0 without it (x86-64 syscall 444,
    landlock_create_ruleset with LANDLOCK_CREATE_RULESET_VERSION)."""
    import ctypes
    import platform
    if platform.machine() != "x86_64":
        return 0
    libc = ctypes.CDLL(None, use_errno=True)
    v = libc.syscall(444, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    return v if v > 0 else 0


def handed_over(pid, tries=400):
    """Bytes wait in the receive queue of api process @pid's socket (fd 3),
    as ss(8) shows it (at most @tries times 50 ms)."""
    inode = os.readlink("/proc/%d/fd/3" % pid).strip("socket:[]")
    for _ in range(tries):
        out = subprocess.run(["ss", "-xnH"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            f = line.split()
            if len(f) >= 6 and f[5] == inode and int(f[2]) > 0:
                return True
        time.sleep(0.05)
    return False


def secret_fds(targets, state):
    return [t for t in targets if t.startswith(state + "/") and
            (os.path.basename(t).startswith("veil.db") or t.endswith("master.key"))]


def main():
    root = tempfile.mkdtemp(prefix="veil-privsep-%d-" % os.getpid())
    d = veiltest.Controld(BUILD, root)
    state = os.path.join(root, "state")
    try:
        d.start(tenants=("acme",))
        pid = d.proc.pid
        a = veiltest.api_call(d.sock, {"cmd": "lookup", "tenant": "acme", "kind": "user",
                                       "name": "alice@example.com", "justification": JUST})
        check(a.get("ok"), "a lookup before: %r" % a)
        tok = a["tokens"][0]["token"] if a.get("ok") else ""

        kids = children(pid)
        child = api_child(pid)
        check(child is not None and len(kids) == 1,
              "two processes: the daemon and its api process (children %r)" % kids)
        if child is None:
            return

        # the daemon has the database open: what the api process must not
        parent_fds = fd_targets(pid)
        check(any(os.path.basename(t) == "veil.db" for t in parent_fds),
              "the daemon holds veil.db (the check sees such fds): %r" % parent_fds)
        child_fds = fd_targets(child)
        check(secret_fds(child_fds, state) == [] and len(child_fds) <= 4,
              "the api process holds no fd of the database or the master key: %r"
              % child_fds)
        st = status(child)
        check(st.get("NoNewPrivs", "").strip() == "1", "the api process: NoNewPrivs 1")
        if os.getuid() == 0:
            uids = st["Uid"].split()
            check(all(u != "0" for u in uids),
                  "the api process runs under another uid than root: %r" % uids)
            api_root = os.path.join(os.path.dirname(d.sock), "api-root")
            check(os.readlink("/proc/%d/root" % child) == api_root,
                  "the api process is in a chroot to its empty directory: %s"
                  % os.readlink("/proc/%d/root" % child))
            check(os.listdir(api_root) == [], "and that directory is empty")
        else:
            veiltest.skip("api uid", "not root: the api process keeps our uid")

        with open(os.path.join(root, "ctld.log")) as f:
            log = f.read()
        if landlock_abi() > 0:
            check("veil-controld (api)" not in log,
                  "the api process dropped everything it tries (Landlock, limits): %s"
                  % log)
        else:
            veiltest.skip("Landlock", "this kernel has no Landlock")

        # what the api process refuses is answered as before
        a = veiltest.api_call(d.sock, {"cmd": "key.destroy", "tenant": "acme",
                                       "version": "two", "reason": JUST})
        check(not a["ok"] and a["error"] == '"version" must be an integer',
              "a field of the wrong type is refused by the api process: %r" % a)
        a = veiltest.api_call(d.sock, {"cmd": "tenant.show", "tenant": "acme",
                                       "unknown_field": {"a": [1, 2]}})
        check(not a["ok"] and a["error"] == '"unknown_field" is not a field of tenant.show',
              "a field the method does not take is refused, not dropped: %r" % a)

        many_at_once(d, tok)

        # kill -9 of the api process: the daemon goes on with another
        os.kill(child, signal.SIGKILL)
        new = api_child(pid, other_than=child)
        check(d.proc.poll() is None, "the daemon goes on after the api process died")
        check(new is not None, "a new api process is started")
        a = veiltest.api_call(d.sock, {"cmd": "status"})
        check(a.get("ok"), "the new api process answers: %r" % a)
        a = veiltest.api_call(d.sock, {"cmd": "resolve", "tenant": "acme", "token": tok,
                                       "justification": JUST})
        check(a.get("ok") and a.get("names") == ["alice@example.com"],
              "a token made before still resolves: no key lost: %r" % a)
        with open(os.path.join(root, "ctld.log")) as f:
            log = f.read()
        check("the api process (pid %d ended by signal 9" % child in log,
              "the daemon logs the api process's end")
        check(children(pid) == [new], "one api process at a time: %r" % children(pid))

        # a caller whose request the api process has when it dies: its
        # connection is closed (it sends it again), the daemon goes on
        if new is not None:
            os.kill(new, signal.SIGSTOP)
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(60)
                s.connect(d.sock)
                body = json.dumps({"cmd": "status"}).encode()
                s.sendall(struct.pack(">I", len(body)) + body)
                # the daemon has handed it over: it waits in the stopped
                # api process's socket
                check(handed_over(new), "the request waits at the stopped api process")
                os.kill(new, signal.SIGKILL)
                try:
                    got = s.recv(4096)
                except OSError:
                    got = b""
            check(got == b"", "the caller of that moment has its connection closed: %r" % got)
            third = api_child(pid, other_than=new)
            check(third is not None and d.proc.poll() is None,
                  "the daemon goes on with a third api process")
            a = veiltest.api_call(d.sock, {"cmd": "status"})
            check(a.get("ok"), "which answers: %r" % a)
    finally:
        d.stop()
        shutil.rmtree(root, ignore_errors=True)


def recv_answer(s):
    """One answer on @s (a 4-byte length, then JSON), {} if it closed."""
    data = b""
    while len(data) < 4 or len(data) < 4 + struct.unpack(">I", data[:4])[0]:
        chunk = s.recv(1 << 20)
        if not chunk:
            return {}
        data += chunk
    return json.loads(data[4:])


def many_at_once(d, tok):
    """Many requests in flight together go to the api process in one write
    and come back typed in one: each caller still gets the answer to its
    own request, a request larger than the api process's first buffer
    (64 KiB) among them."""
    # 15 connections: under the default connections_per_uid (16)
    names = ["user%02d@example.com" % i for i in range(13)]
    want = {}
    for n in names:
        a = veiltest.api_call(d.sock, {"cmd": "lookup", "tenant": "acme", "kind": "user",
                                       "name": n, "justification": JUST})
        want[n] = a["tokens"][0]["token"] if a.get("ok") else None
    big = {"cmd": "resolve", "tenant": "acme", "tokens": [tok] * 3000,
           "justification": JUST}
    reqs = [{"cmd": "lookup", "tenant": "acme", "kind": "user", "name": n,
             "justification": JUST} for n in names]
    reqs.insert(6, big)
    reqs.append({"cmd": "tenant.show", "tenant": "acme"})
    socks = []
    try:
        for r in reqs:
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(60)
            s.connect(d.sock)
            socks.append(s)
        # every request written before any answer is read
        for s, r in zip(socks, reqs):
            body = json.dumps(r).encode()
            s.sendall(struct.pack(">I", len(body)) + body)
        got = [recv_answer(s) for s in socks]
    finally:
        for s in socks:
            s.close()
    check(len(json.dumps(big)) > 65536, "the bulk resolve is over 64 KiB")
    check(all(got[reqs.index(r)].get("tokens", [{}])[0].get("token") == want[r["name"]]
              for r in reqs if r["cmd"] == "lookup"),
          "each of %d lookups sent at once gets its own name's token" % len(names))
    a = got[6]
    names = a.get("names") or []
    check(a.get("ok") and a.get("resolved") == 3000 and len(names) == 3000 and
          set(names) == {"alice@example.com"},
          "the bulk resolve among them is answered whole: ok %r, resolved %r, %d names, "
          "error %r" % (a.get("ok"), a.get("resolved"), len(names), a.get("error")))
    check(got[-1].get("ok") and got[-1]["tenant"]["tenant"] == "acme",
          "and the tenant.show after it: %r" % got[-1].get("error"))


def api_user_checked():
    """veil-controld -n refuses an api_user that is root or unknown."""
    if os.getuid() != 0:
        veiltest.skip("api_user check", "not root: api_user is not used")
        return
    root = tempfile.mkdtemp(prefix="veil-privsep-n-%d-" % os.getpid())
    try:
        for user, want in (("root", "is root"), ("no-such-user-%d" % os.getpid(),
                                                 "no such user")):
            conf = os.path.join(root, "veil.conf")
            with open(conf, "w") as f:
                f.write("[controld]\nstate_dir = %s/state\napi_user = %s\n" % (root, user))
            p = subprocess.run([os.path.join(BUILD, "control", "veil-controld"), "-n",
                                "-c", conf], capture_output=True, text=True, timeout=60)
            check(p.returncode == 1 and "api_user %s: %s" % (user, want) in p.stderr,
                  "veil-controld -n refuses api_user %s: %s" % (user, p.stderr))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
    api_user_checked()
    sys.exit(veiltest.finish("controld-privsep"))
