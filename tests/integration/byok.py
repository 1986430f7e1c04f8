#!/usr/bin/env python3
# SPDX-License-Identifier: LicenseRef-veil-proprietary
"""Bring your own key through PKCS#11 (byok, hsm, pkcs11, lockdown), with a
real SoftHSM2 token initialised here (its own softhsm2.conf and token
directory), keys made by pkcs11-tool (OpenSC) and by openssl, the real
veil-controld and veilctl:

- byok enable, rotate, disable: each validated first (a missing key, an EC
  key, an RSA-1024 key, a PIN file others can read are refused and change
  nothing), every live key version rewrapped (the
  database holds RSA-OAEP wraps naming the KEK version, then master-key
  wraps again), tokens resolve before and after each step and after a
  restart (nothing kept unwrapped: the token unwraps), a roll under BYOK
  is wrapped by the newest KEK; the records are in the governance log.
- a tenant on the master key is untouched by all of it, and keeps working
  when the token cannot be opened at all.
- lockdown: the KEK deleted from the token, with a short grace: the tenant
  is locked (resolve and lookup refused saying why), tenant show says why
  and since when, the other tenant resolves; veil-dataplane (snapshot mode)
  drops and counts the locked tenant's lines and passes the other's; the key
  imported again: the tenant unlocks by itself and its lines flow. Each transition is a governance record.
- tenant export to a customer's RSA key: openssl pkeyutl decrypts the
  wrapped keys, and veil-token reads the tenant's tokens with them.
- tenant delete (of a BYOK tenant): --yes wanted, every version
  crypto-shredded (no wrapped copy in any file of the state directory),
  its tokens never resolve, the tenant gone; a new tenant of that id does
  not read them.
- kill -9 of controld while an enable rewraps: after a restart every key
  version is wrapped by one and the same thing, as tenant show says, and
  resolves work.

usage: byok.py BUILD_DIR
"""
import base64
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import veiltest  # noqa: E402
from veiltest import check  # noqa: E402

MODULE = "/usr/lib/softhsm/libsofthsm2.so"
PIN, SO_PIN = "314159", "271828"
JUST = "incident 4711: verifying byok"


def p11tool(*args):
    return subprocess.run(["pkcs11-tool", "--module", MODULE, "--token-label", TOKEN,
                           "--login", "--pin", PIN] + list(args),
                          capture_output=True, timeout=60)


def import_key(pem, label, key_id):
    der = pem + ".der"
    subprocess.run(["openssl", "pkey", "-in", pem, "-outform", "DER", "-out", der],
                   check=True)
    return p11tool("--write-object", der, "--type", "privkey", "--label", label,
                   "--id", key_id, "--usage-decrypt").returncode == 0


def blobs(d, tenant):
    """{version: wrapped key} of the live versions, from the database."""
    db = sqlite3.connect("file:%s/state/veil.db?mode=ro" % d.root, uri=True)
    try:
        return {v: bytes(w) for v, w in db.execute(
            "SELECT version, wrapped FROM keys WHERE tenant=? AND destroyed IS NULL",
            (tenant,))}
    finally:
        db.close()


def resolve(d, tenant, tok):
    rc, a = d.ctl("resolve", "-t", tenant, "-j", JUST, tok)
    return a.get("names") == [("alice@example.com")] if rc == 0 else False


def lookup(d, tenant):
    rc, a = d.ctl("lookup", "-t", tenant, "-j", JUST, "alice@example.com")
    return [t["token"] for t in a.get("tokens", [])] if rc == 0 else None


def dataplane(d, root, tenant, src):
    """veil-dataplane in snapshot mode on @src for @tenant: (rc, summary, stderr)."""
    out = os.path.join(root, "%s.out" % tenant)
    return veiltest.run_dataplane(d.build, ["--link", d.link, "--wait-keys", "0.5",
                                            "--tenant", tenant, "--in", src, "--out", out])


def restart(d):
    d.stop()
    d.start()


def wait_for(cond, secs=20.0):
    end = time.monotonic() + secs
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.2)
    return False


def actions(d, tenant):
    rc, a = d.ctl("audit", "show", "--tenant", tenant, "--limit", "1000")
    return [(r["action"], r["outcome"]) for r in a.get("records", [])]


