"""The twin in werk's SQLite file: table aas_object from migration 2, changes saved through the store's hook."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest
from basyx.aas import model

from werk.aas.adapter import io as aas_io
from werk.aas.backend.persistence import TwinPersistence
from werk.aas.backend.store import TwinStore
from werk.aas.model import formats
from werk.config import WerkConfig, demo_config_path, load_config
from werk.errors import StoreError
from werk.store import SQLiteHistorian
from werk.store.migrations import AAS_MIGRATIONS
from werk.twin.environment import build_environment
from werk.twin.plant import open_twin

DEMO_OBJECTS = len(list(build_environment(load_config(demo_config_path()))))  # shells + submodels of the demo


def _snapshot(objects: object) -> list[object]:
    return sorted((aas_io.to_jsonable(o) for o in objects), key=lambda d: d["id"])  # type: ignore[attr-defined]


def test_the_twin_makes_its_tables_in_the_werk_file_as_migrations_of_its_own(tmp_path: Path) -> None:
    db = tmp_path / "werk.db"
    TwinPersistence(db).close()
    with sqlite3.connect(db) as conn:
        cols = [r[1] for r in conn.execute("PRAGMA table_info(aas_object)")]
        versions = [r[0] for r in conn.execute("SELECT version FROM werk_migration WHERE owner = 'aas'")]
    assert cols == ["id", "kind", "json", "updated_ts"]
    assert versions == [m.version for m in AAS_MIGRATIONS]


def test_twin_first_then_historian_both_work(tmp_path: Path) -> None:
    db = tmp_path / "werk.db"
    p = TwinPersistence(db)
    p.save_all(list(build_environment(load_config(demo_config_path()))))
    p.close()
    h = SQLiteHistorian(db)
    h.open()  # migration 2 meets an existing table: IF NOT EXISTS
    h.close()
    assert TwinPersistence(db).count() == DEMO_OBJECTS


def test_changes_through_the_store_survive_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "werk.db"
    objects = list(build_environment(load_config(demo_config_path())))
    p = TwinPersistence(db)
    p.save_all(objects)
    store = TwinStore(p.load(), on_change=p.on_change)
    assert _snapshot(store.objects) == _snapshot(objects)

    sm = store.all(model.Submodel)[0]
    sm.id_short = "Renamed"
    store.changed(sm)
    extra = model.Submodel("urn:test:extra", id_short="Extra")
    store.add(extra)
    store.delete(store.all(model.AssetAdministrationShell)[0].id)
    expected = _snapshot(store.objects)
    p.close()

    p2 = TwinPersistence(db)
    assert _snapshot(p2.load()) == expected
    assert p2.count() == DEMO_OBJECTS


def test_a_corrupt_row_is_an_error_not_a_gap(tmp_path: Path) -> None:
    db = tmp_path / "werk.db"
    p = TwinPersistence(db)
    p.save(model.Submodel("urn:test:sm"))
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE aas_object SET json = ?", (json.dumps({"modelType": "Submodel"}),))
    with pytest.raises(StoreError, match="urn:test:sm"):
        p.load()


def test_open_twin_builds_once_then_keeps_api_edits(tmp_path: Path) -> None:
    config = load_config(demo_config_path())
    config = config.model_copy(
        update={"historian": config.historian.model_copy(update={"path": str(tmp_path / "werk.db")})}
    )
    store, p = open_twin(config)
    assert len(store.objects) == DEMO_OBJECTS
    sm = store.all(model.Submodel)[0]
    sm.id_short = "EditedThroughTheApi"
    store.changed(sm)
    p.close()
    store2, p2 = open_twin(config)
    assert store2.get(sm.id, model.Submodel) is not None
    assert store2.get(sm.id, model.Submodel).id_short == "EditedThroughTheApi"  # type: ignore[union-attr]
    assert len(store2.objects) == DEMO_OBJECTS
    p2.close()


def _demo_in(tmp_path: Path) -> WerkConfig:
    config = load_config(demo_config_path())
    return config.model_copy(
        update={"historian": config.historian.model_copy(update={"path": str(tmp_path / "werk.db")})}
    )


def test_a_submodel_a_newer_werk_adds_is_built_and_linked_into_the_stored_shell(tmp_path: Path) -> None:
    """A file written by an older werk that had no such submodel: the next start builds it and the stored shell,
    with its API edits, gains the reference (and only that)."""
    config = _demo_in(tmp_path)
    store, p = open_twin(config)
    shell = store.all(model.AssetAdministrationShell)[0]
    newest = next(iter(shell.submodel))
    sm_id = newest.key[-1].value
    store.delete(sm_id)  # as if the older werk never built it ...
    shell.submodel.discard(newest)
    shell.id_short = "RenamedByTheUser"
    store.changed(shell)
    with sqlite3.connect(tmp_path / "werk.db") as conn:  # ... and never deleted it either
        conn.execute("DELETE FROM aas_deleted")
    p.close()
    store2, p2 = open_twin(config)
    try:
        again = store2.get(shell.id, model.AssetAdministrationShell)
        assert again is not None and again.id_short == "RenamedByTheUser"
        assert sm_id in {r.key[-1].value for r in again.submodel}
        assert store2.get(sm_id, model.Submodel) is not None
        assert len(store2.objects) == DEMO_OBJECTS
    finally:
        p2.close()
    store3, p3 = open_twin(config)  # and it is linked once, not at every start
    try:
        again = store3.get(shell.id, model.AssetAdministrationShell)
        assert again is not None
        assert sum(r.key[-1].value == sm_id for r in again.submodel) == 1
    finally:
        p3.close()


def test_what_the_api_deleted_stays_deleted_until_it_is_created_again(tmp_path: Path) -> None:
    config = _demo_in(tmp_path)
    store, p = open_twin(config)
    sm = store.all(model.Submodel)[0]
    store.delete(sm.id)
    p.close()
    store2, p2 = open_twin(config)
    assert store2.get(sm.id, model.Submodel) is None and len(store2.objects) == DEMO_OBJECTS - 1
    store2.add(sm)  # created again through the API: it is a live object once more
    p2.close()
    store3, p3 = open_twin(config)
    try:
        assert store3.get(sm.id, model.Submodel) is not None and len(store3.objects) == DEMO_OBJECTS
    finally:
        p3.close()


def _stored_rows(db: Path) -> tuple[dict[str, str], list[tuple[str, str, str | None]]]:
    with sqlite3.connect(db) as conn:
        objects = {str(r[0]): str(r[1]) for r in conn.execute("SELECT id, json FROM aas_object")}
        values = [
            (str(a), str(b), c) for a, b, c in conn.execute("SELECT submodel_id, path, value FROM aas_value")
        ]
    return objects, values


def _property(sm: model.Submodel) -> tuple[str, model.Property]:
    """The path and the Property of the ideal cycle time in a TechnicalData submodel (unbound, xs:double)."""
    path = "TechnicalPropertyAreas[0].IdealCycleTime"
    el = formats.resolve(sm, path)
    assert isinstance(el, model.Property)
    return path, el


async def test_a_value_written_alone_is_stored_alone_and_folded_in_at_the_next_start(tmp_path: Path) -> None:
    config = _demo_in(tmp_path)
    db = Path(config.historian.path)
    store, p = open_twin(config)
    sm = next(s for s in store.all(model.Submodel) if s.id_short == "TechnicalData")
    path, prop = _property(sm)
    before, _ = _stored_rows(db)
    for value in (41.5, 42.5):
        prop.value = value
        store.value_changed(sm, path, prop)
    await store.synced()
    objects, values = _stored_rows(db)
    assert objects[sm.id] == before[sm.id]  # the submodel's row was not written again
    assert values == [(sm.id, path, "42.5")]  # the latest value of the element, alone
    reloaded = {o.id: o for o in TwinPersistence(db).load()}[sm.id]
    assert isinstance(reloaded, model.Submodel) and _property(reloaded)[1].value == 42.5
    p.close()

    store2, p2 = open_twin(config)  # folds the value into the submodel's row
    objects, values = _stored_rows(db)
    assert values == []
    assert "42.5" in objects[sm.id]
    sm2 = store2.get(sm.id, model.Submodel)
    assert sm2 is not None and _property(sm2)[1].value == 42.5
    p2.close()


async def test_a_submodel_written_whole_drops_its_values_and_later_values_apply_on_top(
    tmp_path: Path,
) -> None:
    config = _demo_in(tmp_path)
    db = Path(config.historian.path)
    store, p = open_twin(config)
    sm = next(s for s in store.all(model.Submodel) if s.id_short == "TechnicalData")
    path, prop = _property(sm)
    prop.value = 10.5
    store.value_changed(sm, path, prop)
    await store.synced()
    sm.id_short = "Renamed"  # a change of more than a value: the whole submodel is stored
    store.changed(sm)
    await store.synced()
    assert _stored_rows(db)[1] == []
    prop.value = None
    store.value_changed(sm, path, prop)
    await store.synced()
    assert _stored_rows(db)[1] == [(sm.id, path, None)]
    p.close()
    reloaded = {o.id: o for o in TwinPersistence(db).load()}[sm.id]
    assert isinstance(reloaded, model.Submodel)
    assert reloaded.id_short == "Renamed" and _property(reloaded)[1].value is None


def test_a_stored_value_that_no_longer_applies_is_logged_and_dropped_and_the_twin_opens(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A value row whose element is not in the stored submodel (its structural change could not be stored)."""
    config = _demo_in(tmp_path)
    db = Path(config.historian.path)
    store, p = open_twin(config)
    sm_id = next(o.id for o in store.all(model.Submodel))
    p.close()
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO aas_value VALUES (?, 'NoSuchElement', '1', 1, 0)", (sm_id,))
    loading = TwinPersistence(db)
    assert len(loading.load()) == DEMO_OBJECTS
    assert loading.unapplied == [(sm_id, "NoSuchElement")]
    loading.close()
    assert "twin.value.unapplied" in caplog.text and "NoSuchElement" in caplog.text
    _, p2 = open_twin(config)  # opens, and drops the row for good
    p2.close()
    assert _stored_rows(db)[1] == []


def test_one_werk_at_a_time_opens_a_twin_to_write(tmp_path: Path) -> None:
    config = _demo_in(tmp_path)
    _, first = open_twin(config)
    try:
        with pytest.raises(StoreError, match=rf"open in another werk process \(pid {os.getpid()}\)"):
            open_twin(config)
        store, reader = open_twin(config, read_only=True)  # reading beside it is fine
        reader.close()
        assert len(store.objects) == DEMO_OBJECTS
    finally:
        first.close()
    _, again = open_twin(config)  # released with close()
    again.close()
