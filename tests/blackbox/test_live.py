"""docs/API.md, "Live updates" (UC-005): the Server-Sent Events stream of dashboard-update-service
(standalone: the same routes on the one port). Filtering, order per counter, resume with
Last-Event-ID, heartbeat, stream tokens, the subscriber limit, and shutdown."""
from __future__ import annotations

import signal
import time

import pytest

import support
from sse import SseStream
from support import assert_json, assert_problem

services_only = pytest.mark.services_only


def stream(deployment, query: str, *, key: str | None = "admin", port: int | None = None,
           headers: dict[str, str] | None = None) -> SseStream:
    h = dict(headers or {})
    if key == "admin":
        h["Authorization"] = f"Bearer {deployment.keys.admin}"
    elif key is not None:
        h["Authorization"] = f"Bearer {key}"
    return SseStream(port or deployment.ports["live"], f"/dashboard/events?{query}", h)


def problem_of(s: SseStream) -> dict:
    import json
    assert s.headers.get("content-type", "").startswith("application/problem+json"), s.headers
    return json.loads(s.body)


def increment(deployment, count_id: str, amount: int = 1) -> int:
    r = deployment.writer.post(f"/api/v1/counts/{count_id}/increment", {"amount": amount})
    return assert_json(r, 200)["value"]


def check_sequence(events, count_id: str, start: int, deltas: list[int], seen: int = 0) -> None:
    """The events of one counter carry each change once, in the order applied. The first
    `seen` changes happened before the subscription: the snapshot may or may not include
    them yet (its events can still be on their way), so a tail of them may come first."""
    got = [(e.json()["value"], e.json().get("delta")) for e in events
           if e.json()["countId"] == count_id]
    want, v = [], start
    for d in deltas:
        v += d
        want.append((v, d))
    tails = [want[k:] for k in range(seen + 1)]
    assert got in tails, f"{count_id}: {got} is not one of {tails}"


def test_stream_delivers_only_subscribed_counters_in_order(deployment):
    a, b, c = (deployment.create_counter()["id"] for _ in range(3))
    increment(deployment, a, 5)
    with stream(deployment, f"countIds={a},{b}") as s:
        assert s.status == 200
        assert s.headers["content-type"].startswith("text/event-stream")
        initial = s.initial()
        # Services: the +5 may still be on its way to this replica; then its event follows.
        assert {x["countId"]: x["value"] for x in initial["counts"]} in ({a: 5, b: 0}, {a: 0, b: 0})
        assert initial["missing"] == []

        deltas = {a: [5], b: []}
        for i in range(1, 31):
            for cid in (a, b, c):
                increment(deployment, cid, i)
                if cid in deltas:
                    deltas[cid].append(i)
        events = s.wait_events(60)
        time.sleep(0.3)  # anything extra (c's updates) would have arrived by now
        events = s.events("count_updated")
        assert {e.json()["countId"] for e in events} == {a, b}
        check_sequence(events, a, 0, deltas[a], seen=1)
        check_sequence(events, b, 0, deltas[b])
        ids = [e.id for e in events]
        assert all(ids) and len(set(ids)) == len(ids), "every event has its own id"
        for e in events:
            support.assert_timestamp(e.json()["timestamp"])


def test_initial_names_unknown_counters_missing(deployment):
    a = deployment.create_counter()["id"]
    ghost = support.unique_id("ghost")
    with stream(deployment, f"countIds={a},{ghost}") as s:
        initial = s.initial()
        assert [x["countId"] for x in initial["counts"]] == [a]
        assert initial["missing"] == [ghost]


def test_created_and_deleted_counters_are_announced(deployment):
    cid = support.unique_id("live")
    with stream(deployment, f"countIds={cid}") as s:
        s.initial()
        deployment.create_counter(cid)
        increment(deployment, cid, 2)
        r = deployment.admin.delete(f"/management/api/v1/counts/{cid}")
        assert r.status == 204, r.describe()
        s.wait_for(lambda fs: any(f.event == "count_deleted" for f in fs), what="count_deleted")
        kinds = [f.event for f in s.events() if f.event != "initial"]
        assert kinds == ["count_created", "count_updated", "count_deleted"]


def test_dashboard_subscription_follows_its_widgets_counters(deployment):
    a, b, c = (deployment.create_counter()["id"] for _ in range(3))
    dashboard = {"id": support.unique_id("dash"), "name": "live", "widgets": [
        {"id": "w1", "type": "count", "countIds": [a], "layout": {"x": 0, "y": 0, "w": 3, "h": 2}},
        {"id": "w2", "type": "chart", "countIds": [a, b], "period": "1h", "unit": "minute",
         "layout": {"x": 3, "y": 0, "w": 6, "h": 4}}]}
    assert_json(deployment.admin.post("/dashboard/api/v1/dashboards", dashboard), 201)
    with stream(deployment, f"dashboardId={dashboard['id']}") as s:
        assert [x["countId"] for x in s.initial()["counts"]] == [a, b]
        for cid in (c, a, c, b):
            increment(deployment, cid)
        s.wait_events(2)
        time.sleep(0.3)  # c's updates would have arrived by now
        assert sorted(e.json()["countId"] for e in s.events("count_updated")) == sorted([a, b])
    with stream(deployment, "dashboardId=no-such-dashboard") as s:
        assert s.status == 404
        assert problem_of(s)["type"].endswith("/problems/not-found")


