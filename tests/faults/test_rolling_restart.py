"""Scenario a — rolling restart (docs/OPERATIONS.md, "Processes": zero failed requests during a
rolling restart).

Two replicas each of count-write-service and count-read-service behind HAProxy, which
health-checks /ready every 100 ms and routes like the public ingress. Paced clients on
keep-alive connections increment and read counters the whole time. Each replica in turn
gets SIGTERM (readiness 503 at once, SHUTDOWN_DELAY_SECONDS=1 for the balancer to notice,
in-flight requests finish, exit 0) and is started again on its port; the next one goes
only once HAProxy has it UP again.

Passes when no request failed (every answer 200), every replica exited 0, and every
counter's value equals the sum of the increments that were acknowledged.

    python3 -m pytest tests/faults/test_rolling_restart.py      (or scripts/fault.sh rolling-restart)
"""
from __future__ import annotations

import json
import os
import signal
import time

import faultkit
from faultkit import HAProxy, Load, Stack, http_request, send, start_service_on, support

# FAULT_SHUTDOWN_DELAY=0 shows why the delay is there (the balancer needs a moment to notice).
REPLICA_ENV = {"SHUTDOWN_DELAY_SECONDS": os.environ.get("FAULT_SHUTDOWN_DELAY", "1"),
               "SHUTDOWN_TIMEOUT_SECONDS": "10"}


def test_rolling_restart_has_zero_failed_requests(root, keys):
    threads = int(os.environ.get("FAULT_THREADS", "8"))
    rate = float(os.environ.get("FAULT_RATE", "40"))  # per thread and second
    stack = Stack(root)
    procs: dict[str, faultkit.Proc] = {}
    lb = None
    load = None
    try:
        stack.start()
        support.migrate(stack, stack.logs)
        mport = support.free_port()
        procs["m1"] = start_service_on("count-management-service", stack, keys, stack.logs, mport, name="m1")
        ports = {name: support.free_port() for name in ("w1", "w2", "r1", "r2")}
        service = {"w": "count-write-service", "r": "count-read-service"}
        for name, port in ports.items():
            procs[name] = start_service_on(service[name[0]], stack, keys, stack.logs, port, name=name,
                                           env=REPLICA_ENV)
        lb = HAProxy(root, [ports["w1"], ports["w2"]], [ports["r1"], ports["r2"]])
        for s in ("write/w1", "write/w2", "read/r1", "read/r2"):
            lb.wait_status(s, "UP")

        counters = faultkit.create_counters(mport, keys.admin, threads, "roll")
        acked = {c: 0 for c in counters}

        def step(conn, worker, i):
            cid = counters[worker]
            if i % 2 == 0:
                status, body = send(conn, "POST", f"/api/v1/counts/{cid}/increment", keys.writer, b'{"amount":3}')
                if status == 200:
                    acked[cid] += 3  # one worker per counter: no race
                return "write", status
            status, _ = send(conn, "GET", f"/api/v1/counts/{cid}", keys.reader)
            return "read", status

        load = Load(lb.port, step, threads=threads, rate=rate).start()
        time.sleep(2)
        restarts = []
        for name, backend in (("w1", "write"), ("w2", "write"), ("r1", "read"), ("r2", "read")):
            p = procs[name]
            t0 = time.monotonic()
            p.signal(signal.SIGTERM)
            down = lb.wait_status(f"{backend}/{name}", "DOWN")
            code = p.wait(30)
            exited = time.monotonic() - t0
            p.stop()
            assert code == 0, f"{name} exited with {code}\n{p.output_tail()}"
            procs[name] = start_service_on(service[name[0]], stack, keys, stack.logs, ports[name], name=name,
                                           env=REPLICA_ENV)
            up = lb.wait_status(f"{backend}/{name}", "UP")
            restarts.append({"replica": name, "marked_down_s": round(down, 2), "exited_s": round(exited, 2),
                             "back_up_s": round(time.monotonic() - t0, 2), "exit_code": code,
                             "up_after_start_s": round(up, 2)})
            time.sleep(0.5)
        time.sleep(1)
        load.stop()

        failures = load.failures()
        values = {}
        for cid in counters:
            r = http_request(mport, "GET", f"/management/api/v1/counts/{cid}",
                             headers={"Authorization": f"Bearer {keys.admin}"})
            values[cid] = r.json()["value"] if r.status == 200 else r.describe()
        faultkit.record("rolling-restart", failed_requests=len(failures), **load.summary(),
                        writes=load.summary("write")["requests"], reads=load.summary("read")["requests"],
                        restarts=restarts, exact_totals=values == acked, machine=faultkit.machine())
        assert not failures, f"{len(failures)} failed requests, first: {failures[:5]}"
        assert values == acked, json.dumps({"values": values, "acknowledged": acked})
    finally:
        if load is not None and not load._stop.is_set():
            load.stop()
        if lb is not None:
            lb.stop()
        for p in procs.values():
            p.stop()
        stack.stop()
