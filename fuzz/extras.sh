#!/bin/sh
# fuzz/extras.sh MODE BUILD ARGS... - the fuzz targets beyond libFuzzer
# (see fuzz/module.mk). Each builds the harnesses in its own BUILD
# directory through make, then:
#   coverage BUILD HARNESS...   replays corpus/<harness>/ through a clang
#                               source-coverage build; prints line and
#                               branch coverage per file of codec/ and of
#                               every gateway/ file the harnesses link,
#                               and a total for each of the two folders
#                               they link files of (HTML in BUILD/html)
#   afl BUILD SECONDS HARNESS   AFL++ (afl-clang-fast, ASan), one harness
#                               for SECONDS; installs Debian's afl++ first
#                               when missing
#   m32 BUILD HARNESS...        a 32-bit (-m32) replay of the corpus;
#                               installs gcc-multilib and the i386 yajl
#                               and jansson packages first when missing
#   valgrind BUILD HARNESS...   the replay of the corpus under memcheck
set -eu
mode=$1 build=$2
shift 2
MAKE=${MAKE:-make}

# Install Debian packages that are missing (no-op when present).
need_pkgs() {
    missing=""
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
            grep -q 'install ok installed' || missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    echo "  DEPS   $missing"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq || true
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends $missing
}

replay_bins() {
    for h in "$@"; do
        printf '%s ' "$build/fuzz/replay_$h"
    done
}

case "$mode" in
coverage)
    need_pkgs llvm-14
    prof="-fprofile-instr-generate -fcoverage-mapping"
    # shellcheck disable=SC2046
    $MAKE --no-print-directory O="$build" CC=clang CFLAGS="-O0 -g $prof" \
        LDFLAGS="$prof" $(replay_bins "$@")
    rm -rf "$build/prof"
    mkdir -p "$build/prof"
    objs=""
    for h in "$@"; do
        LLVM_PROFILE_FILE="$build/prof/$h-%p.profraw" \
            "$build/fuzz/replay_$h" "corpus/$h" > /dev/null
        if [ -z "$objs" ]; then
            objs="$build/fuzz/replay_$h"
        else
            objs="$objs -object $build/fuzz/replay_$h"
        fi
    done
    llvm-profdata-14 merge -sparse "$build"/prof/*.profraw \
        -o "$build/corpus.profdata"
    # The sources the binaries were built from (absolute paths). Only
    # those are named to llvm-cov: given none of the files it is asked
    # about, it reports every file (the harnesses' own too), so a
    # folder the harnesses do not link would get a bogus total.
    # shellcheck disable=SC2086
    linked=$(llvm-cov-14 export -format=lcov -summary-only $objs \
        -instr-profile="$build/corpus.profdata" | sed -n 's/^SF://p')
    # The .c files of folder $1 among them, relative.
    linked_in() {
        for f in "$1"/*.c; do
            if printf '%s\n' "$linked" | grep -q "/$f\$"; then
                printf '%s ' "$f"
            fi
        done
    }
    codec_srcs=$(linked_in codec)
    gw_srcs=$(linked_in gateway)
    # shellcheck disable=SC2086
    llvm-cov-14 report $objs -instr-profile="$build/corpus.profdata" \
        -show-branch-summary $codec_srcs $gw_srcs | tee "$build/report.txt"
    # shellcheck disable=SC2086
    llvm-cov-14 show $objs -instr-profile="$build/corpus.profdata" \
        -format=html -show-branches=count -output-dir="$build/html" \
        $codec_srcs $gw_srcs
    # The total of folder $1, whose linked files are $2, if any.
    folder_total() {
        [ -n "$2" ] || return 0
        echo "$1/ only:"
        # shellcheck disable=SC2086
        llvm-cov-14 report $objs -instr-profile="$build/corpus.profdata" \
            -show-branch-summary $2 | tail -1
    }
    folder_total codec "$codec_srcs"
    folder_total gateway "$gw_srcs"
    echo "HTML: $build/html/index.html"
    ;;
afl)
    secs=$1 h=$2
    command -v afl-clang-fast > /dev/null || need_pkgs afl++
    AFL_USE_ASAN=1 AFL_USE_UBSAN=1 $MAKE --no-print-directory \
        O="$build" CC=afl-clang-fast CFLAGS="-O1 -g" \
        LIB_FUZZING_ENGINE=-fsanitize=fuzzer "$build/fuzz/$h"
    out=$build/out-$h
    rm -rf "$out"
    echo "  AFL     $h (${secs}s)"
    AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 \
    AFL_NO_UI=1 AFL_NO_AFFINITY=1 \
        afl-fuzz -V "$secs" -i "corpus/$h" -o "$out" \
        -x fuzz/hframe.dict -- "$build/fuzz/$h" > "$build/afl-$h.log" 2>&1 ||
        { tail -20 "$build/afl-$h.log"; exit 1; }
    stats=$out/default/fuzzer_stats
    grep -E '^(execs_done|execs_per_sec|corpus_count|saved_crashes|saved_hangs|bitmap_cvg) ' "$stats"
    crashes=$(sed -n 's/^saved_crashes *: *//p' "$stats")
    if [ "${crashes:-0}" -gt 0 ]; then
        echo "afl: crashes in $out/default/crashes/" \
             "(reproduce: $build/fuzz/$h FILE)" >&2
        exit 1
    fi
    ;;
m32)
    arch=i386
    dpkg --print-foreign-architectures | grep -qx "$arch" || {
        dpkg --add-architecture "$arch"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq || true
    }
    need_pkgs gcc-multilib "libyajl-dev:$arch" "libjansson-dev:$arch"
    pc="env PKG_CONFIG_LIBDIR=/usr/lib/i386-linux-gnu/pkgconfig:/usr/share/pkgconfig pkg-config"
    # shellcheck disable=SC2046
    # -Wno-type-limits: size_t-vs-2^53 checks are always false on 32 bits.
    $MAKE --no-print-directory O="$build" CC="gcc -m32" PKG_CONFIG="$pc" \
        CFLAGS="-O1 -g -Wno-type-limits" $(replay_bins "$@")
    file "$build/fuzz/replay_$1" 2>/dev/null | sed 's/,.*//' || true
    HF_BUILD=$build sh fuzz/replay.sh
    ;;
valgrind)
    need_pkgs valgrind
    # shellcheck disable=SC2046
    $MAKE --no-print-directory O="$build" CC=gcc CFLAGS="-O1 -g" \
        $(replay_bins "$@")
    status=0
    for h in "$@"; do
        echo "  VALGRIND $h"
        valgrind -q --error-exitcode=99 --leak-check=full \
            --errors-for-leak-kinds=definite,indirect \
            "$build/fuzz/replay_$h" "corpus/$h" || status=1
    done
    exit $status
    ;;
*)
    echo "usage: $0 coverage|afl|m32|valgrind BUILD ..." >&2
    exit 2
    ;;
esac
