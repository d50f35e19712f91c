"""Helpers shared by the black-box tests: an HTTP client that routes like the public
ingress, process control for the binaries and the backing servers, and assertions.

Standard library only. Everything that starts a process keeps its Popen object and stops
it by PID; nothing is ever killed by name.
"""
from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

REPO_ROOT = Path(__file__).resolve().parents[2]

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)

RFC3339_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$")

DEFAULT = object()  # "use the client's default API key"


def mode() -> str:
    """The deployment's shape: "standalone" or "services" (external is a services deployment)."""
    value = os.environ.get("COUNT_MODE", "standalone")
    if value not in ("standalone", "services", "external"):
        raise RuntimeError(f"COUNT_MODE must be standalone, services or external, not {value!r}")
    return "services" if value == "external" else value


def external() -> bool:
    """COUNT_MODE=external: a deployment somebody else started (scripts/e2e-compose.sh)."""
    return os.environ.get("COUNT_MODE") == "external"


def redis_cluster() -> bool:
    """COUNT_REDIS=cluster (services mode): the values live on a Redis Cluster of three
    primaries and three replicas (RedisCluster below), reached through REDIS_CLUSTER_NODES."""
    value = os.environ.get("COUNT_REDIS", "single")
    if value not in ("single", "cluster"):
        raise RuntimeError(f"COUNT_REDIS must be single or cluster, not {value!r}")
    if value == "cluster" and os.environ.get("COUNT_MODE") != "services":
        raise RuntimeError("COUNT_REDIS=cluster needs COUNT_MODE=services")
    return value == "cluster"


def bin_dir() -> Path:
    p = Path(os.environ.get("COUNT_BIN_DIR", "build/release"))
    return p if p.is_absolute() else REPO_ROOT / p


def binary(name: str) -> Path:
    """Path of a service binary: <bin>/<name>/<name>."""
    return bin_dir() / name / name


_port_rng = random.Random()
_ports_handed_out: set[int] = set()


def free_port() -> int:
    """A free loopback port below the kernel's ephemeral range (so an outgoing connection
    cannot grab it between this check and the server's bind), never handed out twice."""
    for _ in range(200):
        port = _port_rng.randint(15000, 30000)
        if port in _ports_handed_out:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _ports_handed_out.add(port)
        return port
    raise RuntimeError("no free port found")


def unique_id(prefix: str = "bb") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# --------------------------------------------------------------------------- keys


@dataclass
class Keys:
    writer: str = field(default_factory=lambda: "w_" + secrets.token_urlsafe(24))
    reader: str = field(default_factory=lambda: "r_" + secrets.token_urlsafe(24))
    admin: str = field(default_factory=lambda: "a_" + secrets.token_urlsafe(24))

    def api_keys_json(self, include_admin: bool = True) -> str:
        entries = [
            {"name": "writer", "scopes": ["count:write"], "sha256": sha256_hex(self.writer)},
            {"name": "reader", "scopes": ["count:read"], "sha256": sha256_hex(self.reader)},
        ]
        if include_admin:
            entries.append({"name": "admin", "scopes": ["admin"], "sha256": sha256_hex(self.admin)})
        return json.dumps(entries)

    def all(self) -> list[str]:
        return [self.writer, self.reader, self.admin]


# --------------------------------------------------------------------------- HTTP


