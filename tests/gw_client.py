#!/usr/bin/env python3
"""gw_client.py - test client for hframe-gateway, built from the protocol.

Frames come from hframe_wire.py, written from the protocol and not from
the C code, so the gateway is checked against an independent encoder.

usage: gw_client.py PORT SCENARIO [ARGS...]   (see SCENARIOS at the end)
Exit status 0 when the scenario passed, 1 with a message when it failed.
"""
import json
import os
import socket
import struct
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hframe_vectors  # noqa: E402
import hframe_wire as wire  # noqa: E402

HOST = "127.0.0.1"
TIMEOUT = 10.0
BO = sys.byteorder

RABBIT = "Follow the white rabbit. \U0001F430"
RING = "In the caves beneath the Misty Mountains. \U0001F48D"
DOG = "\U0001F436"
BALL = "\U0001F43E Playing ball! \U0001F3D0"

# The tutorial's transcript, byte for byte (requests from the reference
# client, answers from the reference server on a little-endian host).
GOLDEN_REQ_JSON = hframe_vectors.golden("search request")
GOLDEN_ANS_JSON = hframe_vectors.golden("search answer")
GOLDEN_REQ_BIN = hframe_vectors.golden("binary request")
GOLDEN_ANS_BIN = hframe_vectors.golden("binary answer")


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def connect(port, timeout=TIMEOUT):
    s = socket.create_connection((HOST, port), timeout=timeout)
    s.settimeout(timeout)
    return s


def read_frame(s):
    """Raw bytes, header dict and content of the next frame."""
    got = wire.read_frame(s)
    if got is None:
        raise Fail("connection closed before a whole frame")
    return got


def expect_eof(s, within=TIMEOUT):
    """The peer closes (EOF or reset) within `within` seconds."""
    s.settimeout(within)
    t0 = time.monotonic()
    try:
        while True:
            b = s.recv(65536)
            if not b:
                return time.monotonic() - t0
    except ConnectionResetError:
        return time.monotonic() - t0
    except socket.timeout:
        raise Fail("connection still open after %.1f s" % within)


def exchange(port, req, want):
    with connect(port) as s:
        s.sendall(req)
        got, _, _ = read_frame(s)
        check(got == want, "answer differs:\n got  %r\n want %r"
              % (got, want))


def roundtrip(s, req, want):
    s.sendall(req)
    got, _, _ = read_frame(s)
    check(got == want, "answer differs:\n got  %r\n want %r" % (got, want))


def expect_error(s, code, closes):
    _, hdr, content = read_frame(s)
    check(hdr["content-type"] == "text/json", "error frame type %r" % hdr)
    body = json.loads(content.decode("utf-8"))
    check(list(body) == ["error", "message"], "error keys %r" % body)
    check(body["error"] == code, "error %r, want %r" % (body["error"], code))
    if closes:
        expect_eof(s, 5)


# ------------------------------------------------------------ scenarios

def sc_tutorial(port):
    """The four frames of the tutorial exchanges, byte for byte."""
    want_json, want_bin = GOLDEN_ANS_JSON, GOLDEN_ANS_BIN
    if BO != "little":
        raise Fail("the golden answers are those of a little-endian host")
    exchange(port, GOLDEN_REQ_JSON, want_json)
    exchange(port, GOLDEN_REQ_BIN, want_bin)
    check(wire.search("morpheus") == GOLDEN_REQ_JSON, "encoder self-check")
    check(wire.result(RABBIT) == GOLDEN_ANS_JSON, "encoder self-check")
    check(wire.binary_request(b"binary\xf0\x9f\x98\x83") == GOLDEN_REQ_BIN,
          "encoder self-check")
    # Both on one connection, also back to back.
    with connect(port) as s:
        roundtrip(s, GOLDEN_REQ_JSON, want_json)
        roundtrip(s, GOLDEN_REQ_BIN, want_bin)
        s.sendall(GOLDEN_REQ_BIN + GOLDEN_REQ_JSON)
        check(read_frame(s)[0] == want_bin, "pipelined binary")
        check(read_frame(s)[0] == want_json, "pipelined json")


