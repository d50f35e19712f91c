#!/usr/bin/env python3
"""Writes the hand-made seed inputs of each fuzz target into DIR/<target>/ (scripts/fuzz.sh
merges them into fuzz/corpus/ with -merge=1; the corpus is what is committed)."""
import os, sys

out = sys.argv[1] if len(sys.argv) > 1 else "fuzz/seeds"
A = "Authorization: Bearer admin-key\r\n"
J = "Content-Type: application/json\r\n"
seeds = {
    "http_request": [
        b"\x00GET /api/v1/counts/page.views HTTP/1.1\r\nHost: x\r\n" + A.encode() + b"\r\n",
        b"\x07POST /management/api/v1/counts HTTP/1.1\r\n" + (A + J).encode()
        + b'Content-Length: 33\r\n\r\n{"id":"a","description":"home"}\r\n'
        + b"POST /api/v1/counts/a/increment HTTP/1.1\r\n" + A.encode()
        + b"Connection: close\r\n\r\n",
        b"\x03POST /api/v1/counts:batch HTTP/1.1\r\n" + (A + J).encode()
        + b'Transfer-Encoding: chunked\r\n\r\n10\r\n{"operations":[{\r\n1b\r\n"id":"a","op":"increment"}]}\r\n0\r\n\r\n',
        b"\x00GET /api/v1/counts?ids=a,b%2Cc HTTP/1.1\r\n" + A.encode() + b"\r\n",
        b"\x00POST /analysis/api/v1/history:import HTTP/1.1\r\nContent-Length: 2097152\r\n\r\n",
        b"\x01GET /x HTTP/1.0\r\n\r\n",
    ],
    "json_body": [
        b"\x04" + b'{"id":"a","description":"d","minValue":-5,"maxValue":100,"initialValue":3}'
        + b"\xff\x00" + b'{"amount":2}' + b"\xff\x02" + b'{"value":9223372036854775807}'
        + b"\xff\x0b" + b'{"amount":5}' + b"\xff\x0b" + b'{"amount":6}',
        b"\x03" + b'{"operations":[{"id":"a","op":"increment","amount":1},{"id":"b","op":"set","value":-1},{"id":"!","op":"x"}]}',
        b"\x05" + b'{"description":null,"minValue":null,"maxValue":1e3}',
        b"\x09" + b'{"points":[{"countId":"a","timestamp":"2026-01-01T00:00:00Z","value":1},'
        + b'{"countId":"a","timestamp":"2026-01-01T05:00:00.5+01:00","value":-9223372036854775808}]}'
        + b"\xff\x06" + b'{"countIds":["a"],"from":"2025-12-31T00:00:00Z","to":"2026-01-02T00:00:00Z","unit":"hour"}'
        + b"\xff\x08" + b'{"countIds":["a"],"from":"2025-12-31T00:00:00Z","to":"2026-01-02T00:00:00Z","unit":"minute","horizon":1000}'
        + b"\xff\x07" + b'{"countIds":["a","b"],"from":"2025-12-31T00:00:00Z","to":"2026-01-02T00:00:00Z"}',
        b"\x0a" + b"countId,timestamp,value\r\na,2026-01-01T00:00:00Z,5\n\"b\",\"2026-02-01T00:00:00Z\",7\n",
        b"\x0d" + b'{"eventId":"0123456789abcdef0123456789abcdef","type":"count_updated","countId":"a","delta":1,"value":2,"timestamp":"2026-01-01T00:00:00.000Z","source":"count-write-service"}',
    ],
    "query": [
        b"GET /api/v1/counts?ids=a,b,c", b"GET /management/api/v1/counts?prefix=page.&limit=50&cursor=a",
        b"GET /management/api/v1/counts?limit=1000", b"DELETE /management/api/v1/counts/a?purgeHistory=true",
        b"GET /analysis/api/v1/series?ids=a,b&from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z&unit=minute",
        b"GET /dashboard/events?countIds=a%2Cb&token=x+y", b"GET /api/v1/counts/%41bc",
    ],
    "ids": [b"page.views", b"a,b,c", b"A-1_b:c.d", b"2026-11-22T08:15:30.123Z",
            b"1999-12-31T23:59:60.5-23:59", b"increment", b"month", b"count_deleted", b"x" * 129],
    "last_event_id": [bytes(range(0, 64)), b"\x03" * 40 + b"a,b" + b"\x02e2", b"\xff" * 80],
}
for target, inputs in seeds.items():
    os.makedirs(os.path.join(out, target), exist_ok=True)
    for i, data in enumerate(inputs):
        with open(os.path.join(out, target, f"seed-{i}"), "wb") as f:
            f.write(data)
