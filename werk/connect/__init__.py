"""Connectors to machines, one module per protocol, built from the plant file."""

from werk.config.model import SourceBinding, WerkConfig
from werk.connect.base import Connector, ConnectorStatus
from werk.connect.modbus import ModbusConnector
from werk.connect.mqtt import MqttConnector, MqttPublisher
from werk.connect.mtconnect import MtconnectConnector, ShdrConnector
from werk.connect.opcua import OpcUaConnector
from werk.connect.sparkplug import SparkplugConnector

_NODE_ID_PREFIXES = ("ns=", "nsu=", "i=", "s=", "g=", "b=", "browse:")


def _full_address(kind: str, src: SourceBinding, address: str) -> str:
    """Apply a binding's ``root`` the way its protocol reads it.

    OPC UA: prefix of a NodeId, unless the address is a full NodeId. MQTT: prefix of the topic name. Modbus: default
    tokens in front of the address (``root: "unit=2 CDAB"``), which later tokens override. MTConnect and SHDR: prefix
    of the reference (``root: "id:"``). Sparkplug: prefix of ``group/edge_node/device/metric``
    (``root: "plant1/press-edge/press-1/"``).
    """
    if kind == "opcua":
        return address if address.startswith(_NODE_ID_PREFIXES) else src.root + address
    if kind == "modbus":
        return f"{src.root} {address}".strip()
    return src.root + address


def build_connectors(config: WerkConfig) -> list[Connector]:
    """One connector per entry of ``connectors:``, fed with every asset binding that names it."""
    bindings: dict[str, dict[str, str]] = {name: {} for name in config.connectors}
    for ref in config.assets():
        for src in ref.config.bindings():
            kind = config.connectors[src.connector].type
            for signal, address in src.signals.items():
                bindings[src.connector][_full_address(kind, src, address)] = ref.signal_path(signal)
    out: list[Connector] = []
    for name, cfg in config.connectors.items():
        if cfg.type == "opcua":
            out.append(OpcUaConnector(name, cfg, bindings[name]))
        elif cfg.type == "mqtt":
            out.append(MqttConnector(name, cfg, bindings[name]))
        elif cfg.type == "modbus":
            out.append(ModbusConnector(name, cfg, bindings[name]))
        elif cfg.type == "mtconnect":
            out.append(MtconnectConnector(name, cfg, bindings[name]))
        elif cfg.type == "shdr":
            out.append(ShdrConnector(name, cfg, bindings[name]))
        elif cfg.type == "sparkplug":
            out.append(SparkplugConnector(name, cfg, bindings[name]))
    return out


__all__ = [
    "Connector",
    "ConnectorStatus",
    "ModbusConnector",
    "MqttConnector",
    "MqttPublisher",
    "MtconnectConnector",
    "OpcUaConnector",
    "ShdrConnector",
    "SparkplugConnector",
    "build_connectors",
]
