"""The plant-file reference is written from the settings models: the committed docs/plant-file.md is what
`werk docs plant-file` makes of werk's built-ins, so it cannot drift from what the loader accepts."""

from __future__ import annotations

from pathlib import Path

from werk.cli import main
from werk.config.reference import plant_file_reference
from werk.config.schema import settings_models
from werk.registry import build_registry

REPO = Path(__file__).resolve().parents[2]
COMMITTED = REPO / "docs" / "plant-file.md"


def test_the_committed_reference_is_what_the_settings_models_say() -> None:
    made = plant_file_reference(build_registry(plugins=False))
    assert COMMITTED.read_text(encoding="utf-8") == made, (
        "docs/plant-file.md differs from the settings models: run `.venv/bin/werk docs plant-file "
        "-o docs/plant-file.md` and commit the result"
    )


def test_the_reference_has_every_section_every_key_and_every_protocols_addresses() -> None:
    registry = build_registry(plugins=False)
    text = plant_file_reference(registry)
    for key in ("plant", "products", "historian", "spool", "bus", "server", "connectors", "apps", "sim"):
        assert f"\n## {key}\n" in text, key
    for type_, spec in registry.connectors.items():
        assert f"### {spec.title} (`type: {type_}`)" in text
        assert f"#### {spec.title}: addresses and payloads" in text
        for name in spec.settings.model_fields:
            assert name == "type" or f"| `{name}` |" in text, (type_, name)
    for words in (
        "nsu=URI;s=",
        "browse:",
        "hr:100 float32 CDAB",
        "id:dtop_2",
        "{field}",
        "<group_id>/<edge_node_id>",
    ):
        assert words in text, words
    # a model's table points to the section that documents a nested model, and every settings model has one
    assert "[WriteLimits](#writelimits)" in text and '<a id="writelimits"></a>' in text
    for where, model in settings_models(registry).items():
        assert f'<a id="{model.__name__.lower()}"></a>' in text, where


def test_werk_docs_plant_file_writes_it(tmp_path: Path) -> None:
    out = tmp_path / "plant-file.md"
    assert main(["docs", "plant-file", "-o", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == plant_file_reference(build_registry(plugins=False))
