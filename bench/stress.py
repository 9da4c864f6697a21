#!/usr/bin/env python3
"""stress.py - `make stress`: attack running gateways on loopback while
healthy clients keep working, and check that nothing breaks.

Four gateways run for the whole suite:
  A  the main target: --max-conns 900, --max-header 32768, short
     timeouts (request 3 s, idle 6 s, write 3 s, drain 1 s) so every
     defence shows within seconds;
  B  the same with `ulimit -n 256` and no practical connection cap, for
     the flood beyond the fd limit (EMFILE);
  C  the same with `ulimit -n 4096`, for the flood past FD_SETSIZE
     (every connection kept and served);
  D  the same with --max-conns 900, the upstream of two relays;
and six relays (hframe-gateway --upstream, the options of A but the
index and the connection cap, upstream timeout 2 s) with their
upstreams:
  R  relays to F, an upstream inside this script that answers like the
     gateway except when a request asks it to misbehave: stall, stop
     reading, send garbage, reset or close before or in the middle of
     its answer, close after every answer, answer twice;
  S  relays to gateway D;
  U  relays to a port that refuses connections;
  T  relays to a port whose listen queue is full (connect hangs);
  V  relays to the refusing port, then to D;
  P  reads PROXY headers (--proxy-protocol) and names its clients to its
     upstream E (--upstream-proxy-protocol), a gateway that reads PROXY
     headers too and logs at level info.
Healthy clients hold persistent connections to each gateway and to R
and S and check every answer byte for byte (on R and S they reconnect
every 10 requests, and one more on R makes F close after every
answer). Attacks: a spin check, the catalogue of malformed inputs (each
with its documented answer), slowloris, idle connections, clients that
never read, stalled 16 MiB bodies, floods beyond the connection cap, the
fd limit and FD_SETSIZE, and the error-frame-then-shutdown behaviour.
The attacks repeat until --seconds have passed (each at least once).
The spin check runs on A and through S before any other traffic. Then,
for a bounded share of --seconds, the relay phase: the catalogue through
S, then every upstream fault through R, U and T and searches through V,
repeated. Then, once, the operator's mistakes on gateways of their own
(stress_operator.py): a port file that cannot be written, --drain-timeout
0, a stderr nobody reads, a relay pointed at itself, a supervisor killed
with SIGKILL.

Violations (exit 1): a healthy request failing, a gateway exiting or
restarting, a catalogue answer other than the documented one, a relay
answering an upstream fault otherwise than documented, an operator
case not ending as documented, a hang, a
connection not closed by its timeout, fds not back at the baseline (or
an upstream connection the relay kept after giving up on it), CPU
spinning while idle, a non-zero exit after SIGTERM. --valgrind runs a
shorter mix against A and the relays R and U under valgrind memcheck and
also requires no memcheck errors and no leaks.

This file holds the healthy clients and the driver (main); the rest is
split by idea: stress_common.py (timing, gateways, reading frames,
violations), stress_catalogue.py, stress_attacks.py, stress_relay.py and
stress_operator.py."""

import argparse
import json
import os
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tests"))
import harness  # noqa: E402
import hframe_wire as wire  # noqa: E402
import stress_common as common  # noqa: E402
import stress_operator  # noqa: E402
from stress_common import (ANSWER_WAIT, BIG_BODIES, FD_LIMIT_B, FD_LIMIT_C,
                           Gateway, HOST, IDLE_TIMEOUT, INDEX, MAX_CONNS_A,
                           MAX_HEADER_A, MORPHEUS, RELAY_MAX, RELAY_MIN,
                           RELAY_SHARE, SLACK_VALGRIND, STATS,
                           UPSTREAM_TIMEOUT, binary_request, connect, guarded,
                           read_frames)
from stress_catalogue import attack_catalogue, catalogue, spin_check
from stress_attacks import (attack_big_bodies, attack_cap_flood,
                            attack_error_shutdown, attack_fd_flood,
                            attack_fdsetsize_flood, attack_idle,
                            attack_never_read, attack_reload, attack_slowloris,
                            write_index)
from stress_relay import (FaultUpstream, FullBacklog, P_CONNS, ROTATION,
                          no_match, refusing_port, relay_phase)

# ------------------------------------------------------------------ healthy

