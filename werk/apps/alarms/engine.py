"""The alarm engine, pure: every alarm of the plant, fed samples and clock ticks, answering journal rows.

Built for every sample of the plant: alarms are indexed by the UNS path they watch, so a sample costs one dict
lookup, and nothing when no alarm watches its signal; per alarm watching it, one :class:`Condition` test. Only
alarms with a delay running or a stale timeout are looked at on a tick (:attr:`AlarmEngine.waiting`).

An asset's ``machine_state`` samples (the machine-state app's signal) switch suppression by design of that asset's
alarms on and off (``suppress_in``). Operator actions (acknowledge, shelve, unshelve, out of service) go through
here too, so the engine is the one owner of every alarm's state.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from werk.apps.alarms.conditions import Change, Condition
from werk.apps.alarms.settings import Alarm
from werk.apps.alarms.states import ACKABLE, AlarmState, Latest, Shelve, Transition, TransitionError
from werk.core.model import Quality, Sample
from werk.core.states import STATE_SIGNAL

#: who acknowledged an alarm that its source (an OPC UA server, a machine's panel) reports acknowledged
SOURCE = "source"


class UnknownAlarm(TransitionError, KeyError):
    """No alarm has that id."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(slots=True)
class Entry:
    alarm: Alarm
    cond: Condition
    state: AlarmState
    feed: Callable[
        [float, object, bool], Change | None
    ]  # the condition's entry for the path it is indexed by


