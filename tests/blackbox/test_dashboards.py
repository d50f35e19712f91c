"""docs/API.md, "Dashboards": configuration CRUD and the summary (scope admin), both modes."""
from __future__ import annotations

import copy
import json
import time

import pytest

import support
from support import assert_json, assert_problem, assert_status, assert_timestamp, eventually, unique_id

BASE = "/dashboard/api/v1/dashboards"
SUMMARY = "/dashboard/api/v1/summary"
WIDGET_FIELDS = {"id", "type", "title", "countIds", "chartType", "period", "unit", "layout"}


def layout(x=0, y=0, w=4, h=2):
    return {"x": x, "y": y, "w": w, "h": h}


def full_body(dash_id, a, b):
    """A dashboard with one widget of every type, each with its options."""
    return {"id": dash_id, "name": "Shop — 조회수 \"live\"", "widgets": [
        {"id": "value", "type": "count", "title": "Views", "countIds": [a], "layout": layout(0, 0, 3, 2)},
        {"id": "chart", "type": "chart", "title": "Per hour", "countIds": [a, b], "chartType": "bar",
         "period": "24h", "unit": "hour", "layout": layout(3, 0, 9, 4)},
        {"id": "stat", "type": "stat", "title": "All counters", "countIds": [], "period": "7d",
         "layout": layout(0, 4, 12, 1)},
        {"id": "cmp", "type": "analysis", "title": "", "countIds": [a, b], "chartType": "comparison",
         "period": "30d", "unit": "day", "layout": layout(0, 5, 6, 6)},
    ]}


def check_dashboard(d, body):
    assert set(d) == {"id", "name", "widgets", "createdAt", "updatedAt", "version"}, d
    assert isinstance(d["version"], int), d
    assert_timestamp(d["createdAt"])
    assert_timestamp(d["updatedAt"])
    assert d["id"] == body["id"] and d["name"] == body["name"], d
    assert len(d["widgets"]) == len(body["widgets"]), d
    for got, sent in zip(d["widgets"], body["widgets"]):
        assert set(got) == WIDGET_FIELDS, got
        for k in WIDGET_FIELDS:
            assert got[k] == sent.get(k, None if k in ("chartType", "period", "unit") else ""), (k, got, sent)


@pytest.fixture
def two(deployment):
    return deployment.create_counter()["id"], deployment.create_counter()["id"]


@pytest.fixture
def dashboard(admin, two):
    body = full_body(unique_id("dash"), *two)
    return assert_json(admin.post(BASE, body), 201)


# --------------------------------------------------------------------------- success


def test_create_get_full(admin, two):
    body = full_body(unique_id("dash"), *two)
    r = admin.post(BASE, body)
    d = assert_json(r, 201)
    check_dashboard(d, body)
    assert d["createdAt"] == d["updatedAt"]
    assert (r.header("Location") or "").endswith(f"{BASE}/{body['id']}"), r.describe()
    assert assert_json(admin.get(f"{BASE}/{body['id']}")) == d


def test_create_minimal_and_server_named(admin):
    d = assert_json(admin.post(BASE, {"name": "empty"}), 201)
    assert d["widgets"] == [] and d["name"] == "empty"
    assert isinstance(d["id"], str) and d["id"], d
    assert assert_json(admin.get(f"{BASE}/{d['id']}")) == d


def test_nulls_read_as_absent(admin, counter):
    body = {"id": unique_id("dash"), "name": "n", "widgets": [
        {"id": "w", "type": "count", "title": None, "countIds": [counter], "chartType": None,
         "period": None, "unit": None, "layout": layout()}]}
    d = assert_json(admin.post(BASE, body), 201)
    assert d["widgets"][0]["title"] == "" and d["widgets"][0]["chartType"] is None, d


def test_list(admin, dashboard):
    other = assert_json(admin.post(BASE, {"id": "0-" + unique_id(), "name": "first"}), 201)
    items = assert_json(admin.get(BASE))["items"]
    ids = [d["id"] for d in items]
    assert ids == sorted(ids), ids
    assert dashboard in items and other in items


