"""One row per machine cycle: the mean of each health signal while the asset ran during that cycle.

RUL models learn from per-cycle rows (C-MAPSS has one row per flight cycle), and a healthy baseline of per-cycle
means does not depend on how often a source happens to sample. The same aggregator turns the simulator's offline
run-to-failure lives into training rows and the live stream into serving rows, so both see identical features.
"""

from __future__ import annotations

from collections.abc import Sequence

HEALTH_SIGNALS = ("load", "temperature", "vibration", "power")


class CycleAggregator:
    def __init__(self, signals: Sequence[str] = HEALTH_SIGNALS) -> None:
        self.signals = tuple(signals)
        self.running = False
        self._sum = dict.fromkeys(self.signals, 0.0)
        self._n = dict.fromkeys(self.signals, 0)
        self._count: int | None = None

    def state(self, state: str) -> None:
        self.running = state == "running"

    def value(self, signal: str, value: float) -> None:
        """A sample of a health signal; only values taken while running describe the machine's health."""
        if self.running and signal in self._sum:
            self._sum[signal] += value
            self._n[signal] += 1

    def cycle(self, count: int) -> dict[str, float] | None:
        """The cycle counter's value; when it grew, the finished cycle's row (None if a signal had no value)."""
        previous, self._count = self._count, count
        if previous is None or count <= previous:
            self._reset()
            return None
        row = None
        if all(self._n[s] for s in self.signals):
            row = {s: self._sum[s] / self._n[s] for s in self.signals}
        self._reset()
        return row

    def _reset(self) -> None:
        self._sum = dict.fromkeys(self.signals, 0.0)
        self._n = dict.fromkeys(self.signals, 0)
