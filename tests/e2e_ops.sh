#!/bin/sh
# e2e_ops.sh - end-to-end tests of how hframe-gateway runs as a service:
# the systemd units, readiness notification and socket activation
# (tests/sd_harness.py plays systemd); log lines in JSON and for the
# journal (tests/log_check.py); --user and --group (as root only);
# --metrics (tests/metrics_check.py, with promtool when installed):
# counts summed over workers, also over one killed, histograms, /health
# while draining, bad addresses.
#
# Run as: HF_BUILD=<outdir> sh tests/e2e_ops.sh
# Every socket is on loopback with an ephemeral port; every process
# started here is killed on exit; every wait is bounded. Exit status 0
# when all checks passed.
set -u
: "${HF_BUILD:=build}"
GW="$HF_BUILD/hframe-gateway"
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/.." && pwd)
CLIENT="$HERE/gw_client.py"
HARNESS="$HERE/sd_harness.py"
# shellcheck source=tests/e2e_lib.sh
. "$HERE/e2e_lib.sh"
e2e_setup e2e_ops

# harness LABEL [options...]: tests/sd_harness.py's checks as ours.
harness() {
    hlabel=$1
    shift
    rm -f "$TMP/notify"
    timeout -k 5 60 python3 "$HARNESS" "$TMP" "$GW" "$@" >"$TMP/harness.out" \
        2>&1
    while IFS= read -r line; do
        case $line in
            "ok   "*) ok "$hlabel: ${line#ok   }" ;;
            "FAIL "*) fail "$hlabel: ${line#FAIL }"
                      sed 's/^/        /' "$TMP/gw.log" ;;
            *) note "    $line" ;;
        esac
    done <"$TMP/harness.out"
    grep -q '^ok   exit 0' "$TMP/harness.out" ||
        fail "$hlabel: the harness did not finish"
}

echo "== systemd"
printf '{"morpheus": "Follow the white rabbit. \\ud83d\\udc30"}\n' \
    >"$TMP/index.json"
harness "socket activation" --index "$TMP/index.json"
harness "socket activation, 2 workers" --index "$TMP/index.json" \
    --workers 2

if command -v systemd-analyze >/dev/null 2>&1; then
    mkdir -p "$TMP/units"
    sed "s|/usr/local/sbin/hframe-gateway|$(cd "$(dirname "$GW")" &&
        pwd)/hframe-gateway|" "$TOP/docs/examples/hframe-gateway.service" \
        >"$TMP/units/hframe-gateway.service"
    cp "$TOP/docs/examples/hframe-gateway.socket" "$TMP/units/"
    (cd "$TMP/units" && timeout 60 systemd-analyze verify --man=no \
        ./hframe-gateway.socket ./hframe-gateway.service) \
        >"$TMP/verify.out" 2>&1
    rc=$?
    if [ "$rc" -eq 0 ] && ! [ -s "$TMP/verify.out" ]; then
        ok "systemd-analyze verify: the units are clean"
    else
        fail "systemd-analyze verify (status $rc)"
        sed 's/^/        /' "$TMP/verify.out"
    fi
else
    note "skip systemd-analyze verify: systemd-analyze is not installed"
fi

echo "== log formats"
start json --log-format json || exit 1
gwc "json: the tutorial" "$GW_PORT" tutorial
gwc "json: a frame error" "$GW_PORT" badinput
stop json "$GW_PID"
check "json: every line one JSON object, access fields as members" \
    python3 "$HERE/log_check.py" "$TMP/json.log"

# The journal: JOURNAL_STREAM names stderr's device and inode.
: >"$TMP/journal.log"
JOURNAL_STREAM=$(stat -c '%d:%i' "$TMP/journal.log")
export JOURNAL_STREAM
"$GW" --log-format json --port-file "$TMP/journal.port" 127.0.0.1 0 \
    2>>"$TMP/journal.log" &
GW_PID=$!
PIDS="$PIDS $GW_PID"
unset JOURNAL_STREAM
if wait_started journal "$GW_PID" gateway test -s "$TMP/journal.port"; then
    gwc "journal: the tutorial" "$(cat "$TMP/journal.port")" tutorial
    stop journal "$GW_PID"
    check "journal: <N> prefix, JSON without a time of its own" \
        python3 "$HERE/log_check.py" "$TMP/journal.log" journal
