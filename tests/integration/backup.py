#!/usr/bin/env python3
# SPDX-License-Identifier: LicenseRef-veil-proprietary
"""Backup and restore of the appliance's state, with the real veil-controld
and veilctl: tenants and their tokens (two key versions of one), a backup
made while the daemon serves (veilctl backup create, passphrase from a
file), the state directory wiped, the backup restored into a new one
(veil-controld --restore), the daemon started there: the old tokens
resolve and the governance log verifies intact, with the backup's and the
restore's records; a tenant on its own key (BYOK, a SoftHSM2 token made
here) comes back wrapped by it: it resolves with the token configured, not
without it. Refused cleanly, leaving no state behind: a wrong
passphrase, a file altered anywhere (the AES-GCM tag) or cut short, a
backup made for a recovery RSA key restored with another key or a
passphrase (with its own private key, it restores), a
passphrase file others can read, a state directory in use without
--force, a restore under a running daemon.

usage: backup.py BUILD_DIR
"""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import veiltest  # noqa: E402
from veiltest import check  # noqa: E402

JUST = "incident 4711: backup and restore test"
NAMES = ("alice@example.com", "bob@example.com")


def restore(build, conf, backup, passfile, *extra, key=None):
    p = subprocess.run([os.path.join(build, "control", "veil-controld"), "-c", conf,
                        "--restore", backup] +
                       (["--recovery-key", key] if key else ["--passphrase-file", passfile]) +
                       ["--reason", "INC-2291: the appliance's disk failed"] + list(extra),
                       capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout + p.stderr


def write_secret(path, text, mode=0o600):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def lookups(d):
    """tenant -> [(name, token)] over every live version."""
    out = {}
    for t in ("acme", "globex"):
        for n in NAMES:
            rc, a = d.ctl("lookup", "-t", t, "-j", JUST, n)
            check(rc == 0, "lookup %s %s: %s" % (t, n, a))
            for v in a.get("tokens", []):
                out.setdefault(t, []).append((n, v["token"]))
    return out


def resolves(d, toks, what):
    for t, pairs in toks.items():
        rc, a = d.ctl("resolve", "-t", t, "-j", JUST, *[tok for _, tok in pairs])
        check(rc == 0 and a.get("names") == [n for n, _ in pairs],
              "%s: %s's tokens resolve: %s" % (what, t, a))


def no_state(root, what):
    left = [f for f in os.listdir(os.path.join(root, "state"))] \
        if os.path.isdir(os.path.join(root, "state")) else []
    check(left == [], "%s: nothing is left in the state directory: %s" % (what, left))


def make_backup(d, root):
    """Tenants, tokens, and a backup made while the daemon serves."""
    d.start(tenants=("acme", "globex"))
    rc, a = d.ctl("key", "roll", "acme")
    check(rc == 0, "key roll acme")
    toks = lookups(d)
    check(len(toks["acme"]) == 4 and len(toks["globex"]) == 2, "tokens of each version")
    passfile = os.path.join(root, "pass")
    write_secret(passfile, "correct horse battery staple\n")
    out = os.path.join(root, "veil.backup")

    # the passphrase never on the command line, and from a closed file
    loose = os.path.join(root, "pass.loose")
    write_secret(loose, "correct horse battery staple\n", 0o644)
    rc, a = d.ctl("backup", "create", "--out", out, "--passphrase-file", loose,
                  "--reason", JUST)
    check(rc == 2 and "chmod 600" in a.get("error", "") and not os.path.exists(out),
          "a passphrase file others can read is refused: %s" % a)
    rc, a = d.ctl("backup", "create", "--out", out, "--passphrase-file", passfile,
                  "--reason", "short")
    check(rc != 0 and not os.path.exists(out), "a backup without a justification is "
          "refused and leaves no file: %s" % a)

    rc, a = d.ctl("backup", "create", "--out", out, "--passphrase-file", passfile,
                  "--reason", JUST)
    check(rc == 0 and a.get("ok") and a.get("tenants") == 2, "backup create: %s" % a)
    st = os.stat(out)
    check(st.st_mode & 0o777 == 0o600 and st.st_size > 1000, "the backup file: mode "
          "0600, %d bytes" % st.st_size)
    with open(out, "rb") as f:
        raw = f.read()
    check(raw[:8] == b"VEILBAK1", "the file starts with its magic")
    check(b"CREATE TABLE" not in raw and b"acme" not in raw, "nothing of the database "
          "is in the file in clear")
    with open(os.path.join(root, "state", "master.key"), "rb") as f:
        check(f.read() not in raw, "the master key is not in the file in clear")
    rc, a = d.ctl("backup", "create", "--out", out, "--passphrase-file", passfile,
                  "--reason", JUST)
    check(rc != 0 and os.path.getsize(out) == st.st_size, "an existing file is never "
          "written over")
    rc, a = d.ctl("audit", "show", "--action", "backup.create")
    recs = a.get("records", [])
    check(any(r.get("justification") == JUST and r.get("outcome", "").startswith("ok")
              for r in recs), "the backup is recorded with its reason: %s" % recs)
    check(all("correct horse" not in str(r) for r in recs), "never the passphrase")
    # the other protection: a random key wrapped to a recovery RSA key
    priv, pub = os.path.join(root, "recovery.pem"), os.path.join(root, "recovery.pub.pem")
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                    "rsa_keygen_bits:2048", "-out", priv], check=True, capture_output=True)
    subprocess.run(["openssl", "pkey", "-in", priv, "-pubout", "-out", pub], check=True,
                   capture_output=True)
    rsa_out = os.path.join(root, "veil-rsa.backup")
    rc, a = d.ctl("backup", "create", "--out", rsa_out, "--recovery-key", pub,
                  "--reason", JUST)
    check(rc == 0 and a.get("ok"), "backup create --recovery-key: %s" % a)
    rc, a = d.ctl("audit", "show", "--action", "backup.create")
    check(any("recovery RSA-2048 key (sha256:" in r.get("outcome", "")
              for r in a.get("records", [])), "the record names the recovery key")
    # after the backups: not in them
    rc, a = d.ctl("tenant", "create", "later")
    d.stop()
    with open(os.path.join(root, "ctld.log")) as f:
        check("correct horse" not in f.read(), "the passphrase is not in the log")
    return toks, out, passfile, raw, rsa_out, priv


HSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"


def byok_part(build):
    """A tenant on its own key in a SoftHSM2 token: its keys come back
    wrapped by that key; with the token configured they resolve, without
    it they do not (and the managed tenant does)."""
    if not os.path.exists(HSM_MODULE) or shutil.which("softhsm2-util") is None or \
            shutil.which("pkcs11-tool") is None:
        veiltest.skip("byok", "SoftHSM2 or pkcs11-tool is not installed")
        return
    root = tempfile.mkdtemp(prefix="veil-backup-hsm-%d-" % os.getpid())
    token, pin = "veil-bk-%d" % os.getpid(), "314159"
    os.mkdir(os.path.join(root, "tokens"))
    conf = os.path.join(root, "softhsm2.conf")
    with open(conf, "w") as f:
        f.write("directories.tokendir = %s/tokens\nobjectstore.backend = file\n"
                "log.level = ERROR\n" % root)
    os.environ["SOFTHSM2_CONF"] = conf
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", token,
                    "--pin", pin, "--so-pin", pin], check=True, capture_output=True)
    subprocess.run(["pkcs11-tool", "--module", HSM_MODULE, "--token-label", token,
                    "--login", "--pin", pin, "--keypairgen", "--key-type", "rsa:2048",
                    "--label", "kek", "--id", "01", "--usage-decrypt"],
                   check=True, capture_output=True)
    pin_file = os.path.join(root, "pin")
    write_secret(pin_file, pin + "\n")
    byok = "[byok]\nmodule = %s\ntoken_label = %s\npin_file = %s\n" % (HSM_MODULE, token,
                                                                      pin_file)
    os.mkdir(os.path.join(root, "a"))
    os.mkdir(os.path.join(root, "b"))
    os.mkdir(os.path.join(root, "c"))
    d = veiltest.Controld(build, os.path.join(root, "a"), extra=byok)
    d2 = veiltest.Controld(build, os.path.join(root, "b"), extra=byok)
    d3 = veiltest.Controld(build, os.path.join(root, "c"))  # no [byok]
    try:
        d.start(tenants=("acme", "hsmco"))
        rc, a = d.ctl("tenant", "byok", "enable", "hsmco", "--key-label", "kek",
                      "--reason", JUST)
        check(rc == 0, "byok enable hsmco: %s" % a)
        toks = {}
        for t in ("acme", "hsmco"):
            rc, a = d.ctl("lookup", "-t", t, "-j", JUST, NAMES[0])
            toks[t] = [(NAMES[0], a["tokens"][0]["token"])]
        passfile = os.path.join(root, "pass")
        write_secret(passfile, "correct horse battery staple\n")
        out = os.path.join(root, "veil.backup")
        rc, a = d.ctl("backup", "create", "--out", out, "--passphrase-file", passfile,
                      "--reason", JUST)
        check(rc == 0, "backup with a BYOK tenant: %s" % a)
        d.stop()
        rc, msg = restore(build, d2.conf, out, passfile)
        check(rc == 0 and "BYOK tenants' keys stay wrapped" in msg,
              "the restore says the BYOK tenant needs its HSM: %s" % msg)
        d2.start()
        resolves(d2, toks, "restored with the HSM")
        rc, a = d2.ctl("tenant", "show", "hsmco")
        check(a.get("tenant", {}).get("byok", {}).get("enabled") is True,
              "hsmco is still on its own key: %s" % a.get("tenant"))
        rc, msg = restore(build, d3.conf, out, passfile)
        check(rc == 0, "restored where there is no [byok]: %s" % msg)
        d3.start()
        resolves(d3, {"acme": toks["acme"]}, "restored without the HSM")
        rc, a = d3.ctl("resolve", "-t", "hsmco", "-j", JUST, toks["hsmco"][0][1])
        check(rc != 0 and a.get("names") != [NAMES[0]],
              "without its HSM the BYOK tenant does not resolve: %s" % a)
    finally:
        d.stop()
        d2.stop()
        d3.stop()
        shutil.rmtree(root, ignore_errors=True)


