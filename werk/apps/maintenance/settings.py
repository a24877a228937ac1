"""The maintenance app's settings: ``apps.maintenance``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from werk.config.model import AppSettings, WerkConfig


class MaintenanceSettings(AppSettings):
    """Predictive maintenance: a healthy baseline per asset, RUL models from files, warnings become work orders.

    ``baseline_cycles``: per-cycle rows that make an asset's healthy baseline (the first ones werk sees while it
    runs; kept in werk's file across restarts). Enough to cover the asset's normal variety (products, warm and cold
    starts) and to hold a third of it out for the threshold: 300 cycles by default.
    ``false_alarms_per_month``: warnings per machine and month a healthy machine may raise; the anomaly threshold
    is set from it and the asset's cycle rate (``health.calibrate`` gives the statistics).
    ``anomaly_cycles``: consecutive cycles above the threshold before a warning; ``clear_cycles``: consecutive
    cycles back inside the healthy range before it clears. ``smoothing_cycles``: cycles the score averages.
    ``sides``: per signal, which deviations count: ``up`` (the default: higher than healthy), ``down`` or ``both``.
    ``skip_before_repair``: rows of a baseline being learned that a repair drops (the failing end of a life).
    ``rul_warning_cycles``: warn when fewer cycles than this are predicted to remain.
    """

    models_dir: str = "werk-data/models"
    signals: list[str] = Field(
        default_factory=lambda: ["load", "temperature", "vibration", "power"], min_length=1
    )
    baseline_cycles: int = Field(default=300, ge=2)
    false_alarms_per_month: float = Field(default=1.0, gt=0, le=1000)
    anomaly_cycles: int = Field(default=3, ge=1)
    clear_cycles: int = Field(default=10, ge=1)
    smoothing_cycles: int = Field(default=5, ge=1)
    sides: dict[str, Literal["up", "down", "both"]] = Field(default_factory=dict)
    skip_before_repair: int = Field(default=25, ge=0)
    rul_warning_cycles: float = Field(default=25.0, ge=0)
    auto_train: bool = (
        True  # simulated assets without a model file get one trained in the background at start
    )
    train_lives: int = Field(default=30, ge=5, le=10_000)


def sides_of(settings: MaintenanceSettings) -> tuple[str, ...]:
    """Each watched signal's side, in ``settings.signals`` order (``up`` where the plant file names none)."""
    return tuple(settings.sides.get(s, "up") for s in settings.signals)


def maintenance_settings(config: WerkConfig) -> MaintenanceSettings:
    """The plant file's ``apps.maintenance`` (its defaults when the file has none)."""
    settings = config.app("maintenance")
    return settings if isinstance(settings, MaintenanceSettings) else MaintenanceSettings()