def export_check(d, root, tokens):
    cust = os.path.join(root, "customer.pem")
    cpub = os.path.join(root, "customer.pub.pem")
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                    "rsa_keygen_bits:2048", "-out", cust], check=True, capture_output=True)
    subprocess.run(["openssl", "pkey", "-in", cust, "-pubout", "-out", cpub], check=True)
    out = os.path.join(root, "acme-export.json")
    rc, a = d.ctl("tenant", "export", "acme", "--public-key", cpub, "--reason", "x")
    check(rc != 0 and not os.path.exists(out), "export wants a justification")
    rc, a = d.ctl("tenant", "export", "acme", "--public-key", cpub, "--reason", JUST,
                  "--out", out)
    check(rc == 0 and os.path.exists(out), "tenant export writes the file: %s" % a)
    with open(out) as f:
        x = json.load(f)
    check(x.get("format") == "veil-tenant-export/1" and x.get("tenant") == "acme" and
          [k["version"] for k in x.get("keys", [])] == [1, 2, 3],
          "the export holds every live version")
    for k in x.get("keys", []):
        if k["version"] not in tokens:
            continue
        ct = os.path.join(root, "v%d.bin" % k["version"])
        with open(ct, "wb") as f:
            f.write(base64.b64decode(k["wrapped_key"]))
        p = subprocess.run(["openssl", "pkeyutl", "-decrypt", "-inkey", cust, "-in", ct,
                            "-pkeyopt", "rsa_padding_mode:oaep",
                            "-pkeyopt", "rsa_oaep_md:sha256"], capture_output=True)
        check(p.returncode == 0 and len(p.stdout) == 32,
              "openssl pkeyutl decrypts exported version %d" % k["version"])
        keyfile = os.path.join(root, "v%d.key" % k["version"])
        with open(keyfile, "w") as f:
            f.write(p.stdout.hex() + "\n")
        r = subprocess.run([os.path.join(d.build, "crypto", "veil-token"), "decrypt", "-k",
                            keyfile, "-t", "acme", "-v", str(k["version"]),
                            tokens[k["version"]]], capture_output=True)
        check(r.returncode == 0 and b"alice@example.com" in r.stdout,
              "the decrypted key of version %d reads its token with veil-token"
              % k["version"])
    acts = actions(d, "acme")
    check(any(x == "tenant.export" and o.startswith("ok: 3 live key versions")
              for x, o in acts), "the export is in the governance log")


def main(build):
    global TOKEN
    for tool in ("softhsm2-util", "pkcs11-tool", "openssl"):
        if subprocess.run(["which", tool], capture_output=True).returncode != 0:
            veiltest.skip("byok", "%s is not installed (platform/setup.sh)" % tool)
            return veiltest.finish("byok")
    if not os.path.exists(MODULE):
        veiltest.skip("byok", "%s is not there (package softhsm2)" % MODULE)
        return veiltest.finish("byok")
    root = tempfile.mkdtemp(prefix="veil-byok-%d-" % os.getpid())
    TOKEN = "veil-%d" % os.getpid()
    os.mkdir(os.path.join(root, "tokens"))
    conf = os.path.join(root, "softhsm2.conf")
    with open(conf, "w") as f:
        f.write("directories.tokendir = %s/tokens\nobjectstore.backend = file\n"
                "log.level = ERROR\n" % root)
    os.environ["SOFTHSM2_CONF"] = conf  # for the tools and controld alike
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", TOKEN,
                    "--pin", PIN, "--so-pin", SO_PIN], check=True, capture_output=True)
    # kek1: made in the token; kek2: imported (it can be put back after it
    # is deleted); signer: a key that permits neither decrypt nor unwrap
    r = p11tool("--keypairgen", "--key-type", "rsa:2048", "--label", "kek1", "--id", "01",
                "--usage-decrypt")
    check(r.returncode == 0, "pkcs11-tool makes kek1: %s" % r.stderr.decode()[-200:])
    r = p11tool("--keypairgen", "--key-type", "EC:prime256v1", "--label", "eckey", "--id", "09")
    check(r.returncode == 0, "pkcs11-tool makes an EC key")
    r = p11tool("--keypairgen", "--key-type", "rsa:1024", "--label", "small", "--id", "0a",
                "--usage-decrypt")
    check(r.returncode == 0, "pkcs11-tool makes an RSA-1024 key")
    kek2 = os.path.join(root, "kek2.pem")
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                    "rsa_keygen_bits:3072", "-out", kek2], check=True, capture_output=True)
    check(import_key(kek2, "kek2", "02"), "kek2 imported into the token")

    pin_file = os.path.join(root, "pin")
    with open(pin_file, "w") as f:
        f.write(PIN + "\n")
    os.chmod(pin_file, 0o644)  # too open, at first
    extra = ("[byok]\nmodule = %s\ntoken_label = %s\npin_file = %s\n"
             "byok_check_interval = 1\nbyok_grace = 2\n" % (MODULE, TOKEN, pin_file))
    d = veiltest.Controld(build, root, extra=extra)
    d.start(tenants=("acme", "globex"))
    try:
        run(d, root, pin_file)
    finally:
        d.stop()
    return veiltest.finish("byok")


