#!/bin/sh
# fuzz/engines.sh - fuzz/build.sh run the way OSS-Fuzz runs it, with three
# engines, and what it builds tried out.
#
#   sh fuzz/engines.sh BUILD [SECONDS [ENGINE...]]
#
#   libfuzzer   clang, ASan + UBSan, -fsanitize=fuzzer: every fuzzer runs
#               its seed corpus (the zip build.sh wrote) once, with the
#               flags of its .options file and its dictionary (-runs=0)
#   afl         afl-clang-fast(++), ASan + UBSan, AFL++'s libFuzzer-
#               compatible driver (libAFLDriver.a): every fuzzer runs each
#               of its seed files through the driver, then afl-fuzz runs
#               it for SECONDS (5) on that corpus with the dictionary
#   standalone  clang, ASan + UBSan, fuzz/replay_main.c as the engine (a
#               plain main that replays files): every seed corpus replayed
#
# Each engine builds into BUILD/<engine>/ with the OSS-Fuzz variables (CC,
# CXX, CFLAGS, CXXFLAGS, LIB_FUZZING_ENGINE, OUT, WORK), and every harness
# must come out with its binary, .options, .dict and a seed zip holding
# exactly corpus/<name>/. ENGINE... restricts the run (default: all
# three). Exit status 1 on the first failure.
set -eu
cd "$(dirname "$0")/.."
BUILD=$1
SECONDS_EACH=${2:-5}
shift
[ $# -gt 0 ] && shift
ENGINES=${*:-libfuzzer afl standalone}
SAN="-fsanitize=address,undefined -fno-sanitize-recover=all"
AFL_DRIVER=${AFL_DRIVER:-/usr/lib/afl/libAFLDriver.a}
HARNESSES=$(ls fuzz/fuzz_*.c | sed 's|fuzz/\(.*\)\.c|\1|' | grep -v '^fuzz_util$')
mkdir -p "$BUILD"
BUILD=$(cd "$BUILD" && pwd)

# build ENGINE: fuzz/build.sh with the engine's variables (set by the
# caller in the environment), log in BUILD/ENGINE.log.
build() {
    out=$BUILD/$1
    rm -rf "$out"
    mkdir -p "$out"
    echo "  BUILD   $1 (fuzz/build.sh)"
    if ! OUT=$out WORK=$out/obj sh fuzz/build.sh >"$BUILD/$1.log" 2>&1; then
        tail -30 "$BUILD/$1.log"
        echo "engines: fuzz/build.sh failed for $1" >&2
        exit 1
    fi
}

# outputs ENGINE NAME: build.sh's files for harness NAME, and its seed
# corpus unpacked in BUILD/ENGINE/seeds/NAME.
outputs() {
    out=$BUILD/$1
    for f in "$2" "$2.options" "$2.dict" "${2}_seed_corpus.zip"; do
        if [ ! -s "$out/$f" ]; then
            echo "engines: $1: no $out/$f" >&2
            exit 1
        fi
    done
    rm -rf "$out/seeds/$2"
    mkdir -p "$out/seeds/$2"
    unzip -q "$out/${2}_seed_corpus.zip" -d "$out/seeds/$2"
    if ! diff -r "corpus/$2" "$out/seeds/$2" >/dev/null; then
        echo "engines: ${2}_seed_corpus.zip differs from corpus/$2" >&2
        exit 1
    fi
}

# The [libfuzzer] section of an .options file as -name=value flags.
options() {
    sed -n '/^\[libfuzzer\]/,/^\[/s/^ *\([a-z_]*\) *= *\(.*\)$/-\1=\2/p' "$1"
}

# ------------------------------------------------------------ libFuzzer
libfuzzer() {
CC=clang CXX=clang++ CFLAGS="-O1 -g $SAN -fsanitize=fuzzer-no-link" \
CXXFLAGS="-O1 -g $SAN -fsanitize=fuzzer-no-link" \
LIB_FUZZING_ENGINE=-fsanitize=fuzzer build libfuzzer
for h in $HARNESSES; do
    outputs libfuzzer "$h"
    out=$BUILD/libfuzzer
    # shellcheck disable=SC2046
    if ! "$out/$h" $(options "$out/$h.options") -dict="$out/$h.dict" \
            -runs=0 "$out/seeds/$h" >"$out/$h.run.log" 2>&1; then
        tail -20 "$out/$h.run.log"
        echo "engines: libfuzzer: $h failed on its seeds" >&2
        exit 1
    fi
    echo "  RUN     libfuzzer $h: $(ls "$out/seeds/$h" | wc -l) seeds"
done
}

# ------------------------------------------------------------ AFL++
afl() {
CC=afl-clang-fast CXX=afl-clang-fast++ CFLAGS="-O1 -g $SAN" \
CXXFLAGS="-O1 -g $SAN" LIB_FUZZING_ENGINE=$AFL_DRIVER build afl
for h in $HARNESSES; do
    outputs afl "$h"
    out=$BUILD/afl
    if ! "$out/$h" "$out/seeds/$h"/* >"$out/$h.run.log" 2>&1; then
        tail -20 "$out/$h.run.log"
        echo "engines: afl: $h failed on its seeds" >&2
        exit 1
    fi
    rm -rf "$out/findings/$h"
    mkdir -p "$out/findings"
    AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 \
    AFL_NO_UI=1 AFL_NO_AFFINITY=1 AFL_SKIP_CRASHES=0 \
        afl-fuzz -V "$SECONDS_EACH" -i "$out/seeds/$h" -o "$out/findings/$h" \
        -x "$out/$h.dict" -- "$out/$h" >"$out/$h.afl.log" 2>&1 || {
        tail -20 "$out/$h.afl.log"
        echo "engines: afl-fuzz failed on $h" >&2
        exit 1
    }
    stats=$out/findings/$h/default/fuzzer_stats
    execs=$(sed -n 's/^execs_done *: *//p' "$stats")
    crashes=$(sed -n 's/^saved_crashes *: *//p' "$stats")
    echo "  RUN     afl $h: seeds replayed, afl-fuzz ${SECONDS_EACH}s," \
         "$execs execs, ${crashes:-0} crashes"
    if [ "${crashes:-0}" -gt 0 ]; then
        echo "engines: afl: crashes in $out/findings/$h/default/crashes/" >&2
        exit 1
    fi
done
}

# ------------------------------------------------------------ standalone
standalone() {
mkdir -p "$BUILD/standalone-main"
clang -O1 -g $SAN -std=c11 -D_POSIX_C_SOURCE=200809L -Icodec -Ifuzz \
    -c fuzz/replay_main.c -o "$BUILD/standalone-main/replay_main.o"
CC=clang CXX=clang++ CFLAGS="-O1 -g $SAN" CXXFLAGS="-O1 -g $SAN" \
LIB_FUZZING_ENGINE=$BUILD/standalone-main/replay_main.o build standalone
for h in $HARNESSES; do
    outputs standalone "$h"
    out=$BUILD/standalone
    if ! "$out/$h" "$out/seeds/$h" >"$out/$h.run.log" 2>&1; then
        tail -20 "$out/$h.run.log"
        echo "engines: standalone: $h failed on its seeds" >&2
        exit 1
    fi
    echo "  RUN     standalone $h: $(sed "s|^.*/||" "$out/$h.run.log")"
done
}

for e in $ENGINES; do
    case $e in
    libfuzzer|afl|standalone) "$e" ;;
    *) echo "engines: unknown engine $e" >&2; exit 2 ;;
    esac
done
echo "engines: every harness built and run with: $ENGINES"
