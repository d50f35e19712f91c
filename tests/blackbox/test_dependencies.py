"""docs/API.md, "Every service": readiness follows dependencies (services mode): with its Redis
gone a service reports 503 not ready, answers API calls with 503 service-unavailable (not 500,
not a hang), and recovers by itself when Redis comes back."""
from __future__ import annotations

import time

import pytest

import support
from support import Proc, assert_json, assert_problem, eventually, http_request, wait_port

pytestmark = pytest.mark.services_only


def start_redis(scratch, port: int) -> Proc:
    d = scratch / f"redis-{port}"
    d.mkdir(exist_ok=True)
    p = Proc(f"redis-{port}", ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(d),
                               "--save", "", "--appendonly", "yes", "--daemonize", "no"], {}, scratch)
    wait_port(port, proc=p)
    return p


def not_ready(port):
    try:
        r = http_request(port, "GET", "/ready", timeout=5)
    except OSError:
        return None
    return r if r.status == 503 else None


@pytest.mark.parametrize("service,var", [("count-read-service", "REDIS_REPLICA_URL"),
                                         ("count-write-service", "REDIS_URL")])
def test_redis_outage_and_recovery(deployment, scratch, service, var):
    cid = deployment.create_counter()["id"]
    rport = support.free_port()
    redis = start_redis(scratch, rport)
    svc = None
    try:
        svc, port = support.start_service(service, deployment.infra, deployment.keys, scratch,
                                          env_overrides={var: f"redis://127.0.0.1:{rport}"})
        headers = {"Authorization": f"Bearer {deployment.keys.admin}", "Content-Type": "application/json"}

        def api():
            if service == "count-read-service":
                return http_request(port, "GET", f"/api/v1/counts/{cid}", headers=headers, timeout=15)
            return http_request(port, "POST", f"/api/v1/counts/{cid}/increment", body=b'{"amount": 1}',
                                headers=headers, timeout=15)

        redis.stop()
        r = eventually(lambda: not_ready(port), timeout=10, message="/ready -> 503 with Redis down")
        body = assert_json(r, 503)
        assert body["status"] == "not ready" and body["shutting_down"] is False, r.describe()
        assert isinstance(body["checks"], dict) and body["checks"], r.describe()
        assert http_request(port, "GET", "/health").status == 200, "liveness must not follow a dependency"

        t0 = time.monotonic()
        assert_problem(api(), 503, "service-unavailable")
        assert time.monotonic() - t0 < 10

        redis = start_redis(scratch, rport)
        eventually(lambda: http_request(port, "GET", "/ready", timeout=5).status == 200, timeout=15,
                   message="/ready -> 200 after Redis is back")
        r = eventually(lambda: (lambda x: x if x.status in (200, 404) else None)(api()), timeout=10,
                       message="API works again")
        assert r.status in (200, 404), r.describe()
    finally:
        if svc is not None:
            svc.stop()
        redis.stop()
