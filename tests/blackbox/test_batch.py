"""docs/API.md, "Write": POST /api/v1/counts:batch."""
from __future__ import annotations

import json
import uuid

import pytest

from support import eventually, redis_command
from support import INT64_MAX, assert_json, assert_problem, assert_timestamp, unique_id

BATCH = "/api/v1/counts:batch"


def ok_result(res: dict, cid: str, value: int) -> None:
    assert res.get("id") == cid, res
    assert res.get("status") == 200, res
    assert type(res.get("value")) is int and res["value"] == value, res
    assert_timestamp(res.get("updatedAt"))


def err_result(res: dict, cid: str, status: int, kind: str | list[str]) -> None:
    kinds = [kind] if isinstance(kind, str) else kind
    assert res.get("id") == cid, res
    assert res.get("status") == status, res
    assert res.get("type") in [f"/problems/{k}" for k in kinds], res
    assert isinstance(res.get("title"), str) and res["title"], res
    assert isinstance(res.get("detail"), str), res


def test_batch_mixed_operations(deployment, writer):
    a = deployment.create_counter(initialValue=10)["id"]
    b = deployment.create_counter(initialValue=0)["id"]
    c = deployment.create_counter(initialValue=INT64_MAX)["id"]
    d = deployment.create_counter(initialValue=0, minValue=0)["id"]
    missing = unique_id("missing")
    ops = [
        {"id": a, "op": "increment", "amount": 5},
        {"id": b, "op": "set", "value": 77},
        {"id": missing, "op": "increment", "amount": 1},
        {"id": "-bad", "op": "increment", "amount": 1},
        {"id": c, "op": "increment", "amount": 1},
        {"id": d, "op": "decrement", "amount": 1},
        {"id": a, "op": "decrement", "amount": 2},
    ]
    r = writer.post(BATCH, {"operations": ops})
    body = assert_json(r, 200)
    results = body["results"]
    assert len(results) == len(ops), r.describe()
    ok_result(results[0], a, 15)
    ok_result(results[1], b, 77)
    err_result(results[2], missing, 404, "not-found")
    err_result(results[3], "-bad", 422, "invalid-count-id")
    err_result(results[4], c, 422, "overflow")
    err_result(results[5], d, 422, "out-of-bounds")
    ok_result(results[6], a, 13)
    assert deployment.value(a) == 13
    assert deployment.value(b) == 77
    assert deployment.value(c) == INT64_MAX
    assert deployment.value(d) == 0


def test_batch_operations_on_one_counter_apply_in_order(deployment, writer, counter):
    ops = [{"id": counter, "op": "increment", "amount": 1},
           {"id": counter, "op": "increment", "amount": 2},
           {"id": counter, "op": "set", "value": 10},
           {"id": counter, "op": "decrement", "amount": 3},
           {"id": counter, "op": "increment"}]  # amount defaults to 1
    results = assert_json(writer.post(BATCH, {"operations": ops}))["results"]
    assert [x.get("value") for x in results] == [1, 3, 10, 7, 8], results
    assert deployment.value(counter) == 8


@pytest.mark.parametrize("bad_op", [
    {"op": "multiply", "amount": 2},
    {"op": "increment", "amount": 0},
    {"op": "increment", "amount": -3},
    {"op": "increment", "amount": "1"},
    {"op": "set"},
    {"op": "set", "value": 1.5},
    {"amount": 1},
], ids=json.dumps)
def test_batch_bad_operation_fails_alone(deployment, writer, bad_op):
    good = deployment.create_counter()["id"]
    target = deployment.create_counter(initialValue=50)["id"]
    ops = [{"id": good, "op": "increment", "amount": 1}, {"id": target, **bad_op},
           {"id": good, "op": "increment", "amount": 1}]
    results = assert_json(writer.post(BATCH, {"operations": ops}))["results"]
    assert len(results) == 3
    ok_result(results[0], good, 1)
    err_result(results[1], target, 422, "validation-error")
    ok_result(results[2], good, 2)
    assert deployment.value(target) == 50


def test_batch_op_without_id_fails_alone(deployment, writer, counter):
    ops = [{"op": "increment", "amount": 1}, {"id": counter, "op": "increment", "amount": 1}]
    results = assert_json(writer.post(BATCH, {"operations": ops}))["results"]
    assert len(results) == 2
    assert results[0].get("status") == 422 and results[0].get("type") == "/problems/validation-error", results
    ok_result(results[1], counter, 1)


def test_batch_of_1000_operations(deployment, writer):
    counter = deployment.create_counter(unique_id("long").ljust(100, "x"))["id"]
    ops = [{"id": counter, "op": "increment", "amount": 1} for _ in range(1000)]
    payload = json.dumps({"operations": ops}).encode()
    assert len(payload) > 64 * 1024, "the batch body must exceed the single-write limit"
    r = writer.post(BATCH, body=payload)
    results = assert_json(r)["results"]
    assert len(results) == 1000
    assert [x["value"] for x in results] == list(range(1, 1001))
    assert deployment.value(counter) == 1000


def test_batch_of_1001_operations_is_422(deployment, writer, counter):
    ops = [{"id": counter, "op": "increment", "amount": 1} for _ in range(1001)]
    assert_problem(writer.post(BATCH, {"operations": ops}), 422, "validation-error")
    assert deployment.value(counter) == 0


