#!/usr/bin/env python3
# SPDX-License-Identifier: LicenseRef-veil-proprietary
"""The worked example of docs/token-format.md checks out: veil-token makes
exactly that token, and an independent AES-SIV (python3-cryptography)
decrypts it to the name, following the document.

usage: docs_example.py VEIL_TOKEN_BINARY docs/token-format.md
"""
import base64
import hashlib
import os
import re
import subprocess
import sys
import tempfile

from cryptography.hazmat.primitives.ciphers.aead import AESSIV


def main():
    tool, doc = sys.argv[1], sys.argv[2]
    text = open(doc, encoding="utf-8").read()
    m = re.search(r"<!-- worked-example -->\s*```\n(.*?)```", text, re.S)
    if not m:
        print("docs-example: no worked-example block in %s" % doc)
        return 1
    ex = dict(re.findall(r"^(\w+)\s*=\s*(.+?)\s*$", m.group(1), re.M))
    for field in ("key", "tenant", "version", "kind", "name", "token"):
        if field not in ex:
            print("docs-example: the block has no %s" % field)
            return 1
    passed = failed = 0
    with tempfile.TemporaryDirectory() as d:
        keyfile = os.path.join(d, "key")
        with open(keyfile, "w") as f:
            f.write(ex["key"] + "\n")
        for backend in ("openssl", "ipsec-mb"):
            p = subprocess.run([tool, "encrypt", "-k", keyfile, "-t", ex["tenant"],
                                "-v", ex["version"], "-K", ex["kind"], ex["name"]],
                               capture_output=True, text=True, timeout=60,
                               env=dict(os.environ, VEIL_CRYPTO=backend))
            if p.returncode == 0 and p.stdout.strip() == ex["token"]:
                passed += 1
            else:
                failed += 1
                print("veil-token (%s) made %r, the doc says %r" %
                      (backend, p.stdout.strip(), ex["token"]))
    token = ex["token"]
    body = token.split("_", 2)[2].upper()
    blob = base64.b32decode(body + "=" * (-len(body) % 8))
    tenant = ex["tenant"].encode()
    ad = [tenant, int(ex["version"]).to_bytes(4, "big"), ex["kind"].encode()]
    ok = blob[:2] == hashlib.sha256(b"veil-tenant:" + tenant).digest()[:2]
    pt = AESSIV(bytes.fromhex(ex["key"])).decrypt(blob[4:], ad)
    ok = ok and int.from_bytes(blob[2:4], "big") == len(pt)
    ok = ok and pt.rstrip(b"\0")[:-1] == ex["name"].encode()
    if ok:
        passed += 1
    else:
        failed += 1
        print("the worked example does not decrypt to its name")
    print("docs-example: %d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
