#!/usr/bin/env bash
# Server CPU time per request: luaedge vs HAProxy+Lua vs nginx+lua, same Lua
# logic, same run. See bench/README.md.
#
# usage: bash bench/run.sh [case ...]      (default: every folder in bench/cases)
#
# environment:
#   BENCH_SECONDS      measured wrk run per server and round (default 4)
#   BENCH_ROUNDS       interleaved rounds, medians are reported (default 7)
#   BENCH_WARMUP       warm-up wrk run per server, in seconds (default 3)
#   BENCH_CONNECTIONS  wrk connections (default 50)
#   BENCH_H2_CONNECTIONS, BENCH_H2_STREAMS
#                      h2load connections and concurrent streams on each, for
#                      the cases whose client file says h2load (default 4, 100)
#   BENCH_PORT         base port; servers use BENCH_PORT+1..+3 (default 18080)
#   BENCH_SERVER_CPU   CPU the server is pinned to (default 0)
#   BENCH_CLIENT_CPU   CPU wrk is pinned to (default 1)
#   BENCH_SERVERS      servers to run, in round order (default "luaedge luaedge-nolimits
#                      haproxy nginx"; luaedge-nolimits is luaedge with its CPU limits off;
#                      a case's extra.servers file adds luaedge-nolog, luaedge with its
#                      access log off, and luaedge-scraped, luaedge with /metrics scraped
#                      every second during its runs)
#   BENCH_NO_INSTALL   set to 1 to skip bench/install-peers.sh
#   BENCH_NGINX_ROOT   a folder holding nginx's Lua modules, LuaJIT and Lua libraries
#                      under their Debian paths (the packages unpacked with dpkg-deb -x),
#                      used instead of the system's: for a host where another LuaJIT
#                      package excludes libnginx-mod-http-lua (set BENCH_NO_INSTALL too)
#   LUAEDGE_BIN        luaedge binary (default bin/luaedge of the repository)
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT_DIR=$(dirname "$BENCH_DIR")
CASES_DIR=$BENCH_DIR/cases
RESULTS_DIR=$BENCH_DIR/results

RUN_SECONDS=${BENCH_SECONDS:-4}
ROUNDS=${BENCH_ROUNDS:-7}
WARMUP=${BENCH_WARMUP:-3}
CONNS=${BENCH_CONNECTIONS:-50}
H2_CONNS=${BENCH_H2_CONNECTIONS:-4}
H2_STREAMS=${BENCH_H2_STREAMS:-100}
BASE_PORT=${BENCH_PORT:-18080}
SERVER_CPU=${BENCH_SERVER_CPU:-0}
NGINX_ROOT=${BENCH_NGINX_ROOT:-}
CLIENT_CPU=${BENCH_CLIENT_CPU:-1}
read -r -a SERVERS <<<"${BENCH_SERVERS:-luaedge luaedge-nolimits haproxy nginx}"
LUAEDGE_BIN=${LUAEDGE_BIN:-$ROOT_DIR/bin/luaedge}
DEFAULT_BODY="Hello World !"

log() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }

for v in RUN_SECONDS ROUNDS WARMUP CONNS H2_CONNS H2_STREAMS BASE_PORT; do
    [[ ${!v} =~ ^[0-9]+$ && ${!v} -gt 0 ]] || die "$v must be a positive integer (got '${!v}')"
done

# ---------------------------------------------------------------- servers

server_conf() { # config file a case provides for this server
    case $1 in
        luaedge | luaedge-nolimits | luaedge-nolog | luaedge-scraped) echo luaedge.yaml ;;
        haproxy) echo haproxy.cfg ;;
        nginx) echo nginx.conf ;;
        *) die "unknown server '$1'" ;;
    esac
}

server_port() {
    case $1 in
        luaedge) echo $((BASE_PORT + 1)) ;;
        haproxy) echo $((BASE_PORT + 2)) ;;
        nginx) echo $((BASE_PORT + 3)) ;;
        luaedge-nolimits) echo $((BASE_PORT + 4)) ;;
        luaedge-nolog) echo $((BASE_PORT + 5)) ;;
        luaedge-scraped) echo $((BASE_PORT + 6)) ;;
    esac
}

# The admin listener of a luaedge server (@ADMIN_PORT@ in its config).
admin_port() { echo $(($(server_port "$1") + 100)); }

# HAProxy's syslog target in the cases that have a syslog.sink file: a UDP
# sink on the client's CPU (@SYSLOG_PORT@).
SYSLOG_PORT=$((BASE_PORT + 8))

server_label() {
    case $1 in
        luaedge) echo "luaedge" ;;
        luaedge-nolimits) echo "luaedge, CPU limits off" ;;
        luaedge-nolog) echo "luaedge, access log off" ;;
        luaedge-scraped) echo "luaedge, /metrics scraped every second" ;;
        haproxy) echo "HAProxy ${HAPROXY_VERSION%%-*} + Lua" ;;
        nginx) echo "nginx ${NGINX_VERSION} + lua" ;;
    esac
}

server_cmd() { # fills CMD for server $1 with rendered config in dir $2
    local dir=$2
    case $1 in
        luaedge*) CMD=("$LUAEDGE_BIN" -c "$dir/luaedge.yaml") ;;
        haproxy) CMD=(haproxy -db -f "$dir/haproxy.cfg") ;;
        nginx)
            CMD=(nginx -p "$dir/" -e "$dir/error.log" -c "$dir/nginx.conf")
            if [[ -n $NGINX_ROOT ]]; then
                CMD=(env "LD_LIBRARY_PATH=$NGINX_ROOT/usr/lib/x86_64-linux-gnu"
                    "LUA_PATH=$NGINX_ROOT/usr/share/lua/5.1/?.lua;;" "${CMD[@]}")
            fi
            ;;
    esac
}