@pytest.mark.parametrize("body", [{"operations": []}, {}, {"operations": {}}, {"operations": "x"},
                                  {"operations": [1, 2]}, [], {"operations": None}], ids=json.dumps)
def test_batch_shape_errors_are_422(writer, body):
    r = writer.post(BATCH, body)
    if body == {"operations": [1, 2]}:
        # non-object operations may be refused as a whole or one by one
        if r.status == 200:
            for res in r.json()["results"]:
                assert res["status"] == 422, r.describe()
            return
    assert_problem(r, 422, "validation-error")


def test_batch_malformed_json_is_400(writer):
    assert_problem(writer.post(BATCH, body=b'{"operations": ['), 400, "malformed-json")


def test_batch_wrong_content_type_is_415(writer, counter):
    body = json.dumps({"operations": [{"id": counter, "op": "increment"}]}).encode()
    assert_problem(writer.post(BATCH, body=body, content_type="text/plain"), 415, "unsupported-media-type")


def test_batch_over_1mib_is_413(deployment, writer, counter):
    ops = [{"id": counter, "op": "increment", "amount": 1, "pad": "p" * 1100} for _ in range(1000)]
    payload = json.dumps({"operations": ops}).encode()
    assert len(payload) > 1024 * 1024
    assert_problem(writer.post(BATCH, body=payload), 413, "payload-too-large")
    assert deployment.value(counter) == 0


def test_batch_needs_write_scope(reader, counter):
    assert_problem(reader.post(BATCH, {"operations": [{"id": counter, "op": "increment"}]}), 403, "forbidden")


def test_batch_int64_exact(deployment, writer, counter):
    big = 2**62 + 12345
    ops = [{"id": counter, "op": "set", "value": big},
           {"id": counter, "op": "increment", "amount": 2**62},
           {"id": counter, "op": "increment", "amount": 2**62}]
    results = assert_json(writer.post(BATCH, {"operations": ops}))["results"]
    ok_result(results[0], counter, big)
    err_result(results[1], counter, 422, "overflow")  # 2^63 + 12345 > int64 max
    err_result(results[2], counter, 422, "overflow")
    assert deployment.value(counter) == big


def holder(cluster, count_id: str) -> int:
    """The primary that holds a counter's key (`count:{<group tag>}:<id>`), asked of each."""
    for port in cluster.primaries():
        if f":{count_id}".encode() in redis_command(port, "KEYS", f"count:*:{count_id}"):
            return port
    raise AssertionError(f"no primary holds {count_id}")


@pytest.mark.redis_cluster_only
@pytest.mark.slow
def test_batch_over_shards_interrupted_by_a_stopped_primary(deployment, writer):
    """docs/API.md, "Batches on a Redis Cluster": a batch whose counters are on three shards while
    the primary of one is down answers 503 applied-in-part naming the operations carried out
    (never 200, never a refusal that hides them); once the replica is promoted, the repeat with
    the same Idempotency-Key completes it, each operation applied once."""
    cluster = deployment.infra.cluster
    on: dict[int, str] = {}
    while len(on) < 3:
        cid = deployment.create_counter(initialValue=10)["id"]
        on.setdefault(holder(cluster, cid), cid)
    (pa, a), (pb, b), (pc, c) = sorted(on.items())
    ops = [{"id": a, "op": "increment", "amount": 1}, {"id": b, "op": "increment", "amount": 2},
           {"id": c, "op": "set", "value": 7}, {"id": b, "op": "decrement", "amount": 5}]
    key = {"Idempotency-Key": uuid.uuid4().hex}
    live = [p for p in cluster.ports if p != pb]

    def node_timeout(ms: int) -> None:
        # The peers mark b's primary failed only when told: until then the other shards serve
        # (once they do, the whole cluster answers CLUSTERDOWN until the replica is promoted).
        for port in live:
            assert b"OK" in redis_command(port, "CONFIG", "SET", "cluster-node-timeout", str(ms))

    node_timeout(60000)
    try:
        cluster.stop_node(pb)
        try:
            body = assert_problem(writer.post(BATCH, {"operations": ops}, headers=key), 503, "applied-in-part")
            assert body.get("applied") == [0, 2], body
            assert "Idempotency-Key" in body["detail"], body
            assert deployment.value(a) == 11 and deployment.value(c) == 7
        finally:
            node_timeout(cluster.node_timeout_ms)

        def completed():
            r = writer.post(BATCH, {"operations": ops}, headers=key)
            return r if r.status == 200 else None
        results = assert_json(eventually(completed, timeout=30, message="the repeat completes the batch"))["results"]
        assert [x.get("value") for x in results] == [11, 12, 7, 7], results
        assert [deployment.value(x) for x in (a, b, c)] == [11, 7, 7]
    finally:
        cluster.start_node(pb)  # rejoins as a replica of the promoted one
        cluster.wait_healthy()
    again = writer.post(BATCH, {"operations": ops}, headers=key)
    assert [x.get("value") for x in assert_json(again)["results"]] == [11, 12, 7, 7]
    assert (again.header("Idempotent-Replayed") or "").lower() == "true", again.describe()
    assert [deployment.value(x) for x in (a, b, c)] == [11, 7, 7]
