"""docs/API.md, "Management": counter CRUD and listing (scope admin)."""
from __future__ import annotations

import json
import urllib.parse

import pytest

from support import INT64_MAX, INT64_MIN, assert_json, assert_problem, assert_timestamp, unique_id

BASE = "/management/api/v1/counts"
RECORD_FIELDS = {"id", "description", "minValue", "maxValue", "value", "createdAt", "updatedAt"}


def check_record(rec: dict) -> None:
    assert set(rec) >= RECORD_FIELDS, rec
    assert_timestamp(rec["createdAt"])
    assert_timestamp(rec["updatedAt"])
    assert type(rec["value"]) is int


def test_create_minimal(admin):
    cid = unique_id()
    r = admin.post(BASE, {"id": cid})
    rec = assert_json(r, 201)
    check_record(rec)
    assert rec["id"] == cid
    assert rec["value"] == 0
    assert rec["description"] == ""
    assert rec["minValue"] is None and rec["maxValue"] is None
    loc = r.header("Location") or ""
    assert loc.endswith(f"{BASE}/{cid}"), r.describe() + f" Location={loc!r}"


def test_create_full(admin):
    cid = unique_id()
    r = admin.post(BASE, {"id": cid, "description": "stock of sku 1", "initialValue": 5,
                          "minValue": 0, "maxValue": 100})
    rec = assert_json(r, 201)
    assert (rec["description"], rec["value"], rec["minValue"], rec["maxValue"]) == ("stock of sku 1", 5, 0, 100)
    assert assert_json(admin.get(f"{BASE}/{cid}")) == rec


def test_create_int64_extremes(admin):
    cid = unique_id()
    rec = assert_json(admin.post(BASE, {"id": cid, "initialValue": INT64_MAX, "minValue": INT64_MIN,
                                        "maxValue": INT64_MAX}), 201)
    assert (rec["value"], rec["minValue"], rec["maxValue"]) == (INT64_MAX, INT64_MIN, INT64_MAX)
    got = assert_json(admin.get(f"{BASE}/{cid}"))
    assert (got["value"], got["minValue"], got["maxValue"]) == (INT64_MAX, INT64_MIN, INT64_MAX)


def test_create_duplicate_is_409(deployment, admin):
    cid = deployment.create_counter(initialValue=7)["id"]
    assert_problem(admin.post(BASE, {"id": cid, "initialValue": 1}), 409, "already-exists")
    assert deployment.value(cid) == 7


def test_create_description_limit(admin):
    ok = assert_json(admin.post(BASE, {"id": unique_id(), "description": "d" * 1024}), 201)
    assert len(ok["description"]) == 1024
    cid = unique_id()
    assert_problem(admin.post(BASE, {"id": cid, "description": "d" * 1025}), 422, "validation-error")
    assert_problem(admin.get(f"{BASE}/{cid}"), 404, "not-found")


def test_create_unicode_description(admin):
    cid = unique_id()
    desc = "조회수 — views 👀 \"quoted\" \\ back"
    rec = assert_json(admin.post(BASE, {"id": cid, "description": desc}), 201)
    assert rec["description"] == desc
    assert assert_json(admin.get(f"{BASE}/{cid}"))["description"] == desc


@pytest.mark.parametrize("fields", [
    {"minValue": 10, "maxValue": 5},
    {"initialValue": -1, "minValue": 0},
    {"initialValue": 11, "maxValue": 10},
    {"initialValue": 1.5},
    {"initialValue": "1"},
    {"initialValue": INT64_MAX + 1},
    {"minValue": "0"},
    {"description": 5},
], ids=json.dumps)
def test_create_validation(admin, fields):
    cid = unique_id()
    assert_problem(admin.post(BASE, {"id": cid, **fields}), 422, "validation-error")
    assert_problem(admin.get(f"{BASE}/{cid}"), 404, "not-found")


def test_create_without_id_is_422(admin):
    assert_problem(admin.post(BASE, {"description": "x"}), 422, "validation-error")
    assert_problem(admin.post(BASE, {"id": 5}), 422, ["validation-error", "invalid-count-id"])