server_available() { # prints a reason and fails when the server can't run
    case $1 in
        luaedge*)
            [[ -x $LUAEDGE_BIN ]] || { echo "${LUAEDGE_BIN#"$ROOT_DIR"/} not built yet"; return 1; } ;;
        haproxy)
            command -v haproxy >/dev/null || { echo "haproxy not installed"; return 1; } ;;
        nginx)
            command -v nginx >/dev/null || { echo "nginx not installed"; return 1; }
            [[ -e $NGINX_ROOT/usr/lib/nginx/modules/ngx_http_lua_module.so ]] ||
                { echo "libnginx-mod-http-lua not installed"; return 1; } ;;
    esac
}

# ---------------------------------------------------------------- processes

WRK_PID=""
SCRAPER_PID=""
SINK_PID=""
declare -A SRV_PID=() SRV_DIR=()
TMP_ROOT=""

proc_tree() { # pid $1 and all its descendants, from /proc
    # A process that exits between the glob and cat makes cat fail; what
    # it read of the others is still right.
    { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v root="$1" '
        {
            i = match($0, /\) [^)]*$/)           # comm may hold spaces and ")"
            if (!i) next
            split(substr($0, i + 2), f, " ")      # f[1] = state (field 3)
            parent[$1] = f[2]
        }
        END {
            keep[root] = 1; n = 1
            while (n) {
                n = 0
                for (p in parent) if (!(p in keep) && (parent[p] in keep)) { keep[p] = 1; n++ }
            }
            for (p in keep) if (p in parent) print p
        }'
}

cpu_ticks() { # "utime stime" (fields 14 and 15), in clock ticks, over the tree of pid $1
    local p user=0 sys=0 line rest
    local -a f
    for p in $(proc_tree "$1"); do
        line=$(cat "/proc/$p/stat" 2>/dev/null) || continue
        rest=${line##*) }
        read -r -a f <<<"$rest"           # f[0] is field 3
        user=$((user + f[11]))
        sys=$((sys + f[12]))
    done
    echo "$user $sys"
}

stop_server() {
    local pid=$1 p i
    [[ -n $pid ]] || return 0
    local tree
    tree=$(proc_tree "$pid")
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    for p in $tree; do kill -KILL "$p" 2>/dev/null || true; done
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    if [[ -n $WRK_PID ]]; then
        kill -TERM "$WRK_PID" 2>/dev/null || true
        wait "$WRK_PID" 2>/dev/null || true
        WRK_PID=""
    fi
    stop_scraper
    stop_servers
    [[ -n $SINK_PID ]] && stop_server "$SINK_PID"
    if [[ -n $UP_PID ]]; then
        stop_server "$UP_PID"
        UP_PID=""
    fi
    [[ -n $TMP_ROOT && -d $TMP_ROOT ]] && rm -rf "$TMP_ROOT"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

stop_servers() {
    local s
    for s in "${!SRV_PID[@]}"; do
        stop_server "${SRV_PID[$s]}"
        unset "SRV_PID[$s]"
    done
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

UPSTREAM_PORT=$((BASE_PORT + 9))
UP_PID=""
start_upstream() {
    local dir i
    [[ -n $UP_PID ]] && stop_server "$UP_PID"
    dir=$(mktemp -d "$TMP_ROOT/upstream.XXXXXX")
    chmod 755 "$dir"
    mkdir -p "$dir/www"
    printf 'Hello World !' >"$dir/www/index.html"
    sed -e "s|@UPSTREAM_PORT@|$UPSTREAM_PORT|g" -e "s|@DIR@|$dir|g" "$1/upstream.conf" >"$dir/nginx.conf"
    port_busy "$UPSTREAM_PORT" && die "port $UPSTREAM_PORT is already in use (set BENCH_PORT to another base)"
    taskset -c "$CLIENT_CPU" nginx -p "$dir/" -e "$dir/error.log" -c "$dir/nginx.conf" >"$dir/server.log" 2>&1 </dev/null &
    UP_PID=$!
    for ((i = 0; i < 50; i++)); do
        port_busy "$UPSTREAM_PORT" && return 0
        sleep 0.1
    done
    cat "$dir/error.log" >&2 || true
    die "the upstream nginx did not start"
}

start_syslog_sink() { # a UDP sink for HAProxy's logs, on the client's CPU
    [[ -n $SINK_PID ]] && return 0
    command -v socat >/dev/null || die "socat not found (run bench/install-peers.sh)"
    taskset -c "$CLIENT_CPU" socat -u "UDP-RECV:$SYSLOG_PORT,bind=127.0.0.1" /dev/null &
    SINK_PID=$!
}

# The scraper of luaedge-scraped: /metrics every second, on the client's
# CPU, while the server is measured.
start_scraper() { # url
    taskset -c "$CLIENT_CPU" bash -c 'while :; do curl -s -o /dev/null --max-time 5 "$1"; sleep 1; done' scraper "$1" &
    SCRAPER_PID=$!
}
stop_scraper() {
    [[ -n $SCRAPER_PID ]] || return 0
    kill -TERM "$SCRAPER_PID" 2>/dev/null || true
    wait "$SCRAPER_PID" 2>/dev/null || true
    SCRAPER_PID=""
}

# cpu_ns: CPU time of pid $1's threads in nanoseconds (schedstat's run
# time, exact, where utime+stime are sampled at each clock tick: too
# coarse for the little an idle server spends).
cpu_ns() {
    cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ t += $1 } END { printf "%.0f", t }'
}

# scrape_cost SERVER: the server CPU one scrape of /metrics costs, in µs:
# the CPU it used over 200 scrapes one after the other, less what it uses
# idle over the same time. At one scrape a second, that many µs is the
# share of a core in millionths.
scrape_cost() {
    local pid=${SRV_PID[$1]} url t0 t1 i0 i1 w0 w1 w2
    url="http://127.0.0.1:$(admin_port "$1")/metrics"
    w0=$(date +%s%N)
    i0=$(cpu_ns "$pid")
    sleep 5
    i1=$(cpu_ns "$pid")
    w1=$(date +%s%N)
    t0=$(cpu_ns "$pid")
    for ((i = 0; i < 200; i++)); do
        taskset -c "$CLIENT_CPU" curl -s -o /dev/null --max-time 5 "$url" || die "$1: no /metrics on $url"
    done
    t1=$(cpu_ns "$pid")
    w2=$(date +%s%N)
    awk -v busy=$((t1 - t0)) -v idle=$((i1 - i0)) -v iw=$((w1 - w0)) -v bw=$((w2 - w1)) \
        'BEGIN { printf "%.0f", (busy - idle * bw / iw) / 200 / 1e3 }'
}

show_logs() { # print a run dir's server logs to stderr
    local f
    for f in "$1"/server.log "$1"/error.log; do
        [[ -s $f ]] || continue
        printf -- '----- %s\n' "${f##*/}" >&2
        tail -n 40 "$f" >&2
    done
    printf -- '-----\n' >&2
}

# The load client pinned to the client CPU; run in the background so a
# signal to this script is handled at once instead of after it ends.
run_wrk() { # output file, client arguments...
    local out=$1
    shift
    taskset -c "$CLIENT_CPU" "$@" >"$out" 2>&1 &
    WRK_PID=$!
    local rc=0
    wait "$WRK_PID" || rc=$?
    WRK_PID=""
    return "$rc"
}

# load_cmd SECONDS URL [latency]: fills LOAD with the case's load client:
# wrk; h2load (HTTP/2 with prior knowledge, many streams per connection);
# or openssl s_time (new TLS connections, no resumption, no request).
load_cmd() {
    case $CASE_CLIENT in
        h2load) LOAD=(h2load -t1 -c"$H2_CONNS" -m"$H2_STREAMS" -D"$1" ${HDR_ARGS[@]+"${HDR_ARGS[@]}"} "$2") ;;
        s_time)
            local hostport=${2#https://}
            LOAD=(openssl s_time -connect "${hostport%%/*}" -new -time "$1") ;;
        wsload) LOAD=("$WSLOAD" -url "ws://${2#http://}" -c "${CASE_CONNS:-$CONNS}" -d "${1}s") ;;
        *) LOAD=(wrk -t1 -c"${CASE_CONNS:-$CONNS}" -d"${1}s" --timeout 10s ${3:+--latency} ${HDR_ARGS[@]+"${HDR_ARGS[@]}"} "$2") ;;
    esac
}

