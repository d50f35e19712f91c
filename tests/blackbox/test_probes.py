"""docs/API.md, "Every service": probes, /info, /metrics on every process, plus the router's
404/405 ("Errors")."""
from __future__ import annotations

import re

import pytest

from support import assert_json, assert_problem, http_request


def each_process(deployment):
    return sorted(deployment.service_ports.items())


@pytest.mark.parametrize("path", ["/health", "/health/live"])
def test_liveness(deployment, path):
    for name, port in each_process(deployment):
        r = http_request(port, "GET", path)
        body = assert_json(r, 200)
        assert body["status"] == "ok", f"{name}: {r.describe()}"


@pytest.mark.parametrize("path", ["/ready", "/health/ready"])
def test_readiness(deployment, path):
    for name, port in each_process(deployment):
        r = http_request(port, "GET", path)
        body = assert_json(r, 200)
        assert body["status"] == "ready", f"{name}: {r.describe()}"
        assert isinstance(body.get("checks"), dict), f"{name}: {r.describe()}"


def test_info(deployment):
    for name, port in each_process(deployment):
        r = http_request(port, "GET", "/info")
        body = assert_json(r, 200)
        for f in ("app_env", "app_version", "log_level", "pod_name", "service"):
            assert f in body, f"{name}: /info lacks {f}: {r.describe()}"
        assert isinstance(body["service"], str) and body["service"], r.describe()
        assert body["app_env"] == "test", r.describe()
        assert body["log_level"].lower() == "info", r.describe()


@pytest.mark.services_only
def test_info_names_each_service(deployment):
    for name, port in each_process(deployment):
        body = http_request(port, "GET", "/info").json()
        assert body["service"] == name, body


def test_metrics(deployment, admin, counter):
    admin.post(f"/api/v1/counts/{counter}/increment")
    admin.get(f"/api/v1/counts/{counter}")
    for name, port in each_process(deployment):
        http_request(port, "GET", "/health")
        r = http_request(port, "GET", "/metrics")
        assert r.status == 200, r.describe()
        assert r.content_type.startswith("text/plain"), r.describe()
        text = r.body.decode()
        assert "http_requests_total" in text, f"{name}: {text[:500]}"
        assert "http_request_duration_seconds_bucket" in text, f"{name}: {text[:500]}"
        # What the alerts of helm/count-system/monitoring/ read (docs/OPERATIONS.md, "Alerts").
        assert "\nservice_ready 1\n" in text, f"{name}: {text[:500]}"
        if name in ("dashboard-update-service", "count-system"):
            assert "# TYPE sse_clients_dropped_total counter\n" in text, f"{name}: {text[:500]}"
        # Prometheus text format: every non-comment line is "<name>[{labels}] <number> [ts]"
        sample = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? (\S+)( -?\d+)?$')
        for line in text.splitlines():
            if not line or line.startswith("#"):
                continue
            m = sample.match(line)
            assert m, f"{name}: bad metrics line {line!r}"
            float(m.group(2))  # accepts +Inf, -Inf, NaN too


def test_probes_need_no_key(deployment):
    for _, port in each_process(deployment):
        for path in ("/health", "/health/live", "/ready", "/health/ready", "/info", "/metrics"):
            r = http_request(port, "GET", path)
            assert r.status == 200, r.describe()


@pytest.mark.parametrize("path", ["/nope", "/api/v1/nope", "/api/v2/counts/x", "/management/api/v1/nope"])
def test_unknown_route_is_404_problem(deployment, admin, path):
    deployment.direct_port("write")  # through an ingress, the ingress answers unrouted paths
    assert_problem(admin.get(path), 404, "not-found")


def test_unknown_route_post_is_404_problem(deployment, admin):
    deployment.direct_port("write")
    assert_problem(admin.post("/api/v1/nope", {}), 404, "not-found")


@pytest.mark.parametrize("method,path,allowed", [
    ("DELETE", "/api/v1/counts/{id}/increment", "POST"),
    ("PUT", "/api/v1/counts/{id}/decrement", "POST"),
    ("PATCH", "/api/v1/counts:batch", "POST"),
    ("PUT", "/management/api/v1/counts", "POST"),
    ("POST", "/management/api/v1/counts/{id}", "PATCH"),
])
def test_method_not_allowed(admin, counter, method, path, allowed):
    r = admin.request(method, path.format(id=counter), body=b"{}" if method != "DELETE" else None)
    assert_problem(r, 405, "method-not-allowed")
    allow = r.header("Allow") or ""
    assert allowed in [m.strip() for m in allow.split(",")], f"Allow header {allow!r}: {r.describe()}"


def test_post_health_is_405(deployment):
    for _, port in each_process(deployment):
        r = http_request(port, "POST", "/health", body=b"")
        assert_problem(r, 405, "method-not-allowed")
        assert "GET" in (r.header("Allow") or ""), r.describe()