class Healthy(threading.Thread):
    """A well-behaved client on one persistent connection: search and
    binary requests in turn, every answer compared byte for byte."""

    REQUESTS = [
        (harness.search("morpheus"), wire.result(INDEX["morpheus"])),
        (harness.search("ring"), wire.result(INDEX["ring"])),
        (harness.search("\U0001f436"), wire.result(INDEX["\U0001f436"])),
        (harness.search("nobody"), wire.result("No match for 'nobody'.")),
        (binary_request(b"binary\xf0\x9f\x98\x83"),
         wire.binary_answer(b"binary\xf0\x9f\x98\x83")),
        (binary_request(b"y" * 70000), wire.binary_answer(b"y" * 10)),
    ]

    def __init__(self, gw, stop, pause, requests=None, reconnect_every=0):
        super().__init__(daemon=True)
        self.gw = gw
        self.stop_ev = stop
        self.pause = pause
        self.requests = requests or self.REQUESTS
        # A new connection every so many requests (0: never).
        self.reconnect_every = reconnect_every
        self.sock = None
        self.sent = 0
        self.failed = 0
        self.reconnects = 0

    def fail(self, why):
        self.failed += 1
        STATS.violation("healthy client on %s: %s" % (self.gw.name, why))
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def run(self):
        i = 0
        while not self.stop_ev.is_set():
            req, want = self.requests[i % len(self.requests)]
            i += 1
            if self.sock is not None and self.reconnect_every and \
                    i % self.reconnect_every == 0:
                self.sock.close()
                self.sock = None
            if self.sock is None:
                try:
                    self.sock = connect(self.gw.port)
                    self.reconnects += 1
                except OSError as e:
                    self.sent += 1
                    self.fail("connect: %s" % e)
                    time.sleep(0.2)
                    continue
            self.sent += 1
            try:
                self.sock.sendall(req)
            except OSError as e:
                self.fail("send: %s" % e)
                continue
            frames, raw, how = read_frames(self.sock, 1, ANSWER_WAIT)
            if how != "ok" or len(frames) != 1:
                self.fail("no answer (%s)" % how)
                continue
            if raw != want:
                self.fail("wrong answer %r" % raw[:120])
                continue
            self.stop_ev.wait(self.pause)
        if self.sock is not None:
            self.sock.close()


# ------------------------------------------------------------------ operator

def operator_phase(gw_bin, build):
    """The cases of stress_operator, each on gateways of its own:
    {name: "pass" or why it failed}."""
    out = {}
    for name, why in stress_operator.run_all(gw_bin, build,
                                             harness.search("morpheus"),
                                             MORPHEUS):
        STATS.attack("operator: " + name)
        out[name] = "pass" if why is None else why
        print("stress: operator: %s: %s" % (name, out[name]), flush=True)
        if why is not None:
            STATS.violation("operator: %s: %s" % (name, why))
    return out


# ------------------------------------------------------------------ driver

def gateway_stats(path):
    """The counters of the gateway's last "stats" log line."""
    out = {}
    try:
        with open(path, errors="replace") as f:
            lines = [x for x in f if " stats " in x]
    except OSError:
        return out
    if lines:
        for kv in lines[-1].split(" stats ", 1)[1].split():
            k, _, v = kv.partition("=")
            if v.isdigit():
                out[k] = int(v)
    return out


def monitor(gws, stop):
    while not stop.is_set():
        for g in gws:
            g.sample()
        stop.wait(0.2)


