"""stress_common.py - what the parts of `make stress` share: the timing
and limits every gateway runs with, the healthy answers, reading frames
off a socket with a deadline, the count of attacks and violations, the
gateways themselves (started, sampled, stopped) and threads whose
exceptions become violations. See stress.py for the suite."""

import os
import resource
import select
import socket
import subprocess
import sys
import threading
import time

import harness
import hframe_wire as wire

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


def guarded(fn, *args):
    """A thread for fn(*args) whose exceptions become violations."""
    def run():
        try:
            fn(*args)
        except Exception as e:  # noqa: BLE001 - reported, not hidden
            STATS.violation("%s raised %r" % (fn.__name__, e))
    return threading.Thread(target=run)


def std_header(clen, ctype="text/json", cenc="utf-8", bo="big", extra=""):
    return ('{"byteorder": "%s", "content-type": "%s", '
            '"content-encoding": "%s", "content-length": %s%s}'
            % (bo, ctype, cenc, clen, extra))


SEARCH = b'{"action": "search", "value": "morpheus"}'
MORPHEUS = wire.result(INDEX["morpheus"])


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
