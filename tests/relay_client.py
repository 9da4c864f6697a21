#!/usr/bin/env python3
"""relay_client.py - test client for hframe-gateway in relay mode.

Frames come from hframe_wire.py (an encoder written from the protocol);
the upstreams are a plain hframe-gateway and tests/peer_server.py.

usage: relay_client.py SCENARIO ARGS...   (see SCENARIOS at the end)
Exit status 0 when the scenario passed, 1 with a message when it failed.
"""
import json
import os
import random
import socket
import struct
import sys
import threading
import time

import hframe_wire as wire
from gw_client import (BALL, DOG, GOLDEN_REQ_BIN, GOLDEN_REQ_JSON, RABBIT,
                       RING, TIMEOUT, Fail, bad_inputs, check, connect,
                       expect_eof, expect_error, pipe_batch, read_frame,
                       roundtrip, run_scenario)


def miss(value):
    return wire.result("No match for '%s'." % value)


def first_answer(port, req):
    """The first frame answering req on a new connection."""
    with connect(port) as s:
        s.sendall(req)
        return read_frame(s)[0]


def valid_requests():
    """(name, request) pairs the upstream gateway answers."""
    noncanon = wire.prefixed(
        '{"content-length":41,"x-trace":"a\\u00e9",\t"content-encoding"'
        ':"utf-8","byteorder":"little","content-type":"text/json"}',
        b'{"action": "search", "value": "morpheus"}')
    return [
        ("search hit", wire.search("morpheus")),
        ("search ring", wire.search("ring")),
        ("search dog emoji", wire.search(DOG)),
        ("search miss", wire.search("neo")),
        ("invalid action", wire.search("x", action="find")),
        ("golden search", GOLDEN_REQ_JSON),
        ("golden binary", GOLDEN_REQ_BIN),
        ("empty binary", wire.binary_request(b"")),
        ("binary 64 KiB", wire.binary_request(bytes(range(256)) * 256)),
        ("non-canonical header", noncanon),
        ("content not json",
         wire.frame(wire.header("text/json", "utf-8", 2), b"{x")),
        ("content not object", wire.request([1, 2])),
        ("action missing", wire.request({"value": "ring"})),
        ("value not string", wire.request({"action": "search", "value": 1})),
        ("encoding", wire.request({"action": "search", "value": "ring"},
                              cenc="latin-1")),
    ]


def sc_same(up_port, relay_port):
    """Every answer through the relay is the upstream's, byte for byte:
    one connection per request, all on one connection, all pipelined;
    frames the relay refuses get the same error frame as from the
    upstream, and the connection closes."""
    up_port, relay_port = int(up_port), int(relay_port)
    cases = valid_requests()
    direct = []
    for name, req in cases:
        want = first_answer(up_port, req)
        got = first_answer(relay_port, req)
        check(got == want, "%s: relay answer differs:\n got  %r\n want %r"
              % (name, got, want))
        direct.append(want)
    with connect(relay_port) as s:
        for (name, req), want in zip(cases, direct):
            roundtrip(s, req, want)
        s.sendall(b"".join(req for _, req in cases))
        for (name, _), want in zip(cases, direct):
            got = read_frame(s)[0]
            check(got == want, "pipelined %s: answer differs" % name)
    refused = [(n, d) for n, d, _, closes in bad_inputs() if closes]
    for name, data in refused:
        want = first_answer(up_port, data)
        with connect(relay_port) as s:
            roundtrip(s, wire.search("ring"), wire.result(RING))
            s.sendall(data)
            got = read_frame(s)[0]
            check(got == want, "%s: error frame differs:\n got  %r\n"
                  " want %r" % (name, got, want))
            expect_eof(s, 5)


def mixed(i):
    """Request and expected answer number i of a mixed sequence."""
    kind = i % 4
    if kind == 0:
        return wire.search("morpheus"), wire.result(RABBIT)
    if kind == 1:
        b = ("%010d" % i).encode()
        return wire.binary_request(b), wire.binary_answer(b)
    if kind == 2:
        return wire.search("q%d" % i), miss("q%d" % i)
    return wire.search(DOG), wire.result(BALL)


def sc_sequence(port, count="20", pause="0", limit="0"):
    """COUNT requests on one connection, one at a time, PAUSE seconds
    apart; each answered within LIMIT seconds unless LIMIT is 0."""
    worst = 0.0
    with connect(int(port)) as s:
        for i in range(int(count)):
            if i > 0:
                time.sleep(float(pause))
            req, want = mixed(i)
            t0 = time.monotonic()
            s.sendall(req)
            got = read_frame(s)[0]
            worst = max(worst, time.monotonic() - t0)
            check(got == want, "request %d: answer differs:\n got  %r\n"
                  " want %r" % (i, got, want))
            check(float(limit) <= 0 or worst <= float(limit),
                  "request %d: answered in %.3f s" % (i, worst))
    if float(limit) > 0:
        print("slowest answer %.3f s" % worst)


