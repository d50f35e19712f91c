"""Scenario h — a primary of a Redis Cluster killed (SIGKILL) under idempotent-retry writes.

A 3-primary / 3-replica cluster of Debian's redis-server (`redis-cli --cluster create
--cluster-replicas 1`, cluster-node-timeout 1000 ms, cluster-require-full-coverage no,
repl-diskless-sync-delay 0, replica-serve-stale-data no, AOF on), the write, management and
analysis services on it (REDIS_CLUSTER_NODES) with PostgreSQL and Kafka. The write service
answers with WRITE_ACK=replica (a write is answered once a replica of its shard holds it,
redis/redis_replica_acks.hpp) or WRITE_ACK=kafka (then also once Kafka holds its event); its
relay reads the outbox from the replicas, so Kafka never holds an event a promoted replica
lacks.

Each writer owns one counter (spread over the shards) and increments it by 1, one operation
at a time, each with its own Idempotency-Key, retried with the same key after a connection
error or a 5xx until answered 200. So the answers tell exactly what happened: writer w's n-th
acknowledged increment must answer value n. A value not above the one before means an
acknowledged write was lost; a jump means a write was applied twice.

The primary serving writer 0's counter is SIGKILLed mid-load. Its replica must be promoted by
the cluster itself; the killed node is started again on its port with its own files, as a
StatefulSet restarts a pod, and must rejoin as a replica. Writes must resume without any
operator command. At the end: every counter's value = its acknowledged increments, and the
analysis history (sum of its minute buckets) = the value.

    python3 -m pytest tests/faults/test_redis_cluster_failover.py   (or scripts/fault.sh redis-cluster-failover)
"""
from __future__ import annotations

import collections
import http.client
import json
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

import faultkit
from faultkit import Proc, Stack, redis_command, start_service_on, support, wait_port
from test_crash import history_sums

WRITERS = 6
RATE = 40           # increments a second per writer
RUN_S = 12          # the load runs this long; the kill falls at KILL_AT_S
KILL_AT_S = 3
NODE_TIMEOUT_MS = 1000


class ClusterStack(Stack):
    """PostgreSQL and Kafka as in Stack, and a Redis Cluster in place of the primary+replica."""

    def _start_redis(self) -> None:
        self.nodes: list[tuple[Proc, int]] = []
        for i in range(6):
            port = support.free_port()
            d = self.root / f"redis-node-{i}"
            d.mkdir()
            p = Proc(f"redis-node-{i}", self.node_argv(port, d), {}, self.logs)
            self.procs.append(p)
            self.nodes.append((p, port))
        for p, port in self.nodes:
            wait_port(port, proc=p)
        subprocess.run(["redis-cli", "--cluster", "create", *[f"127.0.0.1:{port}" for _, port in self.nodes],
                        "--cluster-replicas", "1", "--cluster-yes"], check=True, capture_output=True, timeout=60)
        support.eventually(self.healthy, timeout=60, interval=0.2, message="redis cluster ready")

    @staticmethod
    def node_argv(port: int, d: Path) -> list[str]:
        # The bus port is port + 10000 by default: take a free one of our own. The settings of
        # the delivered cluster (helm/count-system/redis-cluster/redis-cluster.yaml): the other
        # shards keep serving while one has no primary, a rejoining replica is sent its snapshot
        # at once and, until it has it, answers no read from the data it had (the killed
        # primary's, with what it never passed on).
        return ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(d),
                "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", str(NODE_TIMEOUT_MS), "--cluster-port", str(support.free_port()),
                "--cluster-require-full-coverage", "no", "--repl-diskless-sync-delay", "0",
                "--replica-serve-stale-data", "no",
                "--appendonly", "yes", "--save", "", "--daemonize", "no"]

    def role(self, port: int) -> list[str]:
        return [x if isinstance(x, str) else "" for x in faultkit.parse_resp(redis_command(port, "ROLE"))]

    def primaries(self) -> list[int]:
        out = []
        for _, port in self.nodes:
            try:
                if self.role(port)[0] == "master":
                    out.append(port)
            except OSError:
                pass
        return out

    def healthy(self) -> bool:
        """Every live node says cluster_state:ok, every replica's link to its primary is up, and
        every primary has a replica."""
        try:
            for p, port in self.nodes:
                if not p.alive():
                    continue
                if b"cluster_state:ok" not in redis_command(port, "CLUSTER", "INFO"):
                    return False
                replication = redis_command(port, "INFO", "replication")
                if b"role:slave" in replication and b"master_link_status:up" not in replication:
                    return False
            return all(b"connected_slaves:1" in redis_command(port, "INFO", "replication")
                       for port in self.primaries()) and len(self.primaries()) == 3
        except OSError:
            return False

    @property
    def seeds(self) -> str:
        return ",".join(f"127.0.0.1:{port}" for _, port in self.nodes)

    def holder(self, count_id: str) -> int:
        """The port of the primary holding the counter's key."""
        for port in self.primaries():
            if faultkit.parse_resp(redis_command(port, "KEYS", f"count:*:{count_id}")):
                return port
        raise AssertionError(f"no primary holds {count_id}")


