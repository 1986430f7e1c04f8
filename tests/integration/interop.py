#!/usr/bin/env python3
# SPDX-License-Identifier: LicenseRef-veil-proprietary
"""Interop: veil's tokens against an AES-SIV that veil did not write.

Tokens made by veil-token are decoded and decrypted here with only what
docs/token-format.md says and python3-cryptography's AESSIV; tokens made
here the same way are decrypted by veil-token. Both backends, bucketing on
and off, both kinds, names of 0 to 1024 bytes.

usage: interop.py VEIL_TOKEN_BINARY
"""
import base64
import hashlib
import os
import random
import subprocess
import sys
import tempfile

from cryptography.hazmat.primitives.ciphers.aead import AESSIV

TENANT = "acme-interop"
VERSION = 7


def tag(tenant):
    return hashlib.sha256(b"veil-tenant:" + tenant.encode()).digest()[:2]


def padded_len(n, bucketing):
    if not bucketing:
        return n + 1
    if n + 1 > 1024:
        return (n + 1 + 15) // 16 * 16
    b = 16
    while b < n + 1:
        b *= 2
    return b


def ad(tenant, version, kind):
    return [tenant.encode(), version.to_bytes(4, "big"), kind.encode()]


def decode(token, key, tenant, version, kind):
    head, body = token[:len("veil_u")], token.split("_", 2)
    assert head.lower() in ("veil_u", "veil_d"), token
    assert body[1][0] == kind[0] and int(body[1][1:]) == version, token
    b32 = body[2].upper()
    blob = base64.b32decode(b32 + "=" * (-len(b32) % 8))
    assert blob[:2] == tag(tenant), "tenant tag"
    ct_len = int.from_bytes(blob[2:4], "big")
    assert len(blob) == 4 + 16 + ct_len, "length"
    pt = AESSIV(key).decrypt(blob[4:], ad(tenant, version, kind))
    stripped = pt.rstrip(b"\0")
    assert stripped[-1:] == b"\x80", "padding"
    return stripped[:-1], len(pt)


def encode(name, key, tenant, version, kind, bucketing):
    plen = padded_len(len(name), bucketing)
    pt = name + b"\x80" + b"\0" * (plen - len(name) - 1)
    out = AESSIV(key).encrypt(pt, ad(tenant, version, kind))
    blob = tag(tenant) + plen.to_bytes(2, "big") + out
    b32 = base64.b32encode(blob).decode().rstrip("=").lower()
    return "veil_%s%d_%s" % (kind[0], version, b32)


def run(tool, args, names_hex, env):
    p = subprocess.run([tool] + args, input="\n".join(names_hex) + "\n",
                       capture_output=True, text=True, env=env, timeout=120)
    return p.returncode, p.stdout.splitlines(), p.stderr


def main():
    tool = sys.argv[1]
    rng = random.Random(20261124)
    key = bytes(rng.randrange(256) for _ in range(32))
    names = [b"", b"a", b"alice@example.com", "CORP\\j\u00f6rg".encode(),
             b"x" * 15, b"y" * 16, b"z" * 1023, b"w" * 1024]
    names += [bytes(rng.randrange(256) for _ in range(rng.choice(
        [rng.randrange(40), rng.randrange(1025)]))) for _ in range(120)]
    passed = failed = 0
    with tempfile.TemporaryDirectory() as d:
        keyfile = os.path.join(d, "key")
        with open(keyfile, "w") as f:
            f.write(key.hex() + "\n")
        for backend in ("openssl", "ipsec-mb"):
            env = dict(os.environ, VEIL_CRYPTO=backend)
            for bucketing in (True, False):
                for kind in ("user", "device"):
                    common = ["-k", keyfile, "-t", TENANT, "-v", str(VERSION),
                              "-K", kind, "--hex"]
                    opt = [] if bucketing else ["--no-bucketing"]
                    # veil encrypts, Python decrypts
                    rc, toks, err = run(tool, ["encrypt"] + common + opt,
                                        [n.hex() for n in names], env)
                    if rc != 0 or len(toks) != len(names):
                        print("encrypt failed (%s): rc=%d %s" % (backend, rc, err))
                        return 1
                    for name, tok in zip(names, toks):
                        try:
                            got, plen = decode(tok, key, TENANT, VERSION, kind)
                            ok = got == name and plen == padded_len(len(name), bucketing)
                        except Exception as e:  # noqa: BLE001 - report any failure
                            print("python could not read %s: %s" % (tok[:40], e))
                            ok = False
                        if ok:
                            passed += 1
                        else:
                            failed += 1
                            print("MISMATCH %s %s bucketing=%s name=%s" %
                                  (backend, kind, bucketing, name.hex()[:40]))
                    # Python encrypts, veil decrypts
                    mine = [encode(n, key, TENANT, VERSION, kind, bucketing) for n in names]
                    if mine != toks:
                        failed += 1
                        print("tokens differ between Python and veil (%s, %s)" % (backend, kind))
                    else:
                        passed += 1
                    rc, out, err = run(tool, ["decrypt", "--status"] + common[:-1] + ["--hex"],
                                       mine, env)
                    for name, line in zip(names, out):
                        status, _, hexname = line.partition("\t")
                        if status == "OK" and bytes.fromhex(hexname) == name:
                            passed += 1
                        else:
                            failed += 1
                            print("veil could not read a Python token: %s" % line[:60])
                    if len(out) != len(names):
                        failed += 1
                        print("decrypt printed %d lines for %d tokens" % (len(out), len(names)))
                    # an altered Python token is rejected by veil
                    bad = mine[3][:-2] + ("a" if mine[3][-2] != "a" else "b") + mine[3][-1]
                    rc, out, err = run(tool, ["decrypt", "--status"] + common[:-1], [bad], env)
                    if rc == 1 and out and out[0].startswith("E_AUTH"):
                        passed += 1
                    else:
                        failed += 1
                        print("altered token not rejected: rc=%d %s" % (rc, out))
    print("interop: %d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
