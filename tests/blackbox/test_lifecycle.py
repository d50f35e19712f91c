"""docs/OPERATIONS.md, "Processes": start-up failures, graceful shutdown, debug switch, LOG_LEVEL,
and (standalone) the generated admin key and persistence across restarts.
Each test starts its own instance; the shared deployment is not touched."""
from __future__ import annotations

import json
import os
import signal
import threading
import time

import pytest

import support
from support import Client, Keys, Proc, assert_json, assert_problem, http_request

standalone_only = pytest.mark.standalone_only
services_only = pytest.mark.services_only

TARGETS = [
    pytest.param("count-system", marks=standalone_only),
    pytest.param("count-write-service", marks=services_only),
    pytest.param("count-read-service", marks=services_only),
    pytest.param("count-management-service", marks=services_only),
]


def start_instance(deployment, target: str, scratch, *, debug: bool = True,
                   env_overrides: dict | None = None, name: str | None = None,
                   wait: bool = True) -> tuple[Proc, int]:
    logs = scratch / "logs"
    logs.mkdir(exist_ok=True)
    if target == "count-system":
        return support.start_standalone(logs, scratch / "data", deployment.keys, debug=debug,
                                        env_overrides=env_overrides, name=name or target, wait=wait)
    return support.start_service(target, deployment.infra, deployment.keys, logs, debug=debug,
                                 env_overrides=env_overrides, name=name, wait=wait)


def admin_headers(deployment):
    return {"Authorization": f"Bearer {deployment.keys.admin}"}


def api_call(deployment, target, port):
    """One harmless authenticated API request the target process serves."""
    h = {**admin_headers(deployment), "Content-Type": "application/json"}
    if target == "count-read-service":
        return http_request(port, "GET", "/api/v1/counts?ids=drain-probe", headers=h, timeout=5)
    if target == "count-write-service":
        body = json.dumps({"operations": [{"id": "drain-probe", "op": "increment"}]}).encode()
        return http_request(port, "POST", "/api/v1/counts:batch", body=body, headers=h, timeout=5)
    return http_request(port, "GET", "/management/api/v1/counts?limit=1", headers=h, timeout=5)


# ---------------------------------------------------------------- graceful shutdown

@pytest.mark.slow
@pytest.mark.parametrize("target", TARGETS)
def test_sigterm_drains_in_flight_requests(deployment, scratch, target):
    proc, port = start_instance(deployment, target, scratch)
    try:
        result: dict = {}

        def slow():
            t0 = time.monotonic()
            try:
                result["resp"] = http_request(port, "GET", "/slow?seconds=2", headers=admin_headers(deployment),
                                              timeout=20)
            except OSError as e:
                result["error"] = e
            result["elapsed"] = time.monotonic() - t0

        t = threading.Thread(target=slow)
        t.start()
        time.sleep(0.3)  # let the request reach the handler
        proc.signal(signal.SIGTERM)

        def ready_says_draining():
            try:
                r = http_request(port, "GET", "/ready", timeout=2)
            except OSError as e:
                raise AssertionError(f"/ready unreachable during drain: {e!r}")
            return r if r.status == 503 else None

        r = support.eventually(ready_says_draining, timeout=1.0, message="/ready -> 503 after SIGTERM")
        body = assert_json(r, 503)
        assert body["status"] == "not ready", r.describe()
        assert body["shutting_down"] is True, r.describe()
        assert isinstance(body["checks"], dict), r.describe()
        # liveness and the API still answer while draining (zero failed requests on a rollout)
        assert http_request(port, "GET", "/health", timeout=2).status == 200
        api = api_call(deployment, target, port)
        assert api.status == 200, f"API request during drain: {api.describe()}"

        t.join(20)
        assert "error" not in result, f"in-flight request failed: {result.get('error')!r}\n{proc.output_tail()}"
        assert result["resp"].status == 200, result["resp"].describe()
        assert result["elapsed"] >= 1.9
        code = proc.wait(15)
        assert code == 0, f"exit code {code}\n{proc.output_tail()}"
    finally:
        proc.stop()


