"""Translations and locale-aware formatting: werk's pages, its messages and every app's, in English, German and
Chinese.

Catalogs are gettext ``.po`` files: werk's own in ``werk/ui/locale/<lang>/LC_MESSAGES/messages.po``, each app's in
``<its package>/locale/<lang>/LC_MESSAGES/messages.po``. They are read when first needed (babel's ``read_po``) and
compiled in memory, not compiled to ``.mo`` files in a build: a checkout, an editable install and a plug-in
installed from its source tree all translate without a build step that someone can forget, and reading a dozen
small catalogs costs a few milliseconds once per process. Fuzzy and empty entries are left out, so they show the
English text rather than a guess.

A text is marked for extraction where it is written: ``_()`` or ``tr()`` where it is translated at once,
``N_()`` (and ``NC_()`` with a context) where it is data translated later (a nav title, a tile label, a state
name). ``werk i18n update`` extracts every marked text (Python, Jinja templates, ``t("...")`` in page scripts)
and updates the catalogs (:func:`update_catalogs`); a test fails when a catalog lacks one or a German or Chinese
entry is empty.

Adding a language: add its code to :data:`LANGUAGES` and a name to :data:`LANGUAGE_NAMES`, run
``werk i18n update`` (it creates the catalogs), translate the new ``.po`` files.

This module imports nothing of werk, so every layer may use it (the plant-file loader too).
"""

from __future__ import annotations

import copy
import functools
import io
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from babel import Locale, negotiate_locale
from babel.dates import format_datetime, format_time
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po
from babel.numbers import format_decimal, parse_pattern
from babel.support import NullTranslations, Translations
from babel.units import format_unit

#: the languages werk speaks; the first is the default and the language of every msgid
LANGUAGES: tuple[str, ...] = ("en", "de", "zh")
DEFAULT = LANGUAGES[0]
#: how the language switch names each language (in that language)
LANGUAGE_NAMES: Mapping[str, str] = {"en": "EN", "de": "DE", "zh": "中文"}
DOMAIN = "messages"
#: what a figure shows when there is no value (an en dash)
NO_VALUE = "\u2013"
#: extraction keywords: babel's defaults plus the two markers of data translated later
KEYWORDS: dict[str, Any] = {
    "_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "pgettext": ((1, "c"), 2),
    "tr": None,
    "t": None,
    "N_": None,
    "NC_": ((1, "c"), 2),
}
JS_KEYWORDS: dict[str, Any] = {"t": None}


def N_(message: str) -> str:
    """Marks ``message`` for the catalogs where it is data translated later (a title, a label)."""
    return message


def NC_(context: str, message: str) -> str:
    """:func:`N_` with a message context: the same English word that means two things (the state
    ``maintenance``, the app Maintenance)."""
    return message


def locale_dir(package: str) -> Path | None:
    """``<package>/locale`` when the package has one."""
    try:
        path = Path(str(resources.files(package).joinpath("locale")))
    except (ModuleNotFoundError, TypeError):
        return None
    return path if path.is_dir() else None


def werk_locale_dir() -> Path:
    """werk's own catalogs (the pages' frame, the overview, the plant-file messages)."""
    path = locale_dir("werk.ui")
    assert path is not None, "werk/ui/locale ships with werk"
    return path


def po_path(folder: Path, lang: str) -> Path:
    return folder / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalog(path: Path, lang: str) -> Catalog:
    with path.open("rb") as f:
        return read_po(f, locale=lang)


def _compiled(catalog: Catalog) -> Translations:
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return Translations(buf, domain=DOMAIN)


@functools.cache
def _translations(folders: tuple[Path, ...], lang: str) -> NullTranslations:
    """The catalogs of ``folders`` for ``lang`` merged; a later folder wins over an earlier one for the same
    msgid."""
    merged: NullTranslations | None = None
    for folder in folders:
        path = po_path(folder, lang)
        if not path.is_file():
            continue
        one = _compiled(read_catalog(path, lang))
        if merged is None:
            merged = one
        else:
            assert isinstance(merged, Translations)
            merged.merge(one)
    return merged if merged is not None else NullTranslations()


def _format(text: str, params: Mapping[str, Any]) -> str:
    return text.format(**params) if params else text


