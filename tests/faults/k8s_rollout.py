"""Rolling restarts and a blue/green switch on a real cluster, under load, through its
ingress (scripts/e2e-kubernetes.sh --deploy runs it; docs/DEPLOY.md, "A real cluster here").

Paced clients on keep-alive connections to the ingress (127.0.0.1:80, Host HOST) increment
and read counters the whole time while, in turn: `kubectl rollout restart` of each
Deployment named (each waits for its rollout), then k8s/blue-green.sh deploys green for the
write and read services, switches to it, switches back and retires green. Passes when no
request failed (every answer 200) and every counter's value equals the sum of the
increments that were acknowledged. Prints one JSON line of figures.

    python3 tests/faults/k8s_rollout.py HOST READ_HOST VERSION DEPLOYMENT...
    (COUNT_EXTERNAL_KEYS: the keys, as for the black-box suite's external mode)
"""
from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time

import faultkit
from faultkit import Load, send

NS = "count-system"


def main() -> int:
    host, read_host, version, *deployments = sys.argv[1:]
    keys = json.loads(os.environ["COUNT_EXTERNAL_KEYS"])
    threads, rate = 6, 20.0  # per thread and second; a 2-core node runs the whole system

    def request(conn, method, path, key, body=None, h=host):
        return send(conn, method, path, key, body, headers={"Host": h})

    conn = http.client.HTTPConnection("127.0.0.1", 80, timeout=15)
    counters = []
    for i in range(threads):
        cid = f"k8s-roll-{os.getpid()}-{i}"
        status, body = request(conn, "POST", "/management/api/v1/counts", keys["admin"],
                               json.dumps({"id": cid}).encode())
        assert status == 201, (status, body)
        counters.append(cid)
    acked = {c: 0 for c in counters}

    def step(c, worker, i):
        cid = counters[worker]
        if i % 2 == 0:
            status, _ = request(c, "POST", f"/api/v1/counts/{cid}/increment", keys["writer"], b'{"amount":3}')
            if status == 200:
                acked[cid] += 3  # one worker per counter: no race
            return "write", status
        status, _ = request(c, "GET", f"/api/v1/counts/{cid}", keys["reader"], h=read_host)
        return "read", status

    def run(*argv: str) -> None:
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, timeout=600)

    load = Load(80, step, threads=threads, rate=rate).start()
    phases = {}
    try:
        time.sleep(3)
        for d in deployments:
            t0 = time.monotonic()
            run("kubectl", "-n", NS, "rollout", "restart", f"deployment/{d}")
            run("kubectl", "-n", NS, "rollout", "status", f"deployment/{d}", "--timeout=300s")
            phases[f"rollout restart {d}"] = round(time.monotonic() - t0, 1)
        pair = ["count-write-service", "count-read-service"]
        for name, argv in (("blue/green deploy green", ["deploy", "green", version, *pair]),
                           ("blue/green switch to green", ["switch", "green", *pair]),
                           ("blue/green rollback to blue", ["rollback", *pair]),
                           ("blue/green retire green", ["retire", "green", *pair])):
            t0 = time.monotonic()
            run("k8s/blue-green.sh", *argv)
            time.sleep(3)  # traffic on the new colour for a while
            phases[name] = round(time.monotonic() - t0, 1)
        time.sleep(3)
    finally:
        load.stop()

    failures = load.failures()
    conn = http.client.HTTPConnection("127.0.0.1", 80, timeout=15)
    wrong = {}
    for cid, want in acked.items():
        status, body = request(conn, "GET", f"/management/api/v1/counts/{cid}", keys["admin"])
        got = json.loads(body)["value"] if status == 200 else None
        if got != want:
            wrong[cid] = (got, want)
    print(json.dumps({"requests": load.summary(), "failed": len(failures),
                      "failures": [f"{o.kind} {o.status} {o.error}"[:120] for o in failures[:5]],
                      "wrong_totals": wrong, "phases_s": phases}))
    return 0 if not failures and not wrong else 1


if __name__ == "__main__":
    sys.exit(main())
