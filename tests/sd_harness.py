#!/usr/bin/env python3
"""sd_harness.py - plays systemd for hframe-gateway, without systemd.

Binds a listening socket and a notify socket, then starts the gateway the
way a service manager does: the listening socket as descriptor 3 with
LISTEN_FDS=1 and LISTEN_PID set by the child itself (so it names the
process that execs the gateway), NOTIFY_SOCKET naming the datagram
socket. Then it checks, in order: READY=1 arrives; a search is answered
on the passed socket; SIGHUP brings RELOADING=1 then READY=1, and with
--index a broken file a status saying the reload failed; the log names
the passed socket's address; SIGTERM brings STOPPING=1 and exit status
0.

usage: sd_harness.py DIR GATEWAY [OPTIONS...]
Prints one line per check ("ok ..." or "FAIL ..."); exit status 0 when
all passed.
"""
import os
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gw_client  # noqa: E402
import hframe_wire as wire  # noqa: E402

WAIT = 10.0


def start(tmp, gateway, options):
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(64)
    path = os.path.join(tmp, "notify")
    nsock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    nsock.bind(path)
    pid = os.fork()
    if pid == 0:
        try:
            if lsock.fileno() != 3:
                os.dup2(lsock.fileno(), 3)
            os.set_inheritable(3, True)
            os.environ["LISTEN_FDS"] = "1"
            os.environ["LISTEN_PID"] = str(os.getpid())
            os.environ["NOTIFY_SOCKET"] = path
            log = os.open(os.path.join(tmp, "gw.log"),
                          os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(log, 2)
            os.execv(gateway, [gateway] + options)
        finally:
            os._exit(127)
    port = lsock.getsockname()[1]
    lsock.close()
    return pid, port, nsock


def expect(nsock, word):
    """Wait for a notify message holding the line `word`."""
    until = time.monotonic() + WAIT
    seen = []
    while time.monotonic() < until:
        nsock.settimeout(max(0.01, until - time.monotonic()))
        try:
            msg = nsock.recv(4096).decode("utf-8", "replace")
        except socket.timeout:
            break
        seen.append(msg.replace("\n", " "))
        if word in msg.split("\n"):
            return True, seen
    return False, seen


def failed_reload(pid, nsock, index):
    """SIGHUP with a broken index: the reload ends (READY=1) and the
    status tells the service manager it failed. The file is put back."""
    with open(index, "rb") as f:
        kept = f.read()
    with open(index, "wb") as f:
        f.write(b'{"a": ')
    try:
        os.kill(pid, signal.SIGHUP)
        good, seen = expect(nsock, "READY=1")
    finally:
        with open(index, "wb") as f:
            f.write(kept)
    status = [m for m in seen if "READY=1" in m]
    return (good and bool(status) and
            "STATUS=serving the previous index: reload failed" in status[-1],
            seen)


def main(argv):
    tmp, gateway, options = argv[1], argv[2], argv[3:]
    failed = 0
    pid, port, nsock = start(tmp, gateway, options)

    def report(good, label, extra=""):
        nonlocal failed
        print(("ok   " if good else "FAIL ") + label +
              ("" if good or not extra else ": " + extra))
        failed += 0 if good else 1

    try:
        good, seen = expect(nsock, "READY=1")
        report(good, "READY=1 once listening", repr(seen))
        try:
            gw_client.exchange(port, wire.search("morpheus"),
                               wire.result(gw_client.RABBIT))
            report(True, "a search answered on the passed socket")
        except (gw_client.Fail, OSError) as e:
            report(False, "a search answered on the passed socket", str(e))
        os.kill(pid, signal.SIGHUP)
        good, seen = expect(nsock, "RELOADING=1")
        report(good, "RELOADING=1 on SIGHUP", repr(seen))
        good, seen = expect(nsock, "READY=1")
        report(good, "READY=1 after the reload", repr(seen))
        if "--index" in options:
            good, seen = failed_reload(pid, nsock,
                                       options[options.index("--index") + 1])
            report(good, "a failed reload: READY=1 and a status saying so",
                   repr(seen))
        with open(os.path.join(tmp, "gw.log"), encoding="utf-8",
                  errors="replace") as f:
            text = f.read()
        report("listening on 127.0.0.1:%d" % port in text,
               "the log names the passed socket's address",
               text[-300:])
        os.kill(pid, signal.SIGTERM)
        good, seen = expect(nsock, "STOPPING=1")
        report(good, "STOPPING=1 on SIGTERM", repr(seen))
        until = time.monotonic() + 15
        status = None
        while time.monotonic() < until:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done == pid:
                break
            status = None
            time.sleep(0.05)
        report(status is not None and os.WIFEXITED(status) and
               os.WEXITSTATUS(status) == 0, "exit 0 after SIGTERM",
               "status %r" % status)
        pid = 0
    finally:
        if pid:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
