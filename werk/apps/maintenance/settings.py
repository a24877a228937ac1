"""The maintenance app's settings: ``apps.maintenance``."""

from __future__ import annotations

from pydantic import Field

from werk.config.model import AppSettings, WerkConfig


class MaintenanceSettings(AppSettings):
    """Predictive maintenance: a healthy baseline per asset, RUL models from files, warnings become work orders.

    ``baseline_cycles``: per-cycle rows that make an asset's healthy baseline (the first ones werk sees, or a period
    a supervisor marks); ``anomaly_cycles``: consecutive cycles above the threshold before a warning;
    ``rul_warning_cycles``: warn when fewer cycles than this are predicted to remain.
    """

    models_dir: str = "werk-data/models"
    signals: list[str] = Field(
        default_factory=lambda: ["load", "temperature", "vibration", "power"], min_length=1
    )
    baseline_cycles: int = Field(default=30, ge=2)
    anomaly_cycles: int = Field(default=3, ge=1)
    rul_warning_cycles: float = Field(default=25.0, ge=0)
    auto_train: bool = (
        True  # simulated assets without a model file get one trained in the background at start
    )
    train_lives: int = Field(default=30, ge=5, le=10_000)


def maintenance_settings(config: WerkConfig) -> MaintenanceSettings:
    """The plant file's ``apps.maintenance`` (its defaults when the file has none)."""
    settings = config.app("maintenance")
    return settings if isinstance(settings, MaintenanceSettings) else MaintenanceSettings()
