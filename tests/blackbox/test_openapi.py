"""The OpenAPI document (docs/openapi.json) and the routers agree, in both modes.

Every process serves at GET /openapi.json the document restricted to the routes its router
registered, and lists a registered route the document lacks with "x-undocumented". So, for
the standalone binary and for each service binary: every route it registers is documented,
it serves exactly the operations whose `x-services` name it (count-system: every one), the
documents validate against the OpenAPI 3.1 schema (openapi-spec-validator), and each
operation's `security` is what the router enforces — tried without a key (401) and with a key
lacking the scope (403), which are refused before any handler runs, so nothing changes.
"""
from __future__ import annotations

import json
from pathlib import Path

from openapi_spec_validator import validate

from support import http_request

DOC = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
METHODS = ("get", "put", "post", "patch", "delete")


def source() -> dict:
    return json.loads(DOC.read_text())


def operations(doc: dict) -> dict[tuple[str, str], dict]:
    return {(m, p): item[m] for p, item in doc["paths"].items() for m in METHODS if m in item}


def served(port: int, path: str = "/openapi.json") -> dict:
    r = http_request(port, "GET", path)
    assert r.status == 200, r.describe()
    assert r.headers["Content-Type"].startswith("application/json"), r.describe()
    return json.loads(r.body)


def expected_for(process: str) -> set[tuple[str, str]]:
    ops = operations(source())
    if process == "count-system":
        return set(ops)
    return {k for k, op in ops.items() if process in op["x-services"]}


def test_the_document_is_valid_openapi_3_1():
    doc = source()
    assert doc["openapi"].startswith("3.1")
    validate(doc)  # raises with the first violation


def test_every_process_serves_exactly_its_documented_routes(deployment):
    documented = operations(source())
    seen: set[tuple[str, str]] = set()
    for process, port in sorted(deployment.service_ports.items()):
        doc = served(port)
        validate(doc)
        ops = operations(doc)
        undocumented = sorted(k for k, op in ops.items() if op.get("x-undocumented"))
        assert not undocumented, f"{process} registers routes docs/openapi.json lacks: {undocumented}"
        assert set(ops) == expected_for(process), (
            f"{process}: serves but x-services does not name it: {sorted(set(ops) - expected_for(process))}; "
            f"named but not registered: {sorted(expected_for(process) - set(ops))}")
        for k, op in ops.items():
            assert op == documented[k], f"{process} serves {k} unlike docs/openapi.json"
        seen |= set(ops)
    unserved = set(documented) - seen
    if deployment.mode == "services":  # what only the standalone binary has (GET /)
        unserved -= {k for k, op in documented.items() if op["x-services"] == ["count-system"]}
    assert not unserved, f"documented, served by no process: {sorted(unserved)}"


def concrete(path: str) -> str:
    return path.replace("{id}", "bb-openapi-none").replace("{path}", "x")


def test_security_is_what_the_router_enforces(deployment):
    lacking = {"admin": deployment.keys.writer, "count:write": deployment.keys.reader,
               "count:read": deployment.keys.writer}
    for process, port in sorted(deployment.service_ports.items()):
        for (method, path), op in sorted(operations(served(port)).items()):
            target = concrete(path)
            security = op.get("security", [])
            scopes = [s for req in security for s in req.get("apiKey", [])]
            if not security:
                if method != "get":
                    continue
                r = http_request(port, "GET", target)
                assert r.status != 401 and r.status != 403, f"{process}: public {method} {path}: {r.describe()}"
                continue
            r = http_request(port, method.upper(), target)
            assert r.status == 401, f"{process}: {method} {path} without a key: {r.describe()}"
            assert r.headers.get("WWW-Authenticate") == "Bearer", r.describe()
            for scope in scopes:
                r = http_request(port, method.upper(), target,
                                 headers={"Authorization": f"Bearer {lacking[scope]}"})
                assert r.status == 403, f"{process}: {method} {path} with a key lacking {scope}: {r.describe()}"


def test_the_console_serves_the_reference_and_the_whole_document(deployment):
    port = deployment.ports["management"]
    assert served(port, "/docs/openapi.json") == source()
    page = http_request(port, "GET", "/docs/")
    assert page.status == 200, page.describe()
    assert page.headers["Content-Type"].startswith("text/html"), page.describe()
    assert b'<base href="/docs/">' in page.body, page.describe()
    redirect = http_request(port, "GET", "/docs")
    assert redirect.status == 308 and redirect.headers["Location"] == "/docs/", redirect.describe()