def test_put_replaces_and_keeps_created_at(admin, dashboard, counter):
    body = {"name": "renamed", "widgets": [
        {"id": "only", "type": "chart", "countIds": [counter], "chartType": "line", "period": "1h",
         "unit": "minute", "layout": layout(6, 2, 6, 3)}]}
    d = assert_json(admin.put(f"{BASE}/{dashboard['id']}", body), 200)
    check_dashboard(d, {"id": dashboard["id"], **body})
    assert d["createdAt"] == dashboard["createdAt"]
    assert d["updatedAt"] >= dashboard["updatedAt"]
    assert assert_json(admin.get(f"{BASE}/{dashboard['id']}")) == d


def test_stale_save_is_409_edit_conflict(admin, dashboard):
    """Two editors load one version; the first save wins, the second (If-Match of the old
    version) gets 409 and changes nothing; a save against the current ETag goes through."""
    path = f"{BASE}/{dashboard['id']}"
    got = admin.get(path)
    etag = got.header("ETag")
    assert etag == f'"{dashboard["version"]}"', got.describe()
    first = admin.put(path, {**dashboard, "name": "first"}, headers={"If-Match": etag})
    assert_json(first, 200)
    assert first.header("ETag") != etag and assert_json(first)["version"] > dashboard["version"], first.describe()
    second = admin.put(path, {**dashboard, "name": "second"}, headers={"If-Match": etag})
    assert_problem(second, 409, "edit-conflict")
    assert assert_json(admin.get(path))["name"] == "first"
    again = admin.put(path, {**dashboard, "name": "second"}, headers={"If-Match": first.header("ETag")})
    assert assert_json(again, 200)["name"] == "second"
    assert_problem(admin.put(path, dashboard, headers={"If-Match": "not-an-etag"}), 400, "malformed-request")
    assert assert_json(admin.get(path))["name"] == "second"


def test_get_body_can_be_put_back(admin, dashboard):
    again = assert_json(admin.put(f"{BASE}/{dashboard['id']}", dashboard), 200)
    assert {k: again[k] for k in ("id", "name", "widgets", "createdAt")} == \
        {k: dashboard[k] for k in ("id", "name", "widgets", "createdAt")}


def test_delete(admin, dashboard):
    path = f"{BASE}/{dashboard['id']}"
    r = admin.delete(path)
    assert_status(r, 204)
    assert r.body == b""
    assert_problem(admin.get(path), 404, "not-found")
    assert_problem(admin.delete(path), 404, "not-found")
    assert_problem(admin.put(path, {"name": "x"}), 404, "not-found")
    assert dashboard["id"] not in [d["id"] for d in assert_json(admin.get(BASE))["items"]]
    assert_json(admin.post(BASE, {"id": dashboard["id"], "name": "again"}), 201)  # id free again


def test_summary(deployment, admin):
    def summary():
        s = assert_json(admin.get(SUMMARY))
        assert set(s) == {"totalCounters", "totalValue", "averageValue", "lastUpdatedAt",
                          "totalDashboards"}, s
        return s

    def settled():  # services: earlier writes may still be on their way to the replica, and
        first = summary()  # the summary may be served from a cache for SUMMARY_CACHE_MS (1 s)
        time.sleep(1.1)
        return first if summary() == first else None

    before = eventually(settled, timeout=5, message="summary settles")
    a = deployment.create_counter(initialValue=10)["id"]
    deployment.create_counter(initialValue=-3)
    assert_json(admin.post(BASE, {"name": "summary", "widgets": [
        {"id": "w", "type": "count", "countIds": [a], "layout": layout()}]}), 201)

    def changed():  # services: values come from the replica. Earlier tests may have left a
        s = summary()  # total beyond int64, served as a double that +7 does not change.
        counted = s["totalCounters"] == before["totalCounters"] + 2
        return s if counted and s["totalValue"] == before["totalValue"] + 7 else None

    after = eventually(changed, timeout=5, message="summary counts the new values")
    assert after["totalDashboards"] == before["totalDashboards"] + 1
    assert after["averageValue"] == pytest.approx(after["totalValue"] / after["totalCounters"])
    assert_timestamp(after["lastUpdatedAt"])
    assert before["lastUpdatedAt"] is None or after["lastUpdatedAt"] >= before["lastUpdatedAt"]


