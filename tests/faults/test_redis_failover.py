"""Scenario c — the Redis primary killed (SIGKILL) with three Sentinels running.

The write and management services find the primary through REDIS_SENTINELS +
REDIS_MASTER_NAME (no REDIS_URL); the read service reads the replica (REDIS_REPLICA_URL).
The primary runs with AOF `appendfsync everysec` (the Redis default with appendonly yes).
Sentinels use down-after-milliseconds 1000, quorum 2.

Each writer owns one counter and increments it by 1, one request at a time, so the values
the acknowledgements carry tell exactly what happened:
* a later acknowledged value not above an earlier one means acknowledged writes were lost
  (they reached the old primary but not the replica before it was promoted);
* a jump of more than 1 means writes that failed (503) had been applied all the same.

Measured: outage window (kill → first acknowledged write), Sentinel's promotion time, failed
writes, acknowledged writes lost, failed reads (must be 0: the replica keeps serving). Then
the old primary is started again and must come back as a replica of the new primary.

The second test kills the primary without Sentinel and starts it again from its own AOF:
no acknowledged write may be lost.

    python3 -m pytest tests/faults/test_redis_failover.py      (or scripts/fault.sh redis-failover)
"""
from __future__ import annotations

import json
import threading
import time

import faultkit
from faultkit import Load, Stack, parse_resp, redis_command, send, start_service_on, support

WRITERS = 4


def analyse(acks: list[list[tuple[float, int]]]) -> tuple[float, float, int, int]:
    """From each writer's acknowledged (time, value) pairs: the longest time without any
    acknowledged write and when it ended, acknowledged writes lost (a later value not above
    an earlier one), and failed writes that were applied all the same (a jump above 1)."""
    times = sorted(t for a in acks for t, _ in a)
    gap, gap_end = max((b - a, b) for a, b in zip(times, times[1:]))
    lost = applied_unacked = 0
    for a in acks:
        for (_, prev), (_, cur) in zip(a, a[1:]):
            if cur <= prev:
                lost += prev - cur + 1
            elif cur > prev + 1:
                applied_unacked += cur - prev - 1
    return gap, gap_end, lost, applied_unacked


def test_redis_primary_killed_with_sentinel(root, keys):
    stack = Stack(root, kafka=False)
    procs: dict[str, faultkit.Proc] = {}
    writes = reads = None
    try:
        stack.start()
        stack.start_sentinels(3, down_after_ms=1000)
        support.migrate(stack, stack.logs)
        sentinel_env = {"REDIS_URL": None, "REDIS_SENTINELS": stack.sentinel_list,
                        "REDIS_MASTER_NAME": stack.master_name, "REDIS_TIMEOUT_MS": "1000"}
        mport, wport, rport = support.free_port(), support.free_port(), support.free_port()
        procs["m1"] = start_service_on("count-management-service", stack, keys, stack.logs, mport, name="m1",
                                       env=sentinel_env)
        procs["w1"] = start_service_on("count-write-service", stack, keys, stack.logs, wport, name="w1",
                                       env=sentinel_env)
        procs["r1"] = start_service_on("count-read-service", stack, keys, stack.logs, rport, name="r1")
        counters = faultkit.create_counters(mport, keys.admin, WRITERS, "failover")
        acks: list[list[tuple[float, int]]] = [[] for _ in range(WRITERS)]
        lock = threading.Lock()

        def write(conn, worker, i):
            status, body = send(conn, "POST", f"/api/v1/counts/{counters[worker]}/increment", keys.writer, b"")
            if status == 200:
                with lock:
                    acks[worker].append((time.monotonic(), json.loads(body)["value"]))
            return "write", status

        def read(conn, worker, i):
            status, _ = send(conn, "GET", f"/api/v1/counts/{counters[i % WRITERS]}", keys.reader)
            return "read", status

        writes = Load(wport, write, threads=WRITERS, rate=100).start()
        reads = Load(rport, read, threads=2, rate=100).start()
        time.sleep(2)

        primary = stack.proc("redis-primary")
        old_port = stack.redis_port
        t_kill = time.monotonic()
        primary.popen.kill()  # SIGKILL, this PID only
        primary.wait(10)
        primary.stop()  # closes its logs
        support.eventually(lambda: stack.master_port() != old_port, timeout=30, interval=0.05,
                           message="sentinel promoted the replica")
        promoted = time.monotonic() - t_kill
        support.eventually(lambda: any(t > t_kill for a in acks for t, _ in a), timeout=30, interval=0.02,
                           message="a write acknowledged after the kill")
        time.sleep(3)
        writes.stop()

        # The old primary comes back and Sentinel makes it a replica of the new one.
        stack.procs[stack.procs.index(primary)] = primary = faultkit.Proc(
            primary.name, primary.argv, {}, stack.logs)
        support.wait_port(old_port, proc=primary)
        support.eventually(lambda: b"role:slave" in redis_command(old_port, "INFO", "replication")
                           and b"master_link_status:up" in redis_command(old_port, "INFO", "replication"),
                           timeout=60, interval=0.2, message="old primary rejoined as a replica")
        rejoined = time.monotonic() - t_kill
        reads.stop()

        gap, gap_end, lost, applied_unacked = analyse(acks)
        failed_writes = writes.failures()
        failed_reads = reads.failures()
        faultkit.record(
            "redis-failover", sentinels=3, down_after_ms=1000,
            outage_s=round(gap, 2), outage_ended_after_kill_s=round(gap_end - t_kill, 2),
            sentinel_promoted_s=round(promoted, 2), old_primary_rejoined_as_replica_s=round(rejoined, 2),
            writes=len(writes.snapshot()), failed_writes=len(failed_writes),
            failed_write_statuses=sorted({o.status for o in failed_writes}),
            acknowledged_writes_lost=lost, failed_writes_applied_anyway=applied_unacked,
            reads=len(reads.snapshot()), failed_reads=len(failed_reads),
            failed_reads_at_s=[round(o.t - t_kill, 2) for o in failed_reads], read_p99_ms=reads.summary()["p99_ms"],
            machine=faultkit.machine())
        assert not failed_reads, failed_reads[:5]
        assert gap < 15, "writes did not resume by themselves within 15 s"
        assert all(o.status == 503 for o in failed_writes), failed_writes[:5]
        assert parse_resp(redis_command(stack.master_port(), "ROLE"))[0] == "master"
    finally:
        for load in (writes, reads):
            if load is not None and not load._stop.is_set():
                load.stop()
        for p in procs.values():
            p.stop()
        stack.stop()


