#!/usr/bin/env python3
"""Event pipeline throughput: write -> rollup visible in the analysis API, in events/s.

  bench/pipeline.py [--mode services|standalone|both] [--events N] [--counters K]
                    [--batch B] [--clients C] [--samples S] [--json FILE]

services:   count-write-service -> outbox in Redis -> relay -> Kafka (KRaft, 3 partitions)
            -> count-analysis-service (consumer group) -> rollups in PostgreSQL
standalone: count-system up -> outbox in SQLite -> in-process bus -> rollups in SQLite

Per mode, after a warm-up batch has become visible (topic created, consumer assigned):

* burst: C clients send N increments of 1 as batches of B operations (POST
  /api/v1/counts:batch; every operation is one event) to K counters, as fast as the write API
  takes them. Reported: events/s accepted by the write API; events/s through the whole
  pipeline (first write sent -> every counter's history, read with GET
  /analysis/api/v1/series, sums to its value); and the drain (last write answered -> visible).
* latency: S single increments one after another, each followed by polling the series
  (every 5 ms) until its last value shows it: write -> visible, p50 / p95 / max.

Every process runs on free loopback ports in a temporary directory (the black-box suite's
tests/blackbox/support.py starts them: PostgreSQL 15 as the postgres user, so run as root)
and is stopped by its PID at the end. Services log at LOG_LEVEL=warn.
"""
from __future__ import annotations

import argparse
import http.client
import json
import shutil
import statistics
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "blackbox"))
import support  # noqa: E402  (the black-box suite's process control)

QUIET = {"LOG_LEVEL": "warn", "ENABLE_DEBUG_ENDPOINTS": None}