fi

echo "== privileges"
"$GW" --user hframe-no-such-user 127.0.0.1 0 2>"$TMP/user.err"
check "--user with an unknown name: exit 2" [ "$?" -eq 2 ]
"$GW" --group nogroup 127.0.0.1 0 2>"$TMP/user.err"
check "--group without --user: exit 2" [ "$?" -eq 2 ]

# no_root PID: no uid or gid 0 left in the process (real, effective,
# saved, filesystem) nor among its groups.
no_root() {
    awk '/^(Uid|Gid):/ { for (f = 2; f <= NF; f++) if ($f == 0) bad = 1 }
         /^Groups:/ { for (f = 2; f <= NF; f++) if ($f == 0) bad = 1 }
         END { exit bad }' "/proc/$1/status"
}

if [ "$(id -u)" -ne 0 ]; then
    note "skip --user nobody: the tests do not run as root"
elif ! id nobody >/dev/null 2>&1; then
    note "skip --user nobody: there is no user nobody"
else
    # The port file is written once root is gone.
    mkdir -m 1777 "$TMP/w"
    chmod 755 "$TMP"
    for n in 1 2; do
        rm -f "$TMP/w/user.port"
        "$GW" --user nobody --workers "$n" --port-file "$TMP/w/user.port" \
            127.0.0.1 0 2>"$TMP/user$n.log" &
        GW_PID=$!
        PIDS="$PIDS $GW_PID"
        wait_started "user$n" "$GW_PID" gateway test -s "$TMP/w/user.port" ||
            continue
        gwc "--user nobody, $n worker(s): the tutorial" \
            "$(cat "$TMP/w/user.port")" tutorial
        procs="$GW_PID $(cat "/proc/$GW_PID/task/$GW_PID/children")"
        bad=""
        for p in $procs; do
            no_root "$p" || bad="$bad $p"
        done
        check "--user nobody, $n worker(s): no root id in $(echo $procs |
            wc -w) process(es)" [ -z "$bad" ]
        stop "user$n" "$GW_PID"
    done
    if command -v setpriv >/dev/null 2>&1; then
        setpriv --reuid=nobody --regid=nogroup --clear-groups "$GW" \
            --user root 127.0.0.1 0 2>"$TMP/user.err"
        check "--user root without root: exit 1" [ "$?" -eq 1 ]
    else
        note "skip --user without root: setpriv is not installed"
    fi
fi

echo "== metrics"
# metrics_port NAME: the metrics port, from the log.
metrics_port() {
    sed -n "s/.*metrics on '127.0.0.1' port \([0-9]*\).*/\1/p" \
        "$TMP/$1.log"
}
# metrics LABEL NAME ARGS...: tests/metrics_check.py on NAME's page.
metrics() {
    mlabel=$1
    mport=$(metrics_port "$2")
    shift 2
    if timeout -k 5 60 python3 "$HERE/metrics_check.py" "$mport" "$@" \
        >"$TMP/metrics.out" 2>&1; then
        ok "$mlabel"
    else
        fail "$mlabel"
        sed 's/^/        /' "$TMP/metrics.out"
    fi
}
# health_503 NAME: /health answers 503 within 5 s.
health_503() {
    tries=0
    while ! python3 "$HERE/metrics_check.py" "$(metrics_port "$1")" \
        --health 503 >"$TMP/metrics.out" 2>&1; do
        tries=$((tries + 1))
        [ "$tries" -gt 50 ] && return 1
        sleep 0.1
    done
}
command -v promtool >/dev/null 2>&1 ||
    note "promtool is not installed: the metrics format is not checked"

start m1 --metrics 127.0.0.1:0 || exit 1
M1_PID=$GW_PID
M1_PORT=$GW_PORT
gwc "metrics: the tutorial" "$M1_PORT" tutorial
metrics "metrics: /health 200, 6 requests counted and timed, promtool \
passes" m1 6 'hframe_requests_total{kind="search"}=3' \
    'hframe_request_duration_seconds_count{kind="binary"}=3'
