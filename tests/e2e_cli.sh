#!/bin/sh
# e2e_cli.sh - the `hframe` command end to end: the tutorial's golden
# frames through encode and decode, a 10,000-frame stream, the NDJSON
# round trip, every error path with its exit status and message, a
# closed or full stdout, `request` against tests/peer_server.py, and
# every example of docs/hframe.1 (and the README's request example).
#
# Run as: HF_BUILD=<build dir> sh tests/e2e_cli.sh
# Loopback only, ephemeral ports, every command under a timeout, every
# peer killed on exit.
: "${HF_BUILD:=build}"
case $HF_BUILD in
/*) ;;
*) HF_BUILD=$(pwd)/$HF_BUILD ;;
esac
SRC=$(cd "$(dirname "$0")/.." && pwd)
G=$SRC/tests/cli
HFRAME=$HF_BUILD/hframe
PEER=$SRC/tests/peer_server.py
T=$(mktemp -d)
pids=""

cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null; done
    for p in $pids; do wait "$p" 2>/dev/null; done
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# Counts live in files: checks also run in pipeline subshells.
fail() {
    echo "FAIL: $*"
    echo x >>"$T/fails"
}

ok() {
    echo x >>"$T/passes"
}

show() {
    for f in "$@"; do
        [ -s "$f" ] && sed 's/^/  | /' "$f" | head -n 10
    done
    return 0
}

# run COMMAND...: under a timeout; stdout in $T/out, stderr in $T/err,
# status in $rc. Input comes from the caller's redirection.
run() {
    timeout --foreground -k 5 30 "$@" >"$T/out" 2>"$T/err"
    rc=$?
}

# expect STATUS DESCRIPTION COMMAND...: run and check the exit status.
expect() {
    want=$1 desc=$2
    shift 2
    run "$@"
    if [ "$rc" -ne "$want" ]; then
        fail "$desc: exit $rc, expected $want"
        show "$T/out" "$T/err"
        return 1
    fi
    ok
    return 0
}

# expect_err STATUS 'STDERR FIRST LINE' DESCRIPTION COMMAND...
expect_err() {
    want=$1 line=$2 desc=$3
    shift 3
    expect "$want" "$desc" "$@" || return 1
    got=$(head -n 1 "$T/err")
    if [ "$got" != "$line" ]; then
        fail "$desc: stderr is"
        echo "  got:      $got"
        echo "  expected: $line"
        return 1
    fi
    return 0
}

# same DESCRIPTION FILE EXPECTED_FILE: byte-for-byte comparison.
same() {
    if cmp -s "$2" "$3"; then
        ok
    else
        fail "$1: output differs from $3"
        cmp "$2" "$3" | sed 's/^/  | /'
    fi
}

if [ ! -x "$HFRAME" ]; then
    echo "FAIL: $HFRAME not built"
    exit 1
fi

# ------------------------------------------------------------ golden
# The tutorial's four frames: encode makes each from its content, and
# decode turns the stream into the records, headers and contents that
# Python's json.dumps gives (tests/cli/tutorial.*).
echo '{"action":"search","value":"morpheus"}' |
    expect 0 "encode --json (tutorial request)" "$HFRAME" encode --json -b big &&
    same "encode --json (tutorial request)" "$T/out" "$G/request-search.bin"
expect 0 "encode --json (tutorial response)" \
    "$HFRAME" encode --json -b little <"$G/response-search.content" &&
    same "encode --json (tutorial response)" "$T/out" "$G/response-search.bin"
expect 0 "encode binary request" "$HFRAME" encode -b big \
    -t binary/custom-client-binary-type -e binary \
    <"$G/request-binary.content" &&
    same "encode binary request" "$T/out" "$G/request-binary.bin"
expect 0 "encode binary response" "$HFRAME" encode -b little \
    -t binary/custom-server-binary-type <"$G/response-binary.content" &&
    same "encode binary response" "$T/out" "$G/response-binary.bin"

expect 0 "decode --ndjson" "$HFRAME" decode --ndjson <"$G/tutorial.bin" &&
    same "decode --ndjson" "$T/out" "$G/tutorial.ndjson"
expect 0 "decode (default ndjson)" "$HFRAME" decode <"$G/tutorial.bin" &&
    same "decode (default ndjson)" "$T/out" "$G/tutorial.ndjson"
# Contents past the 1 MiB held in memory are spooled and written in
# pieces: a UTF-8 one (a character across the 1 MiB mark) as "text", one
# labelled utf-8 that is not (a bad byte past the mark) as "base64", and
# a short one after them, which must not see their bytes.
python3 -c '
import sys
m = 1 << 20
open(sys.argv[1] + ".t", "wb").write(b"a" * (m - 1) + "\u4e2d\"\n".encode() * 9000)
open(sys.argv[1] + ".b", "wb").write(b"a" * (m + 5) + b"\xff" + b"b" * 3000)
' "$T/spool"
printf 'short' >"$T/spool.s"
for f in t b s; do
    "$HFRAME" encode -e utf-8 --max-content 10M "$T/spool.$f" || break
done >"$T/spool.bin"
expect 0 "decode --ndjson of spooled contents" "$HFRAME" decode \
    --max-content 10M "$T/spool.bin" &&
    python3 -c '
import base64, json, sys
recs = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
want = [open(sys.argv[2] + "." + f, "rb").read() for f in "tbs"]
got = [r["text"].encode() if "text" in r else base64.b64decode(r["base64"])
       for r in recs]
kinds = ["text" in r for r in recs]
sys.exit(0 if got == want and kinds == [True, False, True] else 1)
' "$T/out" "$T/spool" 2>/dev/null && ok || fail "decode --ndjson of spooled contents"
rm -f "$T"/spool*
expect 0 "decode --header" "$HFRAME" decode --header <"$G/tutorial.bin" &&
    same "decode --header" "$T/out" "$G/tutorial.headers"
expect 0 "decode --content" "$HFRAME" decode --content <"$G/tutorial.bin" &&
    same "decode --content" "$T/out" "$G/tutorial.content"
expect 0 "encode --ndjson of the tutorial records" \
    "$HFRAME" encode --ndjson <"$G/tutorial.ndjson" &&
    same "encode --ndjson of the tutorial records" "$T/out" "$G/tutorial.bin"
expect 0 "validate tutorial" "$HFRAME" validate <"$G/tutorial.bin"
[ "$(cat "$T/out")" = 'ok: 4 frames, 593 bytes, content types: "text/json" (2), "binary/custom-client-binary-type" (1), "binary/custom-server-binary-type" (1)' ] ||
    fail "validate summary: $(cat "$T/out")"
expect 0 "validate -q" "$HFRAME" validate -q <"$G/tutorial.bin"
[ -s "$T/out" ] && fail "validate -q printed something"
expect 0 "validate empty input" "$HFRAME" validate </dev/null
[ "$(cat "$T/out")" = "ok: 0 frames, 0 bytes" ] ||
    fail "validate empty summary: $(cat "$T/out")"
expect 0 "decode empty input" "$HFRAME" decode </dev/null
[ -s "$T/out" ] && fail "decode of nothing printed something"

# Extension headers, the -H option and --json with nesting.
printf 'x' | expect 0 "encode -H" "$HFRAME" encode -b big -t a -e b \
    -H x-id=7 -H "x-note=$(printf 'caf\303\251') \"q\"" &&
    printf '\000\175{"byteorder": "big", "content-type": "a", "content-encoding": "b", "content-length": 1, "x-id": "7", "x-note": "caf\303\251 \\"q\\""}x' >"$T/want" &&
    same "encode -H" "$T/out" "$T/want"
printf '%s\n' ' [1, {"a":null,"b" : [true,false,-1.5e3,"x\u00e9\n\/"]},{},[]] ' |
    expect 0 "encode --json nesting" "$HFRAME" encode --json -b big &&
    "$HFRAME" decode --content <"$T/out" >"$T/json" &&
    printf '[1, {"a": null, "b": [true, false, -1.5e3, "x\303\251\\n/"]}, {}, []]' >"$T/want" &&
    same "encode --json nesting" "$T/json" "$T/want"
printf '' | expect 0 "encode empty content" "$HFRAME" encode -b big &&
    printf '\000\156{"byteorder": "big", "content-type": "binary/octet-stream", "content-encoding": "binary", "content-length": 0}' >"$T/want" &&
    same "encode empty content" "$T/out" "$T/want"

# ------------------------------------------------------------ streams
# 10,000 frames through encode --lines | decode --content.
seq 10000 >"$T/seq"
tr -d '\n' <"$T/seq" >"$T/seq.joined"
expect 0 "encode --lines 10000" "$HFRAME" encode --lines <"$T/seq" &&
    cp "$T/out" "$T/10k.bin"
expect 0 "decode --content 10000" "$HFRAME" decode --content <"$T/10k.bin" &&
    same "10,000 frames through --lines and --content" "$T/out" "$T/seq.joined"
timeout --foreground -k 5 30 "$HFRAME" encode --lines <"$T/seq" |
    timeout --foreground -k 5 30 "$HFRAME" decode --content >"$T/piped"
same "encode --lines | decode --content" "$T/piped" "$T/seq.joined"
expect 0 "validate 10000" "$HFRAME" validate <"$T/10k.bin"
case $(cat "$T/out") in
"ok: 10000 frames, "*) ok ;;
*) fail "validate 10000: $(cat "$T/out")" ;;
esac
# Empty lines are frames too; a last line without newline counts.
printf 'a\n\nb' | expect 0 "encode --lines empty line" "$HFRAME" encode --lines &&
    "$HFRAME" decode --header <"$T/out" | grep -c . >"$T/n" &&
    [ "$(cat "$T/n")" = 3 ] && ok || fail "encode --lines: expected 3 frames"
printf '{"a":1}\n[2,3]\n' | expect 0 "encode --lines --json" \
    "$HFRAME" encode --lines --json &&
    "$HFRAME" decode --content <"$T/out" >"$T/c" &&
    [ "$(cat "$T/c")" = '{"a": 1}[2, 3]' ] && ok ||
    fail "encode --lines --json: $(cat "$T/c")"

# Bounded memory: a 96 MiB frame goes through encode (from a pipe, so
# spooled, and from a file), decode --content and decode --ndjson, as a
# line through encode --lines, a 17 MB document through encode --json
# and a 56 MiB line through encode --lines --json, with address space
# capped at 64 MiB; its 128 MiB record
# through encode --ndjson and a 64 MiB JSON string through encode
# --json, with one copy of the string allowed. Sanitizer builds reserve
# far more, so only plain builds run it. docs/benchmarks.md has the
# 1 GiB figures.
if ! grep -q __asan_init "$HFRAME"; then
    big=$((96 * 1024 * 1024))
    capped() {
        (ulimit -v 65536 && exec timeout --foreground -k 5 60 "$@")
    }
    head -c "$big" /dev/zero | tr '\0' 'x' >"$T/big"
    cat "$T/big" | capped "$HFRAME" encode --max-content 100M >"$T/big.bin" &&
        capped "$HFRAME" decode --content --max-content 100M "$T/big.bin" |
        cmp -s - "$T/big" && ok || fail "96 MiB through encode | decode --content under 64 MiB"
    capped "$HFRAME" encode --max-content 100M -o "$T/big2.bin" "$T/big" &&
        cmp -s "$T/big.bin" "$T/big2.bin" && ok || fail "96 MiB file through encode under 64 MiB"
    capped "$HFRAME" validate -q --max-content 100M "$T/big.bin" && ok ||
        fail "96 MiB through validate under 64 MiB"
    capped "$HFRAME" decode --max-content 100M "$T/big.bin" >"$T/big.ndjson" &&
        "$HFRAME" encode --ndjson --max-content 100M "$T/big.ndjson" |
        cmp -s - "$T/big.bin" && ok || fail "96 MiB through decode --ndjson under 64 MiB"
    # A line is spooled as it is read.
    cat "$T/big" | capped "$HFRAME" encode --lines --max-content 100M |
        cmp -s - "$T/big.bin" && ok || fail "a 96 MiB line through encode --lines under 64 MiB"
    # A JSON line goes through the canonical writer as it is read: one
    # line of 56 MiB of short strings, then a short one.
    python3 -c '
import sys
sys.stdout.write("[" + ",".join(["\"ab\\n\""] * (8 << 20)) + "]\n[1,2]\n")' >"$T/big.jl"
    capped "$HFRAME" encode --lines --json --max-content 100M "$T/big.jl" |
        "$HFRAME" decode --lines --max-content 100M >"$T/big.jl.out"
    python3 -c '
import sys
a = open(sys.argv[1], "rb").read().split(b"\n")
ok = a[0] == b"[" + b", ".join([b"\"ab\\n\""] * (8 << 20)) + b"]" and a[1:] == [b"[1, 2]", b""]
sys.exit(0 if ok else 1)' "$T/big.jl.out" && ok ||
        fail "a 56 MiB JSON line through encode --lines --json under 64 MiB"
    rm -f "$T/big.jl" "$T/big.jl.out"
    # yajl parses a record's line in place and its content is decoded
    # straight into the spool file: the line (128 MiB, in a buffer
    # grown to 256 MiB) is the only copy, where the line, the string
    # and the content each took one before (640 MiB).
    (ulimit -v 307200 && exec timeout --foreground -k 5 60 \
        "$HFRAME" encode --ndjson --max-content 100M "$T/big.ndjson") |
        cmp -s - "$T/big.bin" && ok || fail "a 128 MiB record through encode --ndjson under 300 MiB"
    rm -f "$T/big.ndjson"
    # One 64 MiB string: yajl holds it whole, batches of input keep its
    # rescans linear, its canonical form goes out in slices (before: 20 s
    # and its canonical copy in memory too).
    { printf '["'; cat "$T/big" | head -c 67108864; printf '"]'; } >"$T/big.json"
    (ulimit -v 163840 && exec timeout --foreground -k 5 10 \
        "$HFRAME" encode --json --max-content 100M "$T/big.json") |
        "$HFRAME" decode --content --max-content 100M | cmp -s - "$T/big.json" &&
        ok || fail "a 64 MiB JSON string through encode --json under 160 MiB and 10 s"
    # A 17 MB JSON document: its canonical form is spooled as it is made.
    python3 -c '
import json, sys
doc = [{"k%d" % i: [i, "v\u00e9\n", None, True]} for i in range(400000)]
open(sys.argv[1], "w").write(json.dumps(doc, separators=(",", ":")))
open(sys.argv[2], "w", encoding="utf-8").write(json.dumps(doc, ensure_ascii=False))' \
        "$T/big.json" "$T/big.canon"
    capped "$HFRAME" encode --json --max-content 100M "$T/big.json" |
        "$HFRAME" decode --content --max-content 100M | cmp -s - "$T/big.canon" &&
        ok || fail "17 MB through encode --json under 64 MiB"
    rm -f "$T/big.json" "$T/big.canon"
    rm -f "$T/big" "$T/big.bin" "$T/big2.bin"
fi

# Output per frame: the first frame's header comes out while the input
# is still open. The second frame follows once it has, or after 2 s.
(
    cat "$G/request-search.bin"
    i=0
    while [ "$i" -lt 20 ] && [ ! -s "$T/early" ]; do
        sleep 0.1
        i=$((i + 1))
    done
    [ -s "$T/early" ] && : >"$T/early.seen"
    cat "$G/request-binary.bin"
) | timeout --foreground -k 5 30 "$HFRAME" decode --header >"$T/early"
if [ -e "$T/early.seen" ]; then ok; else fail "decode waited for the end of input"; fi

# One byte per write: the decoder gathers split headers.
dd if="$G/tutorial.bin" bs=1 status=none |
    timeout --foreground -k 5 30 "$HFRAME" decode >"$T/dd.out"
same "decode of a stream written byte by byte" "$T/dd.out" "$G/tutorial.ndjson"
expect_err 1 "hframe: read error: Is a directory" "read error" \
    "$HFRAME" validate <"$G"
# A named input that cannot be read is named, and the next is checked.
head -c 5 "$G/request-search.bin" >"$T/cut.bin"
expect_err 1 "hframe: $G: read error: Is a directory" \
    "read error of a named input names it" \
    "$HFRAME" validate "$G" "$T/cut.bin" &&
    sed -n 2p "$T/err" | grep -q "^hframe: $T/cut.bin: offset 5: truncated" &&
    ok || fail "validate goes on after an unreadable input: $(cat "$T/err")"

# Progress: shown on a terminal once a run lasts a second, never
# otherwise (every other test checks stderr stays empty or exact).
python3 - "$HFRAME" "$G/request-search.bin" >"$T/pty.out" 2>&1 <<'PYEOF'
import os, pty, select, subprocess, sys, time
hframe, frame_file = sys.argv[1], sys.argv[2]
frame = open(frame_file, "rb").read()
master, slave = pty.openpty()
p = subprocess.Popen([hframe, "validate"], stdin=subprocess.PIPE,
                     stdout=subprocess.PIPE, stderr=slave)
os.close(slave)
seen = b""
for _ in range(25):
    p.stdin.write(frame * 200)
    p.stdin.flush()
    time.sleep(0.1)
    while select.select([master], [], [], 0)[0]:
        seen += os.read(master, 4096)
p.stdin.close()
out = p.stdout.read()
p.wait(timeout=20)
while select.select([master], [], [], 0.2)[0]:
    try:
        chunk = os.read(master, 4096)
    except OSError:
        break
    if not chunk:
        break
    seen += chunk
ok = (p.returncode == 0 and b"hframe: validate: " in seen and
      b" frames, " in seen and out.startswith(b"ok: 5000 frames"))
print("progress ok" if ok else "progress missing: %r %r" % (seen[-200:], out))
PYEOF
grep -q '^progress ok$' "$T/pty.out" && ok || fail "validate progress: $(cat "$T/pty.out")"

# encode --json across tiny reads: escapes and surrogate pairs split.
printf '%s' '{"k\u00e9y": ["\ud83d\ude00", 1.0e-3, "\\"]}' >"$T/j"
dd if="$T/j" bs=1 status=none | timeout --foreground -k 5 30 "$HFRAME" encode --json |
    timeout --foreground -k 5 30 "$HFRAME" decode --content >"$T/j.out"
printf '{"k\303\251y": ["\360\237\230\200", 1.0e-3, "\\\\"]}' >"$T/want"
same "encode --json byte by byte" "$T/j.out" "$T/want"
printf '%s' '["\ud83d x"]' >"$T/j"
dd if="$T/j" bs=1 status=none >"$T/j.in"
expect_err 3 'hframe: not one JSON value: offset 2: \u escape is a lone surrogate' \
    "encode --json high surrogate alone" "$HFRAME" encode --json <"$T/j.in"

# ------------------------------------------------------------ NDJSON
# decode --ndjson | encode --ndjson reproduces canonical streams.
roundtrip() {
    timeout --foreground -k 5 30 "$HFRAME" decode <"$2" >"$T/rt.ndjson" &&
        timeout --foreground -k 5 30 "$HFRAME" encode --ndjson <"$T/rt.ndjson" >"$T/rt.bin"
    same "NDJSON round trip: $1" "$T/rt.bin" "$2"
}
roundtrip "tutorial" "$G/tutorial.bin"
roundtrip "10,000 frames" "$T/10k.bin"
# Every byte value, as base64 and, valid UTF-8 in utf-8, as text.
python3 -c 'import sys; sys.stdout.buffer.write(bytes(range(256)) * 3)' >"$T/bytes"
"$HFRAME" encode -b little -H x-n=1 <"$T/bytes" >"$T/bytes.bin"
printf 'tab\there "q" \\ \001\037\177 \303\251\360\237\220\260' |
    "$HFRAME" encode -e UTF-8 -t text/plain >"$T/text.bin"
cat "$T/bytes.bin" "$T/text.bin" "$G/tutorial.bin" >"$T/mixed.bin"
roundtrip "all byte values and text" "$T/mixed.bin"
"$HFRAME" decode <"$T/text.bin" | grep -q '"text": "tab\\there \\"q\\" \\\\ \\u0001\\u001f' &&
    ok || fail "decode: text record of escapes"
# Non-canonical input comes out canonical (see NDJSON RECORDS in hframe(1)).
timeout --foreground -k 5 30 "$HFRAME" decode <"$G/noncanonical.bin" |
    timeout --foreground -k 5 30 "$HFRAME" encode --ndjson >"$T/canon.bin"
same "non-canonical header re-written" "$T/canon.bin" "$G/noncanonical.canon.bin"
# A compact header that only fits because it is compact cannot be
# re-encoded: its canonical form is longer than 65535 bytes.
python3 -c '
import struct, sys
ext = ",".join("\"x%02d\":\"%s\"" % (i, "v" * 1013) for i in range(64))
h = "{\"byteorder\":\"big\",\"content-type\":\"a\",\"content-encoding\":\"b\",\"content-length\":0,%s}" % ext
assert 65535 - 140 < len(h) <= 65535, len(h)
sys.stdout.buffer.write(struct.pack(">H", len(h)) + h.encode())' >"$T/compact.bin"
expect 0 "decode a compact 64 KiB header" "$HFRAME" decode <"$T/compact.bin" &&
    cp "$T/out" "$T/compact.ndjson" &&
    expect_err 3 'hframe: line 1: header: header-too-long: header length 65623 exceeds the limit of 65535' \
        "encode --ndjson of a header too long once canonical" \
        "$HFRAME" encode --ndjson <"$T/compact.ndjson"
# Contents past the 1 MiB kept in memory are spooled: records written
# in pieces, a UTF-8 character split at the boundary, invalid UTF-8
# found at the very end, and base64 of every remainder.
python3 -c '
import sys
base = ("tab\t \"q\" \\ \u0001 \u00e9 \U0001f430 " * 40000).encode()
cut = base[:1048575] + "\U0001f430".encode() + base[:1000]
sys.stdout.buffer.write(cut)' >"$T/sp1"
{ cat "$T/sp1"; printf '\377'; } >"$T/sp2"
: >"$T/spool.bin"
for f in sp1 sp2; do
    "$HFRAME" encode -e utf-8 "$T/$f" >>"$T/spool.bin"
    "$HFRAME" encode "$T/$f" >>"$T/spool.bin"
done
for k in 0 1 2; do
    head -c $((1048576 * 2 + k)) /dev/urandom | "$HFRAME" encode >>"$T/spool.bin"
done
roundtrip "spooled contents" "$T/spool.bin"
"$HFRAME" decode "$T/spool.bin" | grep -c '}, "text": "' >"$T/n"
[ "$(cat "$T/n")" = 1 ] && ok || fail "spooled records: $(cat "$T/n") text records, expected 1"

# encode --ndjson leaves a content without escapes where it is in the
# record's line and decodes it as it writes the frame; one with escapes
# (base64 with "\/" here) is decoded into the spool file. Either way the
# errors of a long content read as those of a short one (the record is
# checked whole before its frame is written), and a missing or full
# $TMPDIR is an I/O error that says so.
python3 - "$T" <<'PYEOF'
import base64, os, sys
t = sys.argv[1]
big = bytes(range(256)) * 8193          # 2 MiB and 256 bytes
b = base64.b64encode(big).decode()
def rec(n, b64, tail='"}'):
    return ('{"header": {"byteorder": "big", "content-type": "a", '
            '"content-encoding": "b", "content-length": %d}, "base64": "%s%s'
            % (n, b64, tail))
recs = {
    "ok": rec(len(big), b),
    "len": rec(3, b),
    "char": rec(len(big), b[:1500001] + "!" + b[1500002:]),
    "pad": rec(len(big), b[:40000] + "AA==" + b[40004:]),
    "cut": rec(len(big), b[:-4], tail=""),
    "then-bad": rec(len(big), b[:1500001] + "!" + b[1500002:], tail='", x}'),
    "esc": rec(len(big), b.replace("/", "\\/")),
    "esc-char": rec(len(big), (b[:1500001] + "!" + b[1500002:]).replace("/", "\\/")),
    "esc-len": rec(3, b.replace("/", "\\/")),
    "esc-cut": rec(len(big), b[:-4].replace("/", "\\/"), tail=""),
}
for k, v in recs.items():
    open(os.path.join(t, "sp-" + k), "w").write("\n" + v + "\n")
open(os.path.join(t, "sp-ok.content"), "wb").write(big)
PYEOF
expect 0 "encode --ndjson of a spooled content" \
    "$HFRAME" encode --ndjson "$T/sp-ok" &&
    "$HFRAME" decode --content <"$T/out" | cmp -s - "$T/sp-ok.content" &&
    ok || fail "encode --ndjson of a spooled content: content differs"
expect 0 "encode --ndjson of a spooled content with escapes" \
    "$HFRAME" encode --ndjson "$T/sp-esc" &&
    "$HFRAME" decode --content <"$T/out" | cmp -s - "$T/sp-ok.content" &&
    ok || fail "encode --ndjson of a spooled content with escapes: content differs"
expect_err 3 'hframe: line 2: "base64" is not canonical base64 (character 1500001)' \
    "encode --ndjson spooled bad base64 with escapes" "$HFRAME" encode --ndjson <"$T/sp-esc-char"
expect_err 3 'hframe: line 2: content-length is 3 but the content has 2097408 bytes' \
    "encode --ndjson spooled length mismatch with escapes" \
    "$HFRAME" encode --ndjson <"$T/sp-esc-len"
[ ! -s "$T/out" ] && ok || fail "encode --ndjson wrote part of a bad spooled frame"
expect_err 3 'hframe: line 2: json-syntax: parse error: premature EOF' \
    "encode --ndjson spooled record with escapes cut short" \
    "$HFRAME" encode --ndjson <"$T/sp-esc-cut"
expect_err 3 'hframe: line 2: content exceeds the content limit' \
    "encode --ndjson spooled content with escapes above --max-content" \
    "$HFRAME" encode --ndjson --max-content 2097407 <"$T/sp-esc"
expect_err 3 'hframe: line 2: content-length is 3 but the content has 2097408 bytes' \
    "encode --ndjson spooled length mismatch" "$HFRAME" encode --ndjson <"$T/sp-len"
[ ! -s "$T/out" ] && ok || fail "encode --ndjson wrote part of a bad frame"
expect_err 3 'hframe: line 2: "base64" is not canonical base64 (character 1500001)' \
    "encode --ndjson spooled bad base64" "$HFRAME" encode --ndjson <"$T/sp-char"
expect_err 3 'hframe: line 2: "base64" is not canonical base64 (character 40002)' \
    "encode --ndjson spooled padding inside" "$HFRAME" encode --ndjson <"$T/sp-pad"
expect_err 3 'hframe: line 2: json-syntax: parse error: premature EOF' \
    "encode --ndjson spooled record cut short" "$HFRAME" encode --ndjson <"$T/sp-cut"
expect_err 3 'hframe: line 2: json-syntax: lexical error: invalid char in json text.' \
    "encode --ndjson syntax error after a bad content" \
    "$HFRAME" encode --ndjson <"$T/sp-then-bad"
expect_err 3 'hframe: line 2: content exceeds the content limit' \
    "encode --ndjson spooled content above --max-content" \
    "$HFRAME" encode --ndjson --max-content 2M <"$T/sp-ok"
expect 0 "encode --ndjson spooled content at --max-content" \
    "$HFRAME" encode --ndjson --max-content 2097408 <"$T/sp-ok"
expect_err 1 "hframe: cannot create a temporary file in $T/none: No such file or directory (contents longer than 1 MiB are held there; set TMPDIR to a writable directory)" \
    "encode --ndjson with no \$TMPDIR" \
    env TMPDIR="$T/none" "$HFRAME" encode --ndjson "$T/sp-esc"
head -c 2000000 /dev/zero | expect 1 "encode --lines, a long line with no \$TMPDIR" \
    env TMPDIR="$T/none" "$HFRAME" encode --lines
# A full disk, as a file size limit: the spool file's writes fail.
(trap '' XFSZ; ulimit -f 1024 && exec "$HFRAME" encode --ndjson "$T/sp-esc") \
    >/dev/null 2>"$T/err"
rc=$?
[ "$rc" = 1 ] && [ "$(head -n 1 "$T/err")" = "hframe: cannot write a temporary file in ${TMPDIR:-/tmp}: File too large (contents longer than 1 MiB are held there; set TMPDIR to a file system with room)" ] &&
    ok || { fail "encode --ndjson with a full \$TMPDIR: exit $rc"; show "$T/err"; }
rm -f "$T"/sp-*

# Contents exactly at --max-content round-trip, padded base64 included.
for k in 1 2 3 4 5 6; do
    head -c "$k" /dev/zero >"$T/k"
    "$HFRAME" encode --max-content "$k" <"$T/k" >"$T/k.bin"
    timeout --foreground -k 5 30 "$HFRAME" decode --max-content "$k" <"$T/k.bin" |
        timeout --foreground -k 5 30 "$HFRAME" encode --ndjson --max-content "$k" >"$T/k.rt"
    same "NDJSON round trip at --max-content $k" "$T/k.rt" "$T/k.bin"
done
# decode keeps the frame's key order; encode writes the canonical one.
expect 0 "decode --header keeps the key order" "$HFRAME" decode --header <"$G/noncanonical.bin" &&
    [ "$(cat "$T/out")" = "$(printf '{"content-length": 5, "x-n": 1.50, "byteorder": "big", "content-type": "text/plain", "content-encoding": "UTF-8", "x-s": "caf\303\251\\u0001", "x-t": true, "x-null": null}')" ] &&
    ok || fail "decode --header order: $(cat "$T/out")"
# Blank lines are skipped; base64 and text records are both accepted.
{ echo; echo '{"header": {"byteorder": "big", "content-type": "a", "content-encoding": "binary", "content-length": 3}, "text": "abc"}'; echo
  echo '{"base64": "YWJj", "header": {"byteorder": "big", "content-type": "a", "content-encoding": "binary", "content-length": 3}}'; } |
    expect 0 "encode --ndjson blank lines, text and base64" "$HFRAME" encode --ndjson &&
    "$HFRAME" validate <"$T/out" | grep -q '^ok: 2 frames' && ok ||
    fail "encode --ndjson: two frames expected"

# ------------------------------------------------------------ errors
# Stream errors: exit 1, one line with offset, code and message.
expect_err 3 'hframe: offset 130: duplicate-key: key "content-type" appears twice' \
    "validate duplicate key" "$HFRAME" validate <"$G/duplicate-key.bin"
expect_err 3 'hframe: offset 130: duplicate-key: key "content-type" appears twice' \
    "decode duplicate key" "$HFRAME" decode <"$G/duplicate-key.bin"
head -c 114 "$G/request-search.bin" >"$T/trunc"
expect_err 3 'hframe: offset 114: truncated: stream ended 12 bytes into a 41-byte content' \
    "validate truncated content" "$HFRAME" validate <"$T/trunc"
head -c 50 "$G/request-search.bin" >"$T/trunc"
expect_err 3 'hframe: offset 50: truncated: stream ended 48 bytes into a 100-byte header' \
    "validate truncated header" "$HFRAME" validate <"$T/trunc"
{ cat "$G/request-search.bin"; printf 'x'; } >"$T/trunc"
expect_err 3 'hframe: offset 144: truncated: stream ended 1 byte into the 2-byte length prefix' \
    "validate one byte left over" "$HFRAME" validate <"$T/trunc"
expect_err 3 'hframe: offset 144: truncated: stream ended 1 byte into the 2-byte length prefix' \
    "decode --content one byte left over" "$HFRAME" decode --content <"$T/trunc"
same "decode --content writes what came before the error" "$T/out" "$G/request-search.content"
printf '\000\001{' >"$T/bad"
expect 3 "validate header-too-short" "$HFRAME" validate <"$T/bad"
grep -q '^hframe: offset [0-9]*: header-too-short: ' "$T/err" && ok ||
    fail "header-too-short message: $(cat "$T/err")"
printf '\000\002[]' >"$T/bad"
expect 3 "validate not-object" "$HFRAME" validate <"$T/bad"
grep -q '^hframe: offset [0-9]*: not-object: ' "$T/err" && ok ||
    fail "not-object message: $(cat "$T/err")"
printf '\000\003{x}' >"$T/bad"
expect 3 "validate json-syntax" "$HFRAME" validate <"$T/bad"
grep -q '^hframe: offset [0-9]*: json-syntax: ' "$T/err" && ok ||
    fail "json-syntax message: $(cat "$T/err")"
printf '\000\002{}' >"$T/bad"
expect 3 "validate missing-key" "$HFRAME" validate <"$T/bad"
grep -q '^hframe: offset [0-9]*: missing-key: ' "$T/err" && ok ||
    fail "missing-key message: $(cat "$T/err")"
expect 3 "validate --max-content" "$HFRAME" validate --max-content 40 \
    <"$G/request-search.bin"
grep -q '^hframe: offset [0-9]*: content-too-long: .* (raise it with --max-content)$' "$T/err" && ok ||
    fail "content-too-long message: $(cat "$T/err")"
expect 3 "decode --max-header" "$HFRAME" decode --max-header 99 \
    <"$G/request-search.bin"
grep -q '^hframe: offset 0: header-too-long: .* (raise it with --max-header)$' "$T/err" && ok ||
    fail "header-too-long message: $(cat "$T/err")"
expect 0 "validate --max-header at the bound" "$HFRAME" validate -q \
    --max-header 100 --max-content 41 <"$G/request-search.bin"

# encode errors.
head -c 100 /dev/zero | expect_err 3 \
    'hframe: content-too-long: input exceeds the content limit of 99 bytes (raise it with --max-content)' \
    "encode above --max-content" "$HFRAME" encode --max-content 99
[ -s "$T/out" ] && fail "encode wrote a frame for refused content"
head -c 100 /dev/zero | expect 0 "encode at --max-content" \
    "$HFRAME" encode --max-content 100
printf 'abcd\nabcdef\n' | expect_err 3 \
    'hframe: line 2: longer than the content limit of 5 bytes (raise it with --max-content)' \
    "encode --lines above --max-content" "$HFRAME" encode --lines --max-content 5
echo '{"a":1} x' | expect_err 3 \
    'hframe: not one JSON value: offset 9: parse error: trailing garbage' \
    "encode --json trailing garbage" "$HFRAME" encode --json
printf '' | expect_err 3 \
    'hframe: not one JSON value: offset 0: parse error: premature EOF' \
    "encode --json empty input" "$HFRAME" encode --json
printf '%s\n' '["\ud800"]' | expect_err 3 \
    'hframe: not one JSON value: offset 2: \u escape is a lone surrogate' \
    "encode --json lone surrogate" "$HFRAME" encode --json
printf '"\355\240\200"' | expect 3 "encode --json surrogate in UTF-8" \
    "$HFRAME" encode --json
python3 -c 'print("[" * 600 + "]" * 600)' | expect_err 3 \
    'hframe: not one JSON value: offset 513: nesting deeper than 512' \
    "encode --json nesting limit" "$HFRAME" encode --json
printf '[1,2]' | expect_err 3 \
    'hframe: not one JSON value: offset 5: canonical form exceeds the content limit of 5 bytes' \
    "encode --json canonical form above the limit" \
    "$HFRAME" encode --json --max-content 5
head -c 300 /dev/zero | tr '\0' 'x' >"$T/long"
expect_err 3 'hframe: header-too-long: the canonical header is longer than the limit of 120 bytes (raise it with --max-header)' \
    "encode --max-header" "$HFRAME" encode --max-header 120 -H "x-long=$(cat "$T/long")" </dev/null
# At the most a frame can hold there is no option to raise it.
head -c 70000 /dev/zero | tr '\0' 'x' >"$T/huge-type"
expect_err 3 "hframe: header-too-long: the canonical header is longer than the limit of 65535 bytes (the most a frame's 2-byte length can give)" \
    "encode: a header no frame can hold" "$HFRAME" encode -t "$(cat "$T/huge-type")" </dev/null
# Given files, the message names the one whose frame it is, as the
# content limit's does.
expect_err 3 "hframe: $T/long: header-too-long: the canonical header is longer than the limit of 120 bytes (raise it with --max-header)" \
    "encode --max-header, a file named" "$HFRAME" encode --max-header 120 -H "x-long=$(cat "$T/long")" "$T/long"

# encode --ndjson errors: one line naming the record's line.
ndjson_err() {
    printf '%s\n' "$2" | expect_err 3 "$1" "encode --ndjson: $3" \
        "$HFRAME" encode --ndjson
}
H='"header": {"byteorder": "big", "content-type": "a", "content-encoding": "b", "content-length": 3}'
ndjson_err 'hframe: line 1: content-length is 3 but the content has 2 bytes' \
    "{$H, \"text\": \"ab\"}" "length mismatch"
ndjson_err 'hframe: line 1: "base64" is not canonical base64 (character 2)' \
    "{$H, \"base64\": \"YWJ=\"}" "non-canonical base64"
ndjson_err 'hframe: line 1: "base64" is not canonical base64 (character 2)' \
    "{$H, \"base64\": \"YW*j\"}" "bad base64 character"
ndjson_err 'hframe: line 1: unknown record member (expected "header", "text" or "base64")' \
    "{$H, \"body\": \"abc\"}" "unknown member"
ndjson_err 'hframe: line 1: record has both "text" and "base64"' \
    "{$H, \"text\": \"abc\", \"base64\": \"YWJj\"}" "text and base64"
ndjson_err 'hframe: line 1: record needs "header" and one of "text" or "base64"' \
    "{$H}" "no content"
ndjson_err 'hframe: line 1: record is not a JSON object' '[1]' "not an object"
ndjson_err 'hframe: line 1: "header" is not an object' \
    '{"header": [], "text": ""}' "header not an object"
ndjson_err 'hframe: line 1: json-syntax: parse error: premature EOF' \
    "{$H, \"text\": " "syntax error"
ndjson_err 'hframe: line 1: lone-surrogate: \u escape at column 111 is a lone surrogate' \
    "{$H, \"text\": \"a\\udc00b\"}" "lone surrogate"
ndjson_err 'hframe: line 1: header: duplicate-key: key "a" appears twice' \
    '{"header": {"byteorder": "big", "content-type": "a", "content-encoding": "b", "content-length": 0, "a": 1, "a": 2}, "text": ""}' \
    "duplicate header key"
ndjson_err 'hframe: line 1: header: nested-value: extension header "a" has an array value; only scalars are allowed' \
    '{"header": {"byteorder": "big", "content-type": "a", "content-encoding": "b", "content-length": 0, "a": [1]}, "text": ""}' \
    "nested header value"
{ printf '%s\n' "{$H, \"text\": \"abc\"}"; printf '%s\n' "{$H, \"text\": \"abcd\"}"; } |
    expect_err 3 'hframe: line 2: content-length is 3 but the content has 4 bytes' \
        "encode --ndjson second line" "$HFRAME" encode --ndjson

# Usage errors: exit 2, a message, then the usage.
usage_err() {
    want=$1
    shift
    expect_err 2 "$want" "usage: $*" "$HFRAME" "$@" </dev/null
    grep -q '^usage: hframe' "$T/err" && ok || fail "usage: $* printed no usage"
}
usage_err 'hframe: missing subcommand'
usage_err 'hframe: option --quiet takes no value' validate --quiet=yes
# Above a limit is exit 3, as the exit table says, and nothing is sent
# (port 1: nothing listens).
expect_err 3 "hframe: request: content-too-long: the request's content is 12 bytes, above the content limit of 10 bytes (raise it with --max-content)" \
    "request: content above --max-content is not sent" \
    "$HFRAME" request --max-content 10 127.0.0.1 1 binary 123456
expect_err 3 "hframe: request: header-too-long: the request's header is 126 bytes, above the header limit of 50 bytes (raise it with --max-header)" \
    "request: a header above --max-header is not sent" \
    "$HFRAME" request --max-header 50 127.0.0.1 1 binary x
usage_err "hframe: request: 'search' where the port goes: after HOST:PORT come only the action and the value" \
    request 127.0.0.1:1 search x extra
usage_err 'hframe: unknown option --nope=1' validate --nope=1
expect_err 2 "hframe: bench: option '--json' takes no value" \
    "bench: a flag given a value" "$HFRAME" bench --json=1 127.0.0.1 1
expect_err 2 "hframe: unknown subcommand 'frobnicate' (see 'hframe --help')" \
    "unknown subcommand" "$HFRAME" frobnicate
[ "$(wc -l <"$T/err")" -eq 1 ] && ok || fail "unknown subcommand: more than one line"
usage_err "hframe: invalid value '12x' for --max-content: expected a size from 0 to 9007199254740991 (bytes, or with k, M, G)" \
    encode --max-content 12x
usage_err "hframe: invalid value '-1' for --max-content: expected a size from 0 to 9007199254740991 (bytes, or with k, M, G)" \
    decode --max-content -1
usage_err "hframe: invalid value '9007199254740992' for --max-content: expected a size from 0 to 9007199254740991 (bytes, or with k, M, G)" \
    validate --max-content 9007199254740992
usage_err "hframe: invalid value ' 5' for --max-content: expected a size from 0 to 9007199254740991 (bytes, or with k, M, G)" \
    validate --max-content ' 5'
usage_err "hframe: invalid value '1' for --max-header: expected a size from 2 to 65535 (bytes, or with k, M, G)" \
    validate --max-header 1
usage_err "hframe: invalid value '64k' for --max-header: expected a size from 2 to 65535 (bytes, or with k, M, G)" \
    request --max-header 64k h 1 search b
usage_err "hframe: invalid value '' for --max-header: expected a size from 2 to 65535 (bytes, or with k, M, G)" \
    decode --max-header ''
usage_err 'hframe: unknown option --bogus' encode --bogus
usage_err 'hframe: unknown option -z' validate -z
usage_err 'hframe: option -t needs a value' encode -t
usage_err 'hframe: option --max-content needs a value' decode --max-content
usage_err 'hframe: -b: "middle" is not little or big' encode -b middle
usage_err 'hframe: -t: must be a non-empty UTF-8 string' encode -t ''
usage_err 'hframe: -H: "novalue" is not KEY=VALUE' encode -H novalue
expect 0 "encode -H with an empty key" "$HFRAME" encode -H =v -H k=a=b \
    </dev/null &&
    "$HFRAME" decode --header <"$T/out" >"$T/c" &&
    grep -qF '"": "v", "k": "a=b"' "$T/c" && ok ||
    fail "encode -H =v: $(cat "$T/c")"
usage_err 'hframe: -H: "content-type" is set with -b, -t, -e or by the content' \
    encode -H content-type=x
usage_err 'hframe: -H: key "k" given twice' encode -H k=1 -H k=2
usage_err 'hframe: encode: --ndjson takes the framing from its records; no -b, -e, -H, -t, --json or --lines' \
    encode --ndjson --lines
usage_err 'hframe: encode: --fix-length goes with --ndjson' encode --fix-length
usage_err 'hframe: decode: --ndjson, --content, --lines and --header exclude each other' \
    decode --content --header
usage_err 'hframe: request: expected host, port, action and value' \
    request 127.0.0.1 1 search
usage_err "hframe: invalid value '0' for port: expected a number from 1 to 65535" \
    request 127.0.0.1 0 search x
usage_err "hframe: invalid value '70000' for port: expected a number from 1 to 65535" \
    request 127.0.0.1:70000 search x
usage_err "hframe: request: invalid address '::1:80': an IPv6 address goes in brackets, as in [::1]:80" \
    request ::1:80 search x
usage_err "hframe: invalid value '1.2345678' for --timeout: expected a time from 0s to 86400s (seconds, or with s, ms; 0 turns it off)" \
    request --timeout 1.2345678 127.0.0.1 1 search x
usage_err "hframe: invalid value '2m' for --timeout: expected a time from 0s to 86400s (seconds, or with s, ms; 0 turns it off)" \
    request 127.0.0.1 1 search x --timeout 2m
usage_err "hframe: request: unknown action 'delete' (search or binary); --binary sends it as a binary request" \
    request 127.0.0.1 1 delete x
# Options after operands, and -- before an operand that starts with -.
printf 'x' | expect 0 "encode options after operands" "$HFRAME" encode - -b big -t a &&
    "$HFRAME" decode --header <"$T/out" | grep -qF '"byteorder": "big", "content-type": "a"' && ok ||
    fail "encode - -b big -t a"
printf 'x' >"$T/-dash"
(cd "$T" && "$HFRAME" encode -b big -- -dash) >"$T/dash.bin" &&
    "$HFRAME" decode --content "$T/dash.bin" | grep -qx x && ok || fail "encode -- -dash"
# File operands, -, -o FILE, several files each a stream of its own.
expect 0 "decode FILE" "$HFRAME" decode "$G/tutorial.bin" &&
    same "decode FILE" "$T/out" "$G/tutorial.ndjson"
expect 0 "decode -o FILE" "$HFRAME" decode -o "$T/o.ndjson" "$G/tutorial.bin" &&
    same "decode -o FILE" "$T/o.ndjson" "$G/tutorial.ndjson"
[ -s "$T/out" ] && fail "decode -o FILE wrote to stdout"
expect 0 "validate FILE FILE" "$HFRAME" validate "$G/request-search.bin" - "$G/tutorial.bin" <"$G/response-binary.bin" &&
    case $(cat "$T/out") in "ok: 6 frames, "*) ok ;; *) fail "validate 3 files: $(cat "$T/out")" ;; esac
head -c 50 "$G/request-search.bin" >"$T/cut.bin"
expect_err 3 "hframe: $T/cut.bin: offset 50: truncated: stream ended 48 bytes into a 100-byte header" \
    "validate names the bad file" "$HFRAME" validate "$T/cut.bin" "$G/tutorial.bin"
expect_err 1 "hframe: cannot open '$T/none.bin': No such file or directory" \
    "validate a missing file" "$HFRAME" validate "$T/none.bin"
expect_err 1 "hframe: cannot open '$T/no/such': No such file or directory" \
    "encode -o into a missing folder" "$HFRAME" encode -o "$T/no/such" "$G/tutorial.content"
expect 0 "encode FILE FILE: one frame each" "$HFRAME" encode -b big \
    "$G/request-binary.content" "$G/response-binary.content" &&
    "$HFRAME" validate <"$T/out" | grep -q '^ok: 2 frames' && ok || fail "encode two files"
expect 0 "encode --lines FILE" "$HFRAME" encode --lines "$T/seq" -o "$T/seq.bin" &&
    same "encode --lines FILE" "$T/seq.bin" "$T/10k.bin"

# --help: status 0, the usage on stdout, matching the man page synopsis.
for cmd in encode decode validate request bench; do
    expect 0 "$cmd --help" "$HFRAME" "$cmd" --help
    grep -q "^usage: hframe $cmd" "$T/out" && ok ||
        fail "$cmd --help: no usage line"
done
expect 0 "hframe --help" "$HFRAME" --help
for cmd in encode decode validate request bench; do
    grep -q "hframe $cmd" "$T/out" && ok || fail "hframe --help lacks $cmd"
done
expect 0 "hframe --version" "$HFRAME" --version
if command -v groff >/dev/null 2>&1; then
    # The rendered SYNOPSIS, one line per form, against each usage text.
    groff -mdoc -Tascii -P-c -P-b -P-u "$SRC/docs/hframe.1" 2>/dev/null |
        awk '/^SYNOPSIS/ {s = 1; next} /^[A-Z]/ {s = 0} s' |
        tr -s ' \n' '  ' | sed 's/ hframe /\nhframe /g' |
        sed 's/^ *//; s/ *$//' >"$T/synopsis"
    for cmd in encode decode validate request; do
        "$HFRAME" "$cmd" --help | sed '/^$/,$d; s/^usage: //' | tr -s ' \n' '  ' |
            sed 's/ hframe /\nhframe /g; s/^ *//' | sed 's/ *$//' >"$T/usage"
        while IFS= read -r form; do
            if grep -qxF "$form" "$T/synopsis"; then ok; else
                fail "$cmd usage not in the man page: $form"
            fi
        done <"$T/usage"
    done
