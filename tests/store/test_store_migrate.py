"""``werk store migrate --to postgresql://...``: a werk file's samples and events, apps' tables and twin on the
server, without loss, resumable after an interruption, and checked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from basyx.aas import model

from werk.aas.adapter import io as aas_io
from werk.aas.backend.service_store import ServiceStore
from werk.aas.model import formats
from werk.apps.inventory.stock import Booking
from werk.apps.inventory.store import MIGRATIONS as INVENTORY_MIGRATIONS
from werk.apps.inventory.store import InventoryStore
from werk.apps.oee.stops import Classification, Stop
from werk.apps.oee.store import MIGRATIONS as OEE_MIGRATIONS
from werk.apps.oee.store import OeeStore
from werk.cli import main
from werk.config import demo_config_path, load_config
from werk.core.model import Event, Quality, Sample
from werk.store import SQLiteFile, SQLiteHistorian
from werk.store import transfer as transfer_module
from werk.store.app_postgres import PostgresAppDatabase
from werk.store.postgres import PostgresHistorian
from werk.store.transfer import transfer
from werk.twin.plant import open_twin

T0 = datetime(2026, 5, 1, tzinfo=UTC)


def _werk_file(path: Path) -> SQLiteHistorian:
    h = SQLiteHistorian(path)
    h.open()
    h.write_samples([Sample("p/load", T0 + timedelta(seconds=i), i * 0.5) for i in range(3000)])
    h.write_samples([Sample("p/count", T0 + timedelta(seconds=i), i) for i in range(500)])
    h.write_samples([Sample("p/on", T0 + timedelta(days=i), i % 2 == 0) for i in range(40)])  # 40 days
    h.write_samples(
        [Sample("p/state", T0 + timedelta(seconds=i), "run", Quality.UNCERTAIN) for i in range(7)]
    )
    h.write_samples([Sample("p/mixed", T0, 1.5), Sample("p/mixed", T0 + timedelta(seconds=1), "text")])
    h.write_events([Event("state", f"p/m{i % 3}", T0 + timedelta(minutes=i), {"n": i}) for i in range(250)])
    return h


def test_the_command_copies_every_sample_and_event_and_says_so(
    tmp_path: Path,
    pg_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    lite = _werk_file(tmp_path / "werk.db")
    assert main(["store", "migrate", "--to", pg_url, "--file", str(tmp_path / "werk.db"), "-q"]) == 0
    out = capsys.readouterr().out
    assert "5 signals, 3,549 samples, 250 events, counts equal" in out
    pg = PostgresHistorian(pg_url)
    pg.open()
    end = T0 + timedelta(days=60)
    for path in lite.signals():
        assert pg.query_raw(path, T0, end, 100_000) == lite.query_raw(path, T0, end, 100_000), path
    assert pg.signal_types() == lite.signal_types()
    assert pg.query_events(limit=1000) == lite.query_events(limit=1000)
    # run again: idempotent (nothing twice), and says the counts are equal
    assert main(["store", "migrate", "--to", pg_url, "--file", str(tmp_path / "werk.db"), "-q"]) == 0
    assert pg.count_samples() == 3549 and pg.count_events() == 250
    pg.close()
    lite.close()


def test_an_interrupted_copy_resumes_and_copies_no_event_twice(
    tmp_path: Path,
    pg_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _werk_file(tmp_path / "werk.db").close()
    monkeypatch.setattr(transfer_module, "CHUNK", 100)
    seen = {"samples": 0, "events": 0}

    def stop_midway(what: str, n: int) -> None:
        seen[what] += n
        if what == "events" and seen[what] >= 120:
            raise KeyboardInterrupt  # the operator pressed Ctrl+C

    pg = PostgresHistorian(pg_url)
    pg.open()
    with pytest.raises(KeyboardInterrupt):
        transfer(tmp_path / "werk.db", pg, stop_midway)
    assert pg.count_samples() == 3549 and pg.count_events() == 200
    report = transfer(tmp_path / "werk.db", pg)
    assert report.ok and report.copied_samples == 0 and report.copied_events == 50
    assert pg.count_events() == 250
    with psycopg.connect(pg_url) as c:
        dup = c.execute(
            "SELECT count(*) FROM (SELECT ts, data FROM event GROUP BY 1, 2 HAVING count(*) > 1) x"
        )
        assert dup.fetchone() == (0,)
    pg.close()


def test_a_missing_file_is_refused_with_its_name(tmp_path: Path, pg_url: str) -> None:
    assert main(["store", "migrate", "--to", pg_url, "--file", str(tmp_path / "nope.db"), "-q"]) == 2


def _apps_in_file(path: Path) -> tuple[list[Stop], list[Booking]]:
    """The OEE app's stops (with a reason history: ids numbered by the file) and stock bookings, in the file."""
    file = SQLiteFile(path)
    file.open()
    try:
        file.migrate("oee", OEE_MIGRATIONS)
        file.migrate("stock", INVENTORY_MIGRATIONS)
        history = [Classification(T0 + timedelta(minutes=3), "olga", "jam", None, "100% sure")]
        stops = [
            Stop("m1", T0, "fault", T0 + timedelta(minutes=5), ["fault"], "jam", "operator", history=history),
            Stop("m2", T0 + timedelta(hours=1), "idle", None, ["idle"], None, ""),
        ]
        OeeStore(file).upsert_stops(stops)
        bookings = [
            Booking(T0 + timedelta(minutes=i), "steel", "wh", 10.5 * i, "receipt", "olga")
            for i in range(1, 8)
        ]
        InventoryStore(file).add(bookings, [])
        return stops, bookings
    finally:
        file.close()


