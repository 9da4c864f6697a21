#!/bin/sh
# e2e_relay.sh - end-to-end tests of hframe-gateway in relay mode
# (--upstream) on loopback: in front of a plain gateway and of
# tests/peer_server.py in its reference, keepalive, echo and fault modes.
#
# Run as: HF_BUILD=<outdir> sh tests/e2e_relay.sh
# Every server listens on 127.0.0.1 port 0 and reports its port (the
# gateways through --port-file); every process started here is killed
# on exit; every wait is bounded. Exit status 0 when all checks passed.
set -u
: "${HF_BUILD:=build}"
GW="$HF_BUILD/hframe-gateway"
HFRAME="$HF_BUILD/hframe"
HERE=$(cd "$(dirname "$0")" && pwd)
CLIENT="$HERE/gw_client.py"
RCLIENT="$HERE/relay_client.py"
PEER="$HERE/peer_server.py"
# shellcheck source=tests/e2e_lib.sh
. "$HERE/e2e_lib.sh"
e2e_setup e2e_relay
# 5,000 clients through a relay: the client's descriptors, the relay's
# two per busy client, the upstream's.
ulimit -n 12000 2>/dev/null || ulimit -n "$(ulimit -H -n)" 2>/dev/null
# What hframe bench prints when no request failed.
NO_ERRORS='errors *connect 0, io 0, closed 0, protocol 0, mismatch 0, timeout 0'
# The relay's counters in a stats line.
RELAY_STATS='req_relayed=[1-9][0-9]* upstream_connects=[1-9][0-9]*'

# peer NAME MODE [options...]: start tests/peer_server.py; sets PEER_PID
# and PEER_PORT.
peer() {
    name=$1
    mode=$2
    shift 2
    python3 "$PEER" --mode "$mode" --lifetime 300 "$@" >"$TMP/$name.port" \
        2>"$TMP/$name.log" &
    PEER_PID=$!
    PIDS="$PIDS $PEER_PID"
    wait_started "$name" "$PEER_PID" peer_server \
        grep -q '^[0-9][0-9]*$' "$TMP/$name.port" || return 1
    PEER_PORT=$(head -n 1 "$TMP/$name.port")
}

# rclient LABEL SCENARIO ARGS...: one relay_client.py scenario, bounded.
rclient() {
    label=$1
    shift
    if timeout --foreground -k 5 120 python3 "$RCLIENT" "$@" \
        >"$TMP/client.out" 2>&1; then
        ok "$label$(sed -n '$s/^/: /p' "$TMP/client.out")"
    else
        fail "$label"
        sed 's/^/        /' "$TMP/client.out"
    fi
}

# bench LABEL ARGS...: hframe bench, bounded; ok when it reports no error.
bench() {
    label=$1
    shift
    if timeout --foreground -k 5 120 "$HFRAME" bench "$@" \
        >"$TMP/bench.out" 2>&1 &&
        grep -q "$NO_ERRORS" "$TMP/bench.out"; then
        ok "$label"
    else
        fail "$label"
        sed 's/^/        /' "$TMP/bench.out"
    fi
}

# counter NAME KEY: KEY's value in the last stats line of the log NAME.
counter() {
    grep 'notice: stats ' "$TMP/$1.log" | tail -n 1 |
        sed -n "s/.* $2=\([0-9]*\).*/\1/p"
}

# usr1_stats NAME PID: SIGUSR1, then wait for one more stats line.
usr1_stats() {
    n=$(grep -c 'notice: stats ' "$TMP/$1.log")
    kill -USR1 "$2"
    i=0
    while [ "$(grep -c 'notice: stats ' "$TMP/$1.log")" -le "$n" ] &&
        [ "$i" -lt 50 ]; do
        sleep 0.1
        i=$((i + 1))
    done
}

# A loopback port nothing listens on (bound, then released).
closed_port() {
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

for f in "$GW" "$HFRAME"; do
    if [ ! -x "$f" ]; then
        echo "e2e_relay: $f not built"
        exit 1
    fi
done
T0=$(date +%s)

# ------------------------------------------------------------ options
printf '{"neo": "The One."}' >"$TMP/index.json"
up17=""
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17; do
    up17="$up17 --upstream 127.0.0.1:$i"
done
for bad in "--upstream 127.0.0.1" "--upstream 127.0.0.1:" \
    "--upstream 127.0.0.1:0" "--upstream 127.0.0.1:65536" \
    "--upstream 127.0.0.1:8x" "--upstream :8080" "--upstream []:8080" \
    "--upstream-timeout 1x" "--upstream-timeout -1" \
    "--index $TMP/index.json --upstream 127.0.0.1:1" \
    "--upstream 127.0.0.1:1 --index $TMP/index.json" "$up17"; do
    # shellcheck disable=SC2086
    timeout --foreground -k 5 10 "$GW" $bad --port-file "$TMP/never" \
        127.0.0.1 0 >/dev/null 2>"$TMP/usage.err"
    st=$?
    case "$bad" in *127.0.0.1:17) bad="17 times --upstream" ;; esac
    bad=$(printf '%s' "$bad" | sed "s|$TMP/||")
    if [ "$st" -eq 2 ] && [ -s "$TMP/usage.err" ]; then
        ok "usage error: $bad"
    else
        fail "usage error: $bad (exit $st)"
        sed 's/^/        /' "$TMP/usage.err"
    fi
