#!/bin/sh
# e2e_bench.sh - `hframe bench` end to end: usage errors, short runs in
# every mode against the reference server of bench/ (and the gateway
# when it is built), and the failures a run must report (refused port,
# wrong answer, invalid frame). Loopback only, ephemeral ports, every
# command under a timeout, every server killed on exit.
: "${HF_BUILD:=build}"
HFRAME=$HF_BUILD/hframe
REF=$HF_BUILD/bench/ref_server
GW=$HF_BUILD/hframe-gateway
T=$(mktemp -d)
pids=""
fails=0

# Servers get SIGTERM, then SIGKILL if still there after 10 s (a
# sanitizer build can linger at exit), so the test never hangs.
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null; done
    for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
        alive=0
        for p in $pids; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ "$alive" -eq 0 ] && break
        sleep 0.5
    done
    for p in $pids; do kill -9 "$p" 2>/dev/null; done
    for p in $pids; do wait "$p" 2>/dev/null; done
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() {
    echo "FAIL: $*"
    fails=$((fails + 1))
}

# expect STATUS DESCRIPTION COMMAND...: run with a timeout, check status.
expect() {
    want=$1 desc=$2
    shift 2
    timeout --foreground -k 5 60 "$@" >"$T/out" 2>"$T/err"
    got=$?
    if [ "$got" -ne "$want" ]; then
        fail "$desc: exit $got, expected $want"
        sed 's/^/  | /' "$T/out" "$T/err" | head -20
        return 1
    fi
    return 0
}

# A free loopback port, for servers that cannot report an ephemeral one.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_port PORT: until something accepts on it (5 s at most).
wait_port() {
    python3 - "$1" <<'EOF'
import socket, sys, time
for _ in range(100):
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit(1)
EOF
}

if [ ! -x "$HFRAME" ] || [ ! -x "$REF" ]; then
    echo "e2e_bench: $HFRAME or $REF not built"
    exit 1
fi

# ------------------------------------------------------------ usage
expect 0 "--help" "$HFRAME" bench --help &&
    { grep -q '^usage: hframe bench' "$T/out" || fail "--help: no usage"; }
for args in "-c 12x 127.0.0.1 1" "-c 0 127.0.0.1 1" "-n -5 127.0.0.1 1" \
            "-n 1 -d 1 127.0.0.1 1" "--pipeline 0 127.0.0.1 1" \
            "--size 10 127.0.0.1 1" "--action push 127.0.0.1 1" \
            "-d 1x 127.0.0.1 1" "--bogus 127.0.0.1 1" "127.0.0.1" \
            "127.0.0.1 70000" "-T 65 127.0.0.1 1" \
            "--new-connection --pipeline 2 127.0.0.1 1"; do
    # shellcheck disable=SC2086
    expect 2 "usage error: $args" "$HFRAME" bench $args &&
        { grep -q '^hframe: bench: ' "$T/err" ||
          fail "usage error $args: no message"; }
done

# ------------------------------------------------------------ reference server
"$REF" 127.0.0.1 0 >"$T/ref.port" 2>"$T/ref.err" &
pids="$pids $!"
for _ in 1 2 3 4 5 6 7 8 9 10; do
    [ -s "$T/ref.port" ] && break
    sleep 0.2
done
RP=$(sed -n 's/^port //p' "$T/ref.port")
[ -n "$RP" ] || { echo "e2e_bench: the reference server did not start"; exit 1; }

expect 0 "search, reused" "$HFRAME" bench -c 4 -n 500 127.0.0.1 "$RP" &&
    { grep -q 'requests   500 ok, 0 errors' "$T/out" ||
      fail "search, reused: counts"; }
