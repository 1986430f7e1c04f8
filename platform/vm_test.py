# SPDX-License-Identifier: LicenseRef-veil-proprietary
"""The lab VM's test (bash platform/vm.sh test): boots build/vm/veil.img
under qemu (KVM when /dev/kvm works, else TCG) with two virtio NICs, sends
syslog from the host to the data NIC (DPDK's virtio PMD on uio_pci_generic in the VM), collects
the anonymized lines on the host, resolves one of their tokens with veilctl
inside the VM over the serial console, and shuts it down.

Both NICs are qemu user-mode networks with restrict=on: nothing leaves qemu
but what is forwarded to this host's loopback. On the data NIC
(192.0.2.0/24, documentation addresses that exist only inside qemu) the
host's 127.0.0.1:SYSLOG_PORT is forwarded to the VM's 192.0.2.15:514/udp,
and the VM's TCP connections to 192.0.2.100:6514 reach the collector on
127.0.0.1:COLLECTOR_PORT.

usage: vm_test.py BUILD_VM_DIR"""
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

VM = sys.argv[1]
TOKEN_RE = re.compile(r"veil_u[0-9]+_[a-z2-7]+")
USERS = ["alice.lab", "bob.lab", "carol.lab"]
checked = []


def say(msg):
    print("vm: " + msg, flush=True)


def die(msg, console=None):
    say("FAILED: " + msg)
    if console is not None:
        tail = console.log[-3000:]
        print("---- the end of the serial console ----\n" + tail, flush=True)
    sys.exit(1)


def free_port(kind):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Collector(threading.Thread):
    """The host's syslog collector: takes the VM's TCP connections (qemu
    connects once, at start, for the guest forward) and keeps the lines."""

    def __init__(self):
        super().__init__(daemon=True)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.lines = []
        self.lock = threading.Lock()

    def run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.read, args=(c,), daemon=True).start()

    def read(self, c):
        buf = b""
        while True:
            try:
                d = c.recv(65536)
            except OSError:
                return
            if not d:
                return
            buf += d
            *done, buf = buf.split(b"\n")
            with self.lock:
                self.lines += [l.decode(errors="replace") for l in done if l]


class Console:
    """The VM's serial console (a Unix socket qemu serves): run a command
    in root's shell and read its output up to a marker with its status."""

    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX)
        for _ in range(100):
            try:
                self.s.connect(path)
                break
            except OSError:
                time.sleep(0.1)
        self.log = ""
        self.n = 0

    def read_until(self, pattern, secs):
        end = time.monotonic() + secs
        rx = re.compile(pattern)
        while time.monotonic() < end:
            m = rx.search(self.log)
            if m:
                return m
            self.s.settimeout(max(0.1, min(2.0, end - time.monotonic())))
            try:
                d = self.s.recv(65536)
            except socket.timeout:
                continue
            if not d:
                break
            self.log += d.decode(errors="replace").replace("\r", "")
        return rx.search(self.log)

    def run(self, cmd, secs=120):
        """@return (exit status, output) of @cmd, or (None, what was seen)."""
        self.n += 1
        mark = "VEILMARK%d" % self.n
        start = len(self.log)
        # the marker is printed split, so the echoed command does not match
        self.s.sendall(("%s; echo %s\"-\"$?-END\n" % (cmd, mark)).encode())
        m = self.read_until(r"%s-(\d+)-END" % mark, secs)
        if m is None:
            return None, self.log[start:]
        out = re.sub(r"\x1b\[\?2004[hl]", "", self.log[start:m.start()])
        first, _, rest = out.partition("\n")
        if mark in first:  # the command, echoed (before stty -echo)
            out = rest
        # the prompt (and the end of the line before it)
        out = re.sub(r"^\s*(root@veil-lab:~# )+", "", out)
        return int(m.group(1)), out


