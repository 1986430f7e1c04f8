# SPDX-License-Identifier: LicenseRef-veil-proprietary
"""What the integration tests and the Python benchmarks share: the check()
tally, a real veil-controld on a state directory of its own (Controld),
veilctl calls, free ports, test certificates (the openssl CLI), and
veil-dataplane runs with their JSON summary, its telemetry socket. Each test script imports it
from its own directory (`import veiltest`); the benchmarks put
tests/integration on sys.path first."""
import atexit
import errno
import json
import os
import shutil
import signal
import socket
import stat
import struct
import subprocess
import tempfile
import time

TOKEN_RE = rb"veil_[ud][0-9]+_[a-z2-7]+"

results = {"passed": 0, "failed": 0}
skipped = []  # the parts this run could not do here, with the reason


def check(cond, what):
    """Count an assertion; print it when it fails. @return cond."""
    if cond:
        results["passed"] += 1
    else:
        results["failed"] += 1
        print("FAIL: %s" % what, flush=True)
    return cond


def skip(part, why):
    """Record a part of the test that cannot run here (and say why): the
    test then ends as skipped (77), not as passed, unless something failed."""
    skipped.append(part)
    print("SKIP %s: %s" % (part, why), flush=True)


def finish(name):
    """Print the tally. @return the exit status: 1 if anything failed, else
    77 (meson's "skipped") if a part could not run here, else 0."""
    print("%s: %d checks passed, %d failed, %d part(s) skipped%s"
          % (name, results["passed"], results["failed"], len(skipped),
             (" (%s)" % ", ".join(skipped)) if skipped else ""))
    if results["failed"]:
        return 1
    return 77 if skipped else 0


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


def wait_unix(path, proc=None, tries=200):
    """Wait until something accepts connections on the unix socket @path
    (0.05 s between @tries), or until @proc exits. @return True if it does."""
    for _ in range(tries):
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(path)
            return True
        except OSError:
            time.sleep(0.05)
    return False


def api_call_on(s, req):
    """One request of veil-controld's admin API (a 4-byte big-endian length,
    then JSON) on the open connection @s. @return the answer (a dict), or
    None if the connection closed before the whole answer came."""
    body = json.dumps(req).encode()
    s.sendall(struct.pack(">I", len(body)) + body)
    data = b""
    while len(data) < 4 or len(data) < 4 + struct.unpack(">I", data[:4])[0]:
        chunk = s.recv(1 << 20)
        if not chunk:
            return None
        data += chunk
    return json.loads(data[4:])


def api_call(path, req):
    """One request on a new connection to the socket @path. @return the
    answer, or {"ok": False, "error": "no answer"} if none came."""
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(path)
        a = api_call_on(s, req)
    return a if a is not None else {"ok": False, "error": "no answer"}


def make_certs(d):
    """A test PKI in directory @d, made with the openssl CLI (P-256 keys,
    valid 2 days): ca.pem (and ca.key), the server's srv.pem and srv.key
    for localhost and 127.0.0.1, the client's cli.pem and cli.key."""
    k = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
    cmd = ("set -e; cd %s;"
           "openssl req -x509 %s -keyout ca.key -out ca.pem -days 2 -subj /CN=veil-it-ca;"
           "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > srv.ext;"
           "openssl req %s -keyout srv.key -out srv.csr -subj /CN=localhost;"
           "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial"
           " -out srv.pem -days 2 -extfile srv.ext;"
           "openssl req %s -keyout cli.key -out cli.csr -subj /CN=veil-it-sender;"
           "openssl x509 -req -in cli.csr -CA ca.pem -CAkey ca.key -CAcreateserial"
           " -out cli.pem -days 2") % (d, k, k, k)
    subprocess.run(cmd, shell=True, check=True, capture_output=True, timeout=60)


# The programs that tests run as other uids, by their path in a build
# directory.
USER_PROGRAMS = ("control/veilctl", "control/veil-link-peer",
                 "control/veil-controld", "dataplane/veil-dataplane")
_reachable = {}


def _others_can_reach(path):
    """True if every directory from / down to @path lets others through
    (search permission), so a process of another uid can exec files in it."""
    path = os.path.abspath(path)
    while True:
        if not os.stat(path).st_mode & stat.S_IXOTH:
            return False
        if path == "/":
            return True
        path = os.path.dirname(path)


def reachable_build(build):
    """The build directory @build as a process of another uid can use it.
    @build itself when others can reach it; otherwise (a clone under a
    private home, such as /root, mode 0700) a copy of USER_PROGRAMS, with
    their relative paths, in a new directory of mode 0755 that is removed
    at exit. The user's own directories are never loosened."""
    build = os.path.abspath(build)
    if _others_can_reach(build):
        return build
    if build not in _reachable:
        d = tempfile.mkdtemp(prefix="veil-bin-")
        os.chmod(d, 0o755)
        atexit.register(shutil.rmtree, d, True)
        for rel in USER_PROGRAMS:
            src = os.path.join(build, rel)
            if not os.path.exists(src):
                continue
            dst = os.path.join(d, rel)
            os.makedirs(os.path.dirname(dst), mode=0o755, exist_ok=True)
            shutil.copy2(src, dst)
            os.chmod(dst, 0o755)
        _reachable[build] = d
    return _reachable[build]


