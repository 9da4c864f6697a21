"""hframe_wire.py - frames as docs/protocol.md writes them, for the Python
tests, test peers, benchmarks and the fuzz seed generator.

Written from the protocol, not from the C code: a frame is a 2-byte
big-endian header length, the header JSON (canonical: what
json.dumps(obj, ensure_ascii=False) gives, the keys in protocol order),
then content-length bytes of content. Requests default to byteorder
"big", as the reference client writes them; answers to the host's order,
as the reference server (and the gateway) writes them.

Import it from a script elsewhere in the tree with
    sys.path.insert(0, os.path.join(HERE, "..", "tests"))
"""

import json
import sys

HOST_ORDER = sys.byteorder
SERVER_BINARY = "binary/custom-server-binary-type"
CLIENT_BINARY = "binary/custom-client-binary-type"


# ------------------------------------------------------------ writing

def prefixed(header, content=b""):
    """A frame whose header is the bytes (or text) given, as they are."""
    if isinstance(header, str):
        header = header.encode("utf-8")
    return len(header).to_bytes(2, "big") + header + content


def header(ctype, cenc, length, byteorder="big"):
    """The four required keys, in protocol order."""
    return {"byteorder": byteorder, "content-type": ctype,
            "content-encoding": cenc, "content-length": length}


def frame(hdr, content):
    """A frame whose header is the canonical JSON of the dict hdr."""
    return prefixed(json.dumps(hdr, ensure_ascii=False).encode("utf-8"),
                    content)


def message(content, ctype="text/json", cenc="utf-8", byteorder="big"):
    """content (bytes, or text in UTF-8) under its canonical header."""
    if isinstance(content, str):
        content = content.encode("utf-8")
    return frame(header(ctype, cenc, len(content), byteorder), content)


def request(obj, byteorder="big", cenc="utf-8"):
    """A text/json request whose content is the JSON of obj."""
    return message(json.dumps(obj, ensure_ascii=False), "text/json", cenc,
                   byteorder)


def search(value, action="search", byteorder="big"):
    return request({"action": action, "value": value}, byteorder)


def binary_request(content, ctype=CLIENT_BINARY, byteorder="big"):
    return message(content, ctype, "binary", byteorder)


def answer(obj, byteorder=HOST_ORDER):
    """A text/json answer whose content is the JSON of obj."""
    return message(json.dumps(obj, ensure_ascii=False), "text/json",
                   "utf-8", byteorder)


def result(text, byteorder=HOST_ORDER):
    """The answer to a search: {"result": text}."""
    return answer({"result": text}, byteorder)


def binary_answer(content, byteorder=HOST_ORDER):
    """The answer to a binary request whose content starts with content."""
    return message(b"First 10 bytes of request: " + content[:10],
                   SERVER_BINARY, "binary", byteorder)


# ------------------------------------------------------------ reading

def parse_frames(buf):
    """The complete frames at the start of buf: (list of (header,
    content), bytes used, error text or None)."""
    frames, off = [], 0
    while len(buf) - off >= 2:
        n = int.from_bytes(buf[off:off + 2], "big")
        if len(buf) - off < 2 + n:
            break
        try:
            h = json.loads(buf[off + 2:off + 2 + n].decode())
            clen = int(h["content-length"])
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
            return frames, off, "invalid frame: %s" % e
        if len(buf) - off < 2 + n + clen:
            break
        frames.append((h, buf[off + 2 + n:off + 2 + n + clen]))
        off += 2 + n + clen
    return frames, off, None


def recv_exact(sock, n):
    """n bytes from sock; None when the peer closes first."""
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def read_header(sock, recv=recv_exact):
    """The length prefix and header of the next frame on sock as (their
    bytes, header dict); None when the peer closes first. recv(sock, n)
    reads."""
    pre = recv(sock, 2)
    if pre is None:
        return None
    hb = recv(sock, int.from_bytes(pre, "big"))
    if hb is None:
        return None
    return pre + hb, json.loads(hb.decode("utf-8"))


def read_frame(sock, recv=recv_exact):
    """The next frame on sock as (its bytes, header, content); None when
    the peer closes before it is whole."""
    got = read_header(sock, recv)
    if got is None:
        return None
    content = recv(sock, got[1]["content-length"])
    if content is None:
        return None
    return got[0] + content, got[1], content


def json_content(hdr, content):
    """The JSON value of a text/json frame's content; None when it is
    not one."""
    if hdr.get("content-type") != "text/json":
        return None
    try:
        return json.loads(content.decode())
    except (ValueError, UnicodeDecodeError):
        return None


def error_code(hdr, content):
    """The code of an error answer ({"error": ..., "message": ...}), or
    None when it is not one."""
    obj = json_content(hdr, content)
    if isinstance(obj, dict) and isinstance(obj.get("message"), str):
        return obj.get("error")
    return None


def result_of(hdr, content):
    """The text of a search answer ({"result": ...}), or None."""
    obj = json_content(hdr, content)
    return obj.get("result") if isinstance(obj, dict) else None
