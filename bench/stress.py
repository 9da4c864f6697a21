#!/usr/bin/env python3
"""stress.py - `make stress`: attack running gateways on loopback while
healthy clients keep working, and check that nothing breaks.

Four gateways run for the whole suite:
  A  the main target: --max-conns 900, --max-header 32768, short
     timeouts (request 3 s, idle 6 s, write 3 s, drain 1 s) so every
     defence shows within seconds;
  B  the same with `ulimit -n 256` and no practical connection cap, for
     the flood beyond the fd limit (EMFILE);
  C  the same with `ulimit -n 4096`, for the flood past FD_SETSIZE
     (every connection kept and served);
  D  the same with --max-conns 900, the upstream of two relays;
and six relays (hframe-gateway --upstream, the options of A but the
index and the connection cap, upstream timeout 2 s) with their
upstreams:
  R  relays to F, an upstream inside this script that answers like the
     gateway except when a request asks it to misbehave: stall, stop
     reading, send garbage, reset or close before or in the middle of
     its answer, close after every answer, answer twice;
  S  relays to gateway D;
  U  relays to a port that refuses connections;
  T  relays to a port whose listen queue is full (connect hangs);
  V  relays to the refusing port, then to D;
  P  reads PROXY headers (--proxy-protocol) and names its clients to its
     upstream E (--upstream-proxy-protocol), a gateway that reads PROXY
     headers too and logs at level info.
Healthy clients hold persistent connections to each gateway and to R
and S and check every answer byte for byte (on R and S they reconnect
every 10 requests, and one more on R makes F close after every
answer). Attacks: a spin check, the catalogue of malformed inputs (each
with its documented answer), slowloris, idle connections, clients that
never read, stalled 16 MiB bodies, floods beyond the connection cap, the
fd limit and FD_SETSIZE, and the error-frame-then-shutdown behaviour.
The attacks repeat until --seconds have passed (each at least once).
The spin check runs on A and through S before any other traffic. Then,
for a bounded share of --seconds, the relay phase: the catalogue through
S, then every upstream fault through R, U and T and searches through V,
repeated. Then, once, the operator's mistakes on gateways of their own
(stress_operator.py): a port file that cannot be written, --drain-timeout
0, a stderr nobody reads, a relay pointed at itself, a supervisor killed
with SIGKILL.

Violations (exit 1): a healthy request failing, a gateway exiting or
restarting, a catalogue answer other than the documented one, a relay
answering an upstream fault otherwise than documented, an operator
case not ending as documented, a hang, a
connection not closed by its timeout, fds not back at the baseline (or
an upstream connection the relay kept after giving up on it), CPU
spinning while idle, a non-zero exit after SIGTERM. --valgrind runs a
shorter mix against A and the relays R and U under valgrind memcheck and
also requires no memcheck errors and no leaks."""

import argparse
import concurrent.futures
import errno
import json
import os
import resource
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tests"))
import harness  # noqa: E402
import hframe_vectors  # noqa: E402
import hframe_wire as wire  # noqa: E402
import stress_operator  # noqa: E402

HOST = "127.0.0.1"
REQUEST_TIMEOUT = 3.0
IDLE_TIMEOUT = 6.0
WRITE_TIMEOUT = 3.0
DRAIN_TIMEOUT = 1.0
MAX_CONNS_A = 900
MAX_HEADER_A = 32768
FD_LIMIT_B = 256
# Gateway C may open 4096 descriptors, past FD_SETSIZE: its select()
# sets grow to watch them all.
FD_LIMIT_C = 4096
FD_SETSIZE = 1024
# Slack on every timing check: the gateway's timers, our polling, and a
# busy 2-core machine. Under valgrind the gateway runs some 30 times
# slower, so main() raises it.
SLACK = 3.0
SLACK_VALGRIND = 20.0
# Connections of the big-body attack (16 MiB each held by the gateway).
BIG_BODIES = 8
# An answer that takes longer than this is a hang.
ANSWER_WAIT = 5.0
# The relays' --upstream-timeout: long enough for F, a Python server
# sharing this busy process, to answer every healthy request in time.
UPSTREAM_TIMEOUT = 2.0
# Share of --seconds for the relay phase, and its bounds in seconds.
RELAY_SHARE = 0.15
RELAY_MIN = 10.0
RELAY_MAX = 30.0
# Requests that stop F reading: big enough to fill the socket buffers.
NOREAD_BYTES = 4 * 1024 * 1024

INDEX = {
    "morpheus": "Follow the white rabbit. \U0001f430",
    "ring": "In the caves beneath the Misty Mountains. \U0001f48d",
    "\U0001f436": "\U0001f43e Playing ball! \U0001f3d0",
}


def binary_request(content):
    return wire.binary_request(content, byteorder="little")


# ------------------------------------------------------------------ frames

