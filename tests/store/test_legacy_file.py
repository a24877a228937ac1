"""A werk file written before apps owned their tables opens, migrates in place and keeps every row."""

from __future__ import annotations

import gzip
import shutil
import sqlite3
from pathlib import Path

import pytest

from werk.aas.backend.persistence import TwinPersistence
from werk.aas.backend.service_store import ServiceStore
from werk.apps.maintenance.store import MIGRATIONS as MAINTENANCE_MIGRATIONS
from werk.apps.maintenance.store import MaintenanceStore
from werk.apps.oee.store import MIGRATIONS as OEE_MIGRATIONS
from werk.apps.oee.store import OeeStore
from werk.core.model import from_micros
from werk.errors import StoreError
from werk.store import SQLiteFile, SQLiteHistorian
from werk.store.migrations import HISTORIAN_MIGRATIONS, OWNERS_SCHEMA

FIXTURE = Path(__file__).parent / "fixtures" / "werk-0.1-schema7.db.gz"


@pytest.fixture
def legacy(tmp_path: Path) -> Path:
    path = tmp_path / "demo.db"
    with gzip.open(FIXTURE) as src, path.open("wb") as dst:
        shutil.copyfileobj(src, dst)
    return path


def _raw(path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(sql).fetchall()


def test_a_file_of_the_single_sequence_layout_migrates_and_keeps_every_row(legacy: Path) -> None:
    stops = _raw(
        legacy, "SELECT id, asset, start_ts, end_ts, reason, reason_source FROM downtime ORDER BY id"
    )
    history = _raw(
        legacy, "SELECT downtime_id, ts, who, reason, comment FROM downtime_reason_history ORDER BY id"
    )
    orders = _raw(legacy, "SELECT id, status, body FROM work_order ORDER BY id")
    samples = _raw(legacy, "SELECT count(*) FROM sample")[0][0]
    assert _raw(legacy, "SELECT max(version) FROM werk_schema") == [(7,)]
    assert len(stops) > 40 and len(history) == 3 and len(orders) == 6  # what the fixture holds

    file = SQLiteFile(legacy)
    file.open()
    historian = SQLiteHistorian(file)
    historian.open()
    file.migrate("oee", OEE_MIGRATIONS)
    file.migrate("maintenance", MAINTENANCE_MIGRATIONS)
    try:
        assert historian.count_samples() == samples
        got = OeeStore(file).query_stops()
        assert sorted((s.id, s.asset, s.reason, s.reason_source) for s in got) == [
            (sid, asset, reason, source) for sid, asset, _, _, reason, source in stops
        ]
        classified = {s.id: s.history for s in got if s.history}
        assert sorted(
            (sid, from_micros(ts), who, reason, comment) for sid, ts, who, reason, comment in history
        ) == sorted((sid, c.ts, c.who, c.reason, c.comment) for sid, h in classified.items() for c in h)
        wos = {w.id: w for w in MaintenanceStore(file).query_work_orders()}
        assert sorted(wos) == [wid for wid, _, _ in orders]
        assert {w.status for w in wos.values()} == {status for _, status, _ in orders}
        assert any(w.parts == [{"part": "bearing", "qty": 2}] for w in wos.values())
    finally:
        historian.close()
        file.close()

    owners = dict(_raw(legacy, "SELECT owner, max(version) FROM werk_migration GROUP BY owner"))
    assert owners == {
        "historian": HISTORIAN_MIGRATIONS[-1].version,
        "oee": OEE_MIGRATIONS[-1].version,
        "maintenance": MAINTENANCE_MIGRATIONS[-1].version,
    }
    assert (OWNERS_SCHEMA,) in _raw(legacy, "SELECT version FROM werk_schema")

    twin = TwinPersistence(legacy)
    try:
        notes = next(o for o in twin.load() if o.id == "urn:legacy:notes")
        assert notes.get_referable("note").value == "legacy-value-42"  # type: ignore[attr-defined]
    finally:
        twin.close()
    services = ServiceStore(legacy)
    try:
        assert "urn:legacy:remote-shell" in {d["id"] for d in services.descriptors("shell")}
    finally:
        services.close()
    assert dict(_raw(legacy, "SELECT owner, max(version) FROM werk_migration GROUP BY owner"))["aas"] == 4


def test_the_werk_of_the_single_sequence_layout_refuses_a_migrated_file(legacy: Path) -> None:
    """It reads ``werk_schema`` only: the row this layout adds makes it say the file is newer than it knows."""
    file = SQLiteFile(legacy)
    file.open()
    SQLiteHistorian(file).open()
    file.close()
    newest = _raw(legacy, "SELECT max(version) FROM werk_schema")[0][0]
    assert isinstance(newest, int) and newest > 7


def test_an_owner_newer_than_the_code_is_refused_with_its_name(legacy: Path) -> None:
    file = SQLiteFile(legacy)
    file.open()
    file.migrate("oee", OEE_MIGRATIONS)
    with file.transaction() as conn:
        conn.execute("INSERT INTO werk_migration VALUES ('oee', 2, 'from the future', 0)")
    with pytest.raises(StoreError, match="'oee' are at schema version 2, newer than this werk knows \\(1\\)"):
        file.migrate("oee", OEE_MIGRATIONS)
    file.close()