def main(build):
    root = tempfile.mkdtemp(prefix="veil-backup-%d-" % os.getpid())
    root2 = tempfile.mkdtemp(prefix="veil-backup2-%d-" % os.getpid())
    d = veiltest.Controld(build, root)
    d2 = veiltest.Controld(build, root2)
    try:
        toks, out, passfile, raw, rsa_out, priv = make_backup(d, root)
        shutil.rmtree(os.path.join(root, "state"))  # the appliance is gone

        wrong = os.path.join(root, "pass.wrong")
        write_secret(wrong, "incorrect horse battery staple\n")
        rc, msg = restore(build, d2.conf, out, wrong)
        check(rc == 1 and "wrong passphrase" in msg, "a wrong passphrase fails: %s" % msg)
        no_state(root2, "wrong passphrase")

        for name, data in (("altered", raw[:len(raw) // 2] + bytes([raw[len(raw) // 2] ^ 1])
                            + raw[len(raw) // 2 + 1:]),
                           ("altered tag", raw[:-1] + bytes([raw[-1] ^ 0x80])),
                           ("cut short", raw[:len(raw) - 100]),
                           ("altered header", raw[:12] + bytes([raw[12] ^ 1]) + raw[13:])):
            bad = os.path.join(root, "bad.backup")
            with open(bad, "wb") as f:
                f.write(data)
            rc, msg = restore(build, d2.conf, bad, passfile)
            check(rc == 1 and "nothing restored" in msg, "a backup %s fails: %s"
                  % (name, msg))
            no_state(root2, name)

        rc, msg = restore(build, d2.conf, out, passfile)
        check(rc == 0 and "intact" in msg, "restore: %s" % msg)
        rc, msg = restore(build, d2.conf, out, passfile)
        check(rc == 1 and "--force" in msg, "a second restore over it is refused: %s" % msg)

        d2.start()
        resolves(d2, toks, "restored")
        rc, a = d2.ctl("tenant", "list")
        ids = sorted(t.get("tenant") for t in a.get("tenants", []))
        check(ids == ["acme", "globex"], "the tenants as of the backup: %s" % ids)
        rc, a = d2.ctl("audit", "verify")
        check(rc == 0 and a.get("intact") is True, "audit verify: intact: %s" % a)
        rc, a = d2.ctl("audit", "show", "--action", "backup.restore")
        recs = a.get("records", [])
        check(len(recs) == 1 and "INC-2291" in recs[0].get("justification", ""),
              "the restore is recorded: %s" % recs)
        rc, a = d2.ctl("audit", "show", "--action", "backup.create")
        check(len(a.get("records", [])) >= 1, "the backup's record came with it")
        rc, msg = restore(build, d2.conf, out, passfile, "--force")
        check(rc == 1 and "answers on" in msg, "no restore under a running daemon: %s" % msg)
        rc, a = d2.ctl("key", "roll", "globex")  # the WAL has pages
        d2.stop()

        # the backup made for a recovery key: its private key restores it
        other = os.path.join(root, "other.pem")
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                        "rsa_keygen_bits:2048", "-out", other], check=True,
                       capture_output=True)
        rc, msg = restore(build, d2.conf, rsa_out, passfile, "--force")
        check(rc == 1 and "--recovery-key" in msg, "a passphrase for a recovery-key "
              "backup is refused: %s" % msg)
        rc, msg = restore(build, d2.conf, rsa_out, None, "--force", key=other)
        check(rc == 1 and "not the one this backup was made for" in msg,
              "another private key is refused: %s" % msg)
        rc, msg = restore(build, d2.conf, rsa_out, None, "--force", key=priv)
        check(rc == 0 and "intact" in msg, "restore with the recovery key: %s" % msg)
        d2.start()
        resolves(d2, toks, "restored with the recovery key")
        d2.stop()

        # --force over a state: the old WAL must not be replayed into it
        rc, msg = restore(build, d2.conf, out, passfile, "--force")
        check(rc == 0 and "intact" in msg, "restore --force over a stopped state: %s" % msg)
        d2.start()
        resolves(d2, toks, "restored with --force")
        rc, a = d2.ctl("tenant", "show", "globex")
        check(rc == 0 and a.get("tenant", {}).get("current_version") == 1,
              "globex as in the backup (version 1 current): %s" % a.get("tenant"))
        rc, a = d2.ctl("audit", "verify")
        check(rc == 0 and a.get("intact") is True, "audit verify after --force: %s" % a)
    finally:
        d.stop()
        d2.stop()
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(root2, ignore_errors=True)
    byok_part(build)
    return veiltest.finish("backup")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
