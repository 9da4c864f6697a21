#!/bin/sh
# e2e_gateway.sh - end-to-end tests of hframe-gateway on loopback.
#
# Run as: HF_BUILD=<outdir> sh tests/e2e_gateway.sh
# Every gateway listens on 127.0.0.1 port 0 and reports its port through
# --port-file; every process started here is killed on exit; every wait
# is bounded. Exit status 0 when all checks passed.
set -u
: "${HF_BUILD:=build}"
GW="$HF_BUILD/hframe-gateway"
HERE=$(cd "$(dirname "$0")" && pwd)
CLIENT="$HERE/gw_client.py"
# shellcheck source=tests/e2e_lib.sh
. "$HERE/e2e_lib.sh"
e2e_setup e2e_gateway
# Some scenarios (1100 connections, 64 x 100 requests) take long under
# a sanitizer.
GWC_SECONDS=180
# Every log line checked is due when the check runs: no waiting.
LOG_WAIT=0

# children PID: the pids whose parent is PID (from /proc, no procps).
children() {
    for f in /proc/[0-9]*/stat; do
        read -r c_pid _ _ c_ppid _ 2>/dev/null <"$f" || continue
        [ "$c_ppid" = "$1" ] && echo "$c_pid"
    done
}

# client LABEL SCENARIO ARGS...: gwc against the last gateway started.
client() {
    label=$1
    shift
    gwc "$label" "$GW_PORT" "$@"
}

# The tests with 5,000 connections need more descriptors than the usual
# soft limit: the client's 5,000 and the gateway's.
ulimit -n 12000 2>/dev/null || ulimit -n "$(ulimit -H -n)" 2>/dev/null

if [ ! -x "$GW" ]; then
    echo "e2e_gateway: $GW not built"
    exit 1
fi

# ------------------------------------------------------------ options
"$GW" --help >/dev/null 2>&1
[ $? -eq 0 ] && ok "--help exits 0" || fail "--help exits 0"
version=$(sed -n 's/^#define HF_VERSION "\(.*\)"$/\1/p' "$HERE/../codec/hframe.h")
check "--version prints hframe-gateway $version" \
    test "$("$GW" --version 2>&1)" = "hframe-gateway $version"
for bad in "--max-conns 0" "--max-conns 1x" "--port 70000" "-p -1" \
    "--request-timeout 1x" "--idle-timeout -1" "--workers 0" \
    "--max-header 1" "--log-level loud" "127.0.0.1" "a 1 b" "h 99999" \
    "-l 127.0.0.1 127.0.0.1 1" "-p 1 127.0.0.1 1" "::1:80" ":80" \
    "h:99999" "-p 1 127.0.0.1:1" "[::1]"; do
    # shellcheck disable=SC2086
    "$GW" $bad >/dev/null 2>&1
    rc=$?
    [ "$rc" -eq 2 ] && ok "usage error: $bad" ||
        fail "usage error: $bad (exit $rc)"
done

"$GW" --proxy-protocol=1 >/dev/null 2>"$TMP/usage.err"
rc=$?
check "usage error: a flag given a value says so (exit $rc)" \
    test "$rc" -eq 2 -a "$(head -n 1 "$TMP/usage.err")" = \
    "hframe-gateway: option '--proxy-protocol' takes no value"

# A port file that cannot be written: a message and exit 1, with one
# process as with workers.
for w in 1 2; do
    timeout --foreground -k 5 30 "$GW" --workers "$w" \
        --port-file "$TMP/no/such/dir/port" 127.0.0.1 0 2>"$TMP/pf.log"
    rc=$?
    if [ "$rc" -eq 1 ] && grep -q "cannot write port file" "$TMP/pf.log"
    then
        ok "unwritable --port-file, $w worker(s): exit 1 with a message"
    else
        fail "unwritable --port-file, $w worker(s): exit $rc"
        sed 's/^/        /' "$TMP/pf.log"
    fi
done