def read_frames(s, count, timeout, until_eof=False):
    """Read until count frames arrived (and, with until_eof, the peer
    closed). Returns (frames, raw bytes, how it ended): "ok", "eof",
    "reset", "timeout" or an error text."""
    buf = b""
    end = time.monotonic() + timeout
    frames = []
    while True:
        frames, _, err = wire.parse_frames(buf)
        if err:
            return frames, buf, err
        if len(frames) >= count and not until_eof:
            return frames, buf, "ok"
        left = end - time.monotonic()
        if left <= 0:
            return frames, buf, "timeout"
        # poll(), not select(): this process holds more than FD_SETSIZE
        # descriptors during the floods.
        p = select.poll()
        p.register(s, select.POLLIN)
        if not p.poll(int(min(left, 0.5) * 1000) + 1):
            continue
        try:
            data = s.recv(65536)
        except ConnectionResetError:
            return frames, buf, "reset"
        except OSError as e:
            return frames, buf, "recv: %s" % e
        if not data:
            frames, _, err = wire.parse_frames(buf)
            return frames, buf, err or "eof"
        buf += data


def error_code(fr):
    return wire.error_code(*fr)


def result_of(fr):
    return wire.result_of(*fr)


# ------------------------------------------------------------------ stats

class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.attacks = {}
        self.healthy_sent = 0
        self.healthy_failed = 0
        self.violations = []

    def attack(self, kind, n=1):
        with self.lock:
            self.attacks[kind] = self.attacks.get(kind, 0) + n

    def violation(self, text):
        with self.lock:
            if len(self.violations) < 200:
                self.violations.append(text)
        print("VIOLATION: %s" % text, file=sys.stderr, flush=True)


STATS = Stats()


# ------------------------------------------------------------------ gateways

class Gateway:
    def __init__(self, name, gw_bin, build, extra, nofile=None,
                 valgrind=False):
        self.name = name
        self.port = harness.free_port()
        self.log_path = os.path.join(build, "stress-%s.log" % name)
        self.vg_log = os.path.join(build, "stress-%s.valgrind" % name)
        args = [gw_bin, "--log-level", "warn",
                "--request-timeout", str(REQUEST_TIMEOUT),
                "--idle-timeout", str(IDLE_TIMEOUT),
                "--write-timeout", str(WRITE_TIMEOUT),
                "--drain-timeout", str(DRAIN_TIMEOUT)] + extra + \
            [HOST, str(self.port)]
        if valgrind:
            args = ["valgrind", "--quiet", "--error-exitcode=99",
                    "--leak-check=full", "--show-leak-kinds=all",
                    "--errors-for-leak-kinds=definite,indirect",
                    "--track-fds=no", "--log-file=" + self.vg_log] + args
        self.args = args

        def limits():
            if nofile is not None:
                resource.setrlimit(resource.RLIMIT_NOFILE,
                                   (nofile, nofile))

        self.log = open(self.log_path, "w")
        self.proc = harness.spawn(args, stdout=subprocess.DEVNULL,
                                  stderr=self.log, preexec_fn=limits)
        self.pid = self.proc.pid
        wait = 60 if valgrind else 10
        if not harness.wait_port(self.port, wait, self.proc):
            raise SystemExit("stress: gateway %s did not start: %s"
                             % (name, " ".join(args)))
        time.sleep(0.3)
        self.fd_base = harness.fd_count(self.pid)
        self.rss_base = harness.rss_kib(self.pid)
        self.rss_peak = self.rss_base

    def alive(self):
        return self.proc.poll() is None

    def sample(self):
        rss = harness.rss_kib(self.pid)
        if rss > self.rss_peak:
            self.rss_peak = rss

    def stop(self):
        rc = harness.stop(self.proc, 30)
        self.log.close()
        return rc


def connect(port, timeout=5.0, source=None):
    s = socket.create_connection((HOST, port), timeout,
                                 None if source is None else (source, 0))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


# ------------------------------------------------------------------ healthy