fi

# ------------------------------------------------------------ stdout
# A reader that goes away ends the writer quietly, status 0.
{ timeout --foreground -k 5 30 "$HFRAME" decode <"$T/10k.bin" 2>"$T/pipe.err"; echo $? >"$T/pipe.rc"; } |
    head -c 1 >/dev/null
[ "$(cat "$T/pipe.rc")" = 0 ] && [ ! -s "$T/pipe.err" ] && ok ||
    fail "decode | head -c 1: status $(cat "$T/pipe.rc"), stderr: $(cat "$T/pipe.err")"
{ timeout --foreground -k 5 30 "$HFRAME" encode --lines <"$T/seq" 2>"$T/pipe.err"; echo $? >"$T/pipe.rc"; } |
    head -c 1 >/dev/null
[ "$(cat "$T/pipe.rc")" = 0 ] && [ ! -s "$T/pipe.err" ] && ok ||
    fail "encode --lines | head -c 1: status $(cat "$T/pipe.rc"), stderr: $(cat "$T/pipe.err")"
{ timeout --foreground -k 5 30 "$HFRAME" decode --content <"$T/10k.bin" 2>"$T/pipe.err"; echo $? >"$T/pipe.rc"; } |
    head -c 1 >/dev/null
[ "$(cat "$T/pipe.rc")" = 0 ] && [ ! -s "$T/pipe.err" ] && ok ||
    fail "decode --content | head -c 1: status $(cat "$T/pipe.rc")"
