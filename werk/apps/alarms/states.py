"""The ISA-18.2 (IEC 62682) alarm state model of one alarm, pure: calls in, journal rows out.

An alarm has a process condition (``active``, decided by :mod:`werk.apps.alarms.conditions` after deadband and
delays) and what people and the plant did with it. Its state is one of (ISA-18.2 figure 7, letters in brackets)::

    normal            (A) condition normal, nothing to do
    unack             (B) condition active, not acknowledged: annunciated
    acked             (C) condition active, acknowledged
    rtn_unack         (D) condition returned to normal, not acknowledged
    latched           (E) a latching alarm whose condition returned to normal: held until an operator resets it
    shelved           (F) taken out of the operator's list by an operator, for a time (``until``) or once (until
                          its condition next returns to normal), with who and why
    suppressed        (G) suppressed by design: the asset is in a machine state the alarm does not apply in
                          (setup, maintenance)
    out_of_service    (H) removed from service (a broken sensor being repaired) by a supervisor, with who and why

Out of service wins over suppression, suppression over shelving, shelving over the rest. The condition is followed
in every state, so when an alarm comes back (unshelved, suppression ends, back in service) it is ``unack`` if its
condition is active then (the operator must see it again) and ``normal`` otherwise.

Every call returns the :class:`Transition` rows it caused (empty when nothing changed): the alarm journal. A call
not allowed in the current state raises :class:`TransitionError` (acknowledging an alarm nobody has to
acknowledge, unshelving one that is not shelved).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from werk.errors import WerkError

State = Literal["normal", "unack", "acked", "rtn_unack", "latched", "shelved", "suppressed", "out_of_service"]
STATES: tuple[State, ...] = (
    "normal",
    "unack",
    "acked",
    "rtn_unack",
    "latched",
    "shelved",
    "suppressed",
    "out_of_service",
)
#: states shown in the operator's live list (those an operator has to see or act on)
LIVE_STATES: frozenset[str] = frozenset({"unack", "acked", "rtn_unack", "latched"})
#: states in which an acknowledge (or a latched alarm's reset) is expected
ACKABLE: frozenset[str] = frozenset({"unack", "rtn_unack", "latched"})

Action = Literal[
    "activate",
    "clear",
    "acknowledge",
    "shelve",
    "unshelve",
    "shelve_expired",
    "suppress",
    "unsuppress",
    "remove_from_service",
    "return_to_service",
]


class TransitionError(WerkError, ValueError):
    """An operator action the alarm's state does not allow; the message says the state and what is allowed."""


@dataclass(frozen=True, slots=True)
class Transition:
    """One row of the alarm journal: what happened to an alarm, when, by whom, and the state before and after.

    ``annunciated`` marks an activation the operator was shown (not one under shelving, suppression or out of
    service): what alarm rates count."""

    alarm: str
    ts: datetime
    action: Action
    before: State
    after: State
    who: str = ""
    why: str = ""
    value: object = None
    annunciated: bool = False
    until: datetime | None = None  # a timed shelve's end (shelve rows only)


@dataclass(frozen=True, slots=True)
class Latest:
    """What the journal says of an alarm: its last row (when, the state it entered, the value), whether its
    process condition was last seen active, when it last activated and when the operator was last shown it."""

    ts: datetime
    state: str
    value: object
    activated: datetime | None
    active: bool = False
    raised: datetime | None = None


@dataclass(frozen=True, slots=True)
class Shelve:
    """Who shelved an alarm, why, when, and until when (None: one-shot, until its condition clears)."""

    who: str
    why: str
    since: datetime
    until: datetime | None = None