class Healthy(threading.Thread):
    """A well-behaved client on one persistent connection: search and
    binary requests in turn, every answer compared byte for byte."""

    REQUESTS = [
        (harness.search("morpheus"), wire.result(INDEX["morpheus"])),
        (harness.search("ring"), wire.result(INDEX["ring"])),
        (harness.search("\U0001f436"), wire.result(INDEX["\U0001f436"])),
        (harness.search("nobody"), wire.result("No match for 'nobody'.")),
        (binary_request(b"binary\xf0\x9f\x98\x83"),
         wire.binary_answer(b"binary\xf0\x9f\x98\x83")),
        (binary_request(b"y" * 70000), wire.binary_answer(b"y" * 10)),
    ]

    def __init__(self, gw, stop, pause, requests=None, reconnect_every=0):
        super().__init__(daemon=True)
        self.gw = gw
        self.stop_ev = stop
        self.pause = pause
        self.requests = requests or self.REQUESTS
        # A new connection every so many requests (0: never).
        self.reconnect_every = reconnect_every
        self.sock = None
        self.sent = 0
        self.failed = 0
        self.reconnects = 0

    def fail(self, why):
        self.failed += 1
        STATS.violation("healthy client on %s: %s" % (self.gw.name, why))
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def run(self):
        i = 0
        while not self.stop_ev.is_set():
            req, want = self.requests[i % len(self.requests)]
            i += 1
            if self.sock is not None and self.reconnect_every and \
                    i % self.reconnect_every == 0:
                self.sock.close()
                self.sock = None
            if self.sock is None:
                try:
                    self.sock = connect(self.gw.port)
                    self.reconnects += 1
                except OSError as e:
                    self.sent += 1
                    self.fail("connect: %s" % e)
                    time.sleep(0.2)
                    continue
            self.sent += 1
            try:
                self.sock.sendall(req)
            except OSError as e:
                self.fail("send: %s" % e)
                continue
            frames, raw, how = read_frames(self.sock, 1, ANSWER_WAIT)
            if how != "ok" or len(frames) != 1:
                self.fail("no answer (%s)" % how)
                continue
            if raw != want:
                self.fail("wrong answer %r" % raw[:120])
                continue
            self.stop_ev.wait(self.pause)
        if self.sock is not None:
            self.sock.close()


# ------------------------------------------------------------------ catalogue

def std_header(clen, ctype="text/json", cenc="utf-8", bo="big", extra=""):
    return ('{"byteorder": "%s", "content-type": "%s", '
            '"content-encoding": "%s", "content-length": %s%s}'
            % (bo, ctype, cenc, clen, extra))


def tj(content, **kw):
    """A text/json frame with a correct content-length."""
    return wire.prefixed(std_header(len(content), **kw)) + content


