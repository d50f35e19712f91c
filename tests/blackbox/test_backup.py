"""Standalone backup and restore (docs/OPERATIONS.md): `count-system backup` of a running
system, `count-system restore` into a fresh directory and over an existing one, and each
refusal with its message. Each test starts its own instance; the shared deployment is not
touched. The same under write load, with figures: tests/faults/test_recovery_drill.py."""
from __future__ import annotations

import sqlite3
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import support
from support import Client, Keys, assert_json

pytestmark = pytest.mark.standalone_only


def cli(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(support.binary("count-system")), *map(str, args)], capture_output=True,
                          text=True, timeout=60)


def clients(port: int, keys: Keys) -> tuple[Client, Client]:
    ports = {"write": port, "read": port, "management": port, "analysis": port}
    return Client(ports, keys.admin), Client(ports, keys.writer)


def test_backup_of_a_running_system_restores_into_a_fresh_directory(scratch):
    keys = Keys()
    logs, data, restored = scratch / "logs", scratch / "data", scratch / "restored"
    logs.mkdir()
    backup = scratch / "count.backup"
    proc, port = support.start_standalone(logs, data, keys, name="original")
    try:
        admin, writer = clients(port, keys)
        cid = support.unique_id("backup")
        assert_json(admin.post("/management/api/v1/counts", {"id": cid, "description": "kept", "maxValue": 1000}), 201)
        for amount in (3, 4, 5):
            assert writer.post(f"/api/v1/counts/{cid}/increment", {"amount": amount}).status == 200
        before = assert_json(admin.get(f"/management/api/v1/counts/{cid}"))
        done = cli("backup", "--data", data, "--to", backup)
        assert done.returncode == 0, done.stderr
        assert "schema version" in done.stdout
        assert writer.post(f"/api/v1/counts/{cid}/increment", {"amount": 100}).status == 200  # after the backup
        again = cli("backup", "--data", data, "--to", backup)
        assert again.returncode == 1 and "exists already" in again.stderr, again.stderr
    finally:
        proc.stop()
    assert backup.stat().st_mode & 0o077 == 0, "a backup is readable by its owner only"

    done = cli("restore", "--from", backup, "--data", restored)
    assert done.returncode == 0, done.stderr
    assert "generates a new admin key" in done.stdout, done.stdout
    proc, port = support.start_standalone(logs, restored, keys, admin_key=False, name="restored")
    try:
        new_key = (restored / "admin.key").read_text().strip()
        assert new_key != keys.admin
        admin, _ = clients(port, Keys(writer=keys.writer, reader=keys.reader, admin=new_key))
        assert assert_json(admin.get(f"/management/api/v1/counts/{cid}")) == before
        now = datetime.now(timezone.utc)
        frm, to = ((now + timedelta(days=d)).strftime("%Y-%m-%dT%H:%M:%SZ") for d in (-1, 1))
        series = assert_json(admin.get(f"/analysis/api/v1/series?ids={cid}&from={frm}&to={to}&unit=day"))
        assert sum(b["sum"] for b in series["series"][0]["buckets"]) == before["value"] == 12
    finally:
        proc.stop()


