"""Publish/subscribe of sample and event batches on UNS paths."""

from werk.bus.base import Bus, Overflow
from werk.bus.memory import MemoryBus

__all__ = ["Bus", "MemoryBus", "Overflow"]