expect 0 "search, --json" "$HFRAME" bench -c 8 -n 400 -T 2 --json \
    127.0.0.1 "$RP" &&
    { python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
assert r["ok"] == 400 and r["errors"] == 0, r
assert r["threads"] == 2 and r["connections"] == 8, r
l = r["latency_ms"]
assert 0 < l["p50"] <= l["p90"] <= l["p99"] <= l["p99_9"] <= l["max"], l' \
      "$T/out" || fail "search, --json: fields"; }
expect 0 "search, pipelined" "$HFRAME" bench -c 2 -n 1000 --pipeline 16 \
    127.0.0.1 "$RP"
expect 0 "search, new connections" "$HFRAME" bench -c 4 -n 200 \
    --new-connection 127.0.0.1 "$RP" &&
    { grep -q '200 connections opened' "$T/out" ||
      fail "new connections: count"; }
expect 0 "search, duration" "$HFRAME" bench -c 2 -d 0.3 --histogram \
    127.0.0.1 "$RP" &&
    { grep -q '^latency histogram' "$T/out" || fail "no histogram"; }
expect 0 "binary, 1 MiB" "$HFRAME" bench --action binary --size 1M -c 2 \
    -n 20 127.0.0.1 "$RP"
# The value syntax and option order of every subcommand (hframe(1)).
expect 0 "options after operands, 250ms, 64k" "$HFRAME" bench 127.0.0.1 \
    "$RP" -c 2 -d 250ms --action binary --size 64k --timeout 2s
expect 2 "the shared wording of a bad value" "$HFRAME" bench -d 2m \
    127.0.0.1 "$RP" &&
    { grep -qF "hframe: bench: invalid value '2m' for -d: expected a time from 1ms to 86400s (seconds, or with s, ms)" "$T/err" ||
      fail "bad value wording: $(cat "$T/err")"; }
expect 0 "binary, 3 bytes" "$HFRAME" bench --action binary --size 3 -n 20 \
    127.0.0.1 "$RP"
expect 1 "wrong answer" "$HFRAME" bench --expect nothing -n 10 \
    127.0.0.1 "$RP" &&
    { grep -q 'unexpected answer' "$T/err" || fail "wrong answer: message"; }

# ------------------------------------------------------------ failures
CP=$(free_port)
expect 1 "refused port" "$HFRAME" bench -n 10 127.0.0.1 "$CP" &&
    { grep -q 'refused' "$T/err" || fail "refused: message"; }

# A server whose answers are not frames: a protocol error, exit 1.
BP=$(free_port)
python3 - "$BP" >/dev/null 2>&1 <<'EOF' &
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(16)
s.settimeout(30)
try:
    while True:
        c, _ = s.accept()
        c.recv(65536)
        c.sendall(b"\x00\x05{}{}{" + b"x" * 10)
        c.close()
except OSError:
    pass
EOF
pids="$pids $!"
wait_port "$BP" || fail "bad server did not start"
expect 1 "invalid answer" "$HFRAME" bench -n 10 127.0.0.1 "$BP" &&
    { grep -q 'invalid answer' "$T/err" || fail "invalid answer: message"; }

# ------------------------------------------------------------ the gateway
if [ -x "$GW" ]; then
    GP=$(free_port)
    "$GW" 127.0.0.1 "$GP" 2>"$T/gw.log" &
    pids="$pids $!"
    if wait_port "$GP"; then
        expect 0 "gateway search" "$HFRAME" bench -c 8 -n 2000 \
            --expect "Follow the white rabbit. 🐰" 127.0.0.1 "$GP"
        expect 0 "gateway miss" "$HFRAME" bench -c 2 -n 100 --value nobody \
            --expect "No match for 'nobody'." 127.0.0.1 "$GP"
        expect 0 "gateway pipelined" "$HFRAME" bench -c 4 -n 2000 \
            --pipeline 8 127.0.0.1 "$GP"
        expect 0 "gateway new connections" "$HFRAME" bench -c 4 -n 200 \
            --new-connection 127.0.0.1 "$GP"
        expect 0 "gateway binary" "$HFRAME" bench --action binary \
            --size 64k -c 4 -n 100 127.0.0.1 "$GP"
    else
        fail "the gateway did not start"
        sed 's/^/  | /' "$T/gw.log" | head -10
    fi
    # A gateway at its connection cap answers busy: counted as the
    # server's errors, not as bytes answering no request.
    CP=$(free_port)
    "$GW" --max-conns 2 127.0.0.1 "$CP" 2>"$T/cap.log" &
    pids="$pids $!"
    if wait_port "$CP"; then
        expect 1 "gateway at its cap" "$HFRAME" bench -c 6 -n 300 \
            --expect "Follow the white rabbit. 🐰" 127.0.0.1 "$CP" &&
            { grep -q 'errors .* protocol 0, .* server [1-9]' "$T/out" &&
              grep -q 'the server answered error busy' "$T/err" ||
              fail "gateway at its cap: busy counted as server errors"; }
    else
        fail "the capped gateway did not start"
    fi
fi

[ "$fails" -eq 0 ] || { echo "e2e_bench: $fails failures"; exit 1; }
echo "e2e_bench: ok"
