"""Wiring: builds bus, historian, connectors and apps from a plant file and runs them together."""

from werk.runtime.platform import Platform

__all__ = ["Platform"]