# A request whose last bytes come half a second late is timed in
# seconds: above the 0.25 bucket, within the 2.5 one.
gwc "metrics: a binary request sent slowly" "$M1_PORT" slowsend 0.5
B='hframe_request_duration_seconds_bucket{kind="binary",le='
metrics "metrics: the slow request in the buckets above 0.25 s" m1 7 \
    "${B}\"0.25\"}=3" "${B}\"2.5\"}=4" "${B}\"+Inf\"}=4"
# Two clients over the cap: counted as refused at --max-conns.
start mcap --metrics 127.0.0.1:0 --max-conns 3 || exit 1
gwc "metrics: two clients over --max-conns 3" "$GW_PORT" conncap 3
R='hframe_connections_rejected_total{reason='
metrics "metrics: the two refused at the cap, by reason" mcap -1 \
    "${R}\"max-conns\"}=2" "${R}\"descriptors\"}=0" "${R}\"memory\"}=0"
stop mcap "$GW_PID"

# The metrics server full (64 connections, each half a request), then
# left: it takes connections again at once, not after their timeout.
# crowd NAME ARGS...: a gateway started with ARGS takes the crowd.
crowd() {
    start "$@" --metrics 127.0.0.1:0 || exit 1
    label="metrics full ($*): /health answers again once 64 connections left"
    if timeout -k 5 60 python3 "$HERE/metrics_check.py" \
            "$(metrics_port "$1")" --crowd 64 >"$TMP/crowd.out" 2>&1; then
        ok "$label"
    else
        fail "$label"
        sed 's/^/        /' "$TMP/crowd.out"
    fi
    stop "$1" "$GW_PID"
}
crowd crowd1
crowd crowd2 --workers 2

# Two workers: the supervisor serves every worker's counts, and a worker
# killed outright loses none (its successor goes on in its slot).
start m2 --metrics 127.0.0.1:0 --workers 2 || exit 1
M2_PID=$GW_PID
gwc "metrics, 2 workers: 64 clients x 10 requests" "$GW_PORT" concurrent \
    64 10
metrics "metrics, 2 workers: 640 requests on one page" m2 640 \
    hframe_connections_accepted_total=64
# A scraper keeps its connection open while a worker is forked again.
timeout -k 5 30 python3 "$HERE/metrics_check.py" "$(metrics_port m2)" \
    --hold 10 >"$TMP/scraper.out" 2>&1 &
scraper=$!
PIDS="$PIDS $scraper"
wait_ready "$TMP/scraper.out"
victim=$(cut -d' ' -f1 "/proc/$M2_PID/task/$M2_PID/children")
kill -9 "$victim"
logged m2 "worker $victim killed by signal 9" "metrics, 2 workers: a \
worker killed with SIGKILL"
LOG_WAIT=10 logged m2 "worker [0-9]* started" "metrics, 2 workers: ... \
and started again"
# only_supervisor STATE: the metrics port's sockets in ss's STATE are
# held by the supervisor alone (a worker forked from it closed them).
only_supervisor() {
    ss -Htnp state "$1" "( sport = :$(metrics_port m2) )" \
        >"$TMP/ss.out" 2>&1 || return 1
    [ -s "$TMP/ss.out" ] &&
        [ "$(grep -o 'pid=[0-9]*' "$TMP/ss.out" | sort -u)" = "pid=$M2_PID" ]
}
check "metrics, 2 workers: the new worker holds neither the metrics \
socket ..." only_supervisor listening
check "metrics, 2 workers: ... nor the scraper's connection" \
    only_supervisor established
kill "$scraper" 2>/dev/null
metrics "metrics, 2 workers: the dead worker's requests still counted" \
    m2 640
gwc "metrics, 2 workers: 32 clients x 10 requests more" "$GW_PORT" \
    concurrent 32 10
metrics "metrics, 2 workers: 960 requests, 96 connections" m2 960 \
    hframe_connections_accepted_total=96
stop m2 "$M2_PID"

