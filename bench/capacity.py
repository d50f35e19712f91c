#!/usr/bin/env python3
"""Capacity model: the resources each component needs for a workload, computed from the costs
per operation that the benchmarks measured in their latest runs (docs/SCALING.md).

  bench/capacity.py [--workload team|product|internet|all] [workload options] [assumptions]
  bench/capacity.py --predict-pipeline RATE --analysis-replicas N
        the cores each process of the services pipeline should use at RATE events/s with N
        analysis replicas (what `bench/pipeline.py --replicas N --no-kill --rate RATE` measures)

Inputs (bench/results/, or --results DIR), each rewritten by the run that measures it:
  requests.json  bench/run.sh         CPU µs per increment / read of the write and read services,
                                      Redis primary and replica, nginx; RSS of each service
  pipeline.json  bench/pipeline.py    CPU µs per event of the relay, Kafka broker, analysis
                                      consumer, PostgreSQL; CPU at rest; bytes per event, per
                                      rollup row, per counter (Redis, PostgreSQL)
  live.json      bench/live.py --mode services   CPU µs per delivery, bytes per open stream
  redis_cluster.json  bench/redis_cluster.py   CPU µs of a Redis Cluster primary per increment
                                      of one hot counter, as one key and sharded

No cost is a constant in this file: only the assumptions below (named options, documented in
docs/SCALING.md) and the three example workloads.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass, fields, replace
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
MINUTES_PER_YEAR = 525_600
HOURS_PER_YEAR = 8_760
SUB_COUNTERS = 6  # of a sharded counter on a cluster: KeyLayout::kSubCounters (common/redis/key_layout.hpp)


@dataclass(frozen=True)
class Workload:
    increments: float         # writes per second (each one event)
    reads: float              # reads per second
    counters: int             # counters that exist
    active_per_minute: int    # counters changed in a given minute (= minute rollup rows per minute)
    viewers: int              # open dashboard streams
    retention_days: int       # history kept (HISTORY_RETENTION_DAYS)


# Three examples (docs/SCALING.md): a team, a product, an internet-scale site.
WORKLOADS = {
    "team": Workload(increments=400, reads=600, counters=1_000, active_per_minute=200,
                     viewers=20, retention_days=400),
    "product": Workload(increments=20_000, reads=30_000, counters=1_000_000,
                        active_per_minute=100_000, viewers=1_000, retention_days=400),
    "internet": Workload(increments=400_000, reads=600_000, counters=100_000_000,
                         active_per_minute=10_000_000, viewers=1_000_000, retention_days=400),
}


@dataclass(frozen=True)
class Assumptions:
    utilisation: float = 0.6          # plan every CPU to at most this share (bursts, a lost node)
    instance_cores: float = 2.0       # cores of one replica of a stateless service (pod limit)
    redis_core: float = 1.0           # Redis executes commands on one thread
    redis_max_gib: float = 25.0       # data per Redis primary (fork for snapshots, resync time)
    redis_groups: int = 60            # REDIS_CLUSTER_GROUPS: the tag groups a cluster's primaries share
    broker_cores: float = 8.0         # cores of one Kafka broker
    kafka_replication: int = 3        # replicas of each partition; broker CPU and disk scale with it
    kafka_retention_hours: float = 168.0
    pg_max_cores: float = 64.0        # the largest single PostgreSQL primary considered
    pg_max_tib: float = 10.0          # storage one PostgreSQL primary is operated with
    updates_per_viewer: float = 1.0   # messages per second each open stream receives
    streams_per_instance: int = 10_000  # SSE_MAX_SUBSCRIBERS
    event_id_days: float | None = None  # how long event ids are kept; None: as built (= retention)
    minute_days: float | None = None    # how long minute rows are kept; None: as built (= retention)


@dataclass(frozen=True)
class Costs:
    """Costs per operation, in µs of CPU, bytes, or cores at rest; each from one measurement."""
    write_us: float            # count-write-service per single increment (HTTP, Lua call)
    redis_primary_us: float    # Redis primary per increment (script, outbox, relay's reads)
    redis_replay_us: float     # a Redis replica replaying one increment
    read_us: float             # count-read-service per GET
    redis_read_us: float       # Redis replica per GET
    ingress_us: float          # nginx `return 200` per request: a lower bound of a proxy hop
    relay_us: float            # the outbox relay (one leader thread + the producer's threads)
    kafka_us: float            # Kafka broker per event (leader only), at rest included
    analysis_us: float         # count-analysis-service per event
    postgres_us: float         # PostgreSQL per event (rollup statement)
    delivery_us: float         # dashboard-update-service per message to an open stream
    hot_key_us: float          # a cluster primary per increment of one hot counter, one key
    hot_sharded_us: float      # each primary per increment of one hot sharded counter it takes
    analysis_idle_cores: float
    analysis_rss: int          # bytes, after load
    kafka_rss: int             # the bench's broker (a 512 MiB heap): a lower bound for production
    write_rss: int             # bytes, after load
    read_rss: int
    stream_bytes: float        # per open SSE stream
    live_idle_rss: int
    redis_counter_bytes: float
    count_info_bytes: float
    kafka_event_bytes: float   # on the broker's disk, per event, one copy
    event_id_bytes: float      # history_event, per event
    minute_row_bytes: float
    hour_row_bytes: float
    packed_hour_bytes: float
    sources: tuple[str, ...] = ()


def _read(results: Path, name: str, command: str) -> dict:
    path = results / name
    if not path.exists():
        raise SystemExit(f"{path} is missing: run {command} first (docs/SCALING.md)")
    return json.loads(path.read_text())


def load_costs(results: Path) -> Costs:
    req = _read(results, "requests.json", "bench/run.sh")
    pipe = _read(results, "pipeline.json", "bench/pipeline.py")
    live = _read(results, "live.json", "bench/live.py --mode services")
    cluster = _read(results, "redis_cluster.json", "bench/redis_cluster.py")
    if pipe.get("storage") is None:
        raise SystemExit(f"{results / 'pipeline.json'} ({pipe['date']}) has no storage figures: run "
                         "bench/pipeline.py --mode services with --footprint-counters above 0")
    inc = req["scenarios"]["write_increment"]["cpu_us"]
    get = req["scenarios"]["read_get"]["cpu_us"]
    ev = pipe["cpu_us_per_event"]
    st = pipe["storage"]
    rows = st["rollup_bytes_per_row"]
    analysis = next(k for k in ev if k.startswith("count-analysis-service"))
    relay = next(k for k in ev if k.startswith("relay"))
    return Costs(
        write_us=inc["server"], redis_primary_us=inc["redis_primary"],
        redis_replay_us=inc["redis_replica"], read_us=get["server"], redis_read_us=get["redis_replica"],
        ingress_us=req["scenarios"]["nginx"]["cpu_us"]["server"],
        # The write path's costs are those of single increments (the dearest shape: the relay's
        # batches are small, and the broker's cost per event grows as they shrink); the
        # consumers' come from the pipeline, whose batches the request shape does not change.
        relay_us=inc.get("relay", ev[relay]), kafka_us=inc["kafka"],
        analysis_us=ev[analysis], postgres_us=ev["postgres"],
        delivery_us=live["cpu_us_per_delivery"],
        hot_key_us=_primary_us(cluster, "hot"), hot_sharded_us=_primary_us(cluster, "hot-sharded"),
        analysis_idle_cores=pipe["idle_cores"][analysis],
        analysis_rss=pipe["rss_kib"][analysis] * 1024, kafka_rss=pipe["rss_kib"]["kafka"] * 1024,
        write_rss=req["rss_kib_after_load"]["count-write-service"] * 1024,
        read_rss=req["rss_kib_after_load"]["count-read-service"] * 1024,
        stream_bytes=live["rss_bytes_per_stream"], live_idle_rss=live["rss_idle_kib"] * 1024,
        redis_counter_bytes=st["redis_bytes_per_counter"],
        count_info_bytes=st["count_info_bytes_per_counter"],
        kafka_event_bytes=st["kafka_bytes_per_event"], event_id_bytes=st["history_event_bytes_per_event"],
        minute_row_bytes=rows["history_minute"], hour_row_bytes=rows["history_hour"],
        packed_hour_bytes=rows["history_hour_minutes"],
        sources=(f"requests.json: {req['date']} ({req['source']}; load average {req['machine']['loadavg_before']} before)",
                 f"pipeline.json: {pipe['date']} ({pipe['source']}; {pipe['phase']} at "
                 f"{pipe['events_per_second']:,.0f} events/s; load average {pipe['machine']['loadavg']})",
                 f"live.json: {live['date']} ({live['streams']:,} streams; load average {live['loadavg']})",
                 f"redis_cluster.json: {cluster['when']} (hot counter phases; load average "
                 f"{_phase(cluster, 'hot')['load_average']:.2f})"))


def _phase(cluster: dict, mode: str) -> dict:
    return next(r for r in cluster["results"] if r["mode"] == mode)


def _primary_us(cluster: dict, mode: str) -> float:
    """CPU µs per increment of the primaries that served the phase's increments."""
    served = [s for s in _phase(cluster, mode)["shards"] if s["role"] == "primary" and s["increments"]]
    return sum(s["cpu_s"] for s in served) / sum(s["increments"] for s in served) * 1e6