# --------------------------------------------------------------------------- errors


def test_duplicate_is_409(admin, dashboard, counter):
    body = {"id": dashboard["id"], "name": "other"}
    assert_problem(admin.post(BASE, body), 409, "already-exists")
    assert assert_json(admin.get(f"{BASE}/{dashboard['id']}")) == dashboard


def test_unknown_counters_are_named(admin, counter):
    missing1, missing2 = unique_id("nope"), unique_id("nope")
    dash_id = unique_id("dash")
    body = {"id": dash_id, "name": "x", "widgets": [
        {"id": "a", "type": "chart", "countIds": [counter, missing1], "layout": layout()},
        {"id": "b", "type": "count", "countIds": [missing2], "layout": layout(4)}]}
    p = assert_problem(admin.post(BASE, body), 422, "unknown-count")
    assert missing1 in p["detail"] and missing2 in p["detail"] and counter not in p["detail"], p
    assert_problem(admin.get(f"{BASE}/{dash_id}"), 404, "not-found")


def test_put_with_unknown_counters_changes_nothing(admin, dashboard):
    body = copy.deepcopy(dashboard)
    body["widgets"][0]["countIds"] = [unique_id("nope")]
    assert_problem(admin.put(f"{BASE}/{dashboard['id']}", body), 422, "unknown-count")
    assert assert_json(admin.get(f"{BASE}/{dashboard['id']}")) == dashboard


def test_deleted_counter_keeps_the_dashboard_but_blocks_saving_it(deployment, admin):
    cid = deployment.create_counter()["id"]
    d = assert_json(admin.post(BASE, {"name": "x", "widgets": [
        {"id": "w", "type": "count", "countIds": [cid], "layout": layout()}]}), 201)
    assert_status(admin.delete(f"/management/api/v1/counts/{cid}"), 204)
    assert assert_json(admin.get(f"{BASE}/{d['id']}")) == d
    p = assert_problem(admin.put(f"{BASE}/{d['id']}", d), 422, "unknown-count")
    assert cid in p["detail"]


@pytest.mark.parametrize("bad", ["-x", "a b", "x" * 129, "é", "a,b", ""], ids=repr)
def test_invalid_dashboard_id_in_body(admin, bad):
    assert_problem(admin.post(BASE, {"id": bad, "name": "x"}), 422, "invalid-dashboard-id")


@pytest.mark.parametrize("bad", ["-x", "x" * 129, "a%20b", "%C3%A9"], ids=repr)
def test_invalid_dashboard_id_in_path(admin, bad):
    path = f"{BASE}/{bad}"
    assert_problem(admin.get(path), 422, "invalid-dashboard-id")
    assert_problem(admin.put(path, {"name": "x"}), 422, "invalid-dashboard-id")
    assert_problem(admin.delete(path), 422, "invalid-dashboard-id")


def test_put_id_must_match_the_path(admin, dashboard):
    body = {"id": unique_id("other"), "name": "x"}
    assert_problem(admin.put(f"{BASE}/{dashboard['id']}", body), 422, "validation-error")
    assert_problem(admin.get(f"{BASE}/{body['id']}"), 404, "not-found")


def W(**fields):
    """A valid count widget for counter {c}, with `fields` replacing its members (None drops one)."""
    w = {"id": "w", "type": "count", "countIds": ["{c}"], "layout": layout()}
    for k, v in fields.items():
        if v is None:
            w.pop(k, None)
        else:
            w[k] = v
    return w


