"""What a signal's values mean for a chart: its unit and whether it is sampled or sent on change.

A *sampled* signal (power, temperature) is measured again and again; between two samples a chart draws a line, and
a pause much longer than the usual interval is a gap. An *on-change* signal (a state, a part counter, a setpoint,
any text or boolean) is sent when it changes; it holds its value until the next sample, so a chart draws steps and
the time between two samples is never a gap. Names follow werk's signal vocabulary (the demo plant's, OPC 40001-1's
Monitoring variables); a name werk does not know is on-change when its values are text or booleans.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from werk.core.states import STATE_SIGNAL

SignalKind = Literal["sampled", "on_change"]


@dataclass(frozen=True, slots=True)
class SignalInfo:
    kind: SignalKind
    unit: str = ""


KNOWN: dict[str, SignalInfo] = {
    STATE_SIGNAL: SignalInfo("on_change"),
    "state": SignalInfo("on_change"),
    "item_state": SignalInfo("on_change"),
    "operation_mode": SignalInfo("on_change"),
    "packml_state": SignalInfo("on_change"),
    "execution": SignalInfo("on_change"),
    "mode": SignalInfo("on_change"),
    "product": SignalInfo("on_change"),
    "good_count": SignalInfo("on_change", "parts"),
    "scrap_count": SignalInfo("on_change", "parts"),
    "cycle_count": SignalInfo("on_change", "cycles"),
    "feed_override": SignalInfo("on_change", "%"),
    "power": SignalInfo("sampled", "kW"),
    "energy": SignalInfo("sampled", "kWh"),
    "temperature": SignalInfo("sampled", "°C"),
    "humidity": SignalInfo("sampled", "%"),
    "vibration": SignalInfo("sampled", "mm/s"),
    "spindle_speed": SignalInfo("sampled", "rpm"),
    "load": SignalInfo("sampled", "%"),
    "force": SignalInfo("sampled", "kN"),
    "pressure": SignalInfo("sampled", "bar"),
}


def describe(name: str, dtype: str | None = None) -> SignalInfo:
    """The kind and unit of a signal by its name (the last segment of its path) and stored type (``float``,
    ``int``, ``bool``, ``str``; None when unknown). KPIs (``kpi.*``) and health scores are sampled ratios."""
    known = KNOWN.get(name)
    if known is not None:
        return known
    if dtype in ("str", "bool"):
        return SignalInfo("on_change")
    return SignalInfo("sampled")