done
timeout --foreground -k 5 10 "$GW" --index "$TMP/index.json" \
    --upstream 127.0.0.1:1 2>"$TMP/usage.err"
check "--index with --upstream: the message names the conflict" \
    grep -q 'exclude each other' "$TMP/usage.err"
# Every relay-only option needs --upstream; an upstream given twice
# would be two series of the same name on the metrics page.
for args in "--upstream-check 1|--upstream-check needs --upstream" \
    "--client-pipeline 2|--client-pipeline needs --upstream" \
    "--upstream-retry 1 --upstream-timeout 1|--upstream-retry needs --upstream" \
    "--upstream 127.0.0.1:9 --upstream 127.0.0.1:9|--upstream 127.0.0.1:9 given twice"
do
    # shellcheck disable=SC2086
    timeout --foreground -k 5 10 "$GW" ${args%%|*} --port-file "$TMP/never" \
        127.0.0.1 0 >/dev/null 2>"$TMP/usage.err"
    st=$?
    want="hframe-gateway: ${args#*|}"
    if [ "$st" -eq 2 ] && [ "$(head -n 1 "$TMP/usage.err")" = "$want" ]; then
        ok "usage error: $want"
    else
        fail "usage error: $want (exit $st)"
        sed 's/^/        /' "$TMP/usage.err"
    fi
done

# The same upstream written two ways is one server counted twice.
timeout --foreground -k 5 10 "$GW" --upstream 127.0.0.1:9 \
    --upstream 127.0.0.1:09 127.0.0.1 0 2>"$TMP/same.err"
st=$?
if [ "$st" -eq 2 ] && grep -q '127.0.0.1:9 and --upstream 127.0.0.1:09 are the same address' "$TMP/same.err"; then
    ok "the same upstream written two ways: exit 2, both named"
else
    fail "the same upstream written two ways (exit $st)"
    sed 's/^/        /' "$TMP/same.err"
fi

# A relay pointed at itself would fill every slot with its own requests:
# refused at start-up, on a given address as on every address.
self_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
for lhost in 127.0.0.1 ""; do
    timeout --foreground -k 5 10 "$GW" --upstream "127.0.0.1:$self_port" \
        "$lhost" "$self_port" 2>"$TMP/self.err"
    st=$?
    if [ "$st" -eq 2 ] && grep -q 'cannot relay to itself' "$TMP/self.err"
    then
        ok "relay to itself refused (listening on '$lhost')"
    else
        fail "relay to itself refused (listening on '$lhost', exit $st)"
        sed 's/^/        /' "$TMP/self.err"
    fi
done

# ------------------------------------------------ in front of a gateway
# "up" is the relay's upstream, "ref" an identical gateway queried
# directly, so that "up" sees only what the relay passes on.
start up --log-level info || exit 1
UP_PID=$GW_PID
UP_PORT=$GW_PORT
start ref --log-level warn || exit 1
REF_PID=$GW_PID
REF_PORT=$GW_PORT
start relay --log-level info --upstream "127.0.0.1:$UP_PORT" || exit 1
R_PID=$GW_PID
R_PORT=$GW_PORT
kill -HUP "$R_PID"
logged relay 'SIGHUP: a relay has no index to reload' \
    "SIGHUP to a relay: it says there is no index to reload"

rclient "answers byte for byte those of the gateway itself" same "$REF_PORT" \
    "$R_PORT"
for args in "search morpheus" "search $(printf '\360\237\220\266')" \
    "search neo" "--binary find x" "binary x"; do
    # shellcheck disable=SC2086
    timeout --foreground -k 5 30 "$HFRAME" request --frame 127.0.0.1 \
        "$REF_PORT" $args >"$TMP/direct.bin" 2>"$TMP/direct.err"
    s1=$?
    # shellcheck disable=SC2086
    timeout --foreground -k 5 30 "$HFRAME" request --frame 127.0.0.1 \
        "$R_PORT" $args >"$TMP/relayed.bin" 2>"$TMP/relayed.err"
    s2=$?
    if [ "$s1" -eq "$s2" ] && [ -s "$TMP/direct.bin" ] &&
        cmp -s "$TMP/direct.bin" "$TMP/relayed.bin"; then
        ok "hframe request --frame $args: same frame (exit $s2)"
    else
        fail "hframe request --frame $args: exit $s1/$s2"
        cat "$TMP/direct.err" "$TMP/relayed.err" | sed 's/^/        /'
    fi