SEARCH = b'{"action": "search", "value": "morpheus"}'
MORPHEUS = wire.result(INDEX["morpheus"])


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
            ("EOF inside the content", wire.prefixed(std_header(41)) + SEARCH[:12]),
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
    reply("unknown content type", wire.prefixed(std_header(5, ctype="image/png",
                                                 cenc="binary")) + b"\x89PNG\r",
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
    reply("search, 64 extensions", wire.prefixed(std_header(len(SEARCH), extra="".join(
        ', "x%d": %d' % (i, i) for i in range(64)))) + SEARCH, [MORPHEUS])
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
            frames, raw, how = read_frames(s, 1, REQUEST_TIMEOUT + SLACK,
                                           until_eof=True)
            took = time.monotonic() - t0
            if how not in ("eof", "reset"):
                return "not closed within %.1f s (%s)" % (
                    REQUEST_TIMEOUT + SLACK, how)
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
    time.sleep(SLACK / 6)       # let the answers go out first
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


# ------------------------------------------------------------------ attacks

def open_many(port, n, stop_at=None):
    """Up to n connected non-blocking sockets (fewer when connect fails)."""
    socks = []
    for _ in range(n):
        if stop_at is not None and time.monotonic() > stop_at:
            break
        try:
            s = socket.create_connection((HOST, port), 2)
        except OSError:
            break
        s.setblocking(False)
        socks.append(s)
    return socks


def closed_by_peer(s):
    """The peer closed s (what it sent before, such as a busy frame, is
    read and dropped)."""
    try:
        while s.recv(65536) != b"":
            pass
        return True
    except BlockingIOError:
        return False
    except OSError:
        return True


def attack_slowloris(gw, n, seconds):
    """n connections each trickling one byte of a valid frame a second.
    Every one must be closed within the request timeout (+ slack) of its
    first byte; closed ones are replaced until the time is up."""
    data = harness.search("morpheus")
    end = time.monotonic() + seconds
    conns = []       # [sock, bytes sent, first byte time]
    late = 0
    for s in open_many(gw.port, n, end):
        conns.append([s, 0, None])
    STATS.attack("slowloris", len(conns))
    while time.monotonic() < end or any(c[0] for c in conns):
        now = time.monotonic()
        for c in conns:
            s = c[0]
            if s is None:
                continue
            if closed_by_peer(s):
                s.close()
                c[0] = None
                if now < end:
                    try:
                        ns = socket.create_connection((HOST, gw.port), 2)
                        ns.setblocking(False)
                        c[:] = [ns, 0, None]
                        STATS.attack("slowloris")
                    except OSError:
                        pass
                continue
            if c[2] is not None and \
                    now - c[2] > REQUEST_TIMEOUT + SLACK:
                late += 1
                s.close()
                c[0] = None
                continue
            if now >= end and c[2] is None:
                s.close()
                c[0] = None
                continue
            if c[1] < len(data) - 1:
                try:
                    s.send(data[c[1]:c[1] + 1])
                    c[1] += 1
                    if c[2] is None:
                        c[2] = now
                except OSError:
                    pass
        time.sleep(1.0)
    if late:
        STATS.violation("slowloris: %d connections outlived the request "
                        "timeout" % late)


def attack_idle(gw, n):
    """n connections that send nothing: closed by the idle timeout."""
    t0 = time.monotonic()
    socks = open_many(gw.port, n)
    STATS.attack("idle", len(socks))
    deadline = t0 + IDLE_TIMEOUT + SLACK
    while socks and time.monotonic() < deadline:
        socks = [s for s in socks if not (closed_by_peer(s) and
                                          (s.close() or True))]
        time.sleep(0.25)
    early = time.monotonic() - t0 < IDLE_TIMEOUT - 0.5
    if socks:
        STATS.violation("idle: %d of %d connections still open %.1f s "
                        "after connecting" % (len(socks), n,
                                              IDLE_TIMEOUT + SLACK))
    elif early:
        STATS.violation("idle: connections closed before the idle timeout")
    for s in socks:
        s.close()


def attack_never_read(gw, n):
    """n clients pipelining requests without reading answers (with a small
    receive buffer, so the answers back up fast): the gateway must stop
    reading them (backpressure) and close them after the write timeout,
    with its memory bounded."""
    req = (binary_request(b"z" * 1000) + harness.search("morpheus")) * 16
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        try:
            s.settimeout(2)
            s.connect((HOST, gw.port))
            s.setblocking(False)
            socks.append(s)
        except OSError:
            s.close()
    STATS.attack("never-read", len(socks))
    stuck = {}
    off = {s: 0 for s in socks}   # where the stream of requests stands
    t0 = time.monotonic()
    deadline = t0 + 30 + 3 * SLACK
    alive = list(socks)
    while alive and time.monotonic() < deadline:
        nxt = []
        for s in alive:
            try:
                for _ in range(64):
                    k = s.send(req[off[s]:])
                    off[s] = (off[s] + k) % len(req)
                stuck.pop(s, None)
                nxt.append(s)
            except BlockingIOError:
                now = time.monotonic()
                stuck.setdefault(s, now)
                if now - stuck[s] > WRITE_TIMEOUT + SLACK + 2:
                    STATS.violation("never-read: a connection blocked for "
                                    "%.0f s was not closed" %
                                    (now - stuck[s]))
                    s.close()
                else:
                    nxt.append(s)
            except OSError:
                s.close()
        alive = nxt
        gw.sample()
        time.sleep(0.05)
    if alive:
        STATS.violation("never-read: %d connections still open after "
                        "%.0f s" % (len(alive), deadline - t0))
    for s in alive:
        s.close()


def attack_fdsetsize_flood(gw, n):
    """n connections against a gateway allowed more descriptors than
    FD_SETSIZE: select's sets grow past it, so every one stays open up to
    the connection cap, it keeps serving, and serves new clients once they
    are gone."""
    socks = open_many(gw.port, n)
    STATS.attack("fdsetsize-flood", len(socks))
    time.sleep(1.5)
    open_now = sum(1 for s in socks if not closed_by_peer(s))
    if len(socks) > FD_SETSIZE and open_now <= FD_SETSIZE:
        STATS.violation("FD_SETSIZE flood: only %d of %d connections kept "
                        "by one select() loop" % (open_now, len(socks)))
    for s in socks:
        s.close()
    if not gw.alive():
        STATS.violation("FD_SETSIZE flood: gateway %s exited" % gw.name)


def write_index(path, good):
    """The index file: the built-in entries, or a file that fails to
    parse (the gateway must keep the index it has)."""
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(json.dumps(INDEX, ensure_ascii=False) if good
                else '{"morpheus": "half a file')
    os.replace(tmp, path)


def fifo_index(path):
    """A FIFO in place of the index file: the gateway must refuse it at
    once instead of waiting, loop stopped, for a writer."""
    tmp = path + ".tmp"
    os.mkfifo(tmp)
    os.replace(tmp, path)


def attack_reload(gw, path, n):
    """n SIGHUP reloads while healthy clients run, one in three with a
    broken file and one in three with a FIFO: answers never change,
    connections never drop."""
    for i in range(n):
        if i % 3 == 2:
            fifo_index(path)
        else:
            write_index(path, i % 3 == 0)
        os.kill(gw.pid, signal.SIGHUP)
        STATS.attack("reload")
        time.sleep(0.2)
    write_index(path, True)
    os.kill(gw.pid, signal.SIGHUP)


def attack_big_bodies(gw, n):
    """n connections each sending a text/json frame announcing 16 MiB and
    stalling one byte short: the gateway refuses such a body at its
    header (json-too-long, above --max-json) and discards it as it comes
    instead of buffering it, until the request timeout closes the
    connection. Reports the RSS this costs."""
    size = 16 * 1024 * 1024
    head = wire.prefixed(std_header(size))
    chunk = b" " * 65536
    socks = []
    t0 = time.monotonic()
    for _ in range(n):
        try:
            s = connect(gw.port)
            s.sendall(head)
            left = size - 1
            while left > 0:
                k = s.send(chunk[:min(left, len(chunk))])
                left -= k
            socks.append(s)
        except OSError:
            break
    STATS.attack("big-body", len(socks))
    gw.sample()
    rss = harness.rss_kib(gw.pid)
    end = t0 + REQUEST_TIMEOUT + SLACK + 2
    for s in socks:
        s.setblocking(False)
    while socks and time.monotonic() < end:
        socks = [s for s in socks if not (closed_by_peer(s) and
                                          (s.close() or True))]
        time.sleep(0.2)
    if socks:
        STATS.violation("big bodies: %d stalled connections outlived the "
                        "request timeout" % len(socks))
    for s in socks:
        s.close()
    return rss


def attack_cap_flood(gw, n):
    """n connections beyond --max-conns at once: the excess is closed,
    the gateway keeps serving."""
    socks = open_many(gw.port, n)
    STATS.attack("cap-flood", len(socks))
    time.sleep(1.5)
    open_now = [s for s in socks if not closed_by_peer(s)]
    if len(open_now) > MAX_CONNS_A:
        STATS.violation("cap flood: %d connections open beyond "
                        "--max-conns %d" % (len(open_now), MAX_CONNS_A))
    # Still serving a new client once the flood is gone.
    for s in socks:
        s.close()
    return len(socks) - len(open_now)


def attack_fd_flood(gw, n):
    """n connections against a gateway with `ulimit -n 256`: it must not
    exit on EMFILE, and must serve new clients once they are gone."""
    socks = open_many(gw.port, n)
    STATS.attack("fd-flood", len(socks))
    time.sleep(1.5)
    if not gw.alive():
        STATS.violation("fd flood: gateway %s exited" % gw.name)
        return
    for s in socks:
        s.close()
    time.sleep(0.5)
    for _ in range(20):
        try:
            s = connect(gw.port)
            s.sendall(harness.search("morpheus"))
            frames, raw, how = read_frames(s, 1, ANSWER_WAIT)
            s.close()
            if raw == MORPHEUS:
                return
        except OSError:
            pass
        time.sleep(0.25)
    STATS.violation("fd flood: gateway %s does not serve new clients "
                    "after the flood" % gw.name)


def attack_error_shutdown(gw, n):
    """A bad frame followed by a lot of unread data: the gateway must
    deliver the error frame whole (shutdown and drain, not a reset)."""
    bad = wire.prefixed("[]") + b"\x00" * (256 * 1024)
    for _ in range(n):
        STATS.attack("error-then-shutdown")
        try:
            s = connect(gw.port)
        except OSError as e:
            STATS.violation("error-then-shutdown: connect: %s" % e)
            continue
        try:
            try:
                s.sendall(bad)
            except OSError:
                pass
            frames, raw, how = read_frames(s, 1, ANSWER_WAIT)
            if how != "ok" or error_code(frames[0]) != "not-object":
                STATS.violation("error-then-shutdown: error frame not "
                                "received whole (%s, %d bytes)"
                                % (how, len(raw)))
        finally:
            s.close()


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
            conn.sendall(wire.prefixed('{"content-type": "x", "content-type": "y"}'))
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
        # upstream-timeout once its connects time out; once they have
        # taken it out of the rotation, upstream-unavailable at once.
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
                           ANSWER_WAIT + UPSTREAM_TIMEOUT + SLACK)
    wait = ANSWER_WAIT + UPSTREAM_TIMEOUT + SLACK
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
                                       + SLACK)
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


