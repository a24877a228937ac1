"""The OEE app's settings: ``apps.oee`` (micro-stops, when a stop is unqualified, coverage, targets, the downtime
reason tree)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from werk.config.model import AppSettings, StrictModel, WerkConfig
from werk.i18n import N_


class ReasonConfig(StrictModel):
    """A downtime reason; ``planned`` ones count as planned down time (PDOT), not against availability."""

    label: str = ""
    planned: bool = False
    children: dict[str, ReasonConfig] = Field(default_factory=dict)


def _reasons(labels: dict[str, str], *, planned: bool = False) -> dict[str, ReasonConfig]:
    """Reasons without children, by key, from their labels."""
    return {key: ReasonConfig(label=label, planned=planned) for key, label in labels.items()}


DEFAULT_REASONS: dict[str, ReasonConfig] = {
    "mechanical": ReasonConfig(
        label=N_("Mechanical failure"),
        children=_reasons(
            {"spindle": N_("Spindle"), "tooling": N_("Tool breakage"), "hydraulics": N_("Hydraulics")}
        ),
    ),
    **_reasons(
        {
            "electrical": N_("Electrical / control failure"),
            "material": N_("Material problem"),
            "quality": N_("Quality check / adjustment"),
            "operator": N_("No operator"),
            "changeover": N_("Changeover / setup"),
            "starved": N_("Starved (no material from upstream)"),
            "blocked": N_("Blocked (downstream full)"),
            "maintenance": N_("Maintenance"),
            "micro-stop": N_("Micro-stop"),
        }
    ),
    **_reasons(
        {
            "planned-stop": N_("Planned stop"),
            "no-orders": N_("No orders"),
            "planned-maintenance": N_("Planned maintenance"),
        },
        planned=True,
    ),
}


class KpiTargets(StrictModel):
    """Targets of one scope: ratios 0..1 (met at or above), MTBF and MTTR in seconds (MTTR and the scrap ratio
    are met at or below). A KPI without a target is not compared."""

    oee: float | None = Field(default=None, ge=0, le=1)
    availability: float | None = Field(default=None, ge=0, le=1)
    effectiveness: float | None = Field(default=None, ge=0, le=1)
    quality_ratio: float | None = Field(default=None, ge=0, le=1)
    teep: float | None = Field(default=None, ge=0, le=1)
    scrap_ratio: float | None = Field(default=None, ge=0, le=1)
    mtbf_s: float | None = Field(default=None, gt=0)
    mttr_s: float | None = Field(default=None, gt=0)

    def set(self) -> dict[str, float]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


class TargetSettings(StrictModel):
    """``apps.oee.targets``: the plant's default, per line (its name or its UNS path) and per asset. An asset
    takes its own targets over its line's over the default, KPI by KPI; a line its own over the default; the
    plant the default."""

    default: KpiTargets = Field(default_factory=KpiTargets)
    lines: dict[str, KpiTargets] = Field(default_factory=dict)
    assets: dict[str, KpiTargets] = Field(default_factory=dict)

    def for_line(self, line_path: str) -> dict[str, float]:
        own = self.lines.get(line_path) or self.lines.get(line_path.rpartition("/")[2])
        return {**self.default.set(), **(own.set() if own else {})}

    def for_asset(self, name: str, line_path: str) -> dict[str, float]:
        own = self.assets.get(name)
        return {**self.for_line(line_path), **(own.set() if own else {})}


class OeeSettings(AppSettings):
    """Downtime and OEE: micro-stop threshold, when a stop without a reason is "unqualified", the coverage below
    which a report is marked (0..1 of the planned busy time werk saw), KPI targets, the reason tree."""

    micro_stop_s: float = Field(default=120.0, ge=0)
    unqualified_after_s: float = Field(default=300.0, ge=0)
    kpi_interval_s: float = Field(default=2.0, gt=0)
    min_coverage: float = Field(default=0.8, ge=0, le=1)
    targets: TargetSettings = Field(default_factory=TargetSettings)
    reasons: dict[str, ReasonConfig] = Field(default_factory=lambda: dict(DEFAULT_REASONS))

    def reason_index(self) -> dict[str, ReasonConfig]:
        """Every reason code in the tree (codes are unique across levels)."""
        out: dict[str, ReasonConfig] = {}
        stack = list(self.reasons.items())
        while stack:
            code, r = stack.pop()
            out[code] = r
            stack.extend(r.children.items())
        return out


def check(config: WerkConfig, settings: Any) -> list[tuple[tuple[str | int, ...], str]]:
    """Targets that name an asset or a line the plant does not have."""
    assert isinstance(settings, OeeSettings)
    refs = list(config.assets())
    assets = {r.name for r in refs}
    lines = {r.path.rsplit("/", 2)[0] for r in refs}
    lines |= {p.rpartition("/")[2] for p in lines}
    where = ("apps", "oee", "targets")
    problems: list[tuple[tuple[str | int, ...], str]] = [
        ((*where, "assets", a), f"no asset named {a!r} in the plant")
        for a in settings.targets.assets
        if a not in assets
    ]
    problems += [
        ((*where, "lines", line), f"no line named {line!r} in the plant (a line's name or its UNS path)")
        for line in settings.targets.lines
        if line not in lines
    ]
    return problems
