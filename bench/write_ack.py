#!/usr/bin/env python3
"""What WRITE_ACK=kafka costs: increment latency and CPU with WRITE_ACK=redis and =kafka.

  bench/write_ack.py [--rounds R] [--sequential N] [--clients C] [--rate R] [--seconds S]
                     [--linger MS] [--json FILE]

Services on PostgreSQL, Redis and Kafka (KRaft), started by the black-box suite's
tests/blackbox/support.py on loopback ports: count-management-service (creates the counters;
it also runs an outbox relay, and whichever of it and the write service holds the lease
publishes) and count-write-service, restarted for each mode. The modes alternate, ROUNDS
times each, so a busy spell of the shared machine hits both. Per mode and round, after 200
warm-up increments:

* sequential: N increments of 1, one after another on one keep-alive connection: p50 / p99 /
  max of the answer time;
* load: C clients, each incrementing its own counter at RATE a second for S seconds (the
  recovery drill's load): p50 / p99 of the answer time, and the CPU (utime + stime from
  /proc) of count-write-service, count-management-service and redis-server per increment,
  the processes whose work the mode changes (Kafka receives the same events in both).

--linger sets KAFKA_LINGER_MS of both relaying services (default: theirs, 20 ms).

Printed as a Markdown table (docs/BENCHMARKS.md, "WRITE_ACK=kafka").
"""
from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent / "tests" / "blackbox"))
import support  # noqa: E402
from benchlib import machine, ticks  # noqa: E402

QUIET: dict[str, str] = {"LOG_LEVEL": "warn"}
CLK_TCK = 100


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


FAILED: list[int] = []  # statuses other than 200, reported


def increment(conn: http.client.HTTPConnection, key: str, cid: str) -> float:
    t = time.perf_counter()
    conn.request("POST", f"/api/v1/counts/{cid}/increment", body=b"", headers={"Authorization": f"Bearer {key}"})
    r = conn.getresponse()
    r.read()
    if r.status != 200:
        FAILED.append(r.status)
    return (time.perf_counter() - t) * 1000


def run_mode(infra, keys, logs, mode: str, counters: list[str], mport_pid: int, a) -> dict:
    proc, port = support.start_service("count-write-service", infra, keys, logs, debug=False,
                                       name=f"write-{mode}", env_overrides={**QUIET, "WRITE_ACK": mode})
    try:
        FAILED.clear()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for _ in range(200):
            increment(conn, keys.writer, counters[0])
        sequential = [increment(conn, keys.writer, counters[0]) for _ in range(a.sequential)]
        conn.close()

        latencies: list[list[float]] = [[] for _ in range(a.clients)]

        def client(i: int) -> None:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            start = time.monotonic()
            n = 0
            while time.monotonic() - start < a.seconds:
                latencies[i].append(increment(c, keys.writer, counters[i]))
                n += 1
                time.sleep(max(0.0, start + n / a.rate - time.monotonic()))
            c.close()

        pids = [proc.pid, mport_pid, next(p.pid for p in infra.procs if p.name == "redis-primary")]
        before = ticks(pids)
        threads = [threading.Thread(target=client, args=(i,)) for i in range(a.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        cpu_s = (ticks(pids) - before) / CLK_TCK
        loaded = [x for lat in latencies for x in lat]
        return {"mode": mode, "seq_p50_ms": pct(sequential, 50), "seq_p99_ms": pct(sequential, 99),
                "seq_max_ms": max(sequential), "load_increments": len(loaded),
                "load_p50_ms": pct(loaded, 50), "load_p99_ms": pct(loaded, 99),
                "cpu_us_per_increment": cpu_s / len(loaded) * 1e6, "failed": sorted(FAILED)}
    finally:
        proc.stop()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--sequential", type=int, default=1000)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--rate", type=float, default=100)
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--linger", type=int)
    p.add_argument("--json")
    a = p.parse_args()
    if a.linger is not None:
        QUIET["KAFKA_LINGER_MS"] = str(a.linger)
    root = support.make_tempdir("count-write-ack-bench-")
    logs = root / "logs"
    logs.mkdir()
    keys = support.Keys()
    infra = support.Infra(root)
    procs = []
    try:
        infra.start()
        support.migrate(infra, logs)
        mproc, mport = support.start_service("count-management-service", infra, keys, logs, debug=False,
                                             env_overrides=QUIET)
        procs.append(mproc)
        counters = []
        for i in range(a.clients):
            cid = f"ack-bench-{i}"
            r = support.http_request(mport, "POST", "/management/api/v1/counts", body=json.dumps({"id": cid}).encode(),
                                     headers={"Authorization": f"Bearer {keys.admin}",
                                              "Content-Type": "application/json"})
            assert r.status == 201, r.body
            counters.append(cid)
        results = [run_mode(infra, keys, logs, mode, counters, mproc.pid, a)
                   for _ in range(a.rounds) for mode in ("redis", "kafka")]
    finally:
        for pr in procs:
            pr.stop()
        infra.stop()
    print(f"machine: {json.dumps(machine())}")
    print("| WRITE_ACK | sequential p50 / p99 / max (ms) | under load: increments, p50 / p99 (ms) | CPU per increment (µs) | failed |")
    print("|---|---|---|---|---|")
    for r in results:
        print(f"| {r['mode']} | {r['seq_p50_ms']:.2f} / {r['seq_p99_ms']:.2f} / {r['seq_max_ms']:.1f} | "
              f"{r['load_increments']}, {r['load_p50_ms']:.2f} / {r['load_p99_ms']:.2f} | "
              f"{r['cpu_us_per_increment']:.0f} | {len(r['failed'])} {sorted(set(r['failed']))} |")
    for mode in ("redis", "kafka"):
        rs = [r for r in results if r["mode"] == mode]
        print(f"median over rounds, {mode}: sequential p50 {statistics.median(r['seq_p50_ms'] for r in rs):.2f} ms, "
              f"load p99 {statistics.median(r['load_p99_ms'] for r in rs):.2f} ms, "
              f"CPU {statistics.median(r['cpu_us_per_increment'] for r in rs):.0f} µs")
    if a.json:
        Path(a.json).write_text(json.dumps({"machine": machine(), "results": results}, indent=2))


if __name__ == "__main__":
    main()
