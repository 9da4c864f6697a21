"""stress_attacks.py - the attacks of `make stress` on a running
gateway: slowloris, idle and never-reading clients, floods past the
connection cap, the descriptor limit and FD_SETSIZE, reloads of a good
and a broken index, stalled big bodies, an error frame then shutdown."""

import json
import os
import signal
import socket
import time

import harness
import hframe_wire as wire
import stress_common as common
from stress_common import (ANSWER_WAIT, FD_SETSIZE, HOST, IDLE_TIMEOUT, INDEX,
                           MAX_CONNS_A, MORPHEUS, REQUEST_TIMEOUT, STATS,
                           WRITE_TIMEOUT, binary_request, closed_by_peer,
                           connect, error_code, read_frames, std_header)

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
                    now - c[2] > REQUEST_TIMEOUT + common.SLACK:
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
    deadline = t0 + IDLE_TIMEOUT + common.SLACK
    while socks and time.monotonic() < deadline:
        socks = [s for s in socks if not (closed_by_peer(s) and
                                          (s.close() or True))]
        time.sleep(0.25)
    early = time.monotonic() - t0 < IDLE_TIMEOUT - 0.5
    if socks:
        STATS.violation("idle: %d of %d connections still open %.1f s "
                        "after connecting" % (len(socks), n,
                                              IDLE_TIMEOUT + common.SLACK))
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
    deadline = t0 + 30 + 3 * common.SLACK
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
                if now - stuck[s] > WRITE_TIMEOUT + common.SLACK + 2:
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
    end = t0 + REQUEST_TIMEOUT + common.SLACK + 2
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
