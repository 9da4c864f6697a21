"""stress_operator.py - the operator's mistakes in `make stress`: each
case starts gateways of its own, does to them what a careless operator
or a dying host would, and checks the documented outcome:

  port file      --port-file in a directory that does not exist, with
                 one process and with --workers 2: a message naming the
                 file and exit 1 (never a silent exit, never exit 0);
  drain 0        --drain-timeout 0 is "no limit": a request half sent
                 at SIGTERM and finished after a wait longer than any
                 default drain is still answered, then the close and
                 exit 0;
  stuck stderr   the gateway's stderr is a pipe nobody reads: it keeps
                 answering every request (the log never blocks the
                 loop), and once the pipe is read again it says how
                 many lines it dropped;
  relay itself   an --upstream that is the relay's own listening
                 address, given or every address: refused at start-up
                 (exit 2, "cannot relay to itself");
  killed supervisor  kill -9 of a --workers 2 supervisor: both workers
                 exit within a few seconds and nothing accepts on the
                 port any more (no orphan serves beside a new instance).

Every case is bounded (at most some 10 seconds even when it fails; a
few seconds in all when it passes) and every process started is killed
when it ends. run_all() returns [(case name, None or why it failed)]."""

import os
import signal
import socket
import subprocess
import threading
import time

import harness

HOST = "127.0.0.1"
# Longer than the drain a gateway would allow if 0 meant "do not wait"
# (or the stress gateways' 1 s): the request is finished only then.
DRAIN_HOLD = 1.5
# Requests through the gateway whose stderr is never read: their access
# lines (about 140 bytes each) are several times a pipe's 64 KiB.
STUCK_CONNS = 4
STUCK_BATCHES = 10
STUCK_BATCH = 50
DROPPED = b"log lines dropped"
# How long a worker may outlive its killed supervisor.
ORPHAN_WAIT = 5.0
ANSWER_WAIT = 5.0


class Failed(Exception):
    pass


def expect(cond, why):
    if not cond:
        raise Failed(why)


def recv_exactly(s, n, timeout):
    """Up to n bytes, fewer only at EOF, a reset or the timeout."""
    buf = b""
    end = time.monotonic() + timeout
    while len(buf) < n:
        left = end - time.monotonic()
        if left <= 0:
            break
        s.settimeout(left)
        try:
            data = s.recv(n - len(buf))
        except (socket.timeout, ConnectionResetError):
            break
        if not data:
            break
        buf += data
    return buf


def expect_eof(s, timeout):
    s.settimeout(timeout)
    try:
        data = s.recv(4096)
    except socket.timeout:
        raise Failed("no close within %.0f s" % timeout) from None
    except ConnectionResetError:
        raise Failed("reset instead of a close") from None
    expect(data == b"", "bytes after the answer: %r" % data[:80])


def accepts(port):
    try:
        socket.create_connection((HOST, port), 0.5).close()
        return True
    except OSError:
        return False


def start(gw_bin, args, stderr):
    """A gateway on a free port, once it accepts: (process, port)."""
    port = harness.free_port()
    p = harness.spawn([gw_bin] + args + [HOST, str(port)],
                      stdout=subprocess.DEVNULL, stderr=stderr)
    if not harness.wait_port(port, 10, p):
        harness.stop(p, 5)
        raise Failed("gateway %s did not start" % " ".join(args))
    return p, port


def stopped(p):
    """SIGTERM; the exit status must be 0."""
    rc = harness.stop(p, 10)
    expect(rc == 0, "exit status %s after SIGTERM" % rc)