# A full device is an error, reported.
if [ -w /dev/full ]; then
    full_err='hframe: write error on standard output: No space left on device'
    for args in "decode" "decode --header" "decode --content" "validate" \
        "encode" "encode --ndjson" "--help" "encode --help"; do
        if [ "$args" = "encode --ndjson" ]; then in=$G/tutorial.ndjson; else in=$G/tutorial.bin; fi
        # shellcheck disable=SC2086
        timeout --foreground -k 5 30 "$HFRAME" $args <"$in" >/dev/full 2>"$T/full.err"
        frc=$?
        [ "$frc" = 1 ] && [ "$(cat "$T/full.err")" = "$full_err" ] && ok ||
            fail "$args >/dev/full: status $frc, stderr: $(cat "$T/full.err")"
    done
fi

# ------------------------------------------------------------ request
# start_peer MODE COUNT [HOST]: tests/peer_server.py on an ephemeral
# port, in $PORT; it exits after COUNT connections or 20 s.
start_peer() {
    rm -f "$T/port"
    python3 "$PEER" --mode "$1" --count "$2" --host "${3:-127.0.0.1}" \
        --lifetime 20 >"$T/port" 2>"$T/peer.err" &
    peer=$!
    pids="$pids $peer"
    i=0
    while [ "$i" -lt 100 ] && [ ! -s "$T/port" ]; do
        sleep 0.05
        i=$((i + 1))
    done
    PORT=$(head -n 1 "$T/port")
    [ -n "$PORT" ] || { fail "peer ($1) did not start"; show "$T/peer.err"; return 1; }
}

