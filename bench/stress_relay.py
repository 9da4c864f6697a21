"""stress_relay.py - the relay phase of `make stress`: F, an upstream in
this process that misbehaves on request, the cases each relay must
answer as documented, the rotation through a refusing upstream and a
healthy one, and the PROXY headers told upstream."""

import concurrent.futures
import json
import select
import socket
import struct
import threading
import time

import harness
import hframe_wire as wire
import stress_common as common
from stress_common import (ANSWER_WAIT, HOST, INDEX, MORPHEUS, NOREAD_BYTES,
                           REQUEST_TIMEOUT, STATS, UPSTREAM_TIMEOUT,
                           binary_request, connect, error_code, guarded,
                           read_frames)
from stress_catalogue import attack_catalogue

# ------------------------------------------------------------------ relays

def no_match(value):
    return wire.result("No match for '%s'." % value)


UNSOLICITED = wire.result("nobody asked for this")


class FaultUpstream(threading.Thread):
    """F, the upstream of relay R: answers search and binary requests
    byte for byte as the gateway does, except those whose search value
    (or binary content) starts with one of these words:

      fault-stall        read the request, never answer
      fault-noread       stop reading after the first bytes of content
      fault-garbage      answer with a header holding a duplicate key
      fault-zero         answer with a header length of 0
      fault-http         answer an HTTP error, then close
      fault-reset        reset the connection without answering
      fault-close        close the connection without answering
      fault-reset-once   the same, the first time this value is seen
      fault-reset-mid    send half the answer, then reset
      fault-close-mid    send half the answer, then close
      fault-close-after  answer, then close (as the reference server does)
      fault-extra        answer, and another frame in the same write
      fault-late-extra   answer, and another frame 0.2 s later
      fault-slow         answer in three parts, 0.3 s apart

    Each connection has a thread; a stalled one is held until the relay
    closes it (or for HOLD seconds)."""

    HOLD = 60.0
    KINDS = ("fault-stall", "fault-noread", "fault-garbage", "fault-zero",
             "fault-http", "fault-reset-once", "fault-reset-mid",
             "fault-reset", "fault-close-mid", "fault-close-after",
             "fault-close", "fault-late-extra", "fault-extra",
             "fault-slow")

    def __init__(self):
        super().__init__(daemon=True)
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind((HOST, 0))
        self.lsock.listen(512)
        self.port = self.lsock.getsockname()[1]
        self.lock = threading.Lock()
        self.closing = threading.Event()
        self.accepted = 0
        self.open = 0
        self.doing = {}         # open connection -> what F does on it
        self.faults = {}
        self.seen = set()

    def run(self):
        while not self.closing.is_set():
            try:
                conn, _ = self.lsock.accept()
            except OSError:
                return
            with self.lock:
                self.accepted += 1
                self.open += 1
            threading.Thread(target=self.serve, args=(conn,),
                             daemon=True).start()

    def close(self):
        self.closing.set()
        self.lsock.close()

    def count(self, kind):
        with self.lock:
            self.faults[kind] = self.faults.get(kind, 0) + 1

    @staticmethod
    def read_request(f):
        """(header, content, stopped): the content's first bytes only
        when it asks F to stop reading."""
        prefix = f.read(2)
        if len(prefix) < 2:
            return None
        raw = f.read(int.from_bytes(prefix, "big"))
        h = json.loads(raw.decode())
        clen = h["content-length"]
        head = f.read(min(clen, 16))
        if head.startswith(b"fault-noread"):
            return h, head, True
        content = head + f.read(clen - len(head))
        if len(content) < clen:
            return None
        return h, content, False

    def kind_of(self, h, content):
        """(fault word or None, the answer the gateway would give)."""
        if h.get("content-type") == "text/json":
            value = json.loads(content.decode())["value"]
            word = value
            want = wire.result(INDEX[value]) if value in INDEX \
                else no_match(value)
        else:
            word = content.split(b" ", 1)[0].decode("latin-1")
            want = wire.binary_answer(content)
        for k in self.KINDS:
            if word.startswith(k):
                return k, want, word
        return None, want, word

    def hold(self, conn, drain_after=None):
        """Until the relay closes the connection (or HOLD seconds). Its
        close is queued behind the request bytes F has not read: with
        drain_after, F reads and drops them after that many seconds, so
        that the close arrives."""
        p = select.poll()
        p.register(conn, select.POLLRDHUP)
        t0 = time.monotonic()
        while time.monotonic() - t0 < self.HOLD and \
                not self.closing.is_set():
            if p.poll(500):
                return
            if drain_after is not None and \
                    time.monotonic() - t0 > drain_after:
                while not self.closing.is_set() and \
                        conn.recv(1 << 20) != b"":
                    pass
                return

    @staticmethod
    def reset(conn):
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                        struct.pack("ii", 1, 0))
        conn.close()

    def answer(self, conn, kind, want, word):
        """Act on one request; False when the connection is done."""
        if kind is not None:
            self.count(kind)
        if kind is None:
            conn.sendall(want)
        elif kind == "fault-stall":
            self.hold(conn)
            return False
        elif kind == "fault-noread":
            self.hold(conn, UPSTREAM_TIMEOUT + 1)
            return False
        elif kind == "fault-garbage":
            conn.sendall(wire.prefixed(
                '{"content-type": "x", "content-type": "y"}'))
            self.hold(conn)
            return False
        elif kind == "fault-zero":
            conn.sendall(b"\x00\x00{}")
            self.hold(conn)
            return False
        elif kind == "fault-http":
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\n"
                         b"Content-Length: 0\r\n\r\n")
            return False
        elif kind == "fault-reset":
            self.reset(conn)
            return False
        elif kind == "fault-close":
            return False
        elif kind == "fault-reset-once":
            with self.lock:
                first = word not in self.seen
                self.seen.add(word)
            if first:
                self.reset(conn)
                return False
            conn.sendall(want)
        elif kind in ("fault-reset-mid", "fault-close-mid"):
            conn.sendall(want[:len(want) - 10])
            time.sleep(0.05)
            if kind == "fault-reset-mid":
                self.reset(conn)
            return False
        elif kind == "fault-close-after":
            conn.sendall(want)
            return False
        elif kind == "fault-extra":
            conn.sendall(want + UNSOLICITED)
        elif kind == "fault-late-extra":
            conn.sendall(want)
            time.sleep(0.2)
            conn.sendall(UNSOLICITED)
        elif kind == "fault-slow":
            third = len(want) // 3
            for part in (want[:third], want[third:2 * third],
                         want[2 * third:]):
                conn.sendall(part)
                time.sleep(0.3)
        return True

    def serve(self, conn):
        me = threading.get_ident()
        try:
            conn.settimeout(self.HOLD)
            f = conn.makefile("rb")
            while True:
                self.doing[me] = "reading a request"
                req = self.read_request(f)
                if req is None:
                    return
                kind, want, word = self.kind_of(req[0], req[1])
                self.doing[me] = kind or "answering"
                if not self.answer(conn, kind, want, word):
                    return
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return
        finally:
            conn.close()
            with self.lock:
                self.open -= 1
                self.doing.pop(me, None)


