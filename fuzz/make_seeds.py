#!/usr/bin/env python3
"""Write the hand-made seed inputs of every harness into corpus/<harness>/.

Each seed is stored under the SHA-1 of its bytes (the names libFuzzer's
-merge gives), so running this again adds nothing twice. Seeds cover the
golden frames of docs/protocol.md and the error catalogue of
tests/vectors/ (every error code), the limits, multi-frame streams and,
for the stream harness, several chunk plans.

    python3 fuzz/make_seeds.py [corpus-dir]
"""
import hashlib
import json
import os
import struct
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'tests'))
import hframe_vectors  # noqa: E402
import hframe_wire as wire  # noqa: E402

GOLDEN = [v['frame'] for v in hframe_vectors.load('golden')]

REQ = (b'"byteorder": "big", "content-type": "text/json", '
       b'"content-encoding": "utf-8", ')


def hdr(extra=b'', length=0, req=REQ):
    """A header object with the required keys and extra members."""
    return b'{' + req + b'"content-length": ' + str(length).encode() + \
        extra + b'}'


# Header JSON texts: valid ones here, then every header of the error
# catalogue (tests/vectors/header-errors.jsonl, one per error code at
# least).
VALID_HEADERS = [
    hdr(),
    hdr(length=3),
    b'{"byteorder":"little","content-type":"a","content-encoding":"b",'
    b'"content-length":0}',
    b' \t\r\n' + hdr() + b' \n',
    hdr(b', "x-id": "1", "x-n": 12, "x-f": -1.5e-3, "x-t": true, '
        b'"x-false": false, "x-null": null'),
    hdr(b', "x-esc": "\\"\\\\\\/\\b\\f\\n\\r\\t\\u0000\\u001f\\u00e9'
        b'\\ud83d\\udc30"'),
    hdr(b', "x-raw": "\xc3\xa9\xe2\x82\xac\xf0\x9f\x90\xb0\x7f"'),
    hdr(b', "": ""'),
    hdr(b', "x-big": 123456789012345678901234567890, "x-exp": 1E+400'),
    hdr(length=16 * 1024 * 1024),
    # upper-case hex escapes, UTF-8 lead bytes at their bounds
    hdr(b', "x": "\\u00C9\\uD83D\\uDC30\\uABCD"'),
    hdr(b', "x": "\xe0\xa0\x80\xed\x9f\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf"'),
    # the most extensions allowed
    hdr(b''.join(b', "x%d": %d' % (i, i) for i in range(64))),
]
HEADERS = VALID_HEADERS + [v['header'] for v in
                           hframe_vectors.load('header-errors')]

# A limits byte of fz_limits_from_byte (fuzz/fuzz_util.c): small limits,
# a header limit of 16 + 4 * 20 = 96 bytes, content up to 20 bytes, no
# extension headers.
SMALL = 1 | 20 << 2
SMALL_MAX_HEADER = 16 + 4 * 20


def compact(length=0):
    """The shortest header with the required keys (80 bytes)."""
    return (b'{"byteorder":"big","content-type":"a","content-encoding":"b",'
            b'"content-length":%d}' % length)


def sized(n, length=0):
    """A valid header of exactly n bytes: spaces before its brace."""
    h = compact(length)
    assert len(h) <= n
    return h[:-1] + b' ' * (n - len(h)) + b'}'


def limit_frames():
    """A frame whose header is exactly at the SMALL header limit, then one
    whose header is a byte above it. The last byte is SMALL, which
    fuzz_decode's second run takes for its limits."""
    return (wire.prefixed(sized(SMALL_MAX_HEADER)) +
            wire.prefixed(sized(SMALL_MAX_HEADER + 1, 1), bytes([SMALL])))


def same_header_frames():
    """The same header twice (the decoder does not parse a header that is
    the last one again), then one differing only in its last byte, which
    makes it trailing-data."""
    same = wire.prefixed(compact() + b' ')
    return same + same + wire.prefixed(compact() + b'x')


