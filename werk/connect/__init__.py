"""Connectors to machines, one module per protocol, each declaring itself with a :class:`ConnectorSpec`."""

from __future__ import annotations

from werk.config.model import WerkConfig
from werk.connect.base import Connector, ConnectorStatus, WritableConnector
from werk.connect.spec import Bindings, ConnectorSettings, ConnectorSpec
from werk.registry import Registry, default_registry


def plant_name(config: WerkConfig) -> str:
    """The plant's name: its enterprise and its sites (``acme-augsburg``), as identifiers unique per plant use it."""
    return "-".join([config.plant.enterprise, *sorted(config.plant.sites)])


def build_connectors(config: WerkConfig, registry: Registry | None = None) -> list[Connector]:
    """One connector per entry of ``connectors:``, fed with every asset binding that names it (each address
    with the binding's ``root`` applied the way its protocol reads it, and the types the bindings declare)."""
    reg = registry or default_registry()
    plant = plant_name(config)
    bindings = {name: Bindings(plant=plant) for name in config.connectors}
    for ref in config.assets():
        for src in ref.config.bindings():
            spec = reg.connector(config.connectors[src.connector].type)
            for signal, address in src.signals.items():
                bindings[src.connector][spec.address(src.root, address)] = ref.signal_path(signal)
            for signal, kind in src.types.items():
                bindings[src.connector].types[ref.signal_path(signal)] = kind
    return [
        reg.connector(cfg.type).build(name, cfg, bindings[name]) for name, cfg in config.connectors.items()
    ]


__all__ = [
    "Bindings",
    "Connector",
    "ConnectorSettings",
    "ConnectorSpec",
    "ConnectorStatus",
    "WritableConnector",
    "build_connectors",
    "plant_name",
]