class Writers:
    """One thread per counter: increments by 1 with a new Idempotency-Key each, retried with the
    same key until answered 200; notes every answer's (time, value) and every failed attempt."""

    def __init__(self, port: int, key: str, counters: list[str]):
        self.port, self.key, self.counters = port, key, counters
        self.acks: list[list[tuple[float, int]]] = [[] for _ in counters]
        self.failed: collections.Counter = collections.Counter()
        self.retried_ops = 0
        self.replayed = 0
        self.unexpected: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(w,)) for w in range(len(counters))]

    def start(self) -> "Writers":
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(120)

    def _run(self, w: int) -> None:
        headers = {"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"}
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
        next_at = time.monotonic()
        while not self._stop.is_set():
            next_at += 1 / RATE
            if (pause := next_at - time.monotonic()) > 0:
                time.sleep(pause)
            idem, attempts = uuid.uuid4().hex, 0
            while True:  # an operation, once begun, is retried until answered, even when stopping
                attempts += 1
                try:
                    conn.request("POST", f"/api/v1/counts/{self.counters[w]}/increment", body=b"",
                                 headers={**headers, "Idempotency-Key": idem})
                    r = conn.getresponse()
                    body = r.read()
                    status = r.status
                except (OSError, http.client.HTTPException):
                    status, body = 0, b""
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
                if status == 200:
                    with self._lock:
                        self.acks[w].append((time.monotonic(), json.loads(body)["value"]))
                        self.retried_ops += attempts > 1
                        self.replayed += r.getheader("Idempotent-Replayed") == "true"
                    break
                with self._lock:
                    self.failed[status] += 1
                if status not in (0, 502, 503, 504) or attempts > 2000:
                    with self._lock:
                        self.unexpected.append(f"{self.counters[w]} -> {status}: {body[:200]!r}")
                    return
                time.sleep(0.05)
        conn.close()


