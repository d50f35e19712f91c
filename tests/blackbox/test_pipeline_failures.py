"""The event pipeline under failures (services mode, real KRaft broker): what
docs/ARCHITECTURE.md promises holds, and afterwards every counter's history equals its value
exactly (deltas sum to the value, the last recorded value is the value).

* Kafka stopped for 30 s under write load, then restarted: writes go on (the outbox keeps the
  events; count-write-service answers 200 throughout), then the relay publishes the backlog
  in order and the history catches up with nothing lost and nothing counted twice.
* count-analysis-service stopped (SIGTERM: drains and commits; SIGKILL: its uncommitted batch
  comes again) and started again under write load: it resumes from the group's offsets, and
  redelivered events are recognised by eventId.
* Two analysis replicas in one consumer group split the partitions and together record
  every event once.

The per-counter order and the publisher's behaviour in an outage are covered below this level
by the Kafka integration tests (common/kafka/kafka_test.cpp).
"""
from __future__ import annotations

import http.client
import json
import random
import re
import signal
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

import support
from support import assert_json, eventually, http_request

pytestmark = [pytest.mark.services_only, pytest.mark.slow]

OUTAGE_SECONDS = 30


def _history(deployment, count_id: str) -> tuple[int, int] | None:
    """(sum of deltas, last value) of the counter over the day around now."""
    now = datetime.now(timezone.utc)
    frm, to = ((now + timedelta(days=d)).strftime("%Y-%m-%dT%H:%M:%SZ") for d in (-1, 1))
    r = deployment.admin.get(f"/analysis/api/v1/series?ids={count_id}&from={frm}&to={to}&unit=day")
    buckets = assert_json(r, 200)["series"][0]["buckets"]
    if not buckets:
        return None
    return sum(b["sum"] for b in buckets), buckets[-1]["last"]


def _gauge(port: int, name: str) -> float:
    text = http_request(port, "GET", "/metrics").body.decode()
    m = re.search(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.M)
    assert m, f"no {name} in /metrics of port {port}"
    return float(m.group(1))


def _assert_history_equals_values(deployment, ids: list[str], timeout: float) -> None:
    for count_id in ids:
        value = deployment.value(count_id)

        def check() -> bool:
            seen = _history(deployment, count_id)
            # Where the missing events are, should they not arrive.
            assert seen == (value, value), (
                f"(sum of deltas, last) {seen} for value {value}; outbox_backlog "
                f"{_gauge(deployment.service_ports['count-write-service'], 'outbox_backlog')}, "
                f"consumer_lag "
                f"{_gauge(deployment.service_ports['count-analysis-service'], 'consumer_lag')}")
            return True
        eventually(check, timeout=timeout, interval=0.25, message=f"history of {count_id}")


class WriteLoad:
    """Threads sending random increments and decrements to `ids` on keep-alive connections
    until stopped; every answer is counted, every non-200 kept."""

    def __init__(self, deployment, ids: list[str], threads: int = 4, seed: int = 7):
        self.port = deployment.ports["write"]
        self.key = deployment.keys.writer
        self.ids = ids
        self.ok = 0
        self.failures: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(seed + i,), daemon=True)
                         for i in range(threads)]

    def __enter__(self) -> "WriteLoad":
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=60)

    def answered(self) -> int:
        with self._lock:
            return self.ok + len(self.failures)

    def _run(self, seed: int) -> None:
        rng = random.Random(seed)
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"}
        while not self._stop.is_set():
            op = rng.choice(["increment", "decrement"])
            body = f'{{"amount":{rng.randint(1, 20)}}}'.encode()
            path = f"/api/v1/counts/{rng.choice(self.ids)}/{op}"
            try:
                r = http_request(self.port, "POST", path, body=body, headers=headers, conn=conn)
                outcome = None if r.status == 200 else r.describe()
            except OSError as e:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                outcome = f"POST {path}: {e!r}"
            with self._lock:
                if outcome is None:
                    self.ok += 1
                else:
                    self.failures.append(outcome)
        conn.close()


def _wait_for_writes(load: WriteLoad, more: int, timeout: float = 30) -> None:
    target = load.answered() + more
    eventually(lambda: load.answered() >= target, timeout=timeout, interval=0.05,
               message=f"{more} more writes answered")


def _start_analysis(deployment, name: str) -> tuple[support.Proc, int]:
    infra = deployment.infra
    return support.start_service("count-analysis-service", infra, deployment.keys, infra.logs,
                                 name=name)


