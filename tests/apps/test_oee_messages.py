"""What werk says about a figure and the orders it opens is a message with values, so a page shows it in the
reader's language: implausible-KPI flags and werk's own work-order titles, in German and Chinese."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, time

from werk.apps.maintenance.orders import WorkOrder, title_of
from werk.apps.oee.api import flag_text
from werk.apps.oee.kpi import StateInterval, kpis, time_model
from werk.apps.oee.shifts import ShiftCalendar, ShiftDef
from werk.i18n import Translator, locale_dir


def _tr(lang: str, package: str) -> Translator:
    folder = locale_dir(package)
    assert folder is not None
    return Translator(lang, [folder])


def _flags() -> list[dict[str, object]]:
    """1 h running, PRI 60 s, 90 parts: effectiveness, OEE and TEEP 150 %."""
    win = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, 1, tzinfo=UTC))
    cal = ShiftCalendar("UTC", (ShiftDef("d", time(0), time(0)),))
    tm = time_model([StateInterval(*win, "running")], cal.periods(*win), win)
    return [dataclasses.asdict(f) for f in kpis("m", win, tm, pq=90, gq=90, failures=0, pri_s=60.0).flags]


def test_a_flag_keeps_its_english_message_and_reads_in_german_and_chinese() -> None:
    flags = _flags()
    assert str(flags[0]["message"]).startswith(
        "effectiveness 150.0%: more parts than the ideal cycle time (60 s)"
    )
    de = _tr("de", "werk.apps.oee")
    zh = _tr("zh", "werk.apps.oee")
    german = flag_text(de, flags[0])
    assert german.startswith("Leistung 150,0\u00a0%") and "60,0\u00a0s" in german, german
    assert flag_text(de, flags[1]) == "OEE 150,0\u00a0% liegt über 100 %"
    chinese = flag_text(zh, flags[0])
    assert chinese.startswith("性能 150.0%") and "理想节拍" in chinese, chinese
    # no msgid (a flag from before): its English message as it is
    assert flag_text(de, {"message": "old text"}) == "old text"


def test_werks_own_work_order_titles_are_translated_and_a_persons_are_not() -> None:
    de = _tr("de", "werk.apps.maintenance")
    ours = WorkOrder(
        "a1", "cnc-1", "Inspect cnc-1: abnormal behaviour", datetime.now(UTC), "werk", source="anomaly"
    )
    assert title_of(ours) == "Inspect cnc-1: abnormal behaviour"
    assert title_of(ours, de) == "cnc-1 prüfen: auffälliges Verhalten"
    rul = dataclasses.replace(ours, source="rul")
    assert title_of(rul, _tr("zh", "werk.apps.maintenance")) == "检查 cnc-1\uff1a剩余使用寿命低"
    theirs = dataclasses.replace(ours, created_by="olga", source="manual", title="Spindel tauschen")
    assert title_of(theirs, de) == "Spindel tauschen"