@pytest.mark.parametrize("bad", ["-x", "", "a b", "x" * 129, "é", "a/b", "a,b"], ids=repr)
def test_create_invalid_id_is_422(admin, bad):
    kinds = ["invalid-count-id", "validation-error"] if bad == "" else "invalid-count-id"
    assert_problem(admin.post(BASE, {"id": bad}), 422, kinds)


def test_create_body_errors(admin):
    assert_problem(admin.post(BASE, body=b'{"id": '), 400, "malformed-json")
    assert_problem(admin.post(BASE, body=b'{"id": "x"}', content_type="text/plain"), 415,
                   "unsupported-media-type")
    assert_problem(admin.post(BASE, body=b'["x"]'), 422, "validation-error")
    big = ('{"id": "' + unique_id() + '", "description": "' + "d" * 70000 + '"}').encode()
    assert_problem(admin.post(BASE, body=big), 413, "payload-too-large")


def test_get(deployment, admin):
    rec = deployment.create_counter(description="x", initialValue=4)
    got = assert_json(admin.get(f"{BASE}/{rec['id']}"))
    check_record(got)
    assert got == rec


def test_get_unknown_and_invalid(admin):
    assert_problem(admin.get(f"{BASE}/{unique_id()}"), 404, "not-found")
    assert_problem(admin.get(f"{BASE}/-bad"), 422, "invalid-count-id")


def test_get_reflects_writes(deployment, admin, writer, counter):
    writer.post(f"/api/v1/counts/{counter}/increment", {"amount": 9})
    got = assert_json(admin.get(f"{BASE}/{counter}"))
    assert got["value"] == 9


def test_patch_description(deployment, admin):
    rec = deployment.create_counter(description="old", initialValue=3, minValue=0, maxValue=10)
    r = admin.patch(f"{BASE}/{rec['id']}", {"description": "new"})
    got = assert_json(r)
    check_record(got)
    assert got["description"] == "new"
    assert (got["value"], got["minValue"], got["maxValue"]) == (3, 0, 10)  # untouched
    assert got["createdAt"] == rec["createdAt"]
    assert got["updatedAt"] >= rec["updatedAt"]
    assert assert_json(admin.get(f"{BASE}/{rec['id']}"))["description"] == "new"


def test_patch_bounds_and_clear(deployment, admin, writer):
    cid = deployment.create_counter(initialValue=5)["id"]
    got = assert_json(admin.patch(f"{BASE}/{cid}", {"minValue": 0, "maxValue": 5}))
    assert (got["minValue"], got["maxValue"]) == (0, 5)
    assert_problem(writer.post(f"/api/v1/counts/{cid}/increment"), 422, "out-of-bounds")
    got = assert_json(admin.patch(f"{BASE}/{cid}", {"maxValue": None}))
    assert (got["minValue"], got["maxValue"]) == (0, None)
    assert writer.post(f"/api/v1/counts/{cid}/increment").status == 200
    got = assert_json(admin.patch(f"{BASE}/{cid}", {"minValue": None}))
    assert (got["minValue"], got["maxValue"]) == (None, None)
    assert assert_json(admin.get(f"{BASE}/{cid}"))["minValue"] is None


def test_patch_empty_body_changes_nothing(deployment, admin):
    rec = deployment.create_counter(description="same", initialValue=1, minValue=0)
    got = assert_json(admin.patch(f"{BASE}/{rec['id']}", {}))
    assert (got["description"], got["value"], got["minValue"], got["maxValue"]) == ("same", 1, 0, None)


def test_patch_bounds_excluding_current_value_is_refused(deployment, admin):
    rec = deployment.create_counter(initialValue=50, minValue=0, maxValue=100)
    cid = rec["id"]
    assert_problem(admin.patch(f"{BASE}/{cid}", {"maxValue": 49}), 422, "out-of-bounds")
    assert_problem(admin.patch(f"{BASE}/{cid}", {"minValue": 51}), 422, "out-of-bounds")
    got = assert_json(admin.get(f"{BASE}/{cid}"))
    assert (got["minValue"], got["maxValue"], got["value"]) == (0, 100, 50)


