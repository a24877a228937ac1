"""The twin's group-commit writer (werk.aas.backend.group_commit.GroupCommit) and its process (werk.aas.backend.table_writer):
what it acknowledges is in the file, from a loop, from a thread, without a loop, and as werk stops."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import pytest
from basyx.aas import model

from werk.aas.backend import table_writer
from werk.aas.backend.group_commit import GroupCommit
from werk.aas.backend.persistence import TwinPersistence
from werk.aas.backend.store import TwinStore
from werk.aas.model import formats
from werk.config import demo_config_path, load_config
from werk.errors import StoreError
from werk.twin.environment import build_environment

PATH = "TechnicalPropertyAreas[0].IdealCycleTime"  # an unbound xs:double of every TechnicalData submodel


@contextmanager
def twin(db: Path, **kwargs: float) -> Iterator[tuple[TwinStore, TwinPersistence, GroupCommit]]:
    store = TwinStore(build_environment(load_config(demo_config_path())))
    persistence = TwinPersistence(db, **kwargs)
    persistence.save_all(list(store.objects))
    persistence.attach(store)
    assert persistence.writer is not None
    try:
        yield store, persistence, persistence.writer
    finally:
        persistence.close()


def technical(store: TwinStore, n: int = 0) -> tuple[model.Submodel, model.Property]:
    sm = [s for s in store.all(model.Submodel) if s.id_short == "TechnicalData"][n]
    el = formats.resolve(sm, PATH)
    assert isinstance(el, model.Property)
    return sm, el


def set_value(store: TwinStore, n: int, value: float, *, locked: bool = True) -> None:
    """As the API does it, under the store's lock (``locked=False``: as a script may, without it)."""
    sm, el = technical(store, n)
    with store.lock if locked else nullcontext():
        el.value = value
        store.value_changed(sm, PATH, el)


async def first_value_stored(store: TwinStore, writer: GroupCommit) -> subprocess.Popen[bytes]:
    """The writer process, once it has committed a first value (1.5, in the first TechnicalData)."""
    set_value(store, 0, 1.5)
    await store.synced()
    proc = writer._proc
    assert proc is not None
    return proc


def stored(db: Path) -> dict[tuple[str, str], str | None]:
    with sqlite3.connect(db) as conn:
        return {
            (str(a), str(b)): c for a, b, c in conn.execute("SELECT submodel_id, path, value FROM aas_value")
        }


async def test_what_is_acknowledged_is_in_the_file_and_one_transaction_holds_many_changes(
    tmp_path: Path,
) -> None:
    db = tmp_path / "werk.db"
    with twin(db) as (store, _, writer):
        for round_ in range(5):
            for n in range(4):
                set_value(store, n, 10.0 * round_ + n)
            await store.synced()
            values = stored(db)
            assert [values[(technical(store, n)[0].id, PATH)] for n in range(4)] == [
                f"{10.0 * round_ + n}" for n in range(4)
            ]
        assert writer.batches == 5  # four changes, one transaction each round
        sm, _ = technical(store)
        sm.id_short = "Renamed"  # a change of more than a value: the submodel is written whole
        store.changed(sm)
        await store.synced()
        row = TwinPersistence(db)
        reloaded = {o.id: o for o in row.load()}[sm.id]
        row.close()
        assert reloaded.id_short == "Renamed" and (sm.id, PATH) not in stored(db)


