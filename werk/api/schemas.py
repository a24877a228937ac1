"""Response models of the REST API; they are the OpenAPI contract, so they stay explicit."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field

from werk.core.model import Sample
from werk.core.signals import SignalKind
from werk.store.base import Bucket


class _Copied(BaseModel):
    """An answer that is a record of werk's own (a dataclass) as it is: each field its attribute of the same name."""

    model_config = ConfigDict(from_attributes=True)

    @classmethod
    def of(cls, record: object) -> Self:
        return cls.model_validate(record)


class ErrorOut(BaseModel):
    """An error werk answers itself: what went wrong and what to do."""

    detail: str


class SignalOut(BaseModel):
    path: str
    ts: datetime
    value: float | int | bool | str
    quality: str

    @classmethod
    def of(cls, s: Sample) -> SignalOut:
        return cls(path=s.path, ts=s.ts, value=s.value, quality=s.quality.name.lower())


class PointOut(BaseModel):
    """One sample. A chart breaks its line at a point of ``bad`` quality (a connector's placeholder while its
    source is away: the value is the last one known, not a measurement)."""

    ts: datetime
    value: float | int | bool | str
    quality: str = Field(description="good, uncertain or bad")

    @classmethod
    def of(cls, s: Sample) -> PointOut:
        return cls(ts=s.ts, value=s.value, quality=s.quality.name.lower())


class BucketOut(BaseModel):
    """min, mean and max of a bucket's good and uncertain samples; BAD ones are left out and counted in ``bad``
    (a bucket of BAD samples only has no min/avg/max: a chart breaks its line there)."""

    start: datetime
    min: float | None
    avg: float | None
    max: float | None
    count: int = Field(description="samples aggregated (good and uncertain)")
    bad: int = Field(description="BAD samples left out")

    @classmethod
    def of(cls, b: Bucket) -> BucketOut:
        return cls(start=b.start, min=b.min, avg=b.avg, max=b.max, count=b.count, bad=b.bad)


class SeriesOut(BaseModel):
    """One signal over a range, with what a chart needs to draw it honestly.

    ``kind`` says how to draw it: ``sampled`` values are joined by lines, broken where two points are more than
    ``gap_s`` apart and at BAD points; ``on_change`` values (states, counters, setpoints, text) hold until the next
    point, so they are drawn as steps, broken only at BAD points (``gap_s`` is null). Raw points are all the
    samples of the range, or, beyond ``limit``, a downsampled set (``downsampled``: each time bucket's lowest and
    highest value and first BAD sample, and always the first and the newest sample); ``total`` is how many
    samples the range holds."""

    path: str
    start: datetime
    end: datetime
    unit: str = Field(default="", description="the signal's unit (kW, °C, parts, ...); empty when unknown")
    kind: SignalKind = Field(default="sampled", description="sampled (lines) or on_change (steps)")
    gap_s: float | None = Field(
        default=None,
        description="a chart breaks a sampled signal's line where consecutive points are further apart than this "
        "(s): five times the signal's usual interval and three times the pauses of all but its longest 2 % (a source "
        "reporting by exception pauses while its value holds), at least 1.5 buckets (2.5 of the downsampling's "
        "buckets when ``downsampled``); null for on-change signals",
    )
    bucket_s: float | None = None
    total: int = Field(default=0, description="samples in the range")
    downsampled: bool = Field(default=False, description="points are a downsampled set, not every sample")
    skipped_bad: int = Field(default=0, description="BAD samples left out of the buckets' min/avg/max")
    points: list[PointOut] = []
    buckets: list[BucketOut] = []


class SeriesSetOut(BaseModel):
    """Several signals over one range, each with its unit and kind."""

    start: datetime
    end: datetime
    series: list[SeriesOut]


class SignalInfoOut(BaseModel):
    """A signal werk knows of: bound in the plant file, or stored in its historian (the ones apps derive, such
    as an asset's state or its KPIs, too)."""

    path: str
    asset: str | None = Field(
        description="the asset it belongs to; null for a signal outside the plant's assets"
    )
    name: str = Field(description="the signal's name, the path's last segment")
    unit: str
    kind: SignalKind
    dtype: str | None = Field(
        description="stored value type (float, int, bool, str); null before a first value"
    )
    bound: bool = Field(description="bound to a source in the plant file")
    stored: bool = Field(description="the historian holds values of it")


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


class MeOut(BaseModel):
    """The user a bearer token belongs to."""

    name: str
    role: str


class NavOut(BaseModel):
    path: str
    title: str


class EventOut(_Copied):
    kind: str
    source: str
    ts: datetime
    data: dict[str, Any]


class ConnectorOut(_Copied):
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


class HealthOut(BaseModel):
    """``status`` for anyone; the rest (null or empty) only for a caller who may read (``GET /api/health``)."""

    status: str
    version: str | None = None
    samples_published: int | None = None
    samples_written: int | None = None
    write_errors: int | None = None
    samples_rejected: int | None = Field(
        default=None,
        description="samples and events the historian can never store (an integer beyond 64 bits, text with a "
        "lone surrogate): dropped alone, the rest of their batch written (werk.runtime.historian_writer)",
    )
    last_rejected: str = Field(default="", description="the last of them: its signal and why")
    live_samples: int | None = Field(
        default=None,
        description="a werk api replica: samples it took from the cluster's log for its live values "
        "(werk.runtime.live_feed); absent where the process reads the machines itself",
    )
    live_dropped: int | None = Field(
        default=None,
        description="... and how often it fell behind the log and skipped batches (live values only; the workers "
        "store every batch)",
    )
    connectors: list[ConnectorOut] = Field(default_factory=list)
    apps: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="what each app reports about the data it was given (App.diagnostics), by app name: values it "
        "could not use, per asset, with the value as sent and how often (`unmapped` state values, say)",
    )
