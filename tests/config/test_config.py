"""The plant file: the demo validates, and each kind of mistake is reported with its line and key path."""

from __future__ import annotations

from pathlib import Path

import pytest

from werk.cli import main
from werk.config import demo_config_path, load_config, parse_config
from werk.connect import build_connectors
from werk.errors import ConfigError

GOOD = """\
plant:
  enterprise: acme
  timezone: Europe/Berlin
  sites:
    augsburg:
      areas:
        machining:
          lines:
            line-1:
              cells:
                milling:
                  assets:
                    cnc-1:
                      kind: machining centre
                      source:
                        connector: plc
                        signals: {load: "ns=2;s=Load"}
connectors:
  plc:
    type: opcua
    endpoint: opc.tcp://127.0.0.1:4840
"""


def test_demo_plant_is_valid_and_has_every_kind_of_asset() -> None:
    config = load_config(demo_config_path())
    refs = list(config.assets())
    assert len(refs) >= 6
    models = {r.config.plugin("sim").model for r in refs if r.config.plugin("sim")}
    assert models == {"cnc", "lathe", "robot", "press", "assembly", "compressor"}
    assert all(r.path.count("/") == 5 for r in refs)  # enterprise/site/area/line/cell/asset
    assert refs[0].aas_id.startswith("urn:werk:acme:asset:")


def test_minimal_file_parses() -> None:
    config = parse_config(GOOD, "plant.yaml")
    ref = config.asset("cnc-1")
    assert ref.signal_path("load") == "acme/augsburg/machining/line-1/milling/cnc-1/load"


def _error(text: str) -> str:
    with pytest.raises(ConfigError) as exc:
        parse_config(text, "plant.yaml")
    return str(exc.value)


def test_unknown_key_names_line_and_path() -> None:
    msg = _error(
        GOOD.replace("      kind: machining centre", "      kind: machining centre\n" + " " * 22 + "knd: x")
    )
    assert "plant.yaml:15:" in msg
    assert "plant.sites.augsburg.areas.machining.lines.line-1.cells.milling.assets.cnc-1.knd" in msg
    assert "unknown key" in msg


def test_missing_key_points_at_its_parent() -> None:
    msg = _error(GOOD.replace("                      kind: machining centre\n", ""))
    assert "plant.yaml:13:" in msg  # the line of 'cnc-1:'
    assert "assets.cnc-1.kind: required key is missing" in msg


def test_wrong_type_and_bad_timezone_are_both_reported() -> None:
    text = GOOD.replace("Europe/Berlin", "Europe/Atlantis").replace("opc.tcp://127.0.0.1:4840", "http://x")
    msg = _error(text)
    assert "2 problems" in msg
    assert "plant.yaml:3: plant.timezone: Value error, unknown IANA timezone 'Europe/Atlantis'" in msg
    assert "plant.yaml:21: connectors.plc.endpoint:" in msg


def test_reference_to_unknown_connector() -> None:
    msg = _error(GOOD.replace("connector: plc", "connector: plc-9"))
    assert "plant.yaml:16:" in msg
    assert "source.connector: unknown connector 'plc-9' (known: plc)" in msg


def test_duplicate_asset_names_across_cells() -> None:
    dup = GOOD.replace(
        "connectors:",
        "                turning:\n                  assets:\n                    cnc-1: {kind: lathe}\nconnectors:",
    )
    msg = _error(dup)
    assert "asset name 'cnc-1' is used twice" in msg


def test_invalid_segment_names_are_refused() -> None:
    msg = _error(GOOD.replace("cnc-1:", "cnc 1:"))
    assert "'cnc 1' is not a valid UNS segment" in msg


def test_yaml_syntax_error_has_line() -> None:
    msg = _error(GOOD.replace("kind: machining centre", "kind: [machining centre"))
    assert msg.startswith("plant.yaml:")
    assert "YAML syntax error" in msg


def test_not_a_mapping_and_missing_file(tmp_path: Path) -> None:
    assert "must be a mapping" in _error("- just a list\n")
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "nope.yaml")


def test_check_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(GOOD)
    assert main(["check", str(good)]) == 0
    assert "valid (1 assets, 1 connectors)" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace("type: opcua", "type: profinet"))
    assert main(["check", str(bad)]) == 2
    out = capsys.readouterr().err
    assert "bad.yaml:20: connectors.plc.type: unknown type 'profinet'" in out


def test_a_key_given_twice_is_an_error_with_the_line_of_the_second() -> None:
    text = "plant:\n  enterprise: acme\n  timezone: UTC\n  timezone: Europe/Berlin\n  sites: {}\n"
    with pytest.raises(ConfigError, match=r"p.yaml:4: plant.timezone: key given twice"):
        parse_config(text, "p.yaml")


def test_a_binding_declares_types_only_for_its_own_signals() -> None:
    typed = GOOD.replace(
        'signals: {load: "ns=2;s=Load"}',
        'signals: {load: "ns=2;s=Load"}\n                        types: {load: float}',
    )
    config = parse_config(typed, "plant.yaml")
    (binding,) = config.asset("cnc-1").config.bindings()
    assert binding.types == {"load": "float"}
    (connector,) = build_connectors(config)  # it gets them by UNS path, with its addresses
    assert connector.types == {config.asset("cnc-1").signal_path("load"): "float"}  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match=r"plant.yaml:\d+: .*types names \['speed'\]"):
        parse_config(typed.replace("types: {load: float}", "types: {speed: float}"), "plant.yaml")
    with pytest.raises(ConfigError, match=r"types\.load"):
        parse_config(typed.replace("types: {load: float}", "types: {load: decimal}"), "plant.yaml")
