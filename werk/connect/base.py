"""The Connector interface: a source of Sample batches, with a health record the API and dashboard show.

A connector owns its protocol session and its reconnect policy; it knows nothing of the bus. The runtime iterates
``stream()`` and publishes what comes out, so a protocol plugs in by providing just this.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from werk.core.model import Sample


@dataclass
class ConnectorStatus:
    """Health of one connector. Counters only grow; ``rate`` is samples/s over the last few seconds."""

    name: str
    type: str
    endpoint: str
    connected: bool = False
    since: datetime | None = None
    last_sample: datetime | None = None
    samples: int = 0
    errors: int = 0
    dropped: int = 0
    reconnects: int = 0
    last_error: str = ""
    rate: float = 0.0
    bad_bindings: dict[str, str] = field(default_factory=dict)


class Connector(Protocol):
    name: str
    status: ConnectorStatus

    def stream(self) -> AsyncIterator[list[Sample]]:
        """Batches of samples until cancelled. Never ends on a lost connection: it reconnects, and while the source
        is away it yields one batch marking every bound signal BAD."""
        ...
