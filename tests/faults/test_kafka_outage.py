"""Scenario e — the Kafka broker stopped under write load, then started again.

The documented policy (docs/ARCHITECTURE.md): while Kafka is unreachable writes go on and
their events wait in the Redis outbox; they are published, in order, when Kafka returns;
only a full outbox (OUTBOX_MAX_BACKLOG) refuses writes with 503. Checked here:

* no write fails during the outage, and the write service's `outbox_backlog` gauge grows;
* after the broker is back the backlog drains to 0, Kafka holds exactly one distinct event id
  per acknowledged write, and the analysis history's sums equal the values (nothing lost,
  nothing counted twice).

The black-box suite's pipeline tests cover the same policy in finer cases; this is the
one-command drill whose figures docs/FAULTS.md records.

    python3 -m pytest tests/faults/test_kafka_outage.py      (or scripts/fault.sh kafka-outage)
"""
from __future__ import annotations

import collections
import os
import subprocess
import threading
import time

import faultkit
from faultkit import Load, Stack, http_request, send, start_service_on, support
from test_crash import history_sums, kafka_events

OUTAGE_S = float(os.environ.get("FAULT_KAFKA_OUTAGE_S", "20"))


def backlog(port: int) -> float:
    text = http_request(port, "GET", "/metrics").body.decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith("outbox_backlog"))


def test_kafka_stopped_under_write_load(root, keys):
    stack = Stack(root)
    procs: dict[str, faultkit.Proc] = {}
    writes = None
    try:
        stack.start()
        support.migrate(stack, stack.logs)
        ports = {n: support.free_port() for n in ("m1", "w1", "a1")}
        for name, service in (("m1", "count-management-service"), ("w1", "count-write-service"),
                              ("a1", "count-analysis-service")):
            procs[name] = start_service_on(service, stack, keys, stack.logs, ports[name], name=name)
        counters = faultkit.create_counters(ports["m1"], keys.admin, 4, "kout")
        acked = collections.Counter()
        acked_ops = collections.Counter()
        lock = threading.Lock()

        def write(conn, worker, i):
            cid = counters[worker]
            status, _ = send(conn, "POST", f"/api/v1/counts/{cid}/increment", keys.writer, b'{"amount":3}')
            if status == 200:
                with lock:
                    acked[cid] += 3
                    acked_ops[cid] += 1
            return "write", status

        writes = Load(ports["w1"], write, threads=4, rate=50).start()
        time.sleep(2)
        t_stop = time.monotonic()
        stack.stop_kafka()
        stop_s = time.monotonic() - t_stop
        peak = 0.0
        while time.monotonic() - t_stop < OUTAGE_S:
            peak = max(peak, backlog(ports["w1"]))
            time.sleep(0.5)
        during = writes.snapshot()
        t_start = time.monotonic()
        stack.start_kafka_again()
        broker_up = time.monotonic() - t_start
        time.sleep(2)
        writes.stop()
        t_drain = time.monotonic()
        support.eventually(lambda: backlog(ports["w1"]) == 0, timeout=120, interval=0.2,
                           message="outbox drained")
        drained = time.monotonic() - t_start
        support.eventually(lambda: history_sums(ports["a1"], keys.admin, counters) == dict(acked), timeout=120,
                           interval=0.5, message="history sums == acknowledged increments")
        caught_up = time.monotonic() - t_drain

        values = {}
        for cid in counters:
            r = http_request(ports["m1"], "GET", f"/management/api/v1/counts/{cid}",
                             headers={"Authorization": f"Bearer {keys.admin}"})
            values[cid] = r.json()["value"]
        events = [e for e in kafka_events(stack.kafka_brokers, set(counters)) if e["type"] == "count_updated"]
        distinct = {e["eventId"]: e for e in events}
        per_counter = collections.Counter(e["countId"] for e in distinct.values())
        outage_writes = [o for o in during if o.t > t_stop]
        faultkit.record(
            "kafka-outage", outage_s=round(t_start - t_stop, 1), broker_stop_s=round(stop_s, 1),
            writes=len(writes.snapshot()), writes_during_outage=len(outage_writes),
            failed_writes=len(writes.failures()), write_p99_ms=writes.summary()["p99_ms"],
            outbox_backlog_peak=int(peak), broker_restart_s=round(broker_up, 1),
            outbox_drained_after_restart_s=round(drained, 1), history_caught_up_s=round(caught_up, 1),
            kafka_events=len(events), kafka_distinct=len(distinct), acknowledged_writes=sum(acked_ops.values()),
            values_exact=values == dict(acked), machine=faultkit.machine())
        assert not writes.failures(), writes.failures()[:5]
        assert peak > 0, "events did not wait in the outbox"
        assert values == dict(acked), (values, acked)
        assert dict(per_counter) == dict(acked_ops), (per_counter, acked_ops)
    finally:
        if writes is not None and not writes._stop.is_set():
            writes.stop()
        for p in procs.values():
            p.stop()
        stack.stop()


