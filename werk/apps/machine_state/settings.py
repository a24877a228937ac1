"""The machine-state app's settings: ``apps.machine_state`` and each asset's ``states:`` mapping."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from werk.config.model import AppSettings, StrictModel
from werk.core.states import WerkState


class StateRule(StrictModel):
    """``signal op value`` holding for ``for_s`` seconds means the asset is in ``state`` (first match wins)."""

    signal: str
    op: Literal["<", "<=", ">", ">=", "==", "!="]
    value: float | bool | str
    for_s: float = Field(default=0.0, ge=0)
    state: WerkState


class StateMappingConfig(StrictModel):
    """How an asset's state is derived from its signals.

    ``werk``: a signal already carrying werk state names; ``machinery``: OPC 40001-1 MachineryItemState;
    ``packml``: ISA-TR88.00.02 PackML state names; ``mtconnect``: the Execution DataItem; ``rules``: conditions on
    signals (e.g. load < 5 for 30 s means idle), ``default`` when none holds.
    """

    source: Literal["werk", "machinery", "packml", "mtconnect", "rules"] = "werk"
    signal: str | None = None
    rules: list[StateRule] = Field(default_factory=list)
    default: WerkState = "running"


class MachineStateSettings(AppSettings):
    """``apps.machine_state``: only ``enabled``; how each asset maps to states is its ``states:`` key."""
