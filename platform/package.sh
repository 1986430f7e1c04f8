#!/usr/bin/env bash
# Build veil's Debian package into build/pkg/: installs the build
# dependencies that debian/control names (apt-get, needs root), builds with
# debhelper (meson through dh) in a copy of this tree, and runs lintian on
# the result (the script fails on a lintian error; warnings are printed).
#
#   bash platform/package.sh        then: apt-get install ./build/pkg/veil_*.deb
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
out=$top/build/pkg

tools=(build-essential debhelper dpkg-dev fakeroot lintian)
missing=()
for p in "${tools[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing+=("$p")
done
export DEBIAN_FRONTEND=noninteractive
if ((${#missing[@]})) || ! dpkg-checkbuilddeps debian/control >/dev/null 2>&1; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "package: build dependencies are missing; installing them needs root" >&2
		exit 1
	fi
	echo "package: installing build dependencies"
	apt-get update -qq
	if ((${#missing[@]})); then
		apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	fi
	apt-get build-dep -y -qq ./ >/dev/null
fi

version=$(dpkg-parsechangelog -S Version)
rm -rf "$out"
mkdir -p "$out/src/veil-$version"
# the tree as it is, without the build directories and git's own
tar -C "$top" --exclude=./build --exclude=./build-san --exclude=./.git \
	--exclude='./obj-*' -cf - . | tar -C "$out/src/veil-$version" -xf -
echo "package: building veil $version (log: build/pkg/build.log)"
(cd "$out/src/veil-$version" && dpkg-buildpackage -b -us -uc) >"$out/build.log" 2>&1 || {
	tail -40 "$out/build.log" >&2
	echo "package: dpkg-buildpackage failed (build/pkg/build.log)" >&2
	exit 1
}
mv "$out"/src/*.deb "$out"/src/*.changes "$out"/src/*.buildinfo "$out/"
mv "$out"/src/*.ddeb "$out/" 2>/dev/null || true
rm -rf "$out/src"

echo "package: lintian"
rc=0
lintian --info --display-info "$out"/*.changes >"$out/lintian.log" 2>&1 || rc=$?
grep -E '^[EWI]: ' "$out/lintian.log" | sort | uniq -c | sort -rn || true
errors=$(grep -c '^E: ' "$out/lintian.log" || true)
if [ "$rc" -ne 0 ] || [ "$errors" -ne 0 ]; then
	echo "package: lintian reports $errors error(s) (build/pkg/lintian.log)" >&2
	exit 1
fi
ls -1 "$out"/*.deb
echo "package: built $(ls "$out"/*.deb | wc -l) package(s) in build/pkg/, lintian: no error"
