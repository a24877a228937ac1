"""The maintenance app's request and response bodies: its part of the OpenAPI contract."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from werk.core.period import Timestamp

WorkOrderStatus = Literal["open", "planned", "in_progress", "done"]


HealthState = Literal["learning", "ok", "watch", "warning", "alarm"]


class BaselineOut(BaseModel):
    cycles: int = Field(description="healthy cycles in the baseline so far")
    needed: int = Field(description="cycles the baseline needs before the asset is scored")
    ready: bool
    remaining_cycles: int = Field(0, description="cycles still to learn")
    remaining_s: float | None = Field(
        None, description="estimated seconds until the baseline is complete, at the cycle rate seen so far"
    )


class CalibrationOut(BaseModel):
    threshold: float
    clear_level: float = Field(description="a raised warning clears after clear_cycles below this score")
    holdout_mean: float = Field(description="mean score of the held-out third of the baseline")
    holdout_var: float
    holdout_cycles: int
    cycle_s: float = Field(
        description="mean seconds per cycle while the baseline was learned, stops included"
    )
    false_alarms_per_month: float = Field(description="the budget the threshold was set for")
    exceedance_per_cycle: float = Field(description="P(score > threshold) on a healthy asset, from the fit")
    floored: bool = Field(
        description="a short baseline's threshold was below the floor, which was taken instead"
    )


class HealthConfidence(BaseModel):
    baseline_cycles: int
    baseline_needed: int
    baseline_coverage: float = Field(description="share of the baseline learned, 0 to 1")
    rul_model: str = Field(description="valid, none, or why the model file was refused")
    rul_rmse_cycles: float | None = Field(description="the RUL model's error on held-out lives, cycles")


class ReasonPart(BaseModel):
    message: str = Field(description="the English message, with {name} fields; the key of its translations")
    args: dict[str, float | int | str | None] = Field(description="the values of its fields")
    text: str = Field("", description="the part in the reader's language (Accept-Language, ?lang=)")


class HealthReason(BaseModel):
    summary: str = Field(description="the reason in English, one line")
    text: str = Field("", description="the same in the reader's language (Accept-Language, ?lang=)")
    parts: list[ReasonPart] = Field(default_factory=list)
    signals: list[str] = Field(description="signals behind the state")
    models: list[str] = Field(description="models behind the state: anomaly, rul")
    confidence: HealthConfidence


class WarningsOut(BaseModel):
    anomaly: bool
    rul: bool


class AssetHealthOut(BaseModel):
    asset: str
    cycles_seen: int
    baseline: BaselineOut
    score: float | None = Field(description="anomaly score against the healthy baseline")
    threshold: float | None = Field(description="score above which werk warns")
    clear_level: float | None = Field(None, description="score below which a raised warning clears")
    calibration: CalibrationOut | None = None
    drivers: dict[str, float] = Field(description="signals driving the score, share of it")
    rul_cycles: float | None = Field(description="remaining useful life, machine cycles")
    life_cycles: int
    warned: bool = Field(description="a warning (anomaly or RUL) is raised now")
    warnings: WarningsOut
    state: HealthState = Field(description="RUL and anomaly combined")
    reason: HealthReason
    has_rul_model: bool
    model_error: str | None


class TrainingOut(BaseModel):
    state: str | None = None
    assets: list[str] = []
    done: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    error: str | None = None


class HealthOut(BaseModel):
    assets: dict[str, AssetHealthOut]
    training: TrainingOut


class PartUsed(BaseModel):
    part: str = Field(min_length=1, max_length=200)
    qty: float = Field(default=1, strict=True)  # a number: true is not 1 part


class WorkOrderOut(BaseModel):
    id: str
    asset: str
    title: str
    title_text: str = Field(
        "", description="the title in the reader's language (werk's own orders; a person's title as written)"
    )
    created: datetime
    created_by: str
    status: WorkOrderStatus
    source: str = Field(description="manual, anomaly or rul")
    trigger: dict[str, Any] = Field(description="what raised it: score, RUL, top signals")
    planned_for: datetime | None
    started: datetime | None
    done: datetime | None
    downtime_ids: list[str] = Field(description="the stops this work explains")
    parts: list[PartUsed]
    notes: str
    history: list[dict[str, Any]]
    last_seen: datetime | None = Field(None, description="the latest warning of this order's cause")
    count: int = Field(1, description="warnings of this cause while the order was open")
    cleared: datetime | None = Field(None, description="when the latest warning cleared; null while raised")


class WorkOrderIn(BaseModel):
    asset: str
    title: str = Field(min_length=3, max_length=200)
    notes: str = Field(default="", max_length=5000)
    planned_for: Timestamp | None = None


class WorkOrderChange(BaseModel):
    status: WorkOrderStatus | None = None
    notes: str | None = Field(default=None, max_length=5000)
    parts: list[PartUsed] | None = None
    downtime_ids: list[str] | None = None
    planned_for: Timestamp | None = None


class AssetKpisOut(BaseModel):
    failures: int
    mtbf_s: float | None
    mttr_s_from_stops: float | None
    work_orders_done: int
    mttr_s_from_work_orders: float | None


class KpisOut(BaseModel):
    start: datetime
    end: datetime
    assets: dict[str, AssetKpisOut]


class ReloadOut(BaseModel):
    loaded: list[str]
    errors: dict[str, str]
