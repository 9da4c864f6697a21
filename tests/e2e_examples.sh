#!/bin/sh
# e2e_examples.sh - the library as another project meets it: `make
# install` into a scratch prefix, then examples/*.c compiled with the
# flags pkg-config gives for that prefix, linked against the installed
# shared library and run (the encoder's frames through the streaming
# decoder, from a pipe and from a TCP socket).
#
# Run as: HF_BUILD=<build dir> sh tests/e2e_examples.sh. make check sets
# HF_CC and HF_SAN (the compiler and sanitizer setting of the build).
: "${HF_BUILD:=build}"
: "${HF_CC:=cc}"
: "${HF_SAN:=}"
SRC=$(cd "$(dirname "$0")/.." && pwd)
case $HF_BUILD in
/*) ;;
*) HF_BUILD=$SRC/$HF_BUILD ;;
esac
. "$SRC/tests/e2e_lib.sh"
e2e_setup e2e_examples
T=$TMP
summary() {
    e2e_summary e2e_examples
    exit
}

P=$T/prefix
LIB=$P/lib
version=$(sed -n 's/^#define HF_VERSION "\(.*\)"$/\1/p' "$SRC/codec/hframe.h")

# ------------------------------------------------------------ install
# Everything under the scratch prefix: the units too (their default is
# systemd's own folder, whatever PREFIX is), and the machine's linker
# cache left alone.
if ! env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS make -s --no-print-directory \
        -C "$SRC" O="$HF_BUILD" CC="$HF_CC" SAN="$HF_SAN" PREFIX="$P" \
        SYSTEMDUNITDIR="$P/units" LDCONFIG=: install >"$T/install.log" \
        2>&1; then
    fail "make install PREFIX=$P"
    sed 's/^/        /' "$T/install.log"
    summary
fi
check "real file libhframe.so.$version" test -f "$LIB/libhframe.so.$version"
check "libhframe.so.0 -> libhframe.so.$version" \
    test "$(readlink "$LIB/libhframe.so.0")" = "libhframe.so.$version"
check "libhframe.so -> libhframe.so.$version" \
    test "$(readlink "$LIB/libhframe.so")" = "libhframe.so.$version"
check "man page libhframe.3 installed" \
    test -f "$P/share/man/man3/libhframe.3"
check "man hf_encode: a link to libhframe.3" \
    test "$(readlink "$P/share/man/man3/hf_encode.3")" = libhframe.3
check "the service unit goes to SYSTEMDUNITDIR, running the prefix's binary" \
    grep -q "^ExecStart=$P/sbin/hframe-gateway " \
    "$P/units/hframe-gateway.service"
check "the socket unit goes to SYSTEMDUNITDIR" \
    test -f "$P/units/hframe-gateway.socket"

# ------------------------------------------------------------ pkg-config
export PKG_CONFIG_PATH="$LIB/pkgconfig"
# pkg-config's output, blanks normalised.
# shellcheck disable=SC2046
pc() { echo $(pkg-config "$@"); }
check "hframe.pc: version $version" \
    test "$(pkg-config --modversion hframe)" = "$version"
check "hframe.pc: --cflags names the prefix" \
    test "$(pc --cflags hframe)" = "-I$P/include"
check "hframe.pc: --libs" \
    test "$(pc --libs hframe)" = "-L$LIB -lhframe"
check "hframe.pc: --static adds yajl" \
    test "$(pc --static --libs hframe)" = "-L$LIB -lhframe -lyajl"
check "hframe.pc: requires nothing" \
    test -z "$(pkg-config --print-requires --print-requires-private hframe)"
check "hframe.pc: paths relative to \${prefix}" \
    grep -q '^libdir=${prefix}/lib$' "$LIB/pkgconfig/hframe.pc"

# ------------------------------------------------------------ build
san=""
[ "$HF_SAN" = 1 ] && san="-fsanitize=address,undefined -fno-sanitize-recover=all"
for ex in encode decode_stream; do
    # shellcheck disable=SC2046,SC2086
    if $HF_CC -std=c11 -Wall -Wextra -Werror $san -o "$T/$ex" \
            "$SRC/examples/$ex.c" $(pkg-config --cflags --libs hframe) \
            2>"$T/$ex.log"; then
        ok "examples/$ex.c builds through pkg-config"
    else
        fail "examples/$ex.c builds through pkg-config"
        sed 's/^/        /' "$T/$ex.log"
    fi
done
[ -x "$T/encode" ] && [ -x "$T/decode_stream" ] || summary
check "decode_stream needs libhframe.so.0" \
    sh -c "readelf -d '$T/decode_stream' | grep -q 'NEEDED.*\\[libhframe.so.0\\]'"
export LD_LIBRARY_PATH="$LIB"

# ------------------------------------------------------------ run
head -c 1000 /dev/zero | tr '\0' 'x' >"$T/big"
{
    printf 'hello' | "$T/encode" text/plain lang=en
    "$T/encode" application/octet-stream </dev/null
    "$T/encode" application/octet-stream <"$T/big"
} >"$T/frames"
check "encode writes three frames" test -s "$T/frames"
cat >"$T/expected" <<'END'
header: little, text/plain, binary, 5 content bytes
  lang: en
frame 1: 5 content bytes received
header: little, application/octet-stream, binary, 0 content bytes
frame 2: 0 content bytes received
header: little, application/octet-stream, binary, 1000 content bytes
frame 3: 1000 content bytes received
END
if [ "$(printf '\001' | od -An -t x2 | tr -d ' ')" != 0001 ]; then
    sed 's/little/big/' "$T/expected" >"$T/x" && mv "$T/x" "$T/expected"
fi

"$T/decode_stream" <"$T/frames" >"$T/out.pipe" 2>&1
check "decode_stream from a pipe: exit 0" test $? -eq 0
check "decode_stream from a pipe: the three frames" \
    cmp -s "$T/expected" "$T/out.pipe"

# A peer on an ephemeral loopback port sends the frames in 7-byte
# pieces, then closes.
python3 - "$T/frames" >"$T/peer.port" <<'END' &
import socket, sys, time
data = open(sys.argv[1], "rb").read()
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(1)
s.settimeout(10)
print(s.getsockname()[1], flush=True)
c, _ = s.accept()
c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
for i in range(0, len(data), 7):
    c.sendall(data[i:i + 7])
    if i % 70 == 0:
        time.sleep(0.001)
c.close()
END
peer=$!
PIDS="$PIDS $peer"
i=0
while [ ! -s "$T/peer.port" ] && [ $i -lt 100 ]; do
    sleep 0.1
    i=$((i + 1))
done
timeout 10 "$T/decode_stream" 127.0.0.1 "$(cat "$T/peer.port")" \
    >"$T/out.sock" 2>&1
check "decode_stream from a socket: exit 0" test $? -eq 0
check "decode_stream from a socket: the three frames" \
    cmp -s "$T/expected" "$T/out.sock"
wait "$peer"

# A frame cut short is reported at the end of the input.
head -c 20 "$T/frames" | "$T/decode_stream" >"$T/out.cut" 2>&1
check "decode_stream: a cut frame exits 1" test $? -eq 1
check "decode_stream: a cut frame is reported" \
    grep -q 'truncated' "$T/out.cut"

summary
