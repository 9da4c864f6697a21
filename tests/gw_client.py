#!/usr/bin/env python3
"""gw_client.py - test client for hframe-gateway, built from the protocol.

Frames are written here from first principles (json.dumps with
ensure_ascii=False for the header, struct for the 2-byte big-endian
length), so the gateway is checked against an independent encoder.

usage: gw_client.py PORT SCENARIO [ARGS...]   (see SCENARIOS at the end)
Exit status 0 when the scenario passed, 1 with a message when it failed.
"""
import json
import socket
import struct
import sys
import threading
import time

HOST = "127.0.0.1"
TIMEOUT = 10.0
BO = sys.byteorder

RABBIT = "Follow the white rabbit. \U0001F430"
RING = "In the caves beneath the Misty Mountains. \U0001F48D"
DOG = "\U0001F436"
BALL = "\U0001F43E Playing ball! \U0001F3D0"

# The tutorial's transcript, byte for byte (requests from the reference
# client, answers from the reference server on a little-endian host).
GOLDEN_REQ_JSON = (b'\x00d{"byteorder": "big", "content-type": "text/json", '
                   b'"content-encoding": "utf-8", "content-length": 41}'
                   b'{"action": "search", "value": "morpheus"}')
GOLDEN_ANS_JSON = (b'\x00g{"byteorder": "little", "content-type": '
                   b'"text/json", "content-encoding": "utf-8", '
                   b'"content-length": 43}{"result": "Follow the white '
                   b'rabbit. \xf0\x9f\x90\xb0"}')
GOLDEN_REQ_BIN = (b'\x00|{"byteorder": "big", "content-type": '
                  b'"binary/custom-client-binary-type", "content-encoding": '
                  b'"binary", "content-length": 10}binary\xf0\x9f\x98\x83')
GOLDEN_ANS_BIN = (b'\x00\x7f{"byteorder": "little", "content-type": '
                  b'"binary/custom-server-binary-type", "content-encoding": '
                  b'"binary", "content-length": 37}First 10 bytes of '
                  b'request: binary\xf0\x9f\x98\x83')


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def frame(header, content):
    """One frame: prefix, canonical header JSON, content."""
    h = json.dumps(header, ensure_ascii=False).encode("utf-8")
    return struct.pack(">H", len(h)) + h + content


def header(ctype, enc, length, bo="big"):
    return {"byteorder": bo, "content-type": ctype,
            "content-encoding": enc, "content-length": length}


def req_json(obj, bo="big", enc="utf-8"):
    c = json.dumps(obj, ensure_ascii=False).encode("utf-8")
    return frame(header("text/json", enc, len(c), bo), c)


def req_search(value, action="search"):
    return req_json({"action": action, "value": value})


def req_binary(content, ctype="binary/custom-client-binary-type"):
    return frame(header(ctype, "binary", len(content)), content)


def ans_json(obj):
    c = json.dumps(obj, ensure_ascii=False).encode("utf-8")
    return frame(header("text/json", "utf-8", len(c), BO), c)


def ans_result(text):
    return ans_json({"result": text})


def ans_binary(content):
    c = b"First 10 bytes of request: " + content[:10]
    return frame(header("binary/custom-server-binary-type", "binary",
                        len(c), BO), c)


def connect(port, timeout=TIMEOUT):
    s = socket.create_connection((HOST, port), timeout=timeout)
    s.settimeout(timeout)
    return s


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise Fail("connection closed after %d of %d bytes"
                       % (len(buf), n))
        buf += chunk
    return buf