def streams():
    """Byte streams for the frame harnesses."""
    out = list(GOLDEN)
    out.append(b''.join(GOLDEN))
    for h in HEADERS:
        out.append(wire.prefixed(h))
    out.append(wire.prefixed(hdr(length=3), b'abc'))
    out.append(wire.prefixed(hdr(length=3), b'abc') +
               wire.prefixed(hdr(), b'') + wire.prefixed(hdr(length=1), b'z'))
    # header-too-short and truncations
    out += [b'\x00\x00', b'\x00\x01{', b'\x00', b'\x00\x05{"by',
            GOLDEN[0][:50], GOLDEN[0][:-5], GOLDEN[0] + GOLDEN[1][:1],
            GOLDEN[2] + b'\x00\x01']
    # 64 KiB - 1 header length announced, little present
    out.append(b'\xff\xff{')
    # a valid frame, then an invalid one
    out.append(GOLDEN[2] + wire.prefixed(b'{}'))
    # frames refused at their length prefix
    out += [v['frame'] for v in hframe_vectors.load('prefix-errors')]
    out += [limit_frames(), same_header_frames()]
    return out


def stream_seeds():
    """Inputs for fuzz_stream: limits byte, plan, stream; every stream
    with each of the pairs."""
    plans = [b'\x00', b'\x01\x01', b'\x03\x00\x02\x07', b'\x02\x05\x40',
             b'\x04\x01\x02\x03\xff']
    limits = [0, 1 | (10 << 2), 2, 3 | (40 << 2), 1 | (63 << 2)]
    out = []
    for s in streams():
        for lim, plan in zip(limits, plans):
            out.append(bytes([lim]) + plan + s)
    for p in plans:
        out.append(b'\x00' + p + b''.join(GOLDEN))
    # The header limit under the limits that set it, and the last header
    # again pushed whole and split (where it is parsed again): the
    # reference, hf_decode, reuses it.
    for p in [b'\x00', b'\x01\x05']:
        out.append(bytes([SMALL]) + p + limit_frames())
    for p in [b'\x00', b'\x01\x07']:
        out.append(b'\x00' + p + same_header_frames())
    return out


def string_seeds():
    """Inputs for fuzz_json_writer."""
    return [b'', b'plain', b'"\\/\b\f\n\r\t', bytes(range(0x20)) + b'\x7f',
            'é€🐰'.encode(), b'\xc0\xaf', b'\xed\xa0\x80', b'\xf4\x90\x80\x80',
            b'\xe2\x82', b'result\xffFollow the white rabbit.',
            b'error\xffbad\xffmessage\xff\x00\x01',
            b'k\xffv\xff\xff\xff\xc3', b'\xff\xff\xff', b'\xc3\xffv',
            b'k\xff\xe2\x82']


def encode_seeds():
    """Inputs for fuzz_encode: flags, 8-byte length, 0xff-split fields."""
    out = []
    cl = struct.pack('>Q', 41)
    out.append(b'\x01' + cl + b'text/json\xffutf-8')
    out.append(b'\x00' + cl + b'text/json\xffutf-8\xffx-id\xff\x00abc'
               b'\xffx-n\xff\x01-1.5e3\xffx-t\xff\x02\xffx-f\xff\x03'
               b'\xffx-z\xff\x04')
    out.append(b'\x02' + cl + b'a\xffb')
    out.append(b'\x04' + struct.pack('>Q', 2 ** 53 - 1) + b'a\xffb')
    out.append(b'\x00' + struct.pack('>Q', 2 ** 53) + b'a\xffb')
    out.append(b'\x00' + cl + b'\xffb')
    out.append(b'\x00' + cl + b'a\xff')
    out.append(b'\x00' + cl + b'a\xffb\xffcontent-type\xff\x00x')
    out.append(b'\x00' + cl + b'a\xffb\xffk\xff\x00x\xffk\xff\x00y')
    out.append(b'\x00' + cl + b'a\xffb\xffk\xff\x0101')
    out.append(b'\x00' + cl + b'a\xffb\xffk\xff\x00\xc0\xaf')
    out.append(b'\x00' + cl + b'\x01"\\\n\xffb\xff\x1f\xff\x00\x7f')
    out.append(b'\x00' + cl + b'a\xffb' +
               b''.join(b'\xffk%d\xff\x01%d' % (i, i) for i in range(66)))
    # number-typed values that are not numbers; a key that is not UTF-8
    for v in [b'true', b'"a"', b'[1]', b'{}', b'null', b'1 ', b' 1', b'1,2',
              b'-', b'1e', b'01']:
        out.append(b'\x00' + cl + b'a\xffb\xffk\xff\x01' + v)
    out.append(b'\x00' + cl + b'a\xffb\xff\xc3\xff\x00v')
    return out


