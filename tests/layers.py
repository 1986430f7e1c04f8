#!/usr/bin/env python3
"""The layers of the source tree (docs/architecture.md), checked on the
includes: a folder may include its own headers and those of a layer below
it, never a header of its own layer's other folders or of a layer above.

    usage: layers.py SOURCE_ROOT

Every #include "NAME" of a .c or .h file under the folders below is mapped
to the folder that holds NAME; an include that goes sideways or upwards is
printed (file:line, the header, its folder) and the exit status is 1.
Headers that none of these folders holds (system headers, test helpers)
are not ours to check."""
import os
import re
import sys

# Bottom to top. Folders of the same rank are peers and stay independent.
LAYERS = [
    ("crypto", 0),               # the token engine
    ("drivers", 0),              # framing, messages, the I/O drivers
    ("control", 1),              # veil-controld, veilctl, the link library
    ("dataplane", 2),            # (a file directly in dataplane/)
    ("dataplane/pipeline", 2),   # the parsers and the burst pipeline
    ("dataplane/process", 3),    # veil-dataplane, the process
]
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def folder_of(path):
    """The layer folder that holds @path (relative to the root), or None."""
    best = None
    for folder, _ in LAYERS:
        if path == folder or path.startswith(folder + "/"):
            if best is None or len(folder) > len(best):
                best = folder
    return best


def sources(root):
    for folder, _ in LAYERS:
        for d, _, names in os.walk(os.path.join(root, folder)):
            for n in sorted(names):
                if n.endswith((".c", ".h")):
                    p = os.path.relpath(os.path.join(d, n), root)
                    if folder_of(p) == folder:
                        yield p


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    root = sys.argv[1]
    rank = dict(LAYERS)
    files = list(sources(root))
    owner = {}  # header name -> its folder
    for p in files:
        if p.endswith(".h"):
            name = os.path.basename(p)
            if name in owner and owner[name] != folder_of(p):
                print("layers: %s is in both %s and %s: the check cannot tell "
                      "which one an include means; rename one"
                      % (name, owner[name], folder_of(p)))
                return 1
            owner[name] = folder_of(p)
    bad = 0
    for p in files:
        mine = folder_of(p)
        with open(os.path.join(root, p), encoding="utf-8", errors="replace") as f:
            for no, line in enumerate(f, 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                theirs = owner.get(os.path.basename(m.group(1)))
                if theirs is None or theirs == mine or rank[theirs] < rank[mine]:
                    continue
                where = "above" if rank[theirs] > rank[mine] else "beside"
                print("%s:%d: includes %s of %s, a layer %s %s"
                      % (p, no, m.group(1), theirs, where, mine))
                bad += 1
    order = " < ".join(", ".join(f + "/" for f, r in LAYERS if r == k)
                       for k in sorted(set(rank.values())))
    if bad:
        print("layers: %d include(s) against the layers %s; "
              "see docs/architecture.md" % (bad, order))
        return 1
    print("layers: %d files, every include goes down: %s" % (len(files), order))
    return 0


if __name__ == "__main__":
    sys.exit(main())