# Relay: per-upstream series summed over the workers too.
UP="upstream=\"127.0.0.1:$M1_PORT\""
start relay --metrics 127.0.0.1:0 --workers 2 \
    --upstream "127.0.0.1:$M1_PORT" || exit 1
R_PID=$GW_PID
gwc "metrics, relay, 2 workers: 16 clients x 5 requests" "$GW_PORT" \
    concurrent 16 5
metrics "metrics, relay, 2 workers: per-upstream series and times" relay \
    80 'hframe_requests_total{kind="relayed"}=80' \
    "hframe_upstream_up{$UP}=1" "hframe_upstream_requests_total{$UP}=80" \
    "hframe_upstream_duration_seconds_count{$UP}=80"
stop relay "$R_PID"

# A relay whose only upstream is down answers /health with 503, with
# every worker's view of it.
dead=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
for n in 1 2; do
    start "down$n" --metrics 127.0.0.1:0 --workers "$n" \
        --upstream "127.0.0.1:$dead" --upstream-retry 60 || continue
    metrics "health, relay, $n worker(s): 200 before any request" \
        "down$n" 0
    # 20 requests: each worker gets some (the kernel spreads them).
    for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
        timeout -k 5 10 "$HF_BUILD/hframe" request 127.0.0.1 "$GW_PORT" \
            search x >/dev/null 2>&1
    done
    check "health, relay, $n worker(s): 503 with the upstream down" \
        health_503 "down$n"
    grep -q 'no upstream up' "$TMP/metrics.out" ||
        check "health, relay: the body says why" false
    stop "down$n" "$GW_PID"
done

# /health: 503 from SIGTERM while a request still holds the drain.
for n in 1 2; do
    start "drain$n" --metrics 127.0.0.1:0 --workers "$n" \
        --drain-timeout 10 || continue
    D_PID=$GW_PID
    metrics "health, $n worker(s): 200 while accepting" "drain$n" 0
    timeout --foreground -k 5 30 python3 "$CLIENT" "$GW_PORT" hold 3 \
        >"$TMP/hold.out" 2>&1 &
    hold=$!
    wait_ready "$TMP/hold.out"
    kill -TERM "$D_PID"
    check "health, $n worker(s): 503 while a request holds the drain" \
        health_503 "drain$n"
    check "health, $n worker(s): ... and the gateway still runs" \
        kill -0 "$D_PID"
    wait_exit "$hold" 20
    check "health, $n worker(s): the request is answered" [ "$RC" -eq 0 ]
    wait_exit "$D_PID" 15
    check "health, $n worker(s): exit 0 after the drain" [ "$RC" -eq 0 ]
done

# --metrics with a value that is not HOST:PORT is a usage error; an
# address that cannot be bound a failure. said STATUS PATTERN...: the
# last run ended with STATUS ($rc) and its stderr has every PATTERN.
said() {
    [ "$rc" -eq "$1" ] || return 1
    shift
    for p in "$@"; do
        grep -qiF -- "$p" "$TMP/bad.err" || return 1
    done
}
for bad in nonsense 1.2.3.4:99999 127.0.0.1: '[::1]'; do
    "$GW" --metrics "$bad" 127.0.0.1 0 2>"$TMP/bad.err"
    rc=$?
    check "--metrics $bad: exit 2, naming the option" said 2 "invalid" \
        "--metrics"
done
# An upstream's port is a number up to 65535 or a known service name;
# getaddrinfo alone would take 99999 (and reach port 34463).
for bad in 127.0.0.1:99999 127.0.0.1:no-such-service-name; do
    timeout 10 "$GW" --upstream "$bad" 127.0.0.1 0 2>"$TMP/bad.err"
    rc=$?
    check "--upstream $bad: exit 2, naming the port" said 2 "--upstream" \
        "port '${bad#*:}'"
done
for w in 1 2; do
    "$GW" --metrics "127.0.0.1:$M1_PORT" --workers "$w" 127.0.0.1 0 \
        2>"$TMP/bad.err"
    rc=$?
    check "--metrics on a port in use, $w worker(s): exit 1 with the \
reason" said 1 "--metrics 127.0.0.1:$M1_PORT" "in use"
done
stop m1 "$M1_PID"

e2e_summary e2e_ops