def sc_index(port):
    """Every built-in entry, a miss, an invalid action."""
    exchange(port, wire.search("morpheus"), wire.result(RABBIT))
    exchange(port, wire.search("ring"), wire.result(RING))
    exchange(port, wire.search(DOG), wire.result(BALL))
    exchange(port, wire.search("neo"), wire.result("No match for 'neo'."))
    exchange(port, wire.search("x", action="find"),
             wire.result("Error: invalid action 'find'."))
    exchange(port, wire.search("Morpheus"),
             wire.result("No match for 'Morpheus'."))


def sc_lookup(port, key, want):
    """search KEY answers WANT (or the miss text when WANT is '-')."""
    if want == "-":
        want = "No match for '%s'." % key
    exchange(port, wire.search(key), wire.result(want))


def sc_empty(port):
    """content-length 0 is answered; the connection stays open."""
    with connect(port) as s:
        roundtrip(s, wire.binary_request(b""), wire.binary_answer(b""))
        s.sendall(wire.frame(wire.header("text/json", "utf-8", 0), b""))
        expect_error(s, "invalid-json", False)
        roundtrip(s, wire.search("ring"), wire.result(RING))


def sc_onebyte(port):
    """Requests sent one byte at a time."""
    with connect(port) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for req, want in ((wire.search("morpheus"), wire.result(RABBIT)),
                          (GOLDEN_REQ_BIN,
                           wire.binary_answer(b"binary\xf0\x9f\x98\x83"))):
            for i in range(len(req)):
                s.send(req[i:i + 1])
                time.sleep(0.001)
            got, _, _ = read_frame(s)
            check(got == want, "one byte at a time: %r" % got)


def sc_pipeline(port, count="200"):
    """Many requests in one write; answers in order."""
    n = int(count)
    reqs, wants = [], []
    for i in range(n):
        if i % 3 == 0:
            reqs.append(wire.search("ring"))
            wants.append(wire.result(RING))
        elif i % 3 == 1:
            b = ("%010d" % i).encode()
            reqs.append(wire.binary_request(b))
            wants.append(wire.binary_answer(b))
        else:
            reqs.append(wire.search("q%d" % i))
            wants.append(wire.result("No match for 'q%d'." % i))
    with connect(port) as s:
        blob = b"".join(reqs)
        sender = threading.Thread(target=s.sendall, args=(blob,))
        sender.start()
        for i, w in enumerate(wants):
            got, _, _ = read_frame(s)
            check(got == w, "pipelined answer %d differs" % i)
        sender.join()


