"""docs/API.md, "Errors": bad input never crashes a service or changes data; plus plain
HTTP/1.1 manners (keep-alive, pipelining, chunked bodies) and slow/idle clients not starving
others."""
from __future__ import annotations

import json
import socket
import time

import pytest

from support import assert_json, assert_problem, assert_value_response, http_request, unique_id


def each_port(deployment):
    return sorted(set(deployment.service_ports.values()))


def read_http_responses(sock: socket.socket, count: int, timeout: float = 5.0) -> list[bytes]:
    """Reads `count` Content-Length framed responses from a raw socket."""
    sock.settimeout(timeout)
    buf, out = b"", []
    while len(out) < count:
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(65536)
            assert chunk, f"connection closed after {len(out)} responses: {buf!r}"
            buf += chunk
        head, rest = buf.split(b"\r\n\r\n", 1)
        length = 0
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v.strip())
        while len(rest) < length:
            chunk = sock.recv(65536)
            assert chunk, "connection closed mid-body"
            rest += chunk
        out.append(head + b"\r\n\r\n" + rest[:length])
        buf = rest[length:]
    return out


@pytest.mark.parametrize("body", [
    b"[" * 30000 + b"]" * 30000,
    b'{"amount":' + b"[" * 40000,
    b'{"a":' * 10000 + b"1" + b"}" * 10000,
], ids=["deep-array", "deep-unclosed", "deep-object"])
def test_deeply_nested_json_is_refused_not_fatal(deployment, writer, counter, body):
    r = writer.post(f"/api/v1/counts/{counter}/increment", body=body)
    assert r.status in (400, 422), r.describe()
    assert r.content_type == "application/problem+json", r.describe()
    assert deployment.value(counter) == 0
    for port in each_port(deployment):
        assert http_request(port, "GET", "/health").status == 200


@pytest.mark.parametrize("body", [b'{"amount": 01}', b'{"amount": 1', b"", b"{\"amount\": 1}\x00"],
                         ids=["leading-zero", "unterminated", "empty-put", "nul-after"])
def test_more_malformed_json(deployment, writer, counter, body):
    if body == b"":
        # an empty body is fine for increment (amount 1) but a PUT needs a value
        r = writer.put(f"/api/v1/counts/{counter}", body=b"")
        assert r.status in (400, 422), r.describe()
        assert r.content_type == "application/problem+json", r.describe()
    else:
        assert_problem(writer.post(f"/api/v1/counts/{counter}/increment", body=body), 400, "malformed-json")
    assert deployment.value(counter) == 0


def test_json_unicode_escapes(admin):
    cid = unique_id()
    body = ('{"id": "%s", "description": "\\ud83d\\udc40 \\u00e9\\n\\"q\\""}' % cid).encode()
    rec = assert_json(admin.post("/management/api/v1/counts", body=body), 201)
    assert rec["description"] == "👀 é\n\"q\""


def test_lone_surrogate_is_refused(admin):
    cid = unique_id()
    r = admin.post("/management/api/v1/counts", body=('{"id": "%s", "description": "\\ud83d"}' % cid).encode())
    assert r.status in (400, 422), r.describe()
    assert_problem(admin.get(f"/management/api/v1/counts/{cid}"), 404, "not-found")


def test_keep_alive_serves_many_requests(deployment, writer, counter):
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", deployment.direct_port("write"), timeout=10)
    try:
        for i in range(1, 201):
            r = http_request(deployment.ports["write"], "POST", f"/api/v1/counts/{counter}/increment",
                             headers={"Authorization": f"Bearer {deployment.keys.writer}"}, conn=conn)
            assert_value_response(r, counter, i)
    finally:
        conn.close()


