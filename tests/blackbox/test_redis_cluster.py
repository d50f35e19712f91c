"""A Redis Cluster deployment (COUNT_REDIS=cluster; docs/OPERATIONS.md, "A Redis Cluster: the key
layout, reconcile and rebuild-values"): `reconcile` reads the counters of every primary."""
from __future__ import annotations

import json
import subprocess

import pytest

import support
from support import assert_json, eventually, free_port, redis_command
from test_batch import holder

pytestmark = pytest.mark.redis_cluster_only


def _history_last(deployment, cid: str) -> int | None:
    r = deployment.admin.get(f"/analysis/api/v1/series?ids={cid}&from=2000-01-01T00:00:00Z"
                             f"&to=2100-01-01T00:00:00Z&unit=month")
    buckets = assert_json(r)["series"][0]["buckets"]
    return buckets[-1]["last"] if buckets else None


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
