"""The event pipeline end to end (docs/ARCHITECTURE.md, "Events and what happens while Kafka is
down"; UC-004): every applied change reaches the history exactly once, so after concurrent
random writes the history's deltas sum to the stored value and its last value is the stored
value — standalone (history in each change's transaction) and services (Kafka)."""
from __future__ import annotations

import random
import threading
from datetime import datetime, timedelta, timezone

from support import assert_json, eventually


def _period() -> tuple[str, str]:
    now = datetime.now(timezone.utc)
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    return (now - timedelta(days=1)).strftime(fmt), (now + timedelta(days=1)).strftime(fmt)


def _history(deployment, count_id: str) -> tuple[int, int] | None:
    """(sum of deltas, last value) over the day around now, or None before any data."""
    frm, to = _period()
    r = deployment.admin.get(f"/analysis/api/v1/series?ids={count_id}&from={frm}&to={to}&unit=day")
    body = assert_json(r, 200)
    buckets = body["series"][0]["buckets"]
    if not buckets:
        return None
    return sum(b["sum"] for b in buckets), buckets[-1]["last"]


def test_history_sums_equal_values_after_concurrent_random_writes(deployment):
    ids = [deployment.create_counter(initialValue=100)["id"] for _ in range(3)]
    rng = random.Random(42)
    plans = [[(rng.choice(ids), rng.choice(["increment", "decrement"]), rng.randint(1, 50))
              for _ in range(60)] for _ in range(8)]
    errors: list[str] = []

    def run(plan):
        for count_id, op, amount in plan:
            r = deployment.writer.post(f"/api/v1/counts/{count_id}/{op}", {"amount": amount})
            if r.status != 200:
                errors.append(r.describe())

    threads = [threading.Thread(target=run, args=(p,)) for p in plans]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    # A set and a batch count too.
    assert_json(deployment.writer.put(f"/api/v1/counts/{ids[0]}", {"value": -7}), 200)
    assert_json(deployment.writer.post("/api/v1/counts:batch", {"operations": [
        {"id": ids[1], "op": "increment", "amount": 5}, {"id": ids[2], "op": "set", "value": 0}]}), 200)

    for count_id in ids:
        value = deployment.value(count_id)
        eventually(lambda: _history(deployment, count_id) == (value, value), timeout=20,
                   message=f"history of {count_id} == value {value}")


def test_deleted_counter_history_ends_at_zero_sum(deployment):
    count_id = deployment.create_counter(initialValue=9)["id"]
    assert_json(deployment.writer.post(f"/api/v1/counts/{count_id}/increment", {"amount": 3}), 200)
    r = deployment.admin.delete(f"/management/api/v1/counts/{count_id}")
    assert r.status == 204, r.describe()
    # created +9, +3, deleted -12: the deltas cancel; the last value recorded is 12.
    eventually(lambda: _history(deployment, count_id) == (0, 12), timeout=20,
               message="history of a deleted counter")


def test_delete_with_purge_history_forgets_it_and_a_new_counter_starts_afresh(deployment):
    count_id = deployment.create_counter(initialValue=9)["id"]
    assert_json(deployment.writer.post(f"/api/v1/counts/{count_id}/increment", {"amount": 3}), 200)
    eventually(lambda: _history(deployment, count_id) == (12, 12), timeout=20,
               message="history before the purge")
    r = deployment.admin.delete(f"/management/api/v1/counts/{count_id}?purgeHistory=true")
    assert r.status == 204, r.describe()
    eventually(lambda: _history(deployment, count_id) is None, timeout=20,
               message="history purged with the counter")
    # The same id created again: its history is its own, nothing of the purged one returns.
    deployment.create_counter(count_id, initialValue=4)
    eventually(lambda: _history(deployment, count_id) == (4, 4), timeout=20,
               message="history of the counter created again")