# One operand HOST:PORT, as --upstream and hframe request take.
"$GW" --port-file "$TMP/one.port" "[::1]:0" 2>"$TMP/one.log" &
GW_PID=$!
PIDS="$PIDS $GW_PID"
if wait_started one "$GW_PID" gateway test -s "$TMP/one.port"; then
    GW_PORT=$(cat "$TMP/one.port")
    logged one "listening on \[::1\]:$GW_PORT (1 socket" \
        "one operand [::1]:0: listening on [::1]"
    stop one "$GW_PID"
fi

# --pidfile holds the pid while running; both files go at exit.
if start pidf --pidfile "$TMP/gw.pid"; then
    [ "$(cat "$TMP/gw.pid" 2>/dev/null)" = "$GW_PID" ] &&
        ok "--pidfile holds the pid" || fail "--pidfile holds the pid"
    stop pidf "$GW_PID"
    [ ! -e "$TMP/gw.pid" ] && [ ! -e "$TMP/pidf.port" ] &&
        ok "pid and port files removed at exit" ||
        fail "pid and port files removed at exit"
fi

# The files are written through a temporary file made anew: a link
# planted where a fixed temporary name would be is never followed.
echo precious >"$TMP/victim"
ln -s "$TMP/victim" "$TMP/gw.pid.tmp"
ln -s "$TMP/victim" "$TMP/pidl.port.tmp"
if start pidl --pidfile "$TMP/gw.pid"; then
    [ "$(cat "$TMP/gw.pid" 2>/dev/null)" = "$GW_PID" ] &&
        [ "$(cat "$TMP/victim")" = precious ] &&
        ok "--pidfile, --port-file: a planted link is not followed" ||
        fail "--pidfile, --port-file: a planted link is not followed"
    stop pidl "$GW_PID"
fi
rm -f "$TMP/gw.pid.tmp" "$TMP/pidl.port.tmp"

# Two gateways given the same pid file: the second's pid is in it, and
# the first one's exit leaves it there.
if start pid1 --pidfile "$TMP/both.pid"; then
    first=$GW_PID
    if start pid2 --pidfile "$TMP/both.pid"; then
        stop pid1 "$first"
        [ "$(cat "$TMP/both.pid" 2>/dev/null)" = "$GW_PID" ] &&
            ok "a pid file another gateway wrote since is left at exit" ||
            fail "a pid file another gateway wrote since is left at exit"
        stop pid2 "$GW_PID"
        [ ! -e "$TMP/both.pid" ] && ok "its own pid file removed" ||
            fail "its own pid file removed"
    fi
fi

# ------------------------------------------------------------ protocol
if start basic --log-level info; then
    client "tutorial exchanges byte for byte" tutorial
    client "index entries, miss, invalid action" index
    client "content-length 0" empty
    client "one byte at a time" onebyte
    client "pipelined requests" pipeline 300
    client "each bad input while others are served" badinput
    client "64 clients x 100 requests" concurrent 64 100
    client "garbage and resets beside steady clients" chaos 3
    kill -USR1 "$GW_PID"
    sleep 0.3
    logged basic 'access peer=127\.0\.0\.1:[0-9]* type="text/json" action="search" value="morpheus" in=[0-9]* out=[0-9]* status=ok us=[0-9]*' \
        "access log line"
    logged basic 'action="find" value="x" .* status=ok' \
        "invalid action: its action and value in the access log"
    logged basic 'status=duplicate-key' "error status in the access log"
    logged basic 'notice: stats .*req_search=' "SIGUSR1 writes counters"
    stop "$GW_PID"
    logged basic ' err\.invalid-utf8=[1-9]' "codec error counters at exit"
    logged basic ' req_err\.bad-action=[1-9]' "content error counters at exit"
fi

# An empty HOST listens on every address, IPv4 and IPv6.
GW_HOST=""
if start dual; then
    unset GW_HOST
    client "empty host: IPv4 and IPv6" dual
    logged dual "listening on .*0\.0\.0\.0:$GW_PORT.* (2 sockets" \
        "empty host: the IPv4 address logged"
    logged dual "listening on .*\[::\]:$GW_PORT.* (2 sockets" \
        "empty host: the IPv6 address logged"
    stop "$GW_PID"
