#!/usr/bin/env python3
"""Small hframe test peer for the CLI's and the relay's end-to-end tests.

Written from the protocol (docs/protocol.md), its frames from
hframe_wire.py (a 2-byte big-endian header length, the header in the
form json.dumps(obj, ensure_ascii=False) gives, content-length bytes of
content). It answers like the tutorial's reference server: a text/json
search gets {"result": ...}; any binary request gets
b"First 10 bytes of request: " followed by the request's first 10 bytes.

It listens on an ephemeral loopback port, prints the port on its first
output line, serves --count connections (at the same time, a thread
each, as the reference server serves its clients) and exits. It never lives longer
than --lifetime seconds, whatever its clients do.

Modes:
  reference  answer one request per connection, then close (default)
  keepalive  answer requests until the client closes the connection
  silent     read the request and never answer
  close      close each connection without answering
  garbage    answer with a frame whose header has a duplicate key
  error      answer {"error": ..., "message": ...} as a gateway does
  truncated  answer with the first half of a valid frame, then close
  cut        answer with the whole header and half the content, then close
  reset      like cut, but close with a reset (SO_LINGER 0), not a FIN
  double     answer every request twice, in one write, and go on
  echo       answer every request with a binary/echo frame whose content
             is the request frame, byte for byte, and go on
  slowread   as keepalive, but read requests at --rate bytes a second
             through a small receive buffer, as a slow upstream does
  nul-type   answer with content-type "text/json\u0000x" (a NUL inside
             the decoded string) and {"result": "hi"} as content
  ssh        greet each connection as an SSH server does, then close
  http       answer each request as an HTTP server does (400), then close
  backlog    never accept, and fill the listen queue with connections of
             its own so that further connection attempts hang
  by-value   a search
             for the name of one of the modes silent, close, garbage,
             error, truncated, cut, reset or double gets that mode's
             treatment (the connection is kept after garbage, error and
             double), every other request an answer as in keepalive
"""
import argparse
import json
import os
import signal
import socket
import struct
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hframe_wire as wire  # noqa: E402

ANSWERS = {
    "morpheus": "Follow the white rabbit. \U0001f430",
    "ring": "In the caves beneath the Misty Mountains. \U0001f48d",
    "\U0001f436": "\U0001f43e Playing ball! \U0001f3d0",
}


# Bytes a second read in slowread mode (0: as fast as they come).
READ_RATE = 0


def recv_exactly(conn, n):
    data = bytearray()
    chunk = 1 << 14 if READ_RATE else 1 << 20
    while len(data) < n:
        got = conn.recv(min(n - len(data), chunk))
        if not got:
            return None
        data += got
        if READ_RATE:
            time.sleep(len(got) / READ_RATE)
    return bytes(data)


def answer(header, content):
    if header["content-type"] == "text/json":
        request = json.loads(content.decode(header["content-encoding"]))
        action = request.get("action")
        if action == "search":
            value = request.get("value")
            result = ANSWERS.get(value) or f"No match for '{value}'."
        else:
            result = f"Error: invalid action '{action}'."
        return wire.result(result)
    return wire.binary_answer(content)


# Modes a search value can pick in by-value mode.
BY_VALUE = ("silent", "close", "garbage", "error", "truncated", "cut",
            "reset", "double")


def chosen_mode(header, content):
    """by-value: the mode a request picks, or keepalive."""
    if header["content-type"] != "text/json":
        return "keepalive"
    try:
        request = json.loads(content.decode(header["content-encoding"]))
    except (ValueError, LookupError):
        return "keepalive"
    if not isinstance(request, dict) or request.get("action") != "search":
        return "keepalive"
    value = request.get("value")
    return value if value in BY_VALUE else "keepalive"


def broken_reply(reply, mode):
    """The answer as a mode spoils it."""
    if mode == "garbage":
        return wire.prefixed(b'{"content-type": "x", "content-type": "y"}')
    if mode == "error":
        return wire.answer({"error": "bad-request",
                            "message": "unknown action"})
    if mode == "truncated":
        return reply[: len(reply) // 2]
    if mode in ("cut", "reset"):
        (n,) = struct.unpack(">H", reply[:2])
        content = len(reply) - 2 - n
        return reply[: 2 + n + content // 2]
    if mode == "double":
        return reply + reply
    return reply


def serve(conn, mode):
    """Serve one connection; return when it is to be closed."""
    if mode == "close":
        return
    if mode == "ssh":
        conn.sendall(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")
        return
    if mode == "http":
        conn.recv(4096)
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                     b"Connection: close\r\n\r\n")
        return
    while True:
        request = wire.read_frame(conn, recv_exactly)
        if request is None:
            return
        raw, header, content = request
        if mode == "echo":
            conn.sendall(wire.message(raw, "binary/echo", "binary",
                                      wire.HOST_ORDER))
            continue
        if mode == "nul-type":
            conn.sendall(wire.message(b'{"result": "hi"}', "text/json\0x",
                                      "utf-8", wire.HOST_ORDER))
            return
        picked = chosen_mode(header, content) if mode == "by-value" else mode
        if picked == "close":
            return
        if picked == "silent":
            while conn.recv(4096):
                pass
            return
        conn.sendall(broken_reply(answer(header, content), picked))
        if picked == "reset":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                            struct.pack("ii", 1, 0))
            return
        if picked in ("truncated", "cut"):
            return
        if mode not in ("keepalive", "double", "by-value", "slowread"):
            return


def serve_thread(conn, mode):
    with conn:
        try:
            serve(conn, mode)
        except (OSError, ValueError, KeyError, AttributeError):
            pass


def fill_backlog(lsock, family):
    lsock.listen(0)
    addr = lsock.getsockname()
    fillers = []
    for _ in range(8):
        s = socket.socket(family, socket.SOCK_STREAM)
        s.setblocking(False)
        s.connect_ex(addr)
        fillers.append(s)
    print(addr[1], flush=True)
    signal.pause()
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--mode", default="reference",
                   choices=["reference", "keepalive", "silent", "close",
                            "garbage", "truncated", "backlog",
                            "error", "cut", "reset", "double",
                            "echo", "by-value", "slowread", "ssh",
                            "http", "nul-type"])
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--lifetime", type=float, default=30.0)
    p.add_argument("--rate", type=float, default=1e6,
                   help="slowread: bytes read a second")
    args = p.parse_args()
    if args.mode == "slowread":
        global READ_RATE  # pylint: disable=global-statement
        READ_RATE = args.rate

    signal.signal(signal.SIGALRM, lambda *_: sys.exit(3))
    signal.setitimer(signal.ITIMER_REAL, args.lifetime)
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as lsock:
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if args.mode == "slowread":
            lsock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        lsock.bind((args.host, 0))
        if args.mode == "backlog":
            return fill_backlog(lsock, family)
        lsock.listen(128)
        print(lsock.getsockname()[1], flush=True)
        threads = []
        for _ in range(args.count):
            conn, _addr = lsock.accept()
            t = threading.Thread(target=serve_thread,
                                 args=(conn, args.mode), daemon=True)
            t.start()
            threads.append(t)
        for t in threads:
            t.join()
    return 0


if __name__ == "__main__":
    sys.exit(main())