def refusing_port():
    """A loopback port nothing listens on (connections are refused)."""
    return harness.free_port()


class FullBacklog:
    """A listening socket that never accepts, its queue filled by
    connections of its own: a connection to it hangs in SYN-SENT."""

    def __init__(self):
        self.lsock = socket.socket()
        self.lsock.bind((HOST, 0))
        self.lsock.listen(0)
        self.port = self.lsock.getsockname()[1]
        self.fillers = []
        for _ in range(8):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex((HOST, self.port))
            self.fillers.append(s)

    def close(self):
        for s in self.fillers:
            s.close()
        self.lsock.close()


# PROXY headers cut short: v1, v2 (inside its signature), one byte.
PROXY_CUTS = (b"PROXY TCP4 203.0.113.7", b"\r\n\r\n\x00\r\nQU", b"P")
# PROXY headers without an address: v1 UNKNOWN, v2 LOCAL, v2 AF_UNIX
# (two 108-byte socket paths); sent to P from PROXY_SOURCE, which E must
# never be told.
V2SIG = b"\r\n\r\n\x00\r\nQUIT\n"
PROXY_NO_ADDRESS = (b"PROXY UNKNOWN\r\n", V2SIG + b"\x20\x00\x00\x00",
                    V2SIG + b"\x21\x31\x00\xd8" + bytes(216))