fi
unset GW_HOST

# ------------------------------------------------------------ index
printf '{"neo": "The One.", "ring": "Precious."}' >"$TMP/index.json"
if start index --index "$TMP/index.json"; then
    client "--index lookup" lookup neo "The One."
    client "--index replaces the built-in entries" lookup morpheus -
    printf '{"neo": "Wake up, Neo."}' >"$TMP/index.json"
    kill -HUP "$GW_PID"
    sleep 0.5
    client "SIGHUP reloads the index" lookup neo "Wake up, Neo."
    client "reloaded index drops old entries" lookup ring -
    printf '{"neo": 42}' >"$TMP/index.json"
    kill -HUP "$GW_PID"
    sleep 0.5
    client "bad file on SIGHUP keeps the old index" lookup neo \
        "Wake up, Neo."
    logged index "index $TMP/index.json: not-string at offset" \
        "bad reload names file and offset"
    logged index "keeping the previous index" "bad reload is logged"
    # A FIFO in place of the index: refused at once, nothing waits for a
    # writer, the loop goes on.
    rm -f "$TMP/index.json"
    mkfifo "$TMP/index.json"
    kill -HUP "$GW_PID"
    sleep 0.5
    logged index "index $TMP/index.json: io-error at offset 0: not a regular file (a FIFO)" \
        "FIFO on SIGHUP is refused, named"
    client "FIFO on SIGHUP keeps the old index, the loop runs" lookup neo \
        "Wake up, Neo."
    stop "$GW_PID"
    rm -f "$TMP/index.json"
fi
# A large index is read off the event loop: answers keep coming, none
# slower than 0.3 s, while 60 MB are read and checked.
python3 - "$TMP/big.json" <<'EOF'
import sys
ring = "In the caves beneath the Misty Mountains. \\ud83d\\udc8d"
with open(sys.argv[1], "w") as f:
    f.write('{"ring": "%s"' % ring)
    for i in range(300000):
        f.write(', "key%07d": "%s"' % (i, "v" * 180))
    f.write("}")
EOF
if start big --index "$TMP/big.json"; then
    timeout --foreground -k 5 60 python3 "$CLIENT" "$GW_PORT" latency 3 0.3 \
        >"$TMP/latency.out" 2>&1 &
    lat=$!
    wait_ready "$TMP/latency.out"
    kill -HUP "$GW_PID"
    wait_exit "$lat" 60
    if [ "$RC" -eq 0 ]; then
        ok "answers during a 60 MB reload ($(tail -n 1 "$TMP/latency.out"))"
    else
        fail "answers during a 60 MB reload"
        sed 's/^/        /' "$TMP/latency.out"
    fi
    LOG_WAIT=30 logged big "index $TMP/big.json reloaded: 300001 entries" \
        "the large index reloaded"
    stop big "$GW_PID"
fi
rm -f "$TMP/big.json"

mkfifo "$TMP/fifo.json"
timeout --foreground -k 2 10 "$GW" --index "$TMP/fifo.json" \
    --port-file "$TMP/never" 127.0.0.1 0 2>"$TMP/fifo.log"
rc=$?
check "--index FIFO exits 1 at once ($rc)" [ "$rc" -eq 1 ]
logged fifo "index $TMP/fifo.json: io-error at offset 0: not a regular file (a FIFO)" \
    "--index FIFO: the message names the file"
printf '{"a": "b",\n "a": "c"}' >"$TMP/dup.json"
"$GW" --index "$TMP/dup.json" --port-file "$TMP/never" 127.0.0.1 0 \
    2>"$TMP/dup.log"
rc=$?
[ "$rc" -eq 1 ] && ok "bad --index exits 1" || fail "bad --index exits 1 ($rc)"
logged dup "index $TMP/dup.json: duplicate-key at offset 12" \
    "bad --index names file and offset"

# ------------------------------------------------------------ PROXY protocol
# A PROXY header cut short by the client's EOF gets bad-proxy-header, as
# a frame cut short gets truncated.
if start pxeof --proxy-protocol; then
    client "PROXY header cut short by EOF: bad-proxy-header" proxycut
    stop "$GW_PID"
