#!/usr/bin/env python3
"""Redis Cluster scaling benchmark (docs/BENCHMARKS.md, "Redis Cluster"), in one run:

  1. increments spread over many counters on a 1-primary cluster (its replica beside it);
  2. the same on a 3-primary / 3-replica cluster;
  3. one hot counter on the 3-primary cluster, an ordinary counter (one key, one shard);
  4. one hot counter on the 3-primary cluster, created "sharded": true (sub-counters on
     every shard, docs/API.md "Hot counters").

The load is bench/cluster/cluster_load: the write service's own path to the cluster
(RedisLoopCountValueStore, group commit per tag group, apply.lua) without HTTP in front. The
figure that matters is each redis-server's CPU (utime + stime from /proc/<pid>/stat) divided by
the increments that server served (the events its outbox streams took, one per increment:
the sum of the `count-events:{<tag>}:size` counters it holds), which does not depend on how
busy the rest of the machine is; the throughput does, and is printed as measured.

  bench/redis_cluster.py [--seconds S] [--counters N] [--loops L] [--in-flight K]
                         [--json FILE]

Needs redis-server and redis-cli (scripts/setup.sh --test) and builds the load client
(cmake --build --preset release --target cluster_load). Every server runs on a free loopback
port in a temporary directory and is stopped by PID at the end.
"""
import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOAD = ROOT / "build" / "release" / "bench" / "cluster_load"
TICK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(port, *args):
    out = subprocess.run(["redis-cli", "-p", str(port), *args], check=True,
                         capture_output=True, text=True)
    return out.stdout.strip()


def cpu_ticks(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime


def machine_ticks():
    """(busy, total) jiffies of all CPUs, from /proc/stat."""
    v = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = v[3] + v[4]
    return sum(v) - idle, sum(v)


STARTED = []  # every server this run started, stopped by PID at the end whatever happens


class Node:
    def __init__(self, base, name):
        self.port, self.bus = free_port(), free_port()
        self.dir = base / name
        self.dir.mkdir()
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--cluster-enabled", "yes", "--cluster-port", str(self.bus),
             "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "5000",
             "--appendonly", "no", "--save", "", "--dir", str(self.dir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        STARTED.append(self)
        for _ in range(100):
            try:
                if cli(self.port, "PING") == "PONG":
                    return
            except subprocess.CalledProcessError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"redis-server on {self.port} did not start")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)

    def role(self):
        return "primary" if "role:master" in cli(self.port, "INFO", "replication") else "replica"

    def stats(self):
        """Script calls (EVALSHA + EVAL), commands and read events the server processed."""
        info = cli(self.port, "INFO", "all")
        calls = 0
        for line in info.splitlines():
            if line.startswith(("cmdstat_evalsha:", "cmdstat_eval:")):
                calls += int(line.split("calls=")[1].split(",")[0])
        field = lambda name: int(next(l.split(":")[1] for l in info.splitlines()
                                      if l.startswith(name + ":")))
        return {"scripts": calls, "commands": field("total_commands_processed"),
                "reads": field("total_reads_processed")}

    def events(self):
        """The events this node's outbox streams took (its `:size` counters), as a primary."""
        total, cursor = 0, "0"
        while True:
            out = cli(self.port, "SCAN", cursor, "MATCH", "count-events:*:size", "COUNT", "1000")
            lines = out.splitlines()
            cursor, keys = lines[0], lines[1:]
            for k in keys:
                total += int(cli(self.port, "GET", k) or 0)
            if cursor == "0":
                return total


def wait_ok(nodes, replicas):
    """Every node says cluster_state:ok and `replicas` replicas are attached and in sync."""
    deadline = time.time() + 60
    while time.time() < deadline:
        infos = [cli(n.port, "INFO", "replication") for n in nodes]
        synced = sum("role:slave" in i and "master_link_status:up" in i for i in infos)
        if synced == replicas and all("cluster_state:ok" in cli(n.port, "CLUSTER", "INFO")
                                      for n in nodes):
            return
        time.sleep(0.2)
    raise RuntimeError("the cluster did not become ready")


def one_primary(base):
    """One primary holding every slot, and its replica (redis-cli --cluster create wants 3)."""
    primary, replica = Node(base, "p0"), Node(base, "r0")
    cli(primary.port, "CLUSTER", "ADDSLOTSRANGE", "0", "16383")
    cli(replica.port, "CLUSTER", "MEET", "127.0.0.1", str(primary.port), str(primary.bus))
    primary_id = cli(primary.port, "CLUSTER", "MYID")
    deadline = time.time() + 30
    while primary_id not in cli(replica.port, "CLUSTER", "NODES"):
        if time.time() > deadline:
            raise RuntimeError("the replica did not meet the primary")
        time.sleep(0.1)
    cli(replica.port, "CLUSTER", "REPLICATE", primary_id)
    wait_ok([primary, replica], 1)
    return [primary, replica]


def three_primaries(base):
    nodes = [Node(base, f"n{i}") for i in range(6)]
    subprocess.run(["redis-cli", "--cluster", "create",
                    *[f"127.0.0.1:{n.port}" for n in nodes],
                    "--cluster-replicas", "1", "--cluster-yes"],
                   check=True, capture_output=True)
    wait_ok(nodes, 3)
    return nodes