class Translator:
    """One language's texts and number formats. ``folders`` are catalog folders; werk's own comes last so an
    app cannot change how werk's frame reads."""

    def __init__(self, lang: str, folders: Sequence[Path] = ()) -> None:
        self.lang = lang if lang in LANGUAGES else DEFAULT
        self.locale = Locale.parse(self.lang)
        self._t = _translations((*folders, werk_locale_dir()), self.lang)
        self.fmt = Formatter(self.locale)

    def gettext(self, message: str, **params: Any) -> str:
        """``message`` in this language, its ``{name}`` fields filled from ``params``."""
        return _format(self._t.gettext(message), params)

    __call__ = gettext

    def ngettext(self, singular: str, plural: str, n: int, **params: Any) -> str:
        return _format(self._t.ngettext(singular, plural, n), {"n": n, **params})

    def pgettext(self, context: str, message: str, **params: Any) -> str:
        return _format(str(self._t.pgettext(context, message)), params)

    def messages(self, msgids: Iterable[str]) -> dict[str, str]:
        """The translations of ``msgids``, for a page's script."""
        return {m: self._t.gettext(m) for m in msgids}


class Formatter:
    """Numbers, percentages, dates and durations as the locale writes them (the pages' scripts use
    ``Intl.NumberFormat`` with the same locale, so a figure reads the same rendered here or there)."""

    def __init__(self, locale: Locale) -> None:
        self.locale = locale

    def number(self, x: object, digits: int = 1) -> str:
        if isinstance(x, bool) or not isinstance(x, int | float):
            return NO_VALUE if x is None else str(x)
        return format_decimal(x, format=f"#,##0.{'0' * digits}" if digits else "#,##0", locale=self.locale)

    def integer(self, x: object) -> str:
        return self.number(x, 0)

    def percent(self, x: object, digits: int = 1) -> str:
        """A ratio (0.873) as the locale writes a percentage ("87.3%", "87,3 %")."""
        if isinstance(x, bool) or not isinstance(x, int | float):
            return NO_VALUE
        pattern = parse_pattern(self.locale.percent_formats[None].pattern)
        pattern.frac_prec = (digits, digits)
        return str(pattern.apply(x, self.locale))

    def unit(self, x: object, unit: str, digits: int = 1) -> str:
        """A number and its unit symbol ("12.5 kW"); units are symbols, the same in every language."""
        text = self.number(x, digits)
        return f"{text}\u00a0{unit}" if unit and text != NO_VALUE else text

    def duration(self, seconds: float | None) -> str:
        """A duration in the largest unit that keeps it readable: seconds below 90 s, minutes below 90 min."""
        if seconds is None:
            return NO_VALUE
        if seconds < 90:
            return format_unit(round(seconds), "duration-second", length="short", locale=self.locale)
        if seconds < 5400:
            return format_unit(round(seconds / 60), "duration-minute", length="short", locale=self.locale)
        value = format_decimal(seconds / 3600, format="#,##0.0", locale=self.locale)
        return format_unit(value, "duration-hour", length="short", locale=self.locale)

    def since(self, ts: datetime | None, now: datetime) -> str:
        """How long ago ``ts`` was, in the units of :meth:`duration`."""
        return NO_VALUE if ts is None else self.duration(max(0.0, (now - ts) / timedelta(seconds=1)))

    def time(self, ts: datetime, tz: str | None = None) -> str:
        return format_time(ts, format="medium", tzinfo=_tz(tz), locale=self.locale)

    def datetime(self, ts: datetime, tz: str | None = None) -> str:
        return format_datetime(ts, format="short", tzinfo=_tz(tz), locale=self.locale)


def _tz(name: str | None) -> Any:
    if name is None:
        return None
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


# -- which language ---------------------------------------------------------------------------------------------

_QUALITY = re.compile(r"^\s*q\s*=\s*([0-9.]+)\s*$")


def accepted(header: str | None) -> list[str]:
    """The languages of an ``Accept-Language`` header, most wanted first (RFC 9110 §12.5.4)."""
    weighted: list[tuple[float, int, str]] = []
    for i, part in enumerate((header or "").split(",")):
        tag, *params = part.strip().split(";")
        q = 1.0
        for p in params:
            if m := _QUALITY.match(p):
                try:
                    q = float(m.group(1))
                except ValueError:
                    q = 0.0
        if tag and tag != "*" and q > 0:
            weighted.append((-q, i, tag.strip()))
    return [tag for _, _, tag in sorted(weighted)]