@dataclass(slots=True)
class AlarmState:
    """The state of one alarm; ``latching`` from its definition."""

    alarm: str
    latching: bool = False
    active: bool = False
    acked: bool = True
    held: bool = False  # a latching alarm that activated and was not reset yet
    shelve: Shelve | None = None
    suppressed: bool = False
    out_of_service: bool = False
    oos_who: str = ""
    oos_why: str = ""
    since: datetime | None = None  # when the state last changed
    active_since: datetime | None = None
    raised: datetime | None = (
        None  # when the operator was last shown it (kept after it clears, for escalation)
    )
    value: object = None  # the value that last raised or cleared it

    @property
    def state(self) -> State:
        if self.out_of_service:
            return "out_of_service"
        if self.suppressed:
            return "suppressed"
        if self.shelve is not None:
            return "shelved"
        if self.active:
            return "acked" if self.acked else "unack"
        if self.held:
            return "latched"
        return "normal" if self.acked else "rtn_unack"

    def _row(
        self,
        ts: datetime,
        action: Action,
        before: State,
        who: str = "",
        why: str = "",
        *,
        annunciated: bool = False,
    ) -> list[Transition]:
        after = self.state
        if after != before:
            self.since = ts
        return [Transition(self.alarm, ts, action, before, after, who, why, self.value, annunciated)]

    def _hidden(self) -> bool:
        return self.out_of_service or self.suppressed or self.shelve is not None

    # -- the process ---------------------------------------------------------------------------------------------
    def condition(self, ts: datetime, active: bool, value: object = None) -> list[Transition]:
        """The filtered condition became ``active`` or cleared at ``ts`` (``value`` the value that did it)."""
        rows = self.expire(ts)
        if active == self.active:
            return rows
        before = self.state
        self.active = active
        self.value = value
        if active:
            self.active_since = ts
            if not self._hidden():
                self.acked = False
                self.raised = ts
                if self.latching:
                    self.held = True
            return rows + self._row(ts, "activate", before, annunciated=not self._hidden())
        self.active_since = None
        if (
            self.shelve is not None
            and self.shelve.until is None
            and not (self.out_of_service or self.suppressed)
        ):
            # a one-shot shelve ends when the condition returns to normal
            self.shelve = None
            self.acked, self.held = True, False
        return rows + self._row(ts, "clear", before)

    # -- the operator --------------------------------------------------------------------------------------------
    def acknowledge(self, ts: datetime, who: str, why: str = "") -> list[Transition]:
        """An operator acknowledges (and, for a latched alarm, resets) it."""
        rows = self.expire(ts)
        before = self.state
        if before not in ACKABLE:
            raise TransitionError(
                f"alarm {self.alarm!r} is {before}: only an unacknowledged or latched alarm can be acknowledged"
            )
        self.acked = True
        if not self.active:
            self.held = False
        return rows + self._row(ts, "acknowledge", before, who, why)

    def shelve_it(self, ts: datetime, who: str, why: str, until: datetime | None = None) -> list[Transition]:
        """Shelve it until ``until`` (timed) or, with None, until its condition next clears (one-shot)."""
        rows = self.expire(ts)
        before = self.state
        if before in ("out_of_service", "shelved"):
            raise TransitionError(f"alarm {self.alarm!r} is {before} and cannot be shelved")
        if not why.strip():
            raise TransitionError("shelving an alarm needs a reason (ISA-18.2 shelving is recorded with why)")
        if until is not None and until <= ts:
            raise TransitionError(f"a shelve must end in the future, not at {until.isoformat()}")
        if until is None and not self.active:
            raise TransitionError(
                f"alarm {self.alarm!r} is not active: a one-shot shelve lasts until the condition clears, "
                "so it needs an active alarm (give until for a timed shelve)"
            )
        self.shelve = Shelve(who, why, ts, until)
        (row,) = self._row(ts, "shelve", before, who, why)
        return [*rows, dataclasses.replace(row, until=until)]

    def unshelve(self, ts: datetime, who: str, why: str = "") -> list[Transition]:
        rows = self.expire(ts)
        if self.shelve is None:
            raise TransitionError(f"alarm {self.alarm!r} is not shelved")
        before = self.state
        self._back(ts)
        self.shelve = None
        return rows + self._row(ts, "unshelve", before, who, why, annunciated=self._annunciates(before))

    def expire(self, ts: datetime) -> list[Transition]:
        """End a timed shelve whose time is up (call it on a clock tick too)."""
        s = self.shelve
        if s is None or s.until is None or ts < s.until:
            return []
        before = self.state
        self._back(s.until)
        self.shelve = None
        return self._row(s.until, "shelve_expired", before, s.who, annunciated=self._annunciates(before))

    # -- design and maintenance ----------------------------------------------------------------------------------
    def suppress(self, ts: datetime, on: bool, why: str = "") -> list[Transition]:
        """Suppressed by design (``on``) or not any more; ``why`` is the machine state that decides it."""
        rows = self.expire(ts)
        if on == self.suppressed:
            return rows
        before = self.state
        if not on:
            self._back(ts)
        self.suppressed = on
        action: Action = "suppress" if on else "unsuppress"
        return rows + self._row(ts, action, before, "", why, annunciated=self._annunciates(before))

    def remove_from_service(self, ts: datetime, who: str, why: str) -> list[Transition]:
        rows = self.expire(ts)
        if self.out_of_service:
            raise TransitionError(f"alarm {self.alarm!r} is out of service already")
        if not why.strip():
            raise TransitionError("removing an alarm from service needs a reason")
        before = self.state
        self.out_of_service, self.oos_who, self.oos_why = True, who, why
        return rows + self._row(ts, "remove_from_service", before, who, why)

    def return_to_service(self, ts: datetime, who: str, why: str = "") -> list[Transition]:
        rows = self.expire(ts)
        if not self.out_of_service:
            raise TransitionError(f"alarm {self.alarm!r} is in service")
        before = self.state
        self._back(ts)
        self.out_of_service, self.oos_who, self.oos_why = False, "", ""
        return rows + self._row(
            ts, "return_to_service", before, who, why, annunciated=self._annunciates(before)
        )

    @classmethod
    def resumed(
        cls,
        alarm: str,
        latching: bool,
        last: Latest | None,
        shelve: Shelve | None,
        out_of_service: tuple[str, str] | None,
    ) -> AlarmState:
        """The state the journal last left an alarm in (at a restart, or where another instance takes it over):
        an active alarm stays active, acknowledged or not, so its condition still holding raises nothing again
        and nobody is told twice; people's decisions (shelves, out of service) hold. Hidden states keep only
        whether the condition was active: coming back decides the rest, as it does without a restart."""
        s = cls(alarm, latching=latching)
        s.shelve = shelve
        if out_of_service is not None:
            s.out_of_service, (s.oos_who, s.oos_why) = True, out_of_service
        if last is None:
            return s
        after = last.state
        s.active = last.active
        s.suppressed = after == "suppressed"
        s.acked = after not in ("unack", "rtn_unack", "latched")
        s.held = latching and after in ("unack", "acked", "latched")
        s.since, s.value, s.raised = last.ts, last.value, last.raised
        s.active_since = last.activated if s.active else None
        return s

    def _back(self, ts: datetime) -> None:
        """Coming back from a hidden state: active means the operator must see it again."""
        self.acked = not self.active
        self.held = self.active and self.latching
        if self.active:
            self.raised = ts

    def _annunciates(self, before: State) -> bool:
        return before != self.state and self.state == "unack"
