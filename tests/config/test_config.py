"""The plant file: the demo validates, and each kind of mistake is reported with its line and key path."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from werk.cli import main
from werk.config import demo_config_path, load_config, parse_config
from werk.config.loader import MAX_BYTES
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


def _laughs(levels: int) -> str:
    """A YAML billion laughs: each anchor a list of nine aliases of the one before (9**levels values)."""
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return "\n".join(lines) + f"\nplant: *a{levels - 1}\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (_laughs(9), "plant.yaml:7: the aliases here make the file hold more than 1,000,000 values"),
        ("plant: " + "[" * 5_000 + "]" * 5_000 + "\n", "plant.yaml:1: nested more than 64 levels deep"),
        ("plant:\n" + "".join(" " * i + f"k{i}:\n" for i in range(1, 3_000)), "plant.yaml:65: nested more"),
        ("plant: {" * 100 + "}" * 100, "nested more than 64 levels deep"),
    ],
    ids=["billion-laughs", "deep-flow", "deep-block", "deep-mapping"],
)
def test_hostile_plant_files_are_refused_promptly_with_the_line(
    text: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.monotonic()
    assert message in _error(text)
    assert time.monotonic() - started < 5
    path = tmp_path / "plant.yaml"
    path.write_text(text)
    assert main(["check", str(path)]) == 2
    assert message in capsys.readouterr().err


def test_a_plant_file_too_large_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("wb") as f:
        f.truncate(MAX_BYTES + 1)  # sparse: nothing written, nothing to read
    with pytest.raises(ConfigError, match=r"huge\.yaml: 16 MiB is too large for a plant file"):
        load_config(path)


def test_aliases_a_plant_file_uses_sparingly_still_load() -> None:
    text = GOOD.replace("plant:", "defaults: &d {x: 1}\nplant:", 1)
    assert "unknown key" in _error(text)  # 'defaults' is no key of werk's: the file got past the bounds


def test_several_serve_processes_on_a_postgresql_plant_are_refused_at_their_line() -> None:
    text = (
        GOOD
        + "historian:\n  backend: postgresql\n  url: postgresql://postgres@127.0.0.1/werk\nserver:\n  workers: 2\n"
    )
    msg = _error(text)
    assert "plant.yaml:26: server.workers: more than one process of werk serve shares the twin" in msg
    assert "werk api replicas" in msg
    parse_config(text.replace("workers: 2", "workers: 1"), "plant.yaml")  # one process is fine
