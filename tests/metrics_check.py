#!/usr/bin/env python3
"""metrics_check.py - reads hframe-gateway's --metrics endpoint.

usage: metrics_check.py PORT REQUESTS [SERIES[=VALUE]...]
       metrics_check.py PORT --health STATUS
       metrics_check.py PORT --hold SECONDS
       metrics_check.py PORT --crowd N

The first form fetches /health (must be 200) and /metrics from
127.0.0.1:PORT, checks the page with `promtool check metrics` when
promtool is installed, and checks that:
  - hframe_requests_total summed over every kind is REQUESTS (skipped
    for -1);
  - every histogram's buckets are cumulative (never smaller than the
    one before, le="+Inf" last and equal to _count), and for each kind
    hframe_request_duration_seconds_count equals hframe_requests_total;
  - hframe_request_errors_total has no busy series (busy clients are
    refused connections);
  - each SERIES (a full series name with labels, as in the page) is
    there, with VALUE when given, else with a value of at least 1.
The second form checks only that /health answers STATUS. The third
fetches /metrics on a kept HTTP/1.1 connection, prints "ready" and keeps
the connection open for SECONDS. The fourth opens N connections that
each send half a request, waits until /health no longer answers (the
server is full), closes them, and checks that /health answers 200
within a few seconds.
Exit status 0 when all hold, 1 with a message otherwise.
"""
import http.client
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

TIMEOUT = 10

BUCKET = re.compile(r'^(\w+)_bucket\{(.*),le="([^"]+)"\}$')


def fetch(port, path):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path),
                                    timeout=TIMEOUT) as r:
            return r.status, r.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8")


def samples(page):
    """(series, value) for each sample line, in the page's order."""
    for line in page.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            yield name, float(value)


def check_histograms(found, order):
    """Buckets cumulative, +Inf last and equal to _count."""
    last = {}
    for name in order:
        m = BUCKET.match(name)
        if m is None:
            continue
        key = (m.group(1), m.group(2))
        value = found[name]
        prev = last.get(key)
        if prev is not None and prev[1] == "+Inf":
            return "%s: a bucket after le=\"+Inf\"" % name
        if prev is not None and value < prev[0]:
            return "%s: %g is below the bucket before (%g)" % (
                name, value, prev[0])
        last[key] = (value, m.group(3))
    for (metric, labels), (value, le) in last.items():
        count = found.get("%s_count{%s}" % (metric, labels))
        if le != "+Inf" or count != value:
            return "%s{%s}: le=\"+Inf\" %g, _count %r" % (
                metric, labels, value, count)
    return None


def check_kinds(found):
    """Each kind's histogram counts its requests."""
    for name, value in found.items():
        if not name.startswith("hframe_requests_total{"):
            continue
        labels = name[len("hframe_requests_total"):]
        count = found.get("hframe_request_duration_seconds_count" + labels)
        if count != value:
            return "%s is %g, its duration _count %r" % (name, value, count)
    return None


def check_no_busy_request_error(found):
    """busy is told to a connection refused before any request: it is a
    refused connection, never a request error (which would stay 0)."""
    if 'hframe_request_errors_total{code="busy"}' in found:
        return "hframe_request_errors_total has a busy series"
    return None


def promtool_check(page):
    promtool = shutil.which("promtool")
    if promtool is None:
        print("promtool is not installed: the format was not checked")
        return None
    p = subprocess.run([promtool, "check", "metrics"], input=page.encode(),
                       capture_output=True, timeout=60)
    if p.returncode != 0:
        return "promtool: " + p.stdout.decode() + p.stderr.decode()
    return None


def split_spec(spec):
    """"name{labels}=VALUE" into the series and VALUE (None: no VALUE)."""
    eq = spec.find("=", spec.rfind("}") + 1)
    if eq < 0:
        return spec, None
    return spec[:eq], float(spec[eq + 1:])


def check_series(found, specs):
    for spec in specs:
        name, want = split_spec(spec)
        got = found.get(name)
        if got is None:
            return "no %s among %r" % (name, sorted(found))
        if want is not None and got != want:
            return "%s is %g, not %g" % (name, got, want)
        if want is None and got < 1:
            return "%s is %g, not at least 1" % (name, got)
    return None


def health_within(port, seconds):
    """/health's status, or None when it does not answer in time."""
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=seconds)
        c.request("GET", "/health")
        status = c.getresponse().status
        c.close()
        return status
    except (OSError, http.client.HTTPException):
        return None


def crowd(port, n):
    """A full server takes new connections again once its clients left."""
    socks = []
    try:
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", port), TIMEOUT)
            s.sendall(b"GET /hea")
            socks.append(s)
        status = health_within(port, 1)
        if status is not None:
            print("with %d connections open /health still answered %d: "
                  "not full" % (n, status))
            return 1
    finally:
        for s in socks:
            s.close()
    deadline = time.monotonic() + 5
    status = None
    while status != 200 and time.monotonic() < deadline:
        status = health_within(port, 1)
    if status != 200:
        print("/health answered %r after the %d connections closed" % (
            status, n))
        return 1
    return 0


def main(argv):
    if len(argv) == 4 and argv[2] == "--health":
        status, body = fetch(int(argv[1]), "/health")
        if status != int(argv[3]):
            print("/health answered %d (%s), not %s" % (status,
                                                        body.strip(),
                                                        argv[3]))
            return 1
        print(body.strip())
        return 0
    if len(argv) == 4 and argv[2] == "--hold":
        c = http.client.HTTPConnection("127.0.0.1", int(argv[1]),
                                       timeout=TIMEOUT)
        c.request("GET", "/metrics")
        c.getresponse().read()
        print("ready", flush=True)
        time.sleep(float(argv[3]))
        c.close()
        return 0
    if len(argv) == 4 and argv[2] == "--crowd":
        return crowd(int(argv[1]), int(argv[3]))
    if len(argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    port, want = int(argv[1]), int(argv[2])
    status, _ = fetch(port, "/health")
    if status != 200:
        print("/health answered %d" % status)
        return 1
    status, page = fetch(port, "/metrics")
    if status != 200:
        print("/metrics answered %d" % status)
        return 1
    found, order = {}, []
    for name, value in samples(page):
        found[name] = value
        order.append(name)
    total = sum(v for n, v in found.items()
                if n.startswith("hframe_requests_total{"))
    problem = promtool_check(page)
    if problem is None and want >= 0 and total != want:
        problem = "hframe_requests_total sums to %g, not %d" % (total, want)
    for step in (lambda: check_histograms(found, order),
                 lambda: check_kinds(found),
                 lambda: check_no_busy_request_error(found),
                 lambda: check_series(found, argv[3:])):
        if problem is None:
            problem = step()
    if problem is not None:
        print(problem)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
