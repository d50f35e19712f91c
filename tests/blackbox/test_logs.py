"""docs/OPERATIONS.md, "Processes", logs: one JSON object per stdout line; request lines; keys
never logged."""
from __future__ import annotations

import json

from support import eventually, unique_id

BASE_FIELDS = ("timestamp", "level", "message", "logger", "pod")
REQUEST_FIELDS = ("method", "path", "status", "duration_ms", "request_id")


def parsed_lines(proc) -> list[dict]:
    out = []
    for n, line in enumerate(proc.stdout().splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            raise AssertionError(f"{proc.name} stdout line {n} is not JSON: {line[:300]!r}") from None
        assert isinstance(rec, dict), f"{proc.name} line {n} is not an object: {line[:300]!r}"
        out.append(rec)
    return out


def test_every_stdout_line_is_json(deployment, admin, counter):
    admin.post(f"/api/v1/counts/{counter}/increment")
    for name, proc in deployment.procs.items():
        lines = parsed_lines(proc)
        assert lines, f"{name} wrote nothing to stdout"
        for rec in lines:
            for f in BASE_FIELDS:
                assert f in rec, f"{name}: log line lacks {f!r}: {rec}"
            assert rec["pod"] == proc.env["POD_NAME"], rec
            assert isinstance(rec["message"], str)


def test_request_lines(deployment, writer, reader):
    cid = deployment.create_counter()["id"]
    writer.post(f"/api/v1/counts/{cid}/increment", {"amount": 1})
    reader.get(f"/api/v1/counts/{cid}")
    missing = unique_id("logmiss")
    writer.post(f"/api/v1/counts/{missing}/increment")

    def find(path_part, method, status):
        def look():
            for proc in deployment.procs.values():
                for rec in parsed_lines(proc):
                    if path_part in str(rec.get("path", "")) and rec.get("method") == method \
                            and rec.get("status") == status:
                        return rec
            return None
        return eventually(look, timeout=5, message=f"log line for {method} {path_part} {status}")

    for rec in (find(f"/api/v1/counts/{cid}/increment", "POST", 200),
                find(f"/api/v1/counts/{cid}", "GET", 200),
                find(f"/api/v1/counts/{missing}/increment", "POST", 404)):
        for f in BASE_FIELDS + REQUEST_FIELDS:
            assert f in rec, f"request log line lacks {f!r}: {rec}"
        assert isinstance(rec["duration_ms"], (int, float)) and rec["duration_ms"] >= 0, rec
        assert isinstance(rec["request_id"], str) and rec["request_id"], rec


def test_request_ids_are_unique(deployment, writer):
    cid = deployment.create_counter()["id"]
    for _ in range(5):
        writer.post(f"/api/v1/counts/{cid}/increment")

    def look():
        ids = [rec["request_id"] for proc in deployment.procs.values() for rec in parsed_lines(proc)
               if cid in str(rec.get("path", "")) and rec.get("method") == "POST"]
        return ids if len(ids) >= 5 else None
    ids = eventually(look, timeout=5, message="5 request lines")
    assert len(set(ids)) == len(ids), ids


def test_api_keys_never_logged(deployment, counter):
    bogus = "bogus-secret-" + unique_id()
    deployment.client(bogus).post(f"/api/v1/counts/{counter}/increment")
    deployment.writer.post(f"/api/v1/counts/{counter}/increment")
    deployment.reader.get(f"/api/v1/counts/{counter}")
    deployment.admin.get(f"/management/api/v1/counts/{counter}")
    deployment.reader.post(f"/api/v1/counts/{counter}/increment")  # 403
    # wait until the last request is logged, then search everything
    eventually(lambda: counter in deployment.all_log_text(), timeout=5, message="requests logged")
    text = deployment.all_log_text()
    for name, secret in (("writer", deployment.keys.writer), ("reader", deployment.keys.reader),
                         ("admin", deployment.keys.admin), ("bogus", bogus)):
        assert secret not in text, f"the {name} API key appears in the logs"