def test_resume_with_last_event_id_misses_nothing(deployment):
    a, b = deployment.create_counter()["id"], deployment.create_counter()["id"]
    with stream(deployment, f"countIds={a}") as s:
        s.initial()
        for _ in range(3):
            increment(deployment, a)
        last = s.wait_events(3)[-1].id
    for _ in range(4):  # while disconnected
        increment(deployment, a)
        increment(deployment, b)
    with stream(deployment, f"countIds={a}", headers={"Last-Event-ID": last}) as s:
        increment(deployment, a)
        events = s.wait_events(5)
        assert s.events("initial") == [], "a resume inside the window replays, no snapshot"
        assert [e.json()["value"] for e in events] == [4, 5, 6, 7, 8]
        assert {e.json()["countId"] for e in events} == {a}


def test_resume_outside_the_window_gets_a_fresh_snapshot(deployment):
    a = deployment.create_counter()["id"]
    increment(deployment, a, 3)
    with stream(deployment, f"countIds={a}", headers={"Last-Event-ID": "not-an-event-we-know"}) as s:
        if s.initial()["counts"][0]["value"] != 3:  # the +3 is still on its way: it follows
            assert s.wait_events(1)[0].json()["value"] == 3


def test_the_initial_event_id_resumes_after_it(deployment):
    a = deployment.create_counter()["id"]
    with stream(deployment, f"countIds={a}") as first:
        first.initial()
        increment(deployment, a)
        first.wait_events(1)  # this instance has seen it: a snapshot now includes it
    with stream(deployment, f"countIds={a}") as s:
        assert s.initial()["counts"][0]["value"] == 1
        snapshot_id = s.events("initial")[0].id
    assert snapshot_id
    increment(deployment, a)
    with stream(deployment, f"countIds={a}", headers={"Last-Event-ID": snapshot_id}) as s:
        events = s.wait_events(1)
        assert [e.json()["value"] for e in events] == [2]


def test_stream_starts_with_a_retry_hint_and_sends_heartbeats(deployment):
    a = deployment.create_counter()["id"]
    with stream(deployment, f"countIds={a}") as s:
        s.wait_for(lambda fs: any(f.retry for f in fs), what="retry hint")
        start = time.monotonic()
        s.wait_for(lambda fs: any(f.comment is not None for f in fs), timeout=4,
                   what="heartbeat comment")  # SSE_HEARTBEAT_SECONDS=1 in this deployment
        assert time.monotonic() - start < 4


def test_stream_requires_an_admin_key_or_a_token(deployment):
    a = deployment.create_counter()["id"]
    with stream(deployment, f"countIds={a}", key=None) as s:
        assert s.status == 401
        assert problem_of(s)["type"].endswith("/problems/unauthorized")
    with stream(deployment, f"countIds={a}", key="wrong-key") as s:
        assert s.status == 401
    with stream(deployment, f"countIds={a}", key=deployment.keys.reader) as s:
        assert s.status == 403
        assert problem_of(s)["type"].endswith("/problems/forbidden")
    with stream(deployment, f"countIds={a}&token=123.abc", key=None) as s:
        assert s.status == 401


def test_stream_token_opens_a_stream_without_a_key(deployment):
    a = deployment.create_counter()["id"]
    live = deployment.admin.with_key(deployment.keys.writer)
    assert_problem(live.post("/dashboard/events/tokens", service="live"), 403, "forbidden")
    r = deployment.admin.post("/dashboard/events/tokens", service="live")
    token = assert_json(r, 201)["token"]
    support.assert_timestamp(r.json()["expiresAt"])
    with stream(deployment, f"countIds={a}&token={token}", key=None) as s:
        assert s.status == 200
        s.initial()
        increment(deployment, a)
        assert s.wait_events(1)[0].json()["value"] == 1
    tampered = token[:-1] + ("0" if token[-1] != "0" else "1")
    with stream(deployment, f"countIds={a}&token={tampered}", key=None) as s:
        assert s.status == 401


def summary_changes(s: SseStream) -> int:
    return sum(f.json()["changes"] for f in s.events("summary"))