# ------------------------------------------------------------------ operator

def operator_phase(gw_bin, build):
    """The cases of stress_operator, each on gateways of its own:
    {name: "pass" or why it failed}."""
    out = {}
    for name, why in stress_operator.run_all(gw_bin, build,
                                             harness.search("morpheus"),
                                             MORPHEUS):
        STATS.attack("operator: " + name)
        out[name] = "pass" if why is None else why
        print("stress: operator: %s: %s" % (name, out[name]), flush=True)
        if why is not None:
            STATS.violation("operator: %s: %s" % (name, why))
    return out


# ------------------------------------------------------------------ driver

def guarded(fn, *args):
    """A thread for fn(*args) whose exceptions become violations."""
    def run():
        try:
            fn(*args)
        except Exception as e:  # noqa: BLE001 - reported, not hidden
            STATS.violation("%s raised %r" % (fn.__name__, e))
    return threading.Thread(target=run)


def gateway_stats(path):
    """The counters of the gateway's last "stats" log line."""
    out = {}
    try:
        with open(path, errors="replace") as f:
            lines = [x for x in f if " stats " in x]
    except OSError:
        return out
    if lines:
        for kv in lines[-1].split(" stats ", 1)[1].split():
            k, _, v = kv.partition("=")
            if v.isdigit():
                out[k] = int(v)
    return out


def monitor(gws, stop):
    while not stop.is_set():
        for g in gws:
            g.sample()
        stop.wait(0.2)