start_peer reference 1 &&
    expect 0 "request search" "$HFRAME" request 127.0.0.1 "$PORT" search morpheus &&
    [ "$(cat "$T/out")" = "Follow the white rabbit. $(printf '\360\237\220\260')" ] && ok ||
    fail "request search: $(cat "$T/out")"
start_peer reference 1 &&
    expect 0 "request binary" "$HFRAME" request 127.0.0.1 "$PORT" binary "xyz" &&
    printf 'First 10 bytes of request: binaryxyz' >"$T/want" &&
    same "request binary" "$T/out" "$T/want"
# A content type that decodes to "text/json", a NUL and more is not
# text/json: the content is printed as it came.
start_peer nul-type 1 &&
    expect 0 "request: text/json with a NUL after it is not text/json" \
        "$HFRAME" request 127.0.0.1 "$PORT" search x &&
    printf '{"result": "hi"}' >"$T/want" &&
    same "request: content type with a NUL, content as it came" "$T/out" "$T/want"
start_peer reference 1 &&
    expect 0 "request search unknown" "$HFRAME" request 127.0.0.1 "$PORT" search neo &&
    [ "$(cat "$T/out")" = "No match for 'neo'." ] && ok ||
    fail "request search neo: $(cat "$T/out")"
start_peer reference 1 &&
    expect 0 "request -v" "$HFRAME" request -v 127.0.0.1 "$PORT" search ring &&
    grep -q "^hframe: connected to 127.0.0.1 port $PORT" "$T/err" &&
    grep -qF 'hframe: sent frame: {"byteorder": ' "$T/err" &&
    grep -qF '"content-type": "text/json", "content-encoding": "utf-8", "content-length": 37} + 37 content bytes' "$T/err" &&
    grep -qF 'hframe: received frame: {"byteorder": ' "$T/err" && ok ||
    { fail "request -v trace"; show "$T/err"; }
