#!/bin/sh -eu
# fuzz/build.sh - build every harness the OSS-Fuzz / ClusterFuzzLite way.
#
# Inputs (set by the OSS-Fuzz builder; defaults for a local try):
#   CC, CFLAGS          compiler and flags, sanitizers and coverage included
#   LIB_FUZZING_ENGINE  the engine to link (libFuzzer, AFL++, honggfuzz...)
#   OUT                 where the fuzzers and their files go
# Outputs in $OUT, per harness <name>: the binary, <name>.options,
# <name>.dict and <name>_seed_corpus.zip (corpus/<name>/).
# Dependencies: Debian's libyajl-dev and libjansson-dev; their static
# archives are linked when present, since the runner image has neither
# shared library.
cd "$(dirname "$0")/.."
CC=${CC:-clang}
CFLAGS=${CFLAGS:--O1 -g -fsanitize=address,undefined,fuzzer-no-link}
LIB_FUZZING_ENGINE=${LIB_FUZZING_ENGINE:--fsanitize=fuzzer}
OUT=${OUT:-build/oss-fuzz}
WORK=${WORK:-$OUT/obj}
mkdir -p "$OUT" "$WORK"

# A static archive when the system has one, else the shared library.
lib() {
    dir=$(pkg-config --variable=libdir "$1" 2>/dev/null ||
          echo /usr/lib/x86_64-linux-gnu)
    for a in "$dir/lib$2.a" "$dir/lib${2}_s.a"; do
        if [ -f "$a" ]; then
            echo "$a"
            return
        fi
    done
    echo "-l$2"
}
YAJL_LIB=$(lib yajl yajl)
JANSSON_LIB=$(lib jansson jansson)
INC="-Icodec -Igateway -Ifuzz $(pkg-config --cflags yajl jansson)"
STD="-std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE"

# The codec, the gateway's sans-I/O core (as in gateway/module.mk) and the
# shared helpers.
objs=""
for src in codec/*.c gateway/gw_buf.c gateway/gw_json.c gateway/gw_index.c \
           gateway/gw_handler.c gateway/gw_conn.c gateway/gw_proxy.c \
           fuzz/fuzz_util.c; do
    [ -f "$src" ] || continue
    obj=$WORK/$(echo "$src" | tr / _).o
    # shellcheck disable=SC2086
    $CC $CFLAGS $STD $INC -c "$src" -o "$obj"
    objs="$objs $obj"
done

for src in fuzz/fuzz_*.c; do
    name=$(basename "$src" .c)
    [ "$name" = fuzz_util ] && continue
    echo "  FUZZER  $OUT/$name"
    # shellcheck disable=SC2086
    $CC $CFLAGS $STD $INC -c "$src" -o "$WORK/$name.o"
    # shellcheck disable=SC2086
    $CC $CFLAGS $LIB_FUZZING_ENGINE "$WORK/$name.o" $objs \
        $JANSSON_LIB $YAJL_LIB -o "$OUT/$name"
    cp fuzz/hframe.dict "$OUT/$name.dict"
    [ -f "fuzz/$name.options" ] && cp "fuzz/$name.options" "$OUT/"
    rm -f "$OUT/${name}_seed_corpus.zip"
    if [ -d "corpus/$name" ] && [ -n "$(ls "corpus/$name")" ]; then
        zip -q -j "$OUT/${name}_seed_corpus.zip" "corpus/$name"/*
    fi
done
