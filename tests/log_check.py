#!/usr/bin/env python3
"""log_check.py - checks a log written with --log-format json.

usage: log_check.py FILE [journal]
Every line must be one JSON object with level, pid and msg (and time,
unless "journal": then a "<N>" syslog prefix instead); access lines must
carry the access-log fields as members. Exit status 0 when all hold.
"""
import json
import re
import sys

ACCESS = {"peer": str, "type": str, "action": str, "in": int, "out": int,
          "status": str, "us": int}


def main(argv):
    journal = len(argv) > 2 and argv[2] == "journal"
    access = 0
    with open(argv[1], encoding="utf-8") as f:
        lines = f.read().splitlines()
    for n, line in enumerate(lines, 1):
        if journal:
            m = re.match(r"<([0-7])>(.*)$", line)
            if m is None:
                print("line %d: no <N> prefix: %r" % (n, line))
                return 1
            line = m.group(2)
        try:
            obj = json.loads(line)
        except ValueError as e:
            print("line %d: not JSON (%s): %r" % (n, e, line))
            return 1
        want = ["level", "pid", "msg"] + ([] if journal else ["time"])
        if not isinstance(obj, dict) or any(k not in obj for k in want) \
                or (journal and "time" in obj):
            print("line %d: members: %r" % (n, obj))
            return 1
        if obj["msg"] == "access":
            access += 1
            for k, t in ACCESS.items():
                if not isinstance(obj.get(k), t):
                    print("line %d: access member %s: %r" % (n, k, obj))
                    return 1
    if access == 0:
        print("no access line among %d lines" % len(lines))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
