"""Connectors to machines, one module per protocol, built from the plant file."""

from werk.config.model import WerkConfig
from werk.connect.base import Connector, ConnectorStatus
from werk.connect.opcua import OpcUaConnector


def build_connectors(config: WerkConfig) -> list[Connector]:
    """One connector per entry of ``connectors:``, fed with every asset binding that names it."""
    bindings: dict[str, dict[str, str]] = {name: {} for name in config.connectors}
    for ref in config.assets():
        src = ref.config.source
        if src is None:
            continue
        for signal, address in src.signals.items():
            full = (
                address if address.startswith(("ns=", "nsu=", "i=", "s=", "g=", "b=")) else src.root + address
            )
            bindings[src.connector][full] = ref.signal_path(signal)
    out: list[Connector] = []
    for name, cfg in config.connectors.items():
        if cfg.type == "opcua":
            out.append(OpcUaConnector(name, cfg, bindings[name]))
    return out


__all__ = ["Connector", "ConnectorStatus", "OpcUaConnector", "build_connectors"]
