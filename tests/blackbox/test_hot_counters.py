"""docs/API.md, "Hot counters": a counter created with "sharded": true takes increments and
decrements (concurrent ones all counted), refuses bounds and `set` with 409 sharded-counter,
keeps its flag for life, and replays a retried write; in every mode (on a Redis Cluster it is
spread over the shards, which the C++ tests on the cluster fixture check; to a client every
deployment behaves alike)."""
from __future__ import annotations

import threading

from support import assert_json, assert_problem, unique_id

BASE = "/management/api/v1/counts"
BATCH = "/api/v1/counts:batch"


def test_create_sharded_and_read_back(deployment, admin, reader):
    rec = deployment.create_counter(sharded=True, initialValue=5, description="page views")
    assert rec["sharded"] is True and rec["value"] == 5
    assert assert_json(admin.get(f"{BASE}/{rec['id']}"))["sharded"] is True
    got = deployment.read_eventually(rec["id"], 5)
    assert got["sharded"] is True
    listed = assert_json(admin.get(f"{BASE}?prefix={rec['id']}"))["items"]
    assert [i["id"] for i in listed] == [rec["id"]] and listed[0]["sharded"] is True
    # An ordinary counter does not say it.
    assert "sharded" not in deployment.create_counter()
    assert "sharded" not in deployment.create_counter(sharded=False)


def test_sharded_counts_every_concurrent_increment(deployment, writer):
    cid = deployment.create_counter(sharded=True)["id"]
    threads, per_thread = 4, 50
    failures: list[str] = []

    def hammer() -> None:
        for i in range(per_thread):
            path = f"/api/v1/counts/{cid}/{'decrement' if i % 5 == 4 else 'increment'}"
            r = writer.post(path, {"amount": 2} if i % 5 == 4 else {"amount": 3})
            if r.status != 200:
                failures.append(r.describe())

    workers = [threading.Thread(target=hammer) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert not failures, failures[:3]
    expected = threads * (per_thread // 5) * (4 * 3 - 2)
    assert deployment.value(cid) == expected
    # An answer carries the counter's value (here no other write is in flight).
    body = assert_json(writer.post(f"/api/v1/counts/{cid}/increment", {"amount": 1}))
    assert body["value"] == expected + 1


def test_sharded_refuses_set_and_bounds(deployment, admin, writer):
    cid = deployment.create_counter(sharded=True, initialValue=3)["id"]
    assert_problem(writer.put(f"/api/v1/counts/{cid}", {"value": 10}), 409, "sharded-counter")
    results = assert_json(writer.post(BATCH, {"operations": [
        {"id": cid, "op": "set", "value": 10},
        {"id": cid, "op": "increment", "amount": 2}]}))["results"]
    assert results[0]["status"] == 409 and results[0]["type"] == "/problems/sharded-counter", results
    assert results[1]["status"] == 200 and results[1]["value"] == 5, results
    assert deployment.value(cid) == 5
    assert_problem(admin.patch(f"{BASE}/{cid}", {"maxValue": 100}), 409, "sharded-counter")
    assert_problem(admin.patch(f"{BASE}/{cid}", {"sharded": False}), 409, "sharded-counter")
    same = assert_json(admin.patch(f"{BASE}/{cid}", {"sharded": True, "description": "d"}))
    assert (same["sharded"], same["description"], same["minValue"], same["maxValue"]) == (True, "d", None, None)
    # Bounds at creation: a validation error, nothing created.
    other = unique_id()
    assert_problem(admin.post(BASE, {"id": other, "sharded": True, "minValue": 0}), 422, "validation-error")
    assert_problem(admin.get(f"{BASE}/{other}"), 404, "not-found")
    assert_problem(admin.post(BASE, {"id": other, "sharded": "yes"}), 422, "validation-error")
    plain = deployment.create_counter()["id"]
    assert_problem(admin.patch(f"{BASE}/{plain}", {"sharded": True}), 409, "sharded-counter")


def test_sharded_retry_with_the_same_key_applies_once(deployment, writer):
    cid = deployment.create_counter(sharded=True)["id"]
    headers = {"Idempotency-Key": unique_id("retry")}
    first = assert_json(writer.post(f"/api/v1/counts/{cid}/increment", {"amount": 4}, headers=headers))
    assert first["value"] == 4
    for _ in range(3):
        again = writer.post(f"/api/v1/counts/{cid}/increment", {"amount": 4}, headers=headers)
        assert assert_json(again)["value"] == 4
        assert again.header("Idempotent-Replayed") == "true", again.describe()
    assert deployment.value(cid) == 4


def test_sharded_delete(deployment, admin, writer):
    cid = deployment.create_counter(sharded=True, initialValue=2)["id"]
    assert_json(writer.post(f"/api/v1/counts/{cid}/increment", {"amount": 5}))
    assert admin.delete(f"{BASE}/{cid}").status == 204
    assert_problem(writer.post(f"/api/v1/counts/{cid}/increment", {"amount": 1}), 404, "not-found")
    # Created again, not sharded: an ordinary counter from 0.
    rec = deployment.create_counter(cid)
    assert "sharded" not in rec and rec["value"] == 0
    assert assert_json(writer.put(f"/api/v1/counts/{cid}", {"value": 9}))["value"] == 9


def test_history_and_live_stream_carry_the_counters_value(deployment, admin, writer):
    """Each change of a sharded counter makes an event of the sub-counter it changed; the
    history's minute `last` and the live stream's `value` are the counter's value all the same
    (docs/ARCHITECTURE.md, "Hot counters"): after increments spread over the sub-counters
    (concurrent writers, so over every event loop and sub-counter) and a description change,
    the last minute's `last` and the last event's `value` equal the counter's value."""
    from datetime import datetime, timedelta, timezone

    from sse import SseStream
    from support import eventually

    cid = deployment.create_counter(sharded=True, initialValue=100)["id"]
    headers = {"Authorization": f"Bearer {deployment.keys.admin}"}
    with SseStream(deployment.ports["live"], f"/dashboard/events?countIds={cid}", headers) as s:
        assert s.initial()["counts"][0]["value"] == 100
        failures: list[str] = []

        def hammer(k: int) -> None:
            for i in range(30):
                r = writer.post(f"/api/v1/counts/{cid}/increment", {"amount": k + i % 3})
                if r.status != 200:
                    failures.append(r.describe())

        workers = [threading.Thread(target=hammer, args=(k,)) for k in range(1, 5)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        assert not failures, failures[:3]
        assert_json(admin.patch(f"{BASE}/{cid}", {"description": "renamed"}))
        value = deployment.value(cid)
        assert value == 100 + sum(30 * k + 30 for k in range(1, 5))

        now = datetime.now(timezone.utc)
        frm = (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        to = (now + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")

        def history() -> tuple[int, int] | None:
            r = admin.get(f"/analysis/api/v1/series?ids={cid}&from={frm}&to={to}&unit=minute")
            buckets = assert_json(r)["series"][0]["buckets"]
            if not buckets:
                return None
            return buckets[-1]["last"], sum(b["sum"] for b in buckets)

        eventually(lambda: history() == (value, value), timeout=30,
                   message=f"the last minute's last and the sums == value {value}")
        eventually(lambda: len(s.events("count_updated")) == 121, timeout=30,
                   message="every change's event on the live stream")
        live = [e.json() for e in s.events("count_updated")]
        assert live[-1]["value"] == value, live[-3:]
        assert max(e["value"] for e in live) == value
