"""docs/API.md, "Write" (and the opening's id and integer rules): increment, decrement, set;
validation; int64 and bounds."""
from __future__ import annotations

import pytest

import support
from support import (INT64_MAX, INT64_MIN, assert_json, assert_problem, assert_timestamp,
                     assert_value_response, unique_id)


def inc(client, cid, amount=None, **kw):
    body = {"amount": amount} if amount is not None else None
    if body is None:
        return client.post(f"/api/v1/counts/{cid}/increment", **kw)
    return client.post(f"/api/v1/counts/{cid}/increment", body, **kw)


def dec(client, cid, amount=None, **kw):
    if amount is None:
        return client.post(f"/api/v1/counts/{cid}/decrement", **kw)
    return client.post(f"/api/v1/counts/{cid}/decrement", {"amount": amount}, **kw)


# ---------------------------------------------------------------- happy paths

def test_increment_with_amount(deployment, writer, counter):
    assert_value_response(inc(writer, counter, 5), counter, 5)
    assert_value_response(inc(writer, counter, 7), counter, 12)
    assert deployment.value(counter) == 12


def test_increment_empty_body_adds_one(deployment, writer, counter):
    r = writer.post(f"/api/v1/counts/{counter}/increment")
    assert_value_response(r, counter, 1)
    r = writer.post(f"/api/v1/counts/{counter}/increment", body=b"", content_type="application/json")
    assert_value_response(r, counter, 2)
    assert deployment.value(counter) == 2


def test_increment_empty_object_adds_one(writer, counter):
    assert_value_response(writer.post(f"/api/v1/counts/{counter}/increment", {}), counter, 1)


def test_decrement(deployment, writer):
    cid = deployment.create_counter(initialValue=10)["id"]
    assert_value_response(dec(writer, cid, 3), cid, 7)
    assert_value_response(dec(writer, cid), cid, 6)
    assert_value_response(dec(writer, cid, 10), cid, -4)  # no bounds: may go negative
    assert deployment.value(cid) == -4


def test_set_value(deployment, writer, counter):
    assert_value_response(writer.put(f"/api/v1/counts/{counter}", {"value": 42}), counter, 42)
    assert_value_response(writer.put(f"/api/v1/counts/{counter}", {"value": -5}), counter, -5)
    assert deployment.value(counter) == -5


def test_set_value_with_description(deployment, writer, admin, counter):
    r = writer.put(f"/api/v1/counts/{counter}", {"value": 3, "description": "page views"})
    assert_value_response(r, counter, 3)
    rec = assert_json(admin.get(f"/management/api/v1/counts/{counter}"))
    assert rec["description"] == "page views"
    assert rec["value"] == 3


def test_charset_parameter_is_still_json(writer, counter):
    r = writer.post(f"/api/v1/counts/{counter}/increment", {"amount": 2},
                    content_type="application/json; charset=utf-8")
    assert_value_response(r, counter, 2)


def test_updated_at_moves_forward(deployment, writer, counter):
    first = assert_value_response(inc(writer, counter), counter, 1)["updatedAt"]
    second = assert_value_response(inc(writer, counter), counter, 2)["updatedAt"]
    assert second >= first  # same format, lexical order is time order


def test_id_charset_edges(deployment, writer):
    longest = unique_id().ljust(128, "x")  # unique: a deployment may run the suite twice
    for cid in [f"A.b_c:d-e{unique_id()}", longest, f"9{unique_id()}", f"Case{unique_id()}"]:
        deployment.create_counter(cid)
        assert_value_response(inc(writer, cid, 1), cid, 1)


def test_ids_are_case_sensitive(deployment, writer):
    base = unique_id("case")
    deployment.create_counter(base.upper())
    assert_problem(inc(writer, base.lower()), 404, "not-found")
    assert_value_response(inc(writer, base.upper()), base.upper(), 1)


def test_admin_can_write(admin, counter):
    assert_value_response(inc(admin, counter, 4), counter, 4)


# ---------------------------------------------------------------- unknown / invalid ids

