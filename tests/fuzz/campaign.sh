#!/usr/bin/env bash
# SPDX-License-Identifier: LicenseRef-veil-proprietary
# A fuzzing campaign: every fuzz target (or the ones named) for a chosen
# time each, from the committed corpus, with ASan and UBSan; what a run
# finds that adds coverage is merged back into tests/fuzz/corpus/TARGET
# (libFuzzer's -merge=1 keeps only inputs that add features), and a table
# reports per target: runs, the coverage reached (libFuzzer's "cov", the
# instrumented edges covered, and "ft", its features), the corpus before and
# after, and crashes. Crashing inputs are kept in build-san/fuzz-campaign/
# TARGET/ (crash-*, timeout-*, oom-*); a campaign with one exits 1.
#
#   bash tests/fuzz/campaign.sh [--minutes M] [--jobs J] [--no-merge]
#                               [--json FILE] [TARGET...]
#
# Defaults: 10 minutes a target, one job at a time (J targets run side by
# side), every target of tests/meson.build. Needs the sanitizer and fuzz
# build: `bash platform/setup.sh all` makes build-san/ (this script runs it
# if build-san/ has no fuzz targets yet).
set -euo pipefail
cd "$(dirname "$0")/../.."

minutes=10 jobs=1 merge=1 json=
targets=()
while [ $# -gt 0 ]; do
	case $1 in
	--minutes) minutes=$2; shift 2 ;;
	--jobs) jobs=$2; shift 2 ;;
	--no-merge) merge=0; shift ;;
	--json) json=$2; shift 2 ;;
	-h|--help) sed -n '3,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	-*) echo "campaign.sh: unknown option $1 (--help)" >&2; exit 2 ;;
	*) targets+=("$1"); shift ;;
	esac
done
case $minutes in ''|*[!0-9.]*) echo "campaign.sh: --minutes takes a number" >&2; exit 2 ;; esac
case $jobs in ''|*[!0-9]*|0) echo "campaign.sh: --jobs takes a number >= 1" >&2; exit 2 ;; esac

if ! ls build-san/tests/fuzz_* >/dev/null 2>&1; then
	bash platform/setup.sh all
fi
ninja -C build-san >/dev/null
if [ ${#targets[@]} -eq 0 ]; then
	for f in build-san/tests/fuzz_*; do
		[ -f "$f" ] && [ -x "$f" ] && targets+=("${f#build-san/tests/fuzz_}")
	done
fi
secs=$(awk -v m="$minutes" 'BEGIN { printf "%d", m * 60 }')
out=build-san/fuzz-campaign
mkdir -p "$out"

# One target: fuzz, then merge; the figures go to $out/NAME/result.
one() {
	local name=$1 exe=build-san/tests/fuzz_$1 corpus=tests/fuzz/corpus/$1
	local d=$out/$1
	[ -x "$exe" ] || { echo "campaign.sh: no target $name ($exe)" >&2; return 2; }
	rm -rf "$d"
	mkdir -p "$d/new" "$corpus"
	local before; before=$(find "$corpus" -type f | wc -l)
	local rc=0
	"$exe" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$d/" "$d/new" "$corpus" \
		>"$d/fuzz.log" 2>&1 || rc=$?
	local crashes; crashes=$(find "$d" -maxdepth 1 -type f \
		\( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' -o -name 'leak-*' \) | wc -l)
	local runs cov ft
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$d/fuzz.log" | tail -1)
	cov=$(grep -o 'cov: [0-9]*' "$d/fuzz.log" | tail -1 | cut -d' ' -f2)
	ft=$(grep -o 'ft: [0-9]*' "$d/fuzz.log" | tail -1 | cut -d' ' -f2)
	if [ "$merge" = 1 ] && [ "$crashes" = 0 ]; then
		"$exe" -merge=1 -timeout=10 -rss_limit_mb=2048 "$corpus" "$d/new" \
			>"$d/merge.log" 2>&1 || rc=$?
	fi
	local after; after=$(find "$corpus" -type f | wc -l)
	echo "$name ${runs:-0} ${cov:-0} ${ft:-0} $before $after $crashes $rc" >"$d/result"
}

echo "fuzz campaign: ${#targets[@]} targets, $minutes min each, $jobs at a time" \
	"(about $(awk -v n=${#targets[@]} -v m="$minutes" -v j="$jobs" \
	'BEGIN { printf "%.0f", (n * m) / j }') min); logs in $out/"
running=0
for t in "${targets[@]}"; do
	one "$t" &
	running=$((running + 1))
	if [ "$running" -ge "$jobs" ]; then
		wait -n || true
		running=$((running - 1))
	fi
done
wait || true

printf '%-14s %12s %8s %8s %8s %8s %8s\n' TARGET RUNS COV FT "CORPUS" "AFTER" CRASHES
fail=0
rows=()
for t in "${targets[@]}"; do
	r=$out/$t/result
	if [ ! -f "$r" ]; then
		printf '%-14s %s\n' "$t" "did not run (see $out/$t/)"
		fail=1
		continue
	fi
	read -r name runs cov ft before after crashes rc <"$r"
	printf '%-14s %12s %8s %8s %8s %8s %8s\n' "$name" "$runs" "$cov" "$ft" \
		"$before" "$after" "$crashes"
	[ "$crashes" = 0 ] || fail=1
	rows+=("{\"target\":\"$name\",\"runs\":$runs,\"cov\":$cov,\"ft\":$ft,\"corpus_before\":$before,\"corpus_after\":$after,\"crashes\":$crashes}")
done
if [ -n "$json" ]; then
	(IFS=,; printf '{"minutes":%s,"targets":[%s]}\n' "$minutes" "${rows[*]}") >"$json"
fi
if [ "$fail" = 1 ]; then
	echo "fuzz campaign: crashes or failures; inputs and logs in $out/" >&2
	exit 1
fi
echo "fuzz campaign: no crash; new corpus entries are in tests/fuzz/corpus/ (git status)"