done
gwc "tutorial exchanges byte for byte" "$R_PORT" tutorial
gwc "index entries, dog emoji, miss, invalid action" "$R_PORT" index
gwc "content-length 0" "$R_PORT" empty
gwc "one byte at a time" "$R_PORT" onebyte
gwc "300 pipelined requests" "$R_PORT" pipeline 300
gwc "each bad input while others are served" "$R_PORT" badinput
gwc "16 clients x 50 requests" "$R_PORT" concurrent 16 50
gwc "64 clients pipelining 16 requests of random sizes, each answer checked" \
    "$R_PORT" pipeclients 64 3 16
rclient "half-closed client gets its answers" halfclose "$R_PORT"
bench "16 MiB binary request, answered" -n 2 -c 1 --action binary \
    --size 16777216 127.0.0.1 "$R_PORT"
usr1_stats relay "$R_PID"
logged relay "notice: stats .* $RELAY_STATS upstream_errors=" \
    "SIGUSR1: stats with req_relayed and upstream_connects"
logged relay 'access peer=127[.]0[.]0[.]1:[0-9]* type="text/json" action="search" value="morpheus" .* status=ok .*upstream=127[.]0[.]0[.]1:[0-9]* up_us=[0-9]*' \
    "relayed search in the access log: action, value, upstream, its time"
logged relay 'type="text/json" action="find" value="x" .* status=ok' \
    "relayed invalid action: read from the request passed on"
logged relay 'type="binary/[^"]*" action="" value="" .* status=ok' \
    "relayed binary request: no action or value"
logged relay ' err\.duplicate-key=[1-9]' "refused frames counted"

# ------------------------------------------------ reference peer
# It closes after every answer: each request needs a new upstream
# connection (a kept one is found closed and the request sent again).
if peer refpeer reference --count 100000 &&
    start rref --upstream "127.0.0.1:$PEER_PORT"; then
    rclient "reference peer: 24 requests on one connection" sequence \
        "$GW_PORT" 24
    gwc "reference peer: 60 pipelined requests" "$GW_PORT" pipeline 60
    gwc "reference peer: 8 clients pipelining 16, side by side" \
        "$GW_PORT" pipeclients 8 2 16
    gwc "reference peer: index entries" "$GW_PORT" index
    usr1_stats rref "$GW_PID"
    n=$(counter rref upstream_connects)
    r=$(counter rref req_relayed)
    check "reference peer: a connection per request ($r, ${n:-?} connects)" \
        [ "${n:-0}" -ge "${r:-1}" ]
    stop rref "$GW_PID"
    kill -9 "$PEER_PID" 2>/dev/null
fi

# ------------------------------------------------ keepalive peer
if peer keeppeer keepalive --count 1000 &&
    start rkeep --upstream "127.0.0.1:$PEER_PORT"; then
    rclient "keepalive peer: 40 requests on one connection" sequence \
        "$GW_PORT" 40
    usr1_stats rkeep "$GW_PID"
    n=$(counter rkeep upstream_connects)
    r=$(counter rkeep req_relayed)
    check "keepalive peer: one upstream connection ($r, ${n:-?} connects)" \
        [ "${r:-0}/${n:-0}" = 40/1 ]
    gwc "keepalive peer: 100 pipelined requests" "$GW_PORT" pipeline 100
    gwc "keepalive peer: index entries" "$GW_PORT" index
    stop rkeep "$GW_PID"
    kill -9 "$PEER_PID" 2>/dev/null
fi

# ------------------------------------------------ byte for byte upstream
# The echo peer answers with the request frame it got: odd headers reach
# the upstream unchanged, and a 2 MiB frame streams both ways through
# 4 KiB of output buffer.
if peer echopeer echo --count 1000 &&
    start recho --max-output 4096 --upstream "127.0.0.1:$PEER_PORT"; then
    rclient "requests reach the upstream byte for byte" echo "$GW_PORT" 2097152
    stop recho "$GW_PID"
    kill -9 "$PEER_PID" 2>/dev/null
fi

# ------------------------------------------------ pipelined upstream
# Few upstream connections, many requests in flight on each: every
# client's answers in its order, whichever connection carried them.
if start rpipe --upstream-pipeline 8 --upstream-conns 2 \
    --upstream "127.0.0.1:$UP_PORT"; then
    gwc "--upstream-pipeline 8, 2 connections: 32 clients pipelining 16" \
        "$GW_PORT" pipeclients 32 3 16
    gwc "--upstream-pipeline 8: 300 pipelined requests" "$GW_PORT" \
        pipeline 300
    usr1_stats rpipe "$GW_PID"
    n=$(counter rpipe upstream_connects)
    check "--upstream-pipeline 8: at most 2 connections (${n:-?} connects)" \
        [ "${n:-9}" -le 2 ]
    stop rpipe "$GW_PID"