@pytest.mark.parametrize("op", ["increment", "decrement", "set"])
def test_unknown_counter_is_404(writer, op):
    cid = unique_id("never")
    if op == "set":
        r = writer.put(f"/api/v1/counts/{cid}", {"value": 1})
    else:
        r = writer.post(f"/api/v1/counts/{cid}/{op}", {"amount": 1})
    assert_problem(r, 404, "not-found")


BAD_IDS = ["-x", "_x", ".x", "a%20b", "a!b", "x" * 129, "%C3%A9t%C3%A9", "a%2Cb"]


@pytest.mark.parametrize("bad", BAD_IDS, ids=lambda s: s[:20])
def test_invalid_id_in_path_is_422(writer, bad):
    assert_problem(writer.post(f"/api/v1/counts/{bad}/increment", {"amount": 1}), 422, "invalid-count-id")
    assert_problem(writer.post(f"/api/v1/counts/{bad}/decrement", {"amount": 1}), 422, "invalid-count-id")
    assert_problem(writer.put(f"/api/v1/counts/{bad}", {"value": 1}), 422, "invalid-count-id")


# ---------------------------------------------------------------- body validation

@pytest.mark.parametrize("amount", [0, -1, INT64_MAX + 1, 2**64, 1.5, "5", True, [1], {"n": 1}],
                         ids=repr)
def test_bad_amount_is_422(deployment, writer, amount):
    cid = deployment.create_counter(initialValue=100)["id"]
    assert_problem(writer.post(f"/api/v1/counts/{cid}/increment", {"amount": amount}), 422, "validation-error")
    assert_problem(writer.post(f"/api/v1/counts/{cid}/decrement", {"amount": amount}), 422, "validation-error")
    assert deployment.value(cid) == 100


def test_max_amount_accepted(deployment, writer):
    cid = deployment.create_counter(initialValue=0)["id"]
    assert_value_response(inc(writer, cid, INT64_MAX), cid, INT64_MAX)
    assert_value_response(dec(writer, cid, INT64_MAX), cid, 0)


@pytest.mark.parametrize("value", [1.5, "7", None, True, [1], INT64_MAX + 1, INT64_MIN - 1], ids=repr)
def test_bad_set_value_is_422(deployment, writer, value):
    cid = deployment.create_counter(initialValue=9)["id"]
    r = writer.put(f"/api/v1/counts/{cid}", {"value": value})
    # a value beyond int64 may be reported as a validation error or as overflow
    kinds = ["validation-error", "overflow"] if isinstance(value, int) and not isinstance(value, bool) \
        else ["validation-error"]
    assert_problem(r, 422, kinds)
    assert deployment.value(cid) == 9


def test_set_without_value_is_422(deployment, writer, counter):
    assert_problem(writer.put(f"/api/v1/counts/{counter}", {"description": "x"}), 422, "validation-error")
    assert_problem(writer.put(f"/api/v1/counts/{counter}", {}), 422, "validation-error")


def test_set_description_too_long_is_422(deployment, writer, counter):
    r = writer.put(f"/api/v1/counts/{counter}", {"value": 1, "description": "d" * 1025})
    assert_problem(r, 422, "validation-error")
    assert deployment.value(counter) == 0


def test_set_description_wrong_type_is_422(writer, counter):
    assert_problem(writer.put(f"/api/v1/counts/{counter}", {"value": 1, "description": 5}), 422,
                   "validation-error")


@pytest.mark.parametrize("body", [b"[1]", b"1", b"\"amount\"", b"null", b"true"], ids=repr)
def test_json_that_is_not_an_object_is_422(deployment, writer, counter, body):
    assert_problem(writer.post(f"/api/v1/counts/{counter}/increment", body=body), 422, "validation-error")
    assert_problem(writer.put(f"/api/v1/counts/{counter}", body=body), 422, "validation-error")
    assert deployment.value(counter) == 0


@pytest.mark.parametrize("body", [b"{\"amount\":", b"{amount: 1}", b"{\"amount\": 1,}", b"\xff\xfe",
                                  b"{\"amount\": 1} trailing", b"{'amount': 1}"], ids=repr)
