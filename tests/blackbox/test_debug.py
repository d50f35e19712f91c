"""docs/API.md, "Every service": the debug endpoints (seed 001), /admin/toggle-ready and /slow,
admin only."""
from __future__ import annotations

import time

import pytest

from support import assert_json, assert_problem, http_request


def admin_headers(deployment):
    return {"Authorization": f"Bearer {deployment.keys.admin}"}


def toggle(deployment, port):
    return http_request(port, "POST", "/admin/toggle-ready", headers=admin_headers(deployment))


def test_toggle_ready_flips_readiness(deployment):
    for name, port in sorted(deployment.service_ports.items()):
        r = toggle(deployment, port)
        try:
            assert assert_json(r)["ready"] is False, f"{name}: {r.describe()}"
            for path in ("/ready", "/health/ready"):
                nr = http_request(port, "GET", path)
                body = assert_json(nr, 503)
                assert body["status"] == "not ready", nr.describe()
                assert body["shutting_down"] is False, nr.describe()
                assert isinstance(body["checks"], dict), nr.describe()
            # liveness is unaffected
            assert http_request(port, "GET", "/health").status == 200
            # and so is the API: readiness only steers traffic
        finally:
            back = toggle(deployment, port)
        assert assert_json(back)["ready"] is True, f"{name}: {back.describe()}"
        assert http_request(port, "GET", "/ready").status == 200


def test_slow_waits(deployment):
    port = deployment.direct_port("write")  # no ingress routes the debug endpoints
    t0 = time.monotonic()
    r = http_request(port, "GET", "/slow?seconds=1", headers=admin_headers(deployment))
    elapsed = time.monotonic() - t0
    assert r.status == 200, r.describe()
    assert 0.9 <= elapsed < 5, elapsed


def test_slow_zero_is_immediate(deployment):
    for port in deployment.service_ports.values():
        t0 = time.monotonic()
        r = http_request(port, "GET", "/slow?seconds=0", headers=admin_headers(deployment))
        assert r.status == 200, r.describe()
        assert time.monotonic() - t0 < 1


@pytest.mark.parametrize("query", ["?seconds=61", "?seconds=-1", "?seconds=abc", "?seconds=1e9"])
def test_slow_out_of_range_is_422(deployment, query):
    port = deployment.direct_port("write")  # no ingress routes the debug endpoints
    t0 = time.monotonic()
    r = http_request(port, "GET", "/slow" + query, headers=admin_headers(deployment))
    assert_problem(r, 422, "validation-error")
    assert time.monotonic() - t0 < 2


def test_slow_does_not_block_other_requests(deployment):
    """A request parked in /slow must not stall the service."""
    import threading
    port = deployment.direct_port("write")  # no ingress routes the debug endpoints
    done = {}
    t = threading.Thread(target=lambda: done.setdefault(
        "r", http_request(port, "GET", "/slow?seconds=2", headers=admin_headers(deployment))))
    t.start()
    time.sleep(0.2)
    t0 = time.monotonic()
    for _ in range(20):
        assert http_request(port, "GET", "/health").status == 200
    assert time.monotonic() - t0 < 1.5
    t.join(10)
    assert done["r"].status == 200
