"""The latest value per signal, in memory, for the API, the dashboard and the twin's bound elements (the historian
is for history)."""

from __future__ import annotations

from werk.bus.base import Bus, feed
from werk.core.model import Sample


class LatestValues:
    def __init__(self) -> None:
        self.latest: dict[str, Sample] = {}

    async def run(self, bus: Bus) -> None:
        await feed(bus, self.apply)

    def apply(self, batch: list[Sample]) -> None:
        """Keep each signal's newest sample (a late or replayed older one does not replace it)."""
        latest = self.latest
        for s in batch:
            prev = latest.get(s.path)
            if prev is None or s.ts >= prev.ts:
                latest[s.path] = s

    def under(self, prefix: str) -> dict[str, Sample]:
        """Latest samples of the signals directly under an asset path, keyed by signal name."""
        p = prefix + "/"
        return {k[len(p) :]: v for k, v in self.latest.items() if k.startswith(p) and "/" not in k[len(p) :]}
