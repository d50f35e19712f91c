"""docs/API.md, "Read": single and batch reads (eventually consistent in services mode)."""
from __future__ import annotations

import pytest

from support import (INT64_MAX, INT64_MIN, assert_json, assert_problem, assert_timestamp,
                     eventually, http_request, unique_id)


def test_read_single(deployment, reader, writer):
    cid = deployment.create_counter(description="likes on post 7", initialValue=3)["id"]
    writer.post(f"/api/v1/counts/{cid}/increment", {"amount": 4})
    body = deployment.read_eventually(cid, 7)
    assert set(body) >= {"id", "value", "description", "updatedAt", "createdAt"}, body
    assert body["id"] == cid
    assert body["description"] == "likes on post 7"
    assert_timestamp(body["updatedAt"])
    assert_timestamp(body["createdAt"])
    assert body["updatedAt"] >= body["createdAt"]
    r = reader.get(f"/api/v1/counts/{cid}")
    assert r.content_type == "application/json", r.describe()


def test_read_follows_every_kind_of_write(deployment, writer):
    cid = deployment.create_counter()["id"]
    writer.post(f"/api/v1/counts/{cid}/increment", {"amount": 10})
    deployment.read_eventually(cid, 10)
    writer.post(f"/api/v1/counts/{cid}/decrement", {"amount": 4})
    deployment.read_eventually(cid, 6)
    writer.put(f"/api/v1/counts/{cid}", {"value": -100})
    deployment.read_eventually(cid, -100)
    writer.post("/api/v1/counts:batch", {"operations": [{"id": cid, "op": "set", "value": 5}]})
    deployment.read_eventually(cid, 5)


def test_read_int64_extremes_exact(deployment, writer):
    for v in (INT64_MAX, INT64_MIN, 2**53 + 1, -(2**53) - 1):
        cid = deployment.create_counter(initialValue=v)["id"]
        body = deployment.read_eventually(cid, v)
        assert type(body["value"]) is int and body["value"] == v


def test_read_unknown_is_404(reader):
    assert_problem(reader.get(f"/api/v1/counts/{unique_id('nope')}"), 404, "not-found")


@pytest.mark.parametrize("bad", ["-x", "a%20b", "x" * 129, "_y"], ids=lambda s: s[:12])
def test_read_invalid_id_is_422(reader, bad):
    assert_problem(reader.get(f"/api/v1/counts/{bad}"), 422, "invalid-count-id")


def test_read_batch_in_request_order(deployment, reader):
    a = deployment.create_counter(initialValue=1, description="a")["id"]
    b = deployment.create_counter(initialValue=2)["id"]
    c = deployment.create_counter(initialValue=3)["id"]
    gone = unique_id("gone")

    def check():
        r = reader.get(f"/api/v1/counts?ids={c},{gone},{a},{b}")
        body = assert_json(r)
        if len(body.get("counts", [])) < 3:
            return None
        return body
    body = eventually(check, message="batch read sees all three")
    assert [x["id"] for x in body["counts"]] == [c, a, b], body
    assert [x["value"] for x in body["counts"]] == [3, 1, 2], body
    assert body["missing"] == [gone], body
    rec_a = body["counts"][1]
    assert set(rec_a) >= {"id", "value", "description", "updatedAt", "createdAt"}, rec_a
    assert rec_a["description"] == "a"


def test_read_batch_all_missing(reader):
    ids = [unique_id("m") for _ in range(3)]
    body = assert_json(reader.get("/api/v1/counts?ids=" + ",".join(ids)))
    assert body == {"counts": [], "missing": ids}


def test_read_batch_100_ids(deployment, reader):
    ids = [unique_id("h") for _ in range(100)]
    body = assert_json(reader.get("/api/v1/counts?ids=" + ",".join(ids)))
    assert body["missing"] == ids and body["counts"] == []


@pytest.mark.parametrize("query", ["", "?ids=", "?other=x"], ids=repr)
def test_read_batch_without_ids_is_422(reader, query):
    assert_problem(reader.get("/api/v1/counts" + query), 422, "validation-error")


@pytest.mark.parametrize("query", ["?ids=,", "?ids=a,,b", "?ids=a,"], ids=repr)
def test_read_batch_empty_id_in_list_is_422(reader, query):
    # an empty element is either "no id" or "an invalid id"; both are 422
    assert_problem(reader.get("/api/v1/counts" + query), 422, ["validation-error", "invalid-count-id"])


def test_read_batch_101_ids_is_422(reader):
    ids = [unique_id("h") for _ in range(101)]
    assert_problem(reader.get("/api/v1/counts?ids=" + ",".join(ids)), 422, "validation-error")


def test_read_batch_invalid_id_is_422(reader, counter):
    assert_problem(reader.get(f"/api/v1/counts?ids={counter},-bad"), 422, "invalid-count-id")
    assert_problem(reader.get(f"/api/v1/counts?ids={counter},{'x' * 129}"), 422, "invalid-count-id")


def test_read_scopes(deployment, counter):
    assert deployment.admin.get(f"/api/v1/counts/{counter}").status in (200, 404)
    assert_problem(deployment.writer.get(f"/api/v1/counts/{counter}"), 403, "forbidden")
    deployment.read_eventually(counter, 0)


@pytest.mark.services_only
def test_write_service_serves_strong_reads(deployment, writer):
    cid = deployment.create_counter()["id"]
    port = deployment.ports["write"]
    for i in range(1, 21):
        writer.post(f"/api/v1/counts/{cid}/increment", {"amount": 1})
        r = http_request(port, "GET", f"/api/v1/counts/{cid}",
                         headers={"Authorization": f"Bearer {deployment.keys.admin}"})
        body = assert_json(r)
        assert body["id"] == cid and body["value"] == i, r.describe()


@pytest.mark.services_only
def test_read_service_has_no_write_routes(deployment):
    port = deployment.ports["read"]
    r = http_request(port, "POST", f"/api/v1/counts/{unique_id()}/increment", body=b"{}",
                     headers={"Authorization": f"Bearer {deployment.keys.admin}",
                              "Content-Type": "application/json"})
    assert r.status in (404, 405), r.describe()
