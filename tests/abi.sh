#!/bin/sh
# abi.sh - what libhframe.so exports, checked against hframe.h:
#   - the library's defined dynamic symbols are exactly the functions
#     hframe.h declares with HF_EXPORT, each with the version HFRAME_0
#     (the version definition HFRAME_0 itself aside);
#   - codec/hframe.map, debian/libhframe0.symbols and the NAME section
#     of docs/libhframe.3 list the same functions, and libhframe.a
#     defines no other global symbol;
#   - the soname is libhframe.so.<HF_VERSION_MAJOR>, the file name
#     libhframe.so.<HF_VERSION>, and HF_VERSION spells out
#     HF_VERSION_MAJOR.HF_VERSION_MINOR.HF_VERSION_PATCH.
#
# Run as: HF_BUILD=<build dir> sh tests/abi.sh (needs binutils' readelf).
: "${HF_BUILD:=build}"
SRC=$(cd "$(dirname "$0")/.." && pwd)
H=$SRC/codec/hframe.h
. "$SRC/tests/e2e_lib.sh"
e2e_setup abi
T=$TMP

macro() { sed -n "s/^#define $1 \\(.*\\)\$/\\1/p" "$H"; }

major=$(macro HF_VERSION_MAJOR)
minor=$(macro HF_VERSION_MINOR)
patch=$(macro HF_VERSION_PATCH)
version=$(macro HF_VERSION | tr -d '"')
if [ "$version" = "$major.$minor.$patch" ]; then
    ok "HF_VERSION $version matches its parts"
else
    fail "HF_VERSION $version, parts $major.$minor.$patch"
fi

LIB=$HF_BUILD/libhframe.so.$version
if [ ! -f "$LIB" ]; then
    fail "no $LIB"
    e2e_summary abi
    exit
fi

soname=$(readelf -d "$LIB" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
if [ "$soname" = "libhframe.so.$major" ]; then
    ok "soname $soname"
else
    fail "soname '$soname', expected libhframe.so.$major"
fi

# Declared: every "HF_EXPORT <type> name(" of the header.
sed -n 's/^HF_EXPORT .*[ *]\(hf_[a-z0-9_]*\)(.*/\1/p' "$H" | sort >"$T/declared"
# Listed in the version script.
sed -n 's/^ *\(hf_[a-z0-9_]*\);$/\1/p' "$SRC/codec/hframe.map" | sort >"$T/mapped"
# Exported: defined dynamic symbols, name@@version.
readelf --dyn-syms -W "$LIB" |
    awk '$7 != "UND" && $8 != "" && $1 ~ /^[0-9]+:$/ { print $8 }' |
    grep -v '^HFRAME_0$' | sort >"$T/exported"

if [ "$(wc -l <"$T/declared")" -gt 0 ] &&
   cmp -s "$T/declared" "$T/mapped"; then
    ok "codec/hframe.map lists the $(wc -l <"$T/declared") HF_EXPORT functions"
else
    fail "codec/hframe.map and hframe.h differ:"
    diff "$T/declared" "$T/mapped" | sed 's/^/        /'
fi

# The Debian symbols file: the same functions (and the version node).
sed -n 's/^ \(hf_[a-z0-9_]*\)@HFRAME_0 .*/\1/p' \
    "$SRC/debian/libhframe0.symbols" | sort >"$T/debian"
if cmp -s "$T/declared" "$T/debian" &&
   grep -q '^ HFRAME_0@HFRAME_0 ' "$SRC/debian/libhframe0.symbols"; then
    ok "debian/libhframe0.symbols lists the same functions"
else
    fail "debian/libhframe0.symbols and hframe.h differ:"
    diff "$T/declared" "$T/debian" | sed 's/^/        /'
fi

sed 's/$/@@HFRAME_0/' "$T/declared" >"$T/expected"
if cmp -s "$T/expected" "$T/exported"; then
    ok "exports are exactly hframe.h's functions, all @@HFRAME_0"
else
    fail "exports differ from hframe.h (< expected, > exported):"
    diff "$T/expected" "$T/exported" | sed 's/^/        /'
fi

# The static library: its global symbols are the same functions (the
# internal ones are local, so they cannot clash with a program's names).
if [ -f "$HF_BUILD/libhframe.a" ]; then
    nm -g --defined-only "$HF_BUILD/libhframe.a" |
        awk 'NF == 3 { print $3 }' | sort >"$T/static"
    if cmp -s "$T/declared" "$T/static"; then
        ok "libhframe.a's global symbols are exactly hframe.h's functions"
    else
        fail "libhframe.a's global symbols differ (< declared, > global):"
        diff "$T/declared" "$T/static" | sed 's/^/        /'
    fi
fi

# libhframe(3) names every function in its NAME section (the installed
# links, man hf_encode, point there).
sed -n '/^\.Sh NAME/,/^\.Nd/s/^\.Nm \(hf_[a-z0-9_]*\).*/\1/p' \
    "$SRC/docs/libhframe.3" | sort >"$T/named"
if cmp -s "$T/declared" "$T/named"; then
    ok "libhframe(3) names every function"
else
    fail "libhframe(3) NAME and hframe.h differ:"
    diff "$T/declared" "$T/named" | sed 's/^/        /'
fi

# Every function the header declares carries HF_EXPORT.
if grep -E '^(const |void|hf_status|size_t|uint64_t|int|hf_byteorder)[^;{(]*hf_[a-z0-9_]*\(' "$H" >"$T/bare"; then
    fail "declared without HF_EXPORT:"
    sed 's/^/        /' "$T/bare"
else
    ok "every function in hframe.h carries HF_EXPORT"
fi

e2e_summary abi