# load_stats OUT: sets requests, rps, non2xx, sockerr and p99 from the
# load client's output (h2load reports no percentiles: p99 is "–").
load_stats() {
    local out=$1
    if [[ $CASE_CLIENT == wsload ]]; then
        # "messages: N in S s, R msgs/s, E errors": a "req" is a message echoed.
        requests=$(awk '/^messages: /{ print $2; exit }' "$out")
        rps=$(awk '/^messages: /{ print $6; exit }' "$out")
        sockerr=$(awk '/^messages: /{ print $8; exit }' "$out")
        non2xx=0 p99="–"
    elif [[ $CASE_CLIENT == s_time ]]; then
        # "N connections in T real seconds, ...": each is a full handshake.
        requests=$(awk '/connections in .* real seconds/{ print $1; exit }' "$out")
        rps=$(awk '/connections in .* real seconds/{ printf "%.1f", $1 / $4; exit }' "$out")
        non2xx=0 sockerr=0 p99="–"
    elif [[ $CASE_CLIENT == h2load ]]; then
        requests=$(awk '/^requests: /{ print $8; exit }' "$out")
        rps=$(awk '/^finished in /{ print $4; exit }' "$out")
        non2xx=$(awk '/^status codes: /{ print $5 + $7 + $9; exit }' "$out")
        sockerr=$(awk '/^requests: /{ print $10 + $12 + $14; exit }' "$out")
        p99="–"
    else
        requests=$(awk '/ requests in /{ print $1; exit }' "$out")
        rps=$(awk '/^Requests\/sec:/{ print $2; exit }' "$out")
        non2xx=$(awk '/Non-2xx or 3xx responses:/{ print $NF; exit }' "$out")
        sockerr=$(awk '/Socket errors:/{ gsub(",", ""); print $6 + $8 + $10; exit }' "$out")
        p99=$(awk '/^ +99%/{ print $2; exit }' "$out")
        if [[ $CASE_UNIT == MB ]]; then
            # The bytes read, in MB: a response cut at the end of the run
            # counts for what arrived of it.
            requests=$(awk '/ requests in .* read$/{
                v = $(NF - 1); m = 1
                if (v ~ /KB$/) m = 1024; else if (v ~ /MB$/) m = 1048576; else if (v ~ /GB$/) m = 1073741824
                sub(/[KMG]?B$/, "", v); printf "%.0f", v * m / 1e6; exit }' "$out")
        fi
    fi
}

# ---------------------------------------------------------------- helpers

median() { # numbers as arguments
    printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 }
        END { if (NR == 0) exit; if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

round_ratios() { # per-round ratios of two lists of numbers, as one list
    awk -v a="$1" -v b="$2" 'BEGIN {
        n = split(a, x, " "); split(b, y, " ")
        for (i = 1; i <= n; i++) if (y[i] > 0) printf "%.4f ", x[i] / y[i]
    }'
}

fmt_ratio() { # $1 as "0.91×" ("0.91" with a second argument), or "–"
    if [[ -z $1 ]]; then echo "–"; return; fi
    awk -v r="$1" -v bare="${2:-}" 'BEGIN { printf "%.2f%s", r, bare ? "" : "×" }'
}

# ---------------------------------------------------------------- runs