def request(obj, ctype='text/json', enc='utf-8'):
    """A request frame with canonical header (byteorder little) and JSON
    (or raw) content."""
    content = obj if isinstance(obj, bytes) else \
        json.dumps(obj, ensure_ascii=False).encode()
    return wire.message(content, ctype, enc, 'little')


def session_seeds():
    """Inputs for fuzz_gateway_session: limits, output cap, steps, bytes."""
    reqs = [
        GOLDEN[0], GOLDEN[2],
        request({'action': 'search', 'value': 'ring'}),
        request({'action': 'search', 'value': 'nothing here'}),
        request({'action': 'delete', 'value': 'x'}),
        request({'action': 'search'}),
        request({'value': 'x'}),
        request({'action': 1, 'value': 'x'}),
        request([1, 2]),
        request(b'{"action": "search", "value": "x"'),
        request(b'not json'),
        request({'action': 'search', 'value': 'x'}, enc='latin-1'),
        request(b'\x00\x01\x02', ctype='application/octet-stream',
                enc='binary'),
        request(b'', ctype='a', enc='b'),
        wire.prefixed(b'{}'),
        b'\x00\x01{',
        GOLDEN[0][:30],
    ] + [hframe_vectors.request(v)
         for v in hframe_vectors.load('request-errors')]
    step_plans = [b'', b'\x01', b'\x04\x00\x01\x02\x03',
                  b'\x06\x04\x05\x0a\x0b\xfe\x07',
                  b'\x05\x00\x00\x00\x00\x00', b'\x03\x12\x12\x12',
                  b'\x04\x03\x07\x0b\x0f']
    out = []
    for i, r in enumerate(reqs):
        plan = step_plans[i % len(step_plans)]
        out.append(bytes([0, 0]) + plan + r)
        out.append(bytes([1 | (20 << 2), 1]) + plan + r)
    out.append(b'\x00\x00\x00' + b''.join(reqs[:8]))
    out.append(b'\x00\x01\x03\x00\x02\x01' + b''.join(reqs[:8]))
    out.append(b'\x00\x00\x02\xfe\xfe' + GOLDEN[0][:20])
    out.append(b'\x00\x00\x02\x03\x0b' + b''.join(reqs[:3]))
    # a content type longer than the access log keeps
    out.append(b'\x00\x00\x00' + request(b'{}', ctype='x/' + 'y' * 80))
    # more than 8 whole reads at once (the driver yields after 8)
    out.append(b'\x00\x00\x00' + request(b'\x00' * (9 << 14),
                                          ctype='a', enc='b'))
    # a request at the header limit, then one a byte above it
    out.append(bytes([SMALL, 0, 0]) + limit_frames())
    out.append(b'\x00\x00\x00' + same_header_frames())
    return out


