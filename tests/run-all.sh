#!/bin/sh
# Runs every test program and script named on the command line and ends
# with one summary line. Test programs are Check suites; scripts (*.sh)
# are end-to-end tests that find the binaries under $HF_BUILD.
#
# HF_TEST_JOBS tests run at once (default 1), in the order given: most
# of an end-to-end test's time is spent waiting on its peers and
# timeouts. Each test's output is kept and shown whole when it ends, so
# that tests running side by side do not mix their lines, after the
# test's name and how long it took.
#
# Exit status: 0 when everything passed, 1 otherwise.
: "${HF_BUILD:=build}"
: "${HF_TEST_JOBS:=1}"
export HF_BUILD

# run-all.sh --one DIR N TEST: one test, its output in DIR/N.log, its
# exit status in DIR/N.rc; the log shown under DIR/lock.
if [ "${1:-}" = --one ]; then
    dir=$2 n=$3 t=$4 start=$(date +%s)
    case "$t" in
        *.sh) sh "$t" ;;
        *) "$t" ;;
    esac >"$dir/$n.log" 2>&1 </dev/null
    echo "$?" >"$dir/$n.rc"
    flock "$dir/lock" sh -c 'echo "  TEST    $1 ($2 s)"; cat "$3"' sh "$t" \
        "$(($(date +%s) - start))" "$dir/$n.log"
    exit 0
fi

case $HF_TEST_JOBS in
    ''|*[!0-9]*|0) echo "run-all.sh: HF_TEST_JOBS must be a number from 1" >&2
                   exit 1 ;;
esac
# Check's timeouts (a hung test) stretch with the tests sharing the cores.
: "${CK_TIMEOUT_MULTIPLIER:=$HF_TEST_JOBS}"
export CK_TIMEOUT_MULTIPLIER
dir=$(mktemp -d) || exit 1
trap 'rm -rf "$dir"' EXIT
trap 'exit 1' INT TERM

n=0
for t in "$@"; do
    n=$((n + 1))
    printf '%s %s\n' "$n" "$t"
done | xargs -P "$HF_TEST_JOBS" -L 1 sh "$0" --one "$dir"

passed=0
failed=0
failed_names=""
n=0
for t in "$@"; do
    n=$((n + 1))
    if [ "$(cat "$dir/$n.rc" 2>/dev/null)" = 0 ]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        failed_names="$failed_names $t"
    fi
done
[ -n "$failed_names" ] && echo "failed:$failed_names"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
