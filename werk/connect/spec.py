"""What a connector is to werk: one :class:`ConnectorSpec` per protocol, exported by its module in ``werk.connect``.

The plant file's ``connectors:`` entries are validated by the spec whose ``type`` they name (its ``settings``
model, unknown keys refused with their line); ``build`` makes the connector from those settings and the addresses
the assets bind to it; ``address`` applies a binding's ``root`` the way the protocol reads it. werk's own protocols
load through the same registry as a third party's (:mod:`werk.registry`), so nothing outside ``werk.connect`` names
a protocol. The conformance suite (``tests/connect/test_connector_contract.py``) checks every registered one.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from werk.config.model import ConnectorSettings
from werk.connect.base import Connector

S = TypeVar("S", bound=ConnectorSettings)


def prefix_address(root: str, address: str) -> str:
    """The default way a binding's ``root`` applies: in front of each address."""
    return root + address


@dataclass(frozen=True)
class ConnectorSpec(Generic[S]):
    """A protocol as werk loads it.

    ``build(name, settings, bindings)``: ``bindings`` maps each full address (``address`` applied) to the UNS path
    it feeds. ``writable``: the connector can write values back to its source (a ``WritableConnector``).
    """

    type: str
    title: str
    settings: builtins.type[S]
    build: Callable[[str, S, Mapping[str, str]], Connector]
    address: Callable[[str, str], str] = prefix_address
    writable: bool = False


AnyConnectorSpec = ConnectorSpec[Any]
__all__ = ["AnyConnectorSpec", "ConnectorSettings", "ConnectorSpec", "prefix_address"]