def test_the_apps_tables_go_along_with_their_ids_and_counts_checked(
    tmp_path: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _werk_file(tmp_path / "werk.db").close()
    stops, bookings = _apps_in_file(tmp_path / "werk.db")
    args = ["store", "migrate", "--to", pg_url, "--file", str(tmp_path / "werk.db"), "-q"]
    assert main(args) == 0
    assert (
        "the apps' tables, users and audit trail: 5 tables, 10 rows, counts equal (10 rows copied in this run)"
        in capsys.readouterr().out
    )
    assert main(args) == 0  # again: nothing copied twice
    assert "10 rows, counts equal (0 rows copied in this run)" in capsys.readouterr().out
    db = PostgresAppDatabase(pg_url)
    db.open()
    try:
        got = OeeStore(db).query_stops()
        assert [(s.id, s.end, s.reason, s.history) for s in got] == [
            (s.id, s.end, s.reason, s.history) for s in stops
        ]
        assert InventoryStore(db).journal() == bookings
        # the app goes on writing on the server: new rows get ids past the copied ones
        more = Booking(T0 + timedelta(hours=2), "steel", "wh", -1.0, "issue", "sam")
        InventoryStore(db).add([more], [])
        assert InventoryStore(db).journal(limit=1) == [more]
        assert db.query("SELECT max(id) FROM inventory_booking") == [(8,)]
    finally:
        db.close()
    # a table the server's werk wrote to since is left alone, and the run says so
    assert main(args) == 2
    assert "inventory_booking: 7 rows in the file, 8 on the server" in capsys.readouterr().err


async def test_the_twin_and_the_aas_services_go_along_and_open_on_the_server_as_they_were(
    tmp_path: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _werk_file(tmp_path / "werk.db").close()
    config = load_config(demo_config_path())
    lite = config.model_copy(
        update={"historian": config.historian.model_copy(update={"path": str(tmp_path / "werk.db")})}
    )
    store, twin = open_twin(lite)
    with store.lock:
        sm = next(s for s in store.all(model.Submodel) if s.id_short == "TechnicalData")
        prop = formats.resolve(sm, "TechnicalPropertyAreas[0].IdealCycleTime")
        assert isinstance(prop, model.Property)
        prop.value = 61.5
        store.value_changed(sm, "TechnicalPropertyAreas[0].IdealCycleTime", prop)  # a row of aas_value
        store.put_file("/aasx/files/manual.pdf", "application/pdf", b"%PDF manual")
        gone = store.all(model.AssetAdministrationShell)[-1].id
        store.delete(gone)  # a tombstone: the plant file must not bring it back on the server either
    await store.synced()
    before = [aas_io.to_jsonable(o) for o in store.objects]
    twin.close()
    services = ServiceStore(tmp_path / "werk.db")
    services.add_descriptor("shell", {"id": "https://other.example/aas/1", "endpoints": []})
    services.add_package("p.aasx", ["https://other.example/aas/1"], b"PK-package")
    services.close()

    args = ["store", "migrate", "--to", pg_url, "--file", str(tmp_path / "werk.db"), "-q"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "the twin and the AAS services: 7 tables" in out and "counts equal" in out
    assert main(args) == 0  # again: nothing copied twice
    again = next(line for line in capsys.readouterr().out.splitlines() if "the twin" in line)
    assert "(0 rows copied in this run)" in again

    historian = lite.historian.model_copy(update={"backend": "postgresql", "url": pg_url})
    store2, twin2 = open_twin(lite.model_copy(update={"historian": historian}))
    try:
        assert [
            aas_io.to_jsonable(o) for o in store2.objects
        ] == before  # same objects, same order, the value
        assert store2.get(gone, model.AssetAdministrationShell) is None
        assert store2.file_bytes("/aasx/files/manual.pdf") == b"%PDF manual"
    finally:
        twin2.close()
    on_server = ServiceStore.on_server(pg_url)
    try:
        assert on_server.descriptor("shell", "https://other.example/aas/1") is not None
        packages = on_server.packages()
        assert [p.file_name for p in packages] == ["p.aasx"]
        assert on_server.package(packages[0].package_id) == (packages[0], b"PK-package")
    finally:
        on_server.close()