def alive(pid):
    """Running, and not a zombie waiting for its parent."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def children(pid):
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(name))
        except (OSError, IndexError, ValueError):
            pass
    return out


# ------------------------------------------------------------------ cases

def case_port_file(ctx, workers):
    path = os.path.join(ctx["build"], "stress-no-such-dir", "port")
    try:
        r = subprocess.run([ctx["gw"], "--workers", str(workers),
                            "--port-file", path, HOST, "0"],
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, timeout=10)
    except subprocess.TimeoutExpired:
        raise Failed("still running after 10 s") from None
    err = r.stderr.decode(errors="replace")
    expect(r.returncode == 1, "exit %d, not 1" % r.returncode)
    expect("cannot write port file" in err and path in err,
           "no message naming %s: %r" % (path, err[-300:]))


def case_drain_unlimited(ctx):
    log = os.path.join(ctx["build"], "stress-op-drain0.log")
    with open(log, "w") as lf:
        p, port = start(ctx["gw"], ["--drain-timeout", "0"], lf)
        try:
            req, want = ctx["request"], ctx["answer"]
            with socket.create_connection((HOST, port), 5) as s:
                s.sendall(req[:20])
                time.sleep(0.2)
                p.send_signal(signal.SIGTERM)
                time.sleep(DRAIN_HOLD)
                expect(p.poll() is None, "exited %s with a request in "
                       "flight" % p.returncode)
                s.sendall(req[20:])
                got = recv_exactly(s, len(want), ANSWER_WAIT)
                expect(got == want, "request in flight at SIGTERM: got "
                       "%r" % got[:120])
                expect_eof(s, ANSWER_WAIT)
            stopped(p)
        finally:
            harness.stop(p, 5)


def pipeline(port, req, want, failures, batches=STUCK_BATCHES,
             batch=STUCK_BATCH):
    """batches times: batch requests in one write, then their answers."""
    try:
        with socket.create_connection((HOST, port), 5) as s:
            for _ in range(batches):
                s.sendall(req * batch)
                got = recv_exactly(s, len(want) * batch, ANSWER_WAIT)
                if got != want * batch:
                    failures.append("%d of %d answer bytes" % (
                        len(got), len(want) * batch))
                    return
    except OSError as e:
        failures.append(str(e))


def drain_pipe(fd, timeout, until=None):
    """What the pipe holds now (until the text `until` arrives, at most
    timeout seconds)."""
    out = b""
    end = time.monotonic() + timeout
    while True:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            data = None
        if data:
            out += data
            continue
        if until is None or until in out or time.monotonic() >= end:
            return out
        time.sleep(0.05)


def case_stuck_stderr(ctx):
    rfd, wfd = os.pipe()
    os.set_blocking(rfd, False)
    try:
        p, port = start(ctx["gw"], ["--log-level", "info"], wfd)
    finally:
        os.close(wfd)
    try:
        failures = []
        threads = [threading.Thread(target=pipeline, args=(
            port, ctx["request"], ctx["answer"], failures))
            for _ in range(STUCK_CONNS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(STUCK_BATCHES * ANSWER_WAIT + 5)
        expect(not failures and not any(t.is_alive() for t in threads),
               "with stderr not read: %s" % (
                   "; ".join(failures) or "a client hung"))
        # The pipe moves again: once the gateway's buffer is out (a
        # pipe's worth a request), a line says what was dropped.
        said = b""
        for _ in range(10):
            said += drain_pipe(rfd, 0)
            pipeline(port, ctx["request"], ctx["answer"], failures, 1, 1)
            said += drain_pipe(rfd, 0.3, DROPPED)
            if failures or DROPPED in said:
                break
        expect(not failures, "once stderr was read: %s" % failures)
        expect(DROPPED in said,
               "no report of dropped log lines (the pipe never filled?)")
        stopped(p)
    finally:
        harness.stop(p, 5)
        os.close(rfd)


def case_relay_itself(ctx, host):
    port = harness.free_port()
    try:
        r = subprocess.run([ctx["gw"], "--upstream", "%s:%d" % (HOST, port),
                            host, str(port)], stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, timeout=10)
    except subprocess.TimeoutExpired:
        raise Failed("started: still running after 10 s") from None
    err = r.stderr.decode(errors="replace")
    expect(r.returncode == 2 and "cannot relay to itself" in err,
           "exit %d: %r" % (r.returncode, err[-300:]))


def case_killed_supervisor(ctx):
    log = os.path.join(ctx["build"], "stress-op-orphan.log")
    workers = []
    with open(log, "w") as lf:
        p, port = start(ctx["gw"], ["--workers", "2"], lf)
        try:
            end = time.monotonic() + 5
            while len(workers) < 2 and time.monotonic() < end:
                workers = children(p.pid)
                time.sleep(0.05)
            expect(len(workers) == 2, "%d workers, not 2" % len(workers))
            p.kill()
            p.wait(5)
            end = time.monotonic() + ORPHAN_WAIT
            while any(alive(w) for w in workers) and \
                    time.monotonic() < end:
                time.sleep(0.05)
            left = [w for w in workers if alive(w)]
            expect(not left, "workers %s still running %.0f s after their "
                   "supervisor was killed" % (left, ORPHAN_WAIT))
            expect(not accepts(port), "port %d still accepts" % port)
        finally:
            for w in workers:
                if alive(w):
                    os.kill(w, signal.SIGKILL)
            harness.stop(p, 5)


CASES = [
    ("port file, 1 process", case_port_file, (1,)),
    ("port file, 2 workers", case_port_file, (2,)),
    ("drain 0 is no limit", case_drain_unlimited, ()),
    ("stderr never read", case_stuck_stderr, ()),
    ("relay to itself, one address", case_relay_itself, (HOST,)),
    ("relay to itself, every address", case_relay_itself, ("",)),
    ("supervisor killed", case_killed_supervisor, ()),
]


def run_all(gw_bin, build, request, answer):
    """Every case in turn; request is answered by `answer` by a gateway
    with the built-in index. [(name, None or why it failed)]."""
    ctx = {"gw": gw_bin, "build": build, "request": request,
           "answer": answer}
    out = []
    for name, fn, args in CASES:
        try:
            fn(ctx, *args)
            out.append((name, None))
        except Failed as e:
            out.append((name, str(e)))
        except Exception as e:  # noqa: BLE001 - reported, not hidden
            out.append((name, "raised %r" % e))
    return out
