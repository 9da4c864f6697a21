"""stress_catalogue.py - the catalogue of `make stress`: malformed and
edge-case inputs, each with its documented answer (most from the error
catalogue of tests/vectors/), run one a connection, and the spin check
that leaves them all open on an idle gateway."""

import concurrent.futures
import errno
import socket
import time

import harness
import hframe_vectors
import hframe_wire as wire
import stress_common as common
from stress_common import (ANSWER_WAIT, INDEX, MAX_HEADER_A, MORPHEUS,
                           REQUEST_TIMEOUT, SEARCH, STATS, closed_by_peer,
                           connect, error_code, read_frames, std_header)

# ------------------------------------------------------------------ catalogue

def tj(content, **kw):
    """A text/json frame with a correct content-length."""
    return wire.prefixed(std_header(len(content), **kw)) + content


def catalogue():
    """(name, bytes to send, expectation). Expectations:
      ("frame-error", CODE)  one error frame with CODE, then the gateway
                             closes (cleanly: the frame arrives whole);
      ("bad-request", CODE)  an error frame with CODE and the connection
                             stays open (a good request is then answered);
      ("reply", [FRAMES])    exactly these answer frames, connection open;
      ("reply-then-error", [FRAMES], CODE)  answers, then an error frame
                             and the close;
      ("reply-then-eof", [FRAMES])  the client shuts its sending side after
                             the bytes: every answer, then the close;
      ("eof-error", CODE)    the client shuts its sending side after the
                             bytes: an error frame with CODE, then close;
      ("timeout",)           the bytes start a frame and stop: the gateway
                             closes within the request timeout."""
    c = []

    def fe(name, data, code):
        c.append((name, data, ("frame-error", code)))

    # The error catalogue (tests/vectors/): every header the decoder
    # refuses, and every frame refused at its length prefix under A's
    # --max-header (those written for the default limit are all too
    # short: no 16-bit length is above it).
    for v in hframe_vectors.load("header-errors"):
        fe(v["name"], hframe_vectors.header_frame(v), v["error"])
    for v in hframe_vectors.load("prefix-errors"):
        if v.get("max-header") in (None, MAX_HEADER_A):
            fe(v["name"], v["frame"], v["error"])

    # Truncated streams: the client shuts its sending side.
    for name, data in [
            ("EOF after 1 prefix byte", b"\x00"),
            ("EOF inside the header", wire.prefixed(std_header(41))[:30]),
            ("EOF inside the content",
             wire.prefixed(std_header(41)) + SEARCH[:12]),
    ]:
        c.append((name, data, ("eof-error", "truncated")))
    # A started frame that never completes: request timeout.
    c.append(("frame stalls in the header", wire.prefixed(std_header(41))[:40],
              ("timeout",)))
    c.append(("frame stalls in the content",
              wire.prefixed(std_header(1000)) + b"x" * 10, ("timeout",)))

    # Content-level errors of the catalogue: an error frame, the
    # connection stays open.
    for v in hframe_vectors.load("request-errors"):
        c.append((v["name"], hframe_vectors.request(v),
                  ("bad-request", v["error"])))

    # Valid frames: answered, connection open.
    def reply(name, data, frames):
        c.append((name, data, ("reply", frames)))

    # The tutorial's exchanges, answered as a little-endian host does.
    golden = {v["name"]: v for v in hframe_vectors.load("golden")}
    if wire.HOST_ORDER == "little":
        for v in golden.values():
            if "answers" in v:
                reply("golden " + v["answers"],
                      golden[v["answers"]]["frame"], [v["frame"]])
    reply("binary content-length 0",
          wire.prefixed(std_header(0, ctype="binary/x", cenc="binary")),
          [wire.binary_answer(b"")])
    reply("unknown content type",
          wire.prefixed(std_header(5, ctype="image/png", cenc="binary"))
          + b"\x89PNG\r",
          [wire.binary_answer(b"\x89PNG\r")])
    reply("invalid action", tj(b'{"action": "find", "value": "morpheus"}'),
          [wire.result("Error: invalid action 'find'.")])
    reply("search, little byteorder", wire.prefixed(std_header(len(SEARCH),
                                                     bo="little")) + SEARCH,
          [MORPHEUS])
    reply("search, non-canonical header", wire.prefixed(
        '{ "content-length" :41,"content-encoding":"UTF-8",'
        '"content-type":"text/json","byteorder":"big" }') + SEARCH,
        [MORPHEUS])
    ext64 = "".join(', "x%d": %d' % (i, i) for i in range(64))
    reply("search, 64 extensions",
          wire.prefixed(std_header(len(SEARCH), extra=ext64)) + SEARCH,
          [MORPHEUS])
    reply("search, escaped value",
          tj(b'{"action": "search", "value": "\\u006dorpheus"}'), [MORPHEUS])
    reply("two frames in one write",
          harness.search("morpheus") + harness.search("ring"),
          [MORPHEUS, wire.result(INDEX["ring"])])
    reply("100 pipelined frames", harness.search("morpheus") * 100,
          [MORPHEUS] * 100)
    reply("search, extra keys in content",
          tj(b'{"action": "search", "value": "morpheus", "extra": [1, {}]}'),
          [MORPHEUS])
    c.append(("3,000 pipelined frames, then the client's EOF",
              harness.search("morpheus") * 3000,
              ("reply-then-eof", [MORPHEUS] * 3000)))
    c.append(("frame followed by garbage",
              harness.search("morpheus") + b"\x00\x01garbage",
              ("reply-then-error", [MORPHEUS], "header-too-short")))
    c.append(("frame followed by a bad header",
              harness.search("morpheus") + wire.prefixed("[]"),
              ("reply-then-error", [MORPHEUS], "not-object")))
    return c