@pytest.mark.parametrize("target", TARGETS)
def test_sigterm_with_open_keepalive_connections_exits(deployment, scratch, target):
    """Idle keep-alive connections (as a load balancer holds them) must not stall shutdown."""
    import http.client
    proc, port = start_instance(deployment, target, scratch)
    conns = []
    try:
        for _ in range(8):
            c = support.connection(port, 20)
            c.request("GET", "/health")
            c.getresponse().read()
            conns.append(c)
        t0 = time.monotonic()
        proc.signal(signal.SIGTERM)
        code = proc.wait(15)
        assert code == 0, f"exit code {code} ({time.monotonic() - t0:.1f}s)\n{proc.output_tail()}"
    finally:
        for c in conns:
            c.close()
        proc.stop()


@pytest.mark.parametrize("target", TARGETS)
def test_sigterm_when_idle_exits_zero_quickly(deployment, scratch, target):
    proc, port = start_instance(deployment, target, scratch)
    try:
        t0 = time.monotonic()
        proc.signal(signal.SIGTERM)
        code = proc.wait(15)
        assert code == 0, f"exit code {code}\n{proc.output_tail()}"
        assert time.monotonic() - t0 < 10
    finally:
        proc.stop()


# ---------------------------------------------------------------- start-up failures

def assert_fails_naming(proc: Proc, setting: str) -> None:
    code = proc.wait(10)
    try:
        assert code is not None, f"still running 10 s after a bad {setting}\n{proc.output_tail()}"
        assert code != 0, f"exit code 0 with a bad {setting}\n{proc.output_tail()}"
        out = proc.stdout() + proc.stderr()
        assert setting in out, f"the message does not name {setting}:\n{proc.output_tail()}"
    finally:
        proc.stop()


@standalone_only
@pytest.mark.parametrize("value", ["not json", "{}", '[{"name": "x"}]', '[{"name":"w","scopes":["count:write"],"sha256":"zz"}]'])
def test_standalone_bad_api_keys_fail_start(deployment, scratch, value):
    proc, _ = start_instance(deployment, "count-system", scratch, env_overrides={"COUNT_API_KEYS": value},
                             wait=False)
    assert_fails_naming(proc, "COUNT_API_KEYS")


@standalone_only
def test_standalone_bad_port_fails_start(scratch):
    logs = scratch / "logs"
    logs.mkdir()
    proc = Proc("count-system", [str(support.binary("count-system")), "up", "--port", "notaport",
                                 "--data", str(scratch / "data")], {"HOST": "127.0.0.1"}, logs)
    code = proc.wait(10)
    try:
        assert code not in (None, 0), proc.output_tail()
        assert "port" in (proc.stdout() + proc.stderr()).lower(), proc.output_tail()
    finally:
        proc.stop()


@standalone_only
def test_standalone_unknown_command_fails(scratch):
    logs = scratch / "logs"
    logs.mkdir()
    proc = Proc("count-system", [str(support.binary("count-system")), "frobnicate"], {}, logs)
    code = proc.wait(10)
    try:
        assert code not in (None, 0), proc.output_tail()
    finally:
        proc.stop()


SERVICE_FAILURES = [
    ("count-write-service", {"REDIS_URL": None}, "REDIS_URL"),
    ("count-write-service", {"REDIS_URL": "not a url"}, "REDIS_URL"),
    ("count-write-service", {"COUNT_API_KEYS": "not json"}, "COUNT_API_KEYS"),
    ("count-write-service", {"PORT": "abc"}, "PORT"),
    ("count-read-service", {"REDIS_REPLICA_URL": None}, "REDIS_REPLICA_URL"),
    ("count-read-service", {"COUNT_API_KEYS": "not json"}, "COUNT_API_KEYS"),
    ("count-management-service", {"DATABASE_URL": None}, "DATABASE_URL"),
    ("count-management-service", {"DATABASE_URL": "nonsense"}, "DATABASE_URL"),
    ("count-management-service", {"COUNT_API_KEYS": "not json"}, "COUNT_API_KEYS"),
]


