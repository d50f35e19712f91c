"""docs/API.md (opening, "Errors"): 401 without a valid key, 403 without the scope; the matrix
by endpoint."""
from __future__ import annotations

import pytest

from support import Client, assert_problem, unique_id

# name -> (method, path template, body); {id} is an existing counter, {new} a fresh id
ENDPOINTS = {
    "increment": ("POST", "/api/v1/counts/{id}/increment", {"amount": 1}),
    "decrement": ("POST", "/api/v1/counts/{id}/decrement", {"amount": 1}),
    "set": ("PUT", "/api/v1/counts/{id}", {"value": 3}),
    "batch": ("POST", "/api/v1/counts:batch", {"operations": [{"id": "{id}", "op": "increment"}]}),
    "read": ("GET", "/api/v1/counts/{id}", None),
    "read-batch": ("GET", "/api/v1/counts?ids={id}", None),
    "mgmt-list": ("GET", "/management/api/v1/counts", None),
    "mgmt-create": ("POST", "/management/api/v1/counts", {"id": "{new}"}),
    "mgmt-get": ("GET", "/management/api/v1/counts/{id}", None),
    "mgmt-patch": ("PATCH", "/management/api/v1/counts/{id}", {"description": "x"}),
    "mgmt-delete": ("DELETE", "/management/api/v1/counts/{id}", None),
}

WRITE = {"increment", "decrement", "set", "batch"}
READ = {"read", "read-batch"}
MGMT = {n for n in ENDPOINTS if n.startswith("mgmt-")}

# which roles may call which endpoints
ALLOWED = {
    "writer": WRITE,
    "reader": READ,
    "admin": WRITE | READ | MGMT,
}


def fill(template, cid, new):
    if isinstance(template, str):
        return template.replace("{id}", cid).replace("{new}", new)
    if isinstance(template, dict):
        return {k: fill(v, cid, new) for k, v in template.items()}
    if isinstance(template, list):
        return [fill(v, cid, new) for v in template]
    return template


def call(deployment, endpoint, key, cid, **kw):
    method, path, body = ENDPOINTS[endpoint]
    new = unique_id("new")
    client = deployment.client(key)
    if body is None:
        return client.request(method, fill(path, cid, new), **kw)
    return client.request(method, fill(path, cid, new), fill(body, cid, new), **kw)


def assert_401(r):
    assert_problem(r, 401, "unauthorized")
    www = r.header("WWW-Authenticate") or ""
    assert www.lower().startswith("bearer"), f"WWW-Authenticate {www!r}: {r.describe()}"


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
def test_missing_key_is_401(deployment, counter, endpoint):
    assert_401(call(deployment, endpoint, None, counter))
    assert deployment.value(counter) == 0


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
def test_unknown_key_is_401(deployment, counter, endpoint):
    assert_401(call(deployment, endpoint, "not-a-real-key-" + unique_id(), counter))
    assert deployment.value(counter) == 0


@pytest.mark.parametrize("header", [
    "Basic d3JpdGVyOnNlY3JldA==", "Bearer", "Bearer ", "bearer-{w}", "{w}", "Bearer {w}x", "Bearer x{w}",
    "Bearer {w} {w}",
])
def test_malformed_authorization_is_401(deployment, counter, header):
    h = header.replace("{w}", deployment.keys.writer)
    r = deployment.anonymous.post(f"/api/v1/counts/{counter}/increment", {"amount": 1},
                                  headers={"Authorization": h})
    assert_401(r)
    assert deployment.value(counter) == 0


def test_bearer_scheme_is_case_insensitive(deployment, counter):
    r = deployment.anonymous.post(f"/api/v1/counts/{counter}/increment", {"amount": 1},
                                  headers={"Authorization": f"bearer {deployment.keys.writer}"})
    assert r.status == 200, r.describe()


@pytest.mark.parametrize("role", ["writer", "reader", "admin"])
@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
def test_scope_matrix(deployment, counter, role, endpoint):
    key = getattr(deployment.keys, role)
    r = call(deployment, endpoint, key, counter)
    if endpoint in ALLOWED[role]:
        assert r.status not in (401, 403), f"{role} must be allowed {endpoint}: {r.describe()}"
        assert r.status < 400, f"{role} {endpoint}: {r.describe()}"
    else:
        assert_problem(r, 403, "forbidden")
        if endpoint in WRITE or endpoint in ("mgmt-patch", "mgmt-delete"):
            rec = deployment.admin.get(f"/management/api/v1/counts/{counter}").json()
            assert rec["value"] == 0 and rec["description"] == "", f"{role} {endpoint} changed data: {rec}"


def test_403_names_nothing_secret(deployment, counter):
    r = deployment.reader.post(f"/api/v1/counts/{counter}/increment", {"amount": 1})
    assert_problem(r, 403, "forbidden")
    assert deployment.keys.reader.encode() not in r.body


@pytest.mark.parametrize("path", ["/admin/toggle-ready", "/slow?seconds=0"])
def test_debug_endpoints_need_admin(deployment, path):
    method = "POST" if "toggle" in path else "GET"
    for port in deployment.service_ports.values():
        ports = {"write": port, "read": port, "management": port}
        assert_401(Client(ports, None).request(method, path, service="write"))
        for role in ("writer", "reader"):
            r = Client(ports, getattr(deployment.keys, role)).request(method, path, service="write")
            assert_problem(r, 403, "forbidden")