def wait_fds(gw, timeout):
    end = time.monotonic() + timeout
    n = harness.fd_count(gw.pid)
    while n > gw.fd_base and time.monotonic() < end:
        time.sleep(0.25)
        n = harness.fd_count(gw.pid)
    return n


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--build", default="build")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--valgrind", action="store_true")
    a = ap.parse_args()

    global SLACK
    if a.valgrind:
        SLACK = SLACK_VALGRIND
    harness.raise_nofile(20000)
    gw_bin = os.path.join(a.build, "hframe-gateway")
    if not os.access(gw_bin, os.X_OK):
        raise SystemExit("stress: %s is not built" % gw_bin)
    t_start = time.monotonic()
    cases = catalogue()
    print("stress: %d catalogue cases, %s" % (
        len(cases), "valgrind memcheck" if a.valgrind
        else "%.0f s" % a.seconds), flush=True)

    index_path = os.path.join(a.build, "stress-index.json")
    write_index(index_path, True)
    extra_a = ["--max-conns", str(MAX_CONNS_A), "--max-header",
               str(MAX_HEADER_A), "--index", index_path]
    gw_a = Gateway("A", gw_bin, a.build, extra_a, valgrind=a.valgrind)
    gws = [gw_a]
    if not a.valgrind:
        gws.append(Gateway("B", gw_bin, a.build, ["--max-conns", "4000"],
                           nofile=FD_LIMIT_B))
        gws.append(Gateway("C", gw_bin, a.build, ["--max-conns", "4000"],
                           nofile=FD_LIMIT_C))
    # The relays and their upstreams (under valgrind: R and U only).
    f_up = FaultUpstream()
    f_up.start()
    refused = refusing_port()
    backlog = None
    relays = {}

    def relay(name, upstreams, valgrind=False, more=()):
        extra = ["--max-header", str(MAX_HEADER_A), "--upstream-timeout",
                 str(UPSTREAM_TIMEOUT)] + list(more)
        for port in upstreams:
            extra += ["--upstream", "%s:%d" % (HOST, port)]
        relays[name] = Gateway(name, gw_bin, a.build, extra,
                               valgrind=valgrind)
        return relays[name]

    # F fails on purpose, whenever a hostile request asks it to: R keeps
    # it in the rotation, so that its healthy clients are answered
    # (health, an upstream taken out and back, is what V exercises), and
    # gives each client connections of its own, since F also sends
    # frames nobody asked for.
    relay("R", [f_up.port], a.valgrind, ("--upstream-fails", "1000000",
                                         "--upstream-private"))
    relay("U", [refused], a.valgrind)
    if not a.valgrind:
        gw_d = Gateway("D", gw_bin, a.build,
                       ["--max-conns", str(MAX_CONNS_A)])
        gws.append(gw_d)
        # S's pool stays within what D accepts (--max-conns), as an
        # operator sizes --upstream-conns to the upstream's capacity.
        relay("S", [gw_d.port], more=("--upstream-conns",
                                      str(MAX_CONNS_A - 100)))
        backlog = FullBacklog()
        relay("T", [backlog.port])
        relay("V", [refused, gw_d.port])
        relays["E"] = Gateway("E", gw_bin, a.build,
                              ["--proxy-protocol", "--log-level", "info"])
        relay("P", [relays["E"].port], more=(
            "--proxy-protocol", "--upstream-proxy-protocol",
            "--upstream-conns", str(P_CONNS)))
    gws += list(relays.values())
    for g in gws:
        print("stress: gateway %s pid %d port %d, %d fds, %d KiB: %s" % (
            g.name, g.pid, g.port, g.fd_base, g.rss_base, " ".join(g.args)),
            flush=True)
    print("stress: F (upstream of R) port %d, refusing port %d%s" % (
        f_up.port, refused, ", full listen queue port %d" % backlog.port
        if backlog else ""), flush=True)

    # Before any other traffic, so that CPU time is the gateway idling.
    spin_cpu = spin_check(gw_a, cases)
    print("stress: spin check: %.3f s of CPU in 2 s with the catalogue's "
          "connections open" % spin_cpu, flush=True)
    spin_relay = None
    if "S" in relays:
        spin_relay = spin_check(relays["S"], cases, "relay-spin-check")
        print("stress: spin check through relay S: %.3f s of its CPU in "
              "2 s" % spin_relay, flush=True)

    stop = threading.Event()
    mon = threading.Thread(target=monitor, args=(gws, stop), daemon=True)
    mon.start()
    healthy = []
    pause = 0.05 if a.valgrind else 0.005
    for g in gws:
        if g.name in ("U", "T", "V", "P", "E"):
            continue            # see relay_cases() and rotation_probe()
        for _ in range(3 if g is gw_a else 2):
            h = Healthy(g, stop, pause,
                        reconnect_every=10 if g.name in ("R", "S") else 0)
            h.start()
            healthy.append(h)
    # On R, a client whose every request makes F close after answering.
    closer = [(harness.search("fault-close-after"),
               no_match("fault-close-after"))]
    closer.append((binary_request(b"fault-close-after " + b"y" * 70000),
                   wire.binary_answer(b"fault-close-after")))
    h = Healthy(relays["R"], stop, pause, closer)
    h.start()
    healthy.append(h)

    relay_passes = 0
    relay_budget = min(max(RELAY_SHARE * a.seconds, RELAY_MIN), RELAY_MAX)
    t_relay = time.monotonic()
    if not a.valgrind:
        print("stress: relay phase (%.0f s)" % relay_budget, flush=True)
        relay_passes = relay_phase(relays, relay_budget, cases)
    t_relay = time.monotonic() - t_relay
    operator = {}
    if not a.valgrind:
        print("stress: operator cases", flush=True)
        operator = operator_phase(gw_bin, a.build)

    rounds = 0
    big_rss = 0
    while True:
        rounds += 1
        t_round = time.monotonic()
        print("stress: round %d" % rounds, flush=True)
        if a.valgrind:
            # One pass of the relay faults beside A's mix.
            def relay_pass():
                nonlocal relay_passes, t_relay
                t0 = time.monotonic()
                relay_passes = relay_phase(relays, 0, None)
                t_relay = time.monotonic() - t0

            relay_thread = guarded(relay_pass)
            relay_thread.start()
            attack_catalogue(gw_a, cases)
            threads = [
                relay_thread,
                guarded(attack_slowloris, gw_a, 50, 5),
                guarded(attack_idle, gw_a, 20),
                guarded(attack_never_read, gw_a, 4),
                guarded(attack_reload, gw_a, index_path, 6),
            ]
            for t in threads[1:]:
                t.start()
            for t in threads:
                t.join()
            attack_error_shutdown(gw_a, 10)
            break
        # Slowloris, idle and never-read clients together, the catalogue
        # and the fd flood on B meanwhile.
        threads = [
            guarded(attack_slowloris, gw_a, 500, 8),
            guarded(attack_idle, gw_a, 200),
            guarded(attack_never_read, gw_a, 20),
            guarded(attack_fd_flood, gws[1], 600),
            guarded(attack_fdsetsize_flood, gws[2], 1200),
            guarded(attack_reload, gw_a, index_path, 20),
        ]
        for t in threads:
            t.start()
        attack_catalogue(gw_a, cases)
        for t in threads:
            t.join()
        attack_error_shutdown(gw_a, 50)
        big_rss = max(big_rss, attack_big_bodies(gw_a, BIG_BODIES))
        attack_cap_flood(gw_a, MAX_CONNS_A + 150)
        # Another round only if it ends in time (with ~15 s of checks).
        now = time.monotonic()
        if now + (now - t_round) + 15 > t_start + a.seconds:
            break

    # Let the last closes land, then stop the healthy clients.
    time.sleep(1.0)
    stop.set()
    for h in healthy:
        h.join(ANSWER_WAIT + 5)
    mon.join(2)
    healthy_sent = sum(h.sent for h in healthy)
    healthy_failed = sum(h.failed for h in healthy)
    via_relays = [h for h in healthy if h.gw.name in relays]
    restarts = 0
    report = {"catalogue_cases": len(cases), "rounds": rounds,
              "attacks": STATS.attacks,
              "attacks_sent": sum(STATS.attacks.values()),
              "healthy_sent": healthy_sent,
              "healthy_failed": healthy_failed, "gateways": {},
              "relay": {"phase_seconds": round(t_relay, 1),
                        "passes": relay_passes,
                        "healthy_sent": sum(h.sent for h in via_relays),
                        "healthy_failed": sum(h.failed for h in via_relays),
                        "healthy_reconnects": sum(h.reconnects
                                                  for h in via_relays)}}
    alive = []
    for g in gws:
        if not g.alive():
            restarts += 1
            STATS.violation("gateway %s exited (status %s)" % (
                g.name, g.proc.returncode))
            continue
        alive.append(g)
    fd_after = {g.name: harness.fd_count(g.pid) if a.valgrind else
                wait_fds(g, IDLE_TIMEOUT + SLACK) for g in alive}
    # Every upstream connection a relay gave up on is closed by now.
    end = time.monotonic() + 3
    while f_up.open > 0 and time.monotonic() < end:
        time.sleep(0.1)
    report["relay"]["rotation"] = dict(ROTATION)
    report["relay"]["f_connections"] = f_up.accepted
    report["relay"]["f_left_open"] = f_up.open
    report["relay"]["f_faults"] = f_up.faults
    if f_up.open > 0:
        STATS.violation("F: %d upstream connections still open after the "
                        "run (%s)" % (f_up.open, ", ".join(
                            sorted(f_up.doing.values()))))
    # The idle CPU of all of them over the same 2 seconds.
    cpu0 = {g.name: harness.cpu_seconds(g.pid) for g in alive}
    time.sleep(2.0)
    cpus = {g.name: harness.cpu_seconds(g.pid) - cpu0[g.name]
            for g in alive}
    for g in alive:
        fds, cpu = fd_after[g.name], cpus[g.name]
        info = {"pid": g.pid, "fd_baseline": g.fd_base, "fds_after": fds,
                "rss_baseline_kib": g.rss_base, "rss_peak_kib": g.rss_peak,
                "rss_after_kib": harness.rss_kib(g.pid),
                "idle_cpu_s_per_2s": round(cpu, 3)}
        if not a.valgrind and fds > g.fd_base:
            STATS.violation("gateway %s: %d fds after the run, baseline %d"
                            % (g.name, fds, g.fd_base))
        if not a.valgrind and cpu > 0.2:
            STATS.violation("gateway %s: %.2f s of CPU in 2 idle seconds "
                            "(spinning)" % (g.name, cpu))
        rc = g.stop()
        info["exit_status"] = rc
        info["counters"] = gateway_stats(g.log_path)
        if a.valgrind:
            try:
                with open(g.vg_log) as f:
                    vg = f.read()
            except OSError:
                vg = ""
            info["valgrind_log"] = g.vg_log
            if rc == 99 or "definitely lost" in vg or \
                    "Invalid" in vg or "uninitialised" in vg:
                STATS.violation("valgrind reports errors or leaks: see %s"
                                % g.vg_log)
                print(vg[:3000], file=sys.stderr)
        if rc != 0:
            STATS.violation("gateway %s exited %s after SIGTERM" % (
                g.name, rc))
        report["gateways"][g.name] = info
    f_up.close()
    if backlog is not None:
        backlog.close()
    report["operator"] = operator
    report["gateway_restarts"] = restarts
    report["spin_check_cpu_s_per_2s"] = round(spin_cpu, 3)
    if spin_relay is not None:
        report["relay"]["spin_check_cpu_s_per_2s"] = round(spin_relay, 3)
    report["big_bodies_rss_kib"] = big_rss
    report["violations"] = STATS.violations
    report["seconds"] = round(time.monotonic() - t_start, 1)

    print()
    print("attacks sent           %d (%s)" % (
        report["attacks_sent"], ", ".join(
            "%s %d" % kv for kv in sorted(STATS.attacks.items()))))
    print("healthy requests sent  %d" % healthy_sent)
    print("healthy requests failed %d" % healthy_failed)
    rr = report["relay"]
    print("  through relays       %d sent, %d failed, %d connections "
          "opened" % (rr["healthy_sent"], rr["healthy_failed"],
                      rr["healthy_reconnects"]))
    print("relay phase            %.1f s, %d passes; F: %d connections, "
          "%d left open, faults %s" % (
              rr["phase_seconds"], rr["passes"], rr["f_connections"],
              rr["f_left_open"], ", ".join(
                  "%s %d" % kv for kv in sorted(rr["f_faults"].items()))))
    if ROTATION["at_once"]:
        print("relay V (refusing port, then D): %d searches one at a "
              "time, %d at once; %d upstream-unavailable" % (
                  ROTATION["sequential"], ROTATION["at_once"],
                  ROTATION["unavailable"]))
    if operator:
        print("operator cases         %d, %d failed" % (
            len(operator), sum(v != "pass" for v in operator.values())))
    print("gateway restarts       %d" % restarts)
    if big_rss:
        print("RSS with %d stalled 16 MiB text/json bodies: %d KiB" % (
            BIG_BODIES, big_rss))
    for name, info in report["gateways"].items():
        print("gateway %s: peak RSS %d KiB (baseline %d, %d after), fds %d "
              "after (baseline %d), idle CPU %.3f s/2 s, exit %s" % (
                  name, info["rss_peak_kib"], info["rss_baseline_kib"],
                  info["rss_after_kib"],
                  info["fds_after"], info["fd_baseline"],
                  info["idle_cpu_s_per_2s"], info["exit_status"]))
        c = info.get("counters", {})
        if c:
            print("  counters: %s" % ", ".join([
                "%s %d" % (k, c[k]) for k in (
                    "accepted", "rejected_cap", "rejected_fdsetsize",
                    "accept_errors", "timeout_request", "timeout_idle",
                    "timeout_write", "req_frame_error", "req_bad_request",
                    "req_relayed", "upstream_connects", "upstream_errors")
                if k in c] + ["%s %d" % (k, v) for k, v in sorted(c.items())
                             if k.startswith("req_err.upstream")]))
    out = os.path.join(a.build, "stress-valgrind.json" if a.valgrind
                       else "stress.json")
    with open(out, "w") as f:
        json.dump(report, f, indent=1)
        f.write("\n")
    print("violations             %d (report: %s)" % (
        len(STATS.violations), out))
    return 1 if STATS.violations or healthy_failed or restarts else 0


if __name__ == "__main__":
    sys.exit(main())