def run_case(port, case):
    """One catalogue case on a fresh connection. Returns None or the
    reason it failed."""
    name, data, exp = case
    kind = exp[0]
    try:
        s = connect(port)
    except OSError as e:
        return "connect: %s" % e
    try:
        t0 = time.monotonic()
        try:
            s.sendall(data)
        except OSError as e:
            # The gateway may close while a large bad frame is still
            # being sent; the answer must still be readable.
            if e.errno not in (errno.EPIPE, errno.ECONNRESET):
                return "send: %s" % e
        if kind in ("eof-error", "reply-then-eof"):
            s.shutdown(socket.SHUT_WR)
        if kind == "reply-then-eof":
            frames, raw, how = read_frames(s, len(exp[1]), ANSWER_WAIT,
                                           until_eof=True)
            if how != "eof" or raw != b"".join(exp[1]):
                return "expected %d answers then close, got %s after %d " \
                       "frames" % (len(exp[1]), how, len(frames))
            return None
        if kind in ("frame-error", "eof-error"):
            frames, raw, how = read_frames(s, 1, ANSWER_WAIT, until_eof=True)
            if how != "eof":
                return "expected an error frame then close, got %s after " \
                       "%d frames %r" % (how, len(frames), raw[:100])
            if len(frames) != 1 or error_code(frames[0]) != exp[1]:
                return "expected error %s, got %r" % (exp[1], raw[:160])
            return None
        if kind == "timeout":
            frames, raw, how = read_frames(s, 1,
                                           REQUEST_TIMEOUT + common.SLACK,
                                           until_eof=True)
            took = time.monotonic() - t0
            if how not in ("eof", "reset"):
                return "not closed within %.1f s (%s)" % (
                    REQUEST_TIMEOUT + common.SLACK, how)
            if took < REQUEST_TIMEOUT - 0.5:
                return "closed after %.1f s, before the request timeout" % \
                    took
            return None
        if kind == "bad-request":
            frames, raw, how = read_frames(s, 1, ANSWER_WAIT)
            if how != "ok" or error_code(frames[0]) != exp[1]:
                return "expected error %s, got %s %r" % (exp[1], how,
                                                         raw[:160])
        elif kind in ("reply", "reply-then-error"):
            want = b"".join(exp[1])
            frames, raw, how = read_frames(
                s, len(exp[1]) + (1 if kind == "reply-then-error" else 0),
                ANSWER_WAIT, until_eof=kind == "reply-then-error")
            if kind == "reply-then-error":
                if how != "eof" or not raw.startswith(want) or \
                        len(frames) != len(exp[1]) + 1 or \
                        error_code(frames[-1]) != exp[2]:
                    return "expected answers then error %s and close, got " \
                           "%s %r" % (exp[2], how, raw[:200])
                return None
            if how != "ok" or raw != want:
                return "expected %r, got %s %r" % (want[:100], how,
                                                   raw[:160])
        # The connection must still work.
        s.sendall(harness.search("morpheus"))
        frames, raw, how = read_frames(s, 1, ANSWER_WAIT)
        if how != "ok" or raw != MORPHEUS:
            return "connection unusable after the answer: %s %r" % (
                how, raw[:100])
        return None
    finally:
        s.close()


def spin_check(gw, cases, label="spin-check"):
    """Every catalogue input at once, each on a connection then left
    open (mid-frame for the stalled ones), with nothing else running:
    the gateway must sit idle, not spin on any of them (the reference
    server spins at 100 % on a content-length of 0). Returns the CPU
    seconds it used in 2 seconds."""
    socks = []
    for name, data, exp in cases:
        if exp[0] == "eof-error":
            continue
        try:
            s = connect(gw.port)
            s.sendall(data)
            s.setblocking(False)
            socks.append(s)
        except OSError:
            pass
    STATS.attack(label, len(socks))
    time.sleep(common.SLACK / 6)       # let the answers go out first
    for s in socks:
        closed_by_peer(s)       # drain the answers
    c0 = harness.cpu_seconds(gw.pid)
    time.sleep(2.0)
    cpu = harness.cpu_seconds(gw.pid) - c0
    for s in socks:
        s.close()
    if cpu > 0.2:
        STATS.violation("spin check on %s: %.2f s of CPU in 2 s with the "
                        "%d catalogue connections open and idle" %
                        (gw.name, cpu, len(socks)))
    return cpu


def attack_catalogue(gw, cases, label="catalogue"):
    fails = 0
    with concurrent.futures.ThreadPoolExecutor(16) as ex:
        futs = {ex.submit(run_case, gw.port, c): c for c in cases}
        for f in concurrent.futures.as_completed(futs):
            name = futs[f][0]
            why = f.result()
            STATS.attack(label)
            if why is not None:
                fails += 1
                STATS.violation("%s on %s %r: %s" % (label, gw.name, name,
                                                     why))
    return fails
