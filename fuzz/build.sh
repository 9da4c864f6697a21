#!/bin/sh
# fuzz/build.sh - build every harness the OSS-Fuzz / ClusterFuzzLite way.
#
# Inputs (set by the OSS-Fuzz builder; defaults for a local try):
#   CC, CFLAGS          compile the C sources (sanitizers and coverage
#                       included)
#   CXX, CXXFLAGS       link every fuzzer: the engine archives of AFL++,
#                       honggfuzz and Centipede are C++
#   LIB_FUZZING_ENGINE  the engine to link (libFuzzer, AFL++, honggfuzz,
#                       Centipede, or a standalone main that replays files)
#   OUT                 where the fuzzers and their files go
#   WORK                scratch space for objects ($OUT/obj by default)
#   SRC                 when $SRC/yajl holds yajl's source tree, yajl is
#                       compiled from it with $CC $CFLAGS (needed by
#                       MemorySanitizer builds: every byte a library writes
#                       must be instrumented); else the system's is used.
#                       The same for jansson in $SRC/jansson (with cmake)
#   SANITIZER           "memory" without $SRC/jansson: the harnesses that
#                       link jansson are left out, the system's jansson
#                       being uninstrumented
# Outputs in $OUT, per harness <name>: the binary, <name>.options,
# <name>.dict and <name>_seed_corpus.zip (the files of corpus/<name>/).
# Dependencies: Debian's libyajl-dev and libjansson-dev; their static
# archives are linked when present, since the runner image has neither
# shared library.
set -eu
cd "$(dirname "$0")/.."
CC=${CC:-clang}
CXX=${CXX:-clang++}
CFLAGS=${CFLAGS:--O1 -g -fsanitize=address,undefined,fuzzer-no-link}
CXXFLAGS=${CXXFLAGS:-$CFLAGS}
LIB_FUZZING_ENGINE=${LIB_FUZZING_ENGINE:--fsanitize=fuzzer}
OUT=${OUT:-build/oss-fuzz}
WORK=${WORK:-$OUT/obj}
SRC=${SRC:-}
SANITIZER=${SANITIZER:-}
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

# yajl from source (the parser and generator only; tests and tools are
# not needed). Its public headers go to $WORK/yajl/include/yajl/, where
# <yajl/yajl_parse.h> finds them.
if [ -n "$SRC" ] && [ -f "$SRC/yajl/src/yajl_parser.c" ]; then
    echo "  YAJL    $SRC/yajl"
    y=$WORK/yajl
    rm -rf "$y"
    mkdir -p "$y/include/yajl"
    cp "$SRC"/yajl/src/api/yajl_common.h "$SRC"/yajl/src/api/yajl_parse.h \
       "$SRC"/yajl/src/api/yajl_gen.h "$SRC"/yajl/src/api/yajl_tree.h \
       "$y/include/yajl/"
    # -DNDEBUG as in yajl's release build and Debian's package. A high
    # surrogate escape followed by another escape ("\ud83d\\") makes
    # yajl_string_decode lose its place; with asserts on it aborts (seed
    # corpus/fuzz_decode/26f0055e...), the release build writes "?" and
    # the codec refuses the header as a lone surrogate anyway.
    for f in yajl yajl_alloc yajl_buf yajl_encode yajl_gen yajl_lex \
             yajl_parser yajl_tree; do
        # shellcheck disable=SC2086
        $CC $CFLAGS -DNDEBUG -I"$SRC/yajl/src" -I"$y/include" \
            -c "$SRC/yajl/src/$f.c" -o "$y/$f.o"
    done
    ar rcs "$y/libyajl.a" "$y"/*.o
    YAJL_CFLAGS="-I$y/include -I$y/include/yajl"
    YAJL_LIB=$y/libyajl.a
else
    YAJL_CFLAGS=$(pkg-config --cflags yajl)
    YAJL_LIB=$(lib yajl yajl)
fi
# jansson (the second JSON parser of two harnesses) likewise, through its
# CMake build, as a static library.
if [ -n "$SRC" ] && [ -f "$SRC/jansson/CMakeLists.txt" ]; then
    echo "  JANSSON $SRC/jansson"
    j=$WORK/jansson
    rm -rf "$j"
    if ! { cmake -S "$SRC/jansson" -B "$j" -DCMAKE_BUILD_TYPE=Release \
               -DCMAKE_C_COMPILER="$CC" -DCMAKE_C_FLAGS="$CFLAGS" \
               -DJANSSON_BUILD_DOCS=OFF -DJANSSON_EXAMPLES=OFF \
               -DJANSSON_WITHOUT_TESTS=ON -DJANSSON_INSTALL=OFF &&
           cmake --build "$j"; } >"$WORK/jansson.log" 2>&1; then
        tail -20 "$WORK/jansson.log"
        exit 1
    fi
    JANSSON_CFLAGS="-I$j/include"
    JANSSON_LIB=$j/lib/libjansson.a
    jansson_from_source=1
else
    JANSSON_CFLAGS=$(pkg-config --cflags jansson 2>/dev/null || true)
    JANSSON_LIB=$(lib jansson jansson)
    jansson_from_source=0
fi
INC="-Icodec -Igateway -Iutil -Ifuzz $YAJL_CFLAGS $JANSSON_CFLAGS"
STD="-std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE"

# The codec, the gateway's sans-I/O core and the shared helpers: the list
# fuzz/module.mk links the harnesses with.
link_srcs=$(make -s --no-print-directory fuzz-link-srcs)
objs=""
for src in $link_srcs; do
    obj=$WORK/$(echo "$src" | tr / _).o
    # shellcheck disable=SC2086
    $CC $CFLAGS $STD $INC -c "$src" -o "$obj"
    objs="$objs $obj"
done

for src in fuzz/fuzz_*.c; do
    name=$(basename "$src" .c)
    [ "$name" = fuzz_util ] && continue
    libs=$YAJL_LIB
    if grep -q '<jansson.h>' "$src"; then
        if [ "$SANITIZER" = memory ] && [ "$jansson_from_source" = 0 ]; then
            echo "  SKIP    $name (links the system's jansson)"
            continue
        fi
        libs="$JANSSON_LIB $YAJL_LIB"
    fi
    echo "  FUZZER  $OUT/$name"
    # shellcheck disable=SC2086
    $CC $CFLAGS $STD $INC -c "$src" -o "$WORK/$name.o"
    # shellcheck disable=SC2086
    $CXX $CXXFLAGS "$WORK/$name.o" $objs $libs $LIB_FUZZING_ENGINE \
        -o "$OUT/$name"
    cp fuzz/hframe.dict "$OUT/$name.dict"
    if [ -f "fuzz/$name.options" ]; then
        cp "fuzz/$name.options" "$OUT/"
    fi
    rm -f "$OUT/${name}_seed_corpus.zip"
    if [ -d "corpus/$name" ] && [ -n "$(ls "corpus/$name")" ]; then
        zip -q -j "$OUT/${name}_seed_corpus.zip" "corpus/$name"/*
    fi
done
