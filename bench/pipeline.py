#!/usr/bin/env python3
"""Event pipeline throughput: write -> rollup visible in the analysis API, in events/s.

  bench/pipeline.py [--mode services|standalone|both] [--events N] [--counters K]
                    [--batch B] [--clients C] [--samples S] [--sustain SECONDS]
                    [--rate R] [--replicas N] [--no-kill] [--json FILE] [--costs FILE]
                    [--standalone-env NAME=VALUE] [--services-env NAME=VALUE]

services:   count-write-service -> outbox in Redis -> relay -> Kafka (KRaft, 3 partitions)
            -> count-analysis-service (consumer group) -> rollups in PostgreSQL
standalone: count-system up -> rollups in SQLite, written in each change's transaction

Per mode, after a warm-up batch has become visible (topic created, consumer assigned):

* burst: C clients send N increments of 1 as batches of B operations (POST
  /api/v1/counts:batch; every operation is one event) to K counters, as fast as the write API
  takes them. Reported: events/s accepted by the write API (its peak); events/s through the
  whole pipeline (first write sent -> every counter's history, read with GET
  /analysis/api/v1/series, sums to its value); the drain (last write answered -> visible);
  and the CPU each process used per event (utime + stime from /proc/<pid>/stat, summed over
  the process and its children: PostgreSQL's backends), which sharing the machine with other
  work disturbs far less than wall time.
* sustained (--sustain, default 300 s; 0 skips it): the same clients send at a fixed rate
  (--rate, default: the burst's accepted rate, i.e. the write API's peak measured in this run)
  for that long; every 0.5 s the backlog is sampled (the outbox backlog plus, services, the
  consumer lag, from /metrics). Pass: no write refused for a full outbox, the backlog stays
  bounded (its last-minute average at most 5 s of load and not above the first minute's by
  more than 1 s of load), and every event is visible within 5 s of the last write. Reported: accepted and visible rates, their
  ratio, the backlog's peak and last-minute average, the drain, CPU per event per process.
* replicas (services, --replicas N, default 3; 0 skips it): N analysis replicas in one
  consumer group take a fixed rate (--rate or the burst's rate); CPU per event of each
  replica is compared with one replica's; half-way one replica is killed with SIGKILL; after
  the rebalance every counter's minute series must satisfy sum of deltas = value.
* storage (services, --footprint-counters, default 5,000; 0 skips it): Redis memory and
  PostgreSQL bytes per counter, bytes per rollup row (a history import), and after the burst
  the broker's log bytes and PostgreSQL's event-id bytes per event.
* latency: S single increments one after another, each followed by polling the series
  (every 5 ms) until its last value shows it: write -> visible, p50 / p95 / max.

The services run's costs per event (CPU of each process, its use at rest, storage) are also
written to bench/results/pipeline.json (--costs), which bench/capacity.py reads.

Machine busyness (the share of CPU time not idle, /proc/stat, and the load average) is
reported for each phase: the machine is shared, so wall-time figures are noisy; CPU per event
is the robust figure.

Every process runs on free loopback ports in a temporary directory (the black-box suite's
tests/blackbox/support.py starts them: PostgreSQL 15 as the postgres user, so run as root)
and is stopped by its PID at the end. Services log at LOG_LEVEL=warn.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "blackbox"))
import support  # noqa: E402  (the black-box suite's process control)

import benchlib  # noqa: E402  (bench/: process trees and their CPU ticks)

QUIET = {"LOG_LEVEL": "warn", "ENABLE_DEBUG_ENDPOINTS": None}
STANDALONE_ENV: dict[str, str] = {}  # --standalone-env
SERVICES_ENV: dict[str, str] = {}  # --services-env
TICKS = os.sysconf("SC_CLK_TCK")


# ----------------------------------------------------------------------------- measuring CPU

class CpuMeter:
    """CPU seconds of named process trees (a process and its descendants), sampled; and of
    named groups of one process's threads (`threads`: name -> (pid, thread name prefixes)),
    which are also part of that process's figure."""

    def __init__(self, roots: dict[str, int],
                 threads: dict[str, tuple[list[int], tuple[str, ...]]] | None = None):
        self.roots = roots
        self.threads = threads or {}

    def sample(self) -> dict[str, float]:
        out = {name: benchlib.ticks(benchlib.tree([root])) / TICKS
               for name, root in self.roots.items()}
        out.update({name: sum(benchlib.thread_ticks(pid, prefixes) for pid in pids) / TICKS
                    for name, (pids, prefixes) in self.threads.items()})
        return out


