"""Scenario d — PostgreSQL stopped (fast shutdown) for a few seconds under load, then started
again; no service is restarted.

* Writes (count-write-service) and reads (count-read-service) of known counters go on: they
  live in Redis. The write service's readiness stays 200 and shows `"postgres":"failing"`.
* count-management-service answers 503 `service-unavailable` problems, quickly; its
  readiness (and the analysis service's) is 503 naming `postgres` as failing.
* After PostgreSQL is back, management answers 200 again by itself; every counter's value
  equals the sum of the acknowledged increments.

    python3 -m pytest tests/faults/test_postgres_outage.py      (or scripts/fault.sh postgres-outage)
"""
from __future__ import annotations

import json
import threading
import time

import faultkit
from faultkit import Load, Stack, http_request, send, support

OUTAGE_S = 5


def test_postgres_stopped_and_started_again(root, keys):
    stack = Stack(root, kafka=False)
    loads: list[Load] = []
    services = {"m1": ("count-management-service", None), "w1": ("count-write-service", None),
                "r1": ("count-read-service", None), "a1": ("count-analysis-service", None)}
    with faultkit.services_running(stack, keys, services, loads) as (ports, procs):
        counters = faultkit.create_counters(ports["m1"], keys.admin, 4, "pgout")
        acked = {c: 0 for c in counters}
        lock = threading.Lock()

        def write(conn, worker, i):
            cid = counters[worker]
            status, _ = send(conn, "POST", f"/api/v1/counts/{cid}/increment", keys.writer, b'{"amount":2}')
            if status == 200:
                with lock:
                    acked[cid] += 2
            return "write", status

        def read(conn, worker, i):
            return "read", send(conn, "GET", f"/api/v1/counts/{counters[i % 4]}", keys.reader)[0]

        def manage(conn, worker, i):
            status, body = send(conn, "GET", f"/management/api/v1/counts/{counters[i % 4]}", keys.admin)
            kind = "manage"
            if status == 503:
                kind = "manage-503-problem" if json.loads(body).get("type") == "/problems/service-unavailable" \
                    else "manage-503-other"
            return kind, status

        writes = Load(ports["w1"], write, threads=4, rate=50)
        reads = Load(ports["r1"], read, threads=2, rate=50)
        manages = Load(ports["m1"], manage, threads=1, rate=20)
        loads.extend([writes, reads, manages])
        for load in loads:
            load.start()
        time.sleep(1.5)

        def ready(name):
            r = http_request(ports[name], "GET", "/ready", timeout=10)
            return r.status, r.json()

        t_stop = time.monotonic()
        stack.stop_postgres()
        stopped_in = time.monotonic() - t_stop
        support.eventually(lambda: ready("m1")[0] == 503, timeout=10, message="management unready")
        time.sleep(OUTAGE_S)
        during = {name: ready(name) for name in ("m1", "w1", "r1", "a1")}
        t0 = time.monotonic()
        create = http_request(ports["m1"], "POST", "/management/api/v1/counts",
                              body=json.dumps({"id": support.unique_id("pgout")}).encode(),
                              headers={"Authorization": f"Bearer {keys.admin}", "Content-Type": "application/json"})
        create_s = time.monotonic() - t0

        t_start = time.monotonic()
        stack.start_postgres_again()
        pg_up = time.monotonic()
        support.eventually(lambda: ready("m1")[0] == 200 and ready("a1")[0] == 200, timeout=30, interval=0.05,
                           message="management and analysis ready again")
        recovered = time.monotonic() - pg_up
        t_rec = time.monotonic()
        time.sleep(1.5)
        for load in loads:
            load.stop()

        outage_mgmt = [o for o in manages.snapshot() if t_stop + stopped_in + 0.5 < o.t < t_start]
        after_mgmt = [o for o in manages.snapshot() if o.t > t_rec]
        values = {}
        for cid in counters:
            r = http_request(ports["m1"], "GET", f"/management/api/v1/counts/{cid}",
                             headers={"Authorization": f"Bearer {keys.admin}"})
            values[cid] = r.json()["value"]
        faultkit.record(
            "postgres-outage", outage_s=round(t_start - t_stop, 1),
            writes=len(writes.snapshot()), failed_writes=len(writes.failures()),
            write_p99_ms=writes.summary()["p99_ms"],
            reads=len(reads.snapshot()), failed_reads=len(reads.failures()), read_p99_ms=reads.summary()["p99_ms"],
            management_during_outage={k: sum(1 for o in outage_mgmt if o.kind == k)
                                      for k in sorted({o.kind for o in outage_mgmt})},
            management_503_p99_ms=round(faultkit.percentile([o.latency * 1000 for o in outage_mgmt], 99), 1),
            management_create_during_outage=create.status, create_answered_s=round(create_s, 2),
            ready_during_outage={n: [s, b.get("checks")] for n, (s, b) in during.items()},
            recovered_after_postgres_up_s=round(recovered, 2),
            management_after_recovery_ok=all(o.status == 200 for o in after_mgmt),
            services_restarted=0, values_exact=values == acked, machine=faultkit.machine())

        assert not writes.failures(), writes.failures()[:5]
        assert not reads.failures(), reads.failures()[:5]
        assert outage_mgmt and all(o.kind == "manage-503-problem" for o in outage_mgmt), outage_mgmt[:5]
        assert create.status == 503, create.describe()
        assert during["m1"][0] == 503 and during["m1"][1]["checks"]["postgres"] == "failing", during["m1"]
        assert during["a1"][0] == 503 and during["a1"][1]["checks"]["postgres"] == "failing", during["a1"]
        assert during["w1"][0] == 200 and during["w1"][1]["checks"]["postgres"] == "failing", during["w1"]
        assert during["r1"][0] == 200, during["r1"]
        assert after_mgmt and all(o.status == 200 for o in after_mgmt), after_mgmt[:5]
        assert all(p.alive() for p in procs.values())
        assert values == acked, (values, acked)
