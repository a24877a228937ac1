"""The twin's persistence on both backends (the werk file, and PostgreSQL with ``historian.backend: postgresql``):
what the API changes survives a restart, through :func:`werk.twin.plant.open_twin` as the platform opens it. The
werk file's own (its rows, its lock, its group commit) are in test_persistence.py."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

import psycopg
from basyx.aas import model

from tests.app_databases import PlantStore
from werk.aas.backend.store import TwinStore
from werk.aas.model import formats
from werk.config import WerkConfig, demo_config_path, load_config
from werk.twin.environment import build_environment
from werk.twin.plant import open_twin

DEMO_OBJECTS = len(list(build_environment(load_config(demo_config_path()))))


def demo(tmp_path: Path, plant_store: PlantStore) -> WerkConfig:
    config = load_config(demo_config_path())
    historian = config.historian.model_copy(update={"path": str(tmp_path / "werk.db")})
    return plant_store(config.model_copy(update={"historian": historian}))


def ideal_cycle_time(store: TwinStore, sm_id: str = "") -> tuple[model.Submodel, str, model.Property]:
    """A TechnicalData submodel (the first, or ``sm_id``), the path of its ideal cycle time and that Property
    (unbound, xs:double)."""
    sm = next(
        s for s in store.all(model.Submodel) if s.id == sm_id or (not sm_id and s.id_short == "TechnicalData")
    )
    path = "TechnicalPropertyAreas[0].IdealCycleTime"
    el = formats.resolve(sm, path)
    assert isinstance(el, model.Property)
    return sm, path, el


async def test_what_the_api_changes_survives_a_restart(tmp_path: Path, plant_store: PlantStore) -> None:
    config = demo(tmp_path, plant_store)
    store, twin = open_twin(config)
    try:
        assert len(store.objects) == DEMO_OBJECTS
        with store.lock:
            sm = store.all(model.Submodel)[0]
            sm.id_short = "EditedThroughTheApi"
            store.changed(sm)
            store.add(model.Submodel("urn:test:extra", id_short="Extra"))
            gone = store.all(model.AssetAdministrationShell)[0].id
            store.delete(gone)
        await store.synced()
    finally:
        twin.close()
    store2, twin2 = open_twin(config)  # built once: the plant file's objects are not stored again
    try:
        again = store2.get(sm.id, model.Submodel)
        assert again is not None and again.id_short == "EditedThroughTheApi"
        assert store2.get("urn:test:extra", model.Submodel) is not None
        assert store2.get(gone, model.AssetAdministrationShell) is None  # deleted stays deleted
        assert len(store2.objects) == DEMO_OBJECTS
        assert [o.id for o in store2.objects] == [o.id for o in store.objects]  # the paging order is kept
        with store2.lock:
            store2.delete("urn:test:extra")
        await store2.synced()
    finally:
        twin2.close()
    store3, twin3 = open_twin(config)
    try:
        assert (
            store3.get("urn:test:extra", model.Submodel) is None and len(store3.objects) == DEMO_OBJECTS - 1
        )
    finally:
        twin3.close()


async def test_values_written_alone_survive_a_restart_and_apply_over_a_submodel_stored_whole(
    tmp_path: Path, plant_store: PlantStore
) -> None:
    config = demo(tmp_path, plant_store)
    store, twin = open_twin(config)
    try:
        with store.lock:
            sm, path, prop = ideal_cycle_time(store)
            for value in (41.5, 42.5):
                prop.value = value
                store.value_changed(sm, path, prop)
        await store.synced()
        with store.lock:
            sm.id_short = "Renamed"  # more than a value: the whole submodel is stored
            store.changed(sm)
            prop.value = 43.5  # and a value after it, stored alone
            store.value_changed(sm, path, prop)
        await store.synced()
    finally:
        twin.close()
    store2, twin2 = open_twin(config)
    try:
        sm2, _, prop2 = ideal_cycle_time(store2, sm.id)
        assert sm2.id_short == "Renamed" and prop2.value == 43.5
    finally:
        twin2.close()


async def test_supplementary_files_survive_a_restart_and_go_when_unused(
    tmp_path: Path, plant_store: PlantStore
) -> None:
    config = demo(tmp_path, plant_store)
    store, twin = open_twin(config)
    try:
        with store.lock:
            store.put_file("/aasx/files/manual.pdf", "application/pdf", b"%PDF-1.7 manual")
            store.put_file("/aasx/files/old.pdf", "application/pdf", b"%PDF-1.7 old")
        store.on_files_removed(["/aasx/files/old.pdf"])  # type: ignore[misc]
    finally:
        twin.close()
    store2, twin2 = open_twin(config)
    try:
        assert sorted(store2.files) == ["/aasx/files/manual.pdf"]
        assert store2.file_bytes("/aasx/files/manual.pdf") == b"%PDF-1.7 manual"
        assert store2.files.get_content_type("/aasx/files/manual.pdf") == "application/pdf"
        buf = io.BytesIO()
        store2.files.write_file("/aasx/files/manual.pdf", buf)
        assert buf.getvalue() == b"%PDF-1.7 manual"
    finally:
        twin2.close()


def forget_deletions(config: WerkConfig) -> None:
    """Empty ``aas_deleted`` on the config's backend: as a twin stored by an older werk that never had an object."""
    h = config.historian
    if h.backend == "postgresql":
        assert h.url is not None
        with psycopg.connect(h.url) as c:
            c.execute("DELETE FROM aas_deleted")
    else:
        with sqlite3.connect(h.path) as lite:
            lite.execute("DELETE FROM aas_deleted")


async def test_a_submodel_a_newer_werk_adds_is_built_and_linked_into_the_stored_shell_once(
    tmp_path: Path, plant_store: PlantStore
) -> None:
    config = demo(tmp_path, plant_store)
    store, twin = open_twin(config)
    try:
        with store.lock:
            shell = store.all(model.AssetAdministrationShell)[0]
            newest = next(iter(shell.submodel))
            sm_id = newest.key[-1].value
            store.delete(sm_id)  # as if the older werk never built it ...
            shell.submodel.discard(newest)
            shell.id_short = "RenamedByTheUser"
            store.changed(shell)
        await store.synced()
    finally:
        twin.close()
    forget_deletions(config)  # ... and never deleted it either
    for _ in range(2):  # linked at the first start, not again at the next
        again_store, again = open_twin(config)
        try:
            stored = again_store.get(shell.id, model.AssetAdministrationShell)
            assert stored is not None and stored.id_short == "RenamedByTheUser"
            assert sum(r.key[-1].value == sm_id for r in stored.submodel) == 1
            assert again_store.get(sm_id, model.Submodel) is not None
            assert len(again_store.objects) == DEMO_OBJECTS
        finally:
            again.close()
