"""The energy app's request and response bodies: its part of the OpenAPI contract (energy in the meter's unit,
kWh for electricity; power kW; cost in the tariff's currency; CO2e in kg; times ISO 8601)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from werk.core.period import Timestamp


class RowOut(BaseModel):
    """One scope (asset, line, area, site) over one period."""

    period: str = Field(
        description="the period's local name: 2026-03, 2026-W13, 2026-03-29, 2026-03-29T06:00+02:00"
    )
    start: datetime
    end: datetime
    level: Literal["asset", "line", "area", "site"]
    scope: str = Field(description="asset name, or the UNS path of the line, area or site")
    meter: str | None = Field(description="the asset whose meter this is (asset rows)")
    energy: float = Field(description="energy booked, in unit")
    unit: str
    cost: float = Field(description="energy cost by time-of-use band, in the tariff's currency")
    co2_kg: float = Field(description="kg CO2e from the carrier's emission factor of the period")
    peak_kw: float | None = Field(description="highest 15-minute mean power (site: of all meters together)")
    peak_at: datetime | None = Field(description="when that quarter hour began")
    coverage: float = Field(
        description="share 0..1 of the period the readings cover (held-back spans excluded)"
    )
    parts: int | None = Field(default=None, description="good parts counted in the period")
    kwh_per_part: float | None = Field(default=None, description="EnPI: energy per good part")
    cost_per_part: float | None = None
    co2_kg_per_part: float | None = None
    target_kwh_per_part: float | None = None
    states: dict[str, float] | None = Field(default=None, description="energy per machine state")
    state_seconds: dict[str, float] | None = Field(default=None, description="seconds in each machine state")


class PeakOut(BaseModel):
    period: str
    peak_kw: float = Field(description="the site's highest 15-minute mean power in the period")
    peak_at: datetime | None


class AnomalyOut(BaseModel):
    """Something a meter reported that was held back, not booked: a person should look at it."""

    asset: str
    kind: str = Field(description="glitch, jump, drop, pending (unconfirmed at the end) or unmeasured")
    start: datetime
    end: datetime
    value: float | None = Field(description="the reading concerned")
    amount: float | None = Field(description="the step held back, in the meter's unit")


class ReportOut(BaseModel):
    start: datetime
    end: datetime
    period: str
    timezone: str
    rows: list[RowOut]
    peaks: list[PeakOut]
    peak_limit_kw: float | None
    currency: str | None = Field(
        default=None, description="ISO 4217 code of the costs; null: no tariff, or tariffs in several"
    )
    anomalies: list[AnomalyOut]


class WindowOut(BaseModel):
    """The current quarter hour of the site's electricity meters."""

    start: datetime | None = None
    elapsed_s: float | None = None
    energy_kwh: float | None = None
    power_kw: float | None = Field(default=None, description="the power signals' latest values together")
    rate_kw: float | None = Field(
        default=None, description="the rate the counters counted over the last minute"
    )
    projected_kw: float | None = Field(
        default=None, description="mean power at the window's end if power holds"
    )
    peak_limit_kw: float | None = None
    warning: bool = False
    acceleration: float | None = Field(
        default=None,
        description="the simulator's acceleration when simulated meters count faster than the clock (else null)",
    )


class TodayAssetOut(BaseModel):
    energy: float
    unit: str
    cost: float
    co2_kg: float
    parts: int | None
    kwh_per_part: float | None
    target_kwh_per_part: float | None
    co2_kg_per_part: float | None
    idle_kwh: float
    coverage: float


class TodayOut(BaseModel):
    start: datetime | None = None
    end: datetime | None = None
    assets: dict[str, TodayAssetOut] = Field(default_factory=dict)


class LiveOut(BaseModel):
    window: WindowOut
    today: TodayOut


class LoadOut(BaseModel):
    """The site's mean power per step and each asset's, in kW, with the peak limit."""

    starts: list[datetime]
    total_kw: list[float | None] = Field(description="null: no meter has readings in that quarter hour")
    assets: dict[str, list[float | None]]
    peak_limit_kw: float | None
    step_s: int = Field(description="the width of each mean, in seconds")


class IdleOut(BaseModel):
    """Energy an asset drew while it made nothing (idle, starved, blocked), and what it cost."""

    asset: str
    idle_kwh: float
    idle_cost: float = Field(description="at the period's mean price of the asset's energy")
    energy: float
    idle_share: float | None
    currency: str | None = Field(default=None, description="ISO 4217 code of idle_cost")


class MeterEventIn(BaseModel):
    """A reset or exchange of an asset's meter."""

    model_config = ConfigDict(extra="forbid")  # a key werk does not know is refused, not ignored

    ts: Timestamp = Field(description="when the old counter stopped and the new one started")
    kind: Literal["reset", "exchange"] = "exchange"
    old_final: float | None = Field(default=None, description="the old counter's last reading; null: unknown")
    new_start: float = Field(default=0.0, description="the new counter's first reading")
    comment: str = Field(default="", max_length=500)


class MeterEventOut(BaseModel):
    asset: str
    ts: datetime
    kind: str
    old_final: float | None
    new_start: float
    who: str
    recorded: datetime
    comment: str


class BaselineIn(BaseModel):
    """An ISO 50006 baseline of an asset's (or the site's) daily energy against drivers, and savings since."""

    model_config = ConfigDict(extra="forbid")  # a key werk does not know is refused, not ignored

    asset: str | None = Field(default=None, description="an asset's name; null: every electricity meter")
    baseline_start: Timestamp
    baseline_end: Timestamp
    report_start: Timestamp | None = None
    report_end: Timestamp | None = None
    period: Literal["hour", "shift", "day", "week"] = "day"
    drivers: list[Literal["parts", "running_hours"]] = Field(
        default=["parts"], min_length=1, description="good parts, and hours in the running state"
    )


class BaselineModelOut(BaseModel):
    drivers: list[str]
    intercept: float
    coefficients: dict[str, float]
    n: int
    r2: float
    p_value: float
    cv_rmse: float | None
    ranges: dict[str, list[float]]
    valid: bool
    reasons: list[str]


class SavingsOut(BaseModel):
    expected: float
    actual: float
    savings: float
    uncertainty: float | None = Field(description="half-width of the interval at confidence")
    confidence: float
    valid: bool
    reasons: list[str]


class BaselineOut(BaseModel):
    baseline: BaselineModelOut
    savings: SavingsOut | None
