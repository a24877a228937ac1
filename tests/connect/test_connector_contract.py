"""Every registered connector honours the contract of :mod:`werk.connect.spec`."""

from __future__ import annotations

import typing

import pytest

from werk.config import parse_config
from werk.connect.base import Connector, ConnectorStatus, WritableConnector
from werk.connect.spec import ConnectorSpec
from werk.errors import ConfigError
from werk.registry import default_registry

SPECS = list(default_registry().connectors.values())
PLANT = """plant:
  enterprise: acme
  sites: {s: {areas: {a: {lines: {l: {cells: {c: {assets: {m1: {kind: press}}}}}}}}}}
connectors:
  c1:
"""


def _minimal(spec: ConnectorSpec[typing.Any]) -> dict[str, object]:
    """The least settings the spec takes: its type and every required field, from its JSON schema's examples."""
    required = {"type": spec.type}
    samples = {"endpoint": "opc.tcp://127.0.0.1:4840", "url": "http://127.0.0.1:5000", "host_id": "werk"}
    for name, field in spec.settings.model_fields.items():
        if field.is_required() and name != "type":
            required[name] = samples[name]
    return required


@pytest.fixture(params=SPECS, ids=[s.type for s in SPECS])
def spec(request: pytest.FixtureRequest) -> ConnectorSpec[typing.Any]:
    return typing.cast(ConnectorSpec[typing.Any], request.param)


def test_its_settings_name_its_type_and_refuse_unknown_keys_with_their_line(
    spec: ConnectorSpec[typing.Any],
) -> None:
    settings = spec.settings.model_validate(_minimal(spec))
    assert settings.type == spec.type
    body = "".join(f"    {k}: {v!r}\n" for k, v in _minimal(spec).items())
    text = PLANT + body + "    no_such_key: 1\n"
    line = text.splitlines().index("    no_such_key: 1") + 1
    with pytest.raises(ConfigError) as err:
        parse_config(text, "plant.yaml")
    assert f"plant.yaml:{line}: connectors.c1.no_such_key: unknown key" in str(err.value)


def test_an_unknown_type_lists_the_known_ones() -> None:
    with pytest.raises(
        ConfigError, match=r"plant.yaml:6: connectors.c1.type: unknown type 'profinet' \(known:"
    ):
        parse_config(PLANT + "    type: profinet\n", "plant.yaml")


def test_it_builds_a_connector_with_a_status_and_a_stream(spec: ConnectorSpec[typing.Any]) -> None:
    settings = spec.settings.model_validate(_minimal(spec))
    connector = spec.build("c1", settings, {spec.address("", "x"): "acme/s/a/l/c/m1/x"})
    assert isinstance(connector, Connector)
    assert connector.name == "c1" and isinstance(connector.status, ConnectorStatus)
    assert connector.status.type == spec.type and not connector.status.connected
    assert callable(connector.stream)
    assert isinstance(connector, WritableConnector) == spec.writable


def test_every_setting_is_documented(spec: ConnectorSpec[typing.Any]) -> None:
    """The plant-file reference is generated from these models: an undocumented class or key has nothing to say,
    and a protocol without a reference gives no address forms."""
    assert (spec.settings.__doc__ or "").strip(), f"{spec.settings.__name__} has no docstring"
    assert spec.title.strip() and spec.reference.strip()
    undocumented = [n for n, f in spec.settings.model_fields.items() if n != "type" and not f.description]
    assert undocumented == [], f"{spec.settings.__name__}: document {undocumented} (a docstring below each)"
