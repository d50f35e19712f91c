"""Abuse: slow headers (slowloris), oversized headers and bodies, 10,000 idle connections,
invalid UTF-8 in JSON, maximal batches — while each runs (from a separate process, so the
measuring client does not share its interpreter), an ordinary client keeps being served
within its usual latency.

The target is count-write-service on Redis + PostgreSQL with HTTP_IDLE_TIMEOUT_SECONDS=30
and HTTP_READ_TIMEOUT_SECONDS=2. The ordinary client sends increments and strongly
consistent reads, one at a time on a keep-alive connection; its p99 is measured first
(baseline) and then under each abuse, and must stay within FACTOR × baseline (at least
FLOOR_MS: two shared cores are noisy), with no failed request. Every abuse must also leave
data unchanged and be answered as docs/API.md, "Errors" says (413, 431, 400), or be closed
after a timeout (HTTP_READ_TIMEOUT_SECONDS, HTTP_IDLE_TIMEOUT_SECONDS: README, "Configuration").

    python3 -m pytest tests/faults/test_abuse.py      (or scripts/fault.sh abuse)
"""
from __future__ import annotations

import http.client
import json
import multiprocessing as mp
import resource
import shutil
import socket
import time
from typing import Any, Callable, Iterator

import pytest

import faultkit
from faultkit import Keys, Stack, http_request, start_service_on, support

FACTOR = 10
FLOOR_MS = 150.0
PROBE_REQUESTS = 400
IDLE_CONNECTIONS = 10_000
READ_TIMEOUT_S = 2
IDLE_TIMEOUT_S = 30


class Target:
    def __init__(self, stack: Stack, keys: Keys, port: int, mport: int, counter: str, batch_ids: list[str]):
        self.stack, self.keys, self.port, self.mport = stack, keys, port, mport
        self.counter, self.batch_ids = counter, batch_ids
        self.baseline: dict[str, float] = {}
        self.expected = 0  # the probe counter's value

    def value(self, cid: str) -> int:
        r = http_request(self.mport, "GET", f"/management/api/v1/counts/{cid}",
                         headers={"Authorization": f"Bearer {self.keys.admin}"})
        assert r.status == 200, r.describe()
        return r.json()["value"]

    def probe(self, n: int = PROBE_REQUESTS) -> dict[str, Any]:
        """n ordinary requests (increment, read, ...) one after another; latency figures."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        lat, failures = [], []
        auth = {"Authorization": f"Bearer {self.keys.writer}"}
        for i in range(n):
            t0 = time.perf_counter()
            try:
                if i % 2 == 0:
                    conn.request("POST", f"/api/v1/counts/{self.counter}/increment", body=b'{"amount":1}',
                                 headers={**auth, "Content-Type": "application/json"})
                else:
                    conn.request("GET", f"/api/v1/counts/{self.counter}",
                                 headers={"Authorization": f"Bearer {self.keys.reader}"})
                r = conn.getresponse()
                r.read()
                if r.status != 200:
                    failures.append(r.status)
                elif i % 2 == 0:
                    self.expected += 1
            except (OSError, http.client.HTTPException) as e:
                failures.append(repr(e))
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            lat.append((time.perf_counter() - t0) * 1000)
        conn.close()
        return {"p50_ms": round(faultkit.percentile(lat, 50), 2), "p99_ms": round(faultkit.percentile(lat, 99), 2),
                "max_ms": round(max(lat), 1), "failures": failures}


def _raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 2 * IDLE_CONNECTIONS + 1000) if hard != resource.RLIM_INFINITY else 2 * IDLE_CONNECTIONS + 1000
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < IDLE_CONNECTIONS + 500:
        pytest.skip(f"RLIMIT_NOFILE hard limit {hard} is too low for {IDLE_CONNECTIONS} connections")


@pytest.fixture(scope="module")
def target() -> Iterator[Target]:
    _raise_nofile()  # before the service starts: it inherits the limit
    keys = Keys()
    root = support.make_tempdir("count-abuse-")
    root.chmod(0o755)
    stack = Stack(root, kafka=False)
    procs = []
    try:
        stack.start()
        support.migrate(stack, stack.logs)
        mport, wport = support.free_port(), support.free_port()
        procs.append(start_service_on("count-management-service", stack, keys, stack.logs, mport, name="m1"))
        procs.append(start_service_on("count-write-service", stack, keys, stack.logs, wport, name="w1",
                                      env={"HTTP_IDLE_TIMEOUT_SECONDS": str(IDLE_TIMEOUT_S),
                                           "HTTP_READ_TIMEOUT_SECONDS": str(READ_TIMEOUT_S)}))
        counter = faultkit.create_counters(mport, keys.admin, 1, "probe")[0]
        batch_ids = faultkit.create_counters(mport, keys.admin, 10, "batch")
        t = Target(stack, keys, wport, mport, counter, batch_ids)
        t.probe(200)  # warm up
        runs = [t.probe() for _ in range(3)]
        t.baseline = {"p50_ms": sorted(r["p50_ms"] for r in runs)[1], "p99_ms": sorted(r["p99_ms"] for r in runs)[1]}
        assert not any(r["failures"] for r in runs), runs
        yield t
        assert all(p.alive() for p in procs), "a service died"
        assert t.value(counter) == t.expected
    finally:
        for p in procs:
            p.stop()
        stack.stop()
        shutil.rmtree(root, ignore_errors=True)


# --------------------------------------------------------------------------- abusers (child processes)


def _loop(stop, fn: Callable[[], None]) -> None:
    while not stop.is_set():
        fn()


def _raw(port: int, data: bytes, timeout: float = 10) -> bytes:
    """Sends raw bytes, returns what came back until the server closed or the timeout."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        try:
            s.sendall(data)
        except OSError:
            pass
        out = b""
        try:
            while chunk := s.recv(65536):
                out += chunk
                if b"\r\n\r\n" in out and b"Connection: close" not in out and b"connection: close" not in out:
                    break
        except OSError:
            pass
        return out