def test_kafka_outage_under_write_load_loses_nothing(deployment):
    infra = deployment.infra
    ids = [deployment.create_counter(initialValue=1000)["id"] for _ in range(4)]
    write_port = deployment.service_ports["count-write-service"]
    try:
        with WriteLoad(deployment, ids) as load:
            _wait_for_writes(load, 200)
            infra.stop_kafka()
            stopped = time.monotonic()
            before_outage = load.answered()
            # Writes go on while the broker is away; their events wait in the outbox.
            eventually(lambda: _gauge(write_port, "outbox_backlog") > 0, timeout=15,
                       message="events waiting in the outbox")
            time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - stopped)))
            during_outage = load.answered() - before_outage
            failures_during_outage = list(load.failures)
            backlog = _gauge(write_port, "outbox_backlog")
            infra.start_kafka()
            _wait_for_writes(load, 200, timeout=60)
    finally:
        if not infra._kafka().alive():
            infra.start_kafka()  # leave a broker for the tests after this one

    assert not failures_during_outage, failures_during_outage[:3]
    assert not load.failures, load.failures[:3]
    assert during_outage >= 100, f"only {during_outage} writes answered during the outage"
    assert backlog > 0
    # The relay empties the outbox, and the history catches up exactly.
    eventually(lambda: _gauge(write_port, "outbox_backlog") == 0, timeout=120, interval=0.5,
               message="outbox drained after the broker came back")
    _assert_history_equals_values(deployment, ids, timeout=120)
    print(f"\nkafka outage: {OUTAGE_SECONDS}s, {during_outage} writes answered 200 during it, "
          f"backlog {backlog:.0f} events at its end, {load.ok} writes in all")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_analysis_restart_resumes_without_loss_or_double_count(deployment, sig):
    ids = [deployment.create_counter(initialValue=10)["id"] for _ in range(4)]
    old = deployment.procs["count-analysis-service"]
    with WriteLoad(deployment, ids) as load:
        _wait_for_writes(load, 300)
        old.signal(sig)
        code = old.wait(40)
        assert code == (0 if sig == signal.SIGTERM else -signal.SIGKILL), \
            f"{old.name} exited with {code}\n{old.output_tail()}"
        old.stop()  # closes its log files
        _wait_for_writes(load, 300)  # events pile up in Kafka while no consumer runs
        proc, port = _start_analysis(deployment, f"count-analysis-service-after-{sig.name}")
        deployment.procs["count-analysis-service"] = proc
        deployment.service_ports["count-analysis-service"] = port
        deployment.ports["analysis"] = port  # the clients share this dict
        _wait_for_writes(load, 300)
    assert not load.failures, load.failures[:3]
    _assert_history_equals_values(deployment, ids, timeout=120)
    handled = _gauge(port, "consumer_events_handled")
    recorded = _gauge(port, "history_events_recorded")
    assert recorded <= handled
    print(f"\nanalysis {sig.name}: {load.ok} writes; the new process handled {handled:.0f} "
          f"events, of which {handled - recorded:.0f} had been recorded before (redelivered)")


def test_two_analysis_replicas_share_the_partitions(deployment):
    first_port = deployment.service_ports["count-analysis-service"]
    second, second_port = _start_analysis(deployment, "count-analysis-service-replica")
    try:
        ports = (first_port, second_port)
        # The topic has 3 partitions: each replica gets some, together all.
        eventually(lambda: all(_gauge(p, "consumer_partitions") >= 1 for p in ports)
                   and sum(_gauge(p, "consumer_partitions") for p in ports) == 3,
                   timeout=60, interval=0.25, message="both replicas hold partitions")

        def lag_partitions(port: int) -> tuple[set[str], set[str]]:
            # consumer_lag{partition="N"} on /metrics, and /ready's details.consumer_lag.
            text = http_request(port, "GET", "/metrics").body.decode()
            shown = set(re.findall(r'^consumer_lag\{partition="(\d+)"\} \S+$', text, re.M))
            ready = json.loads(http_request(port, "GET", "/ready").body)["details"]["consumer_lag"]
            return shown, set(ready["partitions"])

        def each_shows_its_own() -> bool:
            seen = [lag_partitions(p) for p in ports]
            metric = [m for m, _ in seen]
            return (all(m and m == r for m, r in seen) and sum(map(len, metric)) == 3
                    and set().union(*metric) == {"0", "1", "2"})
        # Each replica shows the lag of the partitions it holds, and only those.
        eventually(each_shows_its_own, timeout=30, interval=0.25,
                   message="each replica's consumer_lag samples are its own partitions")
        recorded_before = [_gauge(p, "history_events_recorded") for p in ports]
        # Enough counters that every partition gets some (key = count id).
        ids = [deployment.create_counter(initialValue=5)["id"] for _ in range(24)]
        with WriteLoad(deployment, ids) as load:
            _wait_for_writes(load, 600)
        assert not load.failures, load.failures[:3]
        _assert_history_equals_values(deployment, ids, timeout=120)
        recorded = [_gauge(p, "history_events_recorded") - b for p, b in zip(ports, recorded_before)]
        assert all(r > 0 for r in recorded), f"events recorded per replica: {recorded}"
        # Split, not copied: together they recorded each event once (the counters' creations
        # and the writes; nothing else was written meanwhile).
        assert sum(recorded) == len(ids) + load.ok, (recorded, len(ids), load.ok)
        # Caught up: /ready shows no lag, under the threshold it names.
        def caught_up(port: int) -> bool:
            lag = json.loads(http_request(port, "GET", "/ready").body)["details"]["consumer_lag"]
            return lag["total"] == 0 and lag["alert_above"] > 0
        eventually(lambda: all(caught_up(p) for p in ports), timeout=30, interval=0.25,
                   message="/ready shows the lag back at 0")
    finally:
        assert second.stop() == 0, second.output_tail()
    # The remaining replica takes every partition back.
    eventually(lambda: _gauge(first_port, "consumer_partitions") == 3, timeout=60, interval=0.25,
               message="the remaining replica holds all partitions")