DROP = "<drop>"  # a member of the base body to leave out

# name -> changes to a valid body ({c} is an existing counter); each is 422 validation-error
INVALID = {
    "name missing": {"name": DROP},
    "name null": {"name": None},
    "name empty": {"name": ""},
    "name blank": {"name": "   "},
    "name not a string": {"name": 5},
    "name too long": {"name": "n" * 201},
    "widgets not an array": {"widgets": {}},
    "widget not an object": {"widgets": [5]},
    "too many widgets": {"widgets": [W(id=f"w{i}", layout=layout(0, i, 1, 1)) for i in range(51)]},
    "widget id missing": {"widgets": [W(id=None)]},
    "widget id invalid": {"widgets": [W(id="-w")]},
    "widget ids repeat": {"widgets": [W(), W(layout=layout(4))]},
    "type missing": {"widgets": [W(type=None)]},
    "type unknown": {"widgets": [W(type="gauge")]},
    "title too long": {"widgets": [W(title="t" * 201)]},
    "title not a string": {"widgets": [W(title=5)]},
    "countIds not an array": {"widgets": [W(countIds="{c}")]},
    "countIds entry not a string": {"widgets": [W(countIds=[1])]},
    "countIds repeat": {"widgets": [W(countIds=["{c}", "{c}"])]},
    "countIds too many": {"widgets": [W(type="chart", countIds=[f"c{i}" for i in range(21)])]},
    "count without counters": {"widgets": [W(countIds=[])]},
    "chart without counters": {"widgets": [W(type="chart", countIds=None)]},
    "chartType on count": {"widgets": [W(chartType="line")]},
    "chartType unknown": {"widgets": [W(type="chart", chartType="pie")]},
    "analysis chartType": {"widgets": [W(type="analysis", chartType="line")]},
    "comparison of one": {"widgets": [W(type="analysis", chartType="comparison")]},
    "period on count": {"widgets": [W(period="1h")]},
    "period malformed": {"widgets": [W(type="chart", period="1y")]},
    "period too long": {"widgets": [W(type="chart", period="401d")]},
    "period not a string": {"widgets": [W(type="chart", period=24)]},
    "unit on stat": {"widgets": [W(type="stat", unit="hour")]},
    "unit unknown": {"widgets": [W(type="chart", unit="year")]},
    "too many buckets": {"widgets": [W(type="chart", period="2d", unit="minute")]},
    "no bucket": {"widgets": [W(type="chart", period="30m", unit="hour")]},
    "layout missing": {"widgets": [W(layout=None)]},
    "layout member missing": {"widgets": [W(layout={"x": 0, "y": 0, "w": 1})]},
    "layout not integers": {"widgets": [W(layout={"x": 0, "y": 0, "w": 1.5, "h": 1})]},
    "x negative": {"widgets": [W(layout=layout(x=-1))]},
    "y negative": {"widgets": [W(layout=layout(y=-1))]},
    "w zero": {"widgets": [W(layout=layout(w=0))]},
    "x + w beyond 12": {"widgets": [W(layout=layout(x=10, w=3))]},
    "h zero": {"widgets": [W(layout=layout(h=0))]},
    "h too tall": {"widgets": [W(layout=layout(h=25))]},
    "y too far": {"widgets": [W(layout=layout(y=10001))]},
}


def fill(template, cid):
    return json.loads(json.dumps(template).replace("{c}", cid))


@pytest.mark.parametrize("name", sorted(INVALID))
def test_validation(admin, dashboard, counter, name):
    body = fill({k: v for k, v in {"name": "valid", **INVALID[name]}.items() if v != DROP}, counter)
    dash_id = unique_id("dash")
    assert_problem(admin.post(BASE, {"id": dash_id, **body}), 422, "validation-error")
    assert_problem(admin.get(f"{BASE}/{dash_id}"), 404, "not-found")
    assert_problem(admin.put(f"{BASE}/{dashboard['id']}", body), 422, "validation-error")
    assert assert_json(admin.get(f"{BASE}/{dashboard['id']}")) == dashboard


