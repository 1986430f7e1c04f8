#!/usr/bin/env bash
# Set up a Debian 12 machine for veil and build it. Idempotent: installs only
# the missing packages (needs root for that), configures a build directory
# only once, and rebuilds only what changed.
#
#   platform/setup.sh          packages + the normal build (build/)
#   platform/setup.sh all      ... + the sanitizer/fuzz build (build-san/)
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
	gcc libc6-dev pkg-config meson ninja-build   # toolchain
	dpdk-dev libdpdk-dev                         # DPDK 22.11
	libipsec-mb-dev                              # intel-ipsec-mb 1.3
	libssl-dev                                   # OpenSSL 3
	zlib1g-dev                                   # dataplane: the spool's CRC-32
	libsqlite3-dev libjansson-dev libinih-dev    # controld: state, API, config
	libmicrohttpd-dev                            # controld: the metrics endpoint
	librelp-dev                                  # dataplane: RELP upstreams
	libsystemd-dev                               # controld: sd_notify (Type=notify)
	libp11-kit-dev p11-kit                       # controld: BYOK keys on PKCS#11 tokens
	softhsm2 opensc                              # BYOK tests: a SoftHSM2 token, pkcs11-tool
	libyajl-dev libpcre2-dev                     # dataplane: JSON lines, regex extractor
	sqlite3                                      # tests edit the database
	libcmocka-dev                                # unit tests
	python3 python3-cryptography                 # interop test (independent AES-SIV)
	clang libclang-rt-14-dev                     # libFuzzer, ASan/UBSan build
	python3-scapy                                # network-dpdk test: frames and pcaps
	iproute2 iputils-ping procps                 # network-dpdk test: netns, veth, ping, sysctl
	openssl bsdutils rsyslog rsyslog-openssl     # socket driver tests: certificates, logger, TLS peers
	rsyslog-relp                                 # relp test: an imrelp collector
	curl prometheus                              # metrics test: scrape, promtool check metrics
)

missing=()
for p in "${PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing+=("$p")
done
if ((${#missing[@]})); then
	if [ "$(id -u)" -ne 0 ]; then
		echo "setup: these packages are missing and installing them needs root:" >&2
		echo "  ${missing[*]}" >&2
		exit 1
	fi
	echo "setup: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	# the prometheus package is here for its promtool only: the server it
	# brings is not left running on a machine with systemd
	if [[ " ${missing[*]} " == *" prometheus "* ]] && [ -d /run/systemd/system ]; then
		systemctl disable --now prometheus.service >/dev/null 2>&1 || true
		echo "setup: installed prometheus for promtool; its server is disabled"
	fi
fi

configure() { # dir, env and meson options...
	local dir=$1; shift
	if [ ! -f "$dir/build.ninja" ]; then
		rm -rf "$dir" # a set-up that failed half-way
		echo "setup: configuring $dir"
		local envs=() opts=()
		for a in "$@"; do
			case $a in CC=*) envs+=("$a") ;; *) opts+=("$a") ;; esac
		done
		env "${envs[@]}" meson setup "$dir" "${opts[@]}" >"$dir.setup.log" 2>&1 || {
			cat "$dir.setup.log" >&2
			exit 1
		}
	fi
	ninja -C "$dir" >"$dir.ninja.log" 2>&1 || { cat "$dir.ninja.log" >&2; exit 1; }
	echo "setup: built $dir"
}

configure build
if [ "${1:-}" = all ]; then
	configure build-san CC=clang -Db_sanitize=address,undefined -Db_lundef=false \
		-Dfuzz=true
fi