def main():
    kvm = os.access("/dev/kvm", os.R_OK | os.W_OK)
    tmp = tempfile.mkdtemp(prefix="veil-vm-%d-" % os.getpid())
    disk = os.path.join(tmp, "disk.qcow2")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b",
                    os.path.join(VM, "veil.img"), disk], check=True)
    collector = Collector()
    collector.start()
    sport = free_port(socket.SOCK_DGRAM)
    serial = os.path.join(tmp, "serial.sock")
    cmdline = "root=/dev/vda rw console=ttyS0,115200 net.ifnames=0 hugepages=128"
    qemu = ["qemu-system-x86_64", "-m", "1536", "-smp", "2", "-nodefaults",
            "-display", "none", "-no-reboot",
            "-kernel", os.path.join(VM, "vmlinuz"),
            "-initrd", os.path.join(VM, "initrd.img"), "-append", cmdline,
            "-drive", "file=%s,if=virtio,format=qcow2" % disk,
            # management: the kernel's eth0
            "-netdev", "user,id=mgmt,restrict=on,net=198.51.100.0/24",
            "-device", "virtio-net-pci,netdev=mgmt,addr=0x3",
            # data: DPDK's port 0000:00:04.0
            "-netdev", "user,id=data,restrict=on,net=192.0.2.0/24,"
            "hostfwd=udp:127.0.0.1:%d-192.0.2.15:514,"
            "guestfwd=tcp:192.0.2.100:6514-tcp:127.0.0.1:%d" % (sport, collector.port),
            "-device", "virtio-net-pci,netdev=data,addr=0x4",
            "-chardev", "socket,id=ser,path=%s,server=on,wait=off" % serial,
            "-serial", "chardev:ser"]
    qemu += ["-accel", "kvm", "-cpu", "host"] if kvm else ["-accel", "tcg", "-cpu", "max"]
    say("booting (%s)" % ("KVM" if kvm else "TCG, no /dev/kvm: slow"))
    qlog = open(os.path.join(tmp, "qemu.log"), "w")
    proc = subprocess.Popen(qemu, stdout=qlog, stderr=subprocess.STDOUT)
    con = None
    try:
        con = Console(serial)
        if con.read_until(r"root@veil-lab:~# ", 900 if not kvm else 240) is None:
            die("no root shell on the serial console", con)
        checked.append("booted")
        con.run("export TERM=dumb SYSTEMD_PAGER= SYSTEMD_COLORS=0; stty -echo; "
                "bind 'set enable-bracketed-paste off'")
        rc, out = con.run("cat /proc/meminfo | grep HugePages_Total; "
                          "readlink /sys/bus/pci/devices/0000:00:04.0/driver")
        say("hugepages and the data NIC's driver: %s" % " ".join(out.split()))
        if rc != 0 or "uio_pci_generic" not in out or "HugePages_Total:     128" not in out:
            die("the data NIC is not on uio_pci_generic or no hugepages: %r" % out, con)
        checked.append("hugepages reserved, data NIC on uio_pci_generic")
        rc, out = con.run("systemctl is-active veil-controld", 120)
        if out.strip() != "active":
            con.run("journalctl -u veil-controld --no-pager | tail -30")
            die("veil-controld is %r" % out.strip(), con)
        rc, out = con.run("veilctl tenant create lab")
        if rc != 0:
            die("tenant create: %r" % out, con)
        # the dataplane may have started before the tenant existed: its
        # link gets the key now; wait until the link is up and synced
        for _ in range(60):
            rc, out = con.run("systemctl is-active veil-dataplane; veilctl status")
            if "connected" in out and "active" in out.split("\n")[0]:
                break
            time.sleep(2)
        else:
            con.run("journalctl -u veil-dataplane --no-pager | tail -40")
            die("the dataplane did not connect: %r" % out, con)
        checked.append("controld and the dataplane running as their units")
        # syslog from the host to the data NIC; the first datagrams may go
        # while the VM's neighbour entries are made: send until lines come
        tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sent = 0
        end = time.monotonic() + (120 if kvm else 300)
        while time.monotonic() < end:
            for u in USERS:
                line = ("<134>Dec  5 03:00:00 fw1 CEF:0|Vendor|FW|1.0|100|allow|3|"
                        "suser=%s src=192.0.2.50 msg=vm test %d" % (u, sent))
                tx.sendto(line.encode(), ("127.0.0.1", sport))
                sent += 1
            time.sleep(1)
            with collector.lock:
                if len(collector.lines) >= len(USERS):
                    break
        with collector.lock:
            lines = list(collector.lines)
        if not lines:
            con.run("veilctl stats")
            con.run("journalctl -u veil-dataplane --no-pager | tail -40")
            die("no anonymized line reached the collector (%d sent)" % sent, con)
        leaked = [l for l in lines if any(u in l for u in USERS)]
        tokens = [t for l in lines for t in TOKEN_RE.findall(l)]
        if leaked or not tokens:
            die("lines at the collector: %d with a name in clear, %d tokens: %r"
                % (len(leaked), len(tokens), lines[:3]), con)
        say("%d lines sent, %d anonymized lines collected, e.g. %s" % (sent, len(lines), lines[0]))
        checked.append("%d syslog lines in, %d anonymized out, no name in clear"
                       % (sent, len(lines)))
        tok = tokens[0]
        rc, out = con.run("veilctl resolve -t lab -j 'lab VM test: resolve one token' %s" % tok)
        names = [u for u in USERS if u in out]
        if rc != 0 or len(names) != 1:
            die("veilctl resolve %s in the VM: %r" % (tok, out), con)
        say("resolved %s -> %s in the VM" % (tok, names[0]))
        checked.append("token resolved with veilctl in the VM")
        con.s.sendall(b"systemctl poweroff\n")
        # keep reading the console: an unread serial socket stalls the
        # guest's console writes, and the shutdown with them
        con.read_until(r"reboot: Power down", 300)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            die("the VM did not power off", con)
        checked.append("shut down")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        qlog.close()
        shutil.rmtree(tmp, ignore_errors=True)
    print("vm: passed (%s): %s" % ("KVM" if kvm else "TCG", "; ".join(checked)))


if __name__ == "__main__":
    main()