@dataclass
class Row:
    component: str
    status: str          # "built" or "planned" (what the row needs that is not built yet)
    cores: float
    memory: float        # bytes
    storage: float       # bytes
    instances: int
    note: str = ""


@dataclass
class Limit:
    """A ceiling of one instance that adding replicas does not lift; `switch`: what lies past it,
    built (Redis Cluster) or planned."""
    what: str
    demand: float
    ceiling: float
    unit: str
    switch: str

    @property
    def headroom(self) -> float:
        return self.ceiling / self.demand if self.demand > 0 else math.inf


def cores(rate: float, us: float) -> float:
    return rate * us / 1e6


def replicas(need: float, per: float, minimum: int = 1) -> int:
    return max(minimum, math.ceil(need / per - 1e-9)) if per > 0 else minimum


def model(w: Workload, c: Costs, a: Assumptions) -> tuple[list[Row], list[Limit]]:
    ev = w.increments  # every increment is one event
    usable = a.instance_cores * a.utilisation
    redis_usable = a.redis_core * a.utilisation
    rows: list[Row] = []
    limits: list[Limit] = []

    # Ingress: one proxy hop per request (nginx's own `return 200` cost: a lower bound).
    ing = cores(w.increments + w.reads, c.ingress_us)
    rows.append(Row("ingress (nginx)", "built", ing, 0, 0, replicas(ing, usable, 2), "lower bound: no proxying measured"))

    wr = cores(w.increments, c.write_us)
    n = replicas(wr, usable, 2)
    rows.append(Row("count-write-service", "built", wr, n * c.write_rss, 0, n))
    # The relay: one leader per outbox stream (one on one Redis, one per tag group on a cluster),
    # but each process's one relay thread leads whichever streams it takes first.
    rl = cores(ev, c.relay_us)
    rows.append(Row("outbox relay", "built", rl, 0, 0, 1,
                    "one leader per outbox stream (one per tag group on a cluster); one thread per write "
                    "or management replica"))
    limits.append(Limit("one relay thread (one process may lead every stream)", ev,
                        a.utilisation / c.relay_us * 1e6, "events/s",
                        "the streams' leases spread evenly over the replicas' relays (planned: today a lease "
                        "goes to whichever relay asks first)"))

    # Redis: primaries by CPU (one thread) and by memory. On a cluster a primary holds whole tag
    # groups, so K is the fewest primaries whose busiest (ceil(G / K) of the G groups) fits;
    # replicas replay every write of their shard.
    r_cores = cores(w.increments, c.redis_primary_us)
    r_mem = w.counters * c.redis_counter_bytes
    primary_ceiling = redis_usable / c.redis_primary_us * 1e6
    fits = min(primary_ceiling / w.increments if w.increments else math.inf,
               a.redis_max_gib * 2**30 / r_mem if r_mem else math.inf)  # share of the load one primary takes
    g = a.redis_groups
    k = 1 if fits >= 1 else math.ceil(g / max(1, math.floor(g * fits + 1e-9)))
    share = math.ceil(g / k) / g if k > 1 else 1.0  # of the increments and reads, on the busiest shard
    redis = "built" if k == 1 else "built: Redis Cluster"
    cluster = f"Redis Cluster with {max(k, 2)} primaries (built: REDIS_CLUSTER_NODES, docs/DEPLOY.md)"
    limits.append(Limit("one Redis primary, CPU", w.increments, primary_ceiling, "increments/s", cluster))
    limits.append(Limit("one Redis primary, memory", r_mem, a.redis_max_gib * 2**30, "bytes", cluster))
    limits.append(Limit(f"a cluster's {g} tag groups, one per primary, CPU", w.increments, g * primary_ceiling,
                        "increments/s", "a new cluster with more groups (REDIS_CLUSTER_GROUPS up to 1,024: built, "
                        "but fixed for a cluster's life, so every counter moves)"))
    rows.append(Row("Redis primary", redis, r_cores, r_mem, r_mem, k,
                    f"{k} shard(s)" + (f", ≤ {math.ceil(g / k)} of {g} tag groups each" if k > 1 else "")))
    replay = cores(w.increments * share, c.redis_replay_us)
    reads_per_replica = redis_usable - replay
    if reads_per_replica <= 0:
        per_shard = 1
        note = "replay alone exceeds one core: more shards"
    else:
        per_shard = replicas(cores(w.reads * share, c.redis_read_us), reads_per_replica)
        note = f"{per_shard} per shard"
    rows.append(Row("Redis replicas", redis,
                    per_shard * cores(w.increments, c.redis_replay_us) + cores(w.reads, c.redis_read_us),
                    per_shard * r_mem, per_shard * r_mem, k * per_shard, note))

    rd = cores(w.reads, c.read_us)
    n = replicas(rd, usable, 2)
    rows.append(Row("count-read-service", "built", rd, n * c.read_rss, 0, n))

    # Kafka: broker CPU and disk per copy of each event; partitions ≥ analysis replicas.
    kc = cores(ev, c.kafka_us) * a.kafka_replication
    kd = ev * c.kafka_event_bytes * a.kafka_retention_hours * 3600 * a.kafka_replication
    an = cores(ev, c.analysis_us)
    an_n = replicas(an, usable, 1)
    brokers = max(a.kafka_replication, replicas(kc, a.broker_cores * a.utilisation))
    rows.append(Row("Kafka brokers", "1 broker built; RF 3 planned", kc, brokers * c.kafka_rss, kd, brokers,
                    f"RF {a.kafka_replication}, {a.kafka_retention_hours:g} h, partitions ≥ {an_n}"))
    rows.append(Row("count-analysis-service", "built", an + an_n * c.analysis_idle_cores, an_n * c.analysis_rss, 0, an_n,
                    "one consumer group"))

    # PostgreSQL history: one primary takes every rollup statement and keeps every row.
    pg = cores(ev, c.postgres_us)
    minutes = (w.retention_days if a.minute_days is None else min(a.minute_days, w.retention_days)) * 1440
    hours = w.retention_days * 24
    event_days = w.retention_days if a.event_id_days is None else a.event_id_days
    rollups = w.active_per_minute * (minutes * c.minute_row_bytes + hours * (c.hour_row_bytes + c.packed_hour_bytes))
    event_ids = ev * event_days * 86400 * c.event_id_bytes
    hot = w.active_per_minute * (60 * c.minute_row_bytes + c.hour_row_bytes + c.packed_hour_bytes)
    rows.append(Row("PostgreSQL history", "built (one primary)", pg, hot, rollups + event_ids, 1,
                    f"rollups {fmt_bytes(rollups)} + event ids {fmt_bytes(event_ids)}; memory = last hour's rows"))
    limits.append(Limit("one PostgreSQL primary, CPU", ev, a.pg_max_cores * a.utilisation / c.postgres_us * 1e6,
                        "events/s", "shard the history by counter (planned: not built) or a distributed store"))
    limits.append(Limit("one PostgreSQL primary, storage", rollups + event_ids, a.pg_max_tib * 2**40, "bytes",
                        "keep event ids only for the redelivery window, partition by time, downsample "
                        "old minutes; then a distributed store (all planned)"))
    ci = w.counters * c.count_info_bytes
    rows.append(Row("PostgreSQL countinfo", "built", 0, 0, ci, 1, "management writes not modelled"))

    # Live updates: every replica reads every event; each stream gets its messages.
    dl = cores(w.viewers * a.updates_per_viewer, c.delivery_us)
    feed = cores(ev, c.analysis_us)  # reading one event: the analysis consumer's cost as a proxy
    spare = usable - feed
    by_cpu = replicas(dl, spare) if spare > 0 else 1
    lv = max(replicas(w.viewers, a.streams_per_instance), by_cpu)
    rows.append(Row("dashboard-update-service", "built", dl + lv * feed,
                    w.viewers * c.stream_bytes + lv * c.live_idle_rss, 0, lv,
                    f"each replica reads all {ev:,.0f} events/s" + ("" if spare > 0 else ": cannot keep up")))
    limits.append(Limit("one live replica reading every event", ev, usable / c.analysis_us * 1e6, "events/s",
                        "replicas that read only the partitions their viewers watch (planned: not built)"))
    return rows, limits