def test_restore_refuses_what_it_must_and_force_replaces_only_the_database(scratch):
    keys = Keys()
    logs, data = scratch / "logs", scratch / "data"
    logs.mkdir()
    backup = scratch / "count.backup"
    proc, port = support.start_standalone(logs, data, keys, admin_key=False, name="running")
    try:
        admin_key = (data / "admin.key").read_text().strip()
        admin, _ = clients(port, Keys(admin=admin_key))
        assert_json(admin.post("/management/api/v1/counts", {"id": "in-backup"}), 201)
        assert cli("backup", "--data", data, "--to", backup).returncode == 0
        assert_json(admin.post("/management/api/v1/counts", {"id": "after-backup"}), 201)

        refused = cli("restore", "--from", backup, "--data", data)
        assert refused.returncode == 1 and "is not empty" in refused.stderr and "--force" in refused.stderr, \
            refused.stderr
        busy = cli("restore", "--from", backup, "--data", data, "--force")
        assert busy.returncode == 1 and "running process" in busy.stderr, busy.stderr
        assert assert_json(admin.get("/management/api/v1/counts/after-backup"))["id"] == "after-backup"
    finally:
        assert proc.stop() == 0

    newer = scratch / "newer.backup"
    newer.write_bytes(backup.read_bytes())
    with sqlite3.connect(newer) as db:
        current = db.execute("PRAGMA user_version").fetchone()[0]
        db.execute(f"PRAGMA user_version = {current + 1}")
    refused = cli("restore", "--from", newer, "--data", scratch / "other")
    assert refused.returncode == 1, refused.stderr
    assert f"schema version {current + 1}, newer than this count-system's {current}" in refused.stderr
    assert not (scratch / "other" / "count.db").exists()

    not_backup = cli("restore", "--from", logs / "running.stderr.log", "--data", scratch / "other")
    assert not_backup.returncode == 1 and "not a count-system backup" in not_backup.stderr, not_backup.stderr
    usage = cli("restore", "--data", scratch / "other")
    assert usage.returncode == 2 and "--from FILE" in usage.stderr

    forced = cli("restore", "--from", backup, "--data", data, "--force")
    assert forced.returncode == 0, forced.stderr
    assert (data / "admin.key").read_text().strip() == admin_key, "--force keeps admin.key"
    proc, port = support.start_standalone(logs, data, keys, admin_key=False, name="forced")
    try:
        admin, _ = clients(port, Keys(admin=admin_key))
        assert admin.get("/management/api/v1/counts/in-backup").status == 200
        assert admin.get("/management/api/v1/counts/after-backup").status == 404
    finally:
        proc.stop()


def test_events_an_earlier_version_left_in_the_outbox_reach_the_history_once(scratch):
    """Before 2026-12-03 standalone relayed events from an outbox table to the history; a data
    directory (or a backup) of that version can hold events not yet recorded. `count-system up`
    records them before it serves, once (docs/ARCHITECTURE.md, "Standalone has no outbox")."""
    keys = Keys()
    logs, data = scratch / "logs", scratch / "data"
    logs.mkdir()
    cid = support.unique_id("legacy")
    proc, port = support.start_standalone(logs, data, keys, name="first")
    try:
        admin, writer = clients(port, keys)
        assert_json(admin.post("/management/api/v1/counts", {"id": cid}), 201)
        assert writer.post(f"/api/v1/counts/{cid}/increment", {"amount": 5}).status == 200
    finally:
        proc.stop()
    # What that version's relay had not yet taken: two increments, as its store wrote them.
    now_ms = int(datetime.now(timezone.utc).timestamp() * 1000)
    with sqlite3.connect(data / "count.db") as db:
        db.executemany("INSERT INTO outbox (event_id, type, count_id, delta, value, timestamp, source, purge_history)"
                       " VALUES (?, 'count_updated', ?, ?, ?, ?, 'count-system', 0)",
                       [(f"{i:032x}", cid, delta, value, now_ms) for i, (delta, value) in enumerate([(7, 12), (8, 20)])])
    db.close()

    def history_sum(admin: Client) -> int:
        now = datetime.now(timezone.utc)
        frm, to = ((now + timedelta(days=d)).strftime("%Y-%m-%dT%H:%M:%SZ") for d in (-1, 1))
        series = assert_json(admin.get(f"/analysis/api/v1/series?ids={cid}&from={frm}&to={to}&unit=day"))
        return sum(b["sum"] for b in series["series"][0]["buckets"])

    for run in ("second", "third"):  # the third start finds nothing left to record
        proc, port = support.start_standalone(logs, data, keys, name=run)
        try:
            admin, _ = clients(port, keys)
            assert history_sum(admin) == 0 + 5 + 7 + 8, run
        finally:
            proc.stop()
    with sqlite3.connect(data / "count.db") as db:
        assert db.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0
    db.close()