class Busy:
    """How busy the whole machine is between start() and stop(): non-idle share of all CPU
    time (/proc/stat) and the 1-minute load average at the end."""

    @staticmethod
    def _read() -> tuple[int, int]:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return sum(v), v[3] + v[4]  # total, idle + iowait

    def __init__(self):
        self.t0, self.i0 = self._read()

    def stop(self) -> dict:
        t1, i1 = self._read()
        total = max(t1 - self.t0, 1)
        return {"busy_percent": round(100 * (1 - (i1 - self.i0) / total), 1),
                "load_average": os.getloadavg()[0]}


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def cpu_per_event(before: dict[str, float], after: dict[str, float], events: int,
                  idle: dict[str, float] | None = None, seconds: float = 0) -> dict[str, float]:
    """Microseconds of CPU per event, per process tree; with `idle` (CPU seconds per second
    each process uses without load), what it uses at rest over `seconds` is taken off first."""
    idle = idle or {}
    return {k: round((after[k] - before[k] - idle.get(k, 0) * seconds) / events * 1e6, 2)
            for k in before}


def idle_rates(meter: CpuMeter, seconds: float = 5) -> dict[str, float]:
    """CPU seconds per second each process uses with no load (heartbeats, polling)."""
    before = meter.sample()
    time.sleep(seconds)
    return {k: (v - before[k]) / seconds for k, v in meter.sample().items()}


# ----------------------------------------------------------------------------- the deployment

class System:
    """A running deployment in one mode: ports to write to and to read the history from."""

    def __init__(self, mode: str, root: Path, analysis_replicas: int = 1):
        self.mode = mode
        self.root = root
        self.keys = support.Keys()
        self.procs: list[support.Proc] = []
        self.infra: support.Infra | None = None
        self.analysis: list[tuple[support.Proc, int]] = []
        self.idle: dict[str, float] = {}  # CPU s/s per process at rest, once measured
        self.retried = 0  # write batches answered 503 "not sent" and sent again
        self.logs = root / "logs"
        self.logs.mkdir(parents=True)
        try:
            if mode == "standalone":
                proc, port = support.start_standalone(self.logs, root / "data", self.keys,
                                                      debug=False,
                                                      env_overrides={**QUIET, **STANDALONE_ENV})
                self.procs.append(proc)
                self.write_port = self.admin_port = self.analysis_port = port
            else:
                self.infra = support.Infra(root)
                self.infra.start()
                support.migrate(self.infra, self.logs)
                ports = {}
                for s in ("count-write-service", "count-management-service"):
                    proc, ports[s] = support.start_service(s, self.infra, self.keys, self.logs,
                                                           debug=False,
                                                           env_overrides={**QUIET, **SERVICES_ENV})
                    self.procs.append(proc)
                for n in range(analysis_replicas):
                    self.add_analysis(n)
                self.write_port = ports["count-write-service"]
                self.admin_port = ports["count-management-service"]
                self.analysis_port = self.analysis[0][1]
        except BaseException:
            self.stop()
            raise

    def add_analysis(self, n: int) -> None:
        proc, port = support.start_service(
            "count-analysis-service", self.infra, self.keys, self.logs, debug=False,
            name=f"count-analysis-service-{n}",
            env_overrides={**QUIET, **SERVICES_ENV, "POD_NAME": f"analysis-{n}"})
        self.procs.append(proc)
        self.analysis.append((proc, port))

    def cpu_meter(self) -> CpuMeter:
        roots = {p.name: p.pid for p in self.procs}
        threads = {}
        if self.infra is not None:
            roots.update({p.name: p.pid for p in self.infra.procs if p.name != "redis-replica"})
            roots["postgres"] = self.infra.pg_proc.pid
            # The outbox relay: its own thread and librdkafka's (the producer's compression and
            # sends), in whichever of count-write-service and count-management-service holds
            # the relay's lease (both run one; one leads). Part of that process's figure too.
            relays = [p.pid for p in self.procs if p.name in ("count-write-service", "count-management-service")]
            threads["relay (leader, in count-write-service or count-management-service)"] = (
                relays, ("outbox-", "rdk:"))
        # Standalone has no pipeline threads: the rollups are written in each change's
        # transaction (docs/ARCHITECTURE.md, "Standalone has no outbox and no relay").
        return CpuMeter(roots, threads)

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
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        return support.http_request(port, method, path, body=data, headers=headers, conn=conn)

    def create(self, count_id: str) -> None:
        r = self.request(self.admin_port, "POST", "/management/api/v1/counts", {"id": count_id})
        if r.status != 201:
            raise RuntimeError(r.describe())

    def gauge(self, port: int, name: str) -> float:
        """The sum of a gauge's samples (all label sets) on /metrics of `port`."""
        text = self.request(port, "GET", "/metrics").body.decode()
        return sum(float(m.group(1)) for m in re.finditer(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.M))

    def backlog(self) -> tuple[float, float]:
        """Events written but not yet in the history, per stage: (the outbox backlog, the
        consumer lag of every live analysis replica — 0 standalone)."""
        lag = sum(self.gauge(port, "consumer_lag") for proc, port in self.analysis if proc.alive())
        return self.gauge(self.write_port, "outbox_backlog"), lag

    def histories(self, ids: list[str], conn=None, unit: str = "day") -> dict[str, tuple[int, int | None]]:
        """Per counter: (sum of deltas, last value) over the day around now."""
        now = datetime.now(timezone.utc)
        frm, to = ((now + timedelta(days=d)).strftime("%Y-%m-%dT%H:%M:%SZ") for d in (-1, 1))
        r = self.request(self.analysis_port, "GET",
                         f"/analysis/api/v1/series?ids={','.join(ids)}&from={frm}&to={to}&unit={unit}",
                         conn=conn)
        if r.status != 200:
            raise RuntimeError(r.describe())
        out = {}
        for s in r.json()["series"]:
            b = s["buckets"]
            out[s["countId"]] = (sum(x["sum"] for x in b), b[-1]["last"] if b else None)
        return out

    def values(self, ids: list[str]) -> dict[str, int]:
        out = {}
        for i in ids:
            r = self.request(self.write_port if self.mode == "standalone" else self.admin_port,
                             "GET", f"/management/api/v1/counts/{i}")
            if r.status != 200:
                raise RuntimeError(r.describe())
            out[i] = r.json()["value"]
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


