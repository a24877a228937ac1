"""The alarm API's bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

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


class FigureOut(BaseModel):
    key: str
    value: float | None
    target: str
    grade: str = Field(
        description="met, manageable, not met, no data, too few (too few activations to grade a share)"
    )


class ContributorOut(BaseModel):
    tag: str
    count: int
    share: float
    message: str = ""


class SuggestionOut(BaseModel):
    tag: str
    activations: int
    off_delay_s: float
    kept_with_off_delay: int
    on_delay_s: float
    kept_with_on_delay: int


class DeadbandOut(BaseModel):
    tag: str
    deadband: float = Field(description="in the signal's unit")
    activations: int = Field(description="activations replayed on the signal's samples as configured now")
    kept: int = Field(description="activations replayed with the suggested deadband")


class KpiOut(BaseModel):
    start: datetime
    end: datetime
    hours: float
    positions: int
    activations: int
    per_hour: float = Field(description="alarms per operator position per hour")
    per_10min: float = Field(description="alarms per operator position per 10 minutes")
    peak_10min: int
    periods: int = Field(description="10-minute periods in the range")
    flood_periods: int
    flood_share: float
    top10: list[ContributorOut]
    top10_share: float
    chattering: list[ContributorOut]
    stale: list[str]
    standing: int
    priority: dict[str, int]
    counts: dict[str, int]
    figures: list[FigureOut]
    suggestions: list[SuggestionOut] = Field(description="delays that would have removed chattering repeats")
    deadbands: list[DeadbandOut] = Field(
        default_factory=list,
        description="for chattering limit alarms of the journal: the deadband that would have removed the repeats, "
        "replayed on the signal's history",
    )
    by_position: dict[str, int]


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
