#!/usr/bin/env bash
# Installs what the benchmark needs (Debian 12), only when something is missing.
# Quiet when everything is already there. Needs root (or sudo) to install.
set -euo pipefail

packages=(
    wrk
    nghttp2-client # h2load, for the HTTP/2 case
    haproxy
    nginx
    libnginx-mod-http-lua
    lua-nginx-websocket # lua-resty-websocket, for the WebSocket case
    curl
    socat # the UDP syslog sink HAProxy logs to in the *-log cases
    util-linux
    gnuplot-nox # optional PNG chart of the results
)

missing=()
for pkg in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
    if [[ "$status" != "installed" ]]; then
        missing+=("$pkg")
    fi
done

if ((${#missing[@]} == 0)); then
    exit 0
fi

sudo=()
if ((EUID != 0)); then
    if command -v sudo >/dev/null 2>&1; then
        sudo=(sudo)
    else
        echo "install-peers: missing packages (${missing[*]}) and not root; install them by hand" >&2
        exit 1
    fi
fi

echo "install-peers: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    2> >(grep -v '^debconf: delaying package configuration' >&2)

# Debian starts the packaged daemons on install; the bench runs its own
# instances, so stop the system ones to keep the CPUs quiet (best effort).
for svc in haproxy nginx; do
    if [[ " ${missing[*]} " == *" $svc "* ]] && command -v systemctl >/dev/null 2>&1; then
        "${sudo[@]}" systemctl stop "$svc" >/dev/null 2>&1 || true
    fi
done