class System:
    """A running deployment in one mode: ports to write to and to read the history from."""

    def __init__(self, mode: str, root: Path):
        self.mode = mode
        self.root = root
        self.keys = support.Keys()
        self.procs: list[support.Proc] = []
        self.infra: support.Infra | None = None
        logs = root / "logs"
        logs.mkdir(parents=True)
        try:
            if mode == "standalone":
                proc, port = support.start_standalone(logs, root / "data", self.keys,
                                                      debug=False, env_overrides=QUIET)
                self.procs.append(proc)
                self.write_port = self.admin_port = self.analysis_port = port
            else:
                self.infra = support.Infra(root)
                self.infra.start()
                support.migrate(self.infra, logs)
                ports = {}
                for s in ("count-write-service", "count-management-service",
                          "count-analysis-service"):
                    proc, ports[s] = support.start_service(s, self.infra, self.keys, logs,
                                                           debug=False, env_overrides=QUIET)
                    self.procs.append(proc)
                self.write_port = ports["count-write-service"]
                self.admin_port = ports["count-management-service"]
                self.analysis_port = ports["count-analysis-service"]
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for p in reversed(self.procs):
            p.stop()
        if self.infra is not None:
            self.infra.stop()

    def request(self, port: int, method: str, path: str, body: object | None = None,
                conn=None) -> support.Response:
        headers = {"Authorization": f"Bearer {self.keys.admin}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        return support.http_request(port, method, path, body=data, headers=headers, conn=conn)

    def create(self, count_id: str) -> None:
        r = self.request(self.admin_port, "POST", "/management/api/v1/counts", {"id": count_id})
        if r.status != 201:
            raise RuntimeError(r.describe())

    def histories(self, ids: list[str], conn=None) -> dict[str, tuple[int, int | None]]:
        """Per counter: (sum of deltas, last value) over the day around now."""
        now = datetime.now(timezone.utc)
        frm, to = ((now + timedelta(days=d)).strftime("%Y-%m-%dT%H:%M:%SZ") for d in (-1, 1))
        r = self.request(self.analysis_port, "GET",
                         f"/analysis/api/v1/series?ids={','.join(ids)}&from={frm}&to={to}&unit=day",
                         conn=conn)
        if r.status != 200:
            raise RuntimeError(r.describe())
        out = {}
        for s in r.json()["series"]:
            b = s["buckets"]
            out[s["countId"]] = (sum(x["sum"] for x in b), b[-1]["last"] if b else None)
        return out


def wait_visible(system: System, expected: dict[str, int], timeout: float = 600) -> float:
    """Polls until every counter's deltas sum to its expected value; returns when (monotonic)."""
    ids = list(expected)
    deadline = time.monotonic() + timeout
    conn = http.client.HTTPConnection("127.0.0.1", system.analysis_port, timeout=30)
    try:
        while True:
            seen = system.histories(ids, conn)
            if all(seen[i][0] == expected[i] for i in ids):
                return time.monotonic()
            if time.monotonic() > deadline:
                behind = {i: (seen[i][0], expected[i]) for i in ids if seen[i][0] != expected[i]}
                raise RuntimeError(f"history not caught up within {timeout}s: {list(behind.items())[:3]}")
            time.sleep(0.02)
    finally:
        conn.close()


def send_batches(system: System, ids: list[str], events: int, batch: int, clients: int,
                 expected: dict[str, int]) -> tuple[float, float]:
    """Sends `events` increments of 1 in batches from `clients` threads; returns (start, end)."""
    batches = [[ids[(b * batch + i) % len(ids)] for i in range(min(batch, events - b * batch))]
               for b in range((events + batch - 1) // batch)]
    for ops in batches:
        for i in ops:
            expected[i] += 1
    lock = threading.Lock()
    errors: list[str] = []

    def run(mine: list[list[str]]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", system.write_port, timeout=60)
        try:
            for ops in mine:
                r = system.request(system.write_port, "POST", "/api/v1/counts:batch",
                                   {"operations": [{"id": i, "op": "increment", "amount": 1}
                                                   for i in ops]}, conn=conn)
                bad = r.status != 200 or any(x.get("status") != 200 for x in r.json()["results"])
                if bad:
                    with lock:
                        errors.append(r.describe())
        finally:
            conn.close()

    threads = [threading.Thread(target=run, args=(batches[c::clients],)) for c in range(clients)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    end = time.monotonic()
    if errors:
        raise RuntimeError(f"{len(errors)} batches failed: {errors[0]}")
    return start, end


def latency_samples(system: System, count_id: str, samples: int) -> list[float]:
    """Write -> visible (ms) of single increments, one after another."""
    out = []
    value = system.histories([count_id])[count_id][1] or 0
    write = http.client.HTTPConnection("127.0.0.1", system.write_port, timeout=30)
    read = http.client.HTTPConnection("127.0.0.1", system.analysis_port, timeout=30)
    try:
        for _ in range(samples):
            t0 = time.monotonic()
            r = system.request(system.write_port, "POST", f"/api/v1/counts/{count_id}/increment",
                               {"amount": 1}, conn=write)
            if r.status != 200:
                raise RuntimeError(r.describe())
            value = r.json()["value"]
            while system.histories([count_id], read)[count_id][1] != value:
                if time.monotonic() - t0 > 60:
                    raise RuntimeError("a single increment did not become visible within 60 s")
                time.sleep(0.005)
            out.append((time.monotonic() - t0) * 1000)
    finally:
        write.close()
        read.close()
    return out


def run_mode(mode: str, args: argparse.Namespace, root: Path) -> dict:
    print(f"\n== {mode}: starting", file=sys.stderr, flush=True)
    system = System(mode, root / mode)
    try:
        ids = [f"pipe-{i:03d}" for i in range(args.counters)]
        for i in ids:
            system.create(i)
        expected = {i: 0 for i in ids}
        # Warm-up: the first events create the topic and the consumer gets its partitions.
        send_batches(system, ids, len(ids), args.batch, 1, expected)
        wait_visible(system, expected, timeout=120)
        print(f"== {mode}: warm, sending {args.events} events", file=sys.stderr, flush=True)

        start, written = send_batches(system, ids, args.events, args.batch, args.clients, expected)
        visible = wait_visible(system, expected)
        latencies = latency_samples(system, ids[0], args.samples)
        result = {
            "mode": mode,
            "events": args.events,
            "counters": args.counters,
            "batch": args.batch,
            "clients": args.clients,
            "write_seconds": written - start,
            "visible_seconds": visible - start,
            "drain_seconds": visible - written,
            "written_per_second": args.events / (written - start),
            "pipeline_per_second": args.events / (visible - start),
            "latency_ms": {
                "samples": len(latencies),
                "p50": statistics.median(latencies),
                "p95": statistics.quantiles(latencies, n=20)[-1] if len(latencies) >= 2 else latencies[0],
                "max": max(latencies),
            },
        }
        return result
    finally:
        system.stop()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--mode", choices=["services", "standalone", "both"], default="both")
    p.add_argument("--events", type=int, default=200_000)
    p.add_argument("--counters", type=int, default=50, help="at most 50 (one series request)")
    p.add_argument("--batch", type=int, default=1000, help="operations per batch, at most 1000")
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--samples", type=int, default=30, help="single-write latency samples")
    p.add_argument("--json", type=Path, help="also write the results here")
    args = p.parse_args()
    if not 1 <= args.counters <= 50 or not 1 <= args.batch <= 1000:
        p.error("--counters must be 1..50 and --batch 1..1000")

    root = support.make_tempdir("count-pipeline-bench-")
    root.chmod(0o755)  # the postgres user must reach its data directory below
    results = []
    try:
        for mode in (["services", "standalone"] if args.mode == "both" else [args.mode]):
            results.append(run_mode(mode, args, root))
    finally:
        shutil.rmtree(root, ignore_errors=True)

    print("\n| mode | events | accepted by the write API | write → rollup visible | drain after "
          "the last write | single write → visible p50 / p95 / max |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in results:
        lat = r["latency_ms"]
        print(f"| {r['mode']} | {r['events']:,} | {r['written_per_second']:,.0f} events/s "
              f"({r['write_seconds']:.1f} s) | **{r['pipeline_per_second']:,.0f} events/s** "
              f"({r['visible_seconds']:.1f} s) | {r['drain_seconds']:.1f} s | "
              f"{lat['p50']:.0f} / {lat['p95']:.0f} / {lat['max']:.0f} ms |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
