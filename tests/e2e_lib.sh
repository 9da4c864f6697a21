# e2e_lib.sh - helpers shared by the shell tests (tests/e2e_*.sh,
# tests/abi.sh), sourced (POSIX sh, under set -u); start and gwc need
# the script to have set:
#   GW      the hframe-gateway binary (start)
#   CLIENT  tests/gw_client.py (gwc)
# Functions (the variables each one sets or reads besides the above):
#   e2e_setup NAME  scratch directory TMP (NAME.XXXXXX under TMPDIR or
#                   /tmp), empty PIDS, passed=0 and failed=0; at exit
#                   (or on SIGINT/SIGTERM, status 1) every pid in PIDS
#                   gets SIGKILL and TMP is removed.
#   e2e_summary NAME
#                   prints "    NAME: N passed, M failed", the last line
#                   of a run; returns 0 when no check failed.
#   note TEXT...    prints TEXT, indented by four spaces.
#   ok LABEL        counts a passed check (passed) and prints "ok   LABEL".
#   fail LABEL      counts a failed check (failed) and prints "FAIL LABEL".
#   check LABEL COMMAND...
#                   ok LABEL when COMMAND succeeds, else fail LABEL.
#   start NAME [options...]
#                   starts a gateway with the options (and --io GW_IO
#                   when GW_IO is set) on host GW_HOST
#                   (127.0.0.1 when unset; empty: every address) and port
#                   GW_LPORT (0 when unset: an ephemeral one), its port
#                   in $TMP/NAME.port and its stderr in $TMP/NAME.log;
#                   appends its pid to PIDS; sets GW_PID and GW_PORT.
#                   Returns 1 when wait_started gives up ("NAME: gateway
#                   did not start").
#   wait_started NAME PID WHAT TEST...
#                   waits until the command TEST... succeeds (its stderr
#                   discarded), tried every 0.1 s for 10 s; when it still
#                   fails then, or PID is gone, fails "NAME: WHAT did not
#                   start", shows $TMP/NAME.log and returns 1.
#   wait_exit PID SECONDS
#                   waits for PID (a child) to end, SIGKILL after SECONDS;
#                   sets RC to its exit status, 124 after a timeout.
#   stop [NAME] PID sends SIGTERM to PID and expects exit status 0 within
#                   15 s: ok "NAME: exit 0 after SIGTERM", else fail
#                   "NAME: exit status RC after SIGTERM" (no "NAME: "
#                   without NAME); sets RC.
#   wait_ready FILE waits until FILE has a line with "ready" (what a
#                   client prints once its request is in flight), 20 s at
#                   most (a loaded machine starts Python slowly); the
#                   checks that follow tell what came of it.
#   gwc LABEL PORT SCENARIO ARGS...
#                   runs one gw_client.py scenario against PORT, killed
#                   after GWC_SECONDS (120 when unset): ok LABEL when it
#                   exits 0, else fail LABEL and its output
#                   ($TMP/client.out).
#   logged NAME PATTERN LABEL
#                   ok LABEL once $TMP/NAME.log has a line matching the
#                   grep PATTERN, checked every 0.1 s for LOG_WAIT
#                   seconds (5 when unset; 0: checked once); else fail
#                   "LABEL (no 'PATTERN' in the log)" and the log's last
#                   5 lines.
# Output lines of failures are indented by eight spaces, under their
# "FAIL" line. The helpers use i, tries, label, name, who, p and ws_* as
# scratch variables: a caller keeps nothing in them across a call.

e2e_setup() {
    TMP=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
    PIDS=""
    passed=0
    failed=0
    trap e2e_cleanup EXIT
    trap 'exit 1' INT TERM
}

e2e_cleanup() {
    for p in $PIDS; do
        kill -9 "$p" 2>/dev/null
    done
    rm -rf "$TMP"
}

e2e_summary() {
    echo "    $1: $passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}

note() { printf '    %s\n' "$*"; }

ok() {
    passed=$((passed + 1))
    note "ok   $1"
}

fail() {
    failed=$((failed + 1))
    note "FAIL $1"
}

check() {
    label=$1
    shift
    if "$@"; then ok "$label"; else fail "$label"; fi
}

start() {
    name=$1
    shift
    rm -f "$TMP/$name.port"
    "$GW" --port-file "$TMP/$name.port" ${GW_IO:+--io "$GW_IO"} "$@" \
        "${GW_HOST-127.0.0.1}" \
        "${GW_LPORT:-0}" 2>"$TMP/$name.log" &
    GW_PID=$!
    PIDS="$PIDS $GW_PID"
    wait_started "$name" "$GW_PID" gateway test -s "$TMP/$name.port" ||
        return 1
    # shellcheck disable=SC2034 # for the caller
    GW_PORT=$(cat "$TMP/$name.port")
}

wait_started() {
    ws_name=$1
    ws_pid=$2
    ws_what=$3
    shift 3
    i=0
    while ! "$@" 2>/dev/null; do
        i=$((i + 1))
        if [ "$i" -gt 100 ] || ! kill -0 "$ws_pid" 2>/dev/null; then
            fail "$ws_name: $ws_what did not start"
            sed 's/^/        /' "$TMP/$ws_name.log"
            return 1
        fi
        sleep 0.1
    done
}

wait_ready() {
    i=0
    while ! grep -q ready "$1" 2>/dev/null && [ "$i" -lt 200 ]; do
        sleep 0.1
        i=$((i + 1))
    done
}

wait_exit() {
    i=0
    while kill -0 "$1" 2>/dev/null; do
        i=$((i + 1))
        if [ "$i" -gt $(($2 * 10)) ]; then
            kill -9 "$1" 2>/dev/null
            wait "$1" 2>/dev/null
            RC=124
            return
        fi
        sleep 0.1
    done
    wait "$1" 2>/dev/null
    RC=$?
}

stop() {
    if [ $# -ge 2 ]; then
        who="$1: "
        shift
    else
        who=""
    fi
    kill -TERM "$1" 2>/dev/null
    wait_exit "$1" 15
    if [ "$RC" -eq 0 ]; then ok "${who}exit 0 after SIGTERM"; else
        fail "${who}exit status $RC after SIGTERM"; fi
}

gwc() {
    label=$1
    shift
    if timeout --foreground -k 5 "${GWC_SECONDS:-120}" python3 "$CLIENT" \
        "$@" >"$TMP/client.out" 2>&1; then
        ok "$label"
    else
        fail "$label"
        sed 's/^/        /' "$TMP/client.out"
    fi
}

# A loop counter of its own: callers may be counting with i.
logged() {
    tries=0
    while ! grep -q -- "$2" "$TMP/$1.log"; do
        tries=$((tries + 1))
        if [ "$tries" -gt $((${LOG_WAIT:-5} * 10)) ]; then
            fail "$3 (no '$2' in the log)"
            tail -5 "$TMP/$1.log" | sed 's/^/        /'
            return
        fi
        sleep 0.1
    done
    ok "$3"
}
