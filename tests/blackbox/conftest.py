"""Shared fixtures of the black-box suite.

COUNT_MODE=standalone (default): one `count-system up` process, every route on one port.
COUNT_MODE=services: PostgreSQL 15 + Redis primary/replica from Debian packages, then the
write, read and management services, each on its own port; the client routes like the
public ingress. With COUNT_REDIS=cluster the values live on a Redis Cluster instead (three
primaries, three replicas: support.RedisCluster), which the services reach through
REDIS_CLUSTER_NODES. COUNT_BIN_DIR picks the binaries (default build/release).
COUNT_MODE=external: a services deployment started by somebody else, reached on 127.0.0.1
at COUNT_EXTERNAL_PORTS ("write=3000,read=3001,..."; "read=read.example@80" sends that Host
header, for an ingress) with the keys of COUNT_EXTERNAL_KEYS
({"writer": ..., "reader": ..., "admin": ...}); tests that need the suite's own processes
(their logs, stopping them, extra instances) are skipped there, each saying so.
COUNT_KEEP_TMP=1 keeps the temp dir (logs, data) after the run.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest

import support
from support import Client, Infra, Keys, Proc, assert_json, eventually


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "standalone_only: runs only when COUNT_MODE=standalone")
    config.addinivalue_line("markers", "services_only: runs only when COUNT_MODE=services")
    config.addinivalue_line("markers", "slow: takes several seconds")
    config.addinivalue_line("markers", "redis_cluster_only: runs only when COUNT_REDIS=cluster")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    m = support.mode()
    for item in items:
        if m == "services" and item.get_closest_marker("standalone_only"):
            item.add_marker(pytest.mark.skip(reason="standalone mode only"))
        if m == "standalone" and item.get_closest_marker("services_only"):
            item.add_marker(pytest.mark.skip(reason="services mode only"))
        if not support.redis_cluster() and item.get_closest_marker("redis_cluster_only"):
            item.add_marker(pytest.mark.skip(reason="a Redis Cluster only (COUNT_REDIS=cluster)"))


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [f"count blackbox: COUNT_MODE={os.environ.get('COUNT_MODE', 'standalone')} "
            f"COUNT_REDIS={os.environ.get('COUNT_REDIS', 'single')} COUNT_BIN_DIR={support.bin_dir()}"]


class Deployment:
    """A running system plus the keys that open it."""

    def __init__(self, mode: str, keys: Keys, ports: dict[str, int], service_ports: dict[str, int],
                 procs: dict[str, Proc], root: Path, infra: Infra | None = None):
        self.mode = mode
        self.keys = keys
        self.ports = ports                  # write/read/management -> port (ingress routing)
        self._service_ports = service_ports  # process name -> port (per-process probes)
        self._procs = procs
        self.root = root
        self._infra = infra
        self.external = False
        self.admin = Client(ports, keys.admin)
        self.writer = Client(ports, keys.writer)
        self.reader = Client(ports, keys.reader)
        self.anonymous = Client(ports, None)

    @property
    def procs(self) -> dict[str, Proc]:
        self._needs_own_processes("procs")
        return self._procs

    @property
    def infra(self) -> Infra | None:
        self._needs_own_processes("infra")
        return self._infra

    @property
    def service_ports(self) -> dict[str, int]:
        if not self._service_ports:
            pytest.skip("needs each process's own port (the deployment is reached through an ingress)")
        return self._service_ports

    def direct_port(self, kind: str) -> int:
        """The port of `kind` when it is the service itself, for tests that speak raw HTTP to
        its server (through an ingress, the ingress would answer them)."""
        port = self.ports[kind]
        if getattr(port, "host", None):
            pytest.skip("speaks raw HTTP to the service's own server, not through an ingress")
        return port

    def _needs_own_processes(self, what: str) -> None:
        if self.external:
            pytest.skip(f"needs the processes the suite starts itself (deployment.{what})")

    def client(self, key: str | None) -> Client:
        return Client(self.ports, key)

    # -- helpers used by many tests

    def create_counter(self, count_id: str | None = None, **fields: Any) -> dict:
        count_id = count_id or support.unique_id()
        body = {"id": count_id, **fields}
        r = self.admin.post("/management/api/v1/counts", body)
        rec = assert_json(r, 201)
        assert rec["id"] == count_id, r.describe()
        return rec

    def value(self, count_id: str) -> int:
        """Strongly consistent value (management reads the primary store)."""
        r = self.admin.get(f"/management/api/v1/counts/{count_id}")
        return assert_json(r, 200)["value"]

    def read_eventually(self, count_id: str, value: int, timeout: float = 2.0) -> dict:
        """Polls the read API until it serves `value` (replica lag in services mode)."""
        def check() -> dict | None:
            r = self.reader.get(f"/api/v1/counts/{count_id}")
            if r.status == 200 and r.json().get("value") == value:
                return r.json()
            return None
        return eventually(check, timeout=timeout, message=f"read of {count_id} == {value}")

    def read_404_eventually(self, count_id: str, timeout: float = 2.0) -> None:
        eventually(lambda: self.reader.get(f"/api/v1/counts/{count_id}").status == 404,
                   timeout=timeout, message=f"read of {count_id} -> 404")

    def all_log_text(self) -> str:
        return "\n".join(p.stdout() + p.stderr() for p in self.procs.values())


def _start_standalone(root: Path, keys: Keys) -> Deployment:
    logs = root / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    exe = support.binary("count-system")
    if not exe.exists():
        raise RuntimeError(f"binary not found: {exe} (build it, or set COUNT_BIN_DIR)")
    proc, port = support.start_standalone(logs, root / "data", keys)
    ports = {"write": port, "read": port, "management": port, "analysis": port, "provision": port,
             "live": port}
    return Deployment("standalone", keys, ports, {"count-system": port}, {"count-system": proc}, root)


def _start_services(root: Path, keys: Keys) -> Deployment:
    for s in support.SERVICES:
        if not support.binary(s).exists():
            raise RuntimeError(f"binary not found: {support.binary(s)} (build it, or set COUNT_BIN_DIR)")
    infra = Infra(root, cluster=support.redis_cluster())
    procs: dict[str, Proc] = {}
    try:
        infra.start()
        support.migrate(infra, infra.logs)
        service_ports: dict[str, int] = {}
        for s in support.SERVICES:
            proc, port = support.start_service(s, infra, keys, infra.logs)
            procs[s] = proc
            service_ports[s] = port
    except BaseException:
        for p in procs.values():
            p.stop()
        infra.stop()
        raise
    ports = {support.SHORT[s]: p for s, p in service_ports.items()}
    return Deployment("services", keys, ports, service_ports, procs, root, infra)


def _external(root: Path, keys: Keys) -> Deployment:
    ports = support.parse_endpoints(os.environ["COUNT_EXTERNAL_PORTS"])
    # Each process's own port, unless the deployment is reached through an ingress.
    direct = not any(getattr(p, "host", None) for p in ports.values())
    service_ports = {s: ports[support.SHORT[s]] for s in support.SERVICES} if direct else {}
    dep = Deployment("services", keys, ports, service_ports, {}, root)
    dep.external = True
    return dep


@pytest.fixture(scope="session")
def keys() -> Keys:
    if support.external():
        given = json.loads(os.environ["COUNT_EXTERNAL_KEYS"])
        return Keys(writer=given["writer"], reader=given["reader"], admin=given["admin"])
    return Keys()


@pytest.fixture(scope="session")
def tmp_root() -> Iterator[Path]:
    root = support.make_tempdir()
    os.chmod(root, 0o755)  # the postgres user must reach its data dir below
    yield root
    if os.environ.get("COUNT_KEEP_TMP"):
        print(f"\nblackbox temp dir kept: {root}")
    else:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def deployment(keys: Keys, tmp_root: Path) -> Iterator[Deployment]:
    root = tmp_root / "main"
    root.mkdir()
    if support.external():
        dep = _external(root, keys)
    elif support.mode() == "standalone":
        dep = _start_standalone(root, keys)
    else:
        dep = _start_services(root, keys)
    try:
        yield dep
    finally:
        for p in dep._procs.values():
            p.stop()
        if dep._infra is not None:
            dep._infra.stop()


@pytest.fixture
def admin(deployment: Deployment) -> Client:
    return deployment.admin


@pytest.fixture
def writer(deployment: Deployment) -> Client:
    return deployment.writer


@pytest.fixture
def reader(deployment: Deployment) -> Client:
    return deployment.reader


@pytest.fixture
def counter(deployment: Deployment) -> str:
    """A fresh counter at 0 without bounds."""
    return deployment.create_counter()["id"]


@pytest.fixture
def scratch(tmp_root: Path, request: pytest.FixtureRequest) -> Path:
    """A per-test directory for extra instances (logs, data)."""
    if support.external():
        pytest.skip("starts instances of its own")
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", request.node.name)[:60]
    d = tmp_root / "scratch" / f"{name}-{uuid.uuid4().hex[:6]}"
    d.mkdir(parents=True)
    return d
