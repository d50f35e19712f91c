"""Tools of the fault scenarios, on top of the black-box suite's support module (Infra, Proc,
service start helpers): backing servers that can be stopped and started again one at a time,
Redis Sentinel, HAProxy in front of service replicas, a paced load generator with
per-request accounting, and the result records each scenario prints.

Everything started here is a Proc stopped by its PID; nothing is killed by name.
"""
from __future__ import annotations

import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "blackbox"))

import support  # noqa: E402  (tests/blackbox/support.py)
from support import Infra, Keys, Proc, http_request, redis_command, wait_port, wait_ready  # noqa: E402

RESULTS: list[tuple[str, dict[str, Any]]] = []


def record(scenario: str, **figures: Any) -> None:
    """Keeps a scenario's measured figures; conftest prints them at the end of the run and,
    with FAULTS_RESULTS_DIR set, writes them to <dir>/<scenario>.json."""
    RESULTS.append((scenario, figures))
    out = os.environ.get("FAULTS_RESULTS_DIR")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        figures = {"scenario": scenario, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                   **figures}
        (Path(out) / f"{scenario}.json").write_text(json.dumps(figures, indent=2) + "\n")


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


# --------------------------------------------------------------------------- backing servers


class Stack(Infra):
    """support.Infra whose parts can be stopped and started again one by one, plus Redis
    Sentinel. `kafka=False` leaves the broker out (KAFKA_BROKERS then names a closed port:
    events wait in the outbox, which is what the services do while Kafka is away)."""

    def __init__(self, root: Path, *, kafka: bool = True):
        super().__init__(root)
        self.with_kafka = kafka
        self.sentinels: list[tuple[Proc, int]] = []
        self.master_name = "countmaster"

    def start(self) -> None:
        if self.with_kafka:
            super().start()
        else:
            self._start_postgres()
            self._start_redis()

    def proc(self, name: str) -> Proc:
        return next(p for p in self.procs if p.name == name)

    def _replace(self, old: Proc) -> Proc:
        new = Proc(old.name, old.argv, {k: v for k, v in old.env.items() if k != "PATH"}, self.logs)
        self.procs[self.procs.index(old)] = new
        return new

    # -- PostgreSQL

    def stop_postgres(self) -> None:
        """Fast shutdown of the postmaster (SIGINT by PID), waited for."""
        pid = int((self.root / "pg" / "data" / "postmaster.pid").read_text().splitlines()[0])
        os.kill(pid, signal.SIGINT)
        assert self.pg_proc is not None
        if self.pg_proc.wait(30) is None:
            raise RuntimeError("postgres did not stop within 30 s")
        self.pg_proc.stop()

    def start_postgres_again(self) -> None:
        assert self.pg_proc is not None
        self.pg_proc = Proc("postgres", self.pg_proc.argv, {}, self.logs, cwd=Path("/"))
        deadline = time.monotonic() + 30
        while subprocess.run(["pg_isready", "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", "postgres"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode != 0:
            if not self.pg_proc.alive() or time.monotonic() > deadline:
                raise RuntimeError(f"postgres did not start again\n{self.pg_proc.output_tail()}")
            time.sleep(0.1)

    # -- Kafka

    def stop_kafka(self) -> None:
        self.proc("kafka").stop(timeout=30)

    def start_kafka_again(self) -> None:
        p = self._replace(self.proc("kafka"))
        wait_port(self.kafka_port, timeout=90, proc=p)

    # -- Redis and Sentinel

    def start_sentinels(self, count: int = 3, down_after_ms: int = 1000) -> None:
        quorum = count // 2 + 1
        for i in range(count):
            port = support.free_port()
            d = self.root / f"sentinel-{i}"
            d.mkdir()
            conf = d / "sentinel.conf"
            conf.write_text("\n".join([
                f"port {port}", "bind 127.0.0.1", "daemonize no", f"dir {d}",
                f"sentinel monitor {self.master_name} 127.0.0.1 {self.redis_port} {quorum}",
                f"sentinel down-after-milliseconds {self.master_name} {down_after_ms}",
                f"sentinel failover-timeout {self.master_name} 10000",
                f"sentinel parallel-syncs {self.master_name} 1", ""]))
            p = Proc(f"sentinel-{i}", ["redis-sentinel", str(conf)], {}, self.logs)
            self.procs.append(p)
            self.sentinels.append((p, port))
            wait_port(port, proc=p)
        # Ready when every sentinel knows the replica and the other sentinels.
        deadline = time.monotonic() + 30
        for _, port in self.sentinels:
            while True:
                info = sentinel_master(port, self.master_name)
                if int(info.get("num-slaves", 0)) >= 1 and int(info.get("num-other-sentinels", 0)) >= count - 1:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"sentinel on {port} not ready: {info}")
                time.sleep(0.2)

    @property
    def sentinel_list(self) -> str:
        return ",".join(f"127.0.0.1:{port}" for _, port in self.sentinels)

    def master_port(self) -> int:
        reply = redis_command(self.sentinels[0][1], "SENTINEL", "get-master-addr-by-name", self.master_name)
        return int(parse_resp(reply)[1])


def parse_resp(data: bytes) -> Any:
    """Parses one RESP reply (enough for SENTINEL and INFO answers)."""
    def parse(i: int) -> tuple[Any, int]:
        kind, end = data[i:i + 1], data.index(b"\r\n", i)
        head = data[i + 1:end]
        if kind in (b"+", b"-"):
            return head.decode(), end + 2
        if kind == b":":
            return int(head), end + 2
        if kind == b"$":
            n = int(head)
            if n < 0:
                return None, end + 2
            return data[end + 2:end + 2 + n].decode(), end + 4 + n
        if kind == b"*":
            n, pos, items = int(head), end + 2, []
            for _ in range(max(n, 0)):
                item, pos = parse(pos)
                items.append(item)
            return items, pos
        raise ValueError(f"unexpected RESP {data[i:i + 20]!r}")
    return parse(0)[0]


def sentinel_master(port: int, name: str) -> dict[str, str]:
    flat = parse_resp(redis_command(port, "SENTINEL", "master", name))
    return dict(zip(flat[::2], flat[1::2])) if isinstance(flat, list) else {}


# --------------------------------------------------------------------------- services


def start_service_on(service: str, stack: Infra, keys: Keys, log_dir: Path, port: int, *,
                     name: str | None = None, env: dict[str, str | None] | None = None,
                     wait: bool = True) -> Proc:
    """Starts a service binary on a given port (a replica restarted where its load balancer
    expects it); an override of None removes that variable."""
    e = support.service_env(service, stack, keys, port)
    e["LOG_LEVEL"] = "warn"  # access logs of a load run would fill the disk
    for k, v in (env or {}).items():
        if v is None:
            e.pop(k, None)
        else:
            e[k] = v
    proc = Proc(name or service, [str(support.binary(service))], e, log_dir)
    if wait:
        wait_ready(proc, port)
    return proc


@contextmanager
def services_running(stack: Stack, keys: Keys, services: dict[str, tuple[str, dict[str, str] | None]],
                     loads: list["Load"]) -> Iterator[tuple[dict[str, int], dict[str, Proc]]]:
    """Starts `stack`, applies the migrations and starts each service (name -> (binary, env
    overrides)) on a free port; yields the ports and processes by name. On the way out it
    stops every load still running in `loads`, then the services, then the stack."""
    procs: dict[str, Proc] = {}
    try:
        stack.start()
        support.migrate(stack, stack.logs)
        ports = {name: support.free_port() for name in services}
        for name, (service, env) in services.items():
            procs[name] = start_service_on(service, stack, keys, stack.logs, ports[name], name=name, env=env)
        yield ports, procs
    finally:
        for load in loads:
            if not load._stop.is_set():
                load.stop()
        for p in procs.values():
            p.stop()
        stack.stop()


def create_counters(port: int, admin_key: str, n: int, prefix: str, **fields: Any) -> list[str]:
    ids = []
    for _ in range(n):
        cid = support.unique_id(prefix)
        r = http_request(port, "POST", "/management/api/v1/counts",
                         body=json.dumps({"id": cid, **fields}).encode(),
                         headers={"Authorization": f"Bearer {admin_key}", "Content-Type": "application/json"})
        assert r.status == 201, r.describe()
        ids.append(cid)
    return ids


# --------------------------------------------------------------------------- HAProxy


class HAProxy:
    """HAProxy from Debian routing like the public ingress (GET /api/v1/counts* → read
    backend, everything else → write backend), health-checking each server on /ready."""

    def __init__(self, root: Path, write_ports: list[int], read_ports: list[int],
                 check_interval_ms: int = 100):
        self.root = root
        self.port = support.free_port()
        self.sock = root / "haproxy.sock"
        self.cfg = root / "haproxy.cfg"
        servers = lambda prefix, ports: "\n".join(  # noqa: E731
            f"  server {prefix}{i + 1} 127.0.0.1:{p} check" for i, p in enumerate(ports))
        self.cfg.write_text(f"""\
global
  maxconn 4000
  stats socket {self.sock} mode 600 level admin

defaults
  mode http
  timeout connect 2s
  timeout client 60s
  timeout server 30s
  timeout http-keep-alive 30s
  # A connection refused by a stopped replica is tried again on another one; nothing was sent.
  retries 3
  option redispatch 1
  option httpchk GET /ready
  # A check slowed by a busy machine is not a failed one; a 503 or a refused connection is.
  timeout check 2s
  http-check expect status 200
  default-server inter {check_interval_ms}ms fastinter {check_interval_ms}ms downinter {check_interval_ms}ms fall 1 rise 2

frontend api
  bind 127.0.0.1:{self.port}
  acl read_method method GET HEAD
  acl counts path_beg /api/v1/counts
  use_backend read if read_method counts
  default_backend write

backend write
  balance roundrobin
{servers("w", write_ports)}

backend read
  balance roundrobin
{servers("r", read_ports)}
""")
        check = subprocess.run(["haproxy", "-c", "-q", "-f", str(self.cfg)], capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"haproxy config invalid: {check.stdout}{check.stderr}")
        self.proc = Proc("haproxy", ["haproxy", "-db", "-f", str(self.cfg)], {}, root)
        wait_port(self.port, proc=self.proc)
        # The stats socket may appear after the frontend's port is bound.
        support.eventually(self.sock.exists, timeout=10, message=f"{self.sock} created")

    def command(self, cmd: str) -> str:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(str(self.sock))
            s.sendall(cmd.encode() + b"\n")
            out = b""
            while chunk := s.recv(65536):
                out += chunk
        return out.decode()

    def status(self) -> dict[str, str]:
        """'backend/server' → UP, DOWN, ..."""
        lines = self.command("show stat").splitlines()
        header = lines[0].lstrip("# ").split(",")
        out = {}
        for line in lines[1:]:
            if not line:
                continue
            row = dict(zip(header, line.split(",")))
            if row["svname"] not in ("FRONTEND", "BACKEND"):
                out[f"{row['pxname']}/{row['svname']}"] = row["status"]
        return out

    def wait_status(self, server: str, want: str, timeout: float = 20) -> float:
        t0 = time.monotonic()
        support.eventually(lambda: self.status().get(server, "").startswith(want), timeout=timeout,
                           interval=0.02, message=f"haproxy {server} {want}")
        return time.monotonic() - t0

    def stop(self) -> None:
        self.proc.stop()


# --------------------------------------------------------------------------- load


@dataclass
class Outcome:
    t: float            # monotonic start time
    kind: str           # what was asked (write, read, ...)
    status: int         # HTTP status, or 0 when no response came (error says why)
    latency: float      # seconds
    error: str = ""


@dataclass
class Load:
    """Paced clients on keep-alive connections: each of `threads` workers calls `step`
    `rate` times a second. `step(conn, worker, i)` sends one request and returns
    (kind, status); an exception counts as a failed request and reconnects."""

    port: int
    step: Callable[[http.client.HTTPConnection, int, int], tuple[str, int]]
    threads: int = 8
    rate: float = 50.0
    outcomes: list[Outcome] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._workers = [threading.Thread(target=self._run, args=(w,), daemon=True)
                         for w in range(self.threads)]

    def start(self) -> "Load":
        self.t0 = time.monotonic()
        for w in self._workers:
            w.start()
        return self

    def stop(self) -> "Load":
        self._stop.set()
        for w in self._workers:
            w.join(60)
        self.t1 = time.monotonic()
        return self

    def _run(self, worker: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
        period = 1.0 / self.rate
        next_at = time.monotonic() + random.random() * period
        i = 0
        while not self._stop.is_set():
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            next_at = max(next_at + period, time.monotonic() - period)
            start = time.monotonic()
            try:
                kind, status = self.step(conn, worker, i)
                out = Outcome(start, kind, status, time.monotonic() - start)
            except Exception as e:  # noqa: BLE001 - every failure is accounted for
                out = Outcome(start, "?", 0, time.monotonic() - start, f"{type(e).__name__}: {e}")
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
            with self._lock:
                self.outcomes.append(out)
            i += 1
        conn.close()

    def snapshot(self) -> list[Outcome]:
        with self._lock:
            return list(self.outcomes)

    def failures(self, ok: Callable[[Outcome], bool] = lambda o: o.status == 200) -> list[Outcome]:
        return [o for o in self.snapshot() if not ok(o)]

    def summary(self, kind: str | None = None) -> dict[str, Any]:
        xs = [o for o in self.snapshot() if kind is None or o.kind == kind]
        lat = [o.latency * 1000 for o in xs if o.status]
        secs = max(1e-9, getattr(self, "t1", time.monotonic()) - self.t0)
        return {"requests": len(xs), "rate_per_s": round(len(xs) / secs, 1),
                "p50_ms": round(percentile(lat, 50), 2), "p99_ms": round(percentile(lat, 99), 2),
                "max_ms": round(max(lat, default=0), 1)}


def send(conn: http.client.HTTPConnection, method: str, path: str, key: str,
         body: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    h = {"Authorization": f"Bearer {key}"}
    if body is not None:
        h["Content-Type"] = "application/json"
    h.update(headers or {})
    conn.request(method, path, body=body, headers=h)
    r = conn.getresponse()
    return r.status, r.read()


def machine() -> str:
    cpus = os.cpu_count()
    try:
        model = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                     if line.startswith("model name"))
    except (OSError, StopIteration):
        model = "unknown CPU"
    return f"{cpus} cores ({model}), load average {os.getloadavg()[0]:.2f} at the end"
