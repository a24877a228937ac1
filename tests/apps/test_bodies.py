"""Response bodies derived from dataclasses: the same fields, documented, nested bodies in place."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import Field

from werk.apps.bodies import body_of, doc


@dataclass
class Part:
    """A part."""

    name: str = field(metadata=doc("what it is called"))
    weight: float = 0.0


@dataclass
class Kit:
    parts: list[Part]
    spare: Part | None
    by_name: dict[str, Part]
    internal: int = 0


def test_a_body_has_the_dataclass_fields_required_with_their_descriptions_and_docstring() -> None:
    body: Any = body_of(Part, "PartOut", __name__)
    schema = body.model_json_schema()
    assert (body.__name__, body.__module__) == ("PartOut", __name__)
    assert list(schema["properties"]) == ["name", "weight"] and schema["required"] == ["name", "weight"]
    assert schema["properties"]["name"]["description"] == "what it is called"
    assert schema["description"] == "A part."


def test_nested_dataclasses_take_their_bodies_and_exclude_and_extra_shape_the_fields() -> None:
    part: Any = body_of(Part, "PartOut", __name__)
    kit: Any = body_of(
        Kit, "KitOut", __name__, exclude=["internal"], extra={"note": (str, Field(default=""))}
    )
    out = kit.model_validate(
        {"parts": [{"name": "a", "weight": 1}], "spare": None, "by_name": {}, "internal": 3}
    )
    assert isinstance(out.parts[0], part) and out.model_dump() == {
        "parts": [{"name": "a", "weight": 1.0}],
        "spare": None,
        "by_name": {},
        "note": "",
    }
    assert "description" not in kit.model_json_schema()  # no docstring: not the dataclass's repr


@dataclass
class Loose:
    x: int


@dataclass
class Holder:
    loose: Loose


def test_a_body_holding_an_underived_dataclass_is_refused() -> None:
    with pytest.raises(TypeError, match="derive the body of Loose"):
        body_of(Holder, "HolderOut", __name__)