start_peer reference 1 &&
    expect 0 "request --frame" "$HFRAME" request --frame 127.0.0.1 "$PORT" binary "ab" &&
    "$HFRAME" decode --content <"$T/out" >"$T/c" &&
    [ "$(cat "$T/c")" = "First 10 bytes of request: binaryab" ] && ok ||
    fail "request --frame: $(cat "$T/c")"
# The request frame itself is the reference client's.
start_peer reference 1 &&
    expect 0 "request --frame search" "$HFRAME" request --frame 127.0.0.1 "$PORT" search morpheus &&
    "$HFRAME" decode --header <"$T/out" | grep -qF '"content-type": "text/json", "content-encoding": "utf-8", "content-length": 43}' &&
    ok || fail "request --frame search: header"
if python3 -c 'import socket; s = socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null; then
    start_peer reference 1 ::1 &&
        expect 0 "request over IPv6" "$HFRAME" request ::1 "$PORT" search morpheus
    start_peer reference 1 ::1 &&
        expect 0 "request to [::1] PORT" "$HFRAME" request '[::1]' "$PORT" search morpheus
    start_peer reference 1 ::1 &&
        expect 0 "request to [::1]:PORT" "$HFRAME" request "[::1]:$PORT" search morpheus
fi
start_peer keepalive 1 &&
    expect 0 "request to a keep-alive server" "$HFRAME" request --timeout 5 localhost "$PORT" search ring