def run(d, root, pin_file):
    v1 = lookup(d, "acme")[0]
    g1 = lookup(d, "globex")[0]
    d.ctl("key", "roll", "acme")
    v2 = lookup(d, "acme")[1]
    check(resolve(d, "acme", v1) and resolve(d, "acme", v2), "resolves before byok")
    before = blobs(d, "acme")
    gbefore = blobs(d, "globex")

    # ---- validation: refused, nothing changed ----
    rc, a = d.ctl("tenant", "byok", "enable", "acme", "--key-label", "kek1", "--reason", JUST)
    check(rc != 0 and "pin_file" in a.get("error", "") and "0644" in a.get("error", ""),
          "a PIN file others can read is refused: %s" % a.get("error"))
    check(PIN not in a.get("error", ""), "the PIN is not in the error")
    os.chmod(pin_file, 0o600)
    rc, a = d.ctl("tenant", "byok", "enable", "acme", "--key-label", "nokey", "--reason", JUST)
    check(rc != 0 and "no private key labelled \"nokey\"" in a.get("error", ""),
          "a key that is not on the token is refused: %s" % a.get("error"))
    rc, a = d.ctl("tenant", "byok", "enable", "acme", "--key-label", "eckey", "--reason", JUST)
    check(rc != 0 and "not an RSA key" in a.get("error", ""),
          "an EC key is refused: %s" % a.get("error"))
    rc, a = d.ctl("tenant", "byok", "enable", "acme", "--key-label", "small", "--reason", JUST)
    check(rc != 0 and "RSA-1024" in a.get("error", ""),
          "an RSA-1024 key is refused: %s" % a.get("error"))
    rc, a = d.ctl("tenant", "byok", "enable", "acme", "--key-label", "kek1", "--reason", "x")
    check(rc != 0 and "reason" in a.get("error", ""), "enable wants a reason")
    check(blobs(d, "acme") == before, "refusals changed no wrapped key")

    # ---- enable ----
    rc, a = d.ctl("tenant", "byok", "enable", "acme", "--key-label", "kek1", "--key-id", "01",
                  "--reason", JUST)
    check(rc == 0 and a.get("rewrapped") == 2, "byok enable rewraps both versions: %s" % a)
    after = blobs(d, "acme")
    check(all(w[:4] == b"VKB1" and len(w) == 8 + 256 for w in after.values()),
          "the versions are RSA-2048 OAEP wraps under a KEK")
    check(blobs(d, "globex") == gbefore, "the master-key tenant is untouched")
    rc, a = d.ctl("tenant", "show", "acme")
    b = a.get("tenant", {}).get("byok", {})
    check(b.get("enabled") and b.get("kek_version") == 1 and
          b.get("wrapped_by") == {"1": 1, "2": 1}, "tenant show: KEK 1 wraps both: %s" % b)
    check(resolve(d, "acme", v1) and resolve(d, "acme", v2), "resolves after enable")
    restart(d)  # nothing kept unwrapped: the token unwraps now
    check(resolve(d, "acme", v1) and resolve(d, "acme", v2) and resolve(d, "globex", g1),
          "resolves after enable and a restart (unwrapped in the token)")
    check(lookup(d, "acme") == [v1, v2], "lookups give the same tokens")
    rc, a = d.ctl("tenant", "byok", "enable", "acme", "--key-label", "kek2", "--reason", JUST)
    check(rc != 0 and "rotate" in a.get("error", ""), "a second enable says to rotate")

    # ---- rotate ----
    rc, a = d.ctl("tenant", "byok", "rotate", "acme", "--key-label", "kek2", "--reason", JUST)
    check(rc == 0 and a.get("rewrapped") == 2, "byok rotate: %s" % a)
    check(all(w[:4] == b"VKB1" and len(w) == 8 + 384 for w in blobs(d, "acme").values()),
          "rewrapped under the RSA-3072 KEK")
    d.ctl("key", "roll", "acme")
    rc, a = d.ctl("tenant", "show", "acme")
    b = a.get("tenant", {}).get("byok", {})
    check(b.get("kek_version") == 2 and b.get("wrapped_by") == {"1": 2, "2": 2, "3": 2}
          and [k.get("retired_ms") is not None for k in b.get("keks", [])] == [True, False],
          "tenant show: KEK version 2 wraps every version, a roll too: %s" % b)
    v3 = lookup(d, "acme")[2]
    restart(d)
    check(resolve(d, "acme", v1) and resolve(d, "acme", v3), "resolves after rotate")

    # ---- export, to a customer's key, read back with the openssl CLI ----
    export_check(d, root, {1: v1, 3: v3})

    # ---- lockdown ----
    r = p11tool("--delete-object", "--type", "privkey", "--label", "kek2")
    check(r.returncode == 0, "kek2 deleted from the token")

    def show():
        return d.ctl("tenant", "show", "acme")[1].get("tenant", {})
    check(wait_for(lambda: show().get("state") == "locked"),
          "the tenant locks past the grace")
    t = show()
    check("locked_since_ms" in t.get("byok", {}) and
          "kek2" in t.get("byok", {}).get("locked_why", ""),
          "tenant show says why and since when: %s" % t.get("byok"))
    rc, a = d.ctl("resolve", "-t", "acme", "-j", JUST, v1)
    check(rc != 0 and "byok lockdown since" in a.get("error", ""),
          "resolve refused with the reason: %s" % a.get("error"))
    rc, a = d.ctl("lookup", "-t", "acme", "-j", JUST, "alice@example.com")
    check(rc != 0 and "byok lockdown" in a.get("error", ""), "lookup refused")
    check(resolve(d, "globex", g1), "the other tenant resolves meanwhile")
    src = os.path.join(root, "lines.log")
    with open(src, "w") as f:
        for i in range(300):
            f.write("CEF:0|V|P|1|1|n|1|src=10.0.0.%d suser=user%d shost=WS-%d\n"
                    % (i % 250, i % 5, i % 7))
    rc, s, err = dataplane(d, root, "acme", src)
    # locked, and (controld restarted since the rotate) its key does not
    # unwrap: the link has no key of it to give; either way none is emitted
    check(rc == 1 and s and s["dropped"]["no-key"] == 300 and s["lines_out"] == 0 and
          s["no_key"][0]["tenant"] == "acme",
          "the dataplane drops and counts the locked tenant's lines: %s"
          % ((s and (s["dropped"], s["no_key"])),))
    rc, s, err = dataplane(d, root, "globex", src)
    check(rc == 0 and s and s["lines_out"] == 300, "the other tenant's lines flow")
    p = subprocess.run([os.path.join(d.build, "control", "veilctl"), "--socket", d.sock,
                        "tenant", "show", "acme"], capture_output=True)
    check(b"locked since" in p.stdout and b"BYOK lockdown" in p.stdout,
          "veilctl tenant show prints the lockdown")
    check(import_key(os.path.join(d.root, "kek2.pem"), "kek2", "02"), "kek2 is back")
    check(wait_for(lambda: show().get("state") == "active"), "the tenant unlocks by itself")
    check(resolve(d, "acme", v1) and resolve(d, "acme", v3), "resolves after the unlock")
    rc, s, err = dataplane(d, root, "acme", src)
    check(rc == 0 and s and s["lines_out"] == 300, "unlocked: its lines flow again")
    acts = [x for x, _ in actions(d, "acme")]
    check(all(x in acts for x in ("tenant.byok", "tenant.byok.unreachable",
                                  "tenant.byok.lock", "tenant.byok.reachable",
                                  "tenant.byok.unlock")),
          "every transition is a governance record: %s" % acts)

    # ---- disable ----
    rc, a = d.ctl("tenant", "byok", "disable", "acme", "--reason", JUST)
    check(rc == 0 and a.get("rewrapped") == 3, "byok disable: %s" % a)
    check(all(len(w) == 40 for w in blobs(d, "acme").values()),
          "back under the master key (RFC 5649 wraps)")
    restart(d)
    check(resolve(d, "acme", v1) and resolve(d, "acme", v3), "resolves after disable")

    # ---- the token missing: only BYOK tenants feel it ----
    d.ctl("tenant", "byok", "enable", "acme", "--key-label", "kek1", "--reason", JUST)
    d.stop()
    with open(d.conf) as f:
        text = f.read()
    with open(d.conf, "w") as f:
        f.write(text.replace("token_label = %s" % TOKEN, "token_label = gone-%d" % os.getpid()))
    d.start()
    check(resolve(d, "globex", g1) and lookup(d, "globex") == [g1],
          "with no token, the master-key tenant works")
    check(not resolve(d, "acme", v1), "with no token, the BYOK tenant does not resolve")
    d.stop()
    with open(d.conf, "w") as f:
        f.write(text)
    d.start()
    check(wait_for(lambda: resolve(d, "acme", v1)), "the token back: it resolves")
    d.ctl("tenant", "byok", "disable", "acme", "--reason", JUST)

    # ---- tenant delete ----
    delete_check(d)

    # ---- kill -9 during an enable ----
    for _ in range(20):
        d.ctl("key", "roll", "acme")
    toks = lookup(d, "acme")
    for delay in (0.0, 0.002, 0.005, 0.01, 0.02, 0.05):
        cmd = "enable" if all(len(w) == 40 for w in blobs(d, "acme").values()) else "disable"
        args = ["tenant", "byok", cmd, "acme", "--reason", JUST]
        if cmd == "enable":
            args += ["--key-label", "kek1"]
        th = threading.Thread(target=d.ctl, args=args)
        th.start()
        time.sleep(delay)
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait()
        th.join()
        d.log.close()
        d.log = None
        d.start()
        ws = blobs(d, "acme")
        kinds = {w[:4] == b"VKB1" for w in ws.values()}
        b = d.ctl("tenant", "show", "acme")[1].get("tenant", {}).get("byok", {})
        check(len(kinds) == 1 and (True in kinds) == bool(b.get("enabled")),
              "kill -9 at %.3fs into a byok %s: one wrapping for all versions, as "
              "tenant show says" % (delay, cmd))
        check(all(resolve(d, "acme", tok) for tok in (toks[0], toks[-1])),
              "resolves after the restart")


