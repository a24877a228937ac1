"""The OEE app's response bodies: its part of the OpenAPI contract (ISO 22400-2 names; ratios 0..1, times s)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, create_model

from werk.apps.bodies import body_of
from werk.apps.oee.kpi import Flag, KpiReport, Target, TimeModel

TimeModelOut: Any = body_of(
    TimeModel,
    "TimeModelOut",
    __name__,
    extra={
        "observed_s": (float, Field(description="planned busy time werk saw (PBT - unknown); the KPIs' base"))
    },
)
FlagOut: Any = body_of(
    Flag,
    "FlagOut",
    __name__,
    extra={
        "text": (
            str,
            Field(default="", description="the message in the reader's language (Accept-Language, ?lang=)"),
        )
    },
)
TargetOut: Any = body_of(Target, "TargetOut", __name__)
KpiOut: Any = body_of(KpiReport, "KpiOut", __name__)


class ShiftOut(BaseModel):
    name: str
    key: str = Field(description="the shift's period key in reports: <local date>/<name>")
    start: datetime
    end: datetime


class WindowOut(BaseModel):
    start: datetime
    end: datetime


LiveOut: Any = create_model(
    "LiveOut",
    __doc__="""KPIs of the current shift per asset, line and the plant: the shift report of that shift up to now, with
    coverage. Outside every shift ``in_shift`` is false, ``shift`` null and there are no KPIs; ``next_shift``
    says when planned time begins. Empty before the first computation.""",
    __module__=__name__,
    now=(datetime | None, None),
    in_shift=(bool, False),
    shift=(ShiftOut | None, Field(default=None, description="the shift going on now")),
    next_shift=(ShiftOut | None, None),
    previous_shift=(ShiftOut | None, None),
    window=(WindowOut | None, Field(default=None, description="the shift's start up to now")),
    assets=(dict[str, KpiOut], {}),
    lines=(dict[str, KpiOut], {}),
    plant=(KpiOut | None, None),
)
ReportRowOut: Any = create_model(
    "ReportRowOut", __base__=KpiOut, __module__=__name__, period=(str, ...), level=(str, ...)
)
ReportOut: Any = create_model(
    "ReportOut",
    __module__=__name__,
    start=(datetime, ...),
    end=(datetime, ...),
    period=(str, ...),
    periods=(list[str], ...),
    rows=(list[ReportRowOut], ...),
)


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