def relay_seeds():
    """Inputs for fuzz_relay_session: limits, output cap, profile, shape
    (clients, pool), step count, client length (u16), steps, client
    bytes, upstream script."""
    def op(code, amount=15):
        return bytes([code | amount << 4])

    pump = op(9)                      # one loop round, every size
    def item(kind, p=0):
        return bytes([kind | p << 3])

    def seed(steps, client, script=b'', lim=0, cap=0, prof=0, shape=0):
        return bytes([lim, cap, prof, shape, len(steps)]) + \
            struct.pack('>H', len(client)) + steps + client + script

    reqs = [GOLDEN[0], GOLDEN[2],
            request({'action': 'search', 'value': 'ring'}),
            request(b'', ctype='a', enc='b')]
    many = b''.join(reqs)
    answer43 = item(0, 5)             # canonical text/json, 43 bytes
    out = [
        seed(pump * 4, GOLDEN[0]),
        seed(pump * 8, many),
        seed(pump * 8, many, answer43 + item(1, 8 | 6) + item(2, 3) +
             item(3, 4)),
        # step by step: offer, connect, upstream reads, answer, deliver
        seed(op(0, 10) + op(5, 0) + op(2) + op(3, 8) + op(3, 15) +
             op(1, 15), GOLDEN[2], item(0, 8 | 5)),
        # connect in progress, then fails: retries, then unavailable
        seed(op(0) + op(5, 1) + op(5, 1) + op(5, 2) + op(5, 2) + pump,
             GOLDEN[0], prof=3 << 3),
        # garbage, a cut answer with EOF, a reset, a stall with timeouts
        seed(pump * 6, many, item(4, 2) + b'\x00\x01{}'),
        seed(pump * 6, many, item(5, 6) + b'\x40'),
        seed(pump * 6, many, item(5, 8 | 6) + b'\x80'),
        seed(pump * 3 + op(7, 8) + op(7, 8) + pump, many, item(6, 2),
             prof=0),
        seed(pump * 3 + op(8, 6) + pump, many, item(6, 2), prof=6),
        seed(pump * 6, many, item(6, 3) + item(6, 0) + item(6, 1)),
        # two answers at once, an answer before any request
        seed(pump * 4, GOLDEN[0] + GOLDEN[0], item(7, 3) + item(7, 2)),
        seed(op(0, 3) + op(5, 0) + op(4) + op(3) + pump * 4, GOLDEN[0],
             answer43),
        # backpressure both ways: small caps, big answers
        seed(pump * 2 + op(1, 0) * 8 + op(3, 4) * 8 + pump * 8,
             many, item(0, 7) * 4, cap=4),
        seed(op(10, 4) * 16 + pump * 4, request(b'x' * 600, ctype='a',
             enc='b'), item(0, 6), cap=2),
        # client EOF in a request, shutdown, abort, invalid frame
        seed(op(0, 9) + op(9, 8) + op(8, 0), GOLDEN[0]),
        seed(op(0, 10) + op(8, 1) + pump * 4, GOLDEN[0] + GOLDEN[2]),
        seed(pump * 2 + op(8, 4), many),
        seed(pump * 4, GOLDEN[0] + wire.prefixed(b'{}') + GOLDEN[2]),
        seed(pump * 4, many, lim=1 | (20 << 2)),
        seed(pump * 4, many, lim=3),
        # upstream closes after each answer, like the reference server
        seed(pump * 8, many, item(6, 3) + item(6, 3) + item(6, 3)),
        # behind a load balancer: PROXY v1, then v2, in small pieces
        seed(op(10, 3) * 24 + pump * 4, many, prof=1 << 5),
        seed(op(10, 2) * 24 + pump * 4, many, prof=3 << 5, lim=1 | 5 << 2),
    ]
    # An answer before the request ends: the header and 49 content bytes
    # go up (over the 64-byte output cap, so the request streams instead
    # of waiting to be whole), the upstream answers at once; then, with
    # the answer whole or half delivered, the rest of the request, a
    # client EOF or a reset, before or after the client reads.
    long_req = request(b'x' * 600, ctype='a', enc='b')
    early = op(0, 10) + op(5, 0) + op(4, 8) + op(2)
    rest = op(0) + pump * 4
    for after in [op(3) + op(1) + rest,             # whole, then the rest
                  op(3, 10) + op(1) + rest,         # half, then the rest
                  op(3, 10) + op(8, 0) + pump,      # half, client EOF
                  op(3) + op(6, 1) + rest,          # whole, reset
                  op(3, 10) + op(6, 1) + rest,      # half, reset
                  op(3, 10) + op(6, 1) + op(1) + pump * 2]:  # ... read
        out.append(seed(early + after, long_req, item(0, 6), cap=16))
    # Two requests on two pool connections, the second's long answer
    # first: it is held, in 100-byte pieces, until the first's is
    # through; then it heads the client's chain with bytes still held
    # while the rest of it comes (depth 2, a 252-byte output cap).
    nop = op(8, 7)
    out.append(seed(op(5, 3) + op(0) + nop + op(2) + op(2) + op(3, 9) +
                    nop + op(3, 9) + op(3) + op(3) + op(1) + pump * 2,
                    GOLDEN[0] + GOLDEN[2], item(0, 7) + item(0, 0),
                    cap=1 << 6 | 63, shape=1 << 2))
    # Shutdown while one client's request waits for the pool's only
    # connection, which another's long answer holds, trickling in, past
    # the wait timeout: upstream-timeout, then the close.
    trickle = (op(3, 8) + op(8, 2) + op(7, 2)) * 16
    out.append(seed(op(0) + op(0) + op(5, 0) + op(2) + op(8, 1) + trickle,
                    GOLDEN[0], item(0, 7), shape=1))
    return out