fi

# ------------------------------------------------ output cap of 1 byte
# Every frame's last byte fills the output: its end must still be seen
# (a request would otherwise stay open, an answer never complete).
if start rcap --max-output 1 --upstream-timeout 1 --request-timeout 1 \
    --upstream "127.0.0.1:$UP_PORT"; then
    bench "--max-output 1: 200 requests on one connection" -n 200 -c 1 \
        127.0.0.1 "$GW_PORT"
    gwc "--max-output 1: 50 pipelined requests" "$GW_PORT" pipeline 50
    rclient "--max-output 1: 3 requests 1.5 s apart" sequence "$GW_PORT" 3 1.5
    stop rcap "$GW_PID"
fi

# ------------------------------------------------ kept connections closed
# A gateway upstream that closes idle connections after 0.3 s: the kept
# connection is found closed and the request goes out on a new one.
if start upidle --idle-timeout 0.3 && UI_PID=$GW_PID &&
    start ridle --upstream "127.0.0.1:$GW_PORT"; then
    rclient "upstream closes idle kept connections: 4 requests 0.6 s apart" \
        sequence "$GW_PORT" 4 0.6
    usr1_stats ridle "$GW_PID"
    n=$(counter ridle upstream_connects)
    check "a new upstream connection per request (${n:-?} connects)" \
        [ "${n:-0}" -ge 4 ]
    stop ridle "$GW_PID"
    stop upidle "$UI_PID"
fi

# ------------------------------------------------ PROXY protocol
# A relay that names its clients (--upstream-proxy-protocol) in front of
# a gateway that reads PROXY headers (--proxy-protocol): the gateway logs
# the client's own address, not the relay's. A client that talks to that
# gateway directly, without a header, gets bad-proxy-header.
if start pxup --proxy-protocol --log-level info && PX_PID=$GW_PID &&
    PX_PORT=$GW_PORT &&
    start pxrelay --log-level info --upstream-proxy-protocol \
        --upstream "127.0.0.1:$PX_PORT"; then
    out=$(timeout --foreground -k 5 30 "$HFRAME" request 127.0.0.1 \
        "$GW_PORT" search ring 2>&1)
    check "answer through a relay that sends PROXY headers" \
        [ "$out" = "$(printf 'In the caves beneath the Misty Mountains. \360\237\222\215')" ]
    logged pxup 'access peer=' "the gateway behind it logged the request"
    p_relay=$(sed -n 's/.*access peer=\([^ ]*\) .*/\1/p' \
        "$TMP/pxrelay.log" | head -n 1)
    p_up=$(sed -n 's/.*access peer=\([^ ]*\) .*/\1/p' "$TMP/pxup.log" |
        head -n 1)
    check "it logged the client's address (${p_up:-none}), as the relay did" \
        [ "${p_relay:-x}" = "${p_up:-y}" ]
    out=$(timeout --foreground -k 5 30 "$HFRAME" request --frame \
        127.0.0.1 "$PX_PORT" search ring 2>&1)
    case $out in
    *'"error": "bad-proxy-header"'*) ok "no PROXY header: bad-proxy-header" ;;
    *) fail "no PROXY header: bad-proxy-header (got: $out)" ;;
    esac
    stop pxrelay "$GW_PID"
    # A relay that reads PROXY headers itself: one cut short by the
    # client's EOF gets bad-proxy-header.
    if start pxpass --proxy-protocol --upstream-proxy-protocol \
        --upstream "127.0.0.1:$PX_PORT"; then
        gwc "PROXY header cut short by EOF: bad-proxy-header" "$GW_PORT" \
            proxycut
        # Headers without an address (UNKNOWN, LOCAL, a Unix socket),
        # sent from 127.0.0.2: the gateway behind is told LOCAL, so it
        # logs the relay's own connection (127.0.0.1), never the
        # address the headers came from.
        n=$(grep -c 'access peer=' "$TMP/pxup.log")
        gwc "PROXY headers without an address are answered" "$GW_PORT" \
            proxynoaddr 127.0.0.2
        i=0
        while [ "$(grep -c 'access peer=' "$TMP/pxup.log")" -lt $((n + 3)) ] &&
            [ "$i" -lt 50 ]; do
            sleep 0.1
            i=$((i + 1))
        done
        check "the gateway behind logged all three" \
            [ "$(grep -c 'access peer=' "$TMP/pxup.log")" -ge $((n + 3)) ]
        if grep -q 'access peer=127[.]0[.]0[.]2:' "$TMP/pxup.log"; then
            fail "it was told the client's address (127.0.0.2), not LOCAL"
        else
            ok "it was told LOCAL, not the client's address (127.0.0.2)"
        fi
        stop pxpass "$GW_PID"
    fi
    # Each client has a private upstream connection: at --upstream-conns
    # an idle one makes way, so no request waits behind it.
    if start pxconns --proxy-protocol --upstream-proxy-protocol \
        --upstream-conns 1 --upstream-timeout 2 \
        --upstream "127.0.0.1:$PX_PORT"; then
        gwc "--upstream-conns 1: 3 clients keeping their connections" \
            "$GW_PORT" proxykeepers 3
        stop pxconns "$GW_PID"
    fi
    stop pxup "$PX_PID"