start_peer silent 1 &&
    expect_err 5 "hframe: response from 127.0.0.1 port $PORT: timed out after 500ms (0 response bytes received)" \
        "request to a silent server" "$HFRAME" request --timeout 500ms 127.0.0.1 "$PORT" search ring
start_peer garbage 1 &&
    expect_err 6 'hframe: offset 24: duplicate-key: key "content-type" appears twice' \
        "request with an invalid response" "$HFRAME" request 127.0.0.1 "$PORT" search ring
start_peer error 1 &&
    expect_err 7 "hframe: server error: bad-request: unknown action" \
        "request answered with an error" "$HFRAME" request 127.0.0.1 "$PORT" search ring
start_peer truncated 1 &&
    expect 6 "request with a truncated response" "$HFRAME" request 127.0.0.1 "$PORT" search ring &&
    grep -q "^hframe: 127.0.0.1 port $PORT closed the connection after [0-9]* bytes, before a complete response" "$T/err" &&
    ok || fail "truncated response message: $(cat "$T/err")"
start_peer close 1 &&
    expect 6 "request to a server that closes at once" "$HFRAME" request 127.0.0.1 "$PORT" search ring
start_peer ssh 1 &&
    expect 6 "request to an SSH server" "$HFRAME" request 127.0.0.1 "$PORT" search ring &&
    grep -qxF 'hframe: the peer does not speak hframe (it starts with "SSH-2.0-OpenSSH_")' "$T/err" &&
    ok || fail "request to an SSH server: $(cat "$T/err")"
start_peer http 1 &&
    expect 6 "request to an HTTP server" "$HFRAME" request 127.0.0.1 "$PORT" search ring &&
    grep -qxF 'hframe: the peer does not speak hframe (it starts with "HTTP/1.1 400 Bad")' "$T/err" &&
    ok || fail "request to an HTTP server: $(cat "$T/err")"
expect_err 8 "hframe: cannot resolve 'no-such-host.invalid' port '1': Name or service not known" \
    "request to a name that does not resolve" "$HFRAME" request no-such-host.invalid 1 search ring
expect_err 1 "hframe: bench: cannot resolve 'no-such-host.invalid' port '1': Name or service not known" \
    "bench to a name that does not resolve" "$HFRAME" bench -n 1 no-such-host.invalid 1