# start_one CASE_DIR SERVER: start, check the answer, warm up. The server
# stays up for the whole case, idle while the others are measured.
start_one() {
    local case_dir=$1 server=$2 name conf port url dir f pid
    name=$(basename "$case_dir")
    port=$(server_port "$server")
    url="$CASE_SCHEME://127.0.0.1:$port${CASE_PATH:-/}"
    dir=$(mktemp -d "$TMP_ROOT/$name-$server.XXXXXX")
    chmod 755 "$dir"
    SRV_DIR[$server]=$dir

    # Render every file of the case: placeholders @PORT@ and @DIR@.
    for f in "$case_dir"/*; do
        [[ -f $f ]] || continue
        sed -e "s|@PORT@|$port|g" -e "s|@DIR@|$dir|g" -e "s|@UPSTREAM_PORT@|$UPSTREAM_PORT|g" \
            -e "s|@ADMIN_PORT@|$((port + 100))|g" -e "s|@SYSLOG_PORT@|$SYSLOG_PORT|g" "$f" >"$dir/${f##*/}"
    done
    # Its folders (hook scripts) are copied as they are.
    for f in "$case_dir"/*/; do
        [[ -d $f ]] || continue
        cp -r "$f" "$dir/"
    done
    if [[ $server == nginx && -n $NGINX_ROOT ]]; then
        sed -i -e "s|/usr/lib/nginx/modules/|$NGINX_ROOT/usr/lib/nginx/modules/|g" \
            -e "s|/usr/share/lua/5.1/|$NGINX_ROOT/usr/share/lua/5.1/|g" "$dir/nginx.conf"
    fi

    # certs: the case's certificate and key, made once per case.
    [[ -n $CASE_CERTS ]] && cp "$CASE_CERTS"/cert.pem "$CASE_CERTS"/key.pem "$CASE_CERTS"/haproxy.pem "$dir/"

    # The same luaedge without its CPU watchdog: what the limits cost.
    if [[ $server == luaedge-nolimits ]]; then
        sed -i 's|^lua:$|lua:\n  forced_yield: 0\n  burst_timeout: 0\n  session_timeout: 0|' "$dir/luaedge.yaml"
    fi
    # The same luaedge without its access log: what logging costs.
    if [[ $server == luaedge-nolog ]]; then
        sed -i 's|^access_log:.*|access_log: off|' "$dir/luaedge.yaml"
    fi

    port_busy "$port" && die "port $port is already in use (set BENCH_PORT to another base)"

    server_cmd "$server" "$dir"
    log "$name/$server: starting on port $port (CPU $SERVER_CPU)"
    taskset -c "$SERVER_CPU" "${CMD[@]}" >"$dir/server.log" 2>&1 </dev/null &
    pid=$!
    SRV_PID[$server]=$pid

    # Wait until it answers, then check the answer.
    local code="" i
    for ((i = 0; i < 100; i++)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid" 2>/dev/null || true
            unset "SRV_PID[$server]"
            log "$name/$server: exited during startup: ${CMD[*]}"
            show_logs "$dir"
            die "$name/$server failed to start"
        fi
        code=$(curl -s -o "$dir/check.body" -w '%{http_code}' --max-time 10 ${CURL_ARGS[@]+"${CURL_ARGS[@]}"} ${HDR_ARGS[@]+"${HDR_ARGS[@]}"} "$url" 2>/dev/null) && break
        code=""
        sleep 0.1
    done
    if [[ -z $code ]]; then
        show_logs "$dir"
        die "$name/$server does not answer on $url after 10 s"
    fi
    local body
    if [[ -n $CASE_SIZE ]]; then
        body="$(stat -c %s "$dir/check.body") bytes"
    else
        body=$(cat "$dir/check.body")
    fi
    if [[ $code != 200 || $body != "$CASE_BODY" ]]; then
        log "$name/$server: wrong answer from $url: status $code, body '$body' (want 200, '$CASE_BODY')"
        curl -s -i --max-time 2 "$url" >&2 || true
        echo >&2
        show_logs "$dir"
        die "$name/$server answered wrongly"
    fi

    # compressed: the body checked above was decoded by curl; here, how
    # many bytes it took compressed, with the case's request headers.
    if [[ -n $CASE_COMPRESSED ]]; then
        local size enc a raw=()
        for a in ${CURL_ARGS[@]+"${CURL_ARGS[@]}"}; do
            [[ $a == --compressed ]] || raw+=("$a")
        done
        size=$(curl -s -o /dev/null -D "$dir/compressed.head" -w '%{size_download}' --max-time 10 \
            ${raw[@]+"${raw[@]}"} ${HDR_ARGS[@]+"${HDR_ARGS[@]}"} "$url")
        enc=$(awk -F': *' 'tolower($1) == "content-encoding" { sub(/\r$/, "", $2); print $2 }' "$dir/compressed.head")
        [[ $enc == "$CASE_COMPRESSED" ]] ||
            die "$name/$server: the response's content-encoding is '$enc', want '$CASE_COMPRESSED'"
        R_COMP[$name:$server]=$size
        log "$name/$server: $(stat -c %s "$dir/check.body") bytes sent as $size ($enc)"
    fi

    load_cmd "$WARMUP" "$url"
    run_wrk "$dir/warmup.out" "${LOAD[@]}" ||
        { cat "$dir/warmup.out" >&2; die "$name/$server: $CASE_CLIENT warm-up failed"; }
}

# measure_one CASE_DIR SERVER: one measured wrk run against the running
# server. Appends to R_CPU/R_RPS/R_P99/R_NOTE for "$case:$server".
measure_one() {
    local case_dir=$1 server=$2 name port url dir pid
    name=$(basename "$case_dir")
    port=$(server_port "$server")
    url="$CASE_SCHEME://127.0.0.1:$port${CASE_PATH:-/}"
    dir=${SRV_DIR[$server]}
    pid=${SRV_PID[$server]}

    local t0 t1 u0 s0 u1 s1 out
    out=$dir/wrk.out
    [[ $server == luaedge-scraped ]] && start_scraper "http://127.0.0.1:$(admin_port "$server")/metrics"
    read -r u0 s0 <<<"$(cpu_ticks "$pid")"
    load_cmd "$RUN_SECONDS" "$url" latency
    run_wrk "$out" "${LOAD[@]}" ||
        { cat "$out" >&2; die "$name/$server: $CASE_CLIENT failed"; }
    read -r u1 s1 <<<"$(cpu_ticks "$pid")"
    t0=$((u0 + s0)) t1=$((u1 + s1))
    stop_scraper
    kill -0 "$pid" 2>/dev/null || { show_logs "$dir"; die "$name/$server died during the run"; }

    {
        printf '### %s / %s, round %s\n' "$name" "$server" "$ROUND"
        printf 'server cpu ticks: %s -> %s (user %s, system %s; CLK_TCK %s)\n' "$t0" "$t1" "$((u1 - u0))" "$((s1 - s0))" "$CLK_TCK"
        cat "$out"
        echo
    } >>"$RAW_LOG"

    local requests rps non2xx sockerr p99
    load_stats "$out"
    [[ -n $requests && $requests -gt 0 ]] ||
        { cat "$out" >&2; die "$name/$server: $CASE_CLIENT made no requests"; }

    local us us_user us_sys
    us=$(awk -v d=$((t1 - t0)) -v hz="$CLK_TCK" -v n="$requests" 'BEGIN { printf "%.3f", d / hz / n * 1e6 }')
    us_user=$(awk -v d=$((u1 - u0)) -v hz="$CLK_TCK" -v n="$requests" 'BEGIN { printf "%.3f", d / hz / n * 1e6 }')
    us_sys=$(awk -v d=$((s1 - s0)) -v hz="$CLK_TCK" -v n="$requests" 'BEGIN { printf "%.3f", d / hz / n * 1e6 }')
    local key=$name:$server note=""
    [[ ${non2xx:-0} -gt 0 ]] && note+="round $ROUND: $non2xx non-2xx responses; "
    [[ ${sockerr:-0} -gt 0 ]] && note+="round $ROUND: $sockerr socket read/write/timeout errors; "
    R_CPU[$key]+="$us "
    R_USR[$key]+="$us_user "
    R_SYS[$key]+="$us_sys "
    R_RPS[$key]+="$rps "
    R_P99[$key]+="$p99 "
    R_NOTE[$key]+="$note"
    log "$name/$server: round $ROUND: $us µs CPU/$CASE_UNIT (user $us_user, system $us_sys), $rps req/s, $requests ${CASE_UNIT}s, p99 $p99${note:+  !! $note}"
}

rss_kb() { # VmRSS in KiB, summed over the tree of pid $1
    local p total=0 kb
    for p in $(proc_tree "$1"); do
        kb=$(awk '/^VmRSS:/{ print $2 }' "/proc/$p/status" 2>/dev/null) || continue
        total=$((total + ${kb:-0}))
    done
    echo "$total"
}

# measure_idle CASE_DIR SERVER: the server's RSS growth per idle
# WebSocket, with CASE_IDLE of them open. Sets R_IDLE for "$case:$server".
measure_idle() {
    local case_dir=$1 server=$2 name port pid before after fifo holder line i
    name=$(basename "$case_dir")
    port=$(server_port "$server")
    pid=${SRV_PID[$server]}
    fifo=$TMP_ROOT/idle-$server.fifo
    mkfifo "$fifo"
    before=$(rss_kb "$pid")
    # wsload holds the connections until its standard input (the fifo,
    # kept open by fd 7) closes.
    taskset -c "$CLIENT_CPU" "$WSLOAD" -url "ws://127.0.0.1:$port${CASE_PATH:-/}" -idle "$CASE_IDLE" <"$fifo" >"$TMP_ROOT/idle-$server.out" 2>&1 &
    holder=$!
    exec 7>"$fifo"
    for ((i = 0; i < 600; i++)); do
        # The output file appears once wsload's fifo is open.
        line=$(cat "$TMP_ROOT/idle-$server.out" 2>/dev/null || true)
        [[ $line == "open $CASE_IDLE"* ]] && break
        kill -0 "$holder" 2>/dev/null || break
        sleep 0.1
    done
    sleep 1 # the server settles what the last accepts allocated
    after=$(rss_kb "$pid")
    exec 7>&-
    wait "$holder" 2>/dev/null || true
    rm -f "$fifo"
    [[ $line == "open $CASE_IDLE"* ]] ||
        { cat "$TMP_ROOT/idle-$server.out" >&2; die "$name/$server: could not hold $CASE_IDLE WebSockets open"; }
    R_IDLE[$name:$server]=$(awk -v a="$after" -v b="$before" -v n="$CASE_IDLE" 'BEGIN { printf "%.2f", (a - b) / n }')
    log "$name/$server: $CASE_IDLE idle WebSockets: RSS $before -> $after KiB, ${R_IDLE[$name:$server]} KiB each"
}

# ---------------------------------------------------------------- report

report_case() {
    local name=$1 s key cpu rps
    local -A MED_CPU=() MED_USR=() MED_SYS=() MED_RPS=() MED_RN=() MED_RH=()
    for s in "${RAN[@]}"; do
        key=$name:$s
        # shellcheck disable=SC2086
        MED_CPU[$s]=$(median ${R_CPU[$key]})
        # shellcheck disable=SC2086
        MED_USR[$s]=$(median ${R_USR[$key]})
        # shellcheck disable=SC2086
        MED_SYS[$s]=$(median ${R_SYS[$key]})
        # shellcheck disable=SC2086
        MED_RPS[$s]=$(median ${R_RPS[$key]})
        # Ratios are paired by round, then the median is taken: the runs of
        # one round are seconds apart and see the machine in the same state.
        if [[ -n ${R_CPU[$name:nginx]:-} ]]; then
            # shellcheck disable=SC2046
            MED_RN[$s]=$(median $(round_ratios "${R_CPU[$key]}" "${R_CPU[$name:nginx]}"))
        fi
        if [[ -n ${R_CPU[$name:haproxy]:-} ]]; then
            # shellcheck disable=SC2046
            MED_RH[$s]=$(median $(round_ratios "${R_CPU[$key]}" "${R_CPU[$name:haproxy]}"))
        fi
    done

    echo "## $name"
    echo
    echo "Server CPU time per $CASE_UNIT (lower is better): $ROUNDS rounds of ${RUN_SECONDS} s per server, the servers"
    echo "one after the other in each round; ratios are the median of the per-round ratios."
    case $CASE_CLIENT in
        h2load) echo "h2load -t1 -c$H2_CONNS -m$H2_STREAMS (HTTP/2, prior knowledge) on CPU $CLIENT_CPU, servers pinned to CPU $SERVER_CPU; CPU = utime+stime from /proc." ;;
        wsload) echo "bench/wsload -c${CASE_CONNS:-$CONNS} (WebSocket: each connection sends a 32-byte text message and waits for its echo; \"req\" is a message) on CPU $CLIENT_CPU, servers pinned to CPU $SERVER_CPU; CPU = utime+stime from /proc." ;;
        s_time) echo "openssl s_time -new (a new TLS connection each time, no resumption, no request: \"req\" is a handshake) on CPU $CLIENT_CPU, servers pinned to CPU $SERVER_CPU; CPU = utime+stime from /proc." ;;
        *) echo "wrk -t1 -c${CASE_CONNS:-$CONNS} on CPU $CLIENT_CPU, servers pinned to CPU $SERVER_CPU; CPU = utime+stime from /proc." ;;
    esac
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -sr), ${CPU_MODEL}, $(nproc) CPUs;"
    echo "HAProxy ${HAPROXY_VERSION:-?}, nginx ${NGINX_VERSION:-?} + lua-nginx-module ${NGX_LUA_VERSION:-?}, wrk ${WRK_VERSION:-?}."
    echo
    echo "| server | µs CPU/$CASE_UNIT (median) | user / system µs (medians) | req/s (median) | vs nginx+lua | vs HAProxy+Lua |"
    echo "|---|---:|---:|---:|---:|---:|"
    local r_n r_h flag
    for s in "${RAN[@]}"; do
        key=$name:$s
        cpu=${MED_CPU[$s]}
        rps=${MED_RPS[$s]}
        r_n=$(fmt_ratio "${MED_RN[$s]:-}")
        r_h=$(fmt_ratio "${MED_RH[$s]:-}")
        flag=""
        [[ -n ${R_NOTE[$key]} ]] && flag=" ⚠"
        printf '| %s%s | %.2f | %.2f / %.2f | %.0f | %s | %s |\n' "$(server_label "$s")" "$flag" "$cpu" "${MED_USR[$s]}" "${MED_SYS[$s]}" "$rps" "$r_n" "$r_h"
    done
    echo
    echo "Rounds:"
    for s in "${RAN[@]}"; do
        key=$name:$s
        printf -- '- %s: µs CPU/%s %s; req/s %s; p99 latency %s\n' \
            "$s" "$CASE_UNIT" "${R_CPU[$key]% }" "${R_RPS[$key]% }" "${R_P99[$key]% }"
    done
    for s in "${RAN[@]}"; do
        key=$name:$s
        [[ -n ${R_NOTE[$key]} ]] && echo "- ⚠ $s: ${R_NOTE[$key]%; }"
    done
    for s in "${SKIPPED[@]}"; do
        echo "- skipped $s"
    done
    echo
    if [[ -n $CASE_COMPRESSED ]]; then
        echo "Compressed body ($CASE_COMPRESSED) of the ${CASE_SIZE:-?}-byte response, and the compression ratio (bigger is smaller):"
        for s in "${RAN[@]}"; do
            echo "- $(server_label "$s"): ${R_COMP[$name:$s]:-–} bytes, ratio $(awk -v a="${CASE_SIZE:-0}" -v b="${R_COMP[$name:$s]:-0}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "–" }')"
        done
        echo
    fi
    if [[ -n $CASE_IDLE ]]; then
        echo "Memory per idle WebSocket, $CASE_IDLE open at once (server RSS growth ÷ $CASE_IDLE):"
        for s in "${RAN[@]}"; do
            echo "- $(server_label "$s"): ${R_IDLE[$name:$s]:-–} KiB"
        done
        echo
    fi
    if [[ -n ${MED_CPU[luaedge]:-} ]]; then
        echo "**$name: luaedge/nginx CPU ratio $(fmt_ratio "${MED_RN[luaedge]:-}" x), luaedge/haproxy CPU ratio $(fmt_ratio "${MED_RH[luaedge]:-}" x)**"
    else
        echo "**$name: luaedge/nginx CPU ratio –, luaedge/haproxy CPU ratio – (luaedge not run)**"
    fi
    if [[ -n ${R_CPU[$name:luaedge]:-} && -n ${R_CPU[$name:luaedge-nolog]:-} ]]; then
        echo
        # shellcheck disable=SC2046
        echo "**$name: the access log costs: luaedge / luaedge with the access log off = $(fmt_ratio $(median $(round_ratios "${R_CPU[$name:luaedge]}" "${R_CPU[$name:luaedge-nolog]}")) x)**"
    fi
    if [[ -n ${R_CPU[$name:luaedge]:-} && -n ${R_CPU[$name:luaedge-scraped]:-} ]]; then
        echo
        # shellcheck disable=SC2046
        echo "**$name: scraping /metrics every second costs: luaedge scraped / luaedge = $(fmt_ratio $(median $(round_ratios "${R_CPU[$name:luaedge-scraped]}" "${R_CPU[$name:luaedge]}")) x); one scrape costs the server ${SCRAPE_US[$name]:-?} µs of CPU, ${SCRAPE_PCT[$name]:-?} % of a core at one scrape a second**"
    fi
    if [[ -n ${R_CPU[$name:luaedge]:-} && -n ${R_CPU[$name:luaedge-nolimits]:-} ]]; then
        echo
        # shellcheck disable=SC2046
        echo "**$name: the CPU limits (watchdog on, LuaJIT with CHECKHOOK) cost: luaedge / luaedge with limits off = $(fmt_ratio $(median $(round_ratios "${R_CPU[$name:luaedge]}" "${R_CPU[$name:luaedge-nolimits]}")) x)**"
    fi
}

plot_case() { # optional PNG bar chart when gnuplot is installed
    local name=$1 s key data png
    command -v gnuplot >/dev/null 2>&1 || return 0
    data=$TMP_ROOT/$name.dat
    png=$RESULTS_DIR/$name.png
    : >"$data"
    for s in "${RAN[@]}"; do
        key=$name:$s
        # shellcheck disable=SC2086
        printf '"%s" %s\n' "$s" "$(median ${R_CPU[$key]})" >>"$data"
    done
    gnuplot <<EOF || { log "gnuplot failed, no chart"; return 0; }
set terminal pngcairo size 640,400 noenhanced
set output "$png"
set title "$name: server CPU per request (lower is better)"
set ylabel "µs CPU / request"
set style fill solid 0.6 border -1
set boxwidth 0.6
set yrange [0:*]
set offsets 0, 0, graph 0.15, 0
set grid ytics
unset key
plot "$data" using 0:2:xtic(1) with boxes lc rgb "#4472c4", \
     "" using 0:2:(sprintf("%.2f", \$2)) with labels offset 0,1
EOF
    log "chart: bench/results/$name.png"
}

# ---------------------------------------------------------------- main

if [[ ${BENCH_NO_INSTALL:-0} != 1 ]]; then
    bash "$BENCH_DIR/install-peers.sh"
fi
for tool in wrk curl taskset getconf; do
    command -v "$tool" >/dev/null || die "$tool not found (run bench/install-peers.sh)"
done

ncpu=$(nproc --all 2>/dev/null || getconf _NPROCESSORS_ONLN)
((SERVER_CPU < ncpu && CLIENT_CPU < ncpu)) ||
    die "needs CPUs $SERVER_CPU and $CLIENT_CPU, this machine has $ncpu (set BENCH_SERVER_CPU/BENCH_CLIENT_CPU)"
[[ $SERVER_CPU != "$CLIENT_CPU" ]] || log "warning: server and wrk share CPU $SERVER_CPU"

# Servers and wrk inherit this; raise the soft open-files limit to the hard one.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

CLK_TCK=$(getconf CLK_TCK)
CPU_MODEL=$(awk -F': ' '/^model name/{ print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
CPU_MODEL=${CPU_MODEL:-unknown CPU}
HAPROXY_VERSION=$(haproxy -v 2>/dev/null | awk 'NR == 1 { print $3 }' || true)
NGINX_VERSION=$(nginx -v 2>&1 | sed -n 's|.*nginx/\([^ ]*\).*|\1|p' || true)
NGX_LUA_VERSION=$(dpkg-query -W -f='${Version}' libnginx-mod-http-lua 2>/dev/null || true)
if [[ -n $NGINX_ROOT ]]; then NGX_LUA_VERSION="(from $NGINX_ROOT)"; fi
WRK_VERSION=$(dpkg-query -W -f='${Version}' wrk 2>/dev/null || true)

# Cases: arguments are names under bench/cases (or paths); default all.
CASES=()
if (($# == 0)); then
    for d in "$CASES_DIR"/*/; do
        [[ -d $d ]] && CASES+=("${d%/}")
    done
