#!/bin/sh
# e2e_haproxy.sh - Debian's haproxy, run with docs/examples/haproxy.cfg
# (its addresses replaced by loopback ports), in front of two gateways
# started with --proxy-protocol: requests spread over both, both log the
# real client's address, once HAProxy's check has marked a killed
# gateway down no request is lost, and a gateway stopped with SIGTERM
# drains without losing one. Skipped when haproxy is not installed.
#
# Run as: HF_BUILD=<outdir> sh tests/e2e_haproxy.sh
# Loopback only, ephemeral ports, every process killed on exit, every
# wait bounded. Exit status 0 when all checks passed.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e_lib.sh
. "$HERE/e2e_lib.sh"
: "${HF_BUILD:=build}"
GW="$HF_BUILD/hframe-gateway"
CLIENT="$HERE/gw_client.py"
TOP=$(cd "$HERE/.." && pwd)
e2e_setup e2e_haproxy

if ! command -v haproxy >/dev/null 2>&1; then
    note "skip: haproxy is not installed (apt-get install haproxy)"
    e2e_summary e2e_haproxy
    exit
fi

start gw1 --proxy-protocol --log-level debug || exit 1
GW1_PID=$GW_PID
GW1_PORT=$GW_PORT
start gw2 --proxy-protocol --log-level debug || exit 1
GW2_PID=$GW_PID
GW2_PORT=$GW_PORT

# A free port for the frontend (loopback; taken again at once).
FRONT=$(python3 -c 'import socket; s = socket.socket(); \
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# A maxconn the test's descriptor limit allows.
sed -e "s/127.0.0.1:65432/127.0.0.1:$FRONT/" \
    -e "s/maxconn [0-9]*/maxconn 1000/" \
    -e "s/10.0.0.11:65432/127.0.0.1:$GW1_PORT/" \
    -e "s/10.0.0.12:65432/127.0.0.1:$GW2_PORT/" \
    "$TOP/docs/examples/haproxy.cfg" >"$TMP/haproxy.cfg"
check "haproxy -c accepts the example" \
    haproxy -q -c -f "$TMP/haproxy.cfg"
haproxy -db -f "$TMP/haproxy.cfg" >"$TMP/haproxy.log" 2>&1 &
HA_PID=$!
PIDS="$PIDS $HA_PID"
wait_started haproxy "$HA_PID" haproxy python3 -c "import socket; \
socket.create_connection(('127.0.0.1', $FRONT), 1).close()" || exit 1

# Both gateways up in HAProxy's eyes: their checks were answered.
LOG_WAIT=10 logged gw1 'access .*action="search"' "gw1 answers HAProxy's check"
LOG_WAIT=10 logged gw2 'access .*action="search"' "gw2 answers HAProxy's check"
sleep 1.5   # rise 2 at 500 ms

gwc "64 clients x 20 requests through haproxy" "$FRONT" concurrent 64 20
# Requests spread: both gateways served clients that HAProxy's PROXY
# header named (the proxy's own address is the "via").
check "gw1 served clients named by the PROXY header" \
    grep -q 'proxy peer=127.0.0.1:[0-9]* via=' "$TMP/gw1.log"
check "gw2 served clients named by the PROXY header" \
    grep -q 'proxy peer=127.0.0.1:[0-9]* via=' "$TMP/gw2.log"
check "the logged peer is the client, not HAProxy" \
    awk '/proxy peer=/ { split($0, a, "peer="); split(a[2], b, " via=");
         if (b[1] == b[2]) bad = 1; n++ } END { exit bad || n == 0 }' \
        "$TMP/gw1.log" "$TMP/gw2.log"

# gw1 dies; once the check marked it down (fall 2 at 500 ms), no request
# goes to it.
kill -9 "$GW1_PID"
wait "$GW1_PID" 2>/dev/null
sleep 2
gwc "gw1 killed and marked down: 32 clients x 20 requests, none lost" \
    "$FRONT" concurrent 32 20

