#!/bin/sh
# deb.sh - the Debian packages.
#
#   sh tests/deb.sh build DIR   copies the working tree (files git tracks
#                               or would track) to DIR/hframe-VERSION,
#                               runs dpkg-buildpackage -us -uc -b there
#                               and lintian on the result: the .deb files
#                               end up in DIR; fails on a lintian error.
#   sh tests/deb.sh check DIR   installs the packages of DIR on a clean
#                               Debian root (DIR/root, made by debootstrap
#                               once and kept as DIR/root.tar) and checks
#                               there: hframe-gateway --version, a search
#                               through hframe request, and
#                               examples/decode_stream.c compiled against
#                               libhframe-dev through pkg-config.
#
# Needs dpkg-dev, debhelper and lintian (build), debootstrap (check),
# and root for the chroot; `make deb-deps` installs them.
set -eu
mode=$1
DIR=$2
SRC=$(cd "$(dirname "$0")/.." && pwd)
version=$(sed -n 's/^#define HF_VERSION "\(.*\)"$/\1/p' "$SRC/codec/hframe.h")
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)

build() {
    tree=$DIR/hframe-$version
    rm -rf "$tree" "$DIR"/*.deb "$DIR"/*.changes "$DIR"/*.buildinfo
    mkdir -p "$tree"
    (cd "$SRC" && git ls-files -z --cached --others --exclude-standard |
        tar cf - --null -T -) | (cd "$tree" && tar xf -)
    (cd "$tree" && dpkg-buildpackage -us -uc -b -j2) >"$DIR/build.log" 2>&1 || {
        tail -40 "$DIR/build.log"
        echo "deb: dpkg-buildpackage failed (log: $DIR/build.log)"
        exit 1
    }
    grep -E '^dpkg-gensymbols: (warning|error)' "$DIR/build.log" &&
        { echo "deb: debian/libhframe0.symbols is out of date"; exit 1; }
    ls "$DIR"/*.deb
    # lintian exits non-zero on errors; warnings are shown too.
    lintian --fail-on error,warning --suppress-tags \
        initial-upload-closes-no-bugs "$DIR"/*.changes
    echo "deb: packages in $DIR, lintian clean"
}

check() {
    root=$DIR/root
    if [ ! -f "$DIR/root.tar" ]; then
        rm -rf "$root"
        debootstrap --variant=minbase bookworm "$root" \
            "${DEB_MIRROR:-http://deb.debian.org/debian}" >"$DIR/debootstrap.log"
        tar cf "$DIR/root.tar" -C "$root" .
    else
        rm -rf "$root"
        mkdir -p "$root"
        tar xf "$DIR/root.tar" -C "$root"
    fi
    mkdir -p "$root/tmp/debs"
    cp "$DIR"/*.deb "$root/tmp/debs/"
    cp "$SRC/examples/decode_stream.c" "$SRC/examples/encode.c" "$root/tmp/"
    trap 'umount "$root/proc" 2>/dev/null || true' EXIT
    mount -t proc proc "$root/proc"
    chroot "$root" sh -eu -c '
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends \
            /tmp/debs/*.deb gcc libc6-dev pkg-config >/dev/null
        echo "--- hframe-gateway --version"
        hframe-gateway --version
        hframe-gateway 127.0.0.1 0 --port-file /tmp/gw.port 2>/tmp/gw.log &
        gw=$!
        i=0
        while [ ! -s /tmp/gw.port ] && [ $i -lt 50 ]; do
            sleep 0.1; i=$((i + 1))
        done
        echo "--- hframe request (search)"
        hframe --version
        hframe request 127.0.0.1 "$(cat /tmp/gw.port)" search morpheus |
            tee /tmp/answer
        grep -q "white rabbit" /tmp/answer
        kill $gw
        echo "--- examples against libhframe-dev"
        cd /tmp
        cc -o decode_stream decode_stream.c $(pkg-config --cflags --libs hframe)
        cc -o encode encode.c $(pkg-config --cflags --libs hframe)
        printf hello | ./encode text/plain | ./decode_stream
    '
    echo "deb-check: ok"
}

case $mode in
build) build ;;
check) check ;;
*) echo "usage: deb.sh build|check DIR" >&2; exit 2 ;;
esac