PROXY_SOURCE = "127.0.0.2"
# P's --upstream-conns: fewer than the clients that keep a connection to
# it at once, each of which has a private upstream connection.
P_CONNS = 2


def relay_cases(r, u, t, serial, p=None, e=None):
    """(name, relay, request, expectation, follow-up) for one pass of the
    relay phase. Expectations:
      ("error", CODE, SECONDS)  one error frame with CODE, no sooner than
                                SECONDS; the connection stays open
      ("reply", FRAME)          this answer; the connection stays open
      ("broken", FRAME)         a strict prefix of FRAME (the upstream's
                                answer broke after its header went out),
                                then the relay closes the connection
      ("reply-then-eof", FRAME) the client shuts its sending side after
                                the request: the answer, then the close
      ("give-up",)              the client closes while F stalls
      ("paused", FRAME, SECONDS) all but the last 100 bytes, a pause of
                                SECONDS, the rest: this answer
      ("keepers", N, FRAME)     N connections, each with its own PROXY
                                header, kept open, taking turns: every
                                request gets FRAME
      ("reply-from", FRAME, ADDRESS)  as "reply", from that source
                                address
      ("error-then-eof", CODE)  the client shuts its sending side after
                                its bytes: one error frame with CODE,
                                then the close
    A follow-up (request, expected frame or error code) is sent on the
    same connection after an answer and must be answered."""
    up_t = UPSTREAM_TIMEOUT
    m = (harness.search("morpheus"), MORPHEUS)
    c = []

    def q(word):
        return harness.search(word), no_match(word)

    def err(name, word, code, wait=0.0):
        c.append((name, r, q(word)[0], ("error", code, wait), m))

    err("upstream stalls", "fault-stall", "upstream-timeout", up_t)
    big = b"fault-noread " + b"n" * (NOREAD_BYTES - 13)
    c.append(("upstream stops reading a 4 MiB request", r,
              binary_request(big), ("error", "upstream-timeout", up_t), m))
    # A client that pauses inside its request, its first bytes all gone
    # upstream, longer than the upstream timeout (shorter than the
    # request timeout): the upstream clock waits for it.
    paused = b"client-pause " + b"p" * 2000
    c.append(("client pauses inside its request", r, binary_request(paused),
              ("paused", wire.binary_answer(paused),
               (up_t + REQUEST_TIMEOUT) / 2), m))
    err("upstream sends a duplicate key", "fault-garbage",
        "upstream-bad-frame")
    err("upstream sends header length 0", "fault-zero",
        "upstream-bad-frame")
    err("upstream answers HTTP, closes", "fault-http", "upstream-failed")
    err("upstream resets before answering", "fault-reset",
        "upstream-failed")
    err("upstream closes before answering", "fault-close",
        "upstream-failed")
    for name, word in (("upstream resets mid-frame", "fault-reset-mid"),
                       ("upstream closes mid-frame", "fault-close-mid")):
        c.append((name, r, q(word)[0], ("broken", q(word)[1]), None))
    for name, word in (
            ("upstream resets once, then answers",
             "fault-reset-once-%d" % serial),
            ("upstream closes after its answer", "fault-close-after"),
            ("upstream answers twice in one write", "fault-extra"),
            ("upstream sends a frame nobody asked for", "fault-late-extra")):
        c.append((name, r, q(word)[0], ("reply", q(word)[1]), m))
    c.append(("client shuts its side, upstream slow", r,
              q("fault-slow")[0], ("reply-then-eof", q("fault-slow")[1]),
              None))
    c.append(("client gives up while upstream stalls", r,
              q("fault-stall")[0], ("give-up",), None))
    if u is not None:
        c.append(("upstream refuses connections", u, m[0],
                  ("error", "upstream-unavailable", 0.0),
                  (m[0], "upstream-unavailable")))
    if t is not None:
        # upstream-unavailable once its connect times out (it counts as
        # refused), at once when the failures have taken it out of the
        # rotation; upstream-timeout for a request that waited that long
        # for a pool connection while the others hung.
        c.append(("upstream connect hangs", t, m[0],
                  ("error", ("upstream-timeout", "upstream-unavailable"),
                   up_t), None))
    # A PROXY header cut short by the client's EOF: bad-proxy-header, as
    # a frame cut short gets truncated, from the gateway and the relay.
    for gw in (g for g in (e, p) if g is not None):
        for cut in PROXY_CUTS:
            c.append(("PROXY header cut short by EOF (%s, %d bytes)" % (
                gw.name, len(cut)), gw, cut,
                      ("error-then-eof", "bad-proxy-header"), None))
    # A PROXY header without an address: the client is unknown, and E is
    # told LOCAL, never the address the client came from (relay_phase
    # reads E's log).
    if p is not None:
        c.append(("%d clients keeping their connections, --upstream-conns "
                  "%d" % (2 * P_CONNS, P_CONNS), p, m[0],
                  ("keepers", 2 * P_CONNS, m[1]), None))
        for hdr in PROXY_NO_ADDRESS:
            c.append(("PROXY header without an address (%d bytes)" %
                      len(hdr), p, hdr + m[0],
                      ("reply-from", m[1], PROXY_SOURCE), None))
    return c


