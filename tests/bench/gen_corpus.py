#!/usr/bin/env python3
# SPDX-License-Identifier: LicenseRef-veil-proprietary
"""Generate a corpus of realistic mixed firewall and proxy traffic for the
dataplane benchmark: formats mixed as an egress appliance sees them, lines
of about 256 bytes on average, users drawn from a skewed (Zipf-like) pool
of 50,000 and devices from a pool of 20,000.

Output: one line per message, "FORMAT<TAB>MESSAGE".

usage: gen_corpus.py OUT [--lines N] [--seed S]
"""
import bisect
import random
import sys

OUT = sys.argv[1]
N = int(sys.argv[sys.argv.index("--lines") + 1]) if "--lines" in sys.argv else 200000
SEED = int(sys.argv[sys.argv.index("--seed") + 1]) if "--seed" in sys.argv else 4711
rng = random.Random(SEED)

FIRST = ["anna", "ben", "carla", "dirk", "elif", "femi", "greta", "hugo", "ines", "jonas",
         "kofi", "lena", "mats", "nina", "omar", "paula", "quinn", "rosa", "sven", "tara",
         "ugo", "vera", "wim", "xenia", "yusuf", "zoe", "jürgen", "søren", "zoë", "amélie"]
LAST = ["meyer", "schmidt", "okafor", "dubois", "rossi", "novak", "kowalski", "silva",
        "yilmaz", "jensen", "garcia", "tanaka", "müller", "nguyen", "haddad", "berg"]