# veil-dataplane's snapshot-mode EAL options: no hugepages, no devices
SNAPSHOT_EAL = ["--no-huge", "--no-pci", "--no-shconf", "--no-telemetry"]


def two_workers_eal():
    """EAL options for two workers: -l 0-2 needs 3 CPUs; on fewer, the
    same 3 lcores on the CPUs there are."""
    n = os.cpu_count() or 1
    lcores = (["-l", "0-2"] if n >= 3 else ["--lcores", "0@0,1@1,2@0"] if n >= 2
              else ["--lcores", "0@0,1@0,2@0"])
    return lcores + SNAPSHOT_EAL


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


def run_dataplane(build, args, eal=None, js=True, timeout=120, user=None):
    """veil-dataplane [EAL options @eal] -- @args [--json] (@js), to its
    end; as uid @user (groups dropped) if given.
    @return (exit status, the JSON summary or None, stderr as text)."""
    def drop():
        os.setgroups([])
        os.setgid(user)
        os.setuid(user)
    if user is not None:
        build = reachable_build(build)
    p = subprocess.run([os.path.join(build, "dataplane", "veil-dataplane")] + (eal or []) + ["--"]
                       + args + (["--json"] if js else []), capture_output=True,
                       timeout=timeout, preexec_fn=drop if user is not None else None)
    err = p.stderr.decode("utf-8", "replace")
    return p.returncode, summary_of(err), err


def stop_dataplane(proc, timeout=60):
    """SIGTERM to a running veil-dataplane (a Popen with stderr=PIPE, run
    with --json), then its end; killed if that takes over @timeout s.
    @return (exit status, the JSON summary or None, stderr as text)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    if isinstance(err, bytes):
        err = err.decode("utf-8", "replace")
    return proc.returncode, summary_of(err or ""), err or ""


class Controld:
    """A real veil-controld with its own state directory, socket and link
    socket (@link, default ROOT/link.sock: pass it to veil-dataplane's
    --link)."""

    def __init__(self, build, root, link=None, extra=""):
        """@extra: more sections for the same file (veil-dataplane's: one
        config file for both daemons, as on the appliance)."""
        link = link or os.path.join(root, "link.sock")
        self.build, self.root, self.link = build, root, link
        self.conf = os.path.join(root, "veil.conf")
        self.sock = os.path.join(root, "controld.sock")
        with open(self.conf, "w") as f:
            f.write("[controld]\nstate_dir = %s/state\nsocket = %s\nlink_socket = %s\n"
                    "\n[roles]\nadmin = uid:%d\n\n%s" % (root, self.sock, link,
                                                      os.getuid(), extra))
        self.proc = None
        self.log = None

    def start(self, tenants=()):
        """Start it and wait for its socket; then create @tenants (for the
        benchmarks: RuntimeError if one cannot be)."""
        self.log = open(os.path.join(self.root, "ctld.log"), "a")
        self.proc = subprocess.Popen([os.path.join(self.build, "control", "veil-controld"),
                                      "-f", "-c", self.conf], stderr=self.log)
        if not wait_unix(self.sock):
            raise RuntimeError("controld did not start")
        for t in tenants:
            rc, a = self.ctl("tenant", "create", t)
            if rc != 0:
                raise RuntimeError("tenant create %s: %s" % (t, a.get("error")))

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


def dpdk_runtime_dir(prefix):
    """Where EAL keeps its runtime files (and the telemetry socket)."""
    if os.getuid() == 0:
        base = "/var/run/dpdk"
    else:
        base = os.path.join(os.environ.get("XDG_RUNTIME_DIR", "/tmp"), "dpdk")
    return os.path.join(base, prefix)


def telemetry_query(path, cmd):
    """One request over DPDK's telemetry socket: the greeting, then cmd."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        s.settimeout(5)
        s.connect(path)
        hello = json.loads(s.recv(16384).decode())
        s.send(cmd.encode())
        reply = json.loads(s.recv(65536).decode())
    finally:
        s.close()
    return hello, reply.get(cmd.split(",")[0])


def fill(path, slack_bytes=0):
    """Fill the file system of @path to the last byte with the file @path,
    then free @slack_bytes of it (a full disk, or one with that room left)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (1 << 20, 4096, 1):
            buf = b"\xa5" * size
            while True:
                try:
                    if os.write(fd, buf) == 0:
                        break
                except OSError as e:
                    if e.errno != errno.ENOSPC:
                        raise
                    break
        if slack_bytes > 0:
            end = os.lseek(fd, 0, os.SEEK_CUR)
            os.ftruncate(fd, max(0, end - slack_bytes))
    finally:
        os.close(fd)