def test_write_ack_kafka_answers_not_durable_while_kafka_is_away_and_the_retry_replays(root, keys):
    """WRITE_ACK=kafka (docs/API.md): a write is answered once Kafka holds its event. With the
    broker stopped, an increment is applied but answered 503 `not-durable` after
    WRITE_ACK_TIMEOUT_MS; repeating it with the same Idempotency-Key changes nothing (503 again
    while Kafka is away, then its first answer, replayed, once Kafka is back)."""
    stack = Stack(root)
    wait_ms = 1500
    services = {"m1": ("count-management-service", None),
                "w1": ("count-write-service", {"WRITE_ACK": "kafka", "WRITE_ACK_TIMEOUT_MS": str(wait_ms)})}
    with faultkit.services_running(stack, keys, services, []) as (ports, _):
        [cid] = faultkit.create_counters(ports["m1"], keys.admin, 1, "ack")

        def increment(idem: str) -> tuple[support.Response, float]:
            t = time.monotonic()
            r = http_request(ports["w1"], "POST", f"/api/v1/counts/{cid}/increment", body=b"",
                             headers={"Authorization": f"Bearer {keys.writer}", "Idempotency-Key": idem})
            return r, time.monotonic() - t

        def value() -> int:
            return http_request(ports["m1"], "GET", f"/management/api/v1/counts/{cid}",
                                headers={"Authorization": f"Bearer {keys.admin}"}).json()["value"]

        def created_in_kafka() -> bool:
            try:
                return bool(kafka_events(stack.kafka_brokers, {cid}))
            except subprocess.CalledProcessError:  # the topic is created by the first produce
                return False

        # The relay's first produce (topic, metadata, producer id) is not what this measures.
        support.eventually(created_in_kafka, timeout=60, interval=0.5, message="the counter's creation in Kafka")
        first, _ = increment("ack-1")
        assert first.status == 200 and first.json()["value"] == 1, first.body
        in_kafka = [e for e in kafka_events(stack.kafka_brokers, {cid}) if e["type"] == "count_updated"]
        assert [e["value"] for e in in_kafka] == [1]  # answered after Kafka had it

        stack.stop_kafka()
        away, waited = increment("ack-2")
        assert away.status == 503 and away.json()["type"] == "/problems/not-durable", away.body
        assert waited >= wait_ms / 1000 * 0.9, waited
        assert value() == 2  # applied all the same
        again, _ = increment("ack-2")
        assert again.status == 503 and again.json()["type"] == "/problems/not-durable", again.body
        assert value() == 2  # the repeat replayed: nothing applied twice

        stack.start_kafka_again()
        later = None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            later, _ = increment("ack-2")
            if later.status == 200:
                break
            assert later.status == 503 and later.json()["type"] == "/problems/not-durable", later.body
        assert later is not None and later.status == 200, later.body if later else None
        assert later.header("Idempotent-Replayed") == "true" and later.json()["value"] == 2, later.body
        assert value() == 2
        in_kafka = {e["eventId"]: e for e in kafka_events(stack.kafka_brokers, {cid}) if e["type"] == "count_updated"}
        assert sorted(e["value"] for e in in_kafka.values()) == [1, 2]
        faultkit.record("write-ack-kafka-outage", write_ack_timeout_ms=wait_ms, not_durable_after_s=round(waited, 2),
                        machine=faultkit.machine())