def make_users(n):
    users = []
    for i in range(n):
        base = "%s.%s%d" % (FIRST[i % len(FIRST)], LAST[(i // len(FIRST)) % len(LAST)], i)
        form = i % 5
        users.append(base if form < 2 else "CORP\\" + base if form < 4
                     else base + "@corp.example")
    return users


USERS = make_users(50000)
DEVICES = ["WS-%05d" % i if i % 3 else "lt-%05d.corp.example" % i for i in range(20000)]
# Zipf-like skew: weight 1 / rank^1.1
CUM = []
acc = 0.0
for r in range(1, len(USERS) + 1):
    acc += 1.0 / r ** 1.1
    CUM.append(acc)


def user():
    return USERS[bisect.bisect_left(CUM, rng.random() * acc)]


def device():
    return DEVICES[int(rng.paretovariate(1.2)) % len(DEVICES)]


def ip():
    return "10.%d.%d.%d" % (rng.randrange(256), rng.randrange(256), rng.randrange(1, 255))


def pub():
    return "%d.%d.%d.%d" % (rng.randrange(1, 224), rng.randrange(256), rng.randrange(256),
                            rng.randrange(1, 255))


HOSTS = ["www.example.com", "cdn.example.net", "api.vendor.io", "mail.example.org",
         "updates.os.example", "news.example.co.uk"]


def url():
    return "https://%s/%s?id=%d" % (rng.choice(HOSTS), rng.choice(
        ["index.html", "api/v2/items", "static/app.js", "login", "img/logo.png"]),
        rng.randrange(100000))


def ts():
    return "2026-11-%02dT%02d:%02d:%02d" % (rng.randrange(1, 29), rng.randrange(24),
                                            rng.randrange(60), rng.randrange(60))


def cef():
    u = user().replace("\\", "\\\\")
    return ("<134>Nov 24 10:%02d:%02d proxy01 CEF:0|Symantec|ProxySG|7.3|200|TCP_MISS|3|"
            "rt=%d src=%s spt=%d suser=%s shost=%s dst=%s dpt=443 request=%s "
            "act=allowed cs1Label=category cs1=Business" % (
                rng.randrange(60), rng.randrange(60), 1764000000000 + rng.randrange(10 ** 8),
                ip(), rng.randrange(1024, 65535), u, device(), pub(), url()))


def leef():
    return ("<13>Nov 24 10:%02d:%02d fw02 LEEF:1.0|Fortinet|FortiGate|7.2|traffic|"
            "devTime=%s\tsrc=%s\tdst=%s\tsrcPort=%d\tdstPort=443\tusrName=%s\t"
            "identHostName=%s\tproto=6\taction=accept\tsentBytes=%d" % (
                rng.randrange(60), rng.randrange(60), ts(), ip(), pub(),
                rng.randrange(1024, 65535), user(), device(), rng.randrange(100000)))


def fortigate():
    return ('<189>date=2026-11-24 time=10:%02d:%02d devname="FGT-EDGE-01" devid="FGT60F0000000001" '
            'logid="0000000013" type="traffic" subtype="forward" level="notice" vd="root" '
            'srcip=%s srcname="%s" srcport=%d dstip=%s dstport=443 user="%s" '
            'action="accept" policyid=12 service="HTTPS" sentbyte=%d rcvdbyte=%d' % (
                rng.randrange(60), rng.randrange(60), ip(), device(),
                rng.randrange(1024, 65535), pub(), user(), rng.randrange(10 ** 5),
                rng.randrange(10 ** 6)))


def panos():
    u = user()
    return ("<14>Nov 24 10:%02d:%02d PA-3220 1,2026/11/24 10:%02d:%02d,012801000001,TRAFFIC,end,"
            "2561,2026/11/24 10:%02d:%02d,%s,%s,0.0.0.0,0.0.0.0,allow-web,%s,,ssl,vsys1,"
            "trust,untrust,ethernet1/2,ethernet1/1,log-fwd,2026/11/24 10:%02d:%02d,%d,1,"
            "%d,443,0,0,0x400053,tcp,allow,%d,%d,%d" % (
                rng.randrange(60), rng.randrange(60), rng.randrange(60), rng.randrange(60),
                rng.randrange(60), rng.randrange(60), ip(), pub(), u,
                rng.randrange(60), rng.randrange(60), rng.randrange(10 ** 6),
                rng.randrange(1024, 65535), rng.randrange(10 ** 5), rng.randrange(10 ** 4),
                rng.randrange(10 ** 4)))


def json_line():
    u = user().replace("\\", "\\\\")
    return ('{"datetime":"%s","login":"%s","deviceowner":"%s","devicehostname":"%s",'
            '"action":"Allowed","url":"%s","clientip":"%s","urlcategory":"Business"}' % (
                ts(), u, u, device(), url(), ip()))


def asa():
    return ("<166>Nov 24 2026 10:%02d:%02d asa01 : %%ASA-6-113004: AAA user authentication "
            "Successful : server = %s : user = %s" % (rng.randrange(60), rng.randrange(60),
                                                     ip(), user()))


def squid():
    u = user().replace("\\", "%5C")
    return ("%d.%03d %5d %s TCP_MISS/200 %d GET %s %s HIER_DIRECT/%s text/html" % (
        1764000000 + rng.randrange(10 ** 6), rng.randrange(1000), rng.randrange(1, 9999),
        ip(), rng.randrange(200, 90000), url(), u, pub()))


def checkpoint():
    return ('<134>1 2026-11-24T10:%02d:%02dZ gw-cp01 CheckPoint 2201 - [action:"Accept"; '
            'flags:"411908"; ifdir:"outbound"; origin:"10.1.1.1"; product:"VPN-1 & FireWall-1"; '
            'src:"%s"; dst:"%s"; service:"443"; src_user_name:"%s"; src_machine_name:"%s"]' % (
                rng.randrange(60), rng.randrange(60), ip(), pub(), user(), device()))


MIX = [(cef, 18), (fortigate, 20), (panos, 18), (json_line, 12), (leef, 8), (asa, 6),
       (squid, 10), (checkpoint, 8)]
NAMES = {cef: "cef", leef: "leef", fortigate: "fortigate", panos: "panos",
         json_line: "json", asa: "asa", squid: "squid", checkpoint: "checkpoint"}
POP = [f for f, w in MIX for _ in range(w)]

with open(OUT, "w", encoding="utf-8") as f:
    total = 0
    for _ in range(N):
        g = rng.choice(POP)
        line = g()
        total += len(line.encode())
        f.write("%s\t%s\n" % (NAMES[g], line))
print("gen_corpus: %d lines, %.1f bytes on average, %d users, %d devices -> %s"
      % (N, total / N, len(USERS), len(DEVICES), OUT))
