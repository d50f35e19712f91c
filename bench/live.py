#!/usr/bin/env python3
"""Live-update benchmark (issue 4): many concurrent SSE subscribers on one instance and a
writer at a fixed rate; prints write → delivery latency percentiles, how many deliveries
arrived of those expected, and the instance's memory with every stream open.

    bench/live.py [--mode standalone|services] [--subscribers 10000] [--counters 1000]
                  [--rate 1000] [--seconds 30] [--json FILE]

standalone: one `count-system up` on SQLite (writes → the live hub once committed → streams).
services: PostgreSQL, Redis primary + replica and a KRaft Kafka broker from the test fixtures,
then count-write-service, count-management-service and one dashboard-update-service
(writes → Redis outbox → Kafka → streams). Binaries from build/release (COUNT_BIN_DIR).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "blackbox"))
import support  # noqa: E402  (the fixtures' process and infrastructure helpers)

sys.path.insert(0, str(ROOT / "bench"))
import benchlib  # noqa: E402  (CPU ticks of a process)

TICKS = os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def create_counters(client: support.Client, prefix: str, n: int) -> None:
    for i in range(n):
        r = client.post("/management/api/v1/counts", {"id": f"{prefix}{i}"})
        if r.status not in (201, 409):
            raise RuntimeError(r.describe())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mode", choices=("standalone", "services"), default="standalone")
    ap.add_argument("--subscribers", type=int, default=10_000)
    ap.add_argument("--counters", type=int, default=1_000)
    ap.add_argument("--rate", type=float, default=1_000)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--json", type=Path, help="also write the result here")
    ap.add_argument("--costs", default=str(ROOT / "bench" / "results" / "live.json"),
                    help="services: where the costs per stream and delivery go, for "
                         "bench/capacity.py (default bench/results/live.json; '' for nowhere)")
    args = ap.parse_args()

    load = support.bin_dir() / "bench" / "live_load"
    if not load.exists():
        sys.exit(f"{load} not found: scripts/build.sh release --target live_load")
    root = Path(tempfile.mkdtemp(prefix="count-live-bench-"))
    root.chmod(0o755)
    logs = root / "logs"
    logs.mkdir()
    keys = support.Keys()
    procs: list[support.Proc] = []
    infra = None
    live_env = {"SSE_MAX_SUBSCRIBERS": str(args.subscribers + 100)}
    try:
        if args.mode == "standalone":
            proc, port = support.start_standalone(logs, root / "data", keys, debug=False,
                                                  env_overrides=live_env)
            procs.append(proc)
            live, ports = proc, {"write": port, "management": port, "live": port}
        else:
            infra = support.Infra(root)
            infra.start()
            support.migrate(infra, logs)
            ports = {}
            for service, short in (("count-write-service", "write"),
                                   ("count-management-service", "management"),
                                   ("dashboard-update-service", "live")):
                proc, ports[short] = support.start_service(
                    service, infra, keys, logs, debug=False,
                    env_overrides=live_env if short == "live" else None)
                procs.append(proc)
            live = procs[-1]
        admin = support.Client({**ports, "read": ports["write"], "analysis": ports["write"]}, keys.admin)
        prefix = "live-bench-"
        create_counters(admin, prefix, args.counters)
        idle = rss_kib(live.pid)
        cmd = [str(load), "--sse-port", str(ports["live"]), "--write-port", str(ports["write"]),
               "--key", keys.admin, "--prefix", prefix, "--subscribers", str(args.subscribers),
               "--counters", str(args.counters), "--rate", str(args.rate),
               "--seconds", str(args.seconds)]
        ticks0 = benchlib.ticks([live.pid])
        run = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        peak = idle
        while run.poll() is None:
            peak = max(peak, rss_kib(live.pid))
            time.sleep(0.5)
        out = run.stdout.read() if run.stdout else ""
        if run.returncode != 0:
            raise RuntimeError(f"live_load failed ({run.returncode})")
        result = json.loads(out.strip().splitlines()[-1])
        cpu = (benchlib.ticks([live.pid]) - ticks0) / TICKS  # streams opening, then the load
        result.update({"mode": args.mode, "rss_idle_kib": idle, "rss_peak_kib": peak,
                       "deliveries_per_second": result["deliveries"] / args.seconds,
                       "cpu_seconds": round(cpu, 3),
                       "cpu_us_per_delivery": round(cpu / max(1, result["deliveries"]) * 1e6, 2)})
        print(json.dumps(result))
        if args.json:
            args.json.write_text(json.dumps(result, indent=2) + "\n")
        if args.mode == "services" and args.costs:  # for bench/capacity.py (docs/SCALING.md)
            costs = {"kind": "live", "produced_by": "bench/live.py --mode services",
                     "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                     "loadavg": " ".join(f"{x:.2f}" for x in os.getloadavg()),
                     "streams": result["streams_open"], "writes_per_second": args.rate,
                     "deliveries": result["deliveries"],
                     "cpu_us_per_delivery": result["cpu_us_per_delivery"],
                     "rss_bytes_per_stream": round((peak - idle) * 1024 / max(1, result["streams_open"]), 1),
                     "rss_idle_kib": idle}
            Path(args.costs).parent.mkdir(parents=True, exist_ok=True)
            Path(args.costs).write_text(json.dumps(costs, indent=2) + "\n")
        print(f"\n{args.mode}: {result['streams_open']} streams open "
              f"({result['streams_failed']} failed), writes {result['write_rate_achieved']:.0f}/s, "
              f"deliveries {result['deliveries']} of {result['deliveries_expected']} expected\n"
              f"write → delivery latency: p50 {result['latency_ms_p50']:.0f} ms, "
              f"p95 {result['latency_ms_p95']:.0f} ms, p99 {result['latency_ms_p99']:.0f} ms, "
              f"max {result['latency_ms_max']:.0f} ms (target p95 ≤ 100 ms)\n"
              f"instance memory: {idle / 1024:.1f} MiB idle, {peak / 1024:.1f} MiB with every stream open",
              file=sys.stderr)
        return 0
    finally:
        for p in reversed(procs):
            p.stop()
        if infra is not None:
            infra.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