@pytest.mark.parametrize("fields", [
    {"description": "d" * 1025},
    {"description": 3},
    {"maxValue": "9"},
    {"minValue": 1.5},
], ids=json.dumps)
def test_patch_validation(deployment, admin, fields):
    rec = deployment.create_counter(description="keep", initialValue=50, minValue=0, maxValue=100)
    assert_problem(admin.patch(f"{BASE}/{rec['id']}", fields), 422, "validation-error")
    assert assert_json(admin.get(f"{BASE}/{rec['id']}")) == rec


@pytest.mark.parametrize("fields", [
    {"minValue": 10, "maxValue": 5},
    {"minValue": 200},  # above the existing maxValue
], ids=json.dumps)
def test_patch_inverted_bounds_is_422(deployment, admin, fields):
    # the value (50) also lies outside the new bounds, so either refusal is right
    rec = deployment.create_counter(description="keep", initialValue=50, minValue=0, maxValue=100)
    assert_problem(admin.patch(f"{BASE}/{rec['id']}", fields), 422, ["validation-error", "out-of-bounds"])
    assert assert_json(admin.get(f"{BASE}/{rec['id']}")) == rec


def test_patch_inverted_bounds_around_value_is_422(deployment, admin):
    rec = deployment.create_counter(initialValue=0)
    assert_problem(admin.patch(f"{BASE}/{rec['id']}", {"minValue": 1, "maxValue": -1}), 422,
                   ["validation-error", "out-of-bounds"])
    assert assert_json(admin.get(f"{BASE}/{rec['id']}")) == rec


def test_patch_unknown_and_invalid(admin):
    assert_problem(admin.patch(f"{BASE}/{unique_id()}", {"description": "x"}), 404, "not-found")
    assert_problem(admin.patch(f"{BASE}/-bad", {"description": "x"}), 422, "invalid-count-id")


def test_patch_body_errors(admin, counter):
    assert_problem(admin.patch(f"{BASE}/{counter}", body=b"{"), 400, "malformed-json")
    assert_problem(admin.patch(f"{BASE}/{counter}", body=b"{}", content_type="text/plain"), 415,
                   "unsupported-media-type")
    assert_problem(admin.patch(f"{BASE}/{counter}", body=b"[]"), 422, "validation-error")


def test_delete_removes_everywhere(deployment, admin, writer):
    cid = deployment.create_counter(initialValue=12)["id"]
    deployment.read_eventually(cid, 12)
    r = admin.delete(f"{BASE}/{cid}")
    assert r.status == 204, r.describe()
    assert r.body == b""
    assert_problem(admin.get(f"{BASE}/{cid}"), 404, "not-found")
    assert_problem(writer.post(f"/api/v1/counts/{cid}/increment"), 404, "not-found")
    assert_problem(writer.put(f"/api/v1/counts/{cid}", {"value": 1}), 404, "not-found")
    deployment.read_404_eventually(cid)
    assert_problem(deployment.reader.get(f"/api/v1/counts/{cid}"), 404, "not-found")
    body = assert_json(deployment.reader.get(f"/api/v1/counts?ids={cid}"))
    assert body == {"counts": [], "missing": [cid]}
    assert_problem(admin.delete(f"{BASE}/{cid}"), 404, "not-found")


def test_delete_then_recreate_starts_fresh(deployment, admin):
    cid = deployment.create_counter(initialValue=99, description="first")["id"]
    assert admin.delete(f"{BASE}/{cid}").status == 204
    rec = assert_json(admin.post(BASE, {"id": cid}), 201)
    assert (rec["value"], rec["description"], rec["minValue"]) == (0, "", None)
    deployment.read_eventually(cid, 0)


def test_delete_invalid_id(admin):
    assert_problem(admin.delete(f"{BASE}/-bad"), 422, "invalid-count-id")


# ---------------------------------------------------------------- listing