fi

# ------------------------------------------------ faults
# One relay in front of a peer whose faults a search value picks, while
# hframe bench keeps healthy requests flowing through the same relay.
if peer faultpeer by-value --count 100000 &&
    start rfault --log-level info --upstream-timeout 1 \
        --upstream-fails 1000000 --upstream "127.0.0.1:$PEER_PORT"; then
    RF_PID=$GW_PID
    RF_PORT=$GW_PORT
    timeout --foreground -k 5 120 "$HFRAME" bench -d 6 -c 2 127.0.0.1 \
        "$RF_PORT" >"$TMP/steady.out" 2>&1 &
    steady=$!
    PIDS="$PIDS $steady"
    rclient "silent upstream: upstream-timeout, connection kept" fault \
        "$RF_PORT" silent upstream-timeout 1
    rclient "upstream closes: upstream-failed, connection kept" fault \
        "$RF_PORT" close upstream-failed
    rclient "invalid answer: upstream-bad-frame, connection kept" fault \
        "$RF_PORT" garbage upstream-bad-frame
    rclient "half a header, then close: upstream-failed" broken "$RF_PORT" \
        truncated upstream-failed
    rclient "header and half the content, then close: client closed" broken \
        "$RF_PORT" cut closed
    rclient "header and half the content, then reset" broken "$RF_PORT" reset \
        closed,upstream-failed
    rclient "upstream answers twice: one answer, next request its own" double \
        "$RF_PORT"
    logged rfault "info: close peer=.* reason=upstream-error" \
        "a client closed inside a cut answer is logged at info"
    for why in timeout bad-frame stray; do
        logged rfault "info: upstream 127[.]0[.]0[.]1:$PEER_PORT: connection closed ($why)" \
            "an upstream connection closed for $why is logged at info"
    done

    # A request the upstream closes on without answering (the reference
    # server does so with content it cannot parse) fails alone: at the
    # default --upstream-fails 1 the upstream stays up for the next one.
    if start rpoison --log-level info --upstream "127.0.0.1:$PEER_PORT"
    then
        rclient "upstream closes on one request: upstream-failed" fault \
            "$GW_PORT" close upstream-failed
        bench "upstream closes on one request: the next ones answered" \
            -n 20 -c 1 127.0.0.1 "$GW_PORT"
        stop rpoison "$GW_PID"
        check "upstream closes on one request: not marked down" \
            [ "$(grep -c ' down (' "$TMP/rpoison.log")" -eq 0 ]
    fi

    # Two upstreams, one refusing: every request is answered (concurrent
    # clients: see "retries and slow readers" at the end).
    if start rtwo --upstream "127.0.0.1:$(closed_port)" \
        --upstream "127.0.0.1:$UP_PORT"; then
        bench "one of two upstreams refuses: 300 new connections answered" \
            -n 300 -c 1 --new-connection 127.0.0.1 "$GW_PORT"
        rclient "one of two upstreams refuses: 20 requests on one connection" \
            sequence "$GW_PORT" 20
        logged rtwo 'connect: Connection refused' "refused connect logged"
        stop rtwo "$GW_PID"
    fi

    # No upstream listens: upstream-unavailable until one does.
    late=$(closed_port)
    if start runav --upstream "127.0.0.1:$late"; then
        RU_PID=$GW_PID
        : >"$TMP/unavail.out"
        timeout --foreground -k 5 60 python3 "$RCLIENT" unavailable \
            "$GW_PORT" 30 >"$TMP/unavail.out" 2>&1 &
        uc=$!
        PIDS="$PIDS $uc"
        i=0
        while ! grep -q '^unavailable$' "$TMP/unavail.out" &&
            kill -0 "$uc" 2>/dev/null && [ "$i" -lt 100 ]; do
            sleep 0.1
            i=$((i + 1))
        done
        GW_LPORT=$late
        start late || true
        unset GW_LPORT
        wait_exit "$uc" 60
        if [ "$RC" -eq 0 ]; then
            ok "no upstream: upstream-unavailable; answered once one listens"
        else
            fail "no upstream: upstream-unavailable (exit $RC)"
            sed 's/^/        /' "$TMP/unavail.out"
        fi
        stop late "$GW_PID"
        stop runav "$RU_PID"
    fi

    wait_exit "$steady" 60
    got=$(sed -n 's/^ *requests *//p' "$TMP/steady.out" | head -n 1)
    if [ "$RC" -eq 0 ] && grep -q "$NO_ERRORS" "$TMP/steady.out"; then
        ok "healthy requests beside the faults all answered ($got)"
    else
        fail "healthy requests through the faulty relay (exit $RC)"
        sed 's/^/        /' "$TMP/steady.out"
    fi
    stop rfault "$RF_PID"
    logged rfault "notice: stats .* $RELAY_STATS upstream_errors=[1-9]" \
        "faults counted in the stats at exit"
    kill -9 "$PEER_PID" 2>/dev/null