def read_frame(s):
    """Raw bytes, header dict and content of the next frame."""
    pre = recv_exact(s, 2)
    (n,) = struct.unpack(">H", pre)
    hb = recv_exact(s, n)
    hdr = json.loads(hb.decode("utf-8"))
    content = recv_exact(s, hdr["content-length"])
    return pre + hb + content, hdr, content


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
    check(req_search("morpheus") == GOLDEN_REQ_JSON, "encoder self-check")
    check(ans_result(RABBIT) == GOLDEN_ANS_JSON, "encoder self-check")
    check(req_binary(b"binary\xf0\x9f\x98\x83") == GOLDEN_REQ_BIN,
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
    exchange(port, req_search("morpheus"), ans_result(RABBIT))
    exchange(port, req_search("ring"), ans_result(RING))
    exchange(port, req_search(DOG), ans_result(BALL))
    exchange(port, req_search("neo"), ans_result("No match for 'neo'."))
    exchange(port, req_search("x", action="find"),
             ans_result("Error: invalid action 'find'."))
    exchange(port, req_search("Morpheus"),
             ans_result("No match for 'Morpheus'."))


def sc_lookup(port, key, want):
    """search KEY answers WANT (or the miss text when WANT is '-')."""
    if want == "-":
        want = "No match for '%s'." % key
    exchange(port, req_search(key), ans_result(want))


def sc_empty(port):
    """content-length 0 is answered; the connection stays open."""
    with connect(port) as s:
        roundtrip(s, req_binary(b""), ans_binary(b""))
        s.sendall(frame(header("text/json", "utf-8", 0), b""))
        expect_error(s, "invalid-json", False)
        roundtrip(s, req_search("ring"), ans_result(RING))


def sc_onebyte(port):
    """Requests sent one byte at a time."""
    with connect(port) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for req, want in ((req_search("morpheus"), ans_result(RABBIT)),
                          (GOLDEN_REQ_BIN, ans_binary(b"binary\xf0\x9f\x98"
                                                      b"\x83"))):
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
            reqs.append(req_search("ring"))
            wants.append(ans_result(RING))
        elif i % 3 == 1:
            b = ("%010d" % i).encode()
            reqs.append(req_binary(b))
            wants.append(ans_binary(b))
        else:
            reqs.append(req_search("q%d" % i))
            wants.append(ans_result("No match for 'q%d'." % i))
    with connect(port) as s:
        blob = b"".join(reqs)
        sender = threading.Thread(target=s.sendall, args=(blob,))
        sender.start()
        for i, w in enumerate(wants):
            got, _, _ = read_frame(s)
            check(got == w, "pipelined answer %d differs" % i)
        sender.join()


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
                roundtrip(s, req_search("morpheus"), ans_result(RABBIT))
            else:
                b = ("c%02dr%05d" % (idx % 100, done)).encode()[:10]
                roundtrip(s, req_binary(b), ans_binary(b))
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
        pre = s.recv(1)
    except (BrokenPipeError, ConnectionResetError):
        return None
    if not pre:
        return None
    pre += recv_exact(s, 1)
    (n,) = struct.unpack(">H", pre)
    hb = recv_exact(s, n)
    hdr = json.loads(hb.decode("utf-8"))
    return pre + hb + recv_exact(s, hdr["content-length"])


# Times a request is sent again before the client gives up on it.
RESEND_MAX = 5


def steady_client(port, idx, until, counts, started, errors):
    """Requests on a kept connection until `until`; a connection closed
    between requests is opened again and the request sent again."""
    s, done = None, 0
    try:
        while time.monotonic() < until:
            if done % 2 == 0:
                req, want = req_search("morpheus"), ans_result(RABBIT)
            else:
                b = ("s%02dr%05d" % (idx % 100, done)).encode()[:10]
                req, want = req_binary(b), ans_binary(b)
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
    errors = []
    threads = [threading.Thread(target=client_worker,
                                args=(port, int(requests), i, errors,
                                      retry == "1"))
               for i in range(int(clients))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    check(not any(t.is_alive() for t in threads), "clients hung")
    check(not errors, "; ".join(errors[:5]))


# Bad input classes: (name, bytes, error code, connection closes)
def bad_inputs():
    good = header("text/json", "utf-8", 2)
    hj = json.dumps(good).encode()
    return [
        ("header too short", b"\x00\x01{", "header-too-short", True),
        ("json syntax", b"\x00\x05{\"a\":", "json-syntax", True),
        ("not object", b"\x00\x02[]", "not-object", True),
        ("missing key", b"\x00\x02{}", "missing-key", True),
        ("bad byteorder", frame(header("a", "b", 0, "middle"), b""),
         "bad-byteorder", True),
        ("invalid utf-8", b"\x00\x06{\"\xff\": 1}", "invalid-utf8", True),
        ("content too long", frame(header("a", "b", 1 << 40), b""),
         "content-too-long", True),
        ("trailing data", struct.pack(">H", len(hj) + 2) + hj + b" x",
         "trailing-data", True),
        ("content not json", frame(good, b"{x"), "invalid-json", False),
        ("content not object", frame(header("text/json", "utf-8", 2), b"[]"),
         "content-not-object", False),
        ("action missing", req_json({"value": "ring"}), "bad-action", False),
        ("value not string", req_json({"action": "search", "value": 1}),
         "bad-value", False),
        ("encoding", req_json({"action": "search", "value": "ring"},
                              enc="latin-1"), "bad-encoding", False),
    ]


def dup_key_frame():
    h = (b'{"byteorder": "big", "byteorder": "big", "content-type": "a", '
         b'"content-encoding": "b", "content-length": 0}')
    return struct.pack(">H", len(h)) + h


def sc_badinput(port):
    """Each bad input on its own connection while others keep working."""
    stop = threading.Event()
    errors = []

    def steady():
        try:
            with connect(port) as s:
                while not stop.is_set():
                    roundtrip(s, req_search("ring"), ans_result(RING))
        except (OSError, Fail) as e:
            errors.append("steady client: %s" % e)

    helpers = [threading.Thread(target=steady) for _ in range(4)]
    for t in helpers:
        t.start()
    try:
        cases = bad_inputs()
        cases.append(("duplicate key", dup_key_frame(), "duplicate-key",
                      True))
        for name, data, code, closes in cases:
            with connect(port) as s:
                roundtrip(s, req_search("morpheus"), ans_result(RABBIT))
                s.sendall(data)
                try:
                    expect_error(s, code, closes)
                except Fail as e:
                    raise Fail("%s: %s" % (name, e))
                if not closes:
                    roundtrip(s, req_search(DOG), ans_result(BALL))
    finally:
        stop.set()
        for t in helpers:
            t.join(30)
    check(not errors, "; ".join(errors))


def sc_request_timeout(port, limit="3"):
    """A frame that never completes is cut off; others are unaffected."""
    with connect(port) as slow, connect(port) as ok:
        req = req_search("ring")
        slow.sendall(req[:7])
        t0 = time.monotonic()
        while time.monotonic() - t0 < 0.3:
            roundtrip(ok, req_search("ring"), ans_result(RING))
        took = expect_eof(slow, float(limit))
        roundtrip(ok, req_search("ring"), ans_result(RING))
        check(took < float(limit), "request timeout took %.2f s" % took)


def sc_idle_timeout(port, limit="3"):
    """A silent connection is closed."""
    with connect(port) as s:
        roundtrip(s, req_search("ring"), ans_result(RING))
        took = expect_eof(s, float(limit))
        check(took < float(limit), "idle timeout took %.2f s" % took)


def sc_write_timeout(port, limit="5"):
    """A client that sends but never reads is closed, not buffered."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect((HOST, port))
    s.setblocking(False)
    req = req_search("x" * 1000)
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
    exchange(port, req_search("ring"), ans_result(RING))


def sc_conncap(port, cap):
    """At the cap a new connection gets a busy error frame and is closed
    at once, even when it sent a request first; below it, served."""
    cap = int(cap)
    conns = []
    try:
        for _ in range(cap):
            s = connect(port)
            roundtrip(s, req_search("ring"), ans_result(RING))
            conns.append(s)
        extra = connect(port)
        expect_error(extra, "busy", True)
        extra.close()
        extra = connect(port)
        extra.sendall(req_search("ring"))
        expect_error(extra, "busy", True)
        extra.close()
        conns.pop().close()
        time.sleep(0.2)
        exchange(port, req_search("ring"), ans_result(RING))
        for s in conns:
            roundtrip(s, req_search(DOG), ans_result(BALL))
    finally:
        for s in conns:
            s.close()


def sc_many(port, count, want_all="0"):
    """Open COUNT connections at once, then check the gateway still
    answers; prints how many were served and how many were closed. With
    WANT_ALL 1, every one must be served."""
    count = int(count)
    conns = []
    served = closed = 0
    try:
        for _ in range(count):
            try:
                conns.append(connect(port, 5))
            except OSError:
                closed += 1
        for s in conns:
            try:
                s.sendall(req_search("ring"))
            except OSError:
                pass
        for s in conns:
            try:
                got, _, _ = read_frame(s)
                check(got == ans_result(RING), "wrong answer")
                served += 1
            except (OSError, Fail):
                closed += 1
    finally:
        for s in conns:
            s.close()
    time.sleep(0.3)
    exchange(port, req_search("ring"), ans_result(RING))
    print("served=%d closed=%d" % (served, closed))
    check(want_all == "0" or served == count,
          "%d of %d connections served" % (served, count))


def sc_hold(port, seconds):
    """Send half a request, wait, finish it, expect the answer, then EOF
    (used around SIGTERM: answers in flight complete)."""
    req = req_search("morpheus")
    with connect(port) as s:
        s.sendall(req[:20])
        print("ready", flush=True)
        time.sleep(float(seconds))
        s.sendall(req[20:])
        got, _, _ = read_frame(s)
        check(got == ans_result(RABBIT), "answer during drain: %r" % got)
        expect_eof(s, 5)


def sc_latency(port, seconds, limit):
    """Print "ready" after a first answer, then search on one connection
    for SECONDS; the slowest answer must come within LIMIT seconds."""
    worst = 0.0
    with connect(port) as s:
        roundtrip(s, req_search("ring"), ans_result(RING))
        print("ready", flush=True)
        end = time.monotonic() + float(seconds)
        while time.monotonic() < end:
            t0 = time.monotonic()
            roundtrip(s, req_search("ring"), ans_result(RING))
            worst = max(worst, time.monotonic() - t0)
    print("slowest answer %.3f s" % worst)
    check(worst <= float(limit), "an answer took %.3f s" % worst)


def sc_slowsend(port, seconds):
    """A binary request whose header and most of its content come, then
    the rest after SECONDS: answered (a relay's upstream timeout does
    not run while it waits on its client)."""
    content = b"slowsend " + b"s" * 991
    req = req_binary(content)
    with connect(port) as s:
        s.sendall(req[:-100])
        time.sleep(float(seconds))
        s.sendall(req[-100:])
        got, _, _ = read_frame(s)
        check(got == ans_binary(content), "answer %r" % got[:160])


def chaos_client(port, seed, until, errors):
    """Random bytes, random splits, abrupt resets; never checks answers."""
    import random
    rnd = random.Random(seed)
    pieces = [GOLDEN_REQ_JSON, GOLDEN_REQ_BIN, req_search("ring"),
              b"\x00\x01{", b"\xff" * 40, dup_key_frame(),
              frame(header("text/json", "utf-8", 5), b"[1,2]")]
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
    exchange(port, req_search("ring"), ans_result(RING))


def sc_dual(port):
    """Listening on every address: IPv4 and, when the host has it, IPv6."""
    exchange(port, req_search("ring"), ans_result(RING))
    try:
        s = socket.create_connection(("::1", port), timeout=TIMEOUT)
    except OSError as e:
        print("no IPv6 loopback: %s" % e)
        return
    with s:
        s.settimeout(TIMEOUT)
        roundtrip(s, req_search("ring"), ans_result(RING))


def sc_refused(port):
    """Nothing listens any more."""
    try:
        s = socket.create_connection((HOST, port), timeout=2)
    except OSError:
        return
    try:
        s.sendall(req_search("ring"))
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
            roundtrip(s, hdr + req_search("ring"), ans_result(RING))


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
                roundtrip(s, req_search("ring"), ans_result(RING))
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
    "badinput": sc_badinput,
    "request-timeout": sc_request_timeout,
    "idle-timeout": sc_idle_timeout,
    "write-timeout": sc_write_timeout,
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


def main(argv):
    if len(argv) < 3 or argv[2] not in SCENARIOS:
        sys.stderr.write("usage: gw_client.py PORT SCENARIO [ARGS...]\n"
                         "scenarios: %s\n" % ", ".join(sorted(SCENARIOS)))
        return 2
    try:
        SCENARIOS[argv[2]](int(argv[1]), *argv[3:])
    except (Fail, OSError, ValueError) as e:
        sys.stderr.write("gw_client %s: FAIL: %s\n" % (argv[2], e))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
