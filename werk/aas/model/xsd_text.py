"""Date, time and duration values kept as the text they came as, where basyx-python-sdk cannot hold them or would
write them back changed.

The AAS metamodel types values by XSD (IDTA-01001 Part 1, 5.3.11 ``DataTypeDefXsd``), and xs:date, xs:dateTime,
xs:gYear and xs:gYearMonth allow any year but 0: negative ones and years of any number of digits (the aas-core3.0
test corpus has 185 such documents among the Expected ones). basyx-python-sdk holds these in Python's ``datetime``,
which has no year before 1 or after 9999, so it refuses them; it writes a negative or three-digit xs:gYear and
xs:gYearMonth with too few digits (``-444`` for ``-0444``, ``730-10`` for ``0730-10``), which is not valid XSD; and
it folds a time-zone offset beyond ±12:00 to the other side of the date line (``+14:00`` comes back as ``-10:00``,
which is another day); and it writes a duration's days through a float, so a large xs:duration comes back another
value.

basyx converts every value through two functions of ``basyx.aas.model.datatypes``, ``from_xsd`` (text to value) and
``xsd_repr`` (value to text), which its JSON and XML readers and writers call through the module. :func:`install`
wraps those two functions; that is the one place werk patches basyx rather than wrapping it from outside, because
the alternative is a copy of a dozen reader and writer methods. The wrap changes nothing for a value basyx writes
back as it was read: such a value stays a plain basyx object. A date, time or duration value whose text basyx would
write back differently, or cannot hold, becomes an instance of a subclass of basyx's type that remembers its text,
and is written back as that text. Within Python's range it still has its fields, compares and computes as the basyx
value does, and date arithmetic on it gives a plain basyx value; beyond it (a *far* value), it has its true year,
month and day, its text as ``str()`` and ``isoformat()``, compares equal by its text and refuses to be ordered,
because a wrong answer would be worse than none. Other datetime methods of a far value (``weekday()``, arithmetic)
answer for its placeholder, year 1: do not compute with far values.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from typing import Any

import aas_core3.types as aas_types
import aas_core3.verification as aas_verification
from basyx.aas.model import datatypes

# Year, month and day of the date types, with any number of year digits (XSD 1.1 ``dateTimeLexicalRep``).
_YEAR_MONTH_DAY = re.compile(r"^(-?\d{4,})(?:-(\d\d))?(?:-(\d\d))?")
_ZONE = re.compile(r"(Z|[+-]\d\d:\d\d)$")

_basyx_from_xsd: Callable[[str, type], Any] = datatypes.from_xsd
_basyx_xsd_repr: Callable[[Any], str] = datatypes.xsd_repr


class KeptText:
    """Mixin: the value's text as it was read, and, for a far value, its true year, month and day."""

    # None on an instance datetime's C code built through the subclass without this module (``replace()`` in
    # Python 3.11 does): such a value is its fields, as a plain basyx value is
    text: str | None = None
    far: bool = False
    _ymd: tuple[int, int, int] = (0, 1, 1)

    def _keep(self, text: str, far: bool) -> None:
        self.text = text
        self.far = far
        m = _YEAR_MONTH_DAY.match(text)
        self._ymd = (int(m[1]), int(m[2] or 1), int(m[3] or 1)) if m else (0, 1, 1)

    def __reduce__(self) -> tuple[Any, ...]:
        if self.text is None:
            return _plain(self).__reduce__()  # type: ignore[no-any-return]
        return from_xsd, (self.text, _basyx_type(type(self)))

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:  # datetime's own would drop the text
        return self.__reduce__()

    def __copy__(self) -> KeptText:
        return self  # values are immutable

    def __deepcopy__(self, memo: dict[int, Any]) -> KeptText:
        return self

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.text!r})" if self.text is not None else repr(_plain(self))

    def __str__(self) -> str:
        return self.text if self.text is not None else str(_plain(self))

    def isoformat(self, *args: Any, **kwargs: Any) -> str:
        """The text of a far value (its datetime fields are a placeholder); else datetime's own."""
        if self.far and self.text is not None:
            return self.text
        result: str = super().isoformat(*args, **kwargs)  # type: ignore[misc]
        return result

    def __eq__(self, other: object) -> bool:
        if isinstance(other, KeptText) and (self.far or other.far):
            return self.text == other.text
        if self.far:
            return False
        result: bool = super().__eq__(other)
        return result

    def __ne__(self, other: object) -> bool:  # datetime's own would compare the placeholder
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    def __hash__(self) -> int:
        if self.far:
            return hash(self.text)
        inherited = super().__hash__
        if inherited is None:  # basyx's g-types are unhashable
            raise TypeError(f"unhashable type: {type(self).__name__!r}")
        return inherited()

    def _unordered(self, other: object) -> bool:
        far = self.text if self.far else getattr(other, "text", "")
        raise TypeError(f"{far!r} lies outside the years Python can order (1 to 9999)")

    def __lt__(self, other: object) -> bool:
        return self._unordered(other) if self.far or _is_far(other) else super().__lt__(other)  # type: ignore[misc]

    def __le__(self, other: object) -> bool:
        return self._unordered(other) if self.far or _is_far(other) else super().__le__(other)  # type: ignore[misc]

    def __gt__(self, other: object) -> bool:
        return self._unordered(other) if self.far or _is_far(other) else super().__gt__(other)  # type: ignore[misc]

    def __ge__(self, other: object) -> bool:
        return self._unordered(other) if self.far or _is_far(other) else super().__ge__(other)  # type: ignore[misc]


