"""Backup and recovery on a real cluster, command by command as docs/OPERATIONS.md gives them
(scripts/e2e-kubernetes.sh --backup-drill runs it on the node; docs/FAULTS.md, "g").

Through the ingress (127.0.0.1:80, Host HOST) it creates counters with descriptions and bounds,
increments them in batches and creates dashboards, then:

  1. Redis lost: the value store's volume deleted and the StatefulSet started again empty;
     k8s/jobs/rebuild-values.yaml. Every counter's value must be back at the sum of its
     acknowledged increments, on the primary and on the replica, and writes must go on.
  2. Backup: `kubectl create job --from=cronjob/count-backup`; the run must hold both dumps,
     the RDB snapshot and COMPLETE.
  3. After the backup: more increments and one more dashboard.
  4. PostgreSQL lost: its volume deleted, the StatefulSet started again empty.
  5. Restore: management, analysis and dashboard-provision scaled to 0, the run restored with
     k8s/jobs/postgresql-restore.yaml (RUN set with `kubectl set env --local`), then
     k8s/deploy.sh again (the init Job runs again, the services scale back). Every counter's
     record (description, bounds) must be back, its value the current one (Redis was not
     lost), the dashboards those of the backup, and writes must go on.
  6. Redis put back at the run's RDB copy: redis-value scaled to 0, k8s/jobs/redis-restore.yaml
     (RUN set the same way), scaled back. Every value must be the one at the backup (the
     increments after it are lost, as documented), on the primary and the replica, and
     writes must go on.

Exits 1 naming every value that did not come back. Prints one JSON line of figures.

    python3 tests/faults/k8s_backup.py HOST READ_HOST OVERLAY
    (COUNT_EXTERNAL_KEYS: the keys, as for the black-box suite's external mode; KUBECONFIG set)
"""
from __future__ import annotations

import contextlib
import http.client
import json
import os
import random
import re
import subprocess
import sys
import time
from urllib.parse import quote

from faultkit import send

NS = "count-system"
COUNTERS, BATCHES, BATCH = 200, 20, 1000


