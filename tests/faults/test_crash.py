"""Scenario b — crash: `kill -9` of count-write-service under load while clients retry with
Idempotency-Key.

Clients each work through a fixed plan of increments and decrements; every operation has its
own Idempotency-Key and is retried (same key, same body) after a connection error or a 5xx
until it is acknowledged. Meanwhile the write service is killed with SIGKILL five times and
started again on its port. Afterwards:

* every counter's value equals the sum of the intended deltas, exactly;
* Kafka `count-updates` holds, per counter, exactly one distinct event id per operation
  (a batch published again after a crash between publish and outbox delete shows up as a
  duplicate of the same event id, which consumers drop; the count of those is reported);
* count-analysis-service folded each of those event ids exactly once: its history's sums
  equal the values, and its `history_event` table holds every one of them.

The second test does the same to standalone `count-system up` (SQLite, history in each change's transaction):
values and history sums exact.

    python3 -m pytest tests/faults/test_crash.py      (or scripts/fault.sh crash)
"""
from __future__ import annotations

import collections
import http.client
import json
import random
import subprocess
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone

import faultkit
from faultkit import Stack, http_request, start_service_on, support

KILLS = 5
THREADS = 8
OPS_PER_THREAD = 400
RATE = 50  # operations a second per client: the run lasts about 8 s, the kills fall inside


def kafka_events(brokers: str, ids: set[str]) -> list[dict]:
    out = subprocess.run(["kcat", "-b", brokers, "-C", "-t", "count-updates", "-o", "beginning", "-e", "-q",
                          "-f", "%s\\n"], capture_output=True, text=True, timeout=120, check=True).stdout
    events = [json.loads(line) for line in out.splitlines() if line.strip()]
    return [e for e in events if e.get("countId") in ids]


def history_sums(port: int, key: str, ids: list[str]) -> dict[str, int]:
    now = datetime.now(timezone.utc)
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    frm, to = (now - timedelta(days=1)).strftime(fmt), (now + timedelta(days=1)).strftime(fmt)
    r = http_request(port, "GET", f"/analysis/api/v1/series?ids={','.join(ids)}&from={frm}&to={to}&unit=day",
                     headers={"Authorization": f"Bearer {key}"})
    assert r.status == 200, r.describe()
    return {s["countId"]: sum(b["sum"] for b in s["buckets"]) for s in r.json()["series"]}


class RetryingClients:
    """THREADS clients, each working through its own plan of OPS_PER_THREAD increments and
    decrements (one Idempotency-Key each) at RATE per second, retrying an operation with the
    same key and body after a connection error or a 5xx until it is acknowledged."""

    def __init__(self, port: int, key: str, counters: list[str], seed: int = 7):
        rng = random.Random(seed)
        self.port, self.key = port, key
        self.plans = [[(rng.choice(counters), rng.choice(["increment", "decrement"]), rng.randint(1, 9),
                        uuid.uuid4().hex) for _ in range(OPS_PER_THREAD)] for _ in range(THREADS)]
        self.intended = collections.Counter()
        self.ops_per_counter = collections.Counter()
        for plan in self.plans:
            for cid, op, amount, _ in plan:
                self.intended[cid] += amount if op == "increment" else -amount
                self.ops_per_counter[cid] += 1
        self.stats: collections.Counter = collections.Counter()
        self.unexpected: list[str] = []
        self._lock = threading.Lock()
        self._workers = [threading.Thread(target=self._run, args=(p,)) for p in self.plans]

    def start(self) -> None:
        self.t0 = time.monotonic()
        for w in self._workers:
            w.start()

    def join(self) -> None:
        for w in self._workers:
            w.join(300)
        self.elapsed = time.monotonic() - self.t0

    def _run(self, plan) -> None:
        headers = {"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"}
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        next_at = time.monotonic()
        for cid, op, amount, key in plan:
            next_at += 1 / RATE
            if (pause := next_at - time.monotonic()) > 0:
                time.sleep(pause)
            body = json.dumps({"amount": amount}).encode()
            deadline = time.monotonic() + 60
            while True:
                try:
                    conn.request("POST", f"/api/v1/counts/{cid}/{op}", body=body,
                                 headers={**headers, "Idempotency-Key": key})
                    r = conn.getresponse()
                    r.read()
                    status, replayed = r.status, r.getheader("Idempotent-Replayed") == "true"
                except (OSError, http.client.HTTPException):
                    status, replayed = 0, False
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                with self._lock:
                    self.stats["attempts"] += 1
                    if status == 200:
                        self.stats["acknowledged"] += 1
                        self.stats["replayed"] += replayed
                    elif status == 0:
                        self.stats["connection_errors"] += 1
                    else:
                        self.stats[f"status_{status}"] += 1
                if status == 200:
                    break
                if status not in (0, 502, 503, 504) or time.monotonic() > deadline:
                    with self._lock:
                        self.unexpected.append(f"{op} {cid} -> {status or 'no answer'}")
                    break
                time.sleep(0.05)
        conn.close()


