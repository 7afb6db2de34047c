#!/usr/bin/env bash
# Builds the LuaJIT luaedge links: OpenResty's LuaJIT 2.1 from Debian 12's
# source package luajit2, compiled as debian/rules does (make amalg with
# the CFLAGS/LDFLAGS of dpkg-buildflags; JIT and GC64 as in Debian's amd64
# build), plus -DLUAJIT_ENABLE_CHECKHOOK: compiled traces then check the
# hook mask at each loop, so a count hook set from another thread
# (lua_sethook) fires inside them too. Debian's prebuilt archive lacks it.
#
# Fetches with `apt-get source` into build/, installs the headers and the
# static archive into out/ (both gitignored; see third_party/README.md):
#   out/include/luajit-2.1/*.h   out/lib/libluajit-5.1.a
# out/stamp names what was built; the script does nothing when it matches.
#
# usage: third_party/luajit/build.sh   (root, or with dpkg-dev and a
#        deb-src entry for bookworm main already there)
set -euo pipefail

version=2.1-20230119-1 # luajit2 in Debian 12 (bookworm)
xcflags=-DLUAJIT_ENABLE_CHECKHOOK
# debian/rules' make amalg, only the static archive (BUILDMODE=static: its
# objects are the same as in Debian's mixed build), plus the flag.
make_args=(amalg BUILDMODE=static PREFIX=/usr XCFLAGS="$xcflags")
here=$(cd "$(dirname "$0")" && pwd)
build=$here/build
out=$here/out
tree=$build/luajit2-${version%-*}

die() {
	echo "luajit: $*" >&2
	exit 1
}

# What out/ holds; a change here rebuilds it. The Makefile hands this to
# go as a C flag, since go's build cache does not see a C library change.
recipe="luajit2=$version make ${make_args[*]}"
if [ -f "$out/lib/libluajit-5.1.a" ] && [ "$(cat "$out/stamp" 2>/dev/null)" = "$recipe" ]; then
	exit 0
fi

is_root() { [ "$(id -u)" = 0 ]; }
apt_updated=0
apt_update() {
	[ $apt_updated = 1 ] && return
	apt-get update -qq || die "apt-get update failed"
	apt_updated=1
}

# dpkg-dev: dpkg-source to unpack the source package, dpkg-buildflags and
# dpkg-architecture for Debian's flags.
if ! command -v dpkg-source >/dev/null || ! command -v dpkg-buildflags >/dev/null; then
	is_root || die "dpkg-dev is missing; run as root or install it (apt-get install dpkg-dev)"
	echo "luajit: installing dpkg-dev" >&2
	apt_update
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends dpkg-dev >/dev/null ||
		die "could not install dpkg-dev"
fi

# apt-get source needs a deb-src entry for bookworm main. When there is
# none, add one on the mirror the deb entry for bookworm main uses.
targets=$(apt-get indextargets --no-release-info --format '$(TARGET_OF) $(RELEASE) $(COMPONENT) $(REPO_URI)')
if ! grep -q '^deb-src bookworm main ' <<<"$targets"; then
	is_root || die "no deb-src entry for Debian bookworm main; run as root or add one to /etc/apt/sources.list.d/"
	mirror=$(awk '$1 == "deb" && $2 == "bookworm" && $3 == "main" { print $4; exit }' <<<"$targets")
	[ -n "$mirror" ] || die "no apt entry for Debian bookworm main: this needs a Debian 12 machine"
	list=/etc/apt/sources.list.d/bookworm-src.sources
	echo "luajit: adding $list (deb-src bookworm main)" >&2
	{
		echo "Types: deb-src"
		echo "URIs: $mirror"
		echo "Suites: bookworm"
		echo "Components: main"
		if [ -f /usr/share/keyrings/debian-archive-keyring.gpg ]; then
			echo "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
		fi
	} >"$list"
	apt_updated=0 # the new entry has no lists yet
	apt_update
fi

# The source lists may be missing or stale (a fresh machine): update once.
has_version() { grep -qx "Version: $version" <<<"$(apt-cache showsrc luajit2 2>/dev/null)"; }
if ! has_version; then
	is_root || die "apt does not know the source package luajit2 $version; run as root (apt-get update)"
	apt_update
	has_version ||
		die "apt has no source package luajit2 $version (apt-cache showsrc luajit2 lists what it has); update version in $0"
fi

echo "luajit: building luajit2 $version with $xcflags (log: $build/build.log)" >&2
rm -rf "$tree" "$out"
mkdir -p "$build"
log=$build/build.log
: >"$log"
fail() {
	tail -n 30 "$log" >&2
	die "$1 (full log: $log)"
}
# apt-get source unpacks the tarballs and applies Debian's patches; it
# reuses tarballs already downloaded into build/.
(cd "$build" && apt-get source -q "luajit2=$version") >>"$log" 2>&1 || fail "apt-get source luajit2=$version failed"
[ -d "$tree" ] || fail "apt-get source did not unpack $tree"

# As debian/rules' build: dh exports dpkg-buildflags' CFLAGS and LDFLAGS;
# its make also names the multiarch library path and the target triplet.
(
	cd "$tree"
	eval "$(dpkg-buildflags --export=sh)"
	host=$(dpkg-architecture -qDEB_HOST_GNU_TYPE)
	multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
	make -j"$(nproc)" "${make_args[@]}" MULTILIB="lib/$multiarch" CROSS="$host-" Q= E=@:
) >>"$log" 2>&1 || fail "make amalg failed"

# Install as Debian's libluajit2-5.1-dev lays it out, the archive without
# debug sections as in Debian's package.
mkdir -p "$out/include/luajit-2.1" "$out/lib"
for h in lua.h lualib.h lauxlib.h luaconf.h lua.hpp luajit.h; do
	cp "$tree/src/$h" "$out/include/luajit-2.1/"
done
cp "$tree/src/libluajit.a" "$out/lib/libluajit-5.1.a"
strip --strip-debug "$out/lib/libluajit-5.1.a"
echo "$recipe" >"$out/stamp"
echo "luajit: installed in $out" >&2