def delete_check(d):
    d.ctl("tenant", "create", "initech")
    tok = lookup(d, "initech")[0]
    d.ctl("key", "roll", "initech")
    rc, a = d.ctl("tenant", "byok", "enable", "initech", "--key-label", "kek1",
                  "--reason", JUST)
    check(rc == 0, "initech on its own key")
    wrapped = list(blobs(d, "initech").values())
    p = subprocess.run([os.path.join(d.build, "control", "veilctl"), "--socket", d.sock,
                        "tenant", "delete", "initech", "--reason", JUST],
                       capture_output=True, text=True)
    check(p.returncode != 0 and "--yes" in p.stderr and resolve(d, "initech", tok),
          "tenant delete without --yes does nothing")
    rc, a = d.ctl("tenant", "delete", "initech", "--reason", JUST, "--yes")
    check(rc == 0 and a.get("shredded_versions") == 2, "tenant delete: %s" % a)
    rc, a = d.ctl("resolve", "-t", "initech", "-j", JUST, tok)
    check(rc != 0 and "no tenant" in a.get("error", ""), "its tokens do not resolve")
    rc, a = d.ctl("tenant", "list")
    check("initech" not in [t["tenant"] for t in a.get("tenants", [])] and
          "acme" in [t["tenant"] for t in a.get("tenants", [])], "it is gone from the list")
    found = []
    for name in os.listdir(os.path.join(d.root, "state")):
        with open(os.path.join(d.root, "state", name), "rb") as f:
            data = f.read()
        found += [name for w in wrapped if w in data]
    check(found == [], "no wrapped copy of its keys is left in the state directory: %s"
          % found)
    acts = actions(d, "initech")
    check(any(x == "tenant.delete" and o.startswith("ok: 2 live key versions")
              for x, o in acts), "the deletion is in the governance log")
    d.ctl("tenant", "create", "initech")
    check(not resolve(d, "initech", tok), "a new tenant of that id does not read its tokens")
    restart(d)
    check(resolve(d, "acme", lookup(d, "acme")[0]), "after a restart the others resolve")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "build"))
