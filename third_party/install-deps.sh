#!/usr/bin/env bash
# Installs what building luaedge needs, when it is missing, from Debian's
# packages: a C compiler and Go (Debian's go fetches the toolchain go.mod
# asks for through the module proxy). LuaJIT is built from source by
# luajit/build.sh, which the Makefile runs next. See third_party/README.md.
#
# usage: third_party/install-deps.sh [build|test|bench]
set -euo pipefail

want=${1:-build}
pkgs=()

need_cmd() { command -v "$1" >/dev/null 2>&1 || pkgs+=("$2"); }

need_cmd gcc gcc
need_cmd make make
need_cmd git git
need_go=0
if ! command -v go >/dev/null 2>&1 && [ ! -x /usr/local/go/bin/go ]; then
	need_go=1
	need_cmd go golang-go
fi
case $want in
test | bench)
	# The end-to-end tests talk to real peers: curl as a client, nginx as a
	# backend, redis-server for the Socket class, HAProxy to compare answers,
	# socat to the runtime socket, h2load (nghttp2) as an HTTP/2 load client,
	# headless Chromium as a browser, PUC Lua 5.3 as the reference of
	# luaedge's Lua 5.3 library (lj's tests).
	need_cmd curl curl
	need_cmd socat socat
	need_cmd nginx nginx
	need_cmd redis-server redis-server
	need_cmd haproxy haproxy
	need_cmd h2load nghttp2-client
	need_cmd chromium chromium
	need_cmd lua5.3 lua5.3
	# lua-cjson, run in the luajit interpreter luajit/build.sh leaves in
	# build/: the reference require("cjson") is compared with
	# (lj/cjson_test.go). Not Debian's luajit package: it would replace
	# the LuaJIT that nginx's Lua module (a benchmark peer) needs.
	[ -e /usr/lib/x86_64-linux-gnu/lua/5.1/cjson.so ] || pkgs+=(lua-cjson)
	# lua-http, run in the same luajit: the reference luaedge's http.*
	# modules are compared with (lj/luahttp_test.go), and its examples,
	# run unchanged as services (cmd/luaedge).
	[ -e /usr/share/lua/5.1/http/headers.lua ] || pkgs+=(lua-http)
	;;
esac

if [ ${#pkgs[@]} -gt 0 ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "install-deps: missing ${pkgs[*]}; run as root or install them" >&2
		exit 1
	fi
	echo "install-deps: installing ${pkgs[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
fi

# Debian 12's Go (1.19) is older than go.mod's: use it once to fetch the Go
# release go.mod names from the module proxy (golang.org/toolchain), and
# install that in /usr/local/go.
if [ $need_go = 1 ]; then
	gover=$(awk '/^toolchain /{sub("go","",$2); print $2}' "$(dirname "$0")/../go.mod")
	[ -n "$gover" ] || gover=1.26.8
	tmp=$(mktemp -d)
	echo "install-deps: installing Go $gover in /usr/local/go" >&2
	dir=$(cd "$tmp" && GOPATH=$tmp GOFLAGS=-modcacherw go mod download -json \
		"golang.org/toolchain@v0.0.1-go$gover.linux-amd64" | awk -F'"' '/"Dir"/{print $4}')
	rm -rf /usr/local/go
	cp -a "$dir" /usr/local/go
	chmod +x /usr/local/go/bin/* /usr/local/go/pkg/tool/*/* 2>/dev/null || true
	rm -rf "$tmp"
fi

# h2spec, the HTTP/2 conformance suite, for the tests: a Go program,
# built from the module proxy at a pinned version into third_party/tools.
if [ "$want" = test ]; then
	tools=$(cd "$(dirname "$0")" && pwd)/tools/bin
	if [ ! -x "$tools/h2spec" ]; then
		echo "install-deps: installing h2spec in $tools" >&2
		PATH=$PATH:/usr/local/go/bin GOBIN=$tools go install github.com/summerwind/h2spec/cmd/h2spec@v2.2.1+incompatible
	fi
fi