def test_redis_primary_killed_and_restarted_from_its_aof(root, keys):
    """Without Sentinel: the primary is SIGKILLed and started again on its port from its own
    AOF (appendfsync everysec). Redis writes the AOF before it answers, so a killed process
    loses no acknowledged write (an OS crash could lose up to the last second)."""
    stack = Stack(root, kafka=False)
    procs: dict[str, faultkit.Proc] = {}
    writes = None
    try:
        stack.start()
        support.migrate(stack, stack.logs)
        mport, wport = support.free_port(), support.free_port()
        procs["m1"] = start_service_on("count-management-service", stack, keys, stack.logs, mport, name="m1")
        procs["w1"] = start_service_on("count-write-service", stack, keys, stack.logs, wport, name="w1",
                                       env={"REDIS_TIMEOUT_MS": "1000"})
        counters = faultkit.create_counters(mport, keys.admin, WRITERS, "aof")
        acks: list[list[tuple[float, int]]] = [[] for _ in range(WRITERS)]
        lock = threading.Lock()

        def write(conn, worker, i):
            status, body = send(conn, "POST", f"/api/v1/counts/{counters[worker]}/increment", keys.writer, b"")
            if status == 200:
                with lock:
                    acks[worker].append((time.monotonic(), json.loads(body)["value"]))
            return "write", status

        writes = Load(wport, write, threads=WRITERS, rate=100).start()
        time.sleep(2)
        primary = stack.proc("redis-primary")
        t_kill = time.monotonic()
        primary.popen.kill()  # SIGKILL, this PID only
        primary.wait(10)
        primary.stop()
        stack.procs[stack.procs.index(primary)] = primary = faultkit.Proc(primary.name, primary.argv, {}, stack.logs)
        support.wait_port(stack.redis_port, proc=primary)
        restarted = time.monotonic() - t_kill
        support.eventually(lambda: any(t > t_kill + restarted for a in acks for t, _ in a), timeout=30,
                           interval=0.02, message="a write acknowledged after the restart")
        time.sleep(2)
        writes.stop()
        gap, gap_end, lost, applied_unacked = analyse(acks)
        failed = writes.failures()
        faultkit.record("redis-aof-restart", appendfsync="everysec", redis_restarted_s=round(restarted, 2),
                        outage_s=round(gap, 2), writes=len(writes.snapshot()), failed_writes=len(failed),
                        failed_write_statuses=sorted({o.status for o in failed}),
                        acknowledged_writes_lost=lost, failed_writes_applied_anyway=applied_unacked,
                        machine=faultkit.machine())
        assert lost == 0, f"{lost} acknowledged writes lost"
        assert gap < 15
        assert all(o.status == 503 for o in failed), failed[:5]
    finally:
        if writes is not None and not writes._stop.is_set():
            writes.stop()
        for p in procs.values():
            p.stop()
        stack.stop()