# ----------------------------------------------------------------------------- storage

HISTORY_TABLES = ("history_minute", "history_hour", "history_hour_minutes", "history_event",
                  "history_import")


def psql(system: System, sql: str) -> str:
    r = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(system.infra.pg_port), "-U", "postgres",
                        "-d", "countinfo", "-AtXq", "-v", "ON_ERROR_STOP=1", "-c", sql],
                       check=True, stdout=subprocess.PIPE, text=True)
    return r.stdout.strip()


def table_sizes(system: System, tables: tuple[str, ...]) -> dict[str, tuple[int, int]]:
    """Per table: (rows, bytes of the table with its indexes and TOAST)."""
    psql(system, "CHECKPOINT")  # so the sizes are of the files as they settle
    out = {}
    for t in tables:
        rows, size = psql(system, f"SELECT count(*), pg_total_relation_size('{t}') FROM {t}").split("|")
        out[t] = (int(rows), int(size))
    return out


def per_row(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> dict[str, float]:
    """Bytes per added row of each table that gained rows."""
    return {t: round((after[t][1] - before[t][1]) / (after[t][0] - before[t][0]), 1)
            for t in after if after[t][0] > before[t][0]}


def redis_used_memory(system: System) -> int:
    info = support.redis_command(system.infra.redis_port, "INFO", "memory").decode()
    return int(re.search(r"^used_memory:(\d+)", info, re.M).group(1))


def kafka_log_bytes(system: System) -> int:
    """Bytes of the topic's log segments on the broker's disk (lz4 batches as produced)."""
    return sum(f.stat().st_size for f in (system.infra.root / "kafka" / "data").glob("count-updates-*/*.log"))


def wait_outbox_empty(system: System, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while system.gauge(system.write_port, "outbox_backlog") > 0:
        if time.monotonic() > deadline:
            raise RuntimeError("the outbox did not empty")
        time.sleep(0.1)


def footprint(system: System, counters: int, minutes: int) -> dict:
    """Storage per counter and per rollup row (services mode). Counters: Redis `used_memory`
    and the size of PostgreSQL's count_info before and after creating `counters` counters
    through the management API (8 clients; a 30-character description each). Rollup rows: 50
    of them get a point in each of `minutes` past minutes through the history import, which
    writes the same rollup rows as events do; bytes per row of each table from its size
    (pg_total_relation_size) and row count before and after."""
    description = "requests served by one service"
    ids = [f"fp-{i:07d}" for i in range(counters)]
    wait_outbox_empty(system)
    mem0 = redis_used_memory(system)
    pg0 = table_sizes(system, ("count_info",))
    lock = threading.Lock()
    remaining = list(ids)

    def create() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", system.admin_port, timeout=30)
        try:
            while True:
                with lock:
                    if not remaining:
                        return
                    i = remaining.pop()
                r = system.request(system.admin_port, "POST", "/management/api/v1/counts",
                                   {"id": i, "description": description}, conn=conn)
                if r.status != 201:
                    raise RuntimeError(r.describe())
        finally:
            conn.close()

    threads = [threading.Thread(target=create) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if remaining:
        raise RuntimeError("not every counter was created")
    wait_outbox_empty(system)  # the count_created events are relayed and trimmed
    mem1 = redis_used_memory(system)
    pg1 = table_sizes(system, ("count_info",))
    # Rollup rows: one point per minute, per counter, ending an hour ago.
    hist0 = table_sizes(system, HISTORY_TABLES)
    end = (int(time.time()) // 3600 - 1) * 3600 * 1000
    rows = [f"{c},{datetime.fromtimestamp((end - m * 60_000) / 1000, timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')},{m}"
            for c in ids[:50] for m in range(minutes)]
    for k in range(0, len(rows), 40_000):
        body = ("countId,timestamp,value\n" + "\n".join(rows[k:k + 40_000]) + "\n").encode()
        r = support.http_request(system.analysis_port, "POST", "/analysis/api/v1/history:import",
                                 body=body, headers={"Authorization": f"Bearer {system.keys.admin}",
                                                     "Content-Type": "text/csv"})
        if r.status != 200:
            raise RuntimeError(r.describe())
    hist1 = table_sizes(system, HISTORY_TABLES)
    return {"counters": counters, "description_chars": len(description),
            "redis_bytes_per_counter": round((mem1 - mem0) / counters, 1),
            "count_info_bytes_per_counter": per_row(pg0, pg1).get("count_info"),
            "import_points": len(rows),
            "rollup_bytes_per_row": {t: v for t, v in per_row(hist0, hist1).items()
                                     if t != "history_event"}}


# ----------------------------------------------------------------------------- load

def make_batches(ids: list[str], events: int, batch: int, expected: dict[str, int]) -> list[bytes]:
    """`events` increments of 1 as request bodies of `batch` operations (encoded up front, so
    the generator spends its CPU on sending); adds them to `expected`."""
    bodies, n = [], 0
    while n < events:
        ops = [ids[(n + i) % len(ids)] for i in range(min(batch, events - n))]
        for i in ops:
            expected[i] += 1
        bodies.append(json.dumps({"operations": [{"id": i, "op": "increment", "amount": 1}
                                                 for i in ops]}).encode())
        n += len(ops)
    return bodies


def send_batches(system: System, bodies: list[bytes], clients: int,
                 due: list[float] | None = None,
                 refused: list[int] | None = None,
                 unknown: list[int] | None = None) -> tuple[float, float]:
    """Sends the bodies from `clients` threads, each batch not before its `due` offset (s after
    the start) when given, else as fast as they are taken; returns (start, end). With
    `unknown`, a 503 "no reply within" (Redis did not answer in time on a starved machine: the
    batch, one script, was applied whole or not at all) is noted there instead of failing."""
    lock = threading.Lock()
    errors: list[str] = []
    next_index = [0]

    def run() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", system.write_port, timeout=60)
        try:
            while True:
                with lock:
                    k = next_index[0]
                    next_index[0] += 1
                if k >= len(bodies):
                    return
                if due is not None:
                    wait = start + due[k] - time.monotonic()
                    if wait > 0:
                        time.sleep(wait)
                # A 503 whose command never reached Redis (the write path starved on a busy
                # machine) changed nothing and is sent again; any other failure counts.
                for attempt in range(50):
                    r = system.request(system.write_port, "POST", "/api/v1/counts:batch",
                                       bodies[k], conn=conn)
                    if r.status != 503 or b"not sent within" not in r.body:
                        break
                    with lock:
                        system.retried += 1
                    time.sleep(0.1)
                if refused is not None and r.status == 503 and b"event outbox holds" in r.body:
                    with lock:
                        refused.append(k)  # refused whole, nothing applied: the pipeline lags
                    continue
                if unknown is not None and r.status == 503 and b"no reply within" in r.body:
                    with lock:
                        unknown.append(k)
                    continue
                bad = r.status != 200 or any(x.get("status") != 200 for x in r.json()["results"])
                if bad:
                    with lock:
                        errors.append(r.describe())
        finally:
            conn.close()

    threads = [threading.Thread(target=run) for _ in range(clients)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    end = time.monotonic()
    if errors:
        raise RuntimeError(f"{len(errors)} batches failed: {errors[0]}")
    return start, end


class BacklogMonitor:
    """Samples System.backlog() every `interval` seconds on its own thread: (t, backlog)."""

    def __init__(self, system: System, interval: float = 0.5):
        self.system, self.interval = system, interval
        self.samples: list[tuple[float, float, float]] = []  # (t, outbox, consumer lag)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append((time.monotonic(), *self.system.backlog()))
            except (OSError, RuntimeError, http.client.HTTPException):
                pass  # a replica killed on purpose; the next sample goes on
            self._stop.wait(self.interval)

    def stop(self) -> list[tuple[float, float, float]]:
        self._stop.set()
        self._thread.join()
        return self.samples


def paced(system: System, ids: list[str], rate: float, seconds: float, args: argparse.Namespace,
          expected: dict[str, int], during=None) -> dict:
    """Sends `rate` events/s for `seconds`; `during(start)` runs on a thread meanwhile. Returns
    the accepted and visible figures, the backlog series and CPU per event."""
    events = int(rate * seconds) // args.batch * args.batch
    bodies = make_batches(ids, events, args.batch, expected)
    due = [k * args.batch / rate for k in range(len(bodies))]
    meter = system.cpu_meter()
    monitor = BacklogMonitor(system)
    busy = Busy()
    cpu0 = meter.sample()
    side = None
    if during is not None:
        side = threading.Thread(target=during, args=(time.monotonic(),), daemon=True)
        side.start()
    refused: list[int] = []
    unknown: list[int] = []
    start, written = send_batches(system, bodies, args.clients, due, refused, unknown)
    for k in refused:  # a full outbox refused these: they are not in the values either
        for op in json.loads(bodies[k])["operations"]:
            expected[op["id"]] -= 1
    not_applied = 0
    if unknown:  # whether they were applied shows in the values, which the history must match
        actual = system.values(ids)
        not_applied = sum(expected[i] - actual[i] for i in ids)
        expected.update(actual)
    visible = wait_visible(system, expected)
    cpu1 = meter.sample()
    machine = busy.stop()
    samples = monitor.stop()
    if side is not None:
        side.join()
    stages = [(t - start, o, c) for t, o, c in samples if start <= t <= written]
    load = [(t, o + c) for t, o, c in stages]
    first = [b for t, b in load if t < 60] or [0]
    last = [b for t, b in load if t >= (written - start) - 60] or [0]
    events -= len(refused) * args.batch + not_applied  # all batches are full
    accepted = events / (written - start)
    return {
        "rate_asked": rate, "events": events, "seconds": written - start,
        "accepted_per_second": accepted,
        "visible_per_second": events / (visible - start),
        "drain_seconds": visible - written,
        "backlog_peak": max((b for _, b in load), default=0),
        "backlog_first_minute_mean": statistics.fmean(first),
        "backlog_last_minute_mean": statistics.fmean(last),
        "outbox_backlog_peak": max((o for _, o, _ in stages), default=0),
        "consumer_lag_peak": max((c for _, _, c in stages), default=0),
        # Every 2 s: (s since the start, outbox backlog, consumer lag).
        "backlog_series": [(round(t, 1), o, c) for t, o, c in stages[::4]],
        "cpu_us_per_event": cpu_per_event(cpu0, cpu1, events),
        "cpu_us_per_event_net": cpu_per_event(cpu0, cpu1, events, system.idle, visible - start),
        "write_batches_resent_after_503_not_sent": system.retried,
        "write_batches_refused_outbox_full": len(refused),
        "write_batches_unanswered_in_time": len(unknown),
        "events_of_unanswered_batches_not_applied": not_applied,
        "machine": machine,
        "pass": (not refused and visible - written <= 5.0 and statistics.fmean(last) <= 5 * accepted
                 and statistics.fmean(last) <= statistics.fmean(first) + accepted),
    }


def latency_samples(system: System, count_id: str, samples: int) -> list[float]:
    """Write -> visible (ms) of single increments, one after another."""
    out = []
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


def warm(system: System, args: argparse.Namespace) -> tuple[list[str], dict[str, int]]:
    ids = [f"pipe-{i:03d}" for i in range(args.counters)]
    for i in ids:
        system.create(i)
    expected = {i: 0 for i in ids}
    # Warm-up: the first events create the topic and the consumer gets its partitions.
    send_batches(system, make_batches(ids, len(ids), args.batch, expected), 1)
    wait_visible(system, expected, timeout=120)
    return ids, expected


def run_mode(mode: str, args: argparse.Namespace, root: Path) -> dict:
    print(f"\n== {mode}: starting", file=sys.stderr, flush=True)
    system = System(mode, root / mode)
    try:
        ids, expected = warm(system, args)
        storage = None
        if mode == "services" and args.footprint_counters > 0:
            print(f"== {mode}: storage per counter and per rollup row", file=sys.stderr, flush=True)
            storage = footprint(system, args.footprint_counters, args.footprint_minutes)
            events0, kafka0 = table_sizes(system, ("history_event",)), kafka_log_bytes(system)
        print(f"== {mode}: warm, sending {args.events} events", file=sys.stderr, flush=True)
        bodies = make_batches(ids, args.events, args.batch, expected)
        meter = system.cpu_meter()
        system.idle = idle_rates(meter)
        busy = Busy()
        cpu0 = meter.sample()
        start, written = send_batches(system, bodies, args.clients)
        visible = wait_visible(system, expected)
        cpu1 = meter.sample()
        if storage is not None:  # what the burst's events left on the broker and in PostgreSQL
            storage["kafka_bytes_per_event"] = round((kafka_log_bytes(system) - kafka0) / args.events, 1)
            storage["history_event_bytes_per_event"] = per_row(
                events0, table_sizes(system, ("history_event",))).get("history_event")
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
            "cpu_us_per_event": cpu_per_event(cpu0, cpu1, args.events),
            "cpu_us_per_event_net": cpu_per_event(cpu0, cpu1, args.events, system.idle,
                                                  visible - start),
            "idle_cpu_percent": {k: round(v * 100, 1) for k, v in system.idle.items()},
            "machine": busy.stop(),
        }
        if storage is not None:
            result["storage"] = storage
        print(f"== {mode}: burst {json.dumps(result)}", file=sys.stderr, flush=True)
        if args.sustain > 0:
            rate = args.rate or result["written_per_second"]
            print(f"== {mode}: sustained {rate:,.0f} events/s for {args.sustain} s",
                  file=sys.stderr, flush=True)
            result["sustained"] = paced(system, ids, rate, args.sustain, args, expected)
            print(f"== {mode}: sustained {json.dumps({k: v for k, v in result['sustained'].items() if k != 'backlog_series'})}",
                  file=sys.stderr, flush=True)
        # Memory of each process after the load (VmRSS; PostgreSQL's is its shared buffers and
        # backends, not one process's, so it is left out).
        result["rss_kib"] = {name: rss_kib(pid) for name, pid in meter.roots.items() if name != "postgres"}
        latencies = latency_samples(system, ids[0], args.samples)
        result["latency_ms"] = {
            "samples": len(latencies),
            "p50": statistics.median(latencies),
            "p95": statistics.quantiles(latencies, n=20)[-1] if len(latencies) >= 2 else latencies[0],
            "max": max(latencies),
        }
        return result
    finally:
        system.stop()


def minute_exact(system: System, ids: list[str]) -> list[str]:
    """Counters whose minute series does not sum to their value (or ends on another value)."""
    values = system.values(ids)
    minutes = system.histories(ids, unit="minute")
    return [f"{i}: minutes {minutes[i]} value {values[i]}" for i in ids
            if minutes[i] != (values[i], values[i])]


def run_replicas(args: argparse.Namespace, root: Path, rate: float) -> dict:
    """One replica, then N in one group at the same fixed rate: CPU per event of each replica;
    one of the N is killed with SIGKILL half-way; the minute history stays exact."""
    print(f"\n== replicas: 1 then {args.replicas}, {rate:,.0f} events/s", file=sys.stderr, flush=True)
    system = System("services", root / "replicas")
    try:
        ids, expected = warm(system, args)
        system.idle = idle_rates(system.cpu_meter())
        seconds = args.replica_seconds
        single = paced(system, ids, rate, seconds, args, expected)
        handled0 = {n: 0.0 for n in range(args.replicas)}
        for n in range(1, args.replicas):
            system.add_analysis(n)
        # Every replica has its share of the partitions before the clock starts.
        deadline = time.monotonic() + 60
        while sum(system.gauge(port, "consumer_partitions") > 0 for _, port in system.analysis) < args.replicas:
            if time.monotonic() > deadline:
                raise RuntimeError("the replicas did not all get partitions within 60 s")
            time.sleep(0.2)
        handled0 = {n: system.gauge(port, "consumer_events_handled") for n, (_, port) in enumerate(system.analysis)}
        meter = system.cpu_meter()
        cpu0 = meter.sample()
        t0 = time.monotonic()
        victim_proc, victim_port = system.analysis[-1]
        kill = not args.no_kill
        handled_victim = [0.0]
        cpu_victim = [0.0]

        def kill_half_way(start: float) -> None:
            time.sleep(max(0.0, start + seconds / 2 - time.monotonic()))
            handled_victim[0] = system.gauge(victim_port, "consumer_events_handled") - handled0[args.replicas - 1]
            cpu_victim[0] = meter.sample()[victim_proc.name] - cpu0[victim_proc.name]
            victim_proc.signal(signal.SIGKILL)
            print("== replicas: SIGKILL to one replica", file=sys.stderr, flush=True)

        shared = paced(system, ids, rate, seconds, args, expected,
                       during=kill_half_way if kill else None)
        cpu1 = meter.sample()
        t1 = time.monotonic()
        per_replica = []
        for n, (proc, port) in enumerate(system.analysis):
            if kill and proc is victim_proc:
                handled, cpu = handled_victim[0], cpu_victim[0]
            else:
                handled = system.gauge(port, "consumer_events_handled") - handled0[n]
                cpu = cpu1[proc.name] - cpu0[proc.name]
            per_replica.append({"replica": proc.name, "events_handled": handled,
                                "cpu_us_per_event": round(cpu / handled * 1e6, 2) if handled else None,
                                "cpu_seconds": round(cpu, 3), "killed": kill and proc is victim_proc})
        drift = minute_exact(system, ids)
        return {"rate": rate, "seconds": seconds, "killed": kill,
                # The replicas' CPU over the shared phase (from before its first write until
                # every event was visible), in cores: what bench/capacity.py predicts.
                "replicas_cores": round(sum(r["cpu_seconds"] for r in per_replica) / (t1 - t0), 4),
                "replicas_phase_seconds": round(t1 - t0, 2),
                "cores_per_process": {k: round((cpu1[k] - cpu0[k]) / (t1 - t0), 4) for k in cpu0},
                "one_replica_cpu_us_per_event": single["cpu_us_per_event"]["count-analysis-service-0"],
                "one_replica": {k: v for k, v in single.items() if k != "backlog_series"},
                "replicas": per_replica,
                "shared": {k: v for k, v in shared.items() if k != "backlog_series"},
                "history_exact": not drift, "drift": drift[:5]}
    finally:
        system.stop()


def source() -> str:
    r = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty", "--abbrev=12"],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    branch = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--abbrev-ref", "HEAD"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return f"{branch.stdout.strip() or '?'} {r.stdout.strip() or 'unknown'} (release build)"


def costs(results: list[dict], replicas: dict | None, args: argparse.Namespace) -> dict | None:
    """The services run's costs per event, machine-readable, for bench/capacity.py (format in
    docs/SCALING.md): CPU µs per event of each process net of what it uses at rest — from the
    sustained run when there was one (a steady state), else the burst —, what each uses at
    rest (cores), and the storage figures."""
    r = next((x for x in results if x["mode"] == "services"), None)
    if r is None:
        return None
    phase = r.get("sustained")
    out = {"kind": "pipeline", "produced_by": "bench/pipeline.py",
           "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "source": source(),
           "counters": args.counters, "batch": args.batch,
           "phase": "sustained" if phase else "burst",
           "events": phase["events"] if phase else r["events"],
           "events_per_second": round(phase["accepted_per_second"] if phase else r["written_per_second"], 1),
           "cpu_us_per_event": (phase or r)["cpu_us_per_event_net"],
           "cpu_us_per_event_gross": (phase or r)["cpu_us_per_event"],
           "idle_cores": {k: round(v / 100, 4) for k, v in r["idle_cpu_percent"].items()},
           "machine": {**(phase or r)["machine"], "loadavg": " ".join(f"{x:.2f}" for x in os.getloadavg())},
           "storage": r.get("storage"), "rss_kib": r.get("rss_kib")}
    if replicas:
        out["replicas"] = {k: replicas[k] for k in ("rate", "seconds", "killed", "replicas_cores",
                                                    "replicas_phase_seconds", "one_replica_cpu_us_per_event",
                                                    "replicas", "cores_per_process")}
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--mode", choices=["services", "standalone", "both"], default="both")
    p.add_argument("--events", type=int, default=200_000)
    p.add_argument("--counters", type=int, default=50, help="at most 50 (one series request)")
    p.add_argument("--batch", type=int, default=1000, help="operations per batch, at most 1000")
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--samples", type=int, default=30, help="single-write latency samples")
    p.add_argument("--sustain", type=float, default=300, help="seconds of the sustained run; 0: none")
    p.add_argument("--rate", type=float, help="events/s of the paced runs (default: the burst's)")
    p.add_argument("--replicas", type=int, default=3, help="analysis replicas of the scale-out run; 0: none")
    p.add_argument("--replica-seconds", type=float, default=60, help="seconds per replica phase")
    p.add_argument("--no-kill", action="store_true",
                   help="the scale-out run kills no replica (a steady state to compare with a prediction)")
    p.add_argument("--footprint-counters", type=int, default=5000,
                   help="services: counters created to measure Redis and PostgreSQL bytes per counter; 0: none")
    p.add_argument("--footprint-minutes", type=int, default=2000,
                   help="minutes of imported history per counter (50 counters) to measure bytes per rollup row")
    p.add_argument("--standalone-env", action="append", default=[], metavar="NAME=VALUE",
                   help="a setting for count-system (e.g. SQLITE_CACHE_MB=2); repeatable")
    p.add_argument("--services-env", action="append", default=[], metavar="NAME=VALUE",
                   help="a setting for the services (e.g. KAFKA_LINGER_MS=20); repeatable")
    p.add_argument("--json", type=Path, help="also write the results here")
    p.add_argument("--costs", default=str(ROOT / "bench" / "results" / "pipeline.json"),
                   help="where the services run's costs per event go, for bench/capacity.py "
                        "(default bench/results/pipeline.json; '' for nowhere)")
    args = p.parse_args()
    for option, settings, into in (("--standalone-env", args.standalone_env, STANDALONE_ENV),
                                   ("--services-env", args.services_env, SERVICES_ENV)):
        for setting in settings:
            name, sep, value = setting.partition("=")
            if not sep:
                p.error(f"{option} wants NAME=VALUE, not {setting!r}")
            into[name] = value
    if not 1 <= args.counters <= 50 or not 1 <= args.batch <= 1000:
        p.error("--counters must be 1..50 and --batch 1..1000")

    root = support.make_tempdir("count-pipeline-bench-")
    root.chmod(0o755)  # the postgres user must reach its data directory below
    results = []
    replicas = None
    try:
        for mode in (["services", "standalone"] if args.mode == "both" else [args.mode]):
            results.append(run_mode(mode, args, root))
        if args.replicas > 0 and args.mode != "standalone":
            rate = args.rate or results[0]["written_per_second"] / 2
            replicas = run_replicas(args, root, rate)
    finally:
        shutil.rmtree(root, ignore_errors=True)

    print("\n| mode | events | accepted by the write API | write → rollup visible | drain after "
          "the last write | single write → visible p50 / p95 / max | machine busy / load |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        lat = r["latency_ms"]
        print(f"| {r['mode']} | {r['events']:,} | {r['written_per_second']:,.0f} events/s "
              f"({r['write_seconds']:.1f} s) | **{r['pipeline_per_second']:,.0f} events/s** "
              f"({r['visible_seconds']:.1f} s) | {r['drain_seconds']:.1f} s | "
              f"{lat['p50']:.0f} / {lat['p95']:.0f} / {lat['max']:.0f} ms | "
              f"{r['machine']['busy_percent']:.0f} % / {r['machine']['load_average']:.1f} |")
    sustained = [r for r in results if "sustained" in r]
    if sustained:
        print("\n| sustained | asked | accepted | visible | visible / accepted | backlog peak / "
              "first min / last min | drain | pass | machine busy / load |")
        print("|---|---:|---:|---:|---:|---:|---:|---|---:|")
        for r in sustained:
            s = r["sustained"]
            print(f"| {r['mode']}, {s['seconds']:.0f} s | {s['rate_asked']:,.0f}/s | "
                  f"{s['accepted_per_second']:,.0f}/s | {s['visible_per_second']:,.0f}/s | "
                  f"{s['visible_per_second'] / s['accepted_per_second']:.3f} | "
                  f"{s['backlog_peak']:,.0f} / {s['backlog_first_minute_mean']:,.0f} / "
                  f"{s['backlog_last_minute_mean']:,.0f} (peaks: outbox {s['outbox_backlog_peak']:,.0f}, "
                  f"consumer {s['consumer_lag_peak']:,.0f}) | {s['drain_seconds']:.2f} s | "
                  f"{'yes' if s['pass'] else '**no**'}"
                  f"{' (' + str(s['write_batches_refused_outbox_full']) + ' batches refused: outbox full)' if s['write_batches_refused_outbox_full'] else ''}"
                  f" | {s['machine']['busy_percent']:.0f} % / "
                  f"{s['machine']['load_average']:.1f} |")
    print("\nCPU per event (µs; utime + stime of each process tree):")
    for r in results:
        print(f"  {r['mode']} burst: {r['cpu_us_per_event']}")
        print(f"  {r['mode']} burst, net of idle: {r['cpu_us_per_event_net']}; idle CPU %: "
              f"{r['idle_cpu_percent']}")
        if "sustained" in r:
            print(f"  {r['mode']} sustained: {r['sustained']['cpu_us_per_event']}")
            print(f"  {r['mode']} sustained, net of idle: {r['sustained']['cpu_us_per_event_net']}")
    if replicas:
        print(f"\nreplicas at {replicas['rate']:,.0f} events/s, {replicas['seconds']:.0f} s each: one replica "
              f"{replicas['one_replica_cpu_us_per_event']} µs/event; then")
        for r in replicas["replicas"]:
            print(f"  {r['replica']}: {r['events_handled']:,.0f} events, {r['cpu_us_per_event']} µs/event"
                  f"{' (SIGKILLed half-way)' if r['killed'] else ''}")
        print(f"  drain after the kill run {replicas['shared']['drain_seconds']:.2f} s; history exact "
              f"(sum of minute deltas = value, every counter): {replicas['history_exact']} {replicas['drift']}")
    record = costs(results, replicas, args) if args.costs else None
    if record is not None:
        path = Path(args.costs)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record, indent=2) + "\n")
        print(f"\nwrote the costs per event into {path}", file=sys.stderr)
    if replicas:
        print(f"  the replicas' CPU over the shared phase: {replicas['replicas_cores']:.3f} cores "
              f"({replicas['replicas_phase_seconds']:.1f} s)")
    if args.json:
        if replicas:
            results[0]["replicas"] = replicas  # the services mode's scale-out run
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