def phase(name, nodes, mode, args):
    seeds = ",".join(f"127.0.0.1:{n.port}" for n in nodes)
    roles = {n.port: n.role() for n in nodes}
    # The replicas' share of each primary's increments: the replica of a primary is the node
    # whose INFO names its port.
    replica_of = {}
    for n in nodes:
        if roles[n.port] == "replica":
            info = cli(n.port, "INFO", "replication")
            port = int(next(l.split(":")[1] for l in info.splitlines()
                            if l.startswith("master_port:")))
            replica_of[n.port] = port
    load = subprocess.Popen([str(LOAD), seeds, mode, str(args.counters), str(args.seconds),
                             str(args.loops), str(args.in_flight)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    # It creates its counters, says "ready" and waits: their created events are not counted.
    if load.stdout.readline().strip() != "ready":
        raise RuntimeError(f"{name}: cluster_load did not start")
    events_before = {n.port: n.events() for n in nodes if roles[n.port] == "primary"}
    ticks_before = {n.port: cpu_ticks(n.proc.pid) for n in nodes}
    stats_before = {n.port: n.stats() for n in nodes}
    busy0, total0 = machine_ticks()
    load.stdin.write("go\n")
    load.stdin.flush()
    try:
        out, _ = load.communicate(timeout=args.seconds + 60)
    except subprocess.TimeoutExpired:
        load.kill()
        raise RuntimeError(f"{name}: cluster_load did not finish")
    busy1, total1 = machine_ticks()
    ticks_after = {n.port: cpu_ticks(n.proc.pid) for n in nodes}
    stats = {p: {k: v - stats_before[p][k] for k, v in n.stats().items()}
             for n in nodes for p in [n.port]}
    if load.returncode != 0:
        raise RuntimeError(f"{name}: cluster_load failed: {out}")
    load = json.loads(out.strip().splitlines()[-1])
    served = {p: n.events() - events_before[p] for n in nodes
              for p in [n.port] if roles[p] == "primary"}
    total_served = sum(served.values())
    shards = []
    for n in sorted(nodes, key=lambda n: (roles[n.port] != "primary", n.port)):
        p = n.port
        primary = p if roles[p] == "primary" else replica_of[p]
        inc = served[primary]
        cpu_s = (ticks_after[p] - ticks_before[p]) / TICK
        shards.append({"port": p, "role": roles[p], "of": primary, "increments": inc,
                       "cpu_s": cpu_s, **stats[p],
                       "us_per_increment": cpu_s * 1e6 / inc if inc else None})
    return {"name": name, "mode": mode, "increments": load["increments"],
            "events": total_served, "seconds": load["seconds"],
            "rate": load["increments"] / load["seconds"], "exact": load["exact"],
            "machine_busy": (busy1 - busy0) / max(total1 - total0, 1),
            "load_average": os.getloadavg()[0], "shards": shards}


def show(r):
    print(f"\n{r['name']}: {r['increments']} increments in {r['seconds']:.1f} s "
          f"({r['rate']:.0f}/s; machine {100 * r['machine_busy']:.0f}% busy, load average "
          f"{r['load_average']:.1f}), values exact: {r['exact']}")
    print(f"  {'node':>6} {'role':8} {'increments':>11} {'share':>6} {'CPU s':>7} "
          f"{'us/increment':>12} {'incr/script':>11} {'cmds/read':>9}")
    for s in r["shards"]:
        share = s["increments"] / max(r["events"], 1)
        us = f"{s['us_per_increment']:.1f}" if s["us_per_increment"] else "-"
        per_script = f"{s['increments'] / s['scripts']:.1f}" if s["scripts"] else "-"
        per_read = f"{s['commands'] / s['reads']:.1f}" if s["reads"] else "-"
        print(f"  {s['port']:>6} {s['role']:8} {s['increments']:>11} {100 * share:>5.0f}% "
              f"{s['cpu_s']:>7.2f} {us:>12} {per_script:>11} {per_read:>9}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--counters", type=int, default=1000)
    ap.add_argument("--loops", type=int, default=2)
    ap.add_argument("--in-flight", type=int, default=64)
    ap.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "redis_cluster.json")
    args = ap.parse_args()
    for tool in ("redis-server", "redis-cli"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is missing: run scripts/setup.sh --test")
    subprocess.run(["cmake", "--build", "--preset", "release", "--target", "cluster_load"],
                   cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp:
        base = Path(tmp)
        nodes = []
        try:
            nodes = one_primary(base)
            results.append(phase("spread, 1 primary", nodes, "spread", args))
            for n in nodes:
                n.stop()
            nodes = three_primaries(base)
            results.append(phase("spread, 3 primaries", nodes, "spread", args))
            results.append(phase("hot counter, 3 primaries, one key", nodes, "hot", args))
            results.append(phase("hot counter, 3 primaries, sharded", nodes, "hot-sharded", args))
        finally:
            for n in STARTED:
                if n.proc.poll() is None:
                    n.stop()
    for r in results:
        show(r)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                     "cpus": os.cpu_count(), "args": vars(args) | {"json": None},
                                     "results": results}, indent=2) + "\n")
    print(f"\nwritten to {args.json}")
    return 0 if all(r["exact"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