# gw1 again on its port, in use once HAProxy's check has seen it (rise 2
# at 500 ms).
GW_LPORT=$GW1_PORT start gw1b --proxy-protocol --log-level debug || exit 1
GW1_PID=$GW_PID
LOG_WAIT=10 logged gw1b 'access .*action="search"' "gw1 started again \
answers HAProxy's check"
sleep 1.5

# gw2 stopped with SIGTERM under steady load: it answers what it has
# read, closes its idle connections and stops accepting; HAProxy sends
# the clients that come again to gw1. Every request is answered, and
# correctly (one whose connection closed before its answer began is
# sent again: gw2 had not read it). Two requests sent slowly, whose
# last bytes come after the SIGTERM, are on the two gateways (HAProxy's
# leastconn puts the second where the first is not): gw2 must wait for
# its own and answer it.
# Access lines from here on are the load's and the slow requests' (and
# the checks', which search only); the load's binary requests are
# short (in= three digits), the slow ones a kilobyte.
gw1_from=$(($(wc -l <"$TMP/gw1b.log") + 1))
gw2_from=$(($(wc -l <"$TMP/gw2.log") + 1))
timeout --foreground -k 5 60 python3 "$CLIENT" "$FRONT" steady 16 5 \
    >"$TMP/steady.out" 2>&1 &
steady=$!
wait_ready "$TMP/steady.out"
slow=""
for n in 1 2; do
    timeout --foreground -k 5 60 python3 "$CLIENT" "$FRONT" slowsend 2 \
        >"$TMP/slow$n.out" 2>&1 &
    slow="$slow $!"
    sleep 0.3
done
sleep 0.7
kill -TERM "$GW2_PID"
for p in $slow; do
    wait_exit "$p" 30
    check "a request sent slowly across the SIGTERM is answered" \
        [ "$RC" -eq 0 ]
done
wait_exit "$GW2_PID" 15
check "gw2 drained and exited 0 under load" [ "$RC" -eq 0 ]
wait_exit "$steady" 30
if [ "$RC" -eq 0 ]; then
    ok "gw2 stopped with SIGTERM: every request answered correctly \
($(tail -2 "$TMP/steady.out" | head -1))"
else
    fail "gw2 stopped with SIGTERM: every request answered correctly"
    sed 's/^/        /' "$TMP/steady.out"
fi
check "gw2 had clients of the steady load when it was stopped" \
    grep -q 'close peer=.*reason=shutdown' "$TMP/gw2.log"
# Where HAProxy put the slow requests depends on the load's connections
# at that moment: both answered, by whichever gateway held each (gw2
# answering the one it held across its SIGTERM when it had one).
slow_answered=$({ tail -n "+$gw1_from" "$TMP/gw1b.log"
    tail -n "+$gw2_from" "$TMP/gw2.log"; } |
    grep -c 'access .*type="binary/.* in=[0-9]\{4\} .*status=ok')
check "both slow requests answered, $(tail -n "+$gw2_from" "$TMP/gw2.log" |
    grep -c 'access .*type="binary/.* in=[0-9]\{4\} .*status=ok') of \
them by gw2 as it stopped" [ "$slow_answered" -eq 2 ]
# No answer the gateways queued went missing: the load's binary
# requests they logged are the ones its clients were answered.
logged_binary=$({ tail -n "+$gw1_from" "$TMP/gw1b.log"
    tail -n "+$gw2_from" "$TMP/gw2.log"; } |
    grep -c 'access .*type="binary/.* in=[0-9]\{3\} ')
answered_binary=$(sed -n 's/^binary answers: //p' "$TMP/steady.out")
check "every answer the gateways logged reached its client \
($logged_binary binary)" [ "$logged_binary" = "$answered_binary" ]

kill -TERM "$HA_PID"
wait_exit "$HA_PID" 10
stop gw1b "$GW1_PID"
e2e_summary e2e_haproxy