fi

# ------------------------------------------------------------ timeouts
if start timeouts --log-level info --request-timeout 0.5 --idle-timeout 1 \
    --write-timeout 0.5 --max-output 4096; then
    client "request timeout" request-timeout 3
    client "idle timeout" idle-timeout 3
    client "write timeout" write-timeout 8
    logged timeouts 'reason=request-timeout' "request timeout logged"
    logged timeouts 'reason=idle-timeout' "idle timeout logged"
    logged timeouts 'reason=write-timeout' "write timeout logged"
    stop "$GW_PID"
fi
# A client reading a 4 MB answer at 400 KB/s is still reading when the
# socket has not turned writable for over a second: the kernel's queue
# shrinks, which counts as progress.
if start slowread --write-timeout 1 --max-content 5000000 \
    --max-json 5000000; then
    client "slow but steady reader not cut" slowread
    stop "$GW_PID"
fi

# ------------------------------------------------------------ limits
if start cap --max-conns 5; then
    client "connection cap" conncap 5
    logged cap 'reject peer=.*(cap 5)' "cap rejection logged"
    stop "$GW_PID"
    logged cap 'rejected_cap=2 rejected_nofd=0 ' \
        "the two refused at the cap counted as such"
fi
# A flood of clients over the cap: every one refused and counted, one
# log line a second saying how many went unlogged.
if start flood --max-conns 2; then
    timeout -k 5 30 python3 - "$GW_PORT" <<'PY' >"$TMP/flood.out" 2>&1
import socket, sys, time
port = int(sys.argv[1])
held = [socket.create_connection(("127.0.0.1", port)) for _ in range(2)]
time.sleep(0.3)
t0 = time.monotonic()
for _ in range(60):
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(5)
    assert b"busy" in s.recv(4096)
    s.close()
time.sleep(1.1)
s = socket.create_connection(("127.0.0.1", port))
s.settimeout(5)
assert b"busy" in s.recv(4096)
print("done", 3 + int(time.monotonic() - t0))
PY
    grep -q done "$TMP/flood.out" && ok "61 clients over the cap: busy each" ||
        fail "61 clients over the cap: busy each ($(tail -1 "$TMP/flood.out"))"
    logged flood 'more refused since the last such line' \
        "the next second's line counts those not logged"
    n=$(grep -c 'reject peer=' "$TMP/flood.log")
    most=$(sed -n 's/^done //p' "$TMP/flood.out")
    [ "$n" -le "${most:-3}" ] &&
        ok "rejections logged once a second ($n lines, at most $most)" ||
        fail "rejections logged once a second ($n lines, at most $most)"
    stop flood "$GW_PID"
    logged flood 'rejected_cap=61 ' "all 61 counted"
fi

# 5,000 clients at once: descriptors past FD_SETSIZE (1024) are watched
# like any other (select's sets grow with them).
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 11000 ]; then
    note "skip 5000 connections: ulimit -n is $(ulimit -n)"
elif start fdset; then
    client "5000 connections at once, every one served" many 5000 1
    stop "$GW_PID"
fi

# Out of file descriptors: accept fails with EMFILE, the gateway lives.
# The gateway runs in a subshell with a low fd limit; the subshell
# reports its pid, port and exit status through files.
(
    ulimit -n 40 || exit 1
    start emfile --max-conns 1000 || exit 1
    echo "$GW_PID $GW_PORT" >"$TMP/emfile.pid"
    wait "$GW_PID"
    echo $? >"$TMP/emfile.rc"
) &
sub=$!
PIDS="$PIDS $sub"
i=0
while [ ! -s "$TMP/emfile.pid" ] && [ "$i" -lt 100 ]; do
    sleep 0.1
    i=$((i + 1))