def _is_far(value: object) -> bool:
    return isinstance(value, KeptText) and value.far


def _date_field(base: Any, name: str, index: int) -> Any:
    """The true year, month or day of a far value; the inherited field of any other."""
    inherited = getattr(base, name)

    def get(self: KeptText) -> int:
        return self._ymd[index] if self.far else int(inherited.__get__(self))

    return property(get)


class KeptDate(KeptText, datatypes.Date):
    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        # what date arithmetic and replace() build through the subclass: a plain basyx value, not a kept text
        return datatypes.Date(*args, **kwargs)

    year = _date_field(datetime.date, "year", 0)
    month = _date_field(datetime.date, "month", 1)
    day = _date_field(datetime.date, "day", 2)


class KeptDateTime(KeptText, datetime.datetime):
    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        return datetime.datetime(*args, **kwargs)  # as KeptDate: arithmetic gives a plain value

    year = _date_field(datetime.datetime, "year", 0)
    month = _date_field(datetime.datetime, "month", 1)
    day = _date_field(datetime.datetime, "day", 2)


class KeptTime(KeptText, datetime.time):
    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        return datetime.time(*args, **kwargs)  # as KeptDate: replace() gives a plain value


class KeptDuration(KeptText, datatypes.Duration):  # type: ignore[misc]
    """basyx writes a duration's days through a float (``{:.0f}``), so a large one would come back another value."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        # relativedelta's arithmetic builds ``self.__class__(...)``: give it a plain one (never initialised twice:
        # the result is no instance of cls)
        return datatypes.Duration(*args, **kwargs)


class KeptGYear(KeptText, datatypes.GYear):
    pass


class KeptGYearMonth(KeptText, datatypes.GYearMonth):
    pass


class KeptGMonthDay(KeptText, datatypes.GMonthDay):
    pass


class KeptGDay(KeptText, datatypes.GDay):
    pass


class KeptGMonth(KeptText, datatypes.GMonth):
    pass


# The date, time and duration types whose text basyx may change or cannot hold. Numbers and strings are left to
# basyx: its rewrites of those (``+1`` as ``1``, ``1E3`` as ``1000.0``) are the same value in XSD.
_KEPT: dict[type, type[KeptText]] = {
    datatypes.Duration: KeptDuration,
    datatypes.Date: KeptDate,
    datatypes.DateTime: KeptDateTime,
    datatypes.Time: KeptTime,
    datatypes.GYear: KeptGYear,
    datatypes.GYearMonth: KeptGYearMonth,
    datatypes.GMonthDay: KeptGMonthDay,
    datatypes.GDay: KeptGDay,
    datatypes.GMonth: KeptGMonth,
}


def _basyx_type(kept: type) -> type:
    return next(base for base, sub in _KEPT.items() if sub is kept)


# the constructors of basyx's C-backed types, called on Kept subclasses (typeshed cannot type that)
_NEW_DATETIME: Any = datetime.datetime.__new__
_NEW_DATE: Any = datatypes.Date.__new__
_NEW_TIME: Any = datetime.time.__new__


def _kept(value: Any, text: str) -> KeptText:
    """The same value as a Kept subclass instance, with every field basyx parsed."""
    kind: Any = _KEPT[type(value)]
    obj: Any
    v: Any = value
    if isinstance(value, datetime.datetime):
        obj = _NEW_DATETIME(kind, v.year, v.month, v.day, v.hour, v.minute, v.second, v.microsecond, v.tzinfo)
    elif isinstance(value, datetime.date):
        obj = _NEW_DATE(kind, v.year, v.month, v.day, v.tzinfo)
    elif isinstance(value, datetime.time):
        obj = _NEW_TIME(kind, v.hour, v.minute, v.second, v.microsecond, v.tzinfo)
    elif isinstance(value, datatypes.Duration):
        obj = object.__new__(kind)
        obj.__dict__.update(value.__dict__)
    else:
        obj = object.__new__(kind)
        for slot in type(value).__slots__:
            setattr(obj, slot, getattr(value, slot))
    obj._keep(text, far=False)
    return obj  # type: ignore[no-any-return]


def _far(text: str, type_: type) -> KeptText:
    """A date or date-time beyond Python's years: basyx's regular expression accepted the text, datetime could not
    hold it. Its time zone is the text's; its other datetime fields are a placeholder; :class:`KeptDate` and
    :class:`KeptDateTime` answer the true year, month and day."""
    obj: Any
    zone = _ZONE.search(text)
    tzinfo = datatypes._parse_xsd_date_tzinfo(zone[0]) if zone else None
    if type_ is datatypes.Date:
        obj = _NEW_DATE(KeptDate, 1, 1, 1, tzinfo)
    else:
        obj = _NEW_DATETIME(KeptDateTime, 1, 1, 1, tzinfo=tzinfo)
    obj._keep(text, far=True)
    return obj  # type: ignore[no-any-return]


def from_xsd(value: str, type_: type) -> Any:
    """basyx's ``from_xsd``, keeping the text of a date, time or duration value basyx would not write back as it
    came. A kept value is checked against XSD by aas-core first (basyx's patterns let an invalid date such as
    ``-0002-02-29`` through to datetime, which would have refused it had the year been in range)."""
    if type_ not in _KEPT:
        return _basyx_from_xsd(value, type_)
    try:
        parsed = _basyx_from_xsd(value, type_)
    except NotImplementedError:  # basyx: a year before 1 or after 9999 (its pattern matched)
        return _far(_checked(value, type_), type_)
    try:
        same = _basyx_xsd_repr(parsed) == value
    except (ValueError, OverflowError):  # basyx cannot write it (a time zone on a year beyond datetime's)
        same = False
    return parsed if same else _kept(parsed, _checked(value, type_))


def _checked(value: str, type_: type) -> str:
    name = datatypes.XSD_TYPE_NAMES[type_]
    if not aas_verification.value_consistent_with_xsd_type(value, aas_types.DataTypeDefXSD(name)):
        raise ValueError(f"{value!r} is not a valid {name}")
    return value


def xsd_repr(value: Any) -> str:
    """basyx's ``xsd_repr``, writing a kept value as the text it came as."""
    if isinstance(value, KeptText):
        return value.text if value.text is not None else _basyx_xsd_repr(_plain(value))
    return _basyx_xsd_repr(value)


def _plain(value: Any) -> Any:
    """The basyx value with the same fields as a kept one."""
    if isinstance(value, datetime.datetime):
        fields = (
            value.year,
            value.month,
            value.day,
            value.hour,
            value.minute,
            value.second,
            value.microsecond,
        )
        return datetime.datetime(*fields, value.tzinfo, fold=value.fold)
    if isinstance(value, datetime.date):
        # basyx's Date keeps its zone in _tzinfo, which a copy built by datetime's C code lacks
        return datatypes.Date(value.year, value.month, value.day, getattr(value, "_tzinfo", None))
    if isinstance(value, datetime.time):
        return datetime.time(
            value.hour, value.minute, value.second, value.microsecond, value.tzinfo, fold=value.fold
        )
    return value


def install() -> None:
    """Wrap basyx's two conversion functions (idempotent). Called when :mod:`werk.twin` is imported, so every
    reader and writer of werk's twins, and basyx's own, go through it."""
    datatypes.from_xsd = from_xsd
    datatypes.xsd_repr = xsd_repr