def test_without_an_event_loop_a_change_is_stored_before_the_call_returns(tmp_path: Path) -> None:
    db = tmp_path / "werk.db"
    with twin(db, busy_timeout_s=0.1) as (store, _, writer):
        set_value(store, 0, 7.5)
        assert stored(db)[(technical(store)[0].id, PATH)] == "7.5"
        assert writer.batches == 1
        locker = sqlite3.connect(db, timeout=0, isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")  # another program holds the file
        try:
            with pytest.raises(StoreError, match="could not be stored: OperationalError: database is locked"):
                set_value(store, 0, 8.5)
        finally:
            locker.execute("ROLLBACK")
            locker.close()
    assert stored(db)[(technical(store)[0].id, PATH)] == "8.5"  # kept, and stored by close()


async def test_changes_from_worker_threads_are_stored_and_acknowledged_on_the_loop(tmp_path: Path) -> None:
    """As the API's routes make them: in the threadpool, then awaiting synced() on the loop."""
    db = tmp_path / "werk.db"
    with twin(db) as (store, _, _writer):
        await store.synced()  # the loop is the writer's from now on

        def write(n: int) -> None:
            for i in range(20):
                set_value(store, n, n * 100.0 + i)

        await asyncio.gather(*(asyncio.to_thread(write, n) for n in range(4)))
        await store.synced()
        values = stored(db)
        assert [values[(technical(store, n)[0].id, PATH)] for n in range(4)] == [
            f"{n * 100.0 + 19}" for n in range(4)
        ]


async def test_closing_from_another_thread_stores_what_is_pending_and_ends_the_process(
    tmp_path: Path,
) -> None:
    """As werk stops: the platform closes the twin in a thread while the loop still runs."""
    db = tmp_path / "werk.db"
    store = TwinStore(build_environment(load_config(demo_config_path())))
    persistence = TwinPersistence(db)
    persistence.save_all(list(store.objects))
    persistence.attach(store)
    writer = persistence.writer
    assert writer is not None
    proc = await first_value_stored(store, writer)
    os.kill(proc.pid, signal.SIGSTOP)  # the next batch stays under way until close() is waiting for it
    set_value(store, 0, 2.5)
    waiting = asyncio.ensure_future(store.synced())
    await asyncio.sleep(0.05)
    set_value(store, 1, 3.5)  # pending behind the batch under way
    closing = asyncio.create_task(asyncio.to_thread(persistence.close))
    await asyncio.sleep(0.2)
    os.kill(proc.pid, signal.SIGCONT)
    await closing
    await waiting  # acknowledged: it was stored
    assert proc.poll() == 0  # ended because werk closed its stdin, not killed
    values = stored(db)
    assert values[(technical(store, 0)[0].id, PATH)] == "2.5"
    assert values[(technical(store, 1)[0].id, PATH)] == "3.5"
    with pytest.raises(StoreError, match="closed"):
        set_value(store, 0, 4.5)


async def test_ctrl_c_does_not_end_the_writer_process_before_werk_is_done(tmp_path: Path) -> None:
    """A terminal's Ctrl+C reaches every process of its group; the writer must still take werk's last batch."""
    db = tmp_path / "werk.db"
    with twin(db) as (store, _, writer):
        proc = await first_value_stored(store, writer)
        # not in werk's session: a terminal's Ctrl+C does not reach it
        assert os.getsid(proc.pid) != os.getsid(0)
        os.kill(proc.pid, signal.SIGINT)  # nor does a signal sent to it alone end it
        os.kill(proc.pid, signal.SIGTERM)
        await asyncio.sleep(0.1)
        assert proc.poll() is None
        set_value(store, 0, 2.5)
        await store.synced()
        assert writer.failures == 0
    assert stored(db)[(technical(store)[0].id, PATH)] == "2.5"


async def test_where_the_loop_cannot_watch_a_pipe_a_thread_reads_the_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Windows' proactor loop has no add_reader: the same writer, its answers read by a thread."""
    loop = asyncio.get_running_loop()

    def no_add_reader(*args: object) -> None:
        raise NotImplementedError

    monkeypatch.setattr(loop, "add_reader", no_add_reader)
    db = tmp_path / "werk.db"
    with twin(db) as (store, _, writer):
        for i in range(10):
            set_value(store, 0, float(i))
            await store.synced()
        assert writer._proc is not None and writer._thread_reads(writer._proc) and writer._watching is None
        assert stored(db)[(technical(store)[0].id, PATH)] == "9.0"
        assert any(t.name == "werk-twin-answers" for t in threading.enumerate())


def test_the_writer_process_imports_nothing_of_werk(tmp_path: Path) -> None:
    """It runs by path, isolated, and starts in tens of milliseconds: werk's and basyx's imports take ~0.8 s."""
    text = Path(table_writer.__file__).read_text()
    imports = [line for line in text.splitlines() if line.startswith(("import ", "from "))]
    assert imports and not [line for line in imports if "werk" in line or "basyx" in line], imports


async def test_a_thread_storing_without_a_loop_and_a_loop_taking_over_keep_one_batch_under_way(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A thread without a loop writes, and a loop binds the writer while that thread waits for its answer: the loop
    waits its turn instead of reading the same pipe and sending a second batch. (Without the store's lock: a thread
    storing a change it made under the lock holds the lock until the change is stored.)"""
    db = tmp_path / "werk.db"
    with twin(db) as (store, _, writer):
        proc = writer._proc
        assert proc is not None
        os.kill(proc.pid, signal.SIGSTOP)
        # a thread with no loop there
        first = asyncio.create_task(asyncio.to_thread(set_value, store, 0, 1.5, locked=False))
        async with asyncio.timeout(5):
            while writer._batch is None:
                await asyncio.sleep(0.01)
        set_value(store, 1, 2.5, locked=False)  # on the loop, which now tries to bind
        second = asyncio.ensure_future(store.synced())
        await asyncio.sleep(0.1)
        assert writer._loop is None and not second.done()  # it waits for the thread's answer
        os.kill(proc.pid, signal.SIGCONT)
        await first
        await second
        values = stored(db)
        assert values[(technical(store, 0)[0].id, PATH)] == "1.5"
        assert values[(technical(store, 1)[0].id, PATH)] == "2.5"
        assert writer.failures == 0 and "unexpected_answer" not in caplog.text


async def test_a_writer_process_that_hangs_is_killed_and_its_batch_fails_then_is_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(GroupCommit, "HANG_S", 0.5)
    monkeypatch.setattr(GroupCommit, "RETRY_S", 0.05)
    db = tmp_path / "werk.db"
    with twin(db, busy_timeout_s=0.1) as (store, _, writer):
        hung = await first_value_stored(store, writer)
        os.kill(hung.pid, signal.SIGSTOP)  # a process that no longer runs (or a disk that no longer answers)
        set_value(store, 0, 2.5)
        async with asyncio.timeout(10):
            with pytest.raises(StoreError, match="writer process ended"):
                await store.synced()
        assert hung.poll() is not None  # killed, and reaped
        async with asyncio.timeout(10):  # the next process stores what the twin holds
            while stored(db).get((technical(store)[0].id, PATH)) != "2.5":
                await asyncio.sleep(0.02)
        assert writer._proc is not hung


async def test_a_writer_process_that_cannot_start_fails_the_writes_and_a_later_one_stores_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from werk.aas.backend import group_commit as persistence_module

    monkeypatch.setattr(GroupCommit, "RETRY_S", 0.05)
    db = tmp_path / "werk.db"
    with twin(db) as (store, _, writer):
        proc = await first_value_stored(store, writer)
        proc.kill()  # out of memory, say
        async with asyncio.timeout(5):
            while writer._proc is not None:
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)
        assert writer._proc is None  # nothing to store: no new process, and no restarts in a loop

        popen = persistence_module.subprocess.Popen

        def cannot(*args: object, **kwargs: object) -> object:
            raise OSError(12, "Cannot allocate memory")

        monkeypatch.setattr(persistence_module.subprocess, "Popen", cannot)
        set_value(store, 0, 2.5)
        async with asyncio.timeout(5):
            with pytest.raises(
                StoreError, match=r"cannot start the twin's writer process.*Cannot allocate memory"
            ):
                await store.synced()
        monkeypatch.setattr(persistence_module.subprocess, "Popen", popen)
        async with asyncio.timeout(10):  # started once it can be, and the change is stored
            while stored(db).get((technical(store)[0].id, PATH)) != "2.5":
                await asyncio.sleep(0.02)
        set_value(store, 0, 3.5)
        await store.synced()
        assert stored(db)[(technical(store)[0].id, PATH)] == "3.5"


def test_a_twin_is_attached_to_one_store(tmp_path: Path) -> None:
    with (
        twin(tmp_path / "werk.db") as (store, persistence, _),
        pytest.raises(StoreError, match="attached to a store already"),
    ):
        persistence.attach(store)