def list_all(admin, prefix, limit):
    seen, cursor, pages = [], None, 0
    while True:
        q = {"prefix": prefix, "limit": str(limit)}
        if cursor:
            q["cursor"] = cursor
        body = assert_json(admin.get(f"{BASE}?{urllib.parse.urlencode(q)}"))
        assert set(body) >= {"items", "nextCursor"}, body
        assert len(body["items"]) <= limit
        seen += body["items"]
        pages += 1
        cursor = body["nextCursor"]
        if cursor is None:
            return seen, pages
        assert isinstance(cursor, str) and cursor, body
        assert pages < 100, "cursor never ends"


def test_list_with_prefix_and_pagination(deployment, admin):
    prefix = unique_id("list") + "."
    ids = sorted(f"{prefix}{i:02d}" for i in range(5))
    for i, cid in enumerate(ids):
        deployment.create_counter(cid, initialValue=i)
    deployment.create_counter(prefix.rstrip(".") + "-other")  # shares all but the last char
    items, pages = list_all(admin, prefix, 2)
    assert pages == 3
    assert sorted(x["id"] for x in items) == ids, items
    assert len({x["id"] for x in items}) == 5
    for x in items:
        check_record(x)
        assert x["value"] == ids.index(x["id"])


def test_list_exact_page_boundary(deployment, admin):
    prefix = unique_id("edge") + "-"
    for i in range(4):
        deployment.create_counter(f"{prefix}{i}")
    items, _ = list_all(admin, prefix, 2)
    assert sorted(x["id"] for x in items) == [f"{prefix}{i}" for i in range(4)]


def test_list_default_limit_is_50(deployment, admin):
    prefix = unique_id("dflt") + "-"
    for i in range(51):
        deployment.create_counter(f"{prefix}{i:03d}")
    body = assert_json(admin.get(f"{BASE}?prefix={prefix}"))
    assert len(body["items"]) == 50
    assert isinstance(body["nextCursor"], str)
    rest = assert_json(admin.get(f"{BASE}?prefix={prefix}&cursor={urllib.parse.quote(body['nextCursor'])}"))
    assert len(rest["items"]) == 1 and rest["nextCursor"] is None
    got = {x["id"] for x in body["items"]} | {x["id"] for x in rest["items"]}
    assert got == {f"{prefix}{i:03d}" for i in range(51)}


def test_list_limit_1000_accepted(admin):
    body = assert_json(admin.get(f"{BASE}?limit=1000"))
    assert len(body["items"]) <= 1000


def test_list_without_prefix_sees_new_counter(deployment, admin):
    cid = deployment.create_counter()["id"]
    items, _ = list_all(admin, "", 1000)
    assert cid in {x["id"] for x in items}


def test_list_empty_prefix_result(admin):
    body = assert_json(admin.get(f"{BASE}?prefix={unique_id('none')}"))
    assert body == {"items": [], "nextCursor": None}


@pytest.mark.parametrize("limit", ["0", "1001", "-1", "abc", "1.5"])
def test_list_bad_limit_is_422(admin, limit):
    assert_problem(admin.get(f"{BASE}?limit={limit}"), 422, "validation-error")


def test_list_bad_cursor_is_422(admin):
    r = admin.get(f"{BASE}?cursor=%%%not-a-cursor")
    assert r.status in (400, 422), r.describe()
    assert r.content_type == "application/problem+json", r.describe()


def test_deleted_counter_leaves_list(deployment, admin):
    prefix = unique_id("del") + "-"
    a = deployment.create_counter(prefix + "a")["id"]
    b = deployment.create_counter(prefix + "b")["id"]
    assert admin.delete(f"{BASE}/{a}").status == 204
    items, _ = list_all(admin, prefix, 10)
    assert [x["id"] for x in items] == [b]


def test_delete_with_purge_history(deployment, admin):
    cid = deployment.create_counter(initialValue=3)["id"]
    r = admin.delete(f"{BASE}/{cid}?purgeHistory=true")
    assert r.status == 204, r.describe()
    assert_problem(admin.get(f"{BASE}/{cid}"), 404, "not-found")