def test_malformed_json_is_400(deployment, writer, counter, body):
    assert_problem(writer.post(f"/api/v1/counts/{counter}/increment", body=body), 400, "malformed-json")
    assert_problem(writer.put(f"/api/v1/counts/{counter}", body=body), 400, "malformed-json")
    assert deployment.value(counter) == 0


@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded", "application/xml"])
def test_wrong_content_type_is_415(deployment, writer, counter, ctype):
    r = writer.post(f"/api/v1/counts/{counter}/increment", body=b'{"amount": 1}', content_type=ctype)
    assert_problem(r, 415, "unsupported-media-type")
    r = writer.put(f"/api/v1/counts/{counter}", body=b'{"value": 1}', content_type=ctype)
    assert_problem(r, 415, "unsupported-media-type")
    assert deployment.value(counter) == 0


def test_body_without_content_type_is_415(deployment, writer, counter):
    r = writer.post(f"/api/v1/counts/{counter}/increment", body=b'{"amount": 1}', content_type=None)
    assert_problem(r, 415, "unsupported-media-type")
    assert deployment.value(counter) == 0


def test_body_over_64k_is_413(deployment, writer, counter):
    body = ('{"amount": 1, "pad": "' + "x" * (64 * 1024) + '"}').encode()
    assert_problem(writer.post(f"/api/v1/counts/{counter}/increment", body=body), 413, "payload-too-large")
    assert_problem(writer.put(f"/api/v1/counts/{counter}",
                              body=('{"value": 5, "pad": "' + "x" * 70000 + '"}').encode()),
                   413, "payload-too-large")
    assert deployment.value(counter) == 0
    # the service still answers afterwards
    assert_value_response(inc(writer, counter), counter, 1)


def test_body_just_under_64k_is_accepted(writer, counter):
    prefix, suffix = '{"amount": 1, "pad": "', '"}'
    body = (prefix + "x" * (64 * 1024 - len(prefix) - len(suffix)) + suffix).encode()
    assert len(body) == 64 * 1024
    assert_value_response(writer.post(f"/api/v1/counts/{counter}/increment", body=body), counter, 1)


# ---------------------------------------------------------------- int64 and bounds

def test_int64_max_exact(deployment, writer):
    cid = deployment.create_counter(initialValue=INT64_MAX - 1)["id"]
    assert_value_response(inc(writer, cid), cid, INT64_MAX)
    assert deployment.value(cid) == INT64_MAX


def test_increment_past_int64_max_is_overflow(deployment, writer):
    cid = deployment.create_counter(initialValue=INT64_MAX)["id"]
    assert_problem(inc(writer, cid, 1), 422, "overflow")
    assert deployment.value(cid) == INT64_MAX
    cid2 = deployment.create_counter(initialValue=1)["id"]
    assert_problem(inc(writer, cid2, INT64_MAX), 422, "overflow")
    assert deployment.value(cid2) == 1


def test_decrement_past_int64_min_is_overflow(deployment, writer):
    cid = deployment.create_counter(initialValue=INT64_MIN)["id"]
    assert_problem(dec(writer, cid, 1), 422, "overflow")
    assert deployment.value(cid) == INT64_MIN
    cid2 = deployment.create_counter(initialValue=-2)["id"]
    assert_problem(dec(writer, cid2, INT64_MAX), 422, "overflow")
    assert deployment.value(cid2) == -2


def test_decrement_to_int64_min_exact(deployment, writer):
    cid = deployment.create_counter(initialValue=-1)["id"]
    assert_value_response(dec(writer, cid, INT64_MAX), cid, INT64_MIN)
    assert deployment.value(cid) == INT64_MIN


def test_set_int64_extremes(deployment, writer, counter):
    assert_value_response(writer.put(f"/api/v1/counts/{counter}", {"value": INT64_MAX}), counter, INT64_MAX)
    assert deployment.value(counter) == INT64_MAX
    assert_value_response(writer.put(f"/api/v1/counts/{counter}", {"value": INT64_MIN}), counter, INT64_MIN)
    assert deployment.value(counter) == INT64_MIN


