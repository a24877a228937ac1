"""The alarm journal on each backend (the werk file, PostgreSQL): rows written once however often they are replayed, the KPI records read back,
and the alarms' states with people's decisions (a timed shelve with its end, out of service) restored after a
restart."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from tests.apps.test_alarms_states import P, alarm, at
from werk.apps.alarms.engine import AlarmEngine
from werk.apps.alarms.store import MIGRATIONS, AlarmStore
from werk.core.model import Sample
from werk.store.app_database import AppDatabase


def test_a_restart_keeps_shelves_and_out_of_service_and_a_replay_writes_nothing_twice(
    app_db_opener: Callable[[], AppDatabase],
) -> None:
    db = app_db_opener()
    db.migrate("alarms", MIGRATIONS)
    store = AlarmStore(db)
    defs = [
        alarm("temp", signal="temperature", type="high", limit=80, priority="high"),
        alarm("level", signal="level", type="low", limit=10),
        alarm("flow", signal="flow", type="low", limit=10),
    ]
    eng = AlarmEngine(defs)
    alarms = {a.id: a for a in defs}
    rows = eng.feed([Sample(f"{P}/temperature", at(0), 90.0), Sample(f"{P}/flow", at(0), 1.0)])
    rows += eng.shelve("m1:temp", at(10), "olga", "sensor cleaning", at(3600))
    rows += eng.remove_from_service("m1:level", at(20), "sam", "transmitter replaced")
    rows += eng.shelve("m1:flow", at(30), "olga", "known", at(600))
    rows += eng.unshelve("m1:flow", at(40), "olga")
    store.append(rows, alarms)
    store.append(rows, alarms)  # a replay
    assert len(store.journal(limit=100)) == len(rows) == 6

    again = AlarmStore(app_db_opener())  # what a restarted process reads
    shelves, oos = again.decisions()
    assert set(shelves) == {"m1:temp"} and shelves["m1:temp"].until == at(3600)
    assert shelves["m1:temp"].who == "olga" and shelves["m1:temp"].why == "sensor cleaning"
    assert oos == {"m1:level": ("sam", "transmitter replaced")}

    fresh = AlarmEngine(defs)
    fresh.resume(again.latest(), shelves, oos)
    assert {i: e.state.state for i, e in fresh.entries.items()} == {
        "m1:temp": "shelved",
        "m1:level": "out_of_service",
        "m1:flow": "unack",  # raised, shelved and unshelved: back in the operator's list
    }
    flow = fresh.entry("m1:flow").state
    assert (flow.active_since, flow.raised, flow.value) == (at(0), at(40), 1.0)
    # the restored shelve still ends when it was meant to; the condition it hid is still active
    assert fresh.feed([Sample(f"{P}/temperature", at(100), 95.0), Sample(f"{P}/flow", at(100), 2.0)]) == []
    (expired,) = fresh.tick(at(3600) + timedelta(seconds=1))
    assert (expired.action, expired.ts, expired.after) == ("shelve_expired", at(3600), "unack")

    recs = store.records(at(-60), at(3600))
    assert [(r.tag, r.active, r.priority) for r in recs] == [
        ("m1:temp", True, "high"),
        ("m1:flow", True, "medium"),
    ]


def test_the_spans_werk_watched_are_kept_moved_on_and_a_journal_from_before_them_counts_as_watched(
    app_db_opener: Callable[[], AppDatabase],
) -> None:
    db = app_db_opener()
    db.migrate("alarms", MIGRATIONS[:3])  # a journal kept before werk kept its watched spans
    store = AlarmStore(db)
    defs = [alarm("temp", signal="temperature", type="high", limit=80)]
    eng = AlarmEngine(defs)
    rows = eng.feed([Sample(f"{P}/temperature", at(100), 90.0)])
    rows += eng.feed([Sample(f"{P}/temperature", at(700), 70.0)])
    store.append(rows, {a.id: a for a in defs})
    db.migrate("alarms", MIGRATIONS)
    assert list(store.watched(at(0), at(10_000)).values()) == [(at(100), at(700))]

    run = store.watch(at(1000))
    store.watching(run, at(1600))
    store.watching(run, at(1500))  # an older mark does not take it back
    again = store.watch(at(1600), go_on=True)  # fed from the log: the same span goes on
    assert again == run
    store.watching(run, at(2000))
    later = store.watch(at(5000))
    store.watching(later, at(5600))
    assert list(store.watched(at(0), at(10_000)).values()) == [
        (at(100), at(700)),
        (at(1000), at(2000)),
        (at(5000), at(5600)),
    ]
    assert list(store.watched(at(1900), at(5000)).values()) == [(at(1000), at(2000))]
    store.prune(at(2500))
    assert list(store.watched(at(0), at(10_000)).values()) == [(at(5000), at(5600))]