def run_keepers(port, n, req, want, wait):
    """n clients that keep their connections and take turns: None or
    why one was not answered with want."""
    socks = []
    try:
        for i in range(n):
            socks.append(connect(port))
            socks[-1].settimeout(wait)
            socks[-1].sendall(b"PROXY TCP4 203.0.113.%d 127.0.0.1 %d 80\r\n"
                              % (i + 1, 40000 + i))
        for _ in range(2):
            for i, s in enumerate(socks):
                s.sendall(req)
                frames, raw, how = read_frames(s, 1, wait)
                if how != "ok" or raw != want:
                    return "client %d: expected %r, got %s %r" % (
                        i, want[:60], how, raw[:160])
        return None
    except OSError as e:
        return "%s" % e
    finally:
        for s in socks:
            s.close()


def run_relay_case(case):
    """One relay case on a fresh connection: None or why it failed."""
    name, gw, data, exp, follow = case
    kind = exp[0]
    if kind == "keepers":
        return run_keepers(gw.port, exp[1], data, exp[2],
                           ANSWER_WAIT + UPSTREAM_TIMEOUT + common.SLACK)
    wait = ANSWER_WAIT + UPSTREAM_TIMEOUT + common.SLACK
    try:
        s = connect(gw.port, source=exp[2] if kind == "reply-from" else None)
    except OSError as e:
        return "connect: %s" % e
    try:
        s.settimeout(wait)
        t0 = time.monotonic()
        if kind == "paused":
            s.sendall(data[:-100])
            time.sleep(exp[2])
            data = data[-100:]
            kind = "reply"
        s.sendall(data)
        if kind == "give-up":
            time.sleep(0.3)
            return None
        if kind == "error-then-eof":
            s.shutdown(socket.SHUT_WR)
            frames, raw, how = read_frames(s, 1, wait, until_eof=True)
            if how != "eof" or len(frames) != 1 or \
                    error_code(frames[0]) != exp[1]:
                return "expected error %s then close, got %s %r" % (
                    exp[1], how, raw[:160])
            return None
        if kind == "reply-then-eof":
            s.shutdown(socket.SHUT_WR)
            frames, raw, how = read_frames(s, 1, wait, until_eof=True)
            if how != "eof" or raw != exp[1]:
                return "expected the answer then close, got %s %r" % (
                    how, raw[:120])
            return None
        if kind == "broken":
            frames, raw, how = read_frames(s, 1, wait, until_eof=True)
            if how not in ("eof", "reset"):
                return "expected a close, got %s" % how
            if frames or not exp[1].startswith(raw) or len(raw) < 2:
                return "expected a strict prefix of the answer, got %r" % (
                    raw[:120])
            return None
        frames, raw, how = read_frames(s, 1, wait)
        took = time.monotonic() - t0
        if kind == "error":
            codes = exp[1] if isinstance(exp[1], tuple) else (exp[1],)
            code = error_code(frames[0]) if how == "ok" and \
                len(frames) == 1 else None
            if code not in codes:
                return "expected error %s, got %s %r" % (
                    " or ".join(codes), how, raw[:160])
            if code != "upstream-unavailable" and took < exp[2] - 0.3:
                return "error %s after %.2f s, before the upstream " \
                       "timeout" % (exp[1], took)
        elif raw != exp[1]:
            return "expected %r, got %s %r" % (exp[1][:80], how, raw[:160])
        if follow is None:
            return None
        if name == "upstream sends a frame nobody asked for":
            time.sleep(1.0)     # let the unsolicited frame arrive first
        s.sendall(follow[0])
        frames, raw, how = read_frames(s, 1, wait)
        ok = raw == follow[1] if isinstance(follow[1], bytes) else \
            how == "ok" and error_code(frames[0]) == follow[1]
        if how != "ok" or not ok:
            return "connection unusable after the answer: %s %r" % (
                how, raw[:120])
        return None
    except OSError as e:
        return "%s" % e
    finally:
        s.close()


