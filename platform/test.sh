#!/usr/bin/env bash
# Set up, build and run the whole test suite: the normal build, then the
# ASan/UBSan build (unit and integration tests again, plus a short libFuzzer
# run of every fuzz target). Exit status: 0 only if every test passed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash platform/setup.sh all

export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
status=0
echo "== normal build: unit, integration and fuzz-corpus replay"
meson test -C build --print-errorlogs --num-processes 2 || status=1
echo "== sanitizer build (ASan+UBSan): unit, integration and fuzz smoke"
meson test -C build-san --print-errorlogs --num-processes 2 || status=1
# One closing line for both builds, from meson's own JSON logs.
python3 - build/meson-logs/testlog.json build-san/meson-logs/testlog.json <<'PY'
import json, sys
passed = failed = skipped = 0
for path in sys.argv[1:]:
    for line in open(path):
        r = json.loads(line)["result"]
        if r in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif r == "SKIP":
            skipped += 1
        else:
            failed += 1
print("veil: %d passed, %d failed, %d skipped" % (passed, failed, skipped))
PY
exit $status
