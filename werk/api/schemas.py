"""Response models of the REST API; they are the OpenAPI contract, so they stay explicit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from werk.connect.base import ConnectorStatus
from werk.core.model import Event, Sample
from werk.store.base import Bucket


class SignalOut(BaseModel):
    path: str
    ts: datetime
    value: float | int | bool | str
    quality: str

    @classmethod
    def of(cls, s: Sample) -> SignalOut:
        return cls(path=s.path, ts=s.ts, value=s.value, quality=s.quality.name.lower())


class PointOut(BaseModel):
    ts: datetime
    value: float | int | bool | str
    quality: str

    @classmethod
    def of(cls, s: Sample) -> PointOut:
        return cls(ts=s.ts, value=s.value, quality=s.quality.name.lower())


class BucketOut(BaseModel):
    start: datetime
    min: float
    avg: float
    max: float
    count: int

    @classmethod
    def of(cls, b: Bucket) -> BucketOut:
        return cls(start=b.start, min=b.min, avg=b.avg, max=b.max, count=b.count)


class SeriesOut(BaseModel):
    path: str
    start: datetime
    end: datetime
    bucket_s: float | None = None
    points: list[PointOut] = []
    buckets: list[BucketOut] = []


class AssetOut(BaseModel):
    name: str
    path: str
    aas_id: str
    kind: str
    description: str
    production: bool
    state: str
    since: datetime | None
    kpis: dict[str, Any]
    counts: dict[str, Any]
    signals: dict[str, SignalOut]
    apps: dict[str, dict[str, Any]] = {}
    """What each app knows of the asset (its ``asset_view``), by app name."""


class TileOut(BaseModel):
    """A figure an app shows on every asset card: ``key`` is a dotted path into ``AssetOut.apps[app]``."""

    app: str
    key: str
    label: str
    unit: str
    format: str


class NavOut(BaseModel):
    path: str
    title: str


class EventOut(BaseModel):
    kind: str
    source: str
    ts: datetime
    data: dict[str, Any]

    @classmethod
    def of(cls, e: Event) -> EventOut:
        return cls(kind=e.kind, source=e.source, ts=e.ts, data=e.data)


class ConnectorOut(BaseModel):
    name: str
    type: str
    endpoint: str
    connected: bool
    since: datetime | None
    last_sample: datetime | None
    samples: int
    errors: int
    dropped: int
    collisions: int
    """Samples that had the same timestamp as their signal's previous sample but another value: one replaced the
    other in the historian (a source stamping in whole milliseconds or seconds)."""
    spooled: int
    reconnects: int
    rate: float
    last_error: str
    bad_bindings: dict[str, str]

    @classmethod
    def of(cls, s: ConnectorStatus) -> ConnectorOut:
        return cls(**s.__dict__)


class HealthOut(BaseModel):
    status: str
    version: str
    samples_published: int
    samples_written: int
    write_errors: int
    connectors: list[ConnectorOut]
