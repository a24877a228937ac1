"""Several processes serving one twin (server.workers): the value rows' commit order (aas_sync, migration 7), one
writer process committing for all of them (werk.aas.backend.table_writer), and each process's TwinFollower applying what
the others committed whenever it takes the store's lock. Two TwinPersistence objects on one file stand for the
primary and a worker: each has its own connection, writer client and follower, as the processes have."""

from __future__ import annotations

import os
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from basyx.aas import model

from tests.aas.backend.test_group_commit import PATH, set_value, technical
from werk.aas.backend import table_writer
from werk.aas.backend.follow import TwinFollower, follow
from werk.aas.backend.group_commit import _Connection
from werk.aas.backend.persistence import TwinPersistence
from werk.aas.backend.store import TwinStore
from werk.config import demo_config_path, load_config
from werk.runtime.sockets import PrivateSocket
from werk.twin.environment import build_environment


def _values(db: Path) -> list[tuple[str, str, str | None, int]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT submodel_id, path, value, seq FROM aas_value ORDER BY seq").fetchall()


def test_a_whole_submodel_keeps_the_values_committed_after_those_it_holds(tmp_path: Path) -> None:
    db = tmp_path / "werk.db"
    persistence = TwinPersistence(db)
    try:
        sm = model.Submodel("urn:sm")
        persistence.save_all([sm])
        tables = table_writer.TwinTables(table_writer.connect(str(db), 5), table_writer.Commits(str(db)))
        first = tables.commit([], [("urn:sm", "a", "1", 0, 0), ("urn:sm", "b", "2", 1, 0)], 0)
        assert (first.first_seq, first.last_seq) == (1, 2)
        row = persistence_row(sm)
        # the submodel written whole holds the values up to seq 1: the value committed after (b, seq 2) stays
        tables.commit([("urn:sm", row)], [], 0, drop_upto=1)
        assert _values(db) == [("urn:sm", "b", "2", 2)]
        # the next value is numbered on from the last ever given, not from what the table still holds
        assert tables.commit([], [("urn:sm", "a", "3", 0, 0)], 0).first_seq == 3
        # without a bound (one process writes the twin) a submodel written whole holds every value
        tables.commit([("urn:sm", row)], [], 0)
        assert _values(db) == []
        assert tables.commit([], [("urn:sm", "a", "4", 0, 0)], 0).first_seq == 4
        # every transaction is counted in the file beside the database, which every process maps
        assert table_writer.Commits(str(db)).value() == tables.commits.value() == 6
    finally:
        persistence.close()


def persistence_row(sm: model.Submodel) -> table_writer.ObjectRow:
    from werk.aas.backend.group_commit import rows

    row = rows([(sm.id, sm)])[0][1]
    assert row is not None
    return row


@contextmanager
def two_processes(tmp_path: Path) -> Iterator[tuple[TwinStore, TwinFollower, TwinStore, TwinFollower]]:
    """The primary (whose writer process listens for the worker) and a worker, followers installed."""
    db = tmp_path / "werk.db"
    primary_db = TwinPersistence(db)
    primary_db.save_all(list(build_environment(load_config(demo_config_path()))))
    primary = TwinStore(primary_db.load())
    share = PrivateSocket("twin-writer.sock")
    primary_db.attach(primary, share=share.sock)
    worker_db = TwinPersistence(db)
    worker = TwinStore(worker_db.load())
    worker_db.attach(worker, connect=share.path)
    followers = []
    for store, persistence, structure in ((primary, primary_db, True), (worker, worker_db, False)):
        followers.append(follow(persistence, store, writes_structure=structure))
    try:
        yield primary, followers[0], worker, followers[1]
    finally:
        worker_db.close()
        primary_db.close()
        share.close()


def test_each_process_reads_what_the_other_committed_when_it_takes_the_lock(tmp_path: Path) -> None:
    with two_processes(tmp_path) as (primary, primary_follows, worker, worker_follows):
        # the worker writes a value (stored before the call returns: no event loop here), through the primary's
        # writer process: it has none of its own
        set_value(worker, 0, 7.5)
        assert worker_follows.persistence.writer is not None
        assert isinstance(worker_follows.persistence.writer._proc, _Connection)
        assert technical(primary)[1].value != 7.5  # not read yet: the primary has not taken its lock
        generation = primary.generation
        with primary.lock:
            assert technical(primary)[1].value == 7.5
        assert primary.generation > generation  # its cached answers are made again
        assert primary_follows.applied == 1
        with worker.lock:  # its own value: nothing to apply
            pass
        assert worker_follows.applied == 0

        # the primary writes a value of another submodel, then changes a submodel's structure
        set_value(primary, 1, 2.25)
        sm, _ = technical(primary, 2)
        with primary.lock:
            sm.submodel_element.add(model.Property("Shifts", model.datatypes.Int, 3))
            primary.changed(sm)
        assert worker_follows.reloads == 0
        with worker.lock:
            assert technical(worker, 1)[1].value == 2.25
            assert technical(worker, 0)[1].value == 7.5
            assert technical(worker, 2)[0].get_referable("Shifts").value == 3  # type: ignore[attr-defined]
        assert worker_follows.reloads == 1
        with primary.lock:  # its own structure: it never reloads
            pass
        assert primary_follows.reloads == 0

        # a value the worker writes into the submodel the primary just stored whole applies on top of it
        sm_w, el_w = technical(worker, 2)
        with worker.lock:
            el_w.value = 9.0
            worker.value_changed(sm_w, PATH, el_w)
        with primary.lock:
            assert technical(primary, 2)[1].value == 9.0


def test_the_counter_tells_a_process_whether_anyone_else_committed() -> None:
    commits = table_writer.Commits(":memory:")  # counts nothing: its bookkeeping alone
    commits.note(table_writer.Commit(5, 10, 12))
    commits.note(table_writer.Commit(6, 13, 13))
    commits.note(table_writer.Commit(8, 15, 15, shared=True))  # with other processes' values: not all mine
    assert commits.only_mine(4, 6)
    assert not commits.only_mine(4, 7)  # 7 was another process's
    assert not commits.only_mine(7, 8)  # shared
    assert not commits.only_mine(-1, 5)  # a follower that never looked reads
    assert commits.is_my_seq(11) and commits.is_my_seq(15) and not commits.is_my_seq(14)
    commits.forget(6, 13)
    assert not commits.only_mine(4, 6) and not commits.is_my_seq(12) and commits.is_my_seq(15)


def test_a_submodel_stored_whole_after_its_own_value_drops_that_value(tmp_path: Path) -> None:
    """The primary writes a value, then changes the same Property through its submodel (a PUT of the element): the
    submodel row holds the newer value, and the older value row must not outlive it (a restart applies value rows
    on top of their submodel)."""
    with two_processes(tmp_path) as (primary, primary_follows, _, _):
        set_value(primary, 0, 5.0)
        with primary.lock:  # its own commit: nothing to read, but its seq is behind it now
            sm, el = technical(primary)
            el.value = 7.0
            primary.changed(sm)
        assert primary_follows.seq >= 1
        reopened = TwinPersistence(tmp_path / "werk.db")
        try:
            assert technical(TwinStore(reopened.load()))[1].value == 7.0
        finally:
            reopened.close()


def test_the_writer_commits_two_processes_batches_together_and_waits_only_for_one_that_just_wrote(
    tmp_path: Path,
) -> None:
    """Each process has one batch under way and sends the next when its answer comes: committed as they came, two
    processes' batches fell into turns, one per transaction. The writer waits ``gather_s`` at most for the batch of
    a process that was in the last transaction, and for an idle one only once. (A window of a second here, where
    werk's is half a millisecond, so that the timing cannot decide the test.)"""
    db = tmp_path / "werk.db"
    TwinPersistence(db).close()  # the tables
    share = PrivateSocket("twin-writer.sock")
    requests_r, requests_w = os.pipe()
    answers_r, answers_w = os.pipe()
    window = 1.0
    writer = threading.Thread(
        target=table_writer.serve,
        args=(str(db), 5.0, open(requests_r, "rb"), open(answers_w, "wb"), share.sock),  # noqa: SIM115
        kwargs={"gather_s": window},
    )
    worker = socket.socket(socket.AF_UNIX)
    worker.connect(share.path)
    frames = {"primary": table_writer.FrameReader(), "worker": table_writer.FrameReader()}

    def send(who: str, upto: int, value: str) -> None:
        data = table_writer.frame((upto, [], [("urn:sm", who, value, upto, 0)], 0.0, None))
        if who == "primary":
            os.write(requests_w, data)
        else:
            worker.sendall(data)

    def answer(who: str) -> int:
        """The number of the transaction that committed ``who``'s batch."""
        while True:
            data = os.read(answers_r, 1 << 16) if who == "primary" else worker.recv(1 << 16)
            for upto, error, committed in frames[who].feed(data):
                assert error is None and committed is not None, (upto, error)
                return int(committed[0])

    writer.start()
    try:
        send("primary", 1, "a")
        send("worker", 1, "b")
        first = (
            answer("primary"),
            answer("worker"),
        )  # in one transaction or two, as they came: the worker's was
        send("primary", 2, "c")  # in the last one either way, so the writer waits for its next batch
        time.sleep(
            0.1
        )  # a process that sends its batch a moment after the other (on the benchmark machine: µs)
        send("worker", 2, "d")
        together = answer("primary"), answer("worker")
        assert together[0] == together[1] > max(first)
        # now the worker falls silent: the primary's next batch waits the window once ...
        began = time.monotonic()
        send("primary", 3, "e")
        alone = answer("primary")
        assert time.monotonic() - began >= window * 0.9
        assert alone == together[0] + 1
        # ... and not again: the worker had no batch in the last transaction
        began = time.monotonic()
        send("primary", 4, "f")
        assert answer("primary") == alone + 1
        assert time.monotonic() - began < window / 2
    finally:
        worker.close()
        os.close(requests_w)  # the primary is done: the writer ends
        writer.join(10)
        os.close(answers_r)
        share.close()
    assert not writer.is_alive()
    # every batch was committed, each process's last value stands (a row per element, the latest kept)
    assert [(path, value) for _, path, value, _ in _values(db)] == [("worker", "d"), ("primary", "f")]