fi

# ------------------------------------------------ 5,000 clients
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 11000 ]; then
    note "skip 5000 connections: ulimit -n is $(ulimit -n)"
elif start r5k --log-level warn --upstream "127.0.0.1:$UP_PORT"; then
    gwc "5000 clients at once through the relay, every one served" \
        "$GW_PORT" many 5000 1
    stop r5k "$GW_PID"
fi

# ------------------------------------------------ out of descriptors
# A relay out of descriptors refuses the clients it cannot hold (busy)
# and fails the requests it has no socket for (upstream-unavailable), but
# the upstream is not to blame: it is not marked down, so once the crowd
# is gone the next request is served at once (sc_many's last exchange).
(
    ulimit -n 40 || exit 1
    exec "$GW" --port-file "$TMP/remfile.port" --max-conns 1000 \
        --upstream-fails 1 --upstream-retry 30s \
        --upstream "127.0.0.1:$UP_PORT" 127.0.0.1 0
) 2>"$TMP/remfile.log" &
RE_PID=$!
PIDS="$PIDS $RE_PID"
if wait_started remfile "$RE_PID" gateway test -s "$TMP/remfile.port"; then
    gwc "relay out of descriptors (ulimit -n 40, 60 clients): served after" \
        "$(cat "$TMP/remfile.port")" many 60
    logged remfile 'connect: Too many open files' \
        "relay out of descriptors: the failed connects are logged"
    if grep -q 'upstream .* down' "$TMP/remfile.log"; then
        fail "relay out of descriptors: the upstream was marked down"
    else
        ok "relay out of descriptors: the upstream stays up"
    fi
    stop remfile "$RE_PID"
fi

# ------------------------------------------------ workers, SIGTERM
if start rwork --workers 2 --upstream "127.0.0.1:$UP_PORT"; then
    gwc "two workers relay: 8 clients x 50 requests" "$GW_PORT" \
        concurrent 8 50
    stop rwork "$GW_PID"
fi

: >"$TMP/hold.out"
timeout --foreground -k 5 30 python3 "$RCLIENT" drain "$R_PORT" 1 \
    >"$TMP/hold.out" 2>&1 &
hold=$!
PIDS="$PIDS $hold"
wait_ready "$TMP/hold.out"
kill -TERM "$R_PID"
wait_exit "$hold" 20
if [ "$RC" -eq 0 ]; then ok "SIGTERM: request in flight is relayed"; else
    fail "SIGTERM: request in flight is relayed"
    sed 's/^/        /' "$TMP/hold.out"
    tail -5 "$TMP/relay.log" | sed 's/^/        /'
fi
wait_exit "$R_PID" 15
check "relay exits 0 after SIGTERM" [ "$RC" -eq 0 ]
n=$(grep -c "notice: stats .* $RELAY_STATS" "$TMP/relay.log")
check "stats at exit with req_relayed and upstream_connects" [ "$n" -ge 2 ]
stop up "$UP_PID"
stop ref "$REF_PID"
check "refused frames never reached the upstream" \
    [ "$(counter up req_frame_error)" = 0 ]

# ------------------------------------------------ retries and slow readers
#  1. A request's retries go to every upstream, whatever other clients do
#     meanwhile: with one of two upstreams refusing, concurrent new
#     connections all get answers.
#  2. --upstream-timeout does not run while the relay stops reading the
#     upstream because the client does not read: a client that pauses
#     reading a large answer gets all of it.
if start up2; then
    UP_PID=$GW_PID
    UP_PORT=$GW_PORT
    if start retry --upstream "127.0.0.1:$(closed_port)" \
        --upstream "127.0.0.1:$UP_PORT"; then
        bench "one of two upstreams refuses, 4 clients" \
            -n 1000 -c 4 --new-connection 127.0.0.1 "$GW_PORT"
        stop retry "$GW_PID"
    fi
    if peer echo2 echo --count 10 &&
        start slowread --upstream-timeout 1 --upstream "127.0.0.1:$PEER_PORT"
    then
        rclient "a client pausing 3 s while reading an 8 MB answer" \
            slowreader "$GW_PORT" 8000000 3
        stop slowread "$GW_PID"
        kill -9 "$PEER_PID" 2>/dev/null
    fi
    # Nor while the relay waits for the rest of a request whose first
    # bytes have all gone out.
    if start slowsend --upstream-timeout 1 --upstream "127.0.0.1:$UP_PORT"
    then
        gwc "a client pausing 2 s inside its request, --upstream-timeout 1" \
            "$GW_PORT" slowsend 2
        stop slowsend "$GW_PID"
    fi
    stop up2 "$UP_PID"