# fuzz/fuzz_api.c's sample header.
API_SAMPLE = (b'{"byteorder": "big", "content-type": "text/json", '
              b'"content-encoding": "utf-8", "content-length": 41, '
              b'"x-a": 1, "x-b": true, "x-c": "c"}')


def api_seeds():
    """fuzz_api: operation 1 (limits) with a header limit exactly at the
    sample's length and a byte below it (content limit 255, 64
    extensions)."""
    return [bytes([1, 0]) + struct.pack('>H', n) + struct.pack('>Q', 255) +
            bytes([64]) for n in (len(API_SAMPLE), len(API_SAMPLE) - 1)]


def request_seeds():
    """fuzz_request: a header byte, then a request's content."""
    contents = [
        b'{"action": "search", "value": "morpheus"}',
        b'{"action": "search", "value": "\\ud83d\\udc36"}',
        b'{"action": "find", "value": "x"}', b'{}', b'', b' \r\n',
        b'{"action": "search", "value": "ring"} x',
        b'{"action": "search", "value": "ring"}{"action": "search"}',
        b'{"action": "search", "value": "ring"} 12', b'12', b'"search"',
        b'[' * 70 + b']' * 70, b'{"value": "\\udc00", "action": 1}',
        b'{"action": "search",\v"value": "ring"}',
        b'{"action": "s\xc3\xa9arch", "value": "\xc0\xaf"}',
    ]
    return [bytes([h]) + c for c in contents for h in (0, 4)] + \
        [bytes([h]) + contents[0] for h in (1, 2, 3)]


def write(root, name, seeds):
    d = os.path.join(root, name)
    os.makedirs(d, exist_ok=True)
    for s in seeds:
        path = os.path.join(d, hashlib.sha1(s).hexdigest())
        if not os.path.exists(path):
            with open(path, 'wb') as f:
                f.write(s)


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else 'corpus'
    write(root, 'fuzz_decode', streams())
    write(root, 'fuzz_roundtrip', streams())
    write(root, 'fuzz_stream', stream_seeds())
    write(root, 'fuzz_header_diff', HEADERS + [b'', b'{'])
    write(root, 'fuzz_json_writer', string_seeds())
    write(root, 'fuzz_encode', encode_seeds())
    write(root, 'fuzz_gateway_session', session_seeds())
    write(root, 'fuzz_relay_session', relay_seeds())
    write(root, 'fuzz_request', request_seeds())
    write(root, 'fuzz_api', api_seeds())
    # Index files for the gateway's loader.
    write(root, 'fuzz_index', [
        json.dumps({'morpheus': 'Follow the white rabbit. \U0001f430',
                    'ring': 'In the caves beneath the Misty Mountains.',
                    '\U0001f430': '\U0001f4a9'}).encode(),
        b'{}', b'{"a": "1", "a": "2"}', b'{"a": 1}', b'[]', b'{"a": {}}',
        b'{"a": "\\ud800"}', b'{"a": "b"} x',
        b'[' * 100, b'{"\\u0000": "\\u0000"}'])


if __name__ == '__main__':
    main()
