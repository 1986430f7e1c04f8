# SPDX-License-Identifier: LicenseRef-veil-proprietary
# shellcheck shell=bash disable=SC2034 # variables for the scripts that source it
# What the lab scripts (pcap.sh, veth.sh) share: the programs, saying what
# is done, veil-controld with a state of its own, waiting, the summary.
# Sourced, not run.

# The programs: those of the build directory $VEIL_BUILD (default: build/ of
# this source tree) when it has them, else the installed ones.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LAB=$ROOT/platform/lab
VEIL_BUILD=${VEIL_BUILD:-$ROOT/build}
if [ -x "$VEIL_BUILD/dataplane/veil-dataplane" ]; then
	DATAPLANE=$VEIL_BUILD/dataplane/veil-dataplane
	CONTROLD=$VEIL_BUILD/control/veil-controld
	VEILCTL=$VEIL_BUILD/control/veilctl
else
	DATAPLANE=$(command -v veil-dataplane || true)
	CONTROLD=$(command -v veil-controld || true)
	VEILCTL=$(command -v veilctl || true)
fi
PYTHON=${PYTHON:-python3}
PIDS=()

say() { printf '\n== %s\n' "$*"; }
# Print a command as it could be typed (quoted where needed), then run it.
run() {
	local a out=
	for a in "$@"; do
		if [[ $a =~ ^[A-Za-z0-9_./:=,@+%-]+$ ]]; then out+=" $a"; else out+=" ${a@Q}"; fi
	done
	printf '$%s\n' "$out"
	"$@"
}
fail() {
	printf '\nLAB FAILED: %s\n' "$*" >&2
	exit 1
}

need_programs() {
	if [ -z "$DATAPLANE" ] || [ -z "$CONTROLD" ] || [ -z "$VEILCTL" ]; then
		fail "veil-dataplane, veil-controld or veilctl not found: build first" \
			"(bash platform/setup.sh) or set VEIL_BUILD to a build directory"
	fi
	command -v "$PYTHON" >/dev/null || fail "no $PYTHON: the lab's tools are Python"
}

# EAL: no hugepages, no PCI scan, no shared files; two lcores (the main
# one and a worker) mapped onto the CPUs this process may use, so that it
# runs on a 2-CPU machine (and on one).
eal_lcores() {
	"$PYTHON" -c 'import os; c = sorted(os.sched_getaffinity(0)); print("0@%d,1@%d" % (c[0], c[-1]))'
}

# The work directory: $1, or a new one under /tmp; kept at the end.
workdir() {
	if [ -n "${1:-}" ]; then
		mkdir -p "$1"
		D=$(cd "$1" && pwd)
	else
		D=$(mktemp -d /tmp/veil-lab.XXXXXX)
	fi
	chmod 700 "$D"
}

# The [controld] part of the config: a state of its own under $D, the
# caller an admin. The dataplane reads the same file (link_socket).
controld_conf() {
	cat <<EOF
[controld]
state_dir = $D/state
socket = $D/controld.sock
link_socket = $D/link.sock

[roles]
admin = uid:$(id -u)

EOF
}

ctl() { run "$VEILCTL" --socket "$D/controld.sock" "$@"; }

# veil-controld in the background, until its socket answers; then the
# tenant $1.
start_controld() {
	say "veil-controld with its own state in $D/state"
	printf '$ %s -c %s -f 2> %s &\n' "$CONTROLD" "$D/veil.conf" "$D/controld.log"
	"$CONTROLD" -c "$D/veil.conf" -f 2>"$D/controld.log" &
	PIDS+=($!)
	for _ in $(seq 100); do
		[ -S "$D/controld.sock" ] && "$VEILCTL" --socket "$D/controld.sock" status \
			>/dev/null 2>&1 && break
		kill -0 "${PIDS[-1]}" 2>/dev/null ||
			fail "veil-controld stopped: $(tail -5 "$D/controld.log")"
		sleep 0.1
	done
	[ -S "$D/controld.sock" ] || fail "veil-controld did not open $D/controld.sock" \
		"in 10 s: $(tail -5 "$D/controld.log")"
	say "tenant $1"
	ctl tenant create "$1" || fail "veilctl tenant create $1 failed"
}

# Wait until the dataplane reports $1 lines written over the link (at most
# $2 seconds).
wait_written() {
	local n=$1 left=$(($2 * 10)) got=0
	while [ "$left" -gt 0 ]; do
		got=$("$VEILCTL" --socket "$D/controld.sock" --json stats 2>/dev/null |
			"$PYTHON" -c 'import json, sys
try:
    print(json.load(sys.stdin)["totals"]["lines_out"])
except Exception:
    print(0)')
		[ "$got" -ge "$n" ] && return 0
		kill -0 "$DP_PID" 2>/dev/null || fail "veil-dataplane stopped:" \
			"$(tail -20 "$D/dataplane.log")"
		sleep 0.1
		left=$((left - 1))
	done
	fail "$got of $n lines written after $2 s; the dataplane's log:" \
		"$(tail -20 "$D/dataplane.log")"
}

# Stop the dataplane (SIGTERM: it sends what it has, then the summary).
stop_dataplane() {
	say "stop veil-dataplane: its summary"
	run kill -TERM "$DP_PID"
	local rc=0
	wait "$DP_PID" || rc=$?
	DP_PID=
	sed -n '/^veil-dataplane: [0-9]* lines in/,$p' "$D/dataplane.log"
	[ "$rc" -eq 0 ] || fail "veil-dataplane exited $rc: $(tail -20 "$D/dataplane.log")"
	# every line accounted for: in = written, nothing dropped, held or lost
	grep -Eq "^veil-dataplane: $1 lines in [0-9.]+ s: $1 written, 0 dropped, 0 held\$" \
		"$D/dataplane.log" ||
		fail "the summary does not say $1 lines in, $1 written, none lost"
}

# A token of the collected lines $1 resolved (tenant $2): it must be one of
# the names sent.
resolve_one() {
	local tok
	tok=$(grep -o 'veil_u[0-9]*_[a-z2-7]*' "$1" | head -1)
	[ -n "$tok" ] || fail "no token in $1"
	say "resolve a token (the justification is logged)"
	ctl resolve -t "$2" -j "LAB-1: who is this user?" "$tok" | tee "$D/resolved.txt"
	grep -q "^$tok	" "$D/resolved.txt" || fail "the token $tok was not resolved"
}

# The names sent ($1: the file of names) must not be in $2.
no_plaintext() {
	local left
	left=$(grep -F -o -w -f "$1" "$2" | sort -u | head -5 || true)
	[ -z "$left" ] || fail "names left in clear in $2: $left"
	echo "no name of $1 is left in clear in $2"
}

# The processes started here, by their ids (from the EXIT trap: the exit
# status stays the script's).
stop_all() {
	set +e
	if [ -n "${DP_PID:-}" ]; then
		kill -TERM "$DP_PID" 2>/dev/null
		wait "$DP_PID" 2>/dev/null
	fi
	local p
	for p in "${PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
}