done
if [ -s "$TMP/emfile.pid" ]; then
    read -r epid GW_PORT <"$TMP/emfile.pid"
    PIDS="$PIDS $epid"
    client "EMFILE: gateway keeps serving, the rest get busy (ulimit -n 40, 80 clients)" \
        many 80 0 1
    logged emfile 'accept: Too many open files: [0-9]* waiting clients refused with a busy frame' \
        "EMFILE logged"
    logged emfile 'descriptor limit 40: up to 8 clients at once$' \
        "the clients that fit the descriptor limit are said"
    logged emfile '--max-conns 1000 needs about 1032 descriptors and the limit is 40: clients past 8 are refused' \
        "a --max-conns beyond the descriptor limit is warned about"
    kill -TERM "$epid"
    wait_exit "$sub" 15
    rc=$(cat "$TMP/emfile.rc" 2>/dev/null)
    [ "$rc" = 0 ] && ok "EMFILE gateway exits 0 after SIGTERM" ||
        fail "EMFILE gateway exits 0 after SIGTERM ($rc)"
    logged emfile 'rejected_cap=0 rejected_nofd=[1-9][0-9]* ' \
        "the clients refused for want of descriptors counted as such"
else
    fail "EMFILE gateway did not start"
fi

# What fits under the descriptor limit, said at start-up in relay mode:
# each client and each upstream connection takes a descriptor, and
# --upstream-conns bounds the latter.
sized() {
    name=$1 lim=$2
    shift 2
    rm -f "$TMP/$name.port"
    (ulimit -n "$lim" && exec "$GW" --port-file "$TMP/$name.port" "$@" \
        127.0.0.1 0) 2>"$TMP/$name.log" &
    sized_pid=$!
    PIDS="$PIDS $sized_pid"
    wait_started "$name" "$sized_pid" gateway test -s "$TMP/$name.port" &&
        stop "$name" "$sized_pid"
}
if sized relaysize 2048 --upstream 127.0.0.1:9; then
    logged relaysize 'descriptor limit 2048: up to 1008 clients at once beside up to 1008 upstream connections' \
        "relay: half the descriptors for clients by default"
fi
if sized poolsize 2048 --upstream 127.0.0.1:9 --upstream 127.0.0.1:10 \
        --upstream-conns 64 --max-conns 5000; then
    logged poolsize 'descriptor limit 2048: up to 1888 clients at once beside up to 128 upstream connections' \
        "relay: --upstream-conns leaves the rest to clients"
    logged poolsize '--max-conns 5000 needs about 5160 descriptors and the limit is 2048: clients past 1888' \
        "relay: a --max-conns beyond the descriptor limit is warned about"
fi

# ------------------------------------------------------------ SIGTERM
# A request in flight at SIGTERM is answered; --drain-timeout 0 is "no
# limit", not "do not wait".
for d in 5 0; do
    start "drain$d" --drain-timeout "$d" || continue
    # One file per run: the last run's "ready" must not be read as this
    # one's before the shell has truncated it.
    timeout --foreground -k 5 30 python3 "$CLIENT" "$GW_PORT" hold 1 \
        >"$TMP/hold$d.out" 2>&1 &
    hold=$!
    wait_ready "$TMP/hold$d.out"
    kill -TERM "$GW_PID"
    wait_exit "$hold" 20
    [ "$RC" -eq 0 ] && ok "SIGTERM, drain $d: request in flight is answered" ||
        { fail "SIGTERM, drain $d: request in flight is answered"; cat "$TMP/hold$d.out"; }
    wait_exit "$GW_PID" 10
    [ "$RC" -eq 0 ] && ok "SIGTERM, drain $d: exit 0" ||
        fail "SIGTERM, drain $d: exit 0 ($RC)"
    client "no longer listening after SIGTERM" refused
done

