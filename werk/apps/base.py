"""The App interface. An app reads the bus, keeps its own state, publishes events and derived samples.

Apps never import each other; they talk through the bus. Each app's decisions live in a pure ``engine`` module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from werk.bus.base import Bus
from werk.config.model import WerkConfig
from werk.store.base import Historian


@dataclass(frozen=True)
class AppContext:
    config: WerkConfig
    bus: Bus
    historian: Historian


class App(Protocol):
    name: str

    async def run(self, ctx: AppContext) -> None:
        """Run until cancelled."""
        ...

    def snapshot(self) -> Any:
        """The app's current view, JSON-serialisable, for the API."""
        ...
