"""werk's machine states: the vocabulary apps share through the Unified Namespace.

The machine-state app publishes each production asset's state as the signal ``<asset>/machine_state``; OEE,
maintenance, energy and alarms read that signal, never the app. States follow ISO 22400-2's time model:
``running`` is production time, ``setup``/``idle``/``starved``/``blocked`` are losses without a fault,
``planned_stop`` is planned down time, ``fault``/``maintenance`` are down time, and ``disconnected`` is time werk
did not see (it is never counted as anything the machine did).
"""

from __future__ import annotations

from typing import Literal

STATE_SIGNAL = "machine_state"

WerkState = Literal[
    "running", "idle", "setup", "blocked", "starved", "planned_stop", "fault", "maintenance", "disconnected"
]
WERK_STATES: frozenset[str] = frozenset(
    {"running", "idle", "setup", "blocked", "starved", "planned_stop", "fault", "maintenance", "disconnected"}
)

#: states in which an asset is stopped: a stop begins on entering one of them from any other state and ends on
#: leaving them (for ``running``, or ``disconnected``: werk cannot say what happened after). A stop's id is
#: ``<asset>@<microseconds since the epoch when it began>``, the same in every app.
STOP_STATES: frozenset[str] = frozenset(
    {"idle", "setup", "blocked", "starved", "fault", "maintenance", "planned_stop"}
)

#: how terminals colour each state (rich markup styles)
STATE_COLOURS: dict[str, str] = {
    "running": "green",
    "idle": "yellow",
    "setup": "cyan",
    "blocked": "magenta",
    "starved": "magenta",
    "fault": "bold red",
    "maintenance": "blue",
    "disconnected": "dim",
}
