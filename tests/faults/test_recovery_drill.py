"""Recovery drills (docs/OPERATIONS.md). Standalone: back up under write load, keep writing,
restore the backup into a fresh directory and start the system on it. Services: wipe Redis
under write load and rebuild the values from the history and Kafka.

Standalone `count-system up` is first loaded with PRELOAD_EVENTS increments over
PRELOAD_COUNTERS counters (batches, so the database has a realistic history), then
WRITERS clients each increment their own counter by 1, one request after another, at RATE
per second, noting when each request was sent and acknowledged. Meanwhile
`count-system backup` runs. The writers go on for AFTER_S seconds, then the backup is
restored into a fresh directory and a second system is started on it. Afterwards:

* the backup is one moment: each writer's counter holds at least every increment
  acknowledged before the backup started and at most those sent before it ended, and every
  preloaded counter its preloaded value;
* the restored system serves exactly the backup's values (read through its API, all
  counters), and its history agrees with them (the analysis API's sums for the writers'
  counters; `count-system reconcile` for every counter: 0 drifted);
* figures: RPO in events (acknowledged increments after the backup moment, which the restore
  loses), RTO (restore command, start until ready), sizes (data directory, backup file) and the
  backup's duration under load.

Services: write, management and analysis services on PostgreSQL, Redis primary + replica and
Kafka; WRITERS clients each increment their own counter by 1 at RATE a second. Redis is wiped
(`MULTI; INCRBY count-events:size 0; FLUSHALL; EXEC`, so the number of events still in the outbox at
that moment is known exactly), stopped, its files deleted, started again empty, and
`count-analysis-service rebuild-values` run while the clients go on (their writes fail with
404 until their counter is back). Afterwards:

* every increment that reached Kafka is in the values: each counter's value equals the number
  of distinct increment events Kafka holds for it;
* acknowledged increments lost are at most the events that were still in the outbox at the
  wipe (the documented window), and reported; an acknowledged increment counts as present when
  Kafka holds its event (the answer's value and updatedAt are the event's value and timestamp);
* with WRITE_ACK=kafka (the second run: a write is answered once Kafka holds its event) no
  acknowledged increment is lost;
* `count-analysis-service reconcile` finds no drift between values and history;
* figures: time from the wipe to Redis back, to values back (RTO), the rebuild's duration.

    python3 -m pytest tests/faults/test_recovery_drill.py      (or scripts/fault.sh recovery)
"""
from __future__ import annotations

import json
import sqlite3
import subprocess
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import faultkit
from faultkit import Load, Stack, http_request, send, support

PRELOAD_COUNTERS = 1000
PRELOAD_EVENTS = 100_000
WRITERS = 8
RATE = 100  # increments a second per writer
BEFORE_S, AFTER_S = 3.0, 3.0  # load before the backup starts and after it ended


def dir_bytes(d: Path) -> int:
    return sum(f.stat().st_size for f in d.iterdir() if f.is_file())


def all_values(port: int, key: str) -> dict[str, int]:
    values, cursor = {}, ""
    while True:
        r = http_request(port, "GET", f"/management/api/v1/counts?limit=1000&cursor={cursor}",
                         headers={"Authorization": f"Bearer {key}"})
        assert r.status == 200, r.describe()
        page = r.json()
        values.update({c["id"]: c["value"] for c in page["items"]})
        if not page["nextCursor"]:
            return values
        cursor = page["nextCursor"]


def history_sums(port: int, key: str, ids: list[str]) -> dict[str, int]:
    now = datetime.now(timezone.utc)
    frm, to = ((now + timedelta(days=d)).strftime("%Y-%m-%dT%H:%M:%SZ") for d in (-1, 1))
    r = http_request(port, "GET", f"/analysis/api/v1/series?ids={','.join(ids)}&from={frm}&to={to}&unit=day",
                     headers={"Authorization": f"Bearer {key}"})
    assert r.status == 200, r.describe()
    return {s["countId"]: sum(b["sum"] for b in s["buckets"]) for s in r.json()["series"]}


