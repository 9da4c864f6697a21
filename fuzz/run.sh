#!/bin/sh
# fuzz/run.sh MODE BUILD SECONDS JOBS HARNESS...
#
# Drives the libFuzzer binaries in BUILD/fuzz/ (see fuzz/module.mk).
#   run    each harness for SECONDS with -jobs=JOBS -workers=JOBS; new
#          inputs go to BUILD/work/<harness>/corpus (corpus/<harness> is
#          read, not written, and so are the hand-made seeds of
#          fuzz/make_seeds.py, written afresh to BUILD/seeds/<harness>:
#          -merge keeps only the seeds that add coverage, and a campaign
#          starts from all of them); crashes land in fuzz/crashes/ with the
#          commands that reproduce them (the replay driver's under the
#          output folder BUILD is in, the make's O); a table is printed at
#          the end.
#   smoke  as run, and exit 1 when anything crashed (CI).
#   campaign  as run, in libFuzzer's fork mode (-fork=JOBS) with
#          -ignore_crashes=1: a crash is saved and fuzzing goes on, so a
#          long unattended run is not stopped by the first known bug.
#   merge  fold BUILD/work/<harness>/corpus into corpus/<harness>
#          (-merge=1: only inputs that add coverage, named by SHA-1).
# FUZZ_NICE=19 runs the fuzzers under nice; FUZZ_EXTRA adds flags;
# FUZZ_KNOWN (see fuzz_util.h) turns off the checks of reported bugs.
set -u
mode=$1 build=$2 secs=$3 jobs=$4
shift 4
top=$(pwd)
case "$build" in /*) ;; *) build=$top/$build ;; esac
# The make's O (BUILD is $(O)/libfuzzer), and a path as the user would
# type it: relative to the top when it is under it.
out=$(dirname "$build")
shown() {
    case "$1" in "$top"/*) echo "${1#"$top"/}" ;; *) echo "$1" ;; esac
}
crashdir=$top/fuzz/crashes
work=$build/work
mkdir -p "$crashdir" "$work"
nice_cmd=""
if [ -z "${FUZZ_KNOWN+set}" ] && [ -f "$top/fuzz/known-bugs" ]; then
    FUZZ_KNOWN=$(grep -v '^#' "$top/fuzz/known-bugs" | paste -sd, -)
    export FUZZ_KNOWN
fi
[ -n "${FUZZ_NICE:-}" ] && nice_cmd="nice -n $FUZZ_NICE"

# libFuzzer flags from fuzz/<harness>.options ([libfuzzer] section).
options() {
    [ -f "$1" ] || return 0
    sed -n '/^\[libfuzzer\]/,/^\[/s/^ *\([a-z_]*\) *= *\([^ ]*\) *$/-\1=\2/p' \
        "$1"
}

seeds=$build/seeds
if [ "$mode" != merge ]; then
    rm -rf "$seeds"
    python3 "$top/fuzz/make_seeds.py" "$seeds" > /dev/null || {
        echo "fuzz: fuzz/make_seeds.py failed" >&2
        exit 1
    }
fi

table=$work/table.txt
printf '%-22s %11s %8s %9s %7s %7s\n' harness executions exec/s \
    features corpus crashes > "$table"
crashed=0
for h in "$@"; do
    bin=$build/fuzz/$h
    if [ ! -x "$bin" ]; then
        echo "fuzz: $bin not built" >&2
        exit 1
    fi
    opts=$(options "$top/fuzz/$h.options")
    corpus=$work/$h/corpus
    mkdir -p "$corpus" "$top/corpus/$h"
    if [ "$mode" = merge ]; then
        echo "  MERGE   corpus/$h"
        ls "$top/corpus/$h" > "$work/$h/merge.before"
        # shellcheck disable=SC2086
        "$bin" -merge=1 $opts "$top/corpus/$h" "$corpus" \
            > "$work/$h/merge.log" 2>&1 || {
            tail -5 "$work/$h/merge.log"
            exit 1
        }
        grep 'MERGE-OUTER: ' "$work/$h/merge.log" | tail -1
        # Inputs that only pass because FUZZ_KNOWN hid a reported bug
        # would fail `make check`: the first 3 go to
        # corpus/crashes/<harness>/, the rest (more of the same) are
        # dropped.
        # shellcheck disable=SC2012 # names are SHA-1 hex
        ls "$top/corpus/$h" | comm -13 "$work/$h/merge.before" - | {
            kept=0
            while read -r f; do
                FUZZ_KNOWN='' "$bin" "$top/corpus/$h/$f" > /dev/null 2>&1 &&
                    continue
                if [ "$kept" -lt 3 ]; then
                    kept=$((kept + 1))
                    mkdir -p "$top/corpus/crashes/$h"
                    mv "$top/corpus/$h/$f" "$top/corpus/crashes/$h/"
                    echo "  KNOWN   corpus/crashes/$h/$f"
                else
                    rm -f "$top/corpus/$h/$f"
                fi
            done
        }
        continue
    fi
    logs=$work/$h/logs
    rm -rf "$logs"
    mkdir -p "$logs"
    ls "$crashdir" > "$logs/crashes.before"
    echo "  FUZZ    $h (${secs}s x $jobs)"
    if [ "$mode" = campaign ]; then
        par="-fork=$jobs -ignore_crashes=1"
    else
        par="-jobs=$jobs -workers=$jobs"
    fi
    mkdir -p "$seeds/$h"
    # shellcheck disable=SC2086
    (cd "$logs" && $nice_cmd "$bin" -max_total_time="$secs" $par \
        -print_final_stats=1 -timeout=10 \
        -dict="$top/fuzz/hframe.dict" -artifact_prefix="$crashdir/$h-" \
        $opts ${FUZZ_EXTRA:-} "$corpus" "$top/corpus/$h" "$seeds/$h") \
        > "$logs/driver.log" 2>&1
    if [ "$mode" = campaign ]; then
        # Fork mode: "#EXECS: cov: C ft: F corp: N exec/s R ..." lines.
        last=$(grep -E '^#[0-9]+: cov:' "$logs/driver.log" | tail -1)
        execs=$(echo "$last" | sed -n 's/^#\([0-9]*\):.*/\1/p')
        rate=$(( ${execs:-0} / secs ))
        ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
    else
        execs=$(cat "$logs"/fuzz-*.log 2>/dev/null |
            sed -n 's/^stat::number_of_executed_units: *//p' |
            awk '{ s += $1 } END { print s + 0 }')
        rate=$(cat "$logs"/fuzz-*.log 2>/dev/null |
            sed -n 's/^stat::average_exec_per_sec: *//p' |
            awk '{ s += $1 } END { print s + 0 }')
        ft=$(cat "$logs"/fuzz-*.log 2>/dev/null |
            sed -n 's/.* ft: \([0-9]*\).*/\1/p' |
            awk '$1 > m { m = $1 } END { print m + 0 }')
    fi
    size=$(find "$corpus" -type f | wc -l)
    ls "$crashdir" > "$logs/crashes.after"
    new=$(comm -13 "$logs/crashes.before" "$logs/crashes.after" |
        grep -v '\.txt$' || true)
    n=0
    for c in $new; do
        n=$((n + 1))
        asan=$(shown "$out/asan")
        {
            echo "harness: $h"
            echo "reproduce: $(shown "$build")/fuzz/$h fuzz/crashes/$c"
            echo "replay:    make O=$asan CC=clang SAN=1 fuzz-replay-bins &&"
            echo "           $asan/fuzz/replay_$h fuzz/crashes/$c"
            echo "validate:  hframe validate < fuzz/crashes/$c"
            # With -jobs, driver.log repeats each job's log: one of each.
            grep -h -m1 -E 'invariant broken|runtime error|ERROR: ' \
                "$logs"/*.log 2>/dev/null | awk '!seen[$0]++' | head -3
        } > "$crashdir/$c.txt"
        echo "  CRASH   fuzz/crashes/$c"
        sed -n 's/^/          /p' "$crashdir/$c.txt"
    done
    crashed=$((crashed + n))
    printf '%-22s %11s %8s %9s %7s %7s\n' "$h" "$execs" "$rate" "$ft" \
        "$size" "$n" >> "$table"
done
[ "$mode" = merge ] && exit 0
echo
cat "$table"
if [ "$mode" = smoke ] && [ "$crashed" -gt 0 ]; then
    echo "fuzz-smoke: $crashed crash(es), see fuzz/crashes/" >&2
    exit 1
fi
exit 0