class Response:
    def __init__(self, status: int, headers: http.client.HTTPMessage, body: bytes,
                 method: str, path: str, request_body: bytes | None):
        self.status = status
        self.headers = headers
        self.body = body
        self.method = method
        self.path = path
        self.request_body = request_body
        self._json: Any = None
        self._parsed = False

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    @property
    def content_type(self) -> str:
        return (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()

    def json(self) -> Any:
        if not self._parsed:
            try:
                self._json = json.loads(self.body.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as e:
                raise AssertionError(f"response is not JSON ({e}): {self.describe()}") from None
            self._parsed = True
        return self._json

    def describe(self) -> str:
        req = ""
        if self.request_body:
            rb = self.request_body[:300]
            req = f" body={rb!r}{'...' if len(self.request_body) > 300 else ''}"
        body = self.body[:600]
        return (f"{self.method} {self.path}{req} -> {self.status} "
                f"[{self.headers.get('Content-Type')}] {body!r}")

    def __repr__(self) -> str:
        return f"<Response {self.describe()}>"


def _encode(json_body: Any, body: bytes | str | None) -> bytes | None:
    if json_body is not DEFAULT:
        return json.dumps(json_body).encode()
    if isinstance(body, str):
        return body.encode()
    return body


class Endpoint(int):
    """A port on 127.0.0.1 that is an ingress: requests name `host` in their Host header (the
    ingress routes by it). Everywhere else it is the port it is."""

    host: str

    def __new__(cls, port: int, host: str) -> "Endpoint":
        e = super().__new__(cls, port)
        e.host = host
        return e


class _IngressConnection(http.client.HTTPConnection):
    """A connection to 127.0.0.1 whose requests name another host (an ingress routes by it)."""

    def __init__(self, port: int, host: str, timeout: float):
        super().__init__("127.0.0.1", port, timeout=timeout)
        self.virtual_host = host

    def putrequest(self, method: str, url: str, skip_host: bool = False,
                   skip_accept_encoding: bool = False) -> None:
        super().putrequest(method, url, skip_host=True, skip_accept_encoding=skip_accept_encoding)
        if not skip_host:
            self.putheader("Host", self.virtual_host)


def connection(port: int, timeout: float = 30.0) -> http.client.HTTPConnection:
    """A keep-alive connection to `port` on 127.0.0.1 (an Endpoint: with its Host header)."""
    host = getattr(port, "host", None)
    if host:
        return _IngressConnection(int(port), host, timeout)
    return http.client.HTTPConnection("127.0.0.1", int(port), timeout=timeout)


def parse_endpoints(text: str) -> dict[str, int]:
    """"write=3000,read=count-system.local@80,..." → kind → port or Endpoint."""
    out: dict[str, int] = {}
    for entry in text.split(","):
        kind, _, where = entry.partition("=")
        host, _, port = where.rpartition("@")
        out[kind] = Endpoint(int(port), host) if host else int(port)
    return out


def http_request(port: int, method: str, path: str, *, body: bytes | None = None,
                 headers: dict[str, str] | None = None, timeout: float = 30.0,
                 conn: http.client.HTTPConnection | None = None) -> Response:
    """One request. Sends the body tolerating an early close by the server (a 413 may be
    answered before the whole body is read), then reads the response."""
    own = conn is None
    if own:
        conn = connection(port, timeout)
    try:
        hdrs = dict(headers or {})
        conn.putrequest(method, path, skip_accept_encoding=True,
                        skip_host=any(k.lower() == "host" for k in hdrs))
        if body is not None and not any(k.lower() == "content-length" for k in hdrs):
            hdrs["Content-Length"] = str(len(body))
        for k, v in hdrs.items():
            conn.putheader(k, v)
        conn.endheaders()
        if body:
            try:
                conn.send(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server answered early; read what it said
        resp = conn.getresponse()
        data = resp.read()
        return Response(resp.status, resp.headers, data, method, path, body)
    finally:
        if own:
            conn.close()


class Client:
    """Talks to the deployment the way the public ingress routes:
    /management/... -> management; /analysis/... -> analysis; /dashboard/events... -> live
    updates; other /dashboard... -> provision (API and page); GET /api/v1/counts... -> read;
    other /api/v1/... -> write. Anything else goes to `service` if given, else to the write service (standalone: the
    single port)."""

    def __init__(self, ports: dict[str, int], key: str | None = None):
        self.ports = ports  # keys: write, read, management (all equal in standalone)
        self.key = key

    def with_key(self, key: str | None) -> "Client":
        return Client(self.ports, key)

    def route(self, method: str, path: str) -> int:
        if path.startswith("/management"):
            return self.ports["management"]
        if path.startswith("/analysis"):
            return self.ports["analysis"]
        if path.startswith("/dashboard/events"):
            return self.ports["live"]
        if path.startswith("/dashboard"):  # the API and the page
            return self.ports["provision"]
        if path.startswith("/api/v1/"):
            if method == "GET" and path.startswith("/api/v1/counts"):
                return self.ports["read"]
            return self.ports["write"]
        return self.ports["write"]

    def request(self, method: str, path: str, json: Any = DEFAULT, *, body: bytes | str | None = None,
                headers: dict[str, str] | None = None, key: Any = DEFAULT,
                service: str | None = None, content_type: Any = DEFAULT,
                timeout: float = 30.0) -> Response:
        data = _encode(json, body)
        hdrs: dict[str, str] = {}
        k = self.key if key is DEFAULT else key
        if k is not None:
            hdrs["Authorization"] = f"Bearer {k}"
        if content_type is DEFAULT:
            if data is not None:
                hdrs["Content-Type"] = "application/json"
        elif content_type is not None:
            hdrs["Content-Type"] = content_type
        hdrs.update(headers or {})
        port = self.ports[service] if service else self.route(method, path)
        return http_request(port, method, path, body=data, headers=hdrs, timeout=timeout)

    def get(self, path: str, **kw: Any) -> Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, json: Any = DEFAULT, **kw: Any) -> Response:
        return self.request("POST", path, json, **kw)

    def put(self, path: str, json: Any = DEFAULT, **kw: Any) -> Response:
        return self.request("PUT", path, json, **kw)

    def patch(self, path: str, json: Any = DEFAULT, **kw: Any) -> Response:
        return self.request("PATCH", path, json, **kw)

    def delete(self, path: str, **kw: Any) -> Response:
        return self.request("DELETE", path, **kw)


# --------------------------------------------------------------------------- assertions


def assert_status(resp: Response, status: int) -> None:
    assert resp.status == status, f"expected {status}: {resp.describe()}"


def assert_json(resp: Response, status: int = 200) -> Any:
    assert_status(resp, status)
    assert resp.content_type == "application/json", f"expected application/json: {resp.describe()}"
    return resp.json()


def assert_problem(resp: Response, status: int, kind: str | Iterable[str]) -> dict:
    kinds = [kind] if isinstance(kind, str) else list(kind)
    assert resp.status == status, f"expected {status} {kinds}: {resp.describe()}"
    assert resp.content_type == "application/problem+json", \
        f"expected application/problem+json: {resp.describe()}"
    body = resp.json()
    assert isinstance(body, dict), resp.describe()
    for f in ("type", "title", "status", "detail"):
        assert f in body, f"problem lacks {f!r}: {resp.describe()}"
    assert body["status"] == status, resp.describe()
    assert isinstance(body["title"], str) and body["title"], resp.describe()
    assert isinstance(body["detail"], str), resp.describe()
    assert body["type"] in [f"/problems/{k}" for k in kinds], \
        f"expected type in {kinds}: {resp.describe()}"
    return body


def assert_timestamp(value: Any) -> None:
    assert isinstance(value, str) and RFC3339_UTC.match(value), f"not an RFC 3339 UTC timestamp: {value!r}"


def assert_value_response(resp: Response, count_id: str, value: int) -> dict:
    body = assert_json(resp, 200)
    assert set(body) >= {"id", "value", "updatedAt"}, resp.describe()
    assert body["id"] == count_id, resp.describe()
    assert type(body["value"]) is int and body["value"] == value, \
        f"expected value {value}: {resp.describe()}"
    assert_timestamp(body["updatedAt"])
    return body


def eventually(fn: Callable[[], Any], *, timeout: float = 2.0, interval: float = 0.02,
               message: str = "condition") -> Any:
    """Calls fn until it returns a truthy value; returns it. On timeout raises with the
    last value (or the last AssertionError) so the failure says what was seen."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = fn()
            if last:
                return last
        except AssertionError as e:
            last = e
        if time.monotonic() >= deadline:
            raise AssertionError(f"{message} not reached within {timeout}s; last: {last!r}")
        time.sleep(interval)


# --------------------------------------------------------------------------- processes


class Proc:
    """A started process whose stdout/stderr go to files in `log_dir`."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path,
                 cwd: Path | None = None):
        self.name = name
        self.argv = argv
        self.stdout_path = log_dir / f"{name}.stdout.log"
        self.stderr_path = log_dir / f"{name}.stderr.log"
        self._out = open(self.stdout_path, "ab")
        self._err = open(self.stderr_path, "ab")
        full_env = dict(env)
        full_env.setdefault("PATH", os.environ.get("PATH", "/usr/bin:/bin"))
        self.env = full_env
        self.popen = subprocess.Popen(argv, env=full_env, stdout=self._out, stderr=self._err,
                                      stdin=subprocess.DEVNULL, cwd=str(cwd) if cwd else None)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def output_tail(self, n: int = 3000) -> str:
        return f"--- stdout ---\n{self.stdout()[-n:]}\n--- stderr ---\n{self.stderr()[-n:]}"

    def signal(self, sig: int) -> None:
        if self.alive():
            self.popen.send_signal(sig)

    def wait(self, timeout: float) -> int | None:
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM, wait, then SIGKILL (this PID only). Returns the exit code."""
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            if self.wait(timeout) is None:
                self.popen.kill()
                self.popen.wait(timeout=10)
        self._out.close()
        self._err.close()
        return self.popen.returncode


def wait_ready(proc: Proc, port: int, timeout: float = 30.0, path: str = "/ready") -> None:
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode} before ready\n"
                               f"{proc.output_tail()}")
        try:
            r = http_request(port, "GET", path, timeout=2)
            if r.status == 200:
                return
            last = r.describe()
        except OSError as e:
            last = repr(e)
        time.sleep(0.05)
    raise RuntimeError(f"{proc.name} not ready on port {port} within {timeout}s: {last}\n"
                       f"{proc.output_tail()}")


def wait_port(port: int, timeout: float = 30.0, proc: Proc | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and not proc.alive():
            raise RuntimeError(f"{proc.name} exited early\n{proc.output_tail()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"port {port} not open within {timeout}s")


def redis_command(port: int, *args: str, timeout: float = 5.0) -> bytes:
    """Minimal RESP client: sends one command, returns the raw reply."""
    payload = f"*{len(args)}\r\n".encode()
    for a in args:
        b = a.encode()
        payload += b"$" + str(len(b)).encode() + b"\r\n" + b + b"\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(payload)
        data = b""
        s.settimeout(timeout)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
            if data.startswith(b"$"):
                n = int(data[1:data.index(b"\r\n")])
                header = data.index(b"\r\n") + 2
                if n < 0 or len(data) >= header + n + 2:
                    break
            elif data.endswith(b"\r\n"):
                break
        return data


class RedisCluster:
    """A Redis Cluster from Debian's redis-server: `primaries` primaries with one replica each
    (`redis-cli --cluster create … --cluster-replicas 1`, each primary an equal contiguous slot
    range), on free loopback ports, each node in its own directory under `root` (its node table
    nodes.conf there, so a node stopped and started again rejoins). Stopped by PID."""

    def __init__(self, root: Path, logs: Path, primaries: int = 3, replicas: int = 1,
                 node_timeout_ms: int = 2000):
        self.root = root
        self.logs = logs
        self.replicas = replicas
        self.node_timeout_ms = node_timeout_ms
        self.ports = [free_port() for _ in range(primaries * (1 + replicas))]
        # The bus ports chosen too: the default (port + 10000) may be taken.
        self.bus_ports = {p: free_port() for p in self.ports}
        self.nodes: dict[int, Proc] = {}

    @property
    def seeds(self) -> str:
        """REDIS_CLUSTER_NODES: every node (any one would do)."""
        return ",".join(f"127.0.0.1:{p}" for p in self.ports)

    def start(self) -> None:
        for port in self.ports:
            self.start_node(port)
        r = subprocess.run(["redis-cli", "--cluster", "create",
                            *[f"127.0.0.1:{p}" for p in self.ports],
                            "--cluster-replicas", str(self.replicas), "--cluster-yes"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
        (self.logs / "redis-cluster-create.log").write_bytes(r.stdout)
        if r.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create failed:\n{r.stdout.decode(errors='replace')}")
        self.wait_healthy()

    def start_node(self, port: int) -> Proc:
        d = self.root / f"redis-node-{port}"
        d.mkdir(exist_ok=True)
        p = Proc(f"redis-node-{port}", [
            "redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(d),
            "--save", "", "--appendonly", "yes", "--daemonize", "no", "--cluster-enabled", "yes",
            "--cluster-config-file", "nodes.conf", "--cluster-port", str(self.bus_ports[port]),
            "--cluster-node-timeout", str(self.node_timeout_ms)], {}, self.logs)
        self.nodes[port] = p
        wait_port(port, proc=p)
        return p

    def stop_node(self, port: int) -> None:
        self.nodes[port].stop()

    def _nodes_lines(self) -> list[list[str]]:
        """The fields of each line of the first live node's CLUSTER NODES: id, address, flags,
        primary, ping, pong, epoch, link, slot ranges."""
        for port, proc in self.nodes.items():
            if proc.alive():
                reply = redis_command(port, "CLUSTER", "NODES")  # a bulk string: $<n>, the text
                text = reply[reply.index(b"\r\n") + 2:].decode(errors="replace")
                return [line.split() for line in text.splitlines() if line.strip()]
        raise RuntimeError("no node of the cluster is running")

    def node_table(self) -> list[tuple[int, set[str]]]:
        """(port, flags) of every node."""
        return [(int(f[1].split("@")[0].rsplit(":", 1)[1]), set(f[2].split(","))) for f in self._nodes_lines()]

    def primary_serving(self, slot: int) -> int:
        """The port of the primary that serves `slot`."""
        for f in self._nodes_lines():
            for r in f[8:]:
                first, _, last = r.partition("-")
                if first.isdigit() and int(first) <= slot <= int(last or first):
                    return int(f[1].split("@")[0].rsplit(":", 1)[1])
        raise RuntimeError(f"no primary serves slot {slot}")

    def primaries(self) -> list[int]:
        """The ports of the primaries now."""
        return sorted(port for port, flags in self.node_table()
                      if "master" in flags and not flags & {"fail", "fail?"})

    def healthy(self) -> bool:
        """Every live node says cluster_state:ok; every node is known, none failing, and the
        number of replicas is complete."""
        try:
            for port, proc in self.nodes.items():
                if proc.alive() and b"cluster_state:ok" not in redis_command(port, "CLUSTER", "INFO"):
                    return False
            table = self.node_table()
        except OSError:
            return False
        flags = [f for _, f in table]
        replicas = len(self.ports) - len(self.ports) // (1 + self.replicas)
        return (len(table) == len(self.ports)
                and not any(f & {"fail", "fail?", "handshake", "noaddr"} for f in flags)
                and sum("slave" in f for f in flags) == replicas)

    def wait_healthy(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.healthy():
            if time.monotonic() > deadline:
                raise RuntimeError("the redis cluster did not become healthy")
            time.sleep(0.1)

    def stop(self) -> None:
        for p in self.nodes.values():
            p.stop()


class Infra:
    """PostgreSQL 15 and Redis primary + replica from Debian packages (or, with COUNT_REDIS=cluster,
    a Redis Cluster of three primaries and three replicas: RedisCluster), and a single-node
    Kafka broker (KRaft) from the Maven artifacts scripts/kafka.sh provides, on free loopback
    ports, in a temp dir. Tests run as root; PostgreSQL runs as the postgres user via runuser."""

    PG_BIN = Path("/usr/lib/postgresql/15/bin")

    def __init__(self, root: Path, cluster: bool = False):
        self.root = root
        self.procs: list[Proc] = []
        self.pg_proc: Proc | None = None
        self.pg_port = free_port()
        self.redis_port = free_port()
        self.replica_port = free_port()
        self.kafka_port = free_port()
        self.kafka_controller_port = free_port()
        self.logs = root / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.cluster = RedisCluster(root, self.logs) if cluster else None

    @property
    def database_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.pg_port}/countinfo"

    @property
    def dashboard_database_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.pg_port}/dashboardconfig"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}"

    @property
    def replica_url(self) -> str:
        return f"redis://127.0.0.1:{self.replica_port}"

    @property
    def kafka_brokers(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    def start(self) -> None:
        self._start_kafka()  # first: the JVM starts while the others do
        self._start_postgres()
        self._start_redis()
        wait_port(self.kafka_port, timeout=60, proc=self.procs[0])

    def _start_kafka(self) -> None:
        libs = subprocess.run([str(REPO_ROOT / "scripts" / "kafka.sh")], check=True,
                              stdout=subprocess.PIPE, text=True).stdout.strip().splitlines()[-1]
        d = self.root / "kafka"
        d.mkdir()
        props = d / "server.properties"
        props.write_text("\n".join([
            "process.roles=broker,controller", "node.id=1",
            f"controller.quorum.voters=1@127.0.0.1:{self.kafka_controller_port}",
            f"listeners=PLAINTEXT://127.0.0.1:{self.kafka_port},CONTROLLER://127.0.0.1:{self.kafka_controller_port}",
            f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.kafka_port}",
            "controller.listener.names=CONTROLLER",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            f"log.dirs={d / 'data'}", "num.partitions=3", "auto.create.topics.enable=true",
            "offsets.topic.replication.factor=1", "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1", "group.initial.rebalance.delay.ms=0", ""]))
        java = ["java", "-Xmx512m", "-Dlog4j.configuration=file:/dev/null", "-cp", f"{libs}/*"]
        cluster = "-"
        while cluster.startswith("-"):  # StorageTool would take a leading '-' for an option
            cluster = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        subprocess.run([*java, "kafka.tools.StorageTool", "format", "-t", cluster, "-c", str(props)],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.procs.append(Proc("kafka", [*java, "kafka.Kafka", str(props)], {}, self.logs))

    def stop_kafka(self) -> None:
        """Stops the broker (SIGTERM to its PID, SIGKILL if it lingers); start_kafka brings it
        back on the same port with the same data."""
        self._kafka().stop(timeout=60)

    def start_kafka(self) -> None:
        old = self._kafka()
        new = Proc("kafka", old.argv, {}, self.logs)
        self.procs[self.procs.index(old)] = new
        wait_port(self.kafka_port, timeout=60, proc=new)

    def _kafka(self) -> Proc:
        return next(p for p in self.procs if p.name == "kafka")

    def _start_postgres(self) -> None:
        pg = self.root / "pg"
        data = pg / "data"
        sock = pg / "sock"
        sock.mkdir(parents=True)
        os.chmod(self.root, 0o755)
        shutil.chown(pg, "postgres", "postgres")
        shutil.chown(sock, "postgres", "postgres")
        subprocess.run(["runuser", "-u", "postgres", "--", str(self.PG_BIN / "initdb"), "-D", str(data),
                        "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd="/")
        self.pg_proc = Proc("postgres", ["runuser", "-u", "postgres", "--", str(self.PG_BIN / "postgres"),
                                         "-D", str(data), "-p", str(self.pg_port), "-k", str(sock),
                                         "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"],
                            {}, self.logs, cwd=Path("/"))
        deadline = time.monotonic() + 30
        while True:
            r = subprocess.run(["pg_isready", "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", "postgres"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if r.returncode == 0:
                break
            if not self.pg_proc.alive() or time.monotonic() > deadline:
                raise RuntimeError(f"postgres did not start\n{self.pg_proc.output_tail()}")
            time.sleep(0.1)
        subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", "postgres", "-d", "postgres",
                        "-v", "ON_ERROR_STOP=1", "-qc", "CREATE DATABASE countinfo"],
                       check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", "postgres", "-d", "postgres",
                        "-v", "ON_ERROR_STOP=1", "-qc", "CREATE DATABASE dashboardconfig"],
                       check=True, stdout=subprocess.DEVNULL)

    def _start_redis(self) -> None:
        if self.cluster is not None:
            self.cluster.start()
            return
        for name, port, extra in (("redis-primary", self.redis_port, ["--appendonly", "yes"]),
                                  ("redis-replica", self.replica_port,
                                   ["--replicaof", "127.0.0.1", str(self.redis_port)])):
            d = self.root / name
            d.mkdir()
            p = Proc(name, ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(d),
                            "--save", "", "--daemonize", "no", *extra], {}, self.logs)
            self.procs.append(p)
            wait_port(port, proc=p)
        deadline = time.monotonic() + 30
        while b"master_link_status:up" not in redis_command(self.replica_port, "INFO", "replication"):
            if time.monotonic() > deadline:
                raise RuntimeError("redis replica did not link to the primary")
            time.sleep(0.05)

    def stop(self) -> None:
        for p in reversed(self.procs):
            p.stop()
        if self.cluster is not None:
            self.cluster.stop()
        if self.pg_proc is not None:
            pidfile = self.root / "pg" / "data" / "postmaster.pid"
            try:
                pid = int(pidfile.read_text().splitlines()[0])
                os.kill(pid, signal.SIGINT)  # fast shutdown of the postmaster, by PID
            except (OSError, ValueError, IndexError):
                pass
            self.pg_proc.wait(30)
            self.pg_proc.stop()  # closes the log files; SIGTERM/SIGKILL runuser only if still there


def make_tempdir(prefix: str = "count-bb-") -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


# --------------------------------------------------------------------------- starting the binaries

SERVICES = ("count-write-service", "count-read-service", "count-management-service",
            "count-analysis-service", "dashboard-provision-service", "dashboard-update-service")
SHORT = {"count-write-service": "write", "count-read-service": "read",
         "count-management-service": "management", "count-analysis-service": "analysis",
         "dashboard-provision-service": "provision", "dashboard-update-service": "live"}


def base_env(port: int, *, debug: bool = True, pod: str = "bb-pod") -> dict[str, str]:
    env = {"PORT": str(port), "HOST": "127.0.0.1", "POD_NAME": pod, "APP_ENV": "test",
           "LOG_LEVEL": "info", "SSE_HEARTBEAT_SECONDS": "1"}
    if debug:
        env["ENABLE_DEBUG_ENDPOINTS"] = "true"
    return env


def standalone_argv(port: int, data_dir: Path) -> list[str]:
    return [str(binary("count-system")), "up", "--port", str(port), "--data", str(data_dir)]


def start_standalone(log_dir: Path, data_dir: Path, keys: Keys, *, admin_key: bool = True,
                     debug: bool = True, name: str = "count-system",
                     env_overrides: dict[str, str | None] | None = None,
                     wait: bool = True, argv: list[str] | None = None) -> tuple[Proc, int]:
    """Starts `count-system up`; with admin_key=False it must generate its own admin key.
    An override of None removes that variable."""
    port = free_port()
    env = base_env(port, debug=debug)
    env["COUNT_API_KEYS"] = keys.api_keys_json(include_admin=False)
    if admin_key:
        env["COUNT_ADMIN_KEY"] = keys.admin
    for k, v in (env_overrides or {}).items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    data_dir.mkdir(parents=True, exist_ok=True)
    proc = Proc(name, argv or standalone_argv(port, data_dir), env, log_dir)
    if wait:
        wait_ready(proc, port)
    return proc, port


def service_env(service: str, infra: Infra, keys: Keys, port: int, *, debug: bool = True) -> dict[str, str]:
    env = base_env(port, debug=debug, pod=f"{SHORT[service]}-bb")
    env["COUNT_API_KEYS"] = keys.api_keys_json()
    env.update(_service_env(service, infra))
    if infra.cluster is not None:
        # The cluster replaces REDIS_URL (primaries) and REDIS_REPLICA_URL (the shards' replicas).
        for single in ("REDIS_URL", "REDIS_REPLICA_URL"):
            if env.pop(single, None) is not None:
                env["REDIS_CLUSTER_NODES"] = infra.cluster.seeds
        # Each of the 60 groups' outboxes holds OUTBOX_MAX_BACKLOG / 60 (docs/ARCHITECTURE.md,
        # "Redis Cluster"): the default's 16,666 is less than the Kafka outage test's load puts
        # in one group of its few counters in 30 s; this gives each group the one-server default.
        env["OUTBOX_MAX_BACKLOG"] = "60000000"
    return env


def as_deployed(infra: Infra, overrides: dict[str, str | None], setting: str) -> tuple[dict[str, str | None], str]:
    """A broken single-Redis setting (REDIS_URL, REDIS_REPLICA_URL: removed when None, else
    malformed) as it shows on this deployment, and the setting the service must then name. On a
    Redis Cluster the values are reached through REDIS_CLUSTER_NODES instead: removed, the
    service needs `setting` and names it; malformed, it names REDIS_CLUSTER_NODES."""
    if infra.cluster is None or setting not in ("REDIS_URL", "REDIS_REPLICA_URL"):
        return overrides, setting
    if overrides[setting] is None:
        return {"REDIS_CLUSTER_NODES": None}, setting
    return {"REDIS_CLUSTER_NODES": "127.0.0.1:notaport"}, "REDIS_CLUSTER_NODES"


def _service_env(service: str, infra: Infra) -> dict[str, str]:
    env: dict[str, str] = {}
    if service == "count-write-service":
        env["REDIS_URL"] = infra.redis_url
        env["DATABASE_URL"] = infra.database_url
        env["KAFKA_BROKERS"] = infra.kafka_brokers
    elif service == "count-read-service":
        env["REDIS_REPLICA_URL"] = infra.replica_url
    elif service == "count-analysis-service":
        env["DATABASE_URL"] = infra.database_url
        env["KAFKA_BROKERS"] = infra.kafka_brokers
    elif service == "dashboard-provision-service":
        env["DATABASE_URL"] = infra.dashboard_database_url
        env["COUNTINFO_DATABASE_URL"] = infra.database_url
        env["REDIS_REPLICA_URL"] = infra.replica_url
    elif service == "dashboard-update-service":
        env["DATABASE_URL"] = infra.dashboard_database_url
        env["REDIS_REPLICA_URL"] = infra.replica_url
        env["KAFKA_BROKERS"] = infra.kafka_brokers
    else:
        env["DATABASE_URL"] = infra.database_url
        env["REDIS_URL"] = infra.redis_url
        env["KAFKA_BROKERS"] = infra.kafka_brokers
    return env


def start_service(service: str, infra: Infra, keys: Keys, log_dir: Path, *, debug: bool = True,
                  name: str | None = None, wait: bool = True,
                  env_overrides: dict[str, str | None] | None = None) -> tuple[Proc, int]:
    """Starts one service binary; an override of None removes that variable."""
    port = free_port()
    env = service_env(service, infra, keys, port, debug=debug)
    for k, v in (env_overrides or {}).items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    proc = Proc(name or service, [str(binary(service))], env, log_dir)
    if wait:
        wait_ready(proc, port)
    return proc, port


def migrate(infra: Infra, log_dir: Path) -> None:
    for service, url, log in (("count-management-service", infra.database_url, "migrate.log"),
                              ("dashboard-provision-service", infra.dashboard_database_url,
                               "migrate-dashboardconfig.log")):
        env = {"DATABASE_URL": url, "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        r = subprocess.run([str(binary(service)), "migrate"], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        (log_dir / log).write_bytes(r.stdout + b"\n--- stderr ---\n" + r.stderr)
        if r.returncode != 0:
            raise RuntimeError(f"{service} migrate failed ({r.returncode}):\n"
                               f"{r.stdout.decode(errors='replace')}\n{r.stderr.decode(errors='replace')}")