def test_malformed_count_id_in_widget(admin):
    body = {"name": "x", "widgets": [W(countIds=["bad id"])]}
    assert_problem(admin.post(BASE, body), 422, "invalid-count-id")


def test_layout_edges_are_accepted(admin, counter):
    widgets = [W(id="a", layout=layout(0, 0, 12, 1)), W(id="b", layout=layout(11, 1, 1, 24)),
               W(id="c", layout=layout(0, 10000, 6, 1))]
    d = assert_json(admin.post(BASE, fill({"name": "edges", "widgets": widgets}, counter)), 201)
    assert [w["layout"] for w in d["widgets"]] == [w["layout"] for w in widgets]


def test_body_errors(admin, dashboard):
    for method, path in (("POST", BASE), ("PUT", f"{BASE}/{dashboard['id']}")):
        assert_problem(admin.request(method, path, body=b'{"name": '), 400, "malformed-json")
        assert_problem(admin.request(method, path, body=b'{"name": "x"}', content_type="text/plain"),
                       415, "unsupported-media-type")
        assert_problem(admin.request(method, path, body=b'["x"]'), 422, "validation-error")
        assert_problem(admin.request(method, path, body=b""), 422, "validation-error")
        big = json.dumps({"name": "x", "pad": "p" * 70000}).encode()
        assert_problem(admin.request(method, path, body=big), 413, "payload-too-large")
    assert assert_json(admin.get(f"{BASE}/{dashboard['id']}")) == dashboard


def test_method_not_allowed(admin, dashboard):
    assert_problem(admin.patch(f"{BASE}/{dashboard['id']}", {"name": "x"}), 405, "method-not-allowed")
    assert_problem(admin.delete(BASE), 405, "method-not-allowed")
    assert_problem(admin.post(SUMMARY, {}), 405, "method-not-allowed")


def test_auth(deployment, dashboard):
    routes = [("GET", BASE, None), ("POST", BASE, {"name": "x"}),
              ("GET", f"{BASE}/{dashboard['id']}", None),
              ("PUT", f"{BASE}/{dashboard['id']}", {"name": "x"}),
              ("DELETE", f"{BASE}/{dashboard['id']}", None), ("GET", SUMMARY, None)]
    for method, path, body in routes:
        kw = {} if body is None else {"json": body}
        assert_problem(deployment.anonymous.request(method, path, **kw), 401, "unauthorized")
        assert_problem(deployment.client("not-a-key").request(method, path, **kw), 401, "unauthorized")
        for client in (deployment.writer, deployment.reader):
            assert_problem(client.request(method, path, **kw), 403, "forbidden")
    assert assert_json(deployment.admin.get(f"{BASE}/{dashboard['id']}")) == dashboard


# --------------------------------------------------------------------------- the service itself


@pytest.mark.services_only
@pytest.mark.parametrize("setting", ["DATABASE_URL", "COUNTINFO_DATABASE_URL", "REDIS_REPLICA_URL"])
def test_missing_setting_stops_the_service(deployment, scratch, setting):
    overrides, setting = support.as_deployed(deployment.infra, {setting: None}, setting)
    proc, _ = support.start_service("dashboard-provision-service", deployment.infra, deployment.keys,
                                    scratch, wait=False, env_overrides=overrides)
    try:
        assert proc.wait(15) == 2, proc.output_tail()
        assert setting in proc.stderr() + proc.stdout(), proc.output_tail()
    finally:
        proc.stop()


@pytest.mark.services_only
def test_migrate_again_applies_nothing(deployment, scratch):
    support.migrate(deployment.infra, scratch)
    log = (scratch / "migrate-dashboardconfig.log").read_text()
    assert '"applied":0' in log.replace(" ", ""), log