@services_only
@pytest.mark.parametrize("service,overrides,setting", SERVICE_FAILURES,
                         ids=[f"{s}-{k}" for s, _, k in SERVICE_FAILURES])
def test_service_bad_setting_fails_start(deployment, scratch, service, overrides, setting):
    overrides, setting = support.as_deployed(deployment.infra, overrides, setting)
    proc, _ = start_instance(deployment, service, scratch, env_overrides=overrides, wait=False)
    assert_fails_naming(proc, setting)


# ---------------------------------------------------------------- debug endpoints switched off

@pytest.mark.parametrize("target", TARGETS)
def test_debug_endpoints_absent_without_flag(deployment, scratch, target):
    proc, port = start_instance(deployment, target, scratch, debug=False)
    try:
        r = http_request(port, "POST", "/admin/toggle-ready", headers=admin_headers(deployment))
        assert_problem(r, 404, "not-found")
        r = http_request(port, "GET", "/slow?seconds=0", headers=admin_headers(deployment))
        assert_problem(r, 404, "not-found")
        assert http_request(port, "GET", "/ready").status == 200
    finally:
        proc.stop()


# ---------------------------------------------------------------- COUNT_AUTO_CREATE

@pytest.mark.parametrize("target", [pytest.param("count-system", marks=standalone_only),
                                    pytest.param("count-write-service", marks=services_only)])
def test_auto_create(deployment, scratch, target):
    """docs/API.md, "Write": with COUNT_AUTO_CREATE=true a write to a never-created id creates
    it."""
    proc, port = start_instance(deployment, target, scratch, env_overrides={"COUNT_AUTO_CREATE": "true"})
    try:
        h = {"Authorization": f"Bearer {deployment.keys.writer}", "Content-Type": "application/json"}
        cid = support.unique_id("auto")
        r = http_request(port, "POST", f"/api/v1/counts/{cid}/increment", body=b'{"amount": 4}', headers=h)
        assert assert_json(r)["value"] == 4
        cid2 = support.unique_id("auto")
        r = http_request(port, "PUT", f"/api/v1/counts/{cid2}", body=b'{"value": -7}', headers=h)
        assert assert_json(r)["value"] == -7
        r = http_request(port, "POST", "/api/v1/counts/-bad/increment", body=b"{}", headers=h)
        assert_problem(r, 422, "invalid-count-id")
        # the created counters are real: management sees them (standalone: same process;
        # services: the shared management service on the same stores)
        mport = port if target == "count-system" else deployment.ports["management"]
        ah = admin_headers(deployment)
        assert assert_json(http_request(mport, "GET", f"/management/api/v1/counts/{cid}", headers=ah))["value"] == 4
        assert assert_json(http_request(mport, "GET", f"/management/api/v1/counts/{cid2}", headers=ah))["value"] == -7
    finally:
        proc.stop()


def test_no_auto_create_by_default(deployment, writer):
    cid = support.unique_id("noauto")
    assert_problem(writer.post(f"/api/v1/counts/{cid}/increment"), 404, "not-found")
    assert_problem(deployment.admin.get(f"/management/api/v1/counts/{cid}"), 404, "not-found")


# ---------------------------------------------------------------- LOG_LEVEL

@pytest.mark.parametrize("target", TARGETS)
def test_log_level_warn_hides_info(deployment, scratch, target):
    proc, port = start_instance(deployment, target, scratch, env_overrides={"LOG_LEVEL": "warn"})
    try:
        for _ in range(5):
            http_request(port, "GET", "/health")
        info = assert_json(http_request(port, "GET", "/info"))
        assert info["log_level"].lower() in ("warn", "warning"), info
    finally:
        code = proc.stop()
    assert code == 0, proc.output_tail()
    for line in proc.stdout().splitlines():
        if not line.strip():
            continue
        rec = json.loads(line)
        assert str(rec.get("level", "")).lower() not in ("info", "debug", "trace"), line


