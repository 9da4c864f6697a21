"""harness.py - what run_bench.py and stress.py share: starting servers on
loopback ephemeral ports, waiting for them, reading their RSS and fd
counts, the search request they send (frames come from
tests/hframe_wire.py), and killing every process started on exit."""

import atexit
import os
import resource
import signal
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tests"))
import hframe_wire as wire  # noqa: E402

_children = []


def _kill_all():
    for p in _children:
        if p.poll() is None:
            try:
                p.kill()
            except OSError:
                pass
    for p in _children:
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


atexit.register(_kill_all)


def _on_signal(signum, _frame):
    _kill_all()
    raise SystemExit(128 + signum)


signal.signal(signal.SIGTERM, _on_signal)
signal.signal(signal.SIGINT, _on_signal)


def spawn(args, **kw):
    """Start a process that is killed when this script exits."""
    p = subprocess.Popen(args, **kw)
    _children.append(p)
    return p


def stop(p, timeout=10.0):
    """SIGTERM, then SIGKILL after timeout. Returns the exit status."""
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=5)
    return p.returncode


def raise_nofile(want=20000):
    """Raise our fd limit (children inherit it) as far as allowed."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(want, hard) if hard != resource.RLIM_INFINITY else want
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, timeout=10.0, proc=None):
    """True once something accepts on 127.0.0.1:port."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def rss_kib(pid):
    """Resident set size of pid in KiB (0 when it is gone)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def fd_count(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return -1


def cpu_seconds(pid):
    """User + system CPU time of pid, in seconds."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        tick = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / tick
    except (OSError, IndexError, ValueError):
        return 0.0


def search(value):
    """The search request the benchmarks send (byteorder little)."""
    return wire.search(value, byteorder="little")


def machine():
    """What the figures were measured on."""
    info = {"cores": os.cpu_count(), "kernel": os.uname().release}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as f:
            info["memory_kib"] = int(f.readline().split()[1])
    except OSError:
        pass
    try:
        out = subprocess.run(["cc", "--version"], capture_output=True,
                             text=True, timeout=10).stdout
        info["compiler"] = out.splitlines()[0] if out else ""
    except (OSError, subprocess.TimeoutExpired):
        pass
    return info
