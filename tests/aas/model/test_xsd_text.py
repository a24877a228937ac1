"""Values basyx-python-sdk cannot hold or would write back changed are kept as their text, through every path werk
reads and writes them: basyx's own JSON and XML, werk's export, persistence and a copy."""

from __future__ import annotations

import copy
import datetime
import json
import pickle
from pathlib import Path

import pytest
from basyx.aas import model
from basyx.aas.model import datatypes

from werk.aas.adapter import io as aas_io
from werk.aas.backend.persistence import TwinPersistence
from werk.aas.backend.store import TwinStore
from werk.aas.model import xsd_text

D = datatypes


@pytest.mark.parametrize(
    ("text", "type_"),
    [
        ("-0001-02-29", D.Date),  # 1 BCE is a leap year
        ("12345678901234567890-04-01", D.Date),
        ("-0811-10-21T24:00:00.000000Z", D.DateTime),
        ("-665280014-06-30T21:15:16Z", D.DateTime),
        ("2022-04-01+14:00", D.Date),
        ("0730-10-14:00", D.GYearMonth),
        ("-0444", D.GYear),
        ("1717608219759Z", D.GYear),
        ("24:00:00", D.Time),
        ("2022-04-01T01:02:03.0123456789Z", D.DateTime),
        ("PT12345678901234567890123456789S", D.Duration),
    ],
)
def test_a_value_basyx_cannot_write_back_is_written_as_it_came(text: str, type_: type) -> None:
    with pytest.raises((NotImplementedError, ValueError, OverflowError, AssertionError)):
        # basyx alone refuses it, or writes another text
        assert xsd_text._basyx_xsd_repr(xsd_text._basyx_from_xsd(text, type_)) == text
    value = D.from_xsd(text, type_)
    assert isinstance(value, type_ if type_ is not D.DateTime else D.DateTime)
    assert D.xsd_repr(value) == text
    assert D.xsd_repr(copy.deepcopy(value)) == text
    assert D.xsd_repr(pickle.loads(pickle.dumps(value))) == text
    assert D.from_xsd(text, type_) == value


def test_a_value_basyx_writes_back_unchanged_stays_a_plain_basyx_value() -> None:
    for text, type_ in [("2022-04-01", D.Date), ("2022-04-01T01:02:03+02:00", D.DateTime), ("2001", D.GYear)]:
        value = D.from_xsd(text, type_)
        assert not isinstance(value, xsd_text.KeptText)
        assert D.xsd_repr(value) == text


def test_a_kept_value_in_range_is_still_the_date_it_says() -> None:
    plus14 = D.from_xsd("2022-04-01+14:00", D.Date)
    assert (plus14.year, plus14.month, plus14.day) == (2022, 4, 1)
    assert plus14.tzinfo.utcoffset(None).total_seconds() == 14 * 3600  # not folded to -10:00
    assert plus14 < D.from_xsd("2023-01-01", D.Date)


def test_a_far_value_has_its_true_fields_and_refuses_to_be_ordered() -> None:
    bce = D.from_xsd("-0005-02-29Z", D.Date)
    assert (bce.year, bce.month, bce.day) == (-5, 2, 29)
    assert bce.tzinfo is not None and bce.tzinfo.utcoffset(None).total_seconds() == 0
    assert bce != D.from_xsd("-0001-02-29", D.Date)
    with pytest.raises(TypeError, match="outside the years"):
        _ = bce < D.from_xsd("2022-04-01", D.Date)
    with pytest.raises(TypeError, match="outside the years"):
        _ = D.from_xsd("2022-04-01", D.Date) > bce


@pytest.mark.parametrize(
    ("text", "type_"),
    [
        ("not a date", D.Date),
        ("-0002-02-29", D.Date),  # 2 BCE is no leap year: basyx's pattern matches, datetime cannot check
        ("0000-01-01", D.Date),  # no year 0 in XSD 1.0
        ("-0001-13-01T00:00:00", D.DateTime),
        ("-0444-13", D.GYearMonth),
    ],
)
def test_invalid_text_is_still_refused(text: str, type_: type) -> None:
    with pytest.raises(ValueError):  # basyx's message, or werk's "... is not a valid xs:date"
        D.from_xsd(text, type_)


def _submodel() -> model.Submodel:
    return model.Submodel(
        "urn:werk:test:values",
        qualifier=[
            model.Qualifier("zero", D.Int, value=0),
            model.Qualifier("no", D.Boolean, value=False),
            model.Qualifier("empty", D.String, value=""),
        ],
        submodel_element=[
            model.Property("Founded", D.Date, value=D.from_xsd("-0753-04-21", D.Date)),
            model.Range("Era", D.GYear, min=D.from_xsd("-0444", D.GYear), max=D.from_xsd("0730", D.GYear)),
        ],
    )


def _values(sm: model.Submodel) -> dict[str, str]:
    out = {q.type: D.xsd_repr(q.value) for q in sm.qualifier}
    prop = sm.get_referable("Founded")
    rng = sm.get_referable("Era")
    assert isinstance(prop, model.Property) and isinstance(rng, model.Range)
    out["Founded"] = D.xsd_repr(prop.value)
    out["Era"] = f"{D.xsd_repr(rng.min)}..{D.xsd_repr(rng.max)}"
    return out


EXPECTED = {"zero": "0", "no": "false", "empty": "", "Founded": "-0753-04-21", "Era": "-0444..0730"}


@pytest.mark.parametrize("metamodel", ["3.0", "3.1"])
def test_json_and_xml_export_keep_every_value(metamodel: str) -> None:
    sm = _submodel()
    assert _values(sm) == EXPECTED
    mm: aas_io.Metamodel = "3.1" if metamodel == "3.1" else "3.0"
    from_json = aas_io.read_json(aas_io.write_json([sm], metamodel=mm), metamodel=mm)
    from_xml = aas_io.read_xml(aas_io.write_xml([sm], metamodel=mm))
    for loaded in (from_json, from_xml):
        (back,) = list(loaded.objects)
        assert isinstance(back, model.Submodel)
        assert _values(back) == EXPECTED
    data = json.loads(aas_io.write_json([sm]))
    assert [q.get("value") for q in data["submodels"][0]["qualifiers"]] == ["0", "false", ""]


def test_persisted_values_survive_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "werk.db"
    p = TwinPersistence(db)
    store = TwinStore(p.load(), on_change=p.on_change)
    store.add(_submodel())
    p.close()
    p2 = TwinPersistence(db)
    (back,) = list(p2.load())
    p2.close()
    assert isinstance(back, model.Submodel)
    assert _values(back) == EXPECTED


def test_arithmetic_on_a_kept_value_gives_a_value_that_writes_its_own_fields() -> None:
    """datetime builds results through the subclass (``replace()`` even bypasses its constructor): such a result is
    its fields, not the text it was computed from."""
    utc = D.from_xsd("2022-04-01T01:02:03Z", D.DateTime)  # basyx would write +00:00: kept
    assert isinstance(utc, xsd_text.KeptText)
    later = utc + datetime.timedelta(hours=1)
    moved = utc.replace(hour=5)
    assert D.xsd_repr(later) == "2022-04-01T02:02:03+00:00"
    assert D.xsd_repr(moved) == "2022-04-01T05:02:03+00:00"
    assert pickle.loads(pickle.dumps(moved)) == moved and moved != utc
    long = D.from_xsd("PT130S", D.Duration)
    assert D.xsd_repr(long + long) == "PT4M20S"
    assert D.xsd_repr(D.from_xsd("24:00:00", D.Time).replace(hour=1)) == "01:00:00"