def test_values_beyond_2_pow_53_stay_exact(deployment, writer, counter):
    big = 2**53 + 1  # not representable as a double
    assert_value_response(writer.put(f"/api/v1/counts/{counter}", {"value": big}), counter, big)
    assert_value_response(inc(writer, counter, 2), counter, big + 2)
    assert_value_response(inc(writer, counter, 2**60 + 3), counter, big + 2 + 2**60 + 3)
    assert deployment.value(counter) == big + 2 + 2**60 + 3
    assert_value_response(dec(writer, counter, 1), counter, big + 2**60 + 4)


def test_bounds_refuse_increment_and_decrement(deployment, writer):
    cid = deployment.create_counter(initialValue=9, minValue=0, maxValue=10)["id"]
    assert_value_response(inc(writer, cid), cid, 10)
    assert_problem(inc(writer, cid), 422, "out-of-bounds")
    assert deployment.value(cid) == 10
    assert_value_response(dec(writer, cid, 10), cid, 0)
    assert_problem(dec(writer, cid), 422, "out-of-bounds")
    assert_problem(dec(writer, cid, INT64_MAX), 422, ["out-of-bounds", "overflow"])
    assert deployment.value(cid) == 0


def test_bounds_refuse_set(deployment, writer):
    cid = deployment.create_counter(initialValue=5, minValue=-3, maxValue=10)["id"]
    assert_problem(writer.put(f"/api/v1/counts/{cid}", {"value": 11}), 422, "out-of-bounds")
    assert_problem(writer.put(f"/api/v1/counts/{cid}", {"value": -4}), 422, "out-of-bounds")
    assert deployment.value(cid) == 5
    assert_value_response(writer.put(f"/api/v1/counts/{cid}", {"value": 10}), cid, 10)
    assert_value_response(writer.put(f"/api/v1/counts/{cid}", {"value": -3}), cid, -3)


def test_one_sided_bounds(deployment, writer):
    lo = deployment.create_counter(initialValue=0, minValue=0)["id"]
    assert_problem(dec(writer, lo), 422, "out-of-bounds")
    assert_value_response(inc(writer, lo, INT64_MAX), lo, INT64_MAX)
    hi = deployment.create_counter(initialValue=0, maxValue=0)["id"]
    assert_problem(inc(writer, hi), 422, "out-of-bounds")
    assert_value_response(dec(writer, hi, INT64_MAX), hi, -INT64_MAX)


def test_refused_write_leaves_updated_at(deployment, admin, writer):
    cid = deployment.create_counter(initialValue=1, maxValue=1)["id"]
    before = assert_json(admin.get(f"/management/api/v1/counts/{cid}"))
    assert_problem(inc(writer, cid), 422, "out-of-bounds")
    after = assert_json(admin.get(f"/management/api/v1/counts/{cid}"))
    assert after["value"] == 1
    assert after["updatedAt"] == before["updatedAt"]
    assert_timestamp(after["updatedAt"])


# --------------------------------------------------------------------------- WRITE_ACK (docs/API.md, "Durability")


@pytest.mark.services_only
def test_write_ack_other_than_redis_or_kafka_stops_the_write_service(deployment, scratch):
    proc, _ = support.start_service("count-write-service", deployment.infra, deployment.keys, scratch,
                                    wait=False, env_overrides={"WRITE_ACK": "disk"})
    try:
        assert proc.wait(15) == 2, proc.output_tail()
        assert "WRITE_ACK" in proc.stderr() + proc.stdout(), proc.output_tail()
    finally:
        proc.stop()


@pytest.mark.standalone_only
@pytest.mark.parametrize("ack", ["kafka", "replica"])
def test_write_ack_kafka_or_replica_stops_standalone(deployment, scratch, ack):
    """Standalone has no Kafka and no replica: an answered write is in its one SQLite file already."""
    proc, _ = support.start_standalone(scratch, scratch / "data", deployment.keys, wait=False,
                                       env_overrides={"WRITE_ACK": ack})
    try:
        assert proc.wait(15) == 2, proc.output_tail()
        assert "WRITE_ACK" in proc.stderr() + proc.stdout(), proc.output_tail()
    finally:
        proc.stop()