def _status(resp: bytes) -> int:
    try:
        return int(resp.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return 0


def abuse_slowloris(port, stop, ready, results, n=500):
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.setblocking(False)
        socks.append([s, time.monotonic(), None])
    ready.set()
    line = b"POST /api/v1/counts/x/increment HTTP/1.1\r\nHost: t\r\nX-Slow: " + b"a" * 10_000
    i = 0
    while not stop.is_set() and any(c[2] is None for c in socks):
        for c in socks:
            if c[2] is not None:
                continue
            try:
                if i < len(line):
                    c[0].send(line[i:i + 1])
                data = c[0].recv(4096)  # the server's answer or its close
                c[2] = time.monotonic() - c[1]
            except BlockingIOError:
                pass
            except OSError:
                c[2] = time.monotonic() - c[1]
        i += 1
        time.sleep(0.2)  # one byte per connection every 0.2 s: never a complete header
    closed = [c[2] for c in socks if c[2] is not None]
    results.put({"connections": n, "closed_by_server": len(closed),
                 "closed_after_s": round(faultkit.percentile(closed, 50), 1) if closed else None})
    for c in socks:
        c[0].close()


def abuse_big_headers(port, stop, ready, results):
    statuses: dict[int, int] = {}
    req = b"GET /api/v1/counts/x HTTP/1.1\r\nHost: t\r\n" + b"".join(
        b"X-H%d: %s\r\n" % (i, b"v" * 1000) for i in range(200)) + b"\r\n"
    ready.set()

    def one():
        s = _status(_raw(port, req))
        statuses[s] = statuses.get(s, 0) + 1
    _loop(stop, one)
    results.put({"header_bytes": len(req), "statuses": statuses})


def abuse_big_bodies(port, stop, ready, results, key):
    statuses: dict[str, int] = {}
    auth = f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n".encode()
    declared = (b"POST /api/v1/counts/x/increment HTTP/1.1\r\nHost: t\r\n" + auth +
                b"Content-Length: 104857600\r\n\r\n" + b"{" * 1000)           # 100 MiB announced
    sent = b"{\"amount\": 1, \"pad\": \"" + b"x" * (70 * 1024) + b"\"}"        # 70 KiB actually sent
    actual = (b"POST /api/v1/counts/x/increment HTTP/1.1\r\nHost: t\r\n" + auth +
              b"Content-Length: %d\r\n\r\n" % len(sent) + sent)
    batch_body = b"{\"operations\": [" + b" " * (1024 * 1024 + 10) + b"]}"      # over 1 MiB
    batch = (b"POST /api/v1/counts:batch HTTP/1.1\r\nHost: t\r\n" + auth +
             b"Content-Length: %d\r\n\r\n" % len(batch_body) + batch_body)
    chunked = (b"POST /api/v1/counts/x/increment HTTP/1.1\r\nHost: t\r\n" + auth +
               b"Transfer-Encoding: chunked\r\n\r\n" + b"10000\r\n" + b"x" * 0x10000 + b"\r\n" +
               b"10000\r\n" + b"x" * 0x10000 + b"\r\n0\r\n\r\n")
    ready.set()
    kinds = [("declared-100MiB", declared), ("70KiB", actual), ("batch-over-1MiB", batch), ("chunked-128KiB", chunked)]
    i = 0

    def one():
        nonlocal i
        name, data = kinds[i % len(kinds)]
        i += 1
        k = f"{name}:{_status(_raw(port, data))}"
        statuses[k] = statuses.get(k, 0) + 1
    _loop(stop, one)
    results.put({"statuses": statuses})


def abuse_idle(port, stop, ready, results, n=IDLE_CONNECTIONS):
    socks, failed = [], 0
    t0 = time.monotonic()
    for _ in range(n):
        try:
            socks.append(socket.create_connection(("127.0.0.1", port), timeout=10))
        except OSError:
            failed += 1
    opened_s = time.monotonic() - t0
    ready.set()
    stop.wait(120)
    # Still open? A closed one reads b"" at once; an open one would block.
    alive = 0
    for s in socks:
        s.setblocking(False)
        try:
            alive += s.recv(1) != b""
        except BlockingIOError:
            alive += 1
        except OSError:
            pass
        s.close()
    results.put({"opened": len(socks), "failed_to_open": failed, "open_s": round(opened_s, 1),
                 "still_open_at_end": alive})


def abuse_bad_utf8(port, stop, ready, results, key, admin_key, counter, mport):
    bodies = [
        b'{"amount": 1, "x": "\xff\xfe"}',
        b'{"amount": 1, "x": "\xc0\xaf"}',                      # overlong '/'
        b'{"amount": 1, "x": "\xed\xa0\x80"}',                  # UTF-16 surrogate in UTF-8
        b'{"amount": 1, "x": "\xf4\x90\x80\x80"}',              # above U+10FFFF
        b'{"am\x80ount": 1}',
        b'{"amount": 1, "x": "\xe2\x82"}',                      # truncated sequence
    ]
    statuses: dict[int, int] = {}
    ready.set()
    i = 0

    def one():
        nonlocal i
        body = bodies[i % len(bodies)]
        i += 1
        if i % 3 == 0:  # management create with a bad description
            path, k, to = "/management/api/v1/counts", admin_key, mport
            body = b'{"id": "utf8-%d", "description": "bad \xff"}' % i
        else:
            path, k, to = f"/api/v1/counts/{counter}/increment", key, port
        data = (b"POST %s HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\nConnection: close\r\n\r\n" % (path.encode(), k.encode(), len(body)) + body)
        s = _status(_raw(to, data))
        statuses[s] = statuses.get(s, 0) + 1
    _loop(stop, one)
    results.put({"statuses": statuses})


def abuse_max_batch(port, stop, ready, results, key, ids):
    ops = [{"id": ids[i % len(ids)], "op": "increment", "amount": 1} for i in range(1000)]
    body = json.dumps({"operations": ops}).encode()
    body = body[:-1] + b" " * (1024 * 1024 - len(body)) + b"}"  # exactly the 1 MiB limit
    ok = bad = 0
    ready.set()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while not stop.is_set():
        conn.request("POST", "/api/v1/counts:batch", body=body,
                     headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
        r = conn.getresponse()
        payload = r.read()
        if r.status == 200 and all(x["status"] == 200 for x in json.loads(payload)["results"]):
            ok += 1
        else:
            bad += 1
    results.put({"body_bytes": len(body), "operations": 1000, "batches_ok": ok, "batches_failed": bad})


# --------------------------------------------------------------------------- the tests


def under(target: Target, abuser, *args, settle: float = 0.5) -> tuple[dict, dict]:
    ctx = mp.get_context("fork")
    stop, ready, results = ctx.Event(), ctx.Event(), ctx.Queue()
    p = ctx.Process(target=abuser, args=(target.port, stop, ready, results, *args), daemon=True)
    p.start()
    try:
        assert ready.wait(120), "abuser did not get ready"
        time.sleep(settle)
        measured = target.probe()
    finally:
        stop.set()
    got = results.get(timeout=120)
    p.join(30)
    return measured, got


def check(target: Target, name: str, measured: dict, abuse: dict) -> None:
    limit = max(FACTOR * target.baseline["p99_ms"], FLOOR_MS)
    faultkit.record(f"abuse-{name}", baseline_p50_ms=target.baseline["p50_ms"], baseline_p99_ms=target.baseline["p99_ms"],
                    p50_ms=measured["p50_ms"], p99_ms=measured["p99_ms"], max_ms=measured["max_ms"],
                    failed=len(measured["failures"]), limit_ms=round(limit, 1), abuse=abuse)
    assert not measured["failures"], measured["failures"][:5]
    assert measured["p99_ms"] <= limit, f"p99 {measured['p99_ms']} ms > {limit} ms under {name}"


def test_slow_headers(target):
    measured, abuse = under(target, abuse_slowloris)
    check(target, "slowloris", measured, abuse)


def test_slow_headers_are_closed_after_the_read_timeout(target):
    ctx = mp.get_context("fork")
    stop, ready, results = ctx.Event(), ctx.Event(), ctx.Queue()
    p = ctx.Process(target=abuse_slowloris, args=(target.port, stop, ready, results, 50), daemon=True)
    p.start()
    got = results.get(timeout=IDLE_TIMEOUT_S + 30)
    p.join(10)
    faultkit.record("abuse-slowloris-timeout", read_timeout_s=READ_TIMEOUT_S, idle_timeout_s=IDLE_TIMEOUT_S, **got)
    assert got["closed_by_server"] == got["connections"], got
    assert got["closed_after_s"] <= READ_TIMEOUT_S + 2, got


def test_oversized_headers(target):
    measured, abuse = under(target, abuse_big_headers)
    check(target, "big-headers", measured, abuse)
    assert set(abuse["statuses"]) <= {431, 400}, abuse


def test_oversized_bodies(target):
    measured, abuse = under(target, abuse_big_bodies, target.keys.writer)
    check(target, "big-bodies", measured, abuse)
    assert all(k.endswith(":413") for k in abuse["statuses"]), abuse


def test_ten_thousand_idle_connections(target):
    measured, abuse = under(target, abuse_idle, settle=1.0)
    check(target, "idle-10k", measured, abuse)
    assert abuse["opened"] == IDLE_CONNECTIONS and abuse["still_open_at_end"] == IDLE_CONNECTIONS, abuse


def test_invalid_utf8(target):
    before = target.value(target.counter)
    extra = target.expected
    measured, abuse = under(target, abuse_bad_utf8, target.keys.writer, target.keys.admin, target.counter,
                             target.mport)
    check(target, "invalid-utf8", measured, abuse)
    assert set(abuse["statuses"]) == {400}, abuse
    # only the probe's own increments changed the counter, and no counter was created
    assert target.value(target.counter) == before + (target.expected - extra)
    r = http_request(target.mport, "GET", "/management/api/v1/counts?prefix=utf8-",
                     headers={"Authorization": f"Bearer {target.keys.admin}"})
    assert r.status == 200 and not r.json()["items"], r.describe()


def test_maximal_batches(target):
    before = {cid: target.value(cid) for cid in target.batch_ids}
    measured, abuse = under(target, abuse_max_batch, target.keys.writer, target.batch_ids)
    check(target, "max-batch", measured, abuse)
    assert abuse["batches_failed"] == 0 and abuse["batches_ok"] > 0, abuse
    per = 1000 // len(target.batch_ids)
    assert {cid: target.value(cid) - before[cid] for cid in target.batch_ids} == \
        {cid: per * abuse["batches_ok"] for cid in target.batch_ids}
