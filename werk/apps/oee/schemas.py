"""The OEE app's response bodies: its part of the OpenAPI contract (ISO 22400-2 names; ratios 0..1, times s)."""

from __future__ import annotations

from datetime import datetime

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
    unknown_s: float = Field(description="planned busy time werk did not see (disconnected, no data)")
    outside_s: float = Field(description="production outside planned operation time")
    calendar_s: float = Field(description="length of the period")


class KpiOut(BaseModel):
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


class ShiftOut(BaseModel):
    name: str
    start: datetime
    end: datetime


class WindowOut(BaseModel):
    start: datetime
    end: datetime


class LiveOut(BaseModel):
    """KPIs of the current shift per asset, line and the plant; empty before the first computation."""

    shift: ShiftOut | None = None
    window: WindowOut | None = None
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
    status: str = Field(description="open, unqualified or classified")
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