else
    for a in "$@"; do
        if [[ -d $CASES_DIR/$a ]]; then
            CASES+=("$CASES_DIR/$a")
        elif [[ -d $a ]]; then
            CASES+=("$(cd "$a" && pwd)")
        else
            die "no such case '$a' (cases: $(cd "$CASES_DIR" && echo */ | tr -d /))"
        fi
    done
fi
((${#CASES[@]} > 0)) || die "no cases in $CASES_DIR"

mkdir -p "$RESULTS_DIR"
TMP_ROOT=$(mktemp -d -t luaedge-bench.XXXXXX)
chmod 755 "$TMP_ROOT"

declare -A R_CPU=() R_USR=() R_SYS=() R_RPS=() R_P99=() R_NOTE=() SCRAPE_US=() SCRAPE_PCT=() R_IDLE=() R_COMP=()
WSLOAD=""

for case_dir in "${CASES[@]}"; do
    name=$(basename "$case_dir")
    CASE_BODY=$DEFAULT_BODY
    [[ -f $case_dir/expect.body ]] && CASE_BODY=$(cat "$case_dir/expect.body")
    # expect.size: the body's size is checked instead of its bytes.
    CASE_SIZE=""
    if [[ -f $case_dir/expect.size ]]; then
        CASE_SIZE=$(head -n1 "$case_dir/expect.size")
        CASE_BODY="$CASE_SIZE bytes"
    fi
    CASE_PATH=/
    [[ -f $case_dir/url.path ]] && CASE_PATH=$(head -n1 "$case_dir/url.path")
    # client: the load client, wrk (default) or h2load; curl checks the
    # answer the same way.
    CASE_CLIENT=wrk
    [[ -f $case_dir/client ]] && CASE_CLIENT=$(head -n1 "$case_dir/client")
    CURL_ARGS=()
    case $CASE_CLIENT in
        wrk) ;;
        h2load) CURL_ARGS=(--http2-prior-knowledge) ;;
        s_time) ;;
        wsload)
            if [[ -z $WSLOAD ]]; then
                WSLOAD=$TMP_ROOT/wsload
                (cd "$ROOT_DIR" && PATH=$PATH:/usr/local/go/bin go build -o "$WSLOAD" ./bench/wsload) ||
                    die "could not build bench/wsload"
            fi ;;
        *) die "$name: unknown client '$CASE_CLIENT' (want wrk, h2load, s_time or wsload)" ;;
    esac
    [[ $CASE_CLIENT == wsload ]] || command -v "${CASE_CLIENT/s_time/openssl}" >/dev/null ||
        die "$CASE_CLIENT not found (run bench/install-peers.sh)"
    # idle: after the rounds, the memory each server holds per idle
    # WebSocket, with this many open (wsload -idle).
    CASE_IDLE=""
    [[ -f $case_dir/idle ]] && CASE_IDLE=$(head -n1 "$case_dir/idle")
    # unit: what CPU is counted per, "req" (default) or "MB" (of responses
    # read, from wrk's total: a bulk transfer).
    CASE_UNIT=req
    [[ -f $case_dir/unit ]] && CASE_UNIT=$(head -n1 "$case_dir/unit")
    [[ $CASE_UNIT == req || $CASE_UNIT == MB ]] || die "$name: unit must be req or MB"
    # connections: wrk's connections for this case (a bulk transfer wants few).
    CASE_CONNS=""
    [[ -f $case_dir/connections ]] && CASE_CONNS=$(head -n1 "$case_dir/connections")
    # certs: ecdsa or rsa; a self-signed certificate for 127.0.0.1 is made
    # for the case (cert.pem, key.pem, and haproxy.pem with both) and the
    # servers are reached over https (curl -k).
    CASE_SCHEME=http CASE_CERTS=""
    if [[ -f $case_dir/certs ]]; then
        CASE_SCHEME=https
        CASE_CERTS=$TMP_ROOT/certs-$name
        mkdir -p "$CASE_CERTS"
        case $(head -n1 "$case_dir/certs") in
            ecdsa) keyopt=(-newkey ec -pkeyopt ec_paramgen_curve:P-256) ;;
            rsa) keyopt=(-newkey rsa:2048) ;;
            *) die "$name: certs must say ecdsa or rsa" ;;
        esac
        openssl req -x509 -nodes "${keyopt[@]}" -days 2 -subj /CN=127.0.0.1 \
            -addext subjectAltName=IP:127.0.0.1 -keyout "$CASE_CERTS/key.pem" -out "$CASE_CERTS/cert.pem" 2>/dev/null ||
            die "$name: openssl could not make a certificate"
        cat "$CASE_CERTS/cert.pem" "$CASE_CERTS/key.pem" >"$CASE_CERTS/haproxy.pem"
        CURL_ARGS+=(-k)
    fi
    # compressed: the coding the responses must come in (gzip); curl's
    # check decodes the body, and the compressed size is reported.
    CASE_COMPRESSED=""
    if [[ -f $case_dir/compressed ]]; then
        CASE_COMPRESSED=$(head -n1 "$case_dir/compressed")
        CURL_ARGS+=(--compressed)
    fi
    # request.headers: one "Name: value" a line, sent by curl and wrk alike.
    HDR_ARGS=()
    if [[ -f $case_dir/request.headers ]]; then
        while IFS= read -r line; do
            [[ -n $line ]] && HDR_ARGS+=(-H "$line")
        done <"$case_dir/request.headers"
    fi

    # extra.servers: luaedge variants this case adds to the servers, right
    # after luaedge, so that the runs compared are seconds apart.
    CASE_SERVERS=("${SERVERS[@]}")
    if [[ -f $case_dir/extra.servers && -z ${BENCH_SERVERS:-} ]]; then
        read -r -a extra <"$case_dir/extra.servers"
        CASE_SERVERS=()
        for s in "${SERVERS[@]}"; do
            CASE_SERVERS+=("$s")
            [[ $s == luaedge ]] && CASE_SERVERS+=("${extra[@]}")
        done
    fi
    RAN=()
    SKIPPED=()
    for s in "${CASE_SERVERS[@]}"; do
        conf=$(server_conf "$s")
        if [[ ! -f $case_dir/$conf ]]; then
            log "$name: no $conf, skipping $s"
            SKIPPED+=("$s (case has no $conf)")
        elif ! why=$(server_available "$s"); then
            log "$name: skipping $s: $why"
            SKIPPED+=("$s ($why)")
        else
            RAN+=("$s")
        fi
    done
    if ((${#RAN[@]} == 0)); then
        log "$name: no server to run, skipping the case"
        continue
    fi

    # upstream.conf: an nginx the proxied case forwards to, pinned to the
    # client's CPU so that its work is not counted as the server's.
    if [[ -f $case_dir/upstream.conf ]]; then
        start_upstream "$case_dir"
    fi
    # syslog.sink: HAProxy logs to a UDP sink on the client's CPU.
    if [[ -f $case_dir/syslog.sink ]]; then
        start_syslog_sink
    fi

    RAW_LOG=$RESULTS_DIR/$name.log
    : >"$RAW_LOG"
    for s in "${RAN[@]}"; do
        R_CPU[$name:$s]+=""
        R_NOTE[$name:$s]+=""
        start_one "$case_dir" "$s"
    done
    # Short runs, one server after the other in each round: this machine's
    # speed drifts over tens of seconds, and a round's runs share its state.
    for ((ROUND = 1; ROUND <= ROUNDS; ROUND++)); do
        for s in "${RAN[@]}"; do
            measure_one "$case_dir" "$s"
        done
    done
    if [[ -n ${SRV_PID[luaedge-scraped]:-} ]]; then
        SCRAPE_US[$name]=$(scrape_cost luaedge-scraped)
        SCRAPE_PCT[$name]=$(awk -v us="${SCRAPE_US[$name]}" 'BEGIN { printf "%.3f", us / 1e6 * 100 }')
        log "$name: one /metrics scrape costs the server ${SCRAPE_US[$name]} µs CPU"
    fi
    if [[ -n $CASE_IDLE ]]; then
        for s in "${RAN[@]}"; do
            measure_idle "$case_dir" "$s"
        done
    fi
    stop_servers

    report_case "$name" | tee "$RESULTS_DIR/$name.md"
    echo
    plot_case "$name"
    log "$name: results in bench/results/$name.md, raw wrk output in bench/results/$name.log"
done