# A client the kernel took before the stop, still in the listen queue,
# is served, not reset with the listening socket: the gateway is held
# (SIGSTOP) while the client connects and asks, then gets SIGTERM.
for w in 1 2; do
    start "queued$w" --workers "$w" || continue
    pids=$(cat "/proc/$GW_PID/task/$GW_PID/children" 2>/dev/null)
    # shellcheck disable=SC2086
    kill -STOP "$GW_PID" $pids
    timeout -k 5 20 "$HF_BUILD/hframe" request --timeout 10 127.0.0.1 \
        "$GW_PORT" search morpheus >"$TMP/queued$w.out" 2>&1 &
    req=$!
    sleep 1
    kill -TERM "$GW_PID"        # the supervisor passes it on
    # shellcheck disable=SC2086
    kill -CONT "$GW_PID" $pids
    wait_exit "$req" 15
    [ "$RC" -eq 0 ] &&
        ok "SIGTERM, $w worker(s): a client still in the listen queue is answered" ||
        fail "SIGTERM, $w worker(s): a client still in the listen queue is answered ($RC: $(tail -n 1 "$TMP/queued$w.out"))"
    wait_exit "$GW_PID" 15
    [ "$RC" -eq 0 ] && ok "SIGTERM, $w worker(s): exit 0" ||
        fail "SIGTERM, $w worker(s): exit 0 ($RC)"
done

# A second SIGTERM during a drain without limit stops the gateway at
# once, with one process as with workers.
for w in 1 2; do
    start "again$w" --drain-timeout 0 --workers "$w" || continue
    timeout --foreground -k 5 60 python3 "$CLIENT" "$GW_PORT" hold 30 \
        >"$TMP/again$w.out" 2>&1 &
    hold=$!
    PIDS="$PIDS $hold"
    wait_ready "$TMP/again$w.out"
    kill -TERM "$GW_PID"
    sleep 0.5
    check "second SIGTERM, $w worker(s): still draining after the first" \
        kill -0 "$GW_PID"
    kill -TERM "$GW_PID"
    wait_exit "$GW_PID" 8
    [ "$RC" -eq 0 ] && ok "second SIGTERM, $w worker(s): exit 0 at once" ||
        fail "second SIGTERM, $w worker(s): exit 0 at once ($RC)"
    kill "$hold" 2>/dev/null
done

# A stderr nobody reads never stops the loop: log lines that do not fit
# are dropped and counted. The gateway's stderr is a FIFO held open for
# writing and reading, and never read.
mkfifo "$TMP/stuck"
exec 7<>"$TMP/stuck"
"$GW" --port-file "$TMP/stuck.port" --log-level debug 127.0.0.1 0 2>"$TMP/stuck" &
GW_PID=$!
PIDS="$PIDS $GW_PID"
echo "stuck" >"$TMP/stuck.log"
if wait_started stuck "$GW_PID" gateway test -s "$TMP/stuck.port"; then
    GW_PORT=$(cat "$TMP/stuck.port")
    client "stderr never read: 64 clients x 100 requests answered" \
        concurrent 64 100
    # Once read again, what comes is whole lines, the oldest first, and
    # one of them says how many were lost.
    cat <&7 >"$TMP/stuck.out" &
    reader=$!
    client "stderr read again: answered" empty
    stop stuck "$GW_PID"
    sleep 0.3
    kill "$reader" 2>/dev/null
    wait "$reader" 2>/dev/null
    bad=$(grep -c -v -E '^[0-9T:.-]+Z hframe-gateway\[[0-9]+\] [a-z]+: ' \
        "$TMP/stuck.out")
    [ -s "$TMP/stuck.out" ] && [ "$bad" -eq 0 ] &&
        ok "stderr read again: $(wc -l <"$TMP/stuck.out") whole lines" ||
        fail "stderr read again: $bad lines cut or mixed"
    grep -q -E 'warn: [0-9]+ log lines dropped: stderr was not read' \
        "$TMP/stuck.out" && ok "the lines lost are counted in the log" ||
        fail "the lines lost are counted in the log"
fi
exec 7<&-