fi

# ------------------------------------------------ slow upstream, big upload
# slow_upload NAME PATTERN OPTIONS...: a relay started with OPTIONS in
# front of an upstream that reads 2 MB a second passes an 8 MiB upload
# and answers it, and its log never matches PATTERN.
slow_upload() {
    su_name=$1
    su_never=$2
    shift 2
    if peer "$su_name-peer" slowread --count 10 --rate 2000000 &&
        start "$su_name" --log-level info "$@" \
            --upstream "127.0.0.1:$PEER_PORT"; then
        bench "8 MiB upload read at 2 MB/s, $*" \
            -n 1 -c 1 --action binary --size 8388608 127.0.0.1 "$GW_PORT"
        stop "$su_name" "$GW_PID"
        check "$su_name: nothing in the log matches $su_never" \
            [ "$(grep -c -- "$su_never" "$TMP/$su_name.log")" -eq 0 ]
        kill -9 "$PEER_PID" 2>/dev/null
    fi
}
# The relay stops reading the client while the request waits to go out,
# and the request clock stands meanwhile, so an upload that takes several
# request timeouts to read is answered, not cut.
slow_upload rslow 'reason=request-timeout' --request-timeout 1 \
    --upstream-timeout 5
# The upstream clock sees the upstream read what the kernel holds: the
# upload spends seconds in the socket buffers after the relay's last
# write, each longer than --upstream-timeout 1.
slow_upload rqueue 'upstream-timeout' --upstream-timeout 1

# ------------------------------------------------ health
# up_item NAME PORT FIELD: FIELD (req, fail, ...) of upstream
# 127.0.0.1:PORT in the last stats line of the log NAME.
up_item() {
    grep 'notice: stats ' "$TMP/$1.log" | tail -n 1 |
        sed -n "s/.* up[.]127[.]0[.]0[.]1:$2=[^ ]*[,=]$3:\([0-9]*\).*/\1/p"
}

# Milliseconds since the epoch.
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# An upstream killed while clients pipeline through a relay that
# pipelines to it: each answer is its request's own or an error frame in
# its place, the connections cut inside an answer aside; every request
# sent after the kill is answered by the other upstream.
start hB || exit 1
HB_PID=$GW_PID
HB_PORT=$GW_PORT
if start hA && HA_PID=$GW_PID && HA_PORT=$GW_PORT &&
    start rkill --log-level info --upstream-pipeline 8 \
        --upstream "127.0.0.1:$HA_PORT" --upstream "127.0.0.1:$HB_PORT"; then
    RK_PID=$GW_PID
    : >"$TMP/upkill.out"
    timeout --foreground -k 5 60 python3 "$RCLIENT" upkill "$GW_PORT" 8 \
        "$TMP/killed" 1.5 >"$TMP/upkill.out" 2>&1 &
    uk=$!
    PIDS="$PIDS $uk"
    wait_ready "$TMP/upkill.out"
    sleep 0.5
    kill -9 "$HA_PID"
    wait "$HA_PID" 2>/dev/null
    : >"$TMP/killed"
    wait_exit "$uk" 60
    if [ "$RC" -eq 0 ]; then
        ok "upstream killed mid-pipeline, 8 clients: $(tail -n 1 \
            "$TMP/upkill.out")"
    else
        fail "upstream killed mid-pipeline, 8 clients (exit $RC)"
        sed 's/^/        /' "$TMP/upkill.out"
    fi
    n=$(grep -c "access .* upstream=127[.]0[.]0[.]1:$HA_PORT " \
        "$TMP/rkill.log")
    check "the killed upstream had answered before ($n answers)" [ "$n" -ge 1 ]
    logged rkill "warn: upstream 127[.]0[.]0[.]1:$HA_PORT down (" \
        "the killed upstream logged down"
    stop rkill "$RK_PID"
fi