def wait_fds(gw, timeout):
    end = time.monotonic() + timeout
    n = harness.fd_count(gw.pid)
    while n > gw.fd_base and time.monotonic() < end:
        time.sleep(0.25)
        n = harness.fd_count(gw.pid)
    return n


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--build", default="build")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--valgrind", action="store_true")
    a = ap.parse_args()

    if a.valgrind:
        common.SLACK = SLACK_VALGRIND
    harness.raise_nofile(20000)
    gw_bin = os.path.join(a.build, "hframe-gateway")
    if not os.access(gw_bin, os.X_OK):
        raise SystemExit("stress: %s is not built" % gw_bin)
    t_start = time.monotonic()
    cases = catalogue()
    print("stress: %d catalogue cases, %s" % (
        len(cases), "valgrind memcheck" if a.valgrind
        else "%.0f s" % a.seconds), flush=True)

    index_path = os.path.join(a.build, "stress-index.json")
    write_index(index_path, True)
    extra_a = ["--max-conns", str(MAX_CONNS_A), "--max-header",
               str(MAX_HEADER_A), "--index", index_path]
    gw_a = Gateway("A", gw_bin, a.build, extra_a, valgrind=a.valgrind)
    gws = [gw_a]
    if not a.valgrind:
        gws.append(Gateway("B", gw_bin, a.build, ["--max-conns", "4000"],
                           nofile=FD_LIMIT_B))
        gws.append(Gateway("C", gw_bin, a.build, ["--max-conns", "4000"],
                           nofile=FD_LIMIT_C))
    # The relays and their upstreams (under valgrind: R and U only).
    f_up = FaultUpstream()
    f_up.start()
    refused = refusing_port()
    backlog = None
    relays = {}

    def relay(name, upstreams, valgrind=False, more=()):
        extra = ["--max-header", str(MAX_HEADER_A), "--upstream-timeout",
                 str(UPSTREAM_TIMEOUT)] + list(more)
        for port in upstreams:
            extra += ["--upstream", "%s:%d" % (HOST, port)]
        relays[name] = Gateway(name, gw_bin, a.build, extra,
                               valgrind=valgrind)
        return relays[name]

    # F fails on purpose, whenever a hostile request asks it to: R keeps
    # it in the rotation, so that its healthy clients are answered
    # (health, an upstream taken out and back, is what V exercises), and
    # gives each client connections of its own, since F also sends
    # frames nobody asked for.
    relay("R", [f_up.port], a.valgrind, ("--upstream-fails", "1000000",
                                         "--upstream-private"))
    relay("U", [refused], a.valgrind)
    if not a.valgrind:
        gw_d = Gateway("D", gw_bin, a.build,
                       ["--max-conns", str(MAX_CONNS_A)])
        gws.append(gw_d)
        # S's pool stays within what D accepts (--max-conns), as an
        # operator sizes --upstream-conns to the upstream's capacity.
        relay("S", [gw_d.port], more=("--upstream-conns",
                                      str(MAX_CONNS_A - 100)))
        backlog = FullBacklog()
        relay("T", [backlog.port])
        relay("V", [refused, gw_d.port])
        relays["E"] = Gateway("E", gw_bin, a.build,
                              ["--proxy-protocol", "--log-level", "info"])
        relay("P", [relays["E"].port], more=(
            "--proxy-protocol", "--upstream-proxy-protocol",
            "--upstream-conns", str(P_CONNS)))
    gws += list(relays.values())
    for g in gws:
        print("stress: gateway %s pid %d port %d, %d fds, %d KiB: %s" % (
            g.name, g.pid, g.port, g.fd_base, g.rss_base, " ".join(g.args)),
            flush=True)
    print("stress: F (upstream of R) port %d, refusing port %d%s" % (
        f_up.port, refused, ", full listen queue port %d" % backlog.port
        if backlog else ""), flush=True)

    # Before any other traffic, so that CPU time is the gateway idling.
    spin_cpu = spin_check(gw_a, cases)
    print("stress: spin check: %.3f s of CPU in 2 s with the catalogue's "
          "connections open" % spin_cpu, flush=True)
    spin_relay = None
    if "S" in relays:
        spin_relay = spin_check(relays["S"], cases, "relay-spin-check")
        print("stress: spin check through relay S: %.3f s of its CPU in "
              "2 s" % spin_relay, flush=True)

    stop = threading.Event()
    mon = threading.Thread(target=monitor, args=(gws, stop), daemon=True)
    mon.start()
    healthy = []
    pause = 0.05 if a.valgrind else 0.005
    for g in gws:
        if g.name in ("U", "T", "V", "P", "E"):
            continue            # see relay_cases() and rotation_probe()
        for _ in range(3 if g is gw_a else 2):
            h = Healthy(g, stop, pause,
                        reconnect_every=10 if g.name in ("R", "S") else 0)
            h.start()
            healthy.append(h)
    # On R, a client whose every request makes F close after answering.
    closer = [(harness.search("fault-close-after"),
               no_match("fault-close-after"))]
    closer.append((binary_request(b"fault-close-after " + b"y" * 70000),
                   wire.binary_answer(b"fault-close-after")))
    h = Healthy(relays["R"], stop, pause, closer)
    h.start()
    healthy.append(h)

    relay_passes = 0
    relay_budget = min(max(RELAY_SHARE * a.seconds, RELAY_MIN), RELAY_MAX)
    t_relay = time.monotonic()
    if not a.valgrind:
        print("stress: relay phase (%.0f s)" % relay_budget, flush=True)
        relay_passes = relay_phase(relays, relay_budget, cases)
    t_relay = time.monotonic() - t_relay
    operator = {}
    if not a.valgrind:
        print("stress: operator cases", flush=True)
        operator = operator_phase(gw_bin, a.build)

    rounds = 0
    big_rss = 0
    while True:
        rounds += 1
        t_round = time.monotonic()
        print("stress: round %d" % rounds, flush=True)
        if a.valgrind:
            # One pass of the relay faults beside A's mix.
            def relay_pass():
                nonlocal relay_passes, t_relay
                t0 = time.monotonic()
                relay_passes = relay_phase(relays, 0, None)
                t_relay = time.monotonic() - t0

            relay_thread = guarded(relay_pass)
            relay_thread.start()
            attack_catalogue(gw_a, cases)
            threads = [
                relay_thread,
                guarded(attack_slowloris, gw_a, 50, 5),
                guarded(attack_idle, gw_a, 20),
                guarded(attack_never_read, gw_a, 4),
                guarded(attack_reload, gw_a, index_path, 6),
            ]
            for t in threads[1:]:
                t.start()
            for t in threads:
                t.join()
            attack_error_shutdown(gw_a, 10)
            break
        # Slowloris, idle and never-read clients together, the catalogue
        # and the fd flood on B meanwhile.
        threads = [
            guarded(attack_slowloris, gw_a, 500, 8),
            guarded(attack_idle, gw_a, 200),
            guarded(attack_never_read, gw_a, 20),
            guarded(attack_fd_flood, gws[1], 600),
            guarded(attack_fdsetsize_flood, gws[2], 1200),
            guarded(attack_reload, gw_a, index_path, 20),
        ]
        for t in threads:
            t.start()
        attack_catalogue(gw_a, cases)
        for t in threads:
            t.join()
        attack_error_shutdown(gw_a, 50)
        big_rss = max(big_rss, attack_big_bodies(gw_a, BIG_BODIES))
        attack_cap_flood(gw_a, MAX_CONNS_A + 150)
        # Another round only if it ends in time (with ~15 s of checks).
        now = time.monotonic()
        if now + (now - t_round) + 15 > t_start + a.seconds:
            break

    # Let the last closes land, then stop the healthy clients.
    time.sleep(1.0)
    stop.set()
    for h in healthy:
        h.join(ANSWER_WAIT + 5)
    mon.join(2)
    healthy_sent = sum(h.sent for h in healthy)
    healthy_failed = sum(h.failed for h in healthy)
    via_relays = [h for h in healthy if h.gw.name in relays]
    restarts = 0
    report = {"catalogue_cases": len(cases), "rounds": rounds,
              "attacks": STATS.attacks,
              "attacks_sent": sum(STATS.attacks.values()),
              "healthy_sent": healthy_sent,
              "healthy_failed": healthy_failed, "gateways": {},
              "relay": {"phase_seconds": round(t_relay, 1),
                        "passes": relay_passes,
                        "healthy_sent": sum(h.sent for h in via_relays),
                        "healthy_failed": sum(h.failed for h in via_relays),
                        "healthy_reconnects": sum(h.reconnects
                                                  for h in via_relays)}}
    alive = []
    for g in gws:
        if not g.alive():
            restarts += 1
            STATS.violation("gateway %s exited (status %s)" % (
                g.name, g.proc.returncode))
            continue
        alive.append(g)
    fd_after = {g.name: harness.fd_count(g.pid) if a.valgrind else
                wait_fds(g, IDLE_TIMEOUT + common.SLACK) for g in alive}
    # Every upstream connection a relay gave up on is closed by now.
    end = time.monotonic() + 3
    while f_up.open > 0 and time.monotonic() < end:
        time.sleep(0.1)
    report["relay"]["rotation"] = dict(ROTATION)
    report["relay"]["f_connections"] = f_up.accepted
    report["relay"]["f_left_open"] = f_up.open
    report["relay"]["f_faults"] = f_up.faults
    if f_up.open > 0:
        STATS.violation("F: %d upstream connections still open after the "
                        "run (%s)" % (f_up.open, ", ".join(
                            sorted(f_up.doing.values()))))
    # The idle CPU of all of them over the same 2 seconds.
    cpu0 = {g.name: harness.cpu_seconds(g.pid) for g in alive}
    time.sleep(2.0)
    cpus = {g.name: harness.cpu_seconds(g.pid) - cpu0[g.name]
            for g in alive}
    for g in alive:
        fds, cpu = fd_after[g.name], cpus[g.name]
        info = {"pid": g.pid, "fd_baseline": g.fd_base, "fds_after": fds,
                "rss_baseline_kib": g.rss_base, "rss_peak_kib": g.rss_peak,
                "rss_after_kib": harness.rss_kib(g.pid),
                "idle_cpu_s_per_2s": round(cpu, 3)}
        if not a.valgrind and fds > g.fd_base:
            STATS.violation("gateway %s: %d fds after the run, baseline %d"
                            % (g.name, fds, g.fd_base))
        if not a.valgrind and cpu > 0.2:
            STATS.violation("gateway %s: %.2f s of CPU in 2 idle seconds "
                            "(spinning)" % (g.name, cpu))
        rc = g.stop()
        info["exit_status"] = rc
        info["counters"] = gateway_stats(g.log_path)
        if a.valgrind:
            try:
                with open(g.vg_log) as f:
                    vg = f.read()
            except OSError:
                vg = ""
            info["valgrind_log"] = g.vg_log
            if rc == 99 or "definitely lost" in vg or \
                    "Invalid" in vg or "uninitialised" in vg:
                STATS.violation("valgrind reports errors or leaks: see %s"
                                % g.vg_log)
                print(vg[:3000], file=sys.stderr)
        if rc != 0:
            STATS.violation("gateway %s exited %s after SIGTERM" % (
                g.name, rc))
        report["gateways"][g.name] = info
    f_up.close()
    if backlog is not None:
        backlog.close()
    report["operator"] = operator
    report["gateway_restarts"] = restarts
    report["spin_check_cpu_s_per_2s"] = round(spin_cpu, 3)
    if spin_relay is not None:
        report["relay"]["spin_check_cpu_s_per_2s"] = round(spin_relay, 3)
    report["big_bodies_rss_kib"] = big_rss
    report["violations"] = STATS.violations
    report["seconds"] = round(time.monotonic() - t_start, 1)

    print()
    print("attacks sent           %d (%s)" % (
        report["attacks_sent"], ", ".join(
            "%s %d" % kv for kv in sorted(STATS.attacks.items()))))
    print("healthy requests sent  %d" % healthy_sent)
    print("healthy requests failed %d" % healthy_failed)
    rr = report["relay"]
    print("  through relays       %d sent, %d failed, %d connections "
          "opened" % (rr["healthy_sent"], rr["healthy_failed"],
                      rr["healthy_reconnects"]))
    print("relay phase            %.1f s, %d passes; F: %d connections, "
          "%d left open, faults %s" % (
              rr["phase_seconds"], rr["passes"], rr["f_connections"],
              rr["f_left_open"], ", ".join(
                  "%s %d" % kv for kv in sorted(rr["f_faults"].items()))))
    if ROTATION["at_once"]:
        print("relay V (refusing port, then D): %d searches one at a "
              "time, %d at once; %d upstream-unavailable" % (
                  ROTATION["sequential"], ROTATION["at_once"],
                  ROTATION["unavailable"]))
    if operator:
        print("operator cases         %d, %d failed" % (
            len(operator), sum(v != "pass" for v in operator.values())))
    print("gateway restarts       %d" % restarts)
    if big_rss:
        print("RSS with %d stalled 16 MiB text/json bodies: %d KiB" % (
            BIG_BODIES, big_rss))
    for name, info in report["gateways"].items():
        print("gateway %s: peak RSS %d KiB (baseline %d, %d after), fds %d "
              "after (baseline %d), idle CPU %.3f s/2 s, exit %s" % (
                  name, info["rss_peak_kib"], info["rss_baseline_kib"],
                  info["rss_after_kib"],
                  info["fds_after"], info["fd_baseline"],
                  info["idle_cpu_s_per_2s"], info["exit_status"]))
        c = info.get("counters", {})
        if c:
            print("  counters: %s" % ", ".join([
                "%s %d" % (k, c[k]) for k in (
                    "accepted", "rejected_cap", "rejected_nofd",
                    "rejected_nomem",
                    "accept_errors", "timeout_request", "timeout_idle",
                    "timeout_write", "req_frame_error", "req_bad_request",
                    "req_relayed", "upstream_connects", "upstream_errors")
                if k in c] + ["%s %d" % (k, v) for k, v in sorted(c.items())
                             if k.startswith("req_err.upstream")]))
    out = os.path.join(a.build, "stress-valgrind.json" if a.valgrind
                       else "stress.json")
    with open(out, "w") as f:
        json.dump(report, f, indent=1)
        f.write("\n")
    print("violations             %d (report: %s)" % (
        len(STATS.violations), out))
    return 1 if STATS.violations or healthy_failed or restarts else 0


if __name__ == "__main__":
    sys.exit(main())