def sc_halfclose(port):
    """A client that shuts its sending side after the request still
    gets the answer, then the end of the stream."""
    with connect(int(port)) as s:
        s.sendall(wire.search("ring") + wire.search(DOG))
        s.shutdown(socket.SHUT_WR)
        check(read_frame(s)[0] == wire.result(RING), "first answer")
        check(read_frame(s)[0] == wire.result(BALL), "second answer")
        expect_eof(s, 5)


def sc_drain(port, seconds="1"):
    """Around SIGTERM (sent by the caller after the line "ready"): a
    request whose first bytes had arrived is relayed and answered, then
    the connection closes."""
    req = wire.search("morpheus")
    with connect(int(port)) as s:
        roundtrip(s, wire.search("ring"), wire.result(RING))
        s.sendall(req[:20])
        time.sleep(0.2)
        print("ready", flush=True)
        time.sleep(float(seconds))
        s.sendall(req[20:])
        got = read_frame(s)[0]
        check(got == wire.result(RABBIT), "answer during drain: %r" % got)
        expect_eof(s, 5)


def sc_echo(port, size="2097152"):
    """The request reaches the upstream byte for byte (peer_server echo):
    odd but valid headers, pipelined frames, and a SIZE-byte frame
    streamed while its echo streams back."""
    frames = [
        wire.prefixed('{"byteorder":"big","content-type":"a",'
                         '"content-encoding":"b","content-length":0}', b""),
        wire.prefixed(' \r\n{"content-length" : 3 , "byte\\u006frder":'
                         ' "little", "content-type": "t\\u00e9\\ud83d\\ude00",'
                         ' "content-encoding": "x", "ext": null, "n": -1.5e3'
                         '}\t', b"\x00\xff\n"),
        wire.search(DOG),
        wire.binary_request(bytes(range(256))),
    ]
    with connect(int(port)) as s:
        for f in frames:
            roundtrip(s, f, wire.message(f, "binary/echo", "binary",
                                         sys.byteorder))
        s.sendall(b"".join(frames))
        for i, f in enumerate(frames):
            _, hdr, content = read_frame(s)
            check(hdr["content-type"] == "binary/echo" and content == f,
                  "pipelined echo %d differs" % i)
        big = wire.binary_request(bytes(i * 7 % 251 for i in range(int(size))))
        sender = threading.Thread(target=s.sendall, args=(big,))
        sender.start()
        _, hdr, content = read_frame(s)
        sender.join(30)
        check(content == big, "echo of a %d-byte frame differs" % len(big))
        roundtrip(s, frames[2], wire.message(frames[2], "binary/echo",
                                             "binary", sys.byteorder))


