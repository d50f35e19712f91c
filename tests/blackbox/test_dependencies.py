"""docs/API.md, "Every service": readiness follows dependencies (services mode): with its Redis
gone a service reports 503 not ready, answers API calls with 503 service-unavailable (not 500,
not a hang), and recovers by itself when Redis comes back.

On a Redis Cluster deployment (COUNT_REDIS=cluster) the service gets a cluster of its own, three
primaries without replicas (so nothing replaces the one stopped), and one primary is stopped:
readiness covers every shard, and once the peers mark it failed the whole cluster refuses
(CLUSTERDOWN), as Redis Cluster does while any slot is unserved; it is started again with its
node table and rejoins. (A primary replaced by its replica: tests/faults and
common/redis/redis_cluster_test.cpp.)"""
from __future__ import annotations

import time

import pytest

import support
from support import Proc, assert_json, assert_problem, eventually, http_request, redis_command, wait_port

pytestmark = pytest.mark.services_only


def start_redis(scratch, port: int) -> Proc:
    d = scratch / f"redis-{port}"
    d.mkdir(exist_ok=True)
    p = Proc(f"redis-{port}", ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(d),
                               "--save", "", "--appendonly", "yes", "--daemonize", "no"], {}, scratch)
    wait_port(port, proc=p)
    return p


class OneRedis:
    """The service's own Redis, stopped and started again on its port."""

    def __init__(self, scratch, var: str):
        self.scratch, self.port = scratch, support.free_port()
        self.proc = start_redis(scratch, self.port)
        self.env = {var: f"redis://127.0.0.1:{self.port}"}

    def stop(self) -> None:
        self.proc.stop()

    def wait_down(self) -> None:
        pass

    def start(self) -> None:
        self.proc = start_redis(self.scratch, self.port)

    def close(self) -> None:
        self.proc.stop()


class OneShardOfACluster:
    """The service's own Redis Cluster, whose primary of the last slots is stopped: not the one
    of slot 0, which a command without a key (PING) reaches."""

    def __init__(self, scratch):
        self.cluster = support.RedisCluster(scratch, scratch, replicas=0, node_timeout_ms=1000)
        self.cluster.start()
        self.victim = self.cluster.primary_serving(16383)
        assert self.victim != self.cluster.primary_serving(0)
        self.env = {"REDIS_CLUSTER_NODES": self.cluster.seeds}

    def stop(self) -> None:
        self.cluster.stop_node(self.victim)

    def wait_down(self) -> None:
        other = next(p for p in self.cluster.ports if p != self.victim)
        eventually(lambda: b"cluster_state:fail" in redis_command(other, "CLUSTER", "INFO"), timeout=15,
                   message="the cluster marks the stopped primary failed")

    def start(self) -> None:
        self.cluster.start_node(self.victim)
        self.cluster.wait_healthy()

    def close(self) -> None:
        self.cluster.stop()


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
    redis = OneShardOfACluster(scratch) if support.redis_cluster() else OneRedis(scratch, var)
    svc = None
    try:
        svc, port = support.start_service(service, deployment.infra, deployment.keys, scratch,
                                          env_overrides=redis.env)
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

        redis.wait_down()
        t0 = time.monotonic()
        assert_problem(api(), 503, "service-unavailable")
        assert time.monotonic() - t0 < 10

        redis.start()
        eventually(lambda: http_request(port, "GET", "/ready", timeout=5).status == 200, timeout=15,
                   message="/ready -> 200 after Redis is back")
        r = eventually(lambda: (lambda x: x if x.status in (200, 404) else None)(api()), timeout=10,
                       message="API works again")
        assert r.status in (200, 404), r.describe()
    finally:
        if svc is not None:
            svc.stop()
        redis.close()
