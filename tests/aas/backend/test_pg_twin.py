"""Several werk processes over one twin on PostgreSQL (werk.aas.backend.pg_twin): each follows what the others
commit, and a structural write built on an older state is refused, never stored over the newer one. Two twins
opened in one test process stand for two replicas: each has its own connections and listener, as a process has."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from basyx.aas import model

from tests.aas.backend.test_twin_backends import DEMO_OBJECTS, ideal_cycle_time
from werk.aas.backend.pg_twin import PostgresTwin
from werk.aas.backend.store import TwinStore
from werk.config import WerkConfig, demo_config_path, load_config
from werk.errors import StoreError, TwinConflict
from werk.twin.plant import open_twin

Replica = tuple[TwinStore, PostgresTwin]


@pytest.fixture
def config(tmp_path: Path, pg_url: str) -> WerkConfig:
    base = load_config(demo_config_path())
    historian = base.historian.model_copy(
        update={"path": str(tmp_path / "werk.db"), "backend": "postgresql", "url": pg_url}
    )
    return base.model_copy(update={"historian": historian})


@pytest.fixture
def replicas(config: WerkConfig) -> Iterator[Callable[[], Replica]]:
    opened: list[PostgresTwin] = []

    def replica() -> Replica:
        store, twin = open_twin(config)
        assert isinstance(twin, PostgresTwin)
        opened.append(twin)
        return store, twin

    yield replica
    for twin in opened:
        twin.close()


def seen(store: TwinStore, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Whether ``predicate`` holds under the store's lock within ``timeout`` (taking the lock is where a replica
    applies what the others committed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with store.lock:
            if predicate():
                return True
        time.sleep(0.02)
    return False


def test_a_value_written_through_one_replica_is_served_by_the_other_within_a_second(
    replicas: Callable[[], Replica],
) -> None:
    a, _ = replicas()
    b, twin_b = replicas()
    with a.lock:
        sm, path, prop = ideal_cycle_time(a)
        prop.value = 77.5
        a.value_changed(sm, path, prop)
    started = time.monotonic()
    assert seen(b, lambda: ideal_cycle_time(b, sm.id)[2].value == 77.5)
    assert time.monotonic() - started < 1.0
    assert twin_b.applied == 1 and twin_b.reloads == 0  # the value row alone, not the twin again


def test_a_structural_change_is_loaded_by_the_other_replica(replicas: Callable[[], Replica]) -> None:
    a, _ = replicas()
    b, twin_b = replicas()
    with a.lock:
        a.add(model.Submodel("urn:test:posted", id_short="Posted"))
        a.delete(a.all(model.AssetAdministrationShell)[0].id)
    assert seen(b, lambda: b.get("urn:test:posted", model.Submodel) is not None)
    assert seen(b, lambda: len(b.objects) == DEMO_OBJECTS)  # one added, one deleted
    assert twin_b.reloads >= 1
    with b.lock:  # b is level: its own structural write is taken
        b.delete("urn:test:posted")
    assert seen(a, lambda: a.get("urn:test:posted", model.Submodel) is None)


def test_a_structural_write_on_an_older_twin_is_refused_and_the_replica_reloads(
    replicas: Callable[[], Replica],
) -> None:
    a, twin_a = replicas()
    b, twin_b = replicas()
    twin_b.check = lambda: None  # type: ignore[method-assign]  # b has not heard of a's change yet
    b.lock.on_acquire = None
    with a.lock:
        sm_a = a.all(model.Submodel)[0]
        sm_a.id_short = "ChangedOnA"
        a.changed(sm_a)
    with b.lock:
        sm_b = b.get(sm_a.id, model.Submodel)
        assert sm_b is not None and sm_b.id_short != "ChangedOnA"
        sm_b.id_short = "ChangedOnB"
        with pytest.raises(TwinConflict, match="send the request again"):
            b.changed(sm_b)
        now = b.get(sm_a.id, model.Submodel)  # b serves what a stored, loaded again
        assert now is not None and now.id_short == "ChangedOnA"
    stored = {o.id: o for o in twin_a.load()}[sm_a.id]
    assert stored.id_short == "ChangedOnA"  # a's change was not overwritten
    with b.lock:  # and b, level again, writes
        now.id_short = "ChangedOnBAgain"
        b.changed(now)
    assert seen(a, lambda: a.get(sm_a.id, model.Submodel).id_short == "ChangedOnBAgain")  # type: ignore[union-attr]


def test_a_value_written_on_one_replica_survives_a_submodel_stored_whole_on_the_other(
    replicas: Callable[[], Replica],
) -> None:
    a, _ = replicas()
    b, twin_b = replicas()
    with a.lock:
        sm, path, prop = ideal_cycle_time(a)
    twin_b.check = lambda: None  # type: ignore[method-assign]  # b stores the submodel before it hears of the value
    b.lock.on_acquire = None
    with a.lock:
        prop.value = 12.5
        a.value_changed(sm, path, prop)
    with b.lock:
        sm_b = b.get(sm.id, model.Submodel)
        assert sm_b is not None
        sm_b.description = model.MultiLanguageTextType({"en": "described on b"})
        b.changed(sm_b)  # no structural change came between: taken
    reloaded = {o.id: o for o in twin_b.load()}[sm.id]
    assert isinstance(reloaded, model.Submodel) and reloaded.description is not None
    assert ideal_cycle_time(TwinStore([reloaded]), sm.id)[2].value == 12.5  # the later value applies on top


def test_replicas_starting_together_store_the_plant_once(config: WerkConfig, pg_url: str) -> None:
    first, twin_1 = open_twin(config)
    second, twin_2 = open_twin(config)
    try:
        assert len(first.objects) == len(second.objects) == DEMO_OBJECTS
        assert twin_1.count() == DEMO_OBJECTS
    finally:
        twin_1.close()
        twin_2.close()
    with psycopg.connect(pg_url) as c:
        row = c.execute("SELECT count(*), count(DISTINCT id) FROM aas_object").fetchone()
    assert row == (DEMO_OBJECTS, DEMO_OBJECTS)


def test_a_value_row_that_applies_nowhere_is_dropped_at_the_next_start(
    config: WerkConfig, pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    store, twin = open_twin(config)
    sm_id = store.all(model.Submodel)[0].id
    twin.close()
    with psycopg.connect(pg_url) as c:
        c.execute("INSERT INTO aas_value VALUES (%s, 'NoSuchElement', '1', 1, 0)", (sm_id,))
    _, again = open_twin(config)
    again.close()
    assert "twin.value.unapplied" in caplog.text and "NoSuchElement" in caplog.text
    with psycopg.connect(pg_url) as c:
        assert c.execute("SELECT count(*) FROM aas_value").fetchone() == (0,)


def test_an_import_is_stored_whole_or_not_at_all(replicas: Callable[[], Replica], pg_url: str) -> None:
    a, twin_a = replicas()
    b, _ = replicas()
    twin_a.check = lambda: None  # type: ignore[method-assign]  # a has not heard of b's change yet
    a.lock.on_acquire = None
    with b.lock:
        b.add(model.Submodel("urn:test:from-b"))
    pair = [model.Submodel("urn:test:import:1"), model.Submodel("urn:test:import:2")]
    with a.lock, pytest.raises(TwinConflict):
        a.add_all(pair)
    with psycopg.connect(pg_url) as c:
        rows = c.execute("SELECT id FROM aas_object WHERE id LIKE 'urn:test:%' ORDER BY id").fetchall()
    assert rows == [("urn:test:from-b",)]  # neither of the import's
    with a.lock:
        assert a.get("urn:test:import:1", model.Submodel) is None  # a serves what is stored
        a.add_all(pair)  # level again: both, in one transaction
    assert seen(b, lambda: b.get("urn:test:import:2", model.Submodel) is not None)


def test_a_write_the_server_did_not_take_is_undone_once_it_is_reachable(
    replicas: Callable[[], Replica], pg_url: str
) -> None:
    a, twin_a = replicas()
    with a.lock:
        sm = a.all(model.Submodel)[0]
        name = sm.id_short
    writer = twin_a.db._w
    assert writer is not None
    with psycopg.connect(pg_url, autocommit=True) as c:  # the server ends it, as at a restart
        c.execute("SELECT pg_terminate_backend(%s)", (writer.info.backend_pid,))
    with a.lock:
        sm.id_short = "NotStored"
        with pytest.raises(StoreError, match="did not reach PostgreSQL"):
            a.changed(sm)
    # the next look connects again and serves what the server holds
    assert seen(a, lambda: a.get(sm.id, model.Submodel).id_short == name)  # type: ignore[union-attr]
    assert {o.id: o for o in twin_a.load()}[sm.id].id_short == name