def test_summary_notices_tell_of_any_counter_once_a_second_at_most(deployment):
    """?summary=true: one coalesced notice per SSE_SUMMARY_INTERVAL_MS (1 s) at most, after
    changes of any counter (created, updated, deleted), with no event id of its own. (That no
    change means no notice is live_hub_test's: here earlier events may still arrive.)"""
    watched = deployment.create_counter()["id"]
    start = time.monotonic()  # no notice can be sent before the streams exist
    with stream(deployment, "summary=true") as summary, \
            stream(deployment, f"countIds={watched}&summary=true") as both, \
            stream(deployment, f"countIds={watched}") as plain:
        assert summary.initial() == {"counts": [], "missing": []}
        both.initial()
        plain.initial()
        other = deployment.create_counter()["id"]  # on no stream's list
        for _ in range(30):
            increment(deployment, other)
        r = deployment.admin.delete(f"/management/api/v1/counts/{other}")
        assert r.status == 204, r.describe()
        for s in (summary, both):  # 32 events; earlier tests' late events may add to them
            s.wait_for(lambda fs: summary_changes(s) >= 32, timeout=15, what="32 changes")
            notices = s.events("summary")
            assert all(f.id is None for f in notices), "a notice leaves Last-Event-ID alone"
            # Consecutive notices are at least a second apart: per event there would be 32.
            assert len(notices) <= 1 + (notices[-1].at - start) / 1.0, \
                [(round(f.at - start, 2), f.data) for f in notices]
        increment(deployment, watched)
        plain.wait_events(1)
        both.wait_events(1)
        both.wait_for(lambda fs: summary_changes(both) >= 33, timeout=5, what="the 33rd change")
        assert plain.events("summary") == [], "only streams that ask get notices"


@pytest.mark.parametrize("query, status, kind", [
    ("", 422, "validation-error"),
    ("countIds=a&dashboardId=b", 422, "validation-error"),
    ("countIds=", 422, "validation-error"),
    ("countIds=Bad%20Id!", 422, "invalid-count-id"),
    ("countIds=" + ",".join(f"c{i}" for i in range(101)), 422, "validation-error"),
    ("summary=false", 422, "validation-error"),
    ("summary=yes", 422, "validation-error"),
    ("countIds=a&summary=1", 422, "validation-error"),
])
def test_bad_subscriptions_are_refused(deployment, query, status, kind):
    with stream(deployment, query) as s:
        assert s.status == status, s.body
        assert problem_of(s)["type"].endswith(f"/problems/{kind}")


# ---------------------------------------------------------------- separate instances

def live_instance(deployment, scratch, env: dict[str, str]) -> tuple[support.Proc, int]:
    logs = scratch / "logs"
    logs.mkdir(exist_ok=True)
    if deployment.mode == "standalone":
        return support.start_standalone(logs, scratch / "data", deployment.keys,
                                        env_overrides=env, name="count-system-live")
    return support.start_service("dashboard-update-service", deployment.infra, deployment.keys,
                                 logs, env_overrides=env, name="live-extra")


def test_subscriber_limit_answers_503(deployment, scratch):
    proc, port = live_instance(deployment, scratch, {"SSE_MAX_SUBSCRIBERS": "2"})
    try:
        opened = [stream(deployment, "countIds=x1", port=port) for _ in range(2)]
        for s in opened:
            assert s.status == 200
        with stream(deployment, "countIds=x1", port=port) as third:
            assert third.status == 503
            assert problem_of(third)["type"].endswith("/problems/service-unavailable")
            assert third.headers.get("retry-after")
        opened.pop().close()
        support.eventually(lambda: stream(deployment, "countIds=x1", port=port).status == 200,
                           timeout=3, message="a freed slot is usable again")
        for s in opened:
            s.close()
    finally:
        proc.stop()


def test_sigterm_ends_streams_cleanly_and_exits_zero(deployment, scratch):
    proc, port = live_instance(deployment, scratch, {})
    try:
        streams = [stream(deployment, f"countIds=x{i}", port=port) for i in range(3)]
        for s in streams:
            s.initial()
        proc.signal(signal.SIGTERM)
        for s in streams:
            assert s.closed.wait(10), "the stream ends on shutdown"
            last = s.events()[-1]
            assert last.event == "reconnect", s.frames
            assert last.json()["reason"] == "server shutting down"
            assert any(f.retry for f in s.frames)
            s.close()
        assert proc.wait(20) == 0, proc.output_tail()
    finally:
        proc.stop()


@services_only
def test_every_replica_sees_every_event(deployment, scratch):
    """Two update-service replicas on the same Kafka topic: both deliver all of a counter's
    events (no consumer group splits the partitions between them)."""
    proc, port = live_instance(deployment, scratch, {"POD_NAME": "live-2"})
    try:
        ids = [deployment.create_counter()["id"] for _ in range(8)]  # spread over partitions
        q = "countIds=" + ",".join(ids)
        with stream(deployment, q) as one, stream(deployment, q, port=port) as two:
            one.initial()
            two.initial()
            for round_ in range(5):
                for cid in ids:
                    increment(deployment, cid)
            for s in (one, two):
                events = s.wait_events(40, timeout=15)
                for cid in ids:
                    check_sequence(events, cid, 0, [1] * 5)
    finally:
        proc.stop()
