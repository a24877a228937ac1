"""The alarm API's bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from werk.apps.alarms.kpi import Contributor, DeadbandSuggestion, Figure, KpiReport, Span, Suggestion
from werk.apps.bodies import body_of
from werk.core.period import Timestamp


class AlarmOut(BaseModel):
    id: str = Field(description="<asset>:<alarm name>")
    name: str
    asset: str
    area: str
    signal: str
    type: str = Field(
        description="high, high_high, low, low_low, deviation, rate, discrete, stale, bad_quality"
    )
    priority: str = Field(description="high, medium or low")
    state: str = Field(
        description="ISA-18.2 state: normal, unack, acked, rtn_unack, latched, shelved, suppressed, out_of_service"
    )
    active: bool = Field(description="the process condition holds (after deadband and delays)")
    acknowledged: bool
    since: datetime | None = Field(description="when the state last changed")
    active_since: datetime | None
    value: float | int | str | bool | None = Field(description="the value that last raised or cleared it")
    unit: str = Field(
        default="", description="the watched signal's unit, where werk knows it (°C, bar); empty else"
    )
    limit: float | None
    message: str
    consequence: str
    response: str
    shelved_by: str | None
    shelved_why: str | None
    shelved_until: datetime | None = Field(description="null while shelved: a one-shot shelve")
    out_of_service_by: str | None
    out_of_service_why: str | None
    suppressed_by: str | None = Field(
        default=None, description="the machine state that suppresses it by design"
    )


class AlarmListOut(BaseModel):
    alarms: list[AlarmOut]
    counts: dict[str, int] = Field(description="alarms per state, over all alarms")


class AckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a key werk does not know is refused, not ignored

    comment: str = Field(default="", max_length=500)


class ShelveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a key werk does not know is refused, not ignored

    why: str = Field(min_length=1, max_length=500, description="why it is shelved (kept in the journal)")
    until: Timestamp | None = Field(default=None, description="when the shelve ends")
    duration_s: float | None = Field(
        default=None, gt=0, le=366 * 86400, description="or: for how long, in seconds (a year at most)"
    )
    one_shot: bool = Field(default=False, description="until the alarm's condition next clears")


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a key werk does not know is refused, not ignored

    why: str = Field(default="", max_length=500)


class JournalOut(BaseModel):
    alarm: str
    ts: datetime
    action: str
    before: str
    after: str
    who: str
    why: str
    value: Any = None
    annunciated: bool
    priority: str
    area: str


FigureOut: Any = body_of(Figure, "FigureOut", __name__)
ContributorOut: Any = body_of(Contributor, "ContributorOut", __name__)
SuggestionOut: Any = body_of(Suggestion, "SuggestionOut", __name__)
DeadbandOut: Any = body_of(DeadbandSuggestion, "DeadbandOut", __name__)
SpanOut: Any = body_of(Span, "SpanOut", __name__)
KpiOut: Any = body_of(KpiReport, "KpiOut", __name__, exclude=["tags"])


class DeliveryOut(BaseModel):
    ts: datetime = Field(description="when it was sent or given up")
    alarm: str
    activation: datetime = Field(description="when the alarm was raised")
    rule: str
    level: int = Field(description="0: the rule's own targets; 1, 2, ...: its escalations")
    channel: str = Field(description="email or webhook")
    target: str
    status: str = Field(description="sent or failed")
    attempts: int
    error: str
