"""hframe_vectors.py - the test vectors of tests/vectors/ for the Python
tests, the fuzz seed generator and the stress suite.

A vector file holds one JSON object a line (tests/vectors/README.md says
what each file holds). Members that carry bytes ("frame", "header",
"content") are written as a string (its UTF-8 bytes) or a list of parts:
strings, {"hex": "..."} and {"repeat": "...", "count": N}; load() gives
them as bytes.

Import it from a script elsewhere in the tree with
    sys.path.insert(0, os.path.join(HERE, "..", "tests"))
"""

import json
import os

import hframe_wire

DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vectors")
BYTES = ("frame", "header", "content")


def as_bytes(value):
    """The bytes a vector member stands for."""
    if isinstance(value, str):
        return value.encode("utf-8")
    out = b""
    for part in value:
        if isinstance(part, str):
            out += part.encode("utf-8")
        elif set(part) == {"hex"}:
            out += bytes.fromhex(part["hex"])
        elif set(part) == {"repeat", "count"}:
            out += part["repeat"].encode("utf-8") * part["count"]
        else:
            raise ValueError("not a part of a byte string: %r" % (part,))
    return out


def load(name):
    """The vectors of tests/vectors/NAME.jsonl, in order, their byte
    members as bytes."""
    out = []
    with open(os.path.join(DIR, name + ".jsonl"), encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            v = json.loads(line)
            for k in BYTES:
                if k in v:
                    v[k] = as_bytes(v[k])
            out.append(v)
    return out


def named(file, name):
    """The vector of tests/vectors/FILE.jsonl called name."""
    for v in load(file):
        if v["name"] == name:
            return v
    raise KeyError("%s.jsonl has no vector %r" % (file, name))


def golden(name):
    """The frame of the golden vector called name."""
    return named("golden", name)["frame"]


def request(v):
    """The frame of a request-errors vector: its content under the
    canonical header, byteorder big."""
    return hframe_wire.message(v["content"], v["content-type"],
                               v["content-encoding"], "big")


def header_frame(v):
    """The frame of a header-errors vector: its header alone."""
    return hframe_wire.prefixed(v["header"])
