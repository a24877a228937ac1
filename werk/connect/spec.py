"""What a connector is to werk: one :class:`ConnectorSpec` per protocol, exported by its module in ``werk.connect``.

The plant file's ``connectors:`` entries are validated by the spec whose ``type`` they name (its ``settings``
model, unknown keys refused with their line); ``build`` makes the connector from those settings and the addresses
the assets bind to it; ``address`` applies a binding's ``root`` the way the protocol reads it. werk's own protocols
load through the same registry as a third party's (:mod:`werk.registry`), so nothing outside ``werk.connect`` names
a protocol. The conformance suite (``tests/connect/test_connector_contract.py``) checks every registered one.
"""

from __future__ import annotations

import builtins
import inspect
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar, get_args, get_origin

from werk.config.model import ConnectorSettings
from werk.connect.base import Connector
from werk.core.model import SignalType

S = TypeVar("S", bound=ConnectorSettings)


def docs(*parts: str | None) -> str:
    """A spec's ``reference`` from docstrings (a module's, a class's): each without its indentation (PEP 257),
    one after another."""
    return "\n\n".join(inspect.cleandoc(p) for p in parts if p)


def prefix_address(root: str, address: str) -> str:
    """The default way a binding's ``root`` applies: in front of each address."""
    return root + address


class Bindings(dict[str, str]):
    """What ``build`` receives: each full address (``address`` applied) -> the UNS path it feeds, and what the plant
    file says of those paths beyond their address.

    ``types``: UNS path -> the type its binding declares (``SourceBinding.types``). ``plant``: the plant's name
    (``<enterprise>-<site>...``), for identifiers a connector must keep stable across restarts and unique per plant
    (an MQTT client id). A plain mapping is a ``Bindings`` without either (:func:`types_of`, :func:`plant_of`).
    """

    def __init__(
        self,
        items: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        *,
        types: Mapping[str, SignalType] | None = None,
        plant: str = "",
    ) -> None:
        super().__init__(items)
        self.types: dict[str, SignalType] = dict(types or {})
        self.plant = plant


def types_of(bindings: Mapping[str, str]) -> dict[str, SignalType]:
    """The declared type of each UNS path the bindings feed (none for a plain mapping)."""
    return dict(bindings.types) if isinstance(bindings, Bindings) else {}


def plant_of(bindings: Mapping[str, str]) -> str:
    """The plant's name the bindings come from, or "" for a plain mapping."""
    return bindings.plant if isinstance(bindings, Bindings) else ""


@dataclass(frozen=True)
class ConnectorSpec(Generic[S]):
    """A protocol as werk loads it.

    ``build(name, settings, bindings)``: ``bindings`` maps each full address (``address`` applied) to the UNS path
    it feeds (a :class:`Bindings`). ``writable``: the connector can write values back to its source (a
    ``WritableConnector``). ``reference``: Markdown for the plant-file reference (``docs/plant-file.md``): the
    protocol's address forms and the payloads it reads, in the words of its standard.
    """

    type: str
    title: str
    settings: builtins.type[S]
    build: Callable[[str, S, Mapping[str, str]], Connector]
    address: Callable[[str, str], str] = prefix_address
    writable: bool = False
    reference: str = ""

    @classmethod
    def of(
        cls,
        settings: builtins.type[S],
        build: Callable[[str, S, Mapping[str, str]], Connector],
        *,
        title: str,
        address: Callable[[str, str], str] = prefix_address,
        reference: str | None = None,
    ) -> ConnectorSpec[S]:
        """The spec of the protocol whose settings model is ``settings``, given only what the model and the connector
        do not say already:

        - ``type``: the one value of the model's ``type`` field (its ``Literal``, which the plant file names);
        - ``writable``: ``build`` has a ``write`` method (a ``WritableConnector`` class);
        - ``reference``: the docstring of the module that defines ``settings``, unless given.
        """
        annotation = settings.model_fields["type"].annotation
        values = get_args(annotation) if get_origin(annotation) is Literal else ()
        if len(values) != 1 or not isinstance(values[0], str):
            raise TypeError(f"{settings.__name__}.type must be one Literal string, the protocol's type")
        return cls(
            type=values[0],
            title=title,
            settings=settings,
            build=build,
            address=address,
            writable=callable(getattr(build, "write", None)),
            reference=docs(sys.modules[settings.__module__].__doc__) if reference is None else reference,
        )


AnyConnectorSpec = ConnectorSpec[Any]
__all__ = [
    "AnyConnectorSpec",
    "Bindings",
    "ConnectorSettings",
    "ConnectorSpec",
    "docs",
    "plant_of",
    "prefix_address",
    "types_of",
]
