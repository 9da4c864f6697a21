#!/usr/bin/env python3
"""Small hframe test peer for the CLI's end-to-end tests.

Written from the protocol (docs/protocol.md): a frame is a 2-byte
big-endian header length, a JSON header in the form
json.dumps(obj, ensure_ascii=False) gives, and content-length bytes of
content. It answers like the tutorial's reference server: a text/json
search gets {"result": ...}; any binary request gets
b"First 10 bytes of request: " followed by the request's first 10 bytes.

It listens on an ephemeral loopback port, prints the port on its first
output line, serves --count connections and exits. It never lives longer
than --lifetime seconds, whatever its clients do.

Modes:
  reference  answer one request per connection, then close (default)
  keepalive  answer requests until the client closes the connection
  silent     read the request and never answer
  close      close each connection without answering
  garbage    answer with a frame whose header has a duplicate key
  error      answer {"error": ..., "message": ...} as a gateway does
  truncated  answer with the first half of a valid frame, then close
  backlog    never accept, and fill the listen queue with connections of
             its own so that further connection attempts hang
"""
import argparse
import json
import signal
import socket
import struct
import sys

ANSWERS = {
    "morpheus": "Follow the white rabbit. \U0001f430",
    "ring": "In the caves beneath the Misty Mountains. \U0001f48d",
    "\U0001f436": "\U0001f43e Playing ball! \U0001f3d0",
}


def frame(content_type, content_encoding, content):
    header = {
        "byteorder": sys.byteorder,
        "content-type": content_type,
        "content-encoding": content_encoding,
        "content-length": len(content),
    }
    raw = json.dumps(header, ensure_ascii=False).encode("utf-8")
    return struct.pack(">H", len(raw)) + raw + content


def recv_exactly(conn, n):
    data = b""
    while len(data) < n:
        got = conn.recv(n - len(data))
        if not got:
            return None
        data += got
    return data


def read_frame(conn):
    prefix = recv_exactly(conn, 2)
    if prefix is None:
        return None
    (n,) = struct.unpack(">H", prefix)
    raw = recv_exactly(conn, n)
    if raw is None:
        return None
    header = json.loads(raw.decode("utf-8"))
    content = recv_exactly(conn, header["content-length"])
    if content is None:
        return None
    return header, content


def answer(header, content):
    if header["content-type"] == "text/json":
        request = json.loads(content.decode(header["content-encoding"]))
        action = request.get("action")
        if action == "search":
            value = request.get("value")
            result = ANSWERS.get(value) or f"No match for '{value}'."
        else:
            result = f"Error: invalid action '{action}'."
        body = json.dumps({"result": result}, ensure_ascii=False)
        return frame("text/json", "utf-8", body.encode("utf-8"))
    body = b"First 10 bytes of request: " + content[:10]
    return frame("binary/custom-server-binary-type", "binary", body)


def serve(conn, mode):
    if mode == "close":
        return
    while True:
        request = read_frame(conn)
        if request is None:
            return
        if mode == "silent":
            while conn.recv(4096):
                pass
            return
        reply = answer(*request)
        if mode == "garbage":
            bad = b'{"content-type": "x", "content-type": "y"}'
            reply = struct.pack(">H", len(bad)) + bad
        elif mode == "error":
            body = json.dumps({"error": "bad-request",
                               "message": "unknown action"})
            reply = frame("text/json", "utf-8", body.encode("utf-8"))
        elif mode == "truncated":
            reply = reply[: len(reply) // 2]
        conn.sendall(reply)
        if mode != "keepalive":
            return


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
                            "error"])
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--lifetime", type=float, default=30.0)
    args = p.parse_args()

    signal.signal(signal.SIGALRM, lambda *_: sys.exit(3))
    signal.setitimer(signal.ITIMER_REAL, args.lifetime)
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as lsock:
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lsock.bind((args.host, 0))
        if args.mode == "backlog":
            return fill_backlog(lsock, family)
        lsock.listen(8)
        print(lsock.getsockname()[1], flush=True)
        for _ in range(args.count):
            conn, _addr = lsock.accept()
            with conn:
                serve(conn, args.mode)
    return 0


if __name__ == "__main__":
    sys.exit(main())
