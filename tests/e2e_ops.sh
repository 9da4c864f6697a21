#!/bin/sh
# e2e_ops.sh - end-to-end tests of how hframe-gateway runs as a service:
# the systemd units, readiness notification and socket activation
# (tests/sd_harness.py plays systemd); log lines in JSON and for the
# journal (tests/log_check.py); --user and --group (as root only).
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

e2e_summary e2e_ops