# ---------------------------------------------------------------- standalone: admin key and persistence

@standalone_only
def test_standalone_generates_admin_key_and_keeps_data(scratch):
    logs, data = scratch / "logs", scratch / "data"
    logs.mkdir()
    keys = Keys()
    proc, port = support.start_standalone(logs, data, keys, admin_key=False, name="first")
    key_file = data / "admin.key"
    try:
        assert key_file.exists(), f"no admin.key in {sorted(os.listdir(data))}"
        admin_key = key_file.read_text().strip()
        assert len(admin_key) >= 16, "generated admin key is too short"
        assert admin_key in proc.stdout() + proc.stderr(), "the generated admin key is not printed"
        ports = {"write": port, "read": port, "management": port}
        admin = Client(ports, admin_key)
        cid = support.unique_id("persist")
        assert_json(admin.post("/management/api/v1/counts",
                               {"id": cid, "description": "kept", "minValue": -5, "maxValue": 2**62}), 201)
        writer = Client(ports, keys.writer)
        assert writer.post(f"/api/v1/counts/{cid}/increment", {"amount": 2**61}).status == 200
        assert writer.post(f"/api/v1/counts/{cid}/increment", {"amount": 3},
                           headers={"Idempotency-Key": "restart-1"}).status == 200
        gone = support.unique_id("gone")
        assert_json(admin.post("/management/api/v1/counts", {"id": gone}), 201)
        assert admin.delete(f"/management/api/v1/counts/{gone}").status == 204
        before = assert_json(admin.get(f"/management/api/v1/counts/{cid}"))
        assert Client(ports, "wrong-key").get("/management/api/v1/counts").status == 401
    finally:
        code = proc.stop()
    assert code == 0, proc.output_tail()

    proc2, port2 = support.start_standalone(logs, data, keys, admin_key=False, name="second")
    try:
        assert key_file.read_text().strip() == admin_key, "admin key changed across restart"
        ports2 = {"write": port2, "read": port2, "management": port2}
        admin2 = Client(ports2, admin_key)
        after = assert_json(admin2.get(f"/management/api/v1/counts/{cid}"))
        assert after == before
        assert after["value"] == 2**61 + 3
        assert (after["description"], after["minValue"], after["maxValue"]) == ("kept", -5, 2**62)
        assert_problem(admin2.get(f"/management/api/v1/counts/{gone}"), 404, "not-found")
        read = assert_json(Client(ports2, keys.reader).get(f"/api/v1/counts/{cid}"))
        assert read["value"] == 2**61 + 3
        # an idempotent retry after the restart still applies once
        r = Client(ports2, keys.writer).post(f"/api/v1/counts/{cid}/increment", {"amount": 3},
                                             headers={"Idempotency-Key": "restart-1"})
        assert r.status == 200, r.describe()
        assert assert_json(admin2.get(f"/management/api/v1/counts/{cid}"))["value"] == 2**61 + 3
    finally:
        code = proc2.stop()
    assert code == 0, proc2.output_tail()


@standalone_only
def test_standalone_admin_key_file_is_private(scratch):
    logs, data = scratch / "logs", scratch / "data"
    logs.mkdir()
    proc, _ = support.start_standalone(logs, data, Keys(), admin_key=False)
    try:
        mode = (data / "admin.key").stat().st_mode & 0o777
        assert mode & 0o077 == 0, f"admin.key mode is {oct(mode)}"
    finally:
        proc.stop()


@standalone_only
def test_standalone_given_admin_key_works(deployment):
    r = deployment.admin.get("/management/api/v1/counts?limit=1")
    assert r.status == 200, r.describe()