def test_pipelined_requests_answered_in_order(deployment, counter):
    port = deployment.direct_port("write")
    auth = f"Authorization: Bearer {deployment.keys.writer}\r\n".encode()
    one = (f"POST /api/v1/counts/{counter}/increment HTTP/1.1\r\nHost: t\r\n").encode() + auth + \
        b"Content-Type: application/json\r\nContent-Length: 13\r\n\r\n{\"amount\": 2}"
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(one * 5)
        responses = read_http_responses(s, 5)
    values = [json.loads(r.split(b"\r\n\r\n", 1)[1])["value"] for r in responses]
    assert values == [2, 4, 6, 8, 10]


def test_chunked_request_body(deployment, counter):
    port = deployment.direct_port("write")
    head = (f"POST /api/v1/counts/{counter}/increment HTTP/1.1\r\nHost: t\r\n"
            f"Authorization: Bearer {deployment.keys.writer}\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n").encode()
    body = b"5\r\n{\"amo\r\n8\r\nunt\": 5}\r\n0\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(head + body)
        resp = read_http_responses(s, 1)[0]
    status = int(resp.split(b" ", 2)[1])
    # chunked bodies are plain HTTP/1.1; refusing them with 411 is the only other fair answer
    assert status in (200, 411), resp
    if status == 200:
        assert json.loads(resp.split(b"\r\n\r\n", 1)[1])["value"] == 5
        assert deployment.value(counter) == 5


def test_idle_connections_do_not_starve_the_server(deployment):
    for port in each_port(deployment):
        idle = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(64)]
        half = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(32)]
        try:
            for h in half:
                h.sendall(b"GET /health HTTP/1.1\r\nHost: t\r\n")  # headers never finished
            t0 = time.monotonic()
            for _ in range(10):
                assert http_request(port, "GET", "/health", timeout=5).status == 200
            assert time.monotonic() - t0 < 2
        finally:
            for s in idle + half:
                s.close()


def test_garbage_request_line_gets_400_or_close(deployment):
    for port in each_port(deployment):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"THIS IS NOT HTTP\r\n\r\n")
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            assert data == b"" or data.startswith(b"HTTP/1.1 4"), data
        assert http_request(port, "GET", "/health").status == 200


def test_huge_header_is_refused_not_fatal(deployment):
    for port in each_port(deployment):
        r = http_request(port, "GET", "/health", headers={"X-Big": "x" * 100_000})
        assert r.status in (400, 413, 431), r.describe()
        assert http_request(port, "GET", "/health").status == 200


def test_content_length_lie_does_not_hang_others(deployment, writer, counter):
    port = deployment.direct_port("write")
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall((f"POST /api/v1/counts/{counter}/increment HTTP/1.1\r\nHost: t\r\n"
                   f"Authorization: Bearer {deployment.keys.writer}\r\nContent-Type: application/json\r\n"
                   "Content-Length: 1000\r\n\r\n{\"amount\": 1}").encode())
        assert_value_response(writer.post(f"/api/v1/counts/{counter}/increment"), counter, 1)
    assert deployment.value(counter) == 1


def test_metrics_route_labels_are_templates(deployment, admin):
    """Per-request ids must not become label values (unbounded cardinality)."""
    cid = unique_id("card")
    admin.post(f"/api/v1/counts/{cid}/increment")
    admin.get(f"/management/api/v1/counts/{cid}")
    admin.get(f"/api/v1/counts/{cid}")
    for port in each_port(deployment):
        text = http_request(port, "GET", "/metrics").body.decode()
        assert cid not in text, f"metrics contain a raw counter id (port {port})"


def test_metrics_count_statuses(deployment, admin):
    port = deployment.direct_port("write")
    before = http_request(port, "GET", "/metrics").body.decode()
    admin.post(f"/api/v1/counts/{unique_id('m')}/increment")  # 404
    after = http_request(port, "GET", "/metrics").body.decode()

    def total_404(text: str) -> float:
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith("http_requests_total") and 'status="404"' in line)
    assert total_404(after) >= total_404(before) + 1, after[:2000]