def sc_slowreader(port, size="8000000", pause="3"):
    """A client with a small receive buffer that sends a SIZE-byte frame
    to an echo upstream and starts reading the echo only after PAUSE
    seconds gets all of it (the relay waits on the client, not on the
    upstream)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", int(port)))
    s.settimeout(30)
    with s:
        big = wire.binary_request(b"s" * int(size))
        sender = threading.Thread(target=s.sendall, args=(big,))
        sender.start()
        time.sleep(float(pause))
        _, _, content = read_frame(s)
        sender.join(30)
        check(content == big, "echo differs")


class Sibling:
    """A second client on the same relay, served while another waits."""

    def __init__(self, port):
        self.port = port
        self.stop = threading.Event()
        self.errors = []
        self.count = 0
        self.thread = threading.Thread(target=self.run)

    def run(self):
        try:
            with connect(self.port) as s:
                while not self.stop.is_set():
                    req, want = mixed(self.count)
                    roundtrip(s, req, want)
                    self.count += 1
                    time.sleep(0.005)
        except (OSError, Fail) as e:
            self.errors.append("sibling client: %s" % e)

    def wait_answers(self, n):
        """Until the sibling has n answers (10 s at most)."""
        t0 = time.monotonic()
        while (self.count < n and not self.errors and self.thread.is_alive()
               and time.monotonic() - t0 < 10):
            time.sleep(0.01)

    def __enter__(self):
        self.thread.start()
        self.wait_answers(1)
        self.before = self.count
        return self

    def __exit__(self, *exc):
        # Served after the fault too, not only before it.
        self.wait_answers(self.before + 3)
        self.stop.set()
        self.thread.join(30)
        check(not self.errors, "; ".join(self.errors))
        check(self.count >= self.before + 3, "sibling client: %d answers"
              % self.count)
        return False


def sc_fault(port, value, code, seconds="0"):
    """A search for VALUE (a by-value fault of peer_server) gets one error
    frame CODE, after about SECONDS; the connection stays open and gets
    correct answers; a sibling client is served all along."""
    port, seconds = int(port), float(seconds)
    with Sibling(port), connect(port, max(10.0, seconds + 10)) as s:
        roundtrip(s, wire.search("morpheus"), wire.result(RABBIT))
        t0 = time.monotonic()
        s.sendall(wire.search(value))
        expect_error(s, code, False)
        took = time.monotonic() - t0
        check(took >= seconds * 0.9, "error after %.2f s, before the"
              " %.2f s timeout" % (took, seconds))
        for i in range(6):
            req, want = mixed(i)
            roundtrip(s, req, want)
        # An error frame the upstream sends is an answer like any other.
        want = wire.answer({"error": "bad-request",
                            "message": "unknown action"})
        roundtrip(s, wire.search("error"), want)
        roundtrip(s, wire.search("ring"), wire.result(RING))


def sc_broken(port, value, allowed):
    """The answer to a search for VALUE breaks off (peer_server cut,
    reset, truncated). ALLOWED, comma-separated: "closed" (the client
    gets a strict prefix of the answer, then the end of the stream)
    and/or error codes (one error frame, the connection stays open).
    Never a frame other than the real answer or an error frame."""
    port = int(port)
    allowed = allowed.split(",")
    full = miss(value)
    with Sibling(port), connect(port) as s:
        roundtrip(s, wire.search("morpheus"), wire.result(RABBIT))
        s.sendall(wire.search(value))
        data = b""
        eof = False
        while not eof:
            try:
                got = s.recv(65536)
            except ConnectionResetError:
                got = b""
            eof = not got
            data += got
            if len(data) >= 2:
                (n,) = struct.unpack(">H", data[:2])
                if len(data) >= 2 + n:
                    hdr = json.loads(data[2:2 + n].decode("utf-8"))
                    if len(data) >= 2 + n + hdr["content-length"]:
                        break
        if eof:
            check("closed" in allowed, "connection closed after %d bytes"
                  % len(data))
            check(len(data) < len(full) and full.startswith(data),
                  "%d bytes before the close are not a strict prefix of "
                  "the answer: %r" % (len(data), data))
            print("closed after %d of %d bytes" % (len(data), len(full)))
        else:
            check(data != full, "the broken answer arrived whole")
            body = json.loads(data[2 + n:].decode("utf-8"))
            check(body.get("error") in allowed, "unexpected frame %r"
                  % data)
            print("error frame %s" % body["error"])
            roundtrip(s, wire.search(DOG), wire.result(BALL))
    # A new connection is served.
    with connect(port) as s:
        roundtrip(s, wire.search("ring"), wire.result(RING))


def sc_double(port):
    """An upstream that answers twice: the client gets one answer, and
    the next request its own answer, not the stale copy."""
    port = int(port)
    with connect(port) as s:
        for _ in range(3):
            roundtrip(s, wire.search("double"), miss("double"))
            roundtrip(s, wire.search("morpheus"), wire.result(RABBIT))


def sc_unavailable(port, limit="30"):
    """No upstream accepts: upstream-unavailable on a connection that
    stays open; once an upstream listens (started by the caller after
    the line "unavailable"), the same connection gets answers."""
    t0 = time.monotonic()
    seen = 0
    with connect(int(port)) as s:
        while True:
            s.sendall(wire.search("morpheus"))
            raw, hdr, content = read_frame(s)
            if raw == wire.result(RABBIT):
                break
            body = json.loads(content.decode("utf-8"))
            check(body.get("error") == "upstream-unavailable",
                  "unexpected answer %r" % raw)
            if seen == 0:
                print("unavailable", flush=True)
            seen += 1
            check(time.monotonic() - t0 < float(limit),
                  "still unavailable after %s s" % limit)
            time.sleep(0.1)
        check(seen > 0, "answered before any upstream listened")
        roundtrip(s, wire.search(DOG), wire.result(BALL))
    print("unavailable %d times, then answered" % seen)


# Error frames that may stand in an answer's place while an upstream dies.
UPKILL_ERRORS = ("upstream-failed", "upstream-unavailable")
# Sizes of its binary requests: some too large to be sent again.
UPKILL_SIZES = (10, 100, 1000, 20000, 70000, 300000)


def upkill_answer(s):
    """The next frame on s as (its bytes, header, content); "closed" when
    the relay closed the connection inside it (or reset it), "between"
    when it closed before the frame's first byte."""
    seen = [0]

    def counting_recv(sock, n):
        got = wire.recv_exact(sock, n)
        if got is not None:
            seen[0] += len(got)
        return got

    try:
        got = wire.read_frame(s, recv=counting_recv)
    except ConnectionResetError:
        return "closed"
    if got is None:
        return "closed" if seen[0] else "between"
    return got


