#!/usr/bin/env python3
"""metrics_check.py - reads hframe-gateway's --metrics endpoints.

usage: metrics_check.py REQUESTS PORT... [-- SERIES...]
Fetches /health (must be 200) and /metrics from 127.0.0.1:PORT for each
PORT (one per worker), checks each page with `promtool check metrics`
when promtool is installed, and that hframe_requests_total summed over
every kind and every worker is REQUESTS (skipped for -1). Each SERIES
(a full series name with labels, as in the page) must appear with a
value of at least 1 on some page. Exit status 0 when all hold.
"""
import shutil
import subprocess
import sys
import urllib.request

TIMEOUT = 10


def fetch(port, path):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path),
                                timeout=TIMEOUT) as r:
        return r.status, r.read().decode("utf-8")


def samples(page):
    for line in page.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            yield name, float(value)


def main(argv):
    args = argv[2:]
    series = []
    if "--" in args:
        series = args[args.index("--") + 1:]
        args = args[:args.index("--")]
    want, total, found = int(argv[1]), 0, {}
    promtool = shutil.which("promtool")
    for port in map(int, args):
        status, _ = fetch(port, "/health")
        if status != 200:
            print("port %d: /health answered %d" % (port, status))
            return 1
        status, page = fetch(port, "/metrics")
        if promtool is not None:
            p = subprocess.run([promtool, "check", "metrics"],
                               input=page.encode(), capture_output=True,
                               timeout=60)
            if p.returncode != 0:
                print("port %d: promtool: %s" % (port, p.stdout.decode() +
                                                  p.stderr.decode()))
                return 1
        for name, value in samples(page):
            if name.startswith("hframe_requests_total{"):
                total += value
            found[name] = max(found.get(name, 0), value)
    if want >= 0 and total != want:
        print("hframe_requests_total sums to %g, not %d" % (total, want))
        return 1
    for s in series:
        if found.get(s, 0) < 1:
            print("no %s >= 1 among %r" % (s, sorted(found)))
            return 1
    if promtool is None:
        print("promtool is not installed: the format was not checked")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
