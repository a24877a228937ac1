"""The maintenance app's request and response bodies: its part of the OpenAPI contract."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from werk.core.period import Timestamp

WorkOrderStatus = Literal["open", "planned", "in_progress", "done"]


class BaselineOut(BaseModel):
    cycles: int = Field(description="healthy cycles in the baseline so far")
    needed: int = Field(description="cycles the baseline needs before the asset is scored")
    ready: bool


class AssetHealthOut(BaseModel):
    asset: str
    cycles_seen: int
    baseline: BaselineOut
    score: float | None = Field(description="anomaly score against the healthy baseline")
    threshold: float | None = Field(description="score above which werk warns")
    drivers: dict[str, float] = Field(description="signals driving the score, share of it")
    rul_cycles: float | None = Field(description="remaining useful life, machine cycles")
    life_cycles: int
    warned: bool
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