def kubectl(*args: str, stdin: str | None = None, timeout: int = 900) -> str:
    done = subprocess.run(["kubectl", "-n", NS, *args], input=stdin, capture_output=True,
                          text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"kubectl {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def volume_lost(statefulset: str, claim: str) -> None:
    """The StatefulSet's pod stopped, its volume deleted, the pod started again on a new one."""
    kubectl("scale", f"statefulset/{statefulset}", "--replicas=0")
    kubectl("wait", "--for=delete", f"pod/{statefulset}-0", "--timeout=180s")
    kubectl("delete", "pvc", claim, "--wait=true")
    kubectl("scale", f"statefulset/{statefulset}", "--replicas=1")
    kubectl("rollout", "status", f"statefulset/{statefulset}", "--timeout=300s")


def run_job(manifest: str, name: str, timeout: float = 900) -> str:
    """Creates the Job and waits until it completed (its log) or failed (an error with its log)."""
    kubectl("delete", "job", name, "--ignore-not-found", "--wait=true")  # the last one's
    kubectl("create", "-f", "-", stdin=manifest)
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        state = kubectl("get", f"job/{name}", "-o", "jsonpath={.status.conditions[?(@.status=='True')].type}")
        if "Complete" in state.split():
            return kubectl("logs", f"job/{name}", "--all-containers")
        if "Failed" in state.split():
            raise RuntimeError(f"job/{name} failed: {kubectl('logs', f'job/{name}', '--all-containers')[-600:]}")
        time.sleep(2)
    raise RuntimeError(f"job/{name}: not complete within {timeout} s")


class Api:
    def __init__(self, host: str, read_host: str, keys: dict[str, str]):
        self.host, self.read_host, self.keys = host, read_host, keys
        self.conn = http.client.HTTPConnection("127.0.0.1", 80, timeout=30)

    def call(self, method: str, path: str, key: str = "admin", body=None, host: str | None = None):
        data = None if body is None else json.dumps(body).encode()
        for attempt in range(3):  # a keep-alive connection the ingress closed meanwhile
            try:
                status, raw = send(self.conn, method, path, self.keys[key], data,
                                   headers={"Host": host or self.host})
                try:
                    return status, json.loads(raw) if raw else None
                except ValueError:  # the ingress's own answer, e.g. 404 while no pod is Ready
                    return status, raw.decode(errors="replace")
            except (http.client.HTTPException, OSError):
                self.conn.close()
                if attempt == 2:
                    raise

    def counters(self, prefix: str) -> dict[str, dict]:
        out, cursor = {}, None
        while True:
            status, page = self.call("GET", f"/management/api/v1/counts?limit=1000&prefix={quote(prefix)}"
                                     + (f"&cursor={quote(cursor)}" if cursor else ""))
            assert status == 200, (status, page)
            out.update({c["id"]: c for c in page["items"]})
            cursor = page.get("nextCursor")
            if not cursor:
                return out

    def dashboards(self) -> list[dict]:
        status, body = self.call("GET", "/dashboard/api/v1/dashboards")
        assert status == 200, (status, body)
        return body["items"]

    def until(self, what: str, check, timeout: float = 180) -> float:
        t0 = time.monotonic()
        while not check():
            if time.monotonic() - t0 > timeout:
                raise RuntimeError(f"{what}: not within {timeout} s")
            time.sleep(1)
        return time.monotonic() - t0


def main() -> int:
    host, read_host, overlay = sys.argv[1:]
    api = Api(host, read_host, json.loads(os.environ["COUNT_EXTERNAL_KEYS"]))
    rng = random.Random(19)
    tag = f"bk{os.getpid()}"
    ids = [f"{tag}.c{i}" for i in range(COUNTERS)]
    records = {}
    for i, cid in enumerate(ids):
        record = {"description": f"backup drill counter {i}", "minValue": None if i % 2 else 0,
                  "maxValue": 10**9 if i % 3 == 0 else None}
        status, body = api.call("POST", "/management/api/v1/counts", body={"id": cid, **record})
        assert status == 201, (status, body)
        records[cid] = record
    expected = dict.fromkeys(ids, 0)

    def increments(batches: int) -> None:
        for _ in range(batches):
            ops = [{"id": rng.choice(ids), "op": "increment", "amount": rng.randint(1, 5)}
                   for _ in range(BATCH)]
            status, body = api.call("POST", "/api/v1/counts:batch", "writer", {"operations": ops})
            assert status == 200, (status, body)
            for op, result in zip(ops, body["results"]):
                assert result["status"] == 200, result
                expected[op["id"]] += op["amount"]

    wrong: dict[str, list] = {}

    def read(cid: str, host_name: str | None = None):
        """A counter's value (on the primary, or through READ_HOST on the replica), else the status."""
        status, body = api.call("GET", f"/api/v1/counts/{cid}", "reader", host=host_name or read_host)
        return body.get("value") if status == 200 else status

    def check_values(what: str, host_name: str | None = None) -> None:
        """Waits up to 2 minutes for every value to read as expected (the services turn Ready
        again a few seconds after their store is back), then records every one that does not."""
        with contextlib.suppress(RuntimeError):
            api.until(what, lambda: all(read(c, host_name) == expected[c] for c in ids), timeout=120)
        for cid in ids:
            if (got := read(cid, host_name)) != expected[cid]:
                wrong.setdefault(what, []).append(f"{cid}: {got}, want {expected[cid]}")

    def replica_caught_up() -> bool:
        return all(read(cid) == expected[cid] for cid in ids[-5:])

    def history_caught_up() -> bool:
        """The history's latest value of every counter is its value (analysis has folded all)."""
        now = time.time()
        period = "&".join(f"{k}={time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(t))}"
                          for k, t in (("from", now - 86400), ("to", now + 3600)))
        for start in range(0, len(ids), 50):
            chunk = ids[start:start + 50]
            status, body = api.call("GET", f"/analysis/api/v1/series?unit=hour&{period}&ids=" + ",".join(chunk))
            if status != 200:
                return False
            last = {s["countId"]: (s["buckets"][-1]["last"] if s["buckets"] else None) for s in body["series"]}
            if any(last.get(cid) != expected[cid] for cid in chunk):
                return False
        return True

    figures: dict = {"counters": COUNTERS}
    increments(BATCHES)
    figures["events"] = BATCHES * BATCH
    for i in range(3):
        status, body = api.call("POST", "/dashboard/api/v1/dashboards", body={
            "id": f"{tag}-board{i}", "name": f"Backup drill {i}",
            "widgets": [{"id": "w1", "type": "count", "title": "two", "countIds": ids[i:i + 2],
                         "layout": {"x": 0, "y": 0, "w": 6, "h": 2}}]})
        assert status == 201, (status, body)
    figures["history_caught_up_s"] = round(api.until("history", history_caught_up), 1)

    # 1. Redis lost: values rebuilt from the history (OPERATIONS.md, "Rebuilding the values").
    t0 = time.monotonic()
    volume_lost("redis-value", "redis-data-redis-value-0")
    figures["redis_restarted_s"] = round(time.monotonic() - t0, 1)
    log = run_job(open("k8s/jobs/rebuild-values.yaml").read(), "rebuild-values")
    figures["redis_values_back_s"] = round(time.monotonic() - t0, 1)
    done = re.search(r'"message":"done".*"restored":(\d+)', log)
    figures["rebuild_restored"] = int(done.group(1)) if done else log.strip()[-200:]
    check_values("after rebuild-values (primary)", host)
    figures["replica_caught_up_s"] = round(api.until("replica", replica_caught_up), 1)
    check_values("after rebuild-values (replica)")
    increments(1)
    check_values("writes after rebuild-values", host)

    # 2. Backup (OPERATIONS.md, "On Kubernetes").
    t0 = time.monotonic()
    kubectl("create", "job", "--from=cronjob/count-backup", "backup-drill")
    while "Complete" not in (state := kubectl("get", "job/backup-drill", "-o",
                                              "jsonpath={.status.conditions[?(@.status=='True')].type}").split()):
        if "Failed" in state or time.monotonic() - t0 > 900:
            raise RuntimeError(f"job/backup-drill: {state or 'not complete within 900 s'}")
        time.sleep(2)
    figures["backup_s"] = round(time.monotonic() - t0, 1)
    if "job.batch/backup-drill" not in kubectl("get", "jobs", "-l", "app=count-backup", "-o", "name").split():
        wrong.setdefault("backup", []).append("its Job is not found by -l app=count-backup (OPERATIONS.md)")
    log = kubectl("logs", "job/backup-drill", "--all-containers")
    run = re.search(r"backup run /backups/(\S+)", log).group(1)
    sizes = dict((name, int(size)) for size, name in
                 re.findall(r"(\d+) \w{3} +\d+ +[\d:]+ (\S+)\n", log))
    for name in ("countinfo.dump", "dashboardconfig.dump", "redis-value.rdb"):
        if not sizes.get(name):
            wrong.setdefault("backup", []).append(f"{name} missing or empty in {run}")
    if f"complete: /backups/{run}" not in log:
        wrong.setdefault("backup", []).append(f"{run} not marked COMPLETE")
    figures["backup_bytes"] = sizes
    at_backup = api.dashboards()
    values_at_backup = dict(expected)  # nothing was written during the run

    # 3. After the backup: kept in Redis, not in the dump.
    increments(2)
    status, _ = api.call("POST", "/dashboard/api/v1/dashboards", body={"id": f"{tag}-after", "name": "after"})
    assert status == 201, status

    # 4. PostgreSQL lost; 5. restored (OPERATIONS.md, "On Kubernetes").
    volume_lost("postgresql", "postgresql-data-postgresql-0")
    t0 = time.monotonic()
    for d in ("count-management-service", "count-analysis-service", "dashboard-provision-service"):
        kubectl("scale", f"deployment/{d}", "--replicas=0")
    job = subprocess.run(["kubectl", "set", "env", "--local", "-f", "k8s/jobs/postgresql-restore.yaml",
                          f"RUN={run}", "-o", "yaml"], check=True, capture_output=True, text=True).stdout
    log = run_job(job, "postgresql-restore")
    figures["pg_restore_job_s"] = round(time.monotonic() - t0, 1)
    subprocess.run(["k8s/deploy.sh", "--overlay", overlay, "--with-ingress"], check=True,
                   stdout=subprocess.DEVNULL, timeout=900)
    figures["pg_restored_and_serving_s"] = round(time.monotonic() - t0, 1)
    got = api.counters(f"{tag}.")
    for cid in ids:
        have = got.get(cid)
        if have is None:
            wrong.setdefault("records after the restore", []).append(f"{cid}: missing")
            continue
        for field, want in records[cid].items():
            if have[field] != want:
                wrong.setdefault("records after the restore", []).append(f"{cid}.{field}: {have[field]}, want {want}")
        if have["value"] != expected[cid]:
            wrong.setdefault("values after the restore", []).append(f"{cid}: {have['value']}, want {expected[cid]}")
    if api.dashboards() != at_backup:
        wrong["dashboards after the restore"] = [f"{[d['id'] for d in api.dashboards()]}, "
                                                 f"want those of the backup {[d['id'] for d in at_backup]}"]
    increments(1)
    check_values("writes after the restore", host)

    # 6. Redis put back at the run's RDB copy (OPERATIONS.md, "Redis lost: restore the RDB
    # copy"): every value that of the backup, the increments after it lost, as documented.
    t0 = time.monotonic()
    kubectl("scale", "statefulset/redis-value", "--replicas=0")
    kubectl("wait", "--for=delete", "pod/redis-value-0", "--timeout=180s")
    job = subprocess.run(["kubectl", "set", "env", "--local", "-f", "k8s/jobs/redis-restore.yaml",
                          f"RUN={run}", "-o", "yaml"], check=True, capture_output=True, text=True).stdout
    log = run_job(job, "redis-restore")
    kubectl("scale", "statefulset/redis-value", "--replicas=1")
    kubectl("rollout", "status", "statefulset/redis-value", "--timeout=300s")
    figures["redis_rdb_restored_s"] = round(time.monotonic() - t0, 1)
    loaded = re.search(r"loaded (\d+) keys", log)
    figures["redis_rdb_keys"] = int(loaded.group(1)) if loaded else log.strip()[-200:]
    figures["lost_by_rdb_restore"] = sum(expected[c] - values_at_backup[c] for c in ids)
    expected.update(values_at_backup)
    check_values("after the RDB restore (primary)", host)
    api.until("replica after the RDB restore", replica_caught_up)
    check_values("after the RDB restore (replica)")
    increments(1)
    check_values("writes after the RDB restore", host)

    figures["wrong"] = {what: items[:5] + ([f"… {len(items)} in all"] if len(items) > 5 else [])
                        for what, items in wrong.items()}
    print(json.dumps(figures))
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