def test_kill9_write_service_with_idempotent_retries_is_exact(root, keys):
    stack = Stack(root)
    procs: dict[str, faultkit.Proc] = {}
    try:
        stack.start()
        support.migrate(stack, stack.logs)
        mport, aport, wport = support.free_port(), support.free_port(), support.free_port()
        procs["m1"] = start_service_on("count-management-service", stack, keys, stack.logs, mport, name="m1")
        procs["a1"] = start_service_on("count-analysis-service", stack, keys, stack.logs, aport, name="a1")
        procs["w1"] = start_service_on("count-write-service", stack, keys, stack.logs, wport, name="w1")
        counters = faultkit.create_counters(mport, keys.admin, 4, "crash")

        run = RetryingClients(wport, keys.writer, counters)
        run.start()
        outages = []
        for _ in range(KILLS):
            time.sleep(1.4)
            p = procs["w1"]
            k0 = time.monotonic()
            p.popen.kill()  # SIGKILL, this PID only
            p.wait(10)
            p.stop()
            procs["w1"] = start_service_on("count-write-service", stack, keys, stack.logs, wport, name="w1")
            outages.append(round(time.monotonic() - k0, 3))
        run.join()
        stats, unexpected, intended, ops_per_counter = run.stats, run.unexpected, run.intended, run.ops_per_counter
        elapsed = run.elapsed
        assert not unexpected, unexpected[:10]
        assert stats["acknowledged"] == THREADS * OPS_PER_THREAD, stats

        values = {}
        for cid in counters:
            r = http_request(mport, "GET", f"/management/api/v1/counts/{cid}",
                             headers={"Authorization": f"Bearer {keys.admin}"})
            values[cid] = r.json()["value"]

        # History: analysis consumed every event once (sums equal the values).
        t_hist = time.monotonic()
        support.eventually(lambda: history_sums(aport, keys.admin, counters) == dict(intended), timeout=60,
                           interval=0.5, message="analysis history sums == intended deltas")
        history_lag = time.monotonic() - t_hist

        events = kafka_events(stack.kafka_brokers, set(counters))
        updates = [e for e in events if e["type"] == "count_updated"]
        distinct = {e["eventId"]: e for e in updates}
        per_counter = collections.Counter(e["countId"] for e in distinct.values())
        duplicates = len(updates) - len(distinct)
        all_ids = {e["eventId"] for e in events}
        folded = subprocess.run(
            ["psql", "-h", "127.0.0.1", "-p", str(stack.pg_port), "-U", "postgres", "-d", "countinfo", "-tAc",
             "SELECT count(*) FROM history_event WHERE event_id IN (%s)" % ",".join(f"'{i}'" for i in all_ids)],
            capture_output=True, text=True, check=True).stdout.strip()

        faultkit.record("crash", kills=KILLS, operations=THREADS * OPS_PER_THREAD, elapsed_s=round(elapsed, 1),
                        kill_to_ready_s=outages, attempts=stats["attempts"],
                        retried_after_error=stats["attempts"] - stats["acknowledged"],
                        replayed_acks=stats["replayed"], connection_errors=stats["connection_errors"],
                        other_statuses={k: v for k, v in stats.items() if k.startswith("status_")},
                        values_equal_intended=values == dict(intended),
                        kafka_events=len(updates), kafka_distinct=len(distinct), kafka_duplicates=duplicates,
                        history_event_ids=int(folded), history_caught_up_s=round(history_lag, 1),
                        machine=faultkit.machine())
        assert values == dict(intended), json.dumps({"values": values, "intended": intended})
        assert dict(per_counter) == dict(ops_per_counter), (per_counter, ops_per_counter)
        assert int(folded) == len(all_ids), (folded, len(all_ids))
        assert stats["connection_errors"] > 0, "the kills did not hit any request"
    finally:
        for p in procs.values():
            p.stop()
        stack.stop()


def test_kill9_standalone_with_idempotent_retries_is_exact(root, keys):
    """The same on `count-system up` (SQLite: values, idempotency records and history in one
    file, each change's history in its own transaction)."""
    port = support.free_port()
    data, logs = root / "data", root / "logs"
    data.mkdir()
    logs.mkdir()
    env = support.base_env(port, debug=False, pod="standalone-crash")
    env.update({"COUNT_API_KEYS": keys.api_keys_json(include_admin=False), "COUNT_ADMIN_KEY": keys.admin,
                "LOG_LEVEL": "warn"})

    def start() -> faultkit.Proc:
        p = faultkit.Proc("count-system", support.standalone_argv(port, data), env, logs)
        support.wait_ready(p, port)
        return p

    proc = start()
    try:
        counters = faultkit.create_counters(port, keys.admin, 4, "crash")
        run = RetryingClients(port, keys.writer, counters)
        run.start()
        outages = []
        for _ in range(KILLS):
            time.sleep(1.4)
            k0 = time.monotonic()
            proc.popen.kill()  # SIGKILL, this PID only
            proc.wait(10)
            proc.stop()
            proc = start()
            outages.append(round(time.monotonic() - k0, 3))
        run.join()
        assert not run.unexpected, run.unexpected[:10]
        values = {}
        for cid in counters:
            r = http_request(port, "GET", f"/management/api/v1/counts/{cid}",
                             headers={"Authorization": f"Bearer {keys.admin}"})
            values[cid] = r.json()["value"]
        support.eventually(lambda: history_sums(port, keys.admin, counters) == dict(run.intended), timeout=60,
                           interval=0.5, message="history sums == intended deltas")
        faultkit.record("crash-standalone", kills=KILLS, operations=THREADS * OPS_PER_THREAD,
                        elapsed_s=round(run.elapsed, 1), kill_to_ready_s=outages, attempts=run.stats["attempts"],
                        retried_after_error=run.stats["attempts"] - run.stats["acknowledged"],
                        replayed_acks=run.stats["replayed"], connection_errors=run.stats["connection_errors"],
                        other_statuses={k: v for k, v in run.stats.items() if k.startswith("status_")},
                        values_equal_intended=values == dict(run.intended), history_sums_equal=True,
                        machine=faultkit.machine())
        assert values == dict(run.intended), (values, run.intended)
        assert run.stats["connection_errors"] > 0, "the kills did not hit any request"
    finally:
        proc.stop()
