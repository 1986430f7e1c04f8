#!/usr/bin/env bash
# The lab VM (docs/vm.md).
#
#   bash platform/vm.sh build   Debian 12 image with mkosi and the veil package:
#                               build/vm/{veil.img,vmlinuz,initrd.img}
#   bash platform/vm.sh test    boot it under qemu, send it syslog, collect the
#                               anonymized lines, resolve a token in the VM,
#                               shut it down; one closing line says what passed
#
# Needs root (apt-get, mkosi, mkfs). Not part of .ci/run: it takes minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
out=$top/build/vm

need() { # packages
	local missing=()
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
			missing+=("$p")
	done
	if ((${#missing[@]})); then
		[ "$(id -u)" -eq 0 ] || { echo "vm: needs root to install ${missing[*]}" >&2; exit 1; }
		echo "vm: installing ${missing[*]}"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq
		apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	fi
}

build() {
	[ "$(id -u)" -eq 0 ] || { echo "vm: build needs root (mkosi)" >&2; exit 1; }
	need mkosi debootstrap systemd-container e2fsprogs qemu-utils
	# the package of this tree, built afresh
	bash platform/package.sh
	rm -rf "$out"
	mkdir -p "$out/mkosi"
	cp -a platform/vm/. "$out/mkosi/"
	cp build/pkg/veil_*.deb "$out/mkosi/mkosi.extra/root/"
	echo "vm: mkosi (log: build/vm/mkosi.log)"
	mkdir -p build/vm-cache # downloaded packages, kept for the next build
	# mkosi runs apt and the scripts in systemd-nspawn, which removes its
	# propagation directory only from a tmpfs: /run is not one on a host
	# that systemd did not boot
	mkdir -p /run/systemd/nspawn
	findmnt -n -o FSTYPE /run/systemd/nspawn | grep -qx tmpfs ||
		mount -t tmpfs -o mode=0755 tmpfs /run/systemd/nspawn
	(cd "$out/mkosi" && mkosi -f --cache "$top/build/vm-cache" build) >"$out/mkosi.log" 2>&1 || {
		tail -30 "$out/mkosi.log" >&2
		echo "vm: mkosi failed (build/vm/mkosi.log)" >&2
		exit 1
	}
	local tree=$out/mkosi/tree
	cp "$(ls "$tree"/boot/vmlinuz-* | sort -V | tail -1)" "$out/vmlinuz"
	cp "$(ls "$tree"/boot/initrd.img-* | sort -V | tail -1)" "$out/initrd.img"
	# the root file system, booted with qemu -kernel/-initrd: no boot loader
	echo "/dev/vda / ext4 defaults 0 1" >"$tree/etc/fstab"
	mkfs.ext4 -q -F -L veil-root -d "$tree" "$out/veil.img" 3G
	rm -rf "$out/mkosi"
	echo "vm: built build/vm/veil.img ($(du -h --apparent-size "$out/veil.img" | cut -f1)," \
		"$(du -h "$out/veil.img" | cut -f1) used), build/vm/vmlinuz, build/vm/initrd.img"
}

case ${1:-} in
build) build ;;
test)
	[ -f "$out/veil.img" ] || { echo "vm: no image: bash platform/vm.sh build" >&2; exit 1; }
	need qemu-system-x86 qemu-utils python3
	exec python3 platform/vm_test.py "$out"
	;;
*)
	echo "usage: bash platform/vm.sh build | test" >&2
	exit 2
	;;
esac