class SequentialWriters:
    """WRITERS threads, each incrementing its own counter by 1 one request after another at
    RATE a second, keeping (sent, acknowledged) monotonic times of every acknowledged request
    and the send time of every request."""

    def __init__(self, port: int, key: str, counters: list[str]):
        self.port, self.key, self.counters = port, key, counters
        self.sent: dict[str, list[float]] = {c: [] for c in counters}
        self.acked: dict[str, list[float]] = {c: [] for c in counters}
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(c,)) for c in counters]

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(60)

    def _run(self, cid: str) -> None:
        headers = {"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"}
        next_at = time.monotonic()
        while not self._stop.is_set():
            next_at += 1 / RATE
            if (pause := next_at - time.monotonic()) > 0:
                time.sleep(pause)
            sent = time.monotonic()
            self.sent[cid].append(sent)
            try:
                r = http_request(self.port, "POST", f"/api/v1/counts/{cid}/increment", body=b"{}",
                                 headers=headers, timeout=10)
                status = r.status
            except OSError as e:
                status = str(e)
            if status != 200:
                self.failures.append(f"{cid}: {status}")
                return  # a sequential writer's later values would no longer be countable
            self.acked[cid].append(time.monotonic())


def test_standalone_backup_under_load_restores_the_moment_of_the_backup(root, keys):
    logs, data, restored = root / "logs", root / "data", root / "restored"
    logs.mkdir()
    data.mkdir()
    backup = root / "count.backup"
    env = support.base_env(0, debug=False, pod="standalone-drill")
    env.update({"COUNT_API_KEYS": keys.api_keys_json(include_admin=False), "COUNT_ADMIN_KEY": keys.admin,
                "COUNT_AUTO_CREATE": "true", "LOG_LEVEL": "warn"})

    def start(directory: Path, name: str) -> tuple[faultkit.Proc, int]:
        port = support.free_port()
        p = faultkit.Proc(name, support.standalone_argv(port, directory), {**env, "PORT": str(port)}, logs)
        support.wait_ready(p, port)
        return p, port

    cli = str(support.binary("count-system"))
    proc, port = start(data, "original")
    writer_headers = {"Authorization": f"Bearer {keys.writer}", "Content-Type": "application/json"}
    try:
        # Preload: PRELOAD_EVENTS increments of 1 over PRELOAD_COUNTERS auto-created counters.
        preloaded = {f"pre-{i:04d}": 0 for i in range(PRELOAD_COUNTERS)}
        ids = list(preloaded)
        for b in range(PRELOAD_EVENTS // 1000):
            ops = [{"id": ids[(b * 1000 + i) % PRELOAD_COUNTERS], "op": "increment"} for i in range(1000)]
            r = http_request(port, "POST", "/api/v1/counts:batch", body=json.dumps({"operations": ops}).encode(),
                             headers=writer_headers, timeout=60)
            assert r.status == 200 and all(x["status"] == 200 for x in r.json()["results"]), r.describe()
            for op in ops:
                preloaded[op["id"]] += 1

        live = [support.unique_id("drill") for _ in range(WRITERS)]
        run = SequentialWriters(port, keys.writer, live)
        run.start()
        time.sleep(BEFORE_S)
        data_size = dir_bytes(data)
        t0 = time.monotonic()
        done = subprocess.run([cli, "backup", "--data", str(data), "--to", str(backup)], capture_output=True,
                              text=True, timeout=120)
        t1 = time.monotonic()
        assert done.returncode == 0, done.stderr
        time.sleep(AFTER_S)
        run.stop()
        assert not run.failures, run.failures[:5]
        acknowledged = {c: len(run.acked[c]) for c in live}
    finally:
        proc.stop()

    # The backup, read directly: one moment within the backup call.
    with sqlite3.connect(f"file:{backup}?mode=ro", uri=True) as db:
        in_backup = dict(db.execute("SELECT id, value FROM count_value").fetchall())
    for c in live:
        acked_before = sum(1 for t in run.acked[c] if t < t0)
        sent_before_end = sum(1 for t in run.sent[c] if t < t1)
        assert acked_before <= in_backup[c] <= sent_before_end, (c, acked_before, in_backup[c], sent_before_end)
    assert {c: in_backup[c] for c in preloaded} == preloaded

    # Restore into a fresh directory and start on it.
    r0 = time.monotonic()
    done = subprocess.run([cli, "restore", "--from", str(backup), "--data", str(restored)], capture_output=True,
                          text=True, timeout=120)
    r1 = time.monotonic()
    assert done.returncode == 0, done.stderr
    proc, port = start(restored, "restored")
    r2 = time.monotonic()
    try:
        served = all_values(port, keys.admin)
        support.eventually(lambda: history_sums(port, keys.admin, live) == {c: served[c] for c in live},
                           timeout=60, interval=0.5, message="history sums == restored values")
    finally:
        assert proc.stop() == 0
    reconcile = subprocess.run([cli, "reconcile", "--data", str(restored)], capture_output=True, text=True,
                               timeout=120)

    lost = {c: acknowledged[c] - in_backup[c] for c in live}
    faultkit.record("recovery-standalone", preload_events=PRELOAD_EVENTS, counters=len(in_backup),
                    writers=WRITERS, rate_per_writer=RATE, data_dir_bytes=data_size,
                    backup_bytes=backup.stat().st_size, backup_s=round(t1 - t0, 3),
                    acknowledged_during_drill=sum(acknowledged.values()),
                    rpo_events_lost=sum(lost.values()), written_after_backup_s=AFTER_S,
                    restore_s=round(r1 - r0, 3), start_to_ready_s=round(r2 - r1, 3), rto_s=round(r2 - r0, 3),
                    values_equal_backup=served == in_backup, reconcile=reconcile.stdout.strip().splitlines()[-1:],
                    machine=faultkit.machine())
    assert served == in_backup
    assert reconcile.returncode == 0 and "0 counter(s) drifted" in reconcile.stdout, reconcile.stdout
    assert all(n > 0 for n in lost.values()), "writes after the backup were not acknowledged"


def kafka_increments(brokers: str, ids: set[str]) -> dict[str, dict[str, tuple[int, str]]]:
    """The distinct count_updated events per counter in `count-updates`: event id -> (value,
    timestamp)."""
    out = subprocess.run(["kcat", "-b", brokers, "-C", "-t", "count-updates", "-o", "beginning", "-e", "-q",
                          "-f", "%s\\n"], capture_output=True, text=True, timeout=120, check=True).stdout
    seen: dict[str, dict[str, tuple[int, str]]] = {c: {} for c in ids}
    for line in out.splitlines():
        e = json.loads(line) if line.strip() else {}
        if e.get("countId") in ids and e.get("type") == "count_updated":
            seen[e["countId"]][e["eventId"]] = (e["value"], e["timestamp"])
    return seen


@pytest.mark.parametrize("write_ack", ["redis", "kafka"], ids=["write_ack_redis", "write_ack_kafka"])
def test_services_redis_wiped_under_load_values_rebuilt_from_history_and_kafka(root, keys, write_ack):
    stack = Stack(root)
    loads: list[Load] = []
    services = {"m1": ("count-management-service", None), "a1": ("count-analysis-service", None),
                "w1": ("count-write-service", {"REDIS_TIMEOUT_MS": "1000", "WRITE_ACK": write_ack})}
    with faultkit.services_running(stack, keys, services, loads) as (ports, _):
        mport, wport = ports["m1"], ports["w1"]
        counters = faultkit.create_counters(mport, keys.admin, WRITERS, "wipe")
        # (sent, acknowledged, (value, updatedAt) answered)
        acks: list[list[tuple[float, float, tuple[int, str]]]] = [[] for _ in range(WRITERS)]

        def write(conn, worker, i):
            sent = time.monotonic()
            status, body = send(conn, "POST", f"/api/v1/counts/{counters[worker]}/increment", keys.writer, b"")
            if status == 200:
                answer = json.loads(body)
                acks[worker].append((sent, time.monotonic(), (answer["value"], answer["updatedAt"])))
            return "write", status

        def acked_after(t: float) -> list[float]:
            """When the requests sent after `t` were acknowledged."""
            return [done for a in acks for sent, done, _ in list(a) if sent > t]

        writes = Load(wport, write, threads=WRITERS, rate=RATE)
        loads.append(writes.start())
        time.sleep(BEFORE_S)
        primary = stack.proc("redis-primary")
        redis_bytes = int(subprocess.run(["redis-cli", "-p", str(stack.redis_port), "INFO", "memory"],
                                         capture_output=True, text=True).stdout.split("used_memory:")[1].split()[0])
        t_wipe = time.monotonic()
        reply = subprocess.run(["redis-cli", "-p", str(stack.redis_port)], input="MULTI\nINCRBY count-events:size 0\n"
                               "FLUSHALL\nEXEC\n", capture_output=True, text=True, timeout=10).stdout.split()
        t_wiped = time.monotonic()
        assert reply[:3] == ["OK", "QUEUED", "QUEUED"] and reply[4] == "OK", reply
        in_outbox = int(reply[3])  # the outbox's event count inside the transaction (0 when unset)
        primary.stop()
        for f in (root / "redis-primary").iterdir():  # restarted without its files
            subprocess.run(["rm", "-rf", str(f)], check=True)
        stack.procs[stack.procs.index(primary)] = primary = faultkit.Proc(primary.name, primary.argv, {}, stack.logs)
        support.wait_port(stack.redis_port, proc=primary)
        t_redis = time.monotonic()
        env = {**support.service_env("count-analysis-service", stack, keys, support.free_port()),
               "REDIS_URL": stack.redis_url}
        rebuild = subprocess.run([str(support.binary("count-analysis-service")), "rebuild-values"],
                                 env={**env, "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=300)
        t_rebuilt = time.monotonic()
        assert rebuild.returncode == 0, rebuild.stdout + rebuild.stderr
        again = subprocess.run([str(support.binary("count-analysis-service")), "rebuild-values"],
                               env={**env, "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=60)
        assert again.returncode == 2 and "holds counters" in again.stderr, again.stderr  # never overwrites
        support.eventually(lambda: acked_after(t_wiped), timeout=30, message="a write acknowledged after the rebuild")
        time.sleep(AFTER_S)
        writes.stop()
        statuses = sorted({o.status for o in writes.failures()})

        values = {}
        for cid in counters:
            r = http_request(mport, "GET", f"/management/api/v1/counts/{cid}",
                             headers={"Authorization": f"Bearer {keys.admin}"})
            values[cid] = r.json()["value"]
        events = kafka_increments(stack.kafka_brokers, set(counters))
        in_kafka = {c: len(e) for c, e in events.items()}
        lost = {c: len(acks[i]) - values[c] for i, c in enumerate(counters)}
        # Each acknowledged increment whose event Kafka does not hold (its answer's value and
        # updatedAt are its event's).
        missing = {c: sum(answer not in set(events[c].values()) for _, _, answer in acks[i])
                   for i, c in enumerate(counters)}
        analysis_env = {**env, "PATH": "/usr/bin:/bin"}

        def reconciled() -> bool:
            return subprocess.run([str(support.binary("count-analysis-service")), "reconcile"], env=analysis_env,
                                  capture_output=True, timeout=60).returncode == 0

        support.eventually(reconciled, timeout=60, interval=1, message="reconcile: no drift")
        faultkit.record(f"recovery-services-write-ack-{write_ack}", write_ack=write_ack, writers=WRITERS, rate_per_writer=RATE,
                        acknowledged=sum(len(a) for a in acks), redis_used_memory_bytes=redis_bytes,
                        events_in_outbox_at_wipe=in_outbox, acknowledged_lost=sum(lost.values()),
                        acknowledged_without_event_in_kafka=sum(missing.values()),
                        failed_write_statuses=statuses, failed_writes=len(writes.failures()),
                        redis_back_s=round(t_redis - t_wipe, 2), rebuild_s=round(t_rebuilt - t_redis, 2),
                        rto_values_back_s=round(t_rebuilt - t_wipe, 2),
                        first_ack_of_a_write_sent_after_the_wipe_s=round(min(acked_after(t_wiped)) - t_wipe, 2),
                        values_equal_kafka_increments=values == in_kafka, reconcile_drift=0,
                        machine=faultkit.machine())
        assert values == in_kafka, (values, in_kafka)
        assert sum(missing.values()) <= in_outbox, (missing, in_outbox)
        if write_ack == "redis":
            assert all(n >= 0 for n in lost.values()) and sum(lost.values()) <= in_outbox, (lost, in_outbox)
        else:  # answered only once in Kafka; a write answered 503 may be in the values all the same
            assert sum(missing.values()) == 0 and all(n <= 0 for n in lost.values()), (missing, lost)
