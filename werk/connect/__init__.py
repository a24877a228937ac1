"""Connectors to machines, one module per protocol, each declaring itself with a :class:`ConnectorSpec`."""

from __future__ import annotations

from werk.config.model import WerkConfig
from werk.connect.base import Connector, ConnectorStatus, WritableConnector
from werk.connect.spec import ConnectorSettings, ConnectorSpec
from werk.registry import Registry, default_registry


def build_connectors(config: WerkConfig, registry: Registry | None = None) -> list[Connector]:
    """One connector per entry of ``connectors:``, fed with every asset binding that names it (each address
    with the binding's ``root`` applied the way its protocol reads it)."""
    reg = registry or default_registry()
    bindings: dict[str, dict[str, str]] = {name: {} for name in config.connectors}
    for ref in config.assets():
        for src in ref.config.bindings():
            spec = reg.connector(config.connectors[src.connector].type)
            for signal, address in src.signals.items():
                bindings[src.connector][spec.address(src.root, address)] = ref.signal_path(signal)
    return [
        reg.connector(cfg.type).build(name, cfg, bindings[name]) for name, cfg in config.connectors.items()
    ]


__all__ = [
    "Connector",
    "ConnectorSettings",
    "ConnectorSpec",
    "ConnectorStatus",
    "WritableConnector",
    "build_connectors",
]