def run_clients(n, work):
    """work(i, errors) in n threads at once; fails when one hangs or
    reports an error."""
    errors = []
    threads = [threading.Thread(target=work, args=(i, errors))
               for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    check(not any(t.is_alive() for t in threads), "clients hung")
    check(not errors, "; ".join(errors[:5]))


# Content sizes of the binary requests of pipe_batch.
PIPE_SIZES = (10, 10, 100, 1000, 20000, 70000)


def pipe_batch(rng, idx, r, depth, sizes=PIPE_SIZES):
    """Round r of client idx: depth requests of random kinds (a search or
    a binary request of one of the sizes, tagged with idx, r and its
    place) and the answer each one wants."""
    reqs, wants = [], []
    for i in range(depth):
        if rng.random() < 0.4:
            reqs.append(wire.search("morpheus"))
            wants.append(wire.result(RABBIT))
            continue
        size = rng.choice(sizes)
        tag = ("%03d%03d%04d" % (idx, r % 1000, i)).encode()
        b = (tag * (size // len(tag) + 1))[:size]
        reqs.append(wire.binary_request(b))
        wants.append(wire.binary_answer(b))
    return reqs, wants


def pipe_client(port, idx, rounds, depth, errors):
    """rounds times: depth requests of random kinds and sizes in one
    write, then their answers, each checked against its own request."""
    import random
    rng = random.Random(idx)
    try:
        with connect(port) as s:
            for r in range(rounds):
                reqs, wants = pipe_batch(rng, idx, r, depth)
                sender = threading.Thread(target=s.sendall,
                                          args=(b"".join(reqs),))
                sender.start()
                for i, w in enumerate(wants):
                    got, _, _ = read_frame(s)
                    check(got == w, "client %d round %d answer %d: %r"
                          % (idx, r, i, got[:120]))
                sender.join()
    except (OSError, Fail) as e:
        errors.append("client %d: %s" % (idx, e))


def sc_pipeclients(port, clients="64", rounds="4", depth="16"):
    """N clients at once, each pipelining DEPTH requests of random kinds
    and sizes ROUNDS times; every answer checked against its request."""
    run_clients(int(clients), lambda i, errors: pipe_client(
        port, i, int(rounds), int(depth), errors))


def client_worker(port, n, idx, errors, retry):
    """n requests on one connection (reconnecting when retry is set)."""
    done = 0
    s = None
    attempts = 0
    while done < n:
        try:
            if s is None:
                s = connect(port)
            if (done + idx) % 2 == 0:
                roundtrip(s, wire.search("morpheus"), wire.result(RABBIT))
            else:
                b = ("c%02dr%05d" % (idx % 100, done)).encode()[:10]
                roundtrip(s, wire.binary_request(b), wire.binary_answer(b))
            done += 1
        except (OSError, Fail) as e:
            if s is not None:
                s.close()
                s = None
            attempts += 1
            if not retry or attempts > 50:
                errors.append("client %d request %d: %s" % (idx, done, e))
                return
            time.sleep(0.05)
    if s is not None:
        s.close()


def answer_unless_closed(s, req):
    """Send req and read its answer; None when the connection closed
    before the first byte of an answer (the request never reached a
    gateway that could answer it, so it may go again)."""
    try:
        s.sendall(req)
        first = s.recv(1)
    except (BrokenPipeError, ConnectionResetError):
        return None
    if not first:
        return None
    pending = [first]

    def recv_after_first(sock, n):
        head = pending.pop() if pending else b""
        rest = wire.recv_exact(sock, n - len(head)) if n > len(head) else b""
        return None if rest is None else head + rest

    got = wire.read_frame(s, recv=recv_after_first)
    if got is None:
        raise Fail("connection closed in the middle of an answer")
    return got[0]


# Times a request is sent again before the client gives up on it.
RESEND_MAX = 5


def steady_client(port, idx, until, counts, started, errors):
    """Requests on a kept connection until `until`; a connection closed
    between requests is opened again and the request sent again."""
    s, done = None, 0
    try:
        while time.monotonic() < until:
            if done % 2 == 0:
                req, want = wire.search("morpheus"), wire.result(RABBIT)
            else:
                b = ("s%02dr%05d" % (idx % 100, done)).encode()[:10]
                req, want = wire.binary_request(b), wire.binary_answer(b)
            got = None
            for _ in range(RESEND_MAX):
                if s is None:
                    s = connect(port)
                got = answer_unless_closed(s, req)
                if got is not None:
                    break
                s.close()
                s = None
                counts[idx][1] += 1
            check(got == want, "client %d request %d: answer %r"
                  % (idx, done, got[:80] if got else got))
            done += 1
            counts[idx][0] = done
            if done == 1:
                started.release()
    except (OSError, Fail) as e:
        errors.append("client %d request %d: %s" % (idx, done, e))
        started.release()
    finally:
        if s is not None:
            s.close()


def sc_steady(port, clients="16", seconds="3"):
    """N clients send requests back to back for SECONDS, each on a kept
    connection; "ready" once every client has had an answer. Every
    request must be answered correctly; one whose connection closed
    before its answer began is sent again on a new connection (and
    counted). A connection cut in the middle of an answer fails. The
    last line says how many binary requests were answered, for the
    caller to compare with the gateways' access logs."""
    n = int(clients)
    until = time.monotonic() + float(seconds)
    counts = [[0, 0] for _ in range(n)]
    started = threading.Semaphore(0)
    errors = []
    threads = [threading.Thread(target=steady_client,
                                args=(port, i, until, counts, started,
                                      errors))
               for i in range(n)]
    for t in threads:
        t.start()
    for _ in range(n):
        started.acquire(timeout=TIMEOUT)
    print("ready", flush=True)
    for t in threads:
        t.join(float(seconds) + 2 * TIMEOUT)
    check(not any(t.is_alive() for t in threads), "clients hung")
    check(not errors, "; ".join(errors[:5]))
    print("%d answers, %d requests sent again on a new connection"
          % (sum(c[0] for c in counts), sum(c[1] for c in counts)))
    # Every other request is binary, starting with the second.
    print("binary answers: %d" % sum(c[0] // 2 for c in counts))
    check(all(c[0] > 0 for c in counts), "a client had no answer")


def sc_concurrent(port, clients="64", requests="100", retry="0"):
    """N concurrent clients, M requests each, every answer checked."""
    run_clients(int(clients), lambda i, errors: client_worker(
        port, int(requests), i, errors, retry == "1"))


def bad_inputs():
    """(name, bytes, error code, connection closes): every input of the
    error catalogue (tests/vectors/) that a gateway with the default
    limits refuses. A frame error closes the connection; a request error
    leaves it open."""
    out = [(v["name"], hframe_vectors.header_frame(v), v["error"], True)
           for v in hframe_vectors.load("header-errors")]
    out += [(v["name"], v["frame"], v["error"], True)
            for v in hframe_vectors.load("prefix-errors")
            if "max-header" not in v]
    out += [(v["name"], hframe_vectors.request(v), v["error"], False)
            for v in hframe_vectors.load("request-errors")]
    return out


def dup_key_frame():
    """A frame whose header holds byteorder twice."""
    return hframe_vectors.header_frame(
        hframe_vectors.named("header-errors", "duplicate key"))


def sc_badinput(port):
    """Each bad input on its own connection while others keep working."""
    stop = threading.Event()
    errors = []

    def steady():
        try:
            with connect(port) as s:
                while not stop.is_set():
                    roundtrip(s, wire.search("ring"), wire.result(RING))
        except (OSError, Fail) as e:
            errors.append("steady client: %s" % e)

    helpers = [threading.Thread(target=steady) for _ in range(4)]
    for t in helpers:
        t.start()
    try:
        for name, data, code, closes in bad_inputs():
            with connect(port) as s:
                roundtrip(s, wire.search("morpheus"), wire.result(RABBIT))
                s.sendall(data)
                try:
                    expect_error(s, code, closes)
                except Fail as e:
                    raise Fail("%s: %s" % (name, e))
                if not closes:
                    roundtrip(s, wire.search(DOG), wire.result(BALL))
    finally:
        stop.set()
        for t in helpers:
            t.join(30)
    check(not errors, "; ".join(errors))


def sc_request_timeout(port, limit="3"):
    """A frame that never completes is cut off; others are unaffected."""
    with connect(port) as slow, connect(port) as ok:
        req = wire.search("ring")
        slow.sendall(req[:7])
        t0 = time.monotonic()
        while time.monotonic() - t0 < 0.3:
            roundtrip(ok, wire.search("ring"), wire.result(RING))
        took = expect_eof(slow, float(limit))
        roundtrip(ok, wire.search("ring"), wire.result(RING))
        check(took < float(limit), "request timeout took %.2f s" % took)


def sc_idle_timeout(port, limit="3"):
    """A silent connection is closed."""
    with connect(port) as s:
        roundtrip(s, wire.search("ring"), wire.result(RING))
        took = expect_eof(s, float(limit))
        check(took < float(limit), "idle timeout took %.2f s" % took)


def sc_write_timeout(port, limit="5"):
    """A client that sends but never reads is closed, not buffered."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect((HOST, port))
    s.setblocking(False)
    req = wire.search("x" * 1000)
    sent = 0
    t0 = time.monotonic()
    closed = False
    while time.monotonic() - t0 < float(limit):
        try:
            sent += s.send(req)
        except BlockingIOError:
            time.sleep(0.05)
        except (BrokenPipeError, ConnectionResetError):
            closed = True
            break
    s.close()
    check(closed, "still open after %s s (sent %d bytes)" % (limit, sent))
    # The gateway is fine.
    exchange(port, wire.search("ring"), wire.result(RING))


def sc_slowread(port, size="4000000", rate="400000"):
    """A search whose answer (the miss text quoting the value) is SIZE
    bytes, read at RATE bytes a second: a client that reads slowly but
    steadily gets all of it, though the socket's send buffer, megabytes
    large, turns writable only after much of it was read."""
    value = "x" * int(size)
    want = wire.result("No match for '%s'." % value)
    rate = int(rate)
    with connect(port) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        s.sendall(wire.search(value))
        got = bytearray()
        t0 = time.monotonic()
        while len(got) < len(want):
            time.sleep(0.05)
            try:
                b = s.recv(rate // 20)
            except ConnectionResetError:
                b = b""
            check(b, "closed after %d of %d bytes (%.1f s)"
                  % (len(got), len(want), time.monotonic() - t0))
            got += b
        check(bytes(got) == want, "the answer differs")


def sc_conncap(port, cap):
    """At the cap a new connection gets a busy error frame and is closed
    at once, even when it sent a request first; below it, served."""
    cap = int(cap)
    conns = []
    try:
        for _ in range(cap):
            s = connect(port)
            roundtrip(s, wire.search("ring"), wire.result(RING))
            conns.append(s)
        extra = connect(port)
        expect_error(extra, "busy", True)
        extra.close()
        extra = connect(port)
        extra.sendall(wire.search("ring"))
        expect_error(extra, "busy", True)
        extra.close()
        conns.pop().close()
        time.sleep(0.2)
        exchange(port, wire.search("ring"), wire.result(RING))
        for s in conns:
            roundtrip(s, wire.search(DOG), wire.result(BALL))
    finally:
        for s in conns:
            s.close()


def sc_many(port, count, want_all="0", want_told="0"):
    """Open COUNT connections at once, then check the gateway still
    answers; prints how many were served, how many were refused with a
    busy frame and how many were closed without a word. With WANT_ALL 1,
    every one must be served; with WANT_TOLD 1, every one not served must
    have had its busy frame."""
    count = int(count)
    conns = []
    served = busy = closed = 0
    try:
        for _ in range(count):
            try:
                conns.append(connect(port, 5))
            except OSError:
                closed += 1
        for s in conns:
            try:
                s.sendall(wire.search("ring"))
            except OSError:
                pass
        for s in conns:
            try:
                got, hdr, content = read_frame(s)
            except (OSError, Fail):
                closed += 1
                continue
            if got == wire.result(RING):
                served += 1
            elif (hdr["content-type"] == "text/json" and
                  json.loads(content.decode("utf-8")).get("error") == "busy"):
                busy += 1
            else:
                closed += 1
    finally:
        for s in conns:
            s.close()
    time.sleep(0.3)
    exchange(port, wire.search("ring"), wire.result(RING))
    print("served=%d busy=%d closed=%d" % (served, busy, closed))
    check(want_all == "0" or served == count,
          "%d of %d connections served" % (served, count))
    check(want_told == "0" or served + busy == count,
          "%d of %d connections closed without a busy frame"
          % (closed, count))


def sc_hold(port, seconds):
    """Send half a request, wait, finish it, expect the answer, then EOF
    (used around SIGTERM: answers in flight complete)."""
    req = wire.search("morpheus")
    with connect(port) as s:
        s.sendall(req[:20])
        print("ready", flush=True)
        time.sleep(float(seconds))
        s.sendall(req[20:])
        got, _, _ = read_frame(s)
        check(got == wire.result(RABBIT), "answer during drain: %r" % got)
        expect_eof(s, 5)


def sc_latency(port, seconds, limit):
    """Print "ready" after a first answer, then search on one connection
    for SECONDS; the slowest answer must come within LIMIT seconds."""
    worst = 0.0
    with connect(port) as s:
        roundtrip(s, wire.search("ring"), wire.result(RING))
        print("ready", flush=True)
        end = time.monotonic() + float(seconds)
        while time.monotonic() < end:
            t0 = time.monotonic()
            roundtrip(s, wire.search("ring"), wire.result(RING))
            worst = max(worst, time.monotonic() - t0)
    print("slowest answer %.3f s" % worst)
    check(worst <= float(limit), "an answer took %.3f s" % worst)


def sc_slowsend(port, seconds):
    """A binary request whose header and most of its content come, then
    the rest after SECONDS: answered (a relay's upstream timeout does
    not run while it waits on its client)."""
    content = b"slowsend " + b"s" * 991
    req = wire.binary_request(content)
    with connect(port) as s:
        s.sendall(req[:-100])
        time.sleep(float(seconds))
        s.sendall(req[-100:])
        got, _, _ = read_frame(s)
        check(got == wire.binary_answer(content), "answer %r" % got[:160])


def chaos_client(port, seed, until, errors):
    """Random bytes, random splits, abrupt resets; never checks answers."""
    import random
    rnd = random.Random(seed)
    pieces = [GOLDEN_REQ_JSON, GOLDEN_REQ_BIN, wire.search("ring"),
              b"\x00\x01{", b"\xff" * 40, dup_key_frame(),
              wire.frame(wire.header("text/json", "utf-8", 5), b"[1,2]")]
    while time.monotonic() < until:
        try:
            s = connect(port, 2)
        except OSError:
            continue
        try:
            blob = b"".join(rnd.choice(pieces)
                            for _ in range(rnd.randint(1, 8)))
            if rnd.random() < 0.3:
                blob = bytes(rnd.getrandbits(8)
                             for _ in range(rnd.randint(1, 300)))
            cut = rnd.randint(0, len(blob))
            while blob and cut:
                n = rnd.randint(1, 64)
                s.send(blob[:min(n, cut)])
                blob, cut = blob[min(n, cut):], cut - min(n, cut)
            s.setblocking(False)
            try:
                s.recv(65536)
            except OSError:
                pass
            if rnd.random() < 0.5:
                # Close with a reset instead of a FIN.
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                             struct.pack("ii", 1, 0))
        except OSError:
            pass
        finally:
            s.close()


def sc_chaos(port, seconds="3"):
    """Garbage, half frames and resets from many clients while steady
    clients keep getting correct answers."""
    until = time.monotonic() + float(seconds)
    errors = []
    threads = [threading.Thread(target=chaos_client,
                                args=(port, i, until, errors))
               for i in range(16)]
    for t in threads:
        t.start()
    steady_errors = []

    def run_good():
        try:
            sc_concurrent(port, "8", "200")
        except Fail as e:
            steady_errors.append(str(e))
    good = threading.Thread(target=run_good)
    good.start()
    for t in threads:
        t.join(60)
    good.join(120)
    check(not steady_errors, "; ".join(steady_errors))
    exchange(port, wire.search("ring"), wire.result(RING))


def sc_dual(port):
    """Listening on every address: IPv4 and, when the host has it, IPv6."""
    exchange(port, wire.search("ring"), wire.result(RING))
    try:
        s = socket.create_connection(("::1", port), timeout=TIMEOUT)
    except OSError as e:
        print("no IPv6 loopback: %s" % e)
        return
    with s:
        s.settimeout(TIMEOUT)
        roundtrip(s, wire.search("ring"), wire.result(RING))


def sc_refused(port):
    """Nothing listens any more."""
    try:
        s = socket.create_connection((HOST, port), timeout=2)
    except OSError:
        return
    try:
        s.sendall(wire.search("ring"))
        s.settimeout(2)
        data = s.recv(100)
        check(not data, "still answering")
    except OSError:
        pass
    finally:
        s.close()


# PROXY headers cut short: v1, v2 (inside its signature), one byte.
PROXY_CUTS = (b"PROXY TCP4 203.0.113.7", b"\r\n\r\n\x00\r\nQU", b"P")


# PROXY headers without an address: v1 UNKNOWN, v2 LOCAL, v2 AF_UNIX
# (two 108-byte socket paths).
V2SIG = b"\r\n\r\n\x00\r\nQUIT\n"
PROXY_NO_ADDRESS = (b"PROXY UNKNOWN\r\n", V2SIG + b"\x20\x00\x00\x00",
                    V2SIG + b"\x21\x31\x00\xd8" + bytes(216))


def sc_proxycut(port):
    """--proxy-protocol: a PROXY header cut short by the client's EOF
    gets bad-proxy-header, then the close (as a frame cut short gets
    truncated)."""
    for cut in PROXY_CUTS:
        with connect(port) as s:
            s.sendall(cut)
            s.shutdown(socket.SHUT_WR)
            expect_error(s, "bad-proxy-header", True)


def sc_proxynoaddr(port, source):
    """--proxy-protocol: from address SOURCE, each PROXY header without
    an address, then a search; the answer comes (the caller checks what
    the server behind a relay was told)."""
    for hdr in PROXY_NO_ADDRESS:
        with socket.create_connection((HOST, port), timeout=TIMEOUT,
                                      source_address=(source, 0)) as s:
            s.settimeout(TIMEOUT)
            roundtrip(s, hdr + wire.search("ring"), wire.result(RING))


def sc_proxykeepers(port, clients="3"):
    """--proxy-protocol: CLIENTS connections, each with its own PROXY
    header, kept open and taking turns, two requests each: every one is
    answered, whatever connections the others keep (a relay with
    --upstream-proxy-protocol gives each client a private upstream
    connection)."""
    socks = []
    try:
        for i in range(int(clients)):
            socks.append(connect(port))
            socks[-1].sendall(b"PROXY TCP4 203.0.113.%d 127.0.0.1 %d 80\r\n"
                              % (i + 1, 40000 + i))
        for _ in range(2):
            for s in socks:
                roundtrip(s, wire.search("ring"), wire.result(RING))
    finally:
        for s in socks:
            s.close()


SCENARIOS = {
    "tutorial": sc_tutorial,
    "index": sc_index,
    "lookup": sc_lookup,
    "empty": sc_empty,
    "onebyte": sc_onebyte,
    "pipeline": sc_pipeline,
    "concurrent": sc_concurrent,
    "pipeclients": sc_pipeclients,
    "badinput": sc_badinput,
    "request-timeout": sc_request_timeout,
    "idle-timeout": sc_idle_timeout,
    "write-timeout": sc_write_timeout,
    "slowread": sc_slowread,
    "conncap": sc_conncap,
    "many": sc_many,
    "hold": sc_hold,
    "latency": sc_latency,
    "refused": sc_refused,
    "dual": sc_dual,
    "chaos": sc_chaos,
    "proxycut": sc_proxycut,
    "proxynoaddr": sc_proxynoaddr,
    "proxykeepers": sc_proxykeepers,
    "slowsend": sc_slowsend,
    "steady": sc_steady,
}


def run_scenario(prog, usage, scenarios, name, call):
    """call(scenarios[name]): exit status 0 when the scenario passed, 1
    with a message when it failed, 2 with the usage when there is no such
    scenario."""
    if name not in scenarios:
        sys.stderr.write("usage: %s.py %s\nscenarios: %s\n"
                         % (prog, usage, ", ".join(sorted(scenarios))))
        return 2
    try:
        call(scenarios[name])
    except (Fail, OSError, ValueError) as e:
        sys.stderr.write("%s %s: FAIL: %s\n" % (prog, name, e))
        return 1
    return 0


def main(argv):
    return run_scenario("gw_client", "PORT SCENARIO [ARGS...]", SCENARIOS,
                        argv[2] if len(argv) >= 3 else None,
                        lambda sc: sc(int(argv[1]), *argv[3:]))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