def send_quietly(s, data):
    """sendall, when the relay may close the connection meanwhile."""
    try:
        s.sendall(data)
    except OSError:
        pass


def upkill_client(port, idx, flag, until, tally, errors):
    """Batches of pipelined requests on a kept connection until `until`
    (a time after the caller created the file flag). Before the flag,
    each answer is its request's own or an UPKILL_ERRORS frame in its
    place, and the connection may close inside an answer (then a new one
    is opened); from the flag on, every answer is the request's own."""
    rng = random.Random(idx)
    s, n = None, 0
    try:
        while time.monotonic() < until[0]:
            after = os.path.exists(flag)
            reqs, wants = pipe_batch(rng, idx, n, 8, UPKILL_SIZES)
            n += 1
            if s is None:
                s = connect(port)
            sender = threading.Thread(target=send_quietly,
                                      args=(s, b"".join(reqs)), daemon=True)
            sender.start()
            for i, want in enumerate(wants):
                got = upkill_answer(s)
                where = "client %d batch %d answer %d%s" % (
                    idx, n, i, " (after the kill)" if after else "")
                check(got != "between",
                      "%s: connection closed between answers" % where)
                if got == "closed":
                    check(not after, "%s: connection closed" % where)
                    tally["closed"] += 1
                    break
                raw, hdr, content = got
                if raw == want:
                    tally["after" if after else "before"] += 1
                    continue
                code = wire.error_code(hdr, content)
                check(not after and code in UPKILL_ERRORS,
                      "%s: %r" % (where, raw[:120]))
                tally[code] += 1
            else:
                sender.join(TIMEOUT)
                if n == 1:
                    tally["ready"].release()
                continue
            s.close()
            s = None
            if n == 1:
                tally["ready"].release()
    except (OSError, Fail) as e:
        errors.append(str(e))
        tally["ready"].release()
    finally:
        if s is not None:
            s.close()


def sc_upkill(port, clients, flag, seconds):
    """CLIENTS clients pipelining batches of 8 requests of random kinds
    and sizes (see upkill_client) through a relay whose upstream the
    caller kills after the line "ready", then creates the file FLAG; they
    go on for SECONDS after FLAG appears."""
    port, n = int(port), int(clients)
    tally = {"before": 0, "after": 0, "closed": 0, "ready":
             threading.Semaphore(0)}
    tally.update((code, 0) for code in UPKILL_ERRORS)
    until = [time.monotonic() + 60]
    errors = []
    lock = threading.Lock()

    def work(i):
        mine = dict((k, 0) for k in tally if k != "ready")
        mine["ready"] = tally["ready"]
        upkill_client(port, i, flag, until, mine, errors)
        with lock:
            for k in mine:
                if k != "ready":
                    tally[k] += mine[k]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for _ in range(n):
        tally["ready"].acquire(timeout=TIMEOUT)
    print("ready", flush=True)
    t0 = time.monotonic()
    while not os.path.exists(flag) and time.monotonic() - t0 < 30:
        time.sleep(0.05)
    until[0] = time.monotonic() + float(seconds)
    for t in threads:
        t.join(float(seconds) + 2 * TIMEOUT)
    check(not any(t.is_alive() for t in threads), "clients hung")
    check(not errors, "; ".join(errors[:5]))
    check(os.path.exists(flag), "no %s" % flag)
    check(tally["after"] > 0, "no answer after the kill")
    print("%d answers before the kill, %d after; in the kill's way: %s "
          "%d, %s %d, %d connections closed inside an answer"
          % (tally["before"], tally["after"], UPKILL_ERRORS[0],
             tally[UPKILL_ERRORS[0]], UPKILL_ERRORS[1],
             tally[UPKILL_ERRORS[1]], tally["closed"]))


SCENARIOS = {
    "same": sc_same,
    "sequence": sc_sequence,
    "halfclose": sc_halfclose,
    "drain": sc_drain,
    "echo": sc_echo,
    "fault": sc_fault,
    "broken": sc_broken,
    "double": sc_double,
    "slowreader": sc_slowreader,
    "unavailable": sc_unavailable,
    "upkill": sc_upkill,
}


def main(argv):
    return run_scenario("relay_client", "SCENARIO [ARGS...]", SCENARIOS,
                        argv[1] if len(argv) >= 2 else None,
                        lambda sc: sc(*argv[2:]))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