def hot_counter(c: Costs, a: Assumptions, k: int) -> tuple[float, float]:
    """Increments/s one counter takes on k primaries: as one key (one primary's core), and
    created sharded (SUB_COUNTERS sub-counters in tag groups spread evenly over the primaries,
    the busiest primary taking its share; on one server a sharded counter is one key)."""
    one_key = a.redis_core * a.utilisation / c.hot_key_us * 1e6
    if k == 1:
        return one_key, one_key
    busiest = math.ceil(SUB_COUNTERS / min(k, SUB_COUNTERS)) / SUB_COUNTERS
    return one_key, a.redis_core * a.utilisation / (c.hot_sharded_us * busiest) * 1e6


def history_per_year(w: Workload, c: Costs) -> dict[str, float]:
    """Bytes one year adds to the history store, by table group."""
    return {"minute rollups": w.active_per_minute * MINUTES_PER_YEAR * c.minute_row_bytes,
            "hour rollups and packed hours": w.active_per_minute * HOURS_PER_YEAR * (c.hour_row_bytes + c.packed_hour_bytes),
            "event ids": w.increments * 365 * 86400 * c.event_id_bytes}


def fmt_bytes(b: float) -> str:
    for unit, size in (("PiB", 2**50), ("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if b >= size:
            return f"{b / size:,.1f} {unit}"
    return f"{b:,.0f} B"


def fmt_amount(x: float, unit: str) -> str:
    return fmt_bytes(x) if unit == "bytes" else f"{x:,.0f} {unit}"


def render(name: str, w: Workload, rows: list[Row], limits: list[Limit]) -> str:
    out = [f"### {name}: {w.increments:,.0f} increments/s, {w.reads:,.0f} reads/s, {w.counters:,} counters, "
           f"{w.active_per_minute:,} active per minute, {w.viewers:,} viewers, {w.retention_days} days of history",
           "",
           "| component | built today? | cores | memory | storage | instances | note |",
           "|---|---|---:|---:|---:|---:|---|"]
    for r in rows:
        out.append(f"| {r.component} | {r.status} | {r.cores:,.2f} | {fmt_bytes(r.memory) if r.memory else '—'} | "
                   f"{fmt_bytes(r.storage) if r.storage else '—'} | {r.instances:,} | {r.note} |")
    total = sum(r.cores for r in rows)
    out += [f"| **all** | | **{total:,.1f}** | | | | |", "",
            "| one-instance ceiling (as built) | this workload | ceiling | headroom | past it |",
            "|---|---:|---:|---:|---|"]
    ranked = sorted(limits, key=lambda x: x.headroom)
    for lim in ranked:
        out.append(f"| {lim.what} | {fmt_amount(lim.demand, lim.unit)} | {fmt_amount(lim.ceiling, lim.unit)} | "
                   f"{lim.headroom:,.2f} × | {lim.switch} |")
    first = ranked[0]
    verb = "is already past its ceiling" if first.headroom < 1 else "saturates first"
    out += ["", f"First bottleneck: **{first.what}** {verb} — at ~{fmt_amount(first.ceiling, first.unit)} "
                f"({first.headroom:.2f} × this workload); next step: {first.switch}.", ""]
    return "\n".join(out)


def predict_pipeline(c: Costs, pipe: dict, rate: float, analysis_replicas: int) -> dict[str, float]:
    """Cores each process of bench/pipeline.py's services deployment uses at `rate` events/s:
    its CPU per event (net of rest) times the rate, plus what it uses at rest."""
    ev, idle = pipe["cpu_us_per_event"], pipe["idle_cores"]
    analysis = next(k for k in ev if k.startswith("count-analysis-service"))
    out = {k: cores(rate, v) + idle.get(k, 0) for k, v in ev.items()
           if not k.startswith(("count-analysis-service", "relay"))}
    out["count-analysis-service (all replicas)"] = cores(rate, ev[analysis]) + analysis_replicas * idle[analysis]
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workload", choices=[*WORKLOADS, "all"], default="all")
    p.add_argument("--results", type=Path, default=RESULTS, help="where the costs are (default bench/results)")
    for f in fields(Workload):
        p.add_argument(f"--{f.name.replace('_', '-')}", type=float, help="override the workload's figure")
    for f in fields(Assumptions):
        p.add_argument(f"--{f.name.replace('_', '-')}", type=float, default=None,
                       help=f"assumption (default {f.default})")
    p.add_argument("--predict-pipeline", type=float, metavar="RATE",
                   help="predict the cores of bench/pipeline.py's processes at RATE events/s")
    p.add_argument("--analysis-replicas", type=int, default=1)
    a = p.parse_args(argv)
    costs = load_costs(a.results)
    if a.predict_pipeline:
        pipe = json.loads((a.results / "pipeline.json").read_text())
        pred = predict_pipeline(costs, pipe, a.predict_pipeline, a.analysis_replicas)
        print(f"Predicted cores at {a.predict_pipeline:,.0f} events/s, {a.analysis_replicas} analysis "
              f"replica(s), from {costs.sources[1]}:")
        for k, v in pred.items():
            print(f"  {k}: {v:.3f}")
        return 0
    assume = Assumptions(**{f.name: (int(v) if isinstance(f.default, int) else v)
                            for f in fields(Assumptions) if (v := getattr(a, f.name)) is not None})
    print(f"Costs measured in the latest runs ({'bench/results/' if a.results == RESULTS else a.results}):")
    for s in costs.sources:
        print(f"  {s}")
    print(f"Assumptions: {', '.join(f'{f.name}={getattr(assume, f.name)}' for f in fields(Assumptions))}\n")
    names = list(WORKLOADS) if a.workload == "all" else [a.workload]
    for name in names:
        w = replace(WORKLOADS[name], **{f.name: (int(v) if f.type == "int" else v)
                                        for f in fields(Workload) if (v := getattr(a, f.name)) is not None})
        rows, limits = model(w, costs, assume)
        print(render(name, w, rows, limits))
        k = next(r.instances for r in rows if r.component == "Redis primary")
        on = k if k > 1 else 3  # sharding needs a cluster; the delivered one has 3 primaries
        one_key, sharded = hot_counter(costs, assume, on)
        print(f"One hot counter: ~{one_key:,.0f} increments/s as one key ({costs.hot_key_us:.1f} µs each on its "
              f"primary; more primaries do not help it); created `\"sharded\": true`, ~{sharded:,.0f}/s on "
              f"{'a cluster of ' if k == 1 else ''}{on} primaries (its {SUB_COUNTERS} sub-counters on "
              f"{min(on, SUB_COUNTERS)} of them, {costs.hot_sharded_us:.1f} µs per increment on each).\n")
        year = history_per_year(w, costs)
        window = w.increments * assume.kafka_retention_hours * 3600 * costs.event_id_bytes
        print("History per year (one copy, indexes included): "
              + ", ".join(f"{k} {fmt_bytes(v)}" for k, v in year.items())
              + f"; all {fmt_bytes(sum(year.values()))}. With event ids kept only while Kafka keeps the "
              f"event ({assume.kafka_retention_hours:g} h, planned): a year's rollups "
              f"{fmt_bytes(year['minute rollups'] + year['hour rollups and packed hours'])} + "
              f"{fmt_bytes(window)} of event ids.\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