def _dt(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


class AlarmEngine:
    """All alarms of a plant; ``feed`` samples and ``tick`` the clock, both returning the journal rows."""

    def __init__(self, alarms: Sequence[Alarm]) -> None:
        self.entries: dict[str, Entry] = {}
        self.by_path: dict[str, list[Entry]] = {}
        self.by_setpoint: dict[str, list[Entry]] = {}
        self.by_state: dict[str, list[Entry]] = {}  # <asset path>/machine_state -> the asset's alarms
        self.by_acked: dict[str, list[Entry]] = {}  # <signal>.acked -> source alarms the source acknowledges
        self.machine_state: dict[str, str] = {}  # asset path -> its last machine state
        self.waiting: set[str] = set()  # alarms whose condition the clock may change
        self.samples = 0
        for a in alarms:
            cond = Condition(a.d)
            e = Entry(a, cond, AlarmState(a.id, latching=a.d.latched), cond.feed)
            self.entries[a.id] = e
            if a.inputs:  # an expression: indexed under each signal it reads
                for name, path in a.inputs:
                    self.by_path.setdefault(path, []).append(
                        Entry(a, cond, e.state, functools.partial(cond.feed_from, name))
                    )
            else:
                self.by_path.setdefault(a.path, []).append(e)
            if a.setpoint_path:
                self.by_setpoint.setdefault(a.setpoint_path, []).append(e)
            if a.d.type == "condition":
                self.by_acked.setdefault(f"{a.path}.acked", []).append(e)
            if a.suppress_in:
                self.by_state.setdefault(f"{a.asset_path}/{STATE_SIGNAL}", []).append(e)

    def start(self, now: datetime) -> None:
        """Stale alarms count from now: a signal that never arrives goes stale after its timeout."""
        t = now.timestamp()
        for e in self.entries.values():
            if e.cond.kind == "stale" and e.cond.last_t is None:
                e.cond.last_t = t
                self.waiting.add(e.alarm.id)

    def resume(
        self,
        latest: Mapping[str, Latest],
        shelves: Mapping[str, Shelve],
        out_of_service: Mapping[str, tuple[str, str]],
    ) -> None:
        """Every alarm in the state the journal last left it (:meth:`AlarmState.resumed`), its condition filter
        told whether the condition was active, so the next sample that still holds it changes nothing and the
        first one that does not clears it (through the deadband and the off-delay as always). Each entry's state
        is replaced whole, so a reader in another thread sees the old state or the new one."""
        states = {
            alarm_id: AlarmState.resumed(
                alarm_id,
                e.state.latching,
                latest.get(alarm_id),
                shelves.get(alarm_id),
                out_of_service.get(alarm_id),
            )
            for alarm_id, e in self.entries.items()
        }
        for entries in (self.entries.values(), *self.by_path.values()):
            for e in entries:
                e.state = states[e.alarm.id]
                e.cond.active = e.cond.raw = e.state.active

    def feed(self, samples: Iterable[Sample]) -> list[Transition]:
        out: list[Transition] = []
        by_path, by_setpoint, by_state = self.by_path, self.by_setpoint, self.by_state
        n = 0
        last_ts, t = None, 0.0
        bad = Quality.BAD
        for s in samples:
            n += 1
            path = s.path
            entries = by_path.get(path)
            if entries is not None:
                ts = s.ts
                if ts is not last_ts:  # a batch's samples often share one stamp
                    last_ts, t = ts, ts.timestamp()
                good = s.quality is not bad
                for e in entries:
                    cond = e.cond
                    change = e.feed(t, s.value, good)
                    if change is not None:
                        out += e.state.condition(_dt(change[0]), change[1], change[2])
                    if cond.pending is not None:
                        self.waiting.add(e.alarm.id)
            if path in by_setpoint:
                good = s.quality is not Quality.BAD
                for e in by_setpoint[path]:
                    e.cond.set_setpoint(s.value, good)
            if path in by_state:
                out += self._machine_state(path, s)
            if path in self.by_acked and s.value is True and s.quality is not bad:
                for e in self.by_acked[path]:
                    if e.state.state in ACKABLE:  # acknowledged at the source (a panel, the server)
                        out += e.state.acknowledge(s.ts, SOURCE, "acknowledged at the source")
        self.samples += n
        return out

    def _machine_state(self, path: str, s: Sample) -> list[Transition]:
        state = str(s.value)
        asset = path.rpartition("/")[0]
        if self.machine_state.get(asset) == state:
            return []
        self.machine_state[asset] = state
        out: list[Transition] = []
        for e in self.by_state[path]:
            out += e.state.suppress(s.ts, state in e.alarm.suppress_in, state)
        return out

    def tick(self, now: datetime) -> list[Transition]:
        """Delays that ran out, signals gone stale, timed shelves that expired, up to ``now``."""
        t = now.timestamp()
        out: list[Transition] = []
        for alarm_id in list(self.waiting):
            e = self.entries[alarm_id]
            due = e.cond.due()
            if due is None:
                if e.cond.kind != "stale":
                    self.waiting.discard(alarm_id)
                continue
            if due > t:
                continue
            change = e.cond.tick(t)
            if change is not None:
                out += e.state.condition(_dt(change[0]), change[1], change[2])
            if e.cond.pending is None and e.cond.kind != "stale":
                self.waiting.discard(alarm_id)
        for e in self.shelved():
            out += e.state.expire(now)
        return out

    def shelved(self) -> list[Entry]:
        return [e for e in self.entries.values() if e.state.shelve is not None]

    # -- people --------------------------------------------------------------------------------------------------
    def entry(self, alarm_id: str) -> Entry:
        e = self.entries.get(alarm_id)
        if e is None:
            raise UnknownAlarm(f"no alarm {alarm_id!r}; GET /api/alarms lists them")
        return e

    def acknowledge(self, alarm_id: str, ts: datetime, who: str, why: str = "") -> list[Transition]:
        return self.entry(alarm_id).state.acknowledge(ts, who, why)

    def shelve(
        self, alarm_id: str, ts: datetime, who: str, why: str, until: datetime | None
    ) -> list[Transition]:
        return self.entry(alarm_id).state.shelve_it(ts, who, why, until)

    def unshelve(self, alarm_id: str, ts: datetime, who: str, why: str = "") -> list[Transition]:
        return self.entry(alarm_id).state.unshelve(ts, who, why)

    def remove_from_service(self, alarm_id: str, ts: datetime, who: str, why: str) -> list[Transition]:
        return self.entry(alarm_id).state.remove_from_service(ts, who, why)

    def return_to_service(self, alarm_id: str, ts: datetime, who: str, why: str = "") -> list[Transition]:
        return self.entry(alarm_id).state.return_to_service(ts, who, why)
