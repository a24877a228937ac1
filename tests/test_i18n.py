"""Translations: every text the code marks is in its catalog, translated to German and Chinese with the same
fields; the language is negotiated as a browser and a shell ask for it; figures are written as the locale writes
them; ``werk check`` speaks the shell's language."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog

from tests.conftest import REPO
from tests.plugins import ANDON, installed
from werk.i18n import (
    DEFAULT,
    LANGUAGES,
    Source,
    Translator,
    accepted,
    env_language,
    extract,
    negotiate,
    po_path,
    read_catalog,
)
from werk.ui.catalogs import sources

FIELD = re.compile(r"\{(\w*)\}")


def _sources() -> Iterator[Source]:
    with installed(ANDON) as registry:
        yield from sources(registry)


SOURCES = list(_sources())


@pytest.fixture(params=SOURCES, ids=lambda s: s.root.name)
def source(request: pytest.FixtureRequest) -> Source:
    return request.param  # type: ignore[no-any-return]


def _key(msg: object) -> tuple[str | None, str]:
    context, msgid = getattr(msg, "context", None), getattr(msg, "id", "")
    return context, msgid if isinstance(msgid, str) else msgid[0]


def test_werk_and_every_registered_app_have_catalogs_for_every_language(source: Source) -> None:
    for lang in LANGUAGES:
        assert po_path(source.locale, lang).is_file(), f"{source.root.name} has no {lang} catalog"


def test_every_catalog_holds_every_text_the_code_marks_translated(source: Source) -> None:
    used: Catalog = extract(source)
    wanted = {_key(m) for m in used if m.id}
    for lang in LANGUAGES:
        catalog = read_catalog(po_path(source.locale, lang), lang)
        have = {_key(m): m for m in catalog if m.id}
        missing = sorted(wanted - have.keys(), key=str)
        assert missing == [], f"{po_path(source.locale, lang)} lacks {missing}: run `werk i18n update`"
        empty = sorted(str(k) for k, m in have.items() if not m.string or m.fuzzy)
        assert empty == [], f"{po_path(source.locale, lang)} has no translation for {empty}"


def test_translations_keep_the_fields_of_their_text(source: Source) -> None:
    for lang in LANGUAGES:
        for m in read_catalog(po_path(source.locale, lang), lang):
            if m.id and isinstance(m.id, str) and isinstance(m.string, str):
                assert set(FIELD.findall(m.string)) == set(FIELD.findall(m.id)), (lang, m.id, m.string)


def test_werk_knows_nothing_of_a_plug_in_but_translates_it_with_its_own_catalog() -> None:
    with installed(ANDON) as registry:
        folder = sources(registry, ["werk_andon"])[0].locale
        assert folder.is_relative_to(ANDON)
        de = Translator("de", [folder])
        assert de("Andon calls") == "Andon-Rufe" and de("Overview") == "Übersicht"
        assert Translator("zh", [folder])("pull the cord") == "拉动安灯绳"


def test_the_browsers_language_is_negotiated_and_the_switch_wins() -> None:
    assert accepted("fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5") == ["fr-CH", "fr", "en", "de"]
    assert negotiate("de-DE,de;q=0.9,en;q=0.8") == "de"
    assert negotiate("zh-CN,zh;q=0.9") == "zh"
    assert negotiate("fr-FR, de;q=0.5") == "de"
    assert negotiate("fr-FR") == DEFAULT and negotiate(None) == DEFAULT and negotiate("") == DEFAULT
    assert negotiate("de", chosen="zh") == "zh"
    assert negotiate("de", chosen="xx") == "de"


def test_the_command_line_speaks_the_language_of_its_environment() -> None:
    assert env_language({"LANG": "de_DE.UTF-8"}) == "de"
    assert env_language({"LANG": "de_DE.UTF-8", "LC_ALL": "zh_CN.UTF-8"}) == "zh"
    assert env_language({"LANG": "C.UTF-8"}) == "en"
    assert env_language({"LANG": "fr_FR.UTF-8"}) == "en"
    assert env_language({}) == "en"


def test_figures_are_written_as_the_locale_writes_them() -> None:
    de, zh, en = Translator("de").fmt, Translator("zh").fmt, Translator("en").fmt
    assert (
        de.percent(0.8734) == "87,3\u00a0%"
        and zh.percent(0.8734) == "87.3%"
        and en.percent(0.8734) == "87.3%"
    )
    assert de.number(12345.67, 1) == "12.345,7" and en.number(12345.67, 1) == "12,345.7"
    assert de.unit(15.24, "kW") == "15,2\u00a0kW"
    assert de.duration(42) == "42 Sek." and de.duration(600) == "10 Min." and de.duration(9000) == "2,5 Std."
    assert zh.duration(600) == "10分钟"
    assert de.percent(None) == "\u2013" and de.number("text") == "text"


def test_werk_check_says_what_is_wrong_in_german_and_chinese(tmp_path: Path) -> None:
    bad = tmp_path / "plant.yaml"
    bad.write_text(
        "plant:\n  enterprise: acme\n  sites: {s: {areas: {a: {lines: {l: {cells: {c: {assets: {m1: {kind: press}}}}}}}}}}\n"
        "  no_such_key: 1\n"
    )

    def check(lang: str) -> str:
        env = {**os.environ, "LANG": lang, "LC_ALL": "", "PYTHONPATH": str(REPO), "COLUMNS": "200"}
        out = subprocess.run(
            [sys.executable, "-m", "werk.cli", "check", str(bad)], env=env, capture_output=True, text=True
        )
        assert out.returncode == 2, out.stderr
        return out.stderr.replace("\n", " ")

    assert f"{bad}:4: plant.no_such_key: unknown key (check the spelling)" in check("C.UTF-8")
    german = check("de_DE.UTF-8")
    assert "Fehler:" in german and "ungültige Anlagendatei" in german
    assert f"{bad}:4: plant.no_such_key: unbekannter Schlüssel (Schreibweise prüfen)" in german
    assert "未知的键" in check("zh_CN.UTF-8")