# Workers do not outlive their supervisor.
if start orphan --workers 2; then
    set -- $(children "$GW_PID")
    kill -9 "$GW_PID"
    i=0
    while [ "$i" -lt 50 ] && { kill -0 "${1:-0}" 2>/dev/null ||
                               kill -0 "${2:-0}" 2>/dev/null; }; do
        sleep 0.1
        i=$((i + 1))
    done
    [ $# -eq 2 ] && [ "$i" -lt 50 ] &&
        ok "workers exit when the supervisor is killed" ||
        fail "workers exit when the supervisor is killed ($# workers, $i)"
fi

# ------------------------------------------------------------ worker pids
# Each worker's lines carry its own pid, not the supervisor's (the line
# start is made once and kept, so a fork must renew it).
if start wpid --workers 2; then
    client "searches across two workers" concurrent 8 10
    logged wpid 'access peer=' "workers write access lines"
    kids=" $(children "$GW_PID" | tr '\n' ' ')"
    pids=$(sed -n 's/.*hframe-gateway\[\([0-9]*\)\] info: access .*/\1/p' \
        "$TMP/wpid.log" | sort -u | tr '\n' ' ')
    bad=""
    for p in $pids; do
        case "$kids " in *" $p "*) ;; *) bad="$bad $p" ;; esac
    done
    [ -n "$pids" ] && [ -z "$bad" ] &&
        ok "access lines carry the worker's pid ($pids; workers$kids)" ||
        fail "access lines carry the worker's pid ($pids; workers$kids)"
    grep -q "hframe-gateway\[$GW_PID\] notice: listening" "$TMP/wpid.log" &&
        ok "the supervisor's lines carry its pid" ||
        fail "the supervisor's lines carry its pid"
    stop "$GW_PID"
fi

# ------------------------------------------------------------ workers
# The load clients search "morpheus": keep the tutorial's answer.
rabbit='"morpheus": "Follow the white rabbit. \360\237\220\260"'
printf "{\"neo\": \"one\", $rabbit}" >"$TMP/workers.json"
if start workers --workers 2 --log-level warn --index "$TMP/workers.json"
then
    # A second gateway with workers on the same port is refused, as one
    # without workers is, not let in to share it (SO_REUSEPORT).
    for w in 2 1; do
        timeout --foreground -k 5 30 "$GW" --workers "$w" 127.0.0.1 \
            "$GW_PORT" 2>"$TMP/second.log"
        rc=$?
        check "a second gateway (--workers $w) on the port: exit 1 ($rc)" \
            test "$rc" -eq 1
        check "... saying the address is in use" \
            grep -q "port $GW_PORT: Address already in use" "$TMP/second.log"
    done
    printf "{\"neo\": \"two\", $rabbit}" >"$TMP/workers.json"
    kill -HUP "$GW_PID"
    sleep 0.5
    before=$(children "$GW_PID" | sort | tr '\n' ' ')
    set -- $before
    if [ $# -eq 2 ]; then ok "two workers"; else fail "two workers ($before)"; fi
    timeout --foreground -k 5 120 python3 "$CLIENT" "$GW_PORT" concurrent 16 200 1 \
        >"$TMP/load.out" 2>&1 &
    load=$!
    sleep 0.5
    kill -9 "$1"
    i=0
    after=""
    while [ "$i" -lt 50 ]; do
        after=$(children "$GW_PID" | sort | tr '\n' ' ')
        set -- $after
        [ $# -eq 2 ] && [ "$after" != "$before" ] && break
        sleep 0.1
        i=$((i + 1))
    done
    [ "$after" != "$before" ] && [ $# -eq 2 ] &&
        ok "killed worker replaced ($before-> $after)" ||
        fail "killed worker replaced ($before-> $after)"
    wait_exit "$load" 120
    [ "$RC" -eq 0 ] && ok "load across a worker restart" ||
        { fail "load across a worker restart"; cat "$TMP/load.out"; }
    # Every worker, the replacement included, has the reloaded index.
    i=0
    while [ "$i" -lt 10 ]; do
        client "reloaded index in every worker ($i)" lookup neo two
        i=$((i + 1))
    done
    logged workers 'killed by signal 9' "worker death logged"
    stop "$GW_PID"
    sleep 0.2
    left=$(children "$GW_PID" | wc -l)
    [ "$left" -eq 0 ] && ok "workers gone after SIGTERM" ||
        fail "workers gone after SIGTERM ($left left)"
fi

e2e_summary e2e_gateway
