"""Maintenance work orders: what they hold and the moves their status allows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from werk.i18n import N_

WORK_ORDER_STATES = ("open", "planned", "in_progress", "done")
# allowed moves; "done" is final (a new finding gets a new order)
TRANSITIONS = {
    "open": {"planned", "in_progress", "done"},
    "planned": {"open", "in_progress", "done"},
    "in_progress": {"planned", "done"},
    "done": set(),
}


#: the title of an order werk opens for a warning, by its cause: a message the pages translate, ``{asset}`` filled
TITLES = {
    "rul": N_("Inspect {asset}: remaining useful life low"),
    "anomaly": N_("Inspect {asset}: abnormal behaviour"),
}


def title_of(wo: WorkOrder, translate: Any = None) -> str:
    """The order's title; werk's own (a warning's) in the language of ``translate`` (a
    :class:`werk.i18n.Translator`), a person's as they wrote it."""
    msgid = TITLES.get(wo.source) if wo.created_by == "werk" else None
    if msgid is None:
        return wo.title
    return translate(msgid, asset=wo.asset) if translate is not None else msgid.format(asset=wo.asset)


@dataclass
class WorkOrder:
    id: str
    asset: str
    title: str
    created: datetime
    created_by: str  # a user name, or "werk" for orders raised by a warning
    status: str = "open"
    source: str = "manual"  # "manual" | "anomaly" | "rul"
    trigger: dict[str, Any] = field(default_factory=dict)  # what raised it: score, RUL, top signals
    planned_for: datetime | None = None
    started: datetime | None = None
    done: datetime | None = None
    downtime_ids: list[str] = field(default_factory=list)  # the stops this work explains
    parts: list[dict[str, Any]] = field(default_factory=list)  # [{"part": "spindle bearing", "qty": 2}]
    notes: str = ""
    # [{"ts", "who", "from", "to"}] for moves; [{"ts", "who": "werk", "event", "trigger"}] for warnings
    history: list[dict[str, Any]] = field(default_factory=list)
    last_seen: datetime | None = None  # the latest warning for this order's cause (its first is ``created``)
    count: int = 1  # warnings for this cause while the order was open
    cleared: datetime | None = None  # when the latest warning cleared by itself; None while it is raised
    # the keys of the latest warnings it took (their events' keys), so one handled again changes nothing
    warnings: list[str] = field(default_factory=list)


#: how many warning keys an order keeps: enough for any batch handled again, bounded for a chattering cause
KEPT_WARNINGS = 64


def took(wo: WorkOrder, key: str | None) -> bool:
    """Whether ``wo`` took the warning of ``key`` already; if not, it is noted as taken. A warning without a key
    (no cycle time) is always new."""
    if key is None:
        return False
    if key in wo.warnings:
        return True
    wo.warnings = [*wo.warnings[-(KEPT_WARNINGS - 1) :], key]
    return False