# Requests V gets at once in each rotation probe.
ROTATION_AT_ONCE = 32
ROTATION = {"sequential": 0, "at_once": 0, "unavailable": 0}


def one_search(port):
    """A search on a new connection: "ok", an error code, or why not."""
    try:
        s = connect(port)
    except OSError as e:
        return "connect: %s" % e
    try:
        s.sendall(harness.search("morpheus"))
        frames, raw, how = read_frames(s, 1, ANSWER_WAIT + UPSTREAM_TIMEOUT
                                       + common.SLACK)
        if how == "ok" and raw == MORPHEUS:
            return "ok"
        if how == "ok" and error_code(frames[0]):
            return error_code(frames[0])
        return "%s %r" % (how, raw[:100])
    except OSError as e:
        return "%s" % e
    finally:
        s.close()


def rotation_probe(v, n_seq=10):
    """V relays to a refusing port, then to gateway D: every search must
    be answered by D, as each request tries every upstream in turn. One
    client after another, then ROTATION_AT_ONCE clients at once (whose
    connects interleave: with a rotation shared by every connection, a
    retry could meet the refusing port again and end in
    upstream-unavailable)."""
    for _ in range(n_seq):
        got = one_search(v.port)
        ROTATION["sequential"] += 1
        if got != "ok":
            STATS.violation("relay V, one client at a time: %s" % got)
    with concurrent.futures.ThreadPoolExecutor(ROTATION_AT_ONCE) as ex:
        for got in ex.map(one_search, [v.port] * ROTATION_AT_ONCE):
            ROTATION["at_once"] += 1
            if got == "upstream-unavailable":
                ROTATION["unavailable"] += 1
            if got != "ok":
                STATS.violation("relay V, %d clients at once: %s" % (
                    ROTATION_AT_ONCE, got))
    STATS.attack("relay: one upstream refuses, the other answers",
                 n_seq + ROTATION_AT_ONCE)


def told_source(e):
    """Did gateway E log a client at PROXY_SOURCE (its access lines name
    the address its PROXY header gave)?"""
    with open(e.log_path, encoding="utf-8", errors="replace") as f:
        return ("access peer=%s:" % PROXY_SOURCE) in f.read()


def relay_phase(relays, seconds, cases_s):
    """The relay faults until seconds have passed (each at least once):
    the catalogue through S first (when cases_s is given); then passes of
    every case of relay_cases() at once, beside the rotation probe on V.
    Returns the number of passes."""
    r, s_relay, u, t, v, p, e = (relays.get(k) for k in "RSUTVPE")
    end = time.monotonic() + seconds
    if s_relay is not None and cases_s:
        attack_catalogue(s_relay, cases_s, "relay-catalogue")
    passes = 0
    told = False
    while True:
        passes += 1
        t_pass = time.monotonic()
        cases = relay_cases(r, u, t, passes, p, e)
        probe = guarded(rotation_probe, v) if v is not None else None
        if probe is not None:
            probe.start()
        with concurrent.futures.ThreadPoolExecutor(len(cases)) as ex:
            futs = {ex.submit(run_relay_case, c): c for c in cases}
            for fut in concurrent.futures.as_completed(futs):
                name = futs[fut][0]
                why = fut.result()
                STATS.attack("relay: " + name)
                if why is not None:
                    STATS.violation("relay %s %r: %s" % (
                        futs[fut][1].name, name, why))
        if probe is not None:
            probe.join()
        if e is not None and not told and told_source(e):
            STATS.violation("gateway E behind relay P was told %s, the "
                            "address of a client whose PROXY header had "
                            "none" % PROXY_SOURCE)
            told = True
        now = time.monotonic()
        if now + (now - t_pass) > end:
            return passes