# --timeout bounds the name lookup: a name server that reads queries and
# never answers (glibc would ask it again and again for 10 s), seen only
# by this command through a private mount of /etc/resolv.conf. Needs
# root and mount namespaces; said and skipped without them.
if [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null; then
    python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.83.1.1", 53))
print("ok", flush=True)
time.sleep(20)' >"$T/dns.out" 2>"$T/dns.err" &
    dns=$!
    pids="$pids $dns"
    i=0
    while [ "$i" -lt 100 ] && [ ! -s "$T/dns.out" ]; do
        sleep 0.05
        i=$((i + 1))
    done
    echo "nameserver 127.83.1.1" >"$T/resolv.conf"
    t0=$(date +%s)
    if [ -s "$T/dns.out" ]; then
        expect_err 5 "hframe: cannot resolve 'slow.example': no answer within 300ms" \
            "request: --timeout bounds the name lookup" \
            unshare -m sh -c 'mount --bind "$1" /etc/resolv.conf && exec "$2" request --timeout 300ms slow.example 80 search x' \
            sh "$T/resolv.conf" "$HFRAME" &&
            [ $(($(date +%s) - t0)) -le 3 ] && ok ||
            fail "request: the lookup took $(($(date +%s) - t0)) s"
    else
        echo "skip: request's lookup timeout (no name server on 127.83.1.1:53)"
        show "$T/dns.err"
    fi
    kill "$dns" 2>/dev/null
else
    echo "skip: request's lookup timeout (needs root and unshare -m)"
fi
start_peer reference 1 &&
    expect 0 "request with options after operands" "$HFRAME" request 127.0.0.1 "$PORT" search morpheus --timeout 2s -v &&
    grep -q "^hframe: connected to 127.0.0.1 port $PORT" "$T/err" && ok || fail "request options after operands"
start_peer reference 1 &&
    expect 0 "request --timeout 0 (no timeout)" "$HFRAME" request --timeout 0 "127.0.0.1:$PORT" search morpheus
start_peer reference 1 &&
    expect 0 "request --binary" "$HFRAME" request --binary 127.0.0.1 "$PORT" delete xy &&
    printf 'First 10 bytes of request: deletexy' >"$T/want" &&
    same "request --binary" "$T/out" "$T/want"
# Frames are not written to a terminal unless forced (as gzip does).
if command -v script >/dev/null 2>&1; then
    script -qec "$HFRAME encode </dev/null; echo rc=\$?" /dev/null </dev/null >"$T/tty.out" 2>&1
    grep -q '^hframe: frames are binary: refusing to write them to a terminal (use -o FILE, a pipe, or -f to force)' "$T/tty.out" &&
        grep -q '^rc=2' "$T/tty.out" && ok || fail "encode to a terminal: $(cat "$T/tty.out")"
    script -qec "$HFRAME encode -f </dev/null >/dev/null; echo rc=\$?" /dev/null </dev/null >"$T/tty.out" 2>&1
    grep -q '^rc=0' "$T/tty.out" && ok || fail "encode -f to a terminal: $(cat "$T/tty.out")"
    printf 'abc' | "$HFRAME" encode >"$T/abc.bin"
    script -qec "$HFRAME decode --content $T/abc.bin" /dev/null </dev/null >"$T/tty.out" 2>&1
    [ "$(od -An -c "$T/tty.out" | tr -d ' ')" = 'abc\r\n' ] && ok ||
        fail "decode --content to a terminal ends the line: $(od -c "$T/tty.out")"
fi

# A port nothing listens on any more: the peer's, once it is gone.
start_peer reference 1 && { kill "$peer" && wait "$peer"; } 2>/dev/null
expect_err 4 "hframe: connect to 127.0.0.1 port $PORT: Connection refused" \
    "request to a closed port" "$HFRAME" request 127.0.0.1 "$PORT" search ring
start_peer reference 1 &&
    expect 0 "request to a small --max-content" "$HFRAME" request --max-content 43 127.0.0.1 "$PORT" search morpheus
start_peer reference 1 &&
    expect 6 "request above --max-content" "$HFRAME" request --max-content 42 127.0.0.1 "$PORT" search morpheus &&
    grep -q '^hframe: offset [0-9]*: content-too-long: ' "$T/err" && ok ||
    fail "request --max-content message: $(cat "$T/err")"

# --raw: stdin's frames as they are, the answers' frames back, as many.
cat "$G/request-search.bin" "$G/request-binary.bin" >"$T/two.bin"
start_peer keepalive 1 &&
    expect 0 "request --raw" "$HFRAME" request --raw 127.0.0.1 "$PORT" <"$T/two.bin" &&
    "$HFRAME" decode --content <"$T/out" >"$T/c" &&
    { printf '{"result": "Follow the white rabbit. \360\237\220\260"}First 10 bytes of request: '
      head -c 10 "$G/request-binary.content"; } >"$T/want" &&
    same "request --raw" "$T/c" "$T/want"
start_peer keepalive 1 &&
    echo '{"action": "search", "value": "ring"}' | "$HFRAME" encode --json |
    timeout --foreground -k 5 30 "$HFRAME" request --raw "127.0.0.1:$PORT" |
    "$HFRAME" decode --lines >"$T/c" &&
    [ "$(cat "$T/c")" = "$(printf '{"result": "In the caves beneath the Misty Mountains. \360\237\222\215"}')" ] &&
    ok || fail "encode | request --raw | decode: $(cat "$T/c")"
# Standard input slow to bring the next request is no timeout: the clock
# runs only while an answer is owed or a request is being sent.
start_peer keepalive 1 &&
    { cat "$G/request-search.bin"; sleep 2; cat "$G/request-binary.bin"; } |
    timeout --foreground -k 5 30 "$HFRAME" request --raw --timeout 1 \
        127.0.0.1 "$PORT" >"$T/slow.out" 2>"$T/slow.err" &&
    "$HFRAME" decode --content <"$T/slow.out" >"$T/c" &&
    same "request --raw: a pause on stdin longer than --timeout" "$T/c" "$T/want"
start_peer reference 1 &&
    expect 6 "request --raw, fewer answers than requests" \
        "$HFRAME" request --raw 127.0.0.1 "$PORT" <"$T/two.bin" &&
    grep -q "^hframe: 127.0.0.1 port $PORT [a-z]* the connection after 1 of 2 answers" "$T/err" &&
    ok || fail "request --raw, fewer answers: $(cat "$T/err")"
# A peer that answers twice: once standard input has ended, only the
# answers asked for are written; while it goes on, the frame nobody asked
# for is an error (exit 6), the answer before it written whole.
printf '{"result": "Follow the white rabbit. \360\237\220\260"}' >"$T/want"
start_peer double 1 &&
    expect 0 "request --raw to a peer that answers twice: exit 0" \
        "$HFRAME" request --raw 127.0.0.1 "$PORT" <"$G/request-search.bin" &&
    "$HFRAME" decode --content <"$T/out" >"$T/c" &&
    same "request --raw to a peer that answers twice: one answer written" \
        "$T/c" "$T/want"
start_peer double 1 &&
    { cat "$G/request-search.bin"; sleep 2; } |
    expect_err 6 "hframe: 127.0.0.1 port $PORT sent more than the 1 answers asked for so far" \
        "request --raw, an answer nobody asked for while input goes on" \
        "$HFRAME" request --raw 127.0.0.1 "$PORT" &&
    "$HFRAME" decode --content <"$T/out" >"$T/c" &&
    same "request --raw, an answer nobody asked for: the one asked for written" \
        "$T/c" "$T/want"
start_peer keepalive 1 &&
    printf 'hello\n' | expect_err 3 "hframe: standard input: offset 6: truncated: stream ended 4 bytes into a 26725-byte header" \
        "request --raw of text" "$HFRAME" request --raw 127.0.0.1 "$PORT"
# Input that stops being frames, or ends inside one: the whole frames
# before it are sent and their answers written, whatever the server's
# pace, then exit 3; nothing after the bad bytes is sent.
{ printf '{"result": "Follow the white rabbit. \360\237\220\260"}First 10 bytes of request: '
  head -c 10 "$G/request-binary.content"; } >"$T/want2"
# raw_bad DESC FILE MESSAGE-PATTERN: FILE holds the two requests, then
# bad bytes.
raw_bad() {
    start_peer keepalive 1 &&
        expect 3 "request --raw, $1" \
            "$HFRAME" request --raw 127.0.0.1 "$PORT" <"$2" &&
        grep -q "^hframe: standard input: offset [0-9]*: $3" "$T/err" &&
        "$HFRAME" decode --content <"$T/out" >"$T/c" &&
        same "request --raw, $1: the answers before it" "$T/c" "$T/want2"
}
{ cat "$T/two.bin"; printf 'xx'; } >"$T/cut.bin"
raw_bad "input cut inside a frame" "$T/cut.bin" "truncated: "
{ cat "$T/two.bin"; printf '\000\002{]'; cat "$G/request-search.bin"; } >"$T/bad.bin"
raw_bad "input that stops being frames" "$T/bad.bin" ""
usage_err "hframe: request: --raw sends and writes frames as they are; no --frame or --binary" \
    request --raw --frame 127.0.0.1 1
usage_err "hframe: invalid value 'v3' for --proxy-protocol: expected v1 or v2" \
    request --proxy-protocol v3 127.0.0.1 1 search x

# A listen queue that is full: the connection attempt itself times out.
start_peer backlog 1 &&
    expect_err 5 "hframe: connect to 127.0.0.1 port $PORT: timed out after 500ms" \
        "request connect timeout" "$HFRAME" request --timeout 0.5 127.0.0.1 "$PORT" search ring &&
    kill "$peer" 2>/dev/null

# start_gw NAME [OPTION...]: hframe-gateway on an ephemeral port, in
# $GW_PORT (empty when it did not start); its log in $T/NAME.log.
start_gw() {
    name=$1
    shift
    rm -f "$T/$name.port"
    timeout --foreground -k 5 60 "$GW" "$@" --port-file "$T/$name.port" 127.0.0.1 0 >"$T/$name.log" 2>&1 &
    pids="$pids $!"
    i=0
    while [ "$i" -lt 100 ] && [ ! -s "$T/$name.port" ]; do
        sleep 0.05
        i=$((i + 1))
    done
    GW_PORT=$(cat "$T/$name.port" 2>/dev/null)
}

# The gateway, when this build has it: answers, and keeps connections.
GW=$HF_BUILD/hframe-gateway
if [ -x "$GW" ]; then
    start_gw gw
    GPORT=$GW_PORT
    if [ -n "$GPORT" ]; then
        expect 0 "request search to the gateway" "$HFRAME" request 127.0.0.1 "$GPORT" search morpheus &&
            [ "$(cat "$T/out")" = "Follow the white rabbit. $(printf '\360\237\220\260')" ] && ok ||
            fail "gateway search: $(cat "$T/out")"
        expect 0 "request binary to the gateway" "$HFRAME" request 127.0.0.1 "$GPORT" binary hello &&
            printf 'First 10 bytes of request: binaryhell' >"$T/want" &&
            same "gateway binary" "$T/out" "$T/want"
        expect 0 "request --frame to the gateway" "$HFRAME" request --frame 127.0.0.1 "$GPORT" search ring &&
            "$HFRAME" validate -q <"$T/out" && ok || fail "gateway --frame: invalid frame"
    else
        fail "hframe-gateway did not start"
        show "$T/gw.log"
    fi
fi

# A gateway that reads PROXY headers: both versions, and none.
if [ -x "$GW" ]; then
    start_gw gwp --proxy-protocol
    PPORT=$GW_PORT
    for v in v1 v2; do
        expect 0 "request --proxy-protocol $v" "$HFRAME" request --proxy-protocol "$v" 127.0.0.1 "$PPORT" search morpheus &&
            [ "$(cat "$T/out")" = "Follow the white rabbit. $(printf '\360\237\220\260')" ] && ok ||
            fail "request --proxy-protocol $v: $(cat "$T/out")"
    done
    expect 0 "request --raw --proxy-protocol v2" "$HFRAME" request --raw --proxy-protocol v2 127.0.0.1 "$PPORT" <"$G/request-search.bin" &&
        "$HFRAME" validate -q "$T/out" && ok || fail "request --raw --proxy-protocol v2"
    expect 7 "request without a PROXY header" "$HFRAME" request 127.0.0.1 "$PPORT" search morpheus
fi

# The README's example, against the test peer instead of the gateway.
start_peer reference 1 &&
    expect 0 "README request example" "$HFRAME" request 127.0.0.1 "$PORT" search morpheus

# ------------------------------------------------------------ fixes
# Each block below pins a bug that once got through.

# start_hostile MODE COUNT: a peer whose answers attack the client, on
# an ephemeral loopback port in $PORT; it serves COUNT connections (a
# thread each) or 20 s, whichever ends first. Modes:
#   evil-error  an error answer whose code and message hold a terminal
#               escape and a newline followed by a forged "hframe:" line
#   extra       every search answered ("Follow the white rabbit. ..."),
#               then one more answer and garbage, in one write; go on
cat >"$T/hostile_peer.py" <<'PYEOF'
import os, signal, socket, sys, threading
sys.dont_write_bytecode = True
sys.path.insert(0, sys.argv[3])
import hframe_wire as wire

mode, count = sys.argv[1], int(sys.argv[2])
answer = wire.result("Follow the white rabbit. \U0001f430")
evil = wire.answer({"error": "x\u001b]0;pwned\u0007",
                    "message": "line1\nhframe: fake line"})


def serve(conn):
    with conn:
        try:
            while wire.read_frame(conn) is not None:
                if mode == "evil-error":
                    conn.sendall(evil)
                    return
                conn.sendall(answer + answer + b"\xff garbage")
        except OSError:
            pass


signal.signal(signal.SIGALRM, lambda *_: os._exit(3))
signal.alarm(20)
lsock = socket.socket()
lsock.bind(("127.0.0.1", 0))
lsock.listen(64)
print(lsock.getsockname()[1], flush=True)
for _ in range(count):
    c, _ = lsock.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
signal.pause()
PYEOF
start_hostile() {
    rm -f "$T/port"
    python3 "$T/hostile_peer.py" "$1" "$2" "$SRC/tests" >"$T/port" 2>"$T/peer.err" &
    peer=$!
    pids="$pids $peer"
    i=0
    while [ "$i" -lt 100 ] && [ ! -s "$T/port" ]; do
        sleep 0.05
        i=$((i + 1))
    done
    PORT=$(head -n 1 "$T/port")
    [ -n "$PORT" ] || { fail "hostile peer ($1) did not start"; show "$T/peer.err"; return 1; }
}

# A file that reports size 0 (/proc) is read to its end like a pipe,
# and a frame that fails leaves nothing behind.
if [ -r /proc/version ]; then
    expect 0 "encode /proc/version (size 0)" "$HFRAME" encode /proc/version &&
        "$HFRAME" decode --content <"$T/out" >"$T/proc.content" &&
        cat /proc/version >"$T/proc.want" &&
        same "encode /proc/version (size 0)" "$T/proc.content" "$T/proc.want"
    expect 0 "encode </proc/version (size 0)" "$HFRAME" encode </proc/version &&
        "$HFRAME" decode --content <"$T/out" >"$T/proc.content" &&
        same "encode </proc/version (size 0)" "$T/proc.content" "$T/proc.want"
fi
head -c 100 /dev/zero >"$T/100.bin"
expect 3 "encode: a file above --max-content" \
    "$HFRAME" encode --max-content 99 "$T/100.bin" &&
    { [ ! -s "$T/out" ] && ok || fail "encode: a failed frame wrote $(wc -c <"$T/out") bytes"; }

# decode --lines writes nothing of a frame whose content holds a
# newline, however its bytes arrive: one write, a byte a write, or a
# content past the 1 MiB kept in memory with the newline near its end.
{ printf a | "$HFRAME" encode; printf 'b\nc' | "$HFRAME" encode; } >"$T/nl.bin"
printf 'a\n' >"$T/nl.want"
expect 3 "decode --lines: a newline in a content" \
    "$HFRAME" decode --lines <"$T/nl.bin" &&
    same "decode --lines: a newline in a content" "$T/out" "$T/nl.want"
rm -f "$T/nl.fifo"
mkfifo "$T/nl.fifo"
# The writer stops at a closed pipe (the reader quits at frame 2).
timeout 30 python3 -c '
import os, sys, time
data = open(sys.argv[1], "rb").read()
fd = os.open(sys.argv[2], os.O_WRONLY)
for i in range(len(data)):
    os.write(fd, data[i:i + 1])
    time.sleep(0.002)
' "$T/nl.bin" "$T/nl.fifo" 2>/dev/null &
pids="$pids $!"
expect 3 "decode --lines: a newline in a content fed a byte a write" \
    "$HFRAME" decode --lines "$T/nl.fifo" &&
    same "decode --lines: a byte a write" "$T/out" "$T/nl.want"
{ head -c 3145728 /dev/zero | tr '\0' x; printf '\nz'; } |
    "$HFRAME" encode --max-content 4M >"$T/late-nl.bin"
expect 3 "decode --lines: a late newline in a 3 MiB content" \
    "$HFRAME" decode --lines --max-content 4M "$T/late-nl.bin" &&
    { [ ! -s "$T/out" ] && ok ||
        fail "decode --lines: $(wc -c <"$T/out") bytes of the bad frame written"; }
{ head -c 3145728 /dev/zero | tr '\0' x; } >"$T/long-line.want"
"$HFRAME" encode --max-content 4M <"$T/long-line.want" >"$T/long-line.bin"
printf '\n' >>"$T/long-line.want"
expect 0 "decode --lines: a 3 MiB content" \
    "$HFRAME" decode --lines --max-content 4M "$T/long-line.bin" &&
    same "decode --lines: a 3 MiB content" "$T/out" "$T/long-line.want"

# -o naming an input (under any name, or as stdin) is refused before it
# is truncated: the input survives.
cp "$G/tutorial.bin" "$T/self.bin"
for form in "$T/self.bin" -; do
    expect_err 2 "hframe: -o '$T/self.bin' is also an input: writing it would destroy it (write to another file)" \
        "validate -o an input ($form)" \
        "$HFRAME" validate "$form" -o "$T/self.bin" <"$T/self.bin" &&
        same "validate -o an input ($form) keeps it" "$T/self.bin" "$G/tutorial.bin"
done
ln -s self.bin "$T/self.link"
expect 2 "decode -o an input by another name" \
    "$HFRAME" decode -o "$T/self.link" "$T/self.bin" &&
    same "decode -o an input by another name keeps it" "$T/self.bin" "$G/tutorial.bin"
expect 2 "encode -o its input" "$HFRAME" encode -o "$T/self.bin" "$T/self.bin" &&
    same "encode -o its input keeps it" "$T/self.bin" "$G/tutorial.bin"

# A write error names the -o file, not standard output.
if [ -w /dev/full ]; then
    for args in "decode" "validate" "encode"; do
        expect_err 1 "hframe: write error on '/dev/full': No space left on device" \
            "$args -o /dev/full names the file" \
            "$HFRAME" $args -o /dev/full "$G/tutorial.bin"
    done
fi

# File names and server texts cannot drive the terminal or forge lines.
esc=$(printf 'a\033]0;x\007b')
expect_err 1 "hframe: cannot open 'a\\u001b]0;x\\u0007b': No such file or directory" \
    "a file name is escaped" "$HFRAME" validate "$esc"
bad=$(printf 'bad\377\nname')
printf 'x' >"$T/$bad"
expect_err 3 "hframe: $T/bad\\xff\\nname: offset 1: truncated: stream ended 1 byte into the 2-byte length prefix" \
    "invalid UTF-8 in a file name is escaped" "$HFRAME" validate "$T/$bad"
[ "$(wc -l <"$T/err")" -eq 1 ] && ok || fail "file name escaped: $(cat "$T/err")"
start_hostile evil-error 1 &&
    expect_err 7 'hframe: server error: x\u001b]0;pwned\u0007: line1\nhframe: fake line' \
        "request: a server's error is escaped" \
        "$HFRAME" request 127.0.0.1 "$PORT" search morpheus &&
    { [ "$(wc -l <"$T/err")" -eq 1 ] && ok || fail "server error: more than one line"; }

# A port is a plain number or a service name: no sign, no space.
# request_port_refused DESCRIPTION ADDRESS...
request_port_refused() {
    desc=$1
    shift
    expect 2 "request: port $desc is refused" \
        "$HFRAME" request "$@" search morpheus </dev/null &&
        { grep -q "for port: expected a number" "$T/err" && ok ||
            fail "request: port $desc: $(head -n 1 "$T/err")"; }
}
request_port_refused "+1" 127.0.0.1 +1
request_port_refused "-1" -- 127.0.0.1 -1
request_port_refused "' 1'" 127.0.0.1 " 1"
request_port_refused "in 127.0.0.1:+1" 127.0.0.1:+1
request_port_refused "in '[::1]: 1'" "[::1]: 1"
for p in +1 " 1"; do
    expect 2 "bench: port '$p' is refused" "$HFRAME" bench -n 1 127.0.0.1 "$p"
done

# bench counts each request once: an answer followed by a frame and
# garbage nobody asked for fails a request, it does not add one.
start_hostile extra 40 &&
    expect 1 "bench: bytes that answer no request" \
        "$HFRAME" bench -n 20 -c 2 --json \
        --expect "Follow the white rabbit. $(printf '\360\237\220\260')" \
        127.0.0.1 "$PORT" &&
    python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
sys.exit(0 if r["requests"] == 20 and r["ok"] + r["errors"] == 20
         and r["errors"] > 0 else 1)
' "$T/out" && ok || fail "bench: requests counted twice: $(cut -c 150-300 "$T/out")"
kill "$peer" 2>/dev/null

# validate's status does not depend on the order of its files.
head -c 5 "$G/tutorial.bin" >"$T/trunc.bin"
expect 1 "validate trunc missing" "$HFRAME" validate "$T/trunc.bin" "$T/nonexist"
expect 1 "validate missing trunc" "$HFRAME" validate "$T/nonexist" "$T/trunc.bin"
[ "$(grep -c . "$T/err")" -eq 2 ] && ok || fail "validate missing trunc: both reported"

# --version and --help stand alone.
expect_err 2 "hframe: --version takes no operand (see 'hframe --help')" \
    "--version with an operand" "$HFRAME" --version foo
expect_err 2 "hframe: --help takes no operand (see 'hframe --help')" \
    "--help with an operand" "$HFRAME" --help foo
# bench --help lists -h, and has no double blank line.
expect 0 "bench --help" "$HFRAME" bench --help &&
    grep -q -- '-h, --help' "$T/out" && ok || fail "bench --help lists no -h, --help"
awk 'prev == "" && $0 == "" { bad = 1 } { prev = $0 } END { exit bad }' "$T/out" &&
    ok || fail "bench --help: a double blank line"
# --proxy-protocol's numeric forms are documented where it is.
expect 0 "request --help" "$HFRAME" request --help &&
    grep -q '1 and 2 are accepted' "$T/out" && ok ||
    fail "request --help: --proxy-protocol 1|2 undocumented"

# ------------------------------------------------------------ man page
# Every "$ command" line of the EXAMPLES literal blocks runs, in order, in
# one scratch folder, and prints exactly the lines that follow it (stdout
# and stderr together). The man page's port 65432 becomes the peer's.
python3 - "$SRC/docs/hframe.1" "$T/ex" <<'EOF'
import os, re, sys
src, out = sys.argv[1], sys.argv[2]
os.makedirs(out)
text = open(src, encoding="utf-8").read()
examples = text.split(".Sh EXAMPLES", 1)[1].split("\n.Sh ", 1)[0]
def unescape(line):
    line = re.sub(r"\\\[u([0-9A-Fa-f]+)\]", lambda m: chr(int(m.group(1), 16)), line)
    return line.replace("\\(aq", "'").replace("\\-", "-").replace("\\e", "\\")
n, cur = 0, None
for block in re.findall(r"^\.Bd -literal[^\n]*\n(.*?)^\.Ed", examples, re.M | re.S):
    for line in block.splitlines():
        line = unescape(line)
        if line.startswith("$ "):
            n += 1
            cur = open(os.path.join(out, "%03d.want" % n), "w", encoding="utf-8")
            with open(os.path.join(out, "%03d.cmd" % n), "w", encoding="utf-8") as f:
                f.write(line[2:] + "\n")
        elif cur is not None:
            cur.write(line + "\n")

EOF
mkdir -p "$T/exwork"
nreq=$(cat "$T/ex"/*.cmd | grep -c 'hframe request')
start_peer reference "$nreq" || true
n=0
for cmd in "$T/ex"/*.cmd; do
    [ -f "$cmd" ] || continue
    n=$((n + 1))
    want=${cmd%.cmd}.want
    line=$(sed "s/ 65432 / $PORT /; s/:65432 /:$PORT /" "$cmd")
    (cd "$T/exwork" && PATH=$HF_BUILD:$PATH timeout --foreground -k 5 30 sh -c "$line") >"$T/ex.got" 2>&1
    # Compared as the shell sees text: a missing last newline is fine.
    if [ "$(cat "$T/ex.got")" = "$(cat "$want")" ]; then ok; else
        fail "man page example: $line"
        diff "$want" "$T/ex.got" | sed 's/^/  | /' | head -n 10
    fi
done
[ "$n" -ge 10 ] && ok || fail "man page: only $n examples found"

# A parent may leave stdin or stdout non-blocking (a pipe it shares):
# hframe waits on them as on blocking ones instead of failing with
# "Resource temporarily unavailable".
head -c 3000000 /dev/zero >"$T/nb.bin"
if timeout -k 5 60 python3 - "$HFRAME" "$T/nb.bin" >"$T/nb.out" 2>&1 <<'PY'
import os, subprocess, sys, time
hframe, path = sys.argv[1], sys.argv[2]
# stdout non-blocking, read slowly: encode's 3 MB must all arrive.
r, w = os.pipe()
os.set_blocking(w, False)
p = subprocess.Popen([hframe, "encode", path], stdout=w)
os.close(w)
time.sleep(0.5)
got = b""
while True:
    b = os.read(r, 65536)
    if not b:
        break
    got += b
assert p.wait() == 0, "encode exit %d" % p.returncode
# stdin non-blocking, written slowly: decode gets the frame whole.
r2, w2 = os.pipe()
os.set_blocking(r2, False)
with open(path + ".out", "wb") as sink:
    q = subprocess.Popen([hframe, "decode", "--content"], stdin=r2,
                         stdout=sink)
os.close(r2)
time.sleep(0.3)
os.write(w2, got[:100])
time.sleep(0.3)
with os.fdopen(w2, "wb") as f:
    f.write(got[100:])
assert q.wait() == 0, "decode exit %d" % q.returncode
n = os.path.getsize(path + ".out")
assert n == 3000000, "decoded %d bytes" % n
print("ok")
PY
then ok; else
    fail "non-blocking stdin and stdout: $(tail -n 1 "$T/nb.out")"
fi

passes=0
fails=0
[ -f "$T/passes" ] && passes=$(wc -l <"$T/passes")
[ -f "$T/fails" ] && fails=$(wc -l <"$T/fails")
echo "e2e_cli: $passes checks passed, $fails failed"
[ "$fails" -eq 0 ]