@pytest.mark.parametrize("write_ack", ["replica", "kafka"])
def test_cluster_primary_killed_under_idempotent_retries(root, keys, write_ack):
    stack = ClusterStack(root)
    procs: dict[str, Proc] = {}
    writers = None
    try:
        stack.start()
        support.migrate(stack, stack.logs)
        cluster_env = {"REDIS_URL": None, "REDIS_CLUSTER_NODES": stack.seeds, "REDIS_TIMEOUT_MS": "1000"}
        mport, wport, aport = support.free_port(), support.free_port(), support.free_port()
        procs["m1"] = start_service_on("count-management-service", stack, keys, stack.logs, mport, name="m1",
                                       env=cluster_env)
        procs["w1"] = start_service_on("count-write-service", stack, keys, stack.logs, wport, name="w1",
                                       env={**cluster_env, "WRITE_ACK": write_ack, "WRITE_ACK_TIMEOUT_MS": "2000"})
        procs["a1"] = start_service_on("count-analysis-service", stack, keys, stack.logs, aport, name="a1")
        # Counters on every shard; writer 0's shard is the one whose primary dies.
        counters: list[str] = []
        by_primary: collections.Counter = collections.Counter()
        while len(counters) < WRITERS:
            cid = faultkit.create_counters(mport, keys.admin, 1, "cfail")[0]
            port = stack.holder(cid)
            if by_primary[port] < WRITERS // 3:
                by_primary[port] += 1
                counters.append(cid)
        victim_port = stack.holder(counters[0])
        victim = next(p for p, port in stack.nodes if port == victim_port)
        on_victim = [c for c in counters if stack.holder(c) == victim_port]

        writers = Writers(wport, keys.writer, counters).start()
        # Every writer answered once (the relay's first batch to Kafka takes a moment), then on.
        support.eventually(lambda: all(writers.acks), timeout=30, interval=0.05, message="every writer answered")
        time.sleep(KILL_AT_S)
        t_kill = time.monotonic()
        victim.popen.kill()  # SIGKILL, this PID only
        victim.wait(10)
        victim.stop()
        support.eventually(lambda: len(stack.primaries()) == 3 and victim_port not in stack.primaries(),
                           timeout=30, interval=0.05, message="the cluster promoted the replica")
        promoted = time.monotonic() - t_kill
        # The killed node comes back with its own files, as a StatefulSet restarts its pod.
        i = stack.procs.index(victim)
        stack.procs[i] = victim = Proc(victim.name, victim.argv, {}, stack.logs)
        stack.nodes = [(victim if port == victim_port else p, port) for p, port in stack.nodes]
        wait_port(victim_port, proc=victim)
        restarted = time.monotonic() - t_kill
        support.eventually(lambda: stack.role(victim_port)[0] == "slave" and stack.healthy(), timeout=60,
                           interval=0.1, message="the killed node rejoined as a replica")
        rejoined = time.monotonic() - t_kill
        # Its full resynchronisation; until then WAIT counts no replica.
        support.eventually(lambda: b"master_link_status:up" in redis_command(victim_port, "INFO", "replication"),
                           timeout=60, interval=0.05, message="the rejoined replica synchronised")
        synced = time.monotonic() - t_kill
        ends = {c: max(t for t, _ in writers.acks[counters.index(c)]) for c in on_victim}
        support.eventually(lambda: all(max(t for t, _ in writers.acks[counters.index(c)]) > max(rejoined + t_kill, ends[c])
                                       for c in on_victim), timeout=30, interval=0.05,
                           message="writes to the failed shard acknowledged again")
        time.sleep(max(0.0, KILL_AT_S + RUN_S - (time.monotonic() - t_kill)))
        writers.stop()

        # Acknowledged values: writer w's n-th answer is n.
        lost = doubled = 0
        for acks in writers.acks:
            for n, (_, value) in enumerate(acks, start=1):
                lost += value < n
                doubled += value > n
        values = {c: support.http_request(wport, "GET", f"/api/v1/counts/{c}",
                                          headers={"Authorization": f"Bearer {keys.reader}"}).json()["value"]
                  for c in counters}
        acknowledged = {c: len(writers.acks[i]) for i, c in enumerate(counters)}
        t_hist = time.monotonic()
        support.eventually(lambda: history_sums(aport, keys.admin, counters) == values, timeout=60, interval=0.5,
                           message="analysis history sums == values")
        history_lag = time.monotonic() - t_hist
        victim_acks = sorted(t for c in on_victim for t, _ in writers.acks[counters.index(c)])
        outage = max((b - a for a, b in zip(victim_acks, victim_acks[1:]) if b > t_kill - 1), default=0.0)
        other_acks = sorted(t for c in counters if c not in on_victim for t, _ in writers.acks[counters.index(c)])
        other_gap, other_gap_end = max(((b - a, b) for a, b in zip(other_acks, other_acks[1:]) if b > t_kill),
                                       default=(0.0, t_kill))
        before_gap = max((b - a for a, b in zip(other_acks, other_acks[1:]) if b <= t_kill), default=0.0)
        faultkit.record(
            f"redis-cluster-failover-{write_ack}", shards=3, replicas_per_shard=1, node_timeout_ms=NODE_TIMEOUT_MS,
            write_ack=write_ack, writers=WRITERS, counters_on_killed_shard=len(on_victim),
            replica_promoted_s=round(promoted, 2), killed_node_restarted_s=round(restarted, 2),
            rejoined_as_replica_s=round(rejoined, 2), replica_synchronised_s=round(synced, 2),
            killed_shard_outage_s=round(outage, 2), other_shards_longest_gap_s=round(other_gap, 2),
            other_shards_longest_gap_ended_after_kill_s=round(other_gap_end - t_kill, 2),
            other_shards_longest_gap_before_kill_s=round(before_gap, 2),
            acknowledged=sum(acknowledged.values()), operations_retried=writers.retried_ops,
            failed_attempts=sum(writers.failed.values()),
            failed_attempt_statuses={str(k): v for k, v in sorted(writers.failed.items())},
            retries_replayed=writers.replayed, acknowledged_writes_lost=lost, applied_twice=doubled,
            values_equal_acknowledged=values == acknowledged, history_caught_up_s=round(history_lag, 1),
            machine=faultkit.machine())
        assert not writers.unexpected, writers.unexpected[:5]
        assert lost == 0, f"{lost} acknowledged writes lost"
        assert doubled == 0, f"{doubled} writes applied twice"
        assert values == acknowledged
    finally:
        if writers is not None:
            writers.stop()
        for p in procs.values():
            p.stop()
        stack.stop()
