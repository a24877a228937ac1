"""The OEE app's response bodies: its part of the OpenAPI contract (ISO 22400-2 names; ratios 0..1, times s)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class TimeModelOut(BaseModel):
    """ISO 22400-2 time model of a scope over a period, in seconds."""

    pot_s: float = Field(description="planned operation time")
    pdot_s: float = Field(description="planned down time")
    pbt_s: float = Field(description="planned busy time (POT - PDOT)")
    apt_s: float = Field(description="actual production time (running)")
    aust_s: float = Field(description="actual unit setup time")
    adet_s: float = Field(description="actual unit delay time (idle, starved, blocked)")
    adot_s: float = Field(description="actual unit down time (fault, maintenance)")
    unknown_s: float = Field(
        description="planned busy time werk did not see (disconnected, unmapped state values, no data)"
    )
    observed_s: float = Field(description="planned busy time werk saw (PBT - unknown); the KPIs' base")
    outside_s: float = Field(description="production outside planned operation time")
    calendar_s: float = Field(description="length of the period")


class FlagOut(BaseModel):
    """A figure that cannot be right as computed (a ratio above 1, parts without running time)."""

    kpi: str = Field(description="the KPI concerned")
    value: float = Field(
        description="its value as computed (or the parts counted, for parts without running)"
    )
    cause: str = Field(description="likely cause: ideal_cycle_time, counter or state_mapping")
    message: str = Field(description="what is wrong and the likely cause, in English")
    msgid: str = Field(default="", description="the message's id in werk's catalogs, its fields in args")
    args: dict[str, Any] = Field(default_factory=dict, description="the message's values")
    text: str = Field(
        default="", description="the message in the reader's language (Accept-Language, ?lang=)"
    )


class TargetOut(BaseModel):
    target: float = Field(description="the plant file's target (apps.oee.targets)")
    actual: float | None = Field(description="the KPI's value over the period; null when not defined")
    met: bool | None = Field(
        description="ratios met at or above the target, mttr_s and scrap_ratio at or below; null without an actual"
    )


class KpiOut(BaseModel):
    """ISO 22400-2 KPIs of a scope over a period, computed over the time werk observed (``time.observed_s``);
    ``coverage`` says how much of the planned busy time that was. Ratios 0..1, times in seconds."""

    scope: str = Field(description="asset name, line path or 'plant'")
    start: datetime
    end: datetime
    time: TimeModelOut
    pq: int = Field(description="produced quantity")
    gq: int = Field(description="good quantity")
    sq: int = Field(description="scrap quantity")
    failures: int
    pri_s: float | None = Field(description="planned run time per item (ideal cycle), s")
    ideal_s: float | None
    availability: float | None
    effectiveness: float | None
    quality_ratio: float | None
    oee: float | None
    teep: float | None
    scrap_ratio: float | None
    mtbf_s: float | None
    mttr_s: float | None
    coverage: float | None = Field(
        description="share of the planned busy time werk saw (observed_s / pbt_s), 0..1; null without planned "
        "busy time"
    )
    low_coverage: bool = Field(description="coverage below apps.oee.min_coverage: read the KPIs with care")
    flags: list[FlagOut] = Field(description="implausible figures, with their likely cause")
    targets: dict[str, TargetOut] = Field(
        description="targets of this scope against the actual values, by KPI"
    )


class ShiftOut(BaseModel):
    name: str
    key: str = Field(description="the shift's period key in reports: <local date>/<name>")
    start: datetime
    end: datetime


class WindowOut(BaseModel):
    start: datetime
    end: datetime


class LiveOut(BaseModel):
    """KPIs of the current shift per asset, line and the plant: the shift report of that shift up to now, with
    coverage. Outside every shift ``in_shift`` is false, ``shift`` null and there are no KPIs; ``next_shift``
    says when planned time begins. Empty before the first computation."""

    now: datetime | None = None
    in_shift: bool = False
    shift: ShiftOut | None = Field(default=None, description="the shift going on now")
    next_shift: ShiftOut | None = None
    previous_shift: ShiftOut | None = None
    window: WindowOut | None = Field(default=None, description="the shift's start up to now")
    assets: dict[str, KpiOut] = {}
    lines: dict[str, KpiOut] = {}
    plant: KpiOut | None = None


class ReportRowOut(KpiOut):
    period: str
    level: str


class ReportOut(BaseModel):
    start: datetime
    end: datetime
    period: str
    periods: list[str]
    rows: list[ReportRowOut]


class ClassificationOut(BaseModel):
    ts: datetime
    who: str
    reason: str
    previous: str | None
    comment: str


class StopOut(BaseModel):
    id: str
    asset: str
    start: datetime
    end: datetime | None
    duration_s: float
    first_state: str
    states: list[str]
    reason: str | None
    reason_label: str | None
    reason_source: str
    planned: bool
    micro: bool
    status: str = Field(
        description="open (going on, no reason yet, younger than unqualified_after_s), unqualified (no reason, "
        "and ended or older than that) or classified"
    )
    history: list[ClassificationOut]


class ParetoOut(BaseModel):
    reason: str
    label: str
    count: int
    duration_s: float


class ReasonOut(BaseModel):
    label: str
    planned: bool
    children: dict[str, ReasonOut]


class IntervalOut(BaseModel):
    start: datetime
    end: datetime
    state: str


class TimelineOut(BaseModel):
    start: datetime
    end: datetime
    assets: dict[str, list[IntervalOut]]


class ClassifyIn(BaseModel):
    reason: str = Field(description="a reason code of the plant file's reason tree")
    comment: str = Field(default="", max_length=500)