# eject NAME PERIOD OPTIONS...: a relay started with OPTIONS in front of
# a refusing upstream D and the gateway B answers 200 requests, each
# within 1 s (the connect timeout is 2 s), all of them from B, while
# at most one connect a PERIOD milliseconds (and one more for the
# rounding) reaches D; then a gateway listens on D's port. Sets D_PORT,
# D_PID (that gateway), E_PID and E_PORT (the relay, left running).
eject() {
    e_name=$1
    e_period=$2
    shift 2
    D_PORT=$(closed_port)
    start "$e_name" --log-level info "$@" --upstream "127.0.0.1:$D_PORT" \
        --upstream "127.0.0.1:$HB_PORT" || return 1
    E_PID=$GW_PID
    E_PORT=$GW_PORT
    e_t0=$(now_ms)
    rclient "$*, one upstream refusing: 200 requests" sequence "$E_PORT" \
        200 0.005 1
    usr1_stats "$e_name" "$E_PID"
    e_ms=$(($(now_ms) - e_t0))
    e_fails=$(up_item "$e_name" "$D_PORT" fail)
    e_label="$*: ${e_fails:-?} connects in $e_ms ms reached the refusing one"
    if [ "${e_fails:-0}" -ge 1 ] &&
        [ "$e_fails" -le $((e_ms / e_period + 2)) ]; then
        ok "$e_label"
    else
        fail "$e_label"
    fi
    check "$*: the other one answered all 200" \
        [ "$(up_item "$e_name" "$HB_PORT" req)" = 200 ]
    GW_LPORT=$D_PORT
    start "$e_name-d" || return 1
    unset GW_LPORT
    D_PID=$GW_PID
}

# back NAME: after the "up" line in the log NAME, requests reach D again.
back() {
    rclient "$1: D back, 20 requests" sequence "$E_PORT" 20
    usr1_stats "$1" "$E_PID"
    b_req=$(up_item "$1" "$D_PORT" req)
    check "$1: D back, it answered some (${b_req:-?})" [ "${b_req:-0}" -ge 1 ]
    logged "$1" "access .* upstream=127[.]0[.]0[.]1:$D_PORT " \
        "$1: D back, named in the access log"
}

# A state change is logged once: one "down" line for D, however many
# tries and probes found it still down.
downs() {
    n=$(grep -c "warn: upstream 127[.]0[.]0[.]1:$D_PORT down (" "$TMP/$1.log")
    check "$1: D logged down once ($n lines)" [ "$n" -eq 1 ]
}

# Requests try D again when its time down is up: the first answer marks
# it up. Its time down doubles with each failed try (1 s, 2 s, 4 s):
# requests go on until D is back in, 12 s at most.
if eject rretry 1000 --upstream-retry 1s; then
    i=0
    while ! grep -q "upstream 127[.]0[.]0[.]1:$D_PORT up$" "$TMP/rretry.log" &&
        [ "$i" -lt 24 ]; do
        timeout --foreground -k 5 30 python3 "$RCLIENT" sequence "$E_PORT" \
            5 0.1 >/dev/null 2>&1
        i=$((i + 1))
    done
    logged rretry "upstream 127[.]0[.]0[.]1:$D_PORT up$" \
        "--upstream-retry 1s: D back on its port, logged up"
    back rretry
    downs rretry
    stop rretry "$E_PID"
    stop rretry-d "$D_PID"
fi

# The active check marks D up once it answers, before any request goes
# to it (its time down, 30 s, is far from over).
if eject rcheck 200 --upstream-check 200ms --upstream-retry 30s; then
    logged rcheck "upstream 127[.]0[.]0[.]1:$D_PORT up$" \
        "--upstream-check 200ms: D back on its port, logged up"
    up_line=$(grep -n "upstream 127[.]0[.]0[.]1:$D_PORT up$" \
        "$TMP/rcheck.log" | head -n 1 | cut -d: -f1)
    back rcheck
    first=$(grep -n "access .* upstream=127[.]0[.]0[.]1:$D_PORT " \
        "$TMP/rcheck.log" | head -n 1 | cut -d: -f1)
    check "--upstream-check: D up (line ${up_line:-?}) before any request \
went to it (line ${first:-?})" [ "${up_line:-9999999}" -lt "${first:-0}" ]
    downs rcheck
    # The probes that found D still down are not logged at info: only
    # the one request's connect that took it down is.
    n=$(grep -c "info: upstream 127[.]0[.]0[.]1:$D_PORT: connect" \
        "$TMP/rcheck.log")
    check "--upstream-check: failed probes not logged at info ($n lines)" \
        [ "$n" -eq 1 ]
    stop rcheck "$E_PID"
    stop rcheck-d "$D_PID"
fi
stop hB "$HB_PID"

# A sanitizer build aborts on a report; a report from a process that
# was not waited for would still be in its log.
if grep -l -E 'Sanitizer|runtime error:' "$TMP"/*.log >"$TMP/san.out" 2>&1
then
    fail "sanitizer reports in: $(sed "s|$TMP/||" "$TMP/san.out" |
        tr '\n' ' ')"
else
    ok "no sanitizer report in any log"
fi

note "ran for $(($(date +%s) - T0)) s"
e2e_summary e2e_relay
