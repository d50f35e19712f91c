"""W3C trace context (docs/API.md, "Tracing"): a request's `traceparent` is continued (or a
trace started), returned, written in the request's log line, stored with the event, sent as
the Kafka header `traceparent` (services), and written by the consumers — the analysis
rollup and the SSE delivery — in their log lines, so one increment can be followed end to end.
Per-event consumer lines are info only for sampled traces (flags 01)."""
from __future__ import annotations

import json
import re
import secrets
import subprocess

import support
from sse import SseStream
from support import assert_json, eventually

TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


def new_traceparent(flags: str = "01") -> tuple[str, str]:
    """A caller's traceparent and its trace id."""
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return f"00-{trace_id}-{span_id}-{flags}", trace_id


def returned(resp: support.Response) -> tuple[str, str, str]:
    """(trace id, span id, flags) of the response's traceparent."""
    header = resp.header("traceparent")
    assert header, f"no traceparent on the response: {resp.describe()}"
    m = TRACEPARENT.match(header)
    assert m, f"not a version-00 traceparent: {header!r}"
    return m.group(1), m.group(2), m.group(3)


def log_lines(proc, **match) -> list[dict]:
    out = []
    for line in proc.stdout().splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if all(rec.get(k) == v for k, v in match.items()):
            out.append(rec)
    return out


def proc_of(deployment, service: str):
    return deployment.procs["count-system" if deployment.mode == "standalone" else service]


def one_line(proc, what: str, **match) -> dict:
    lines = eventually(lambda: log_lines(proc, **match) or None, timeout=10,
                       message=f"{what} in {proc.name}'s log ({match})")
    assert len(lines) == 1, f"{what}: one line expected, got {lines}"
    return lines[0]


def kafka_headers(deployment, count_id: str) -> list[str]:
    """The `traceparent` headers of the count-updates records of `count_id`."""
    out = subprocess.run(["kcat", "-b", deployment.infra.kafka_brokers, "-C", "-t", "count-updates",
                          "-o", "beginning", "-e", "-q", "-f", "%h\t%s\n"],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    found = []
    for line in out.splitlines():
        headers, _, payload = line.partition("\t")
        if not payload.startswith("{") or json.loads(payload).get("countId") != count_id:
            continue
        found += [h.split("=", 1)[1] for h in headers.split(",") if h.startswith("traceparent=")]
    return found


def dashboard_stream(deployment, count_id: str) -> SseStream:
    dashboard = {"id": support.unique_id("trace"), "name": "traced", "widgets": [
        {"id": "w1", "type": "count", "countIds": [count_id], "layout": {"x": 0, "y": 0, "w": 3, "h": 2}}]}
    assert_json(deployment.admin.post("/dashboard/api/v1/dashboards", dashboard), 201)
    s = SseStream(deployment.ports["live"], f"/dashboard/events?dashboardId={dashboard['id']}",
                  {"Authorization": f"Bearer {deployment.keys.admin}"})
    assert s.status == 200, s.body
    s.initial()
    return s


def test_one_increment_followed_from_request_to_rollup_and_sse(deployment, counter):
    with dashboard_stream(deployment, counter) as stream:
        traceparent, trace_id = new_traceparent("01")
        r = deployment.writer.post(f"/api/v1/counts/{counter}/increment", {"amount": 3},
                                   headers={"traceparent": traceparent})
        assert_json(r, 200)
        got_trace, write_span, flags = returned(r)
        assert got_trace == trace_id, "the caller's trace is continued"
        assert write_span != traceparent.split("-")[2], "the server's own span is returned"
        assert flags == "01"

        # The write service's request line.
        line = one_line(proc_of(deployment, "count-write-service"), "the request line",
                        message="request", trace_id=trace_id)
        assert line["span_id"] == write_span and line["path"].endswith(f"/{counter}/increment"), line

        # The SSE delivery: the frame reaches the stream, and the delivery is logged.
        frames = stream.wait_events(1)
        assert frames[-1].json()["countId"] == counter and frames[-1].json()["value"] == 3
        sse = one_line(proc_of(deployment, "dashboard-update-service"), "the SSE delivery line",
                       message="sse delivered", trace_id=trace_id)
        assert sse["count_id"] == counter and sse["parent_id"] == write_span, sse
        assert sse["streams"] >= 1 and sse["level"] == "INFO", sse

    # The analysis consumer's line for the event it folded into the rollups.
    rollup = one_line(proc_of(deployment, "count-analysis-service"), "the analysis line",
                      message="event recorded", trace_id=trace_id)
    assert rollup["count_id"] == counter and rollup["parent_id"] == write_span, rollup
    assert rollup["event_id"] == sse["event_id"], "the same event"

    if deployment.mode == "services":
        # The Kafka record carries the write span as the parent of what consumes it.
        assert kafka_headers(deployment, counter) == [f"00-{trace_id}-{write_span}-01"]


def test_a_request_without_a_valid_traceparent_starts_a_trace(deployment, counter):
    caller_trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    for header in (None, "garbage", f"00-{caller_trace.upper()}-00f067aa0ba902b7-01",
                   f"00-{caller_trace}-0000000000000000-01", f"ff-{caller_trace}-00f067aa0ba902b7-01"):
        headers = {"traceparent": header} if header else {}
        r = deployment.writer.post(f"/api/v1/counts/{counter}/increment", headers=headers)
        assert_json(r, 200)
        trace_id, span_id, flags = returned(r)
        assert trace_id not in (caller_trace, caller_trace.upper()), header
        assert flags == "00", "a started trace is not sampled"
        line = one_line(proc_of(deployment, "count-write-service"), "the request line",
                        message="request", trace_id=trace_id)
        assert line["span_id"] == span_id and line["status"] == 200, line
    # Every answer carries one, problems and probes too.
    returned(deployment.writer.post(f"/api/v1/counts/{support.unique_id('none')}/increment"))
    returned(support.http_request(deployment.ports["write"], "GET", "/health"))


def test_unsampled_events_are_not_logged_per_event_at_info(deployment, counter):
    with dashboard_stream(deployment, counter) as stream:
        quiet, quiet_trace = new_traceparent("00")
        loud, loud_trace = new_traceparent("01")
        for tp in (quiet, loud):
            assert_json(deployment.writer.post(f"/api/v1/counts/{counter}/increment",
                                               headers={"traceparent": tp}), 200)
        stream.wait_events(2)
        # One counter's events are handled in order: once the sampled one is logged, the
        # unsampled one before it was handled too — and wrote no line at info.
        for service, message in (("dashboard-update-service", "sse delivered"),
                                 ("count-analysis-service", "event recorded")):
            proc = proc_of(deployment, service)
            one_line(proc, message, message=message, trace_id=loud_trace)
            assert log_lines(proc, trace_id=quiet_trace, message=message) == []
    # The request line is written whatever the flag.
    one_line(proc_of(deployment, "count-write-service"), "the request line", message="request",
             trace_id=quiet_trace)
