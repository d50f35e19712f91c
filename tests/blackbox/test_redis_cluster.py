"""A Redis Cluster deployment (COUNT_REDIS=cluster; docs/OPERATIONS.md, "A Redis Cluster: the key
layout, reconcile and rebuild-values"): a process set to another key layout than the one the
cluster's keys were written with refuses to start, naming both; `reconcile` reads the counters
of every primary."""
from __future__ import annotations

import json
import subprocess

import pytest

import support
from support import assert_json, eventually, free_port, redis_command
from test_batch import holder


@pytest.mark.redis_cluster_only
def test_another_key_layout_refuses_to_start_naming_both(deployment, scratch):
    cluster = deployment.infra.cluster
    stored = {redis_command(p, "GET", "count-layout") for p in cluster.primaries()}
    assert b"groups=60 sub-counters=6" in b" ".join(stored), stored
    proc, _ = support.start_service("count-read-service", deployment.infra, deployment.keys, scratch,
                                    wait=False, env_overrides={"REDIS_CLUSTER_GROUPS": "30"})
    try:
        assert proc.wait(20) == 2, proc.output_tail()
        said = proc.stderr() + proc.stdout()
        assert '"groups=60 sub-counters=6"' in said and '"groups=30 sub-counters=6"' in said, said
        assert "count-layout" in said and "REDIS_CLUSTER_GROUPS" in said, said
    finally:
        proc.stop()
    # The layout stays the first one's.
    assert b"groups=60 sub-counters=6" in b" ".join(
        redis_command(p, "GET", "count-layout") for p in cluster.primaries())


@pytest.mark.services_only
@pytest.mark.slow
def test_a_process_started_before_the_cluster_answers_checks_the_layout_once_it_does(
        deployment, scratch):
    """The cluster of its own (three primaries) holds another layout and is down when the
    service starts: it starts all the same, and stops naming both layouts once the cluster
    answers."""
    cluster = support.RedisCluster(scratch, scratch, replicas=0, node_timeout_ms=1000)
    cluster.start()
    proc = None
    try:
        slot = int(redis_command(cluster.ports[0], "CLUSTER", "KEYSLOT", "count-layout")[1:-2])
        assert b"OK" in redis_command(cluster.primary_serving(slot), "SET", "count-layout",
                                      "groups=60 sub-counters=6")
        for port in cluster.ports:
            cluster.stop_node(port)
        proc, _ = support.start_service(
            "count-read-service", deployment.infra, deployment.keys, scratch, wait=False,
            env_overrides={"REDIS_CLUSTER_NODES": cluster.seeds, "REDIS_REPLICA_URL": None,
                           "REDIS_CLUSTER_GROUPS": "30"})
        eventually(lambda: "key layout not checked yet" in proc.stdout(), timeout=20,
                   message="the service says it could not check the layout")
        assert proc.alive(), proc.output_tail()
        for port in cluster.ports:
            cluster.start_node(port)
        assert proc.wait(30) == 2, proc.output_tail()
        said = proc.stdout()
        assert "groups=60 sub-counters=6" in said and "groups=30 sub-counters=6" in said, said
    finally:
        if proc is not None:
            proc.stop()
        cluster.stop()


def _history_last(deployment, cid: str) -> int | None:
    r = deployment.admin.get(f"/analysis/api/v1/series?ids={cid}&from=2000-01-01T00:00:00Z"
                             f"&to=2100-01-01T00:00:00Z&unit=month")
    buckets = assert_json(r)["series"][0]["buckets"]
    return buckets[-1]["last"] if buckets else None


@pytest.mark.redis_cluster_only
def test_reconcile_reads_every_primary(deployment, scratch):
    cluster = deployment.infra.cluster
    on: dict[int, str] = {}
    while len(on) < 3:
        cid = deployment.create_counter(initialValue=7)["id"]
        on.setdefault(holder(cluster, cid), cid)
    for cid in on.values():
        eventually(lambda: _history_last(deployment, cid) == 7, timeout=20,
                   message=f"the history of {cid} holds its creation")
    # Drift on each primary: the value changed behind the history's back.
    for port, cid in on.items():
        key = next(k for k in redis_command(port, "KEYS", f"count:*:{cid}").split(b"\r\n")
                   if k.endswith(cid.encode())).decode()
        assert b":0" in redis_command(port, "HSET", key, "v", "70")
    try:
        env = support.service_env("count-analysis-service", deployment.infra, deployment.keys,
                                  free_port())
        env["REDIS_CLUSTER_NODES"] = cluster.seeds
        r = subprocess.run([str(support.binary("count-analysis-service")), "reconcile"], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        out = r.stdout.decode(errors="replace")
        (scratch / "reconcile.log").write_text(out + r.stderr.decode(errors="replace"))
        assert r.returncode == 1, out[-3000:]
        drifts = {}
        for line in out.splitlines():
            entry = json.loads(line) if line.startswith("{") else {}
            if entry.get("message") == "drift":
                drifts[entry["countId"]] = (entry["value"], entry["history"])
        for cid in on.values():
            assert drifts.get(cid) == (70, 7), (cid, drifts.get(cid))
    finally:
        for port, cid in on.items():
            key = next(k for k in redis_command(port, "KEYS", f"count:*:{cid}").split(b"\r\n")
                       if k.endswith(cid.encode())).decode()
            redis_command(port, "HSET", key, "v", "7")