def negotiate(accept_language: str | None, chosen: str | None = None) -> str:
    """The page's language: ``chosen`` (the switch's cookie) when werk speaks it, else the browser's best match
    among :data:`LANGUAGES` (``zh-CN`` is ``zh``), else English."""
    if chosen in LANGUAGES:
        return chosen
    found = negotiate_locale(accepted(accept_language), LANGUAGES, sep="-")
    return found if found in LANGUAGES else DEFAULT


def env_language(environ: Mapping[str, str] | None = None) -> str:
    """The language of the command line: ``LC_ALL``, ``LC_MESSAGES``, then ``LANG`` (``de_DE.UTF-8`` is
    ``de``); English where none names one werk speaks."""
    env = os.environ if environ is None else environ
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(var, "")
        if value:
            lang = value.split(".")[0].split("@")[0].replace("_", "-").split("-")[0].lower()
            return lang if lang in LANGUAGES else DEFAULT
    return DEFAULT


@functools.cache
def _env_translator(lang: str) -> Translator:
    return Translator(lang)


def tr(message: str, **params: Any) -> str:
    """``message`` in the command line's language (:func:`env_language`), from werk's own catalog."""
    return _env_translator(env_language()).gettext(message, **params)


# -- catalogs ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """What one catalog is extracted from: a package folder, less the sub-folders that have catalogs of their
    own (werk's apps)."""

    root: Path
    locale: Path
    exclude: tuple[Path, ...] = ()


METHOD_MAP = [
    ("**/static/vendor/**", "ignore"),
    ("**.py", "python"),
    ("**/templates/**.html", "jinja2.ext:babel_extract"),
    ("**/static/**.js", "javascript"),
]


def extract(source: Source) -> Catalog:
    """Every marked text of ``source``, with where it is used."""
    catalog = Catalog(domain=DOMAIN, project="werk", charset="utf-8")
    excluded = [str(p) for p in source.exclude]

    def keep(filename: str, method: str, options: dict[str, Any]) -> bool:
        path = str(source.root / filename)
        return not any(path == e or path.startswith(e + os.sep) for e in excluded)

    found = extract_from_dir(
        str(source.root),
        method_map=METHOD_MAP,
        options_map={"**/static/**.js": {"keywords": JS_KEYWORDS}},
        keywords=KEYWORDS,
        comment_tags=("translators:",),
        callback=None,
        strip_comment_tags=True,
        directory_filter=None,
    )
    for filename, lineno, message, comments, context in found:
        if not keep(filename, "", {}):
            continue
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def update_catalogs(source: Source, languages: Sequence[str] = LANGUAGES) -> list[Path]:
    """Brings every language's catalog of ``source`` in line with its code: new texts added (English filled in
    from the msgid, other languages empty), texts the code dropped removed, locations refreshed."""
    template = extract(source)
    written = []
    for lang in languages:
        path = po_path(source.locale, lang)
        if path.is_file():
            catalog = read_catalog(path, lang)
        else:
            catalog = Catalog(locale=lang, domain=DOMAIN, project="werk", charset="utf-8", fuzzy=False)
        created = catalog.creation_date
        # update() takes the template's new entries as they are: each language gets its own copy
        catalog.update(copy.deepcopy(template), no_fuzzy_matching=True)
        # a header that changes at every run would make every update a change of every catalog
        catalog.creation_date = created
        catalog.obsolete.clear()
        if lang == DEFAULT:
            for msg in catalog:
                if msg.id and not msg.string:
                    msg.string = msg.id
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as f:
            write_po(f, catalog, width=110, omit_header=False, sort_output=False)
        written.append(path)
    return written


def catalog_msgids(folder: Path, *, scripts_only: bool = False) -> frozenset[str]:
    """The msgids of a catalog folder (its English catalog lists them all); with ``scripts_only``, those used
    in page scripts."""
    path = po_path(folder, DEFAULT)
    if not path.is_file():
        return frozenset()
    catalog = read_catalog(path, DEFAULT)
    return frozenset(
        m.id
        for m in catalog
        if isinstance(m.id, str)
        and m.id
        and not m.context
        and (not scripts_only or any(f.endswith(".js") for f, _ in m.locations))
    )
