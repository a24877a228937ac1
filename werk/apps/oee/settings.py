"""The OEE app's settings: ``apps.oee`` (micro-stops, when a stop is unqualified, the downtime reason tree)."""

from __future__ import annotations

from pydantic import Field

from werk.config.model import AppSettings, StrictModel
from werk.i18n import N_


class ReasonConfig(StrictModel):
    """A downtime reason; ``planned`` ones count as planned down time (PDOT), not against availability."""

    label: str = ""
    planned: bool = False
    children: dict[str, ReasonConfig] = Field(default_factory=dict)


DEFAULT_REASONS: dict[str, ReasonConfig] = {
    "mechanical": ReasonConfig(
        label=N_("Mechanical failure"),
        children={
            "spindle": ReasonConfig(label=N_("Spindle")),
            "tooling": ReasonConfig(label=N_("Tool breakage")),
            "hydraulics": ReasonConfig(label=N_("Hydraulics")),
        },
    ),
    "electrical": ReasonConfig(label=N_("Electrical / control failure")),
    "material": ReasonConfig(label=N_("Material problem")),
    "quality": ReasonConfig(label=N_("Quality check / adjustment")),
    "operator": ReasonConfig(label=N_("No operator")),
    "changeover": ReasonConfig(label=N_("Changeover / setup")),
    "starved": ReasonConfig(label=N_("Starved (no material from upstream)")),
    "blocked": ReasonConfig(label=N_("Blocked (downstream full)")),
    "maintenance": ReasonConfig(label=N_("Maintenance")),
    "micro-stop": ReasonConfig(label=N_("Micro-stop")),
    "planned-stop": ReasonConfig(label=N_("Planned stop"), planned=True),
    "no-orders": ReasonConfig(label=N_("No orders"), planned=True),
    "planned-maintenance": ReasonConfig(label=N_("Planned maintenance"), planned=True),
}


class OeeSettings(AppSettings):
    """Downtime and OEE: micro-stop threshold, when a stop without a reason is "unqualified", the reason tree."""

    micro_stop_s: float = Field(default=120.0, ge=0)
    unqualified_after_s: float = Field(default=300.0, ge=0)
    kpi_interval_s: float = Field(default=2.0, gt=0)
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
