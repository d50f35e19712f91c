"""docs/API.md, "Write": Idempotency-Key on mutations."""
from __future__ import annotations

import threading
import uuid

import pytest

from support import assert_json, assert_problem, assert_value_response


def key() -> str:
    return "idem-" + uuid.uuid4().hex


def replayed(resp) -> bool:
    return (resp.header("Idempotent-Replayed") or "").lower() == "true"


def test_retry_applies_once(deployment, writer, counter):
    k = key()
    first = writer.post(f"/api/v1/counts/{counter}/increment", {"amount": 5}, headers={"Idempotency-Key": k})
    assert_value_response(first, counter, 5)
    assert not replayed(first), first.describe()
    second = writer.post(f"/api/v1/counts/{counter}/increment", {"amount": 5}, headers={"Idempotency-Key": k})
    assert second.status == first.status
    assert second.json() == first.json(), f"{first.describe()}\n{second.describe()}"
    assert replayed(second), f"Idempotent-Replayed header missing: {second.describe()}"
    third = writer.post(f"/api/v1/counts/{counter}/increment", {"amount": 5}, headers={"Idempotency-Key": k})
    assert third.json() == first.json()
    assert deployment.value(counter) == 5


def test_without_key_every_call_applies(deployment, writer, counter):
    for _ in range(3):
        writer.post(f"/api/v1/counts/{counter}/increment", {"amount": 5})
    assert deployment.value(counter) == 15


def test_different_keys_both_apply(deployment, writer, counter):
    for _ in range(2):
        r = writer.post(f"/api/v1/counts/{counter}/increment", {"amount": 2}, headers={"Idempotency-Key": key()})
        assert r.status == 200, r.describe()
    assert deployment.value(counter) == 4


def test_same_key_different_body_is_422(deployment, writer, counter):
    k = key()
    assert_value_response(writer.post(f"/api/v1/counts/{counter}/increment", {"amount": 1},
                                      headers={"Idempotency-Key": k}), counter, 1)
    r = writer.post(f"/api/v1/counts/{counter}/increment", {"amount": 2}, headers={"Idempotency-Key": k})
    assert_problem(r, 422, "idempotency-key-reused")
    assert deployment.value(counter) == 1


def test_same_key_other_operation_is_422(deployment, writer, counter):
    k = key()
    writer.post(f"/api/v1/counts/{counter}/increment", {"amount": 1}, headers={"Idempotency-Key": k})
    r = writer.post(f"/api/v1/counts/{counter}/decrement", {"amount": 1}, headers={"Idempotency-Key": k})
    assert_problem(r, 422, "idempotency-key-reused")
    assert deployment.value(counter) == 1


def test_put_replay(deployment, writer, counter):
    k = key()
    first = writer.put(f"/api/v1/counts/{counter}", {"value": 40}, headers={"Idempotency-Key": k})
    assert_value_response(first, counter, 40)
    writer.post(f"/api/v1/counts/{counter}/increment", {"amount": 2})
    second = writer.put(f"/api/v1/counts/{counter}", {"value": 40}, headers={"Idempotency-Key": k})
    assert second.status == 200 and second.json() == first.json(), second.describe()
    assert replayed(second), second.describe()
    assert deployment.value(counter) == 42  # the replay did not set 40 again


def test_batch_replay(deployment, writer, counter):
    k = key()
    body = {"operations": [{"id": counter, "op": "increment", "amount": 3},
                           {"id": counter, "op": "increment", "amount": 4}]}
    first = writer.post("/api/v1/counts:batch", body, headers={"Idempotency-Key": k})
    assert_json(first)
    second = writer.post("/api/v1/counts:batch", body, headers={"Idempotency-Key": k})
    assert second.status == 200 and second.json() == first.json(), second.describe()
    assert replayed(second), second.describe()
    assert deployment.value(counter) == 7


def test_keys_are_scoped_per_api_key(deployment, writer, admin, counter):
    k = key()
    assert_value_response(writer.post(f"/api/v1/counts/{counter}/increment", {"amount": 1},
                                      headers={"Idempotency-Key": k}), counter, 1)
    r = admin.post(f"/api/v1/counts/{counter}/increment", {"amount": 1}, headers={"Idempotency-Key": k})
    assert_value_response(r, counter, 2)
    assert not replayed(r), r.describe()
    assert deployment.value(counter) == 2


def test_key_of_255_chars_accepted(deployment, writer, counter):
    k = ("k" * 255)[:-32] + uuid.uuid4().hex
    assert len(k) == 255
    assert_value_response(writer.post(f"/api/v1/counts/{counter}/increment", headers={"Idempotency-Key": k}),
                          counter, 1)


@pytest.mark.parametrize("bad", ["", "k" * 256], ids=["empty", "256-chars"])
def test_bad_key_length_is_422(deployment, writer, counter, bad):
    r = writer.post(f"/api/v1/counts/{counter}/increment", {"amount": 1}, headers={"Idempotency-Key": bad})
    assert_problem(r, 422, "validation-error")
    assert deployment.value(counter) == 0


def test_concurrent_retries_apply_once(deployment, writer, counter):
    """Many clients retrying the same request at the same moment: the change happens once."""
    k = key()
    results = []
    barrier = threading.Barrier(16)

    errors = []

    def fire():
        barrier.wait()
        try:
            results.append(writer.post(f"/api/v1/counts/{counter}/increment", {"amount": 10},
                                       headers={"Idempotency-Key": k}))
        except OSError as e:
            errors.append(repr(e))

    threads = [threading.Thread(target=fire) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert deployment.value(counter) == 10, [r.describe() for r in results]
    ok = [r for r in results if r.status == 200]
    assert ok, [r.describe() for r in results]
    assert all(r.json() == ok[0].json() for r in ok), [r.describe() for r in ok]
    for r in results:
        # an in-flight duplicate may be told to retry later, but never gets a different answer
        assert r.status in (200, 409, 429, 503), r.describe()
