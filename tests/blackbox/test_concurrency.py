"""Concurrent writers on one counter: no lost updates, every answer a distinct value."""
from __future__ import annotations

import http.client
import json
import random
import threading

import pytest

import support

THREADS = 64
PER_THREAD = 500


def hammer(port: int, key: str, plan: list[list[tuple[str, int]]]) -> tuple[list[int], list[str]]:
    """Each thread runs its list of (op, amount) over one keep-alive connection.
    Returns every value answered and every failure seen."""
    values: list[int] = []
    failures: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(plan))

    def worker(ops: list[tuple[str, int]]) -> None:
        mine: list[int] = []
        errs: list[str] = []
        conn = support.connection(port, 60)
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        try:
            barrier.wait()
            for path, amount in ops:
                body = json.dumps({"amount": amount})
                try:
                    conn.request("POST", path, body=body, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                except (OSError, http.client.HTTPException) as e:
                    # cannot tell whether it applied; reported, never retried
                    errs.append(f"connection error: {e!r}")
                    conn.close()
                    conn = support.connection(port, 60)
                    continue
                if resp.status != 200:
                    errs.append(f"{resp.status} {data[:200]!r}")
                    continue
                mine.append(json.loads(data)["value"])
                if resp.getheader("Connection", "").lower() == "close":
                    errs.append("server closed a keep-alive connection")
        finally:
            conn.close()
            with lock:
                values.extend(mine)
                failures.extend(errs)

    threads = [threading.Thread(target=worker, args=(ops,)) for ops in plan]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    assert not any(t.is_alive() for t in threads), "workers hung"
    return values, failures


@pytest.mark.slow
def test_64_threads_x_500_increments(deployment, counter):
    path = f"/api/v1/counts/{counter}/increment"
    plan = [[(path, 1)] * PER_THREAD for _ in range(THREADS)]
    values, failures = hammer(deployment.ports["write"], deployment.keys.writer, plan)
    assert not failures, f"{len(failures)} failures, first: {failures[:5]}"
    total = THREADS * PER_THREAD
    assert deployment.value(counter) == total
    # every increment was answered with its own post-value: 1..32000, each exactly once
    assert sorted(values) == list(range(1, total + 1))
    deployment.read_eventually(counter, total)


@pytest.mark.slow
def test_random_deltas_sum_exactly(deployment):
    start = 2**53  # beyond double precision, so float arithmetic anywhere would show
    cid = deployment.create_counter(initialValue=start)["id"]
    rng = random.Random(20240601)
    plan, expected = [], start
    for _ in range(THREADS):
        ops = []
        for _ in range(PER_THREAD):
            amount = rng.randint(1, 1_000_000)
            if rng.random() < 0.5:
                ops.append((f"/api/v1/counts/{cid}/increment", amount))
                expected += amount
            else:
                ops.append((f"/api/v1/counts/{cid}/decrement", amount))
                expected -= amount
        plan.append(ops)
    values, failures = hammer(deployment.ports["write"], deployment.keys.writer, plan)
    assert not failures, f"{len(failures)} failures, first: {failures[:5]}"
    assert len(values) == THREADS * PER_THREAD
    assert deployment.value(cid) == expected
    deployment.read_eventually(cid, expected)


@pytest.mark.slow
def test_concurrent_writes_respect_bounds(deployment):
    """Racing increments against a max bound: exactly max succeed, the rest are refused."""
    cid = deployment.create_counter(initialValue=0, minValue=0, maxValue=1000)["id"]
    path = f"/api/v1/counts/{cid}/increment"
    port, key = deployment.ports["write"], deployment.keys.writer
    statuses: list[int] = []
    lock = threading.Lock()

    def worker():
        conn = support.connection(port, 60)
        mine = []
        for _ in range(50):
            conn.request("POST", path, body='{"amount": 1}',
                         headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
            resp = conn.getresponse()
            resp.read()
            mine.append(resp.status)
        conn.close()
        with lock:
            statuses.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert statuses.count(200) == 1000, {s: statuses.count(s) for s in set(statuses)}
    assert statuses.count(422) == 600
    assert deployment.value(cid) == 1000


@pytest.mark.slow
def test_concurrent_batches(deployment):
    cids = [deployment.create_counter()["id"] for _ in range(4)]
    port, key = deployment.ports["write"], deployment.keys.writer
    body = json.dumps({"operations": [{"id": c, "op": "increment", "amount": 1} for c in cids] * 25})
    failures: list[str] = []

    def worker():
        conn = support.connection(port, 60)
        for _ in range(20):
            conn.request("POST", "/api/v1/counts:batch", body=body,
                         headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
            resp = conn.getresponse()
            data = resp.read()
            if resp.status != 200 or any(r["status"] != 200 for r in json.loads(data)["results"]):
                failures.append(data[:200].decode(errors="replace"))
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not failures, failures[:3]
    for c in cids:
        assert deployment.value(c) == 16 * 20 * 25
