"""The alarm KPI report as an Excel workbook: the graded figures, the top-10 contributors, chattering alarms with
the delays and deadbands that would have removed their repeats, and the priority distribution. Shares are ratios formatted as
percent; times are UTC (the column titles say so). A grade "too short" is a rate over less than an hour werk
watched."""

from __future__ import annotations

import io
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font

from werk.apps.alarms.kpi import PRIORITY_TARGETS, KpiReport

TITLES = {
    "per_hour": "Alarms per operator position per hour",
    "per_10min": "Alarms per operator position per 10 minutes",
    "peak_10min": "Peak alarms in 10 minutes",
    "flood_share": "10-minute periods in flood",
    "top10_share": "Share of the top 10 alarms",
    "chattering": "Chattering alarms",
    "stale": "Stale alarms (active over 24 h)",
    "priority": "Priority distribution, largest deviation",
}
SHARES = frozenset({"flood_share", "top10_share", "priority"})


def _sheet(wb: Workbook, title: str, columns: list[tuple[str, int]], rows: list[list[Any]]) -> None:
    """A sheet of ``rows`` under a bold header; ``columns``: each column's title and width."""
    ws = wb.create_sheet(title)
    ws.append([name for name, _ in columns])
    for c in ws[1]:
        c.font = Font(bold=True)
    for row in rows:
        ws.append(row)
    for i, (_, width) in enumerate(columns):
        ws.column_dimensions[chr(ord("A") + i)].width = width


def kpi_xlsx(r: KpiReport) -> bytes:
    wb = Workbook()
    wb.remove(wb.active)  # type: ignore[arg-type]
    start, end = r.start.replace(tzinfo=None), r.end.replace(tzinfo=None)
    rows: list[list[Any]] = [
        ["Start (UTC)", start, "", ""],
        ["End (UTC)", end, "", ""],
        ["Hours", round(r.hours, 3), "", ""],
        ["Hours observed (rates and flood share are over these)", round(r.observed_hours, 3), "", ""],
        ["Operator positions", r.positions, "", ""],
        ["Activations", r.activations, "", ""],
        ["10-minute periods observed", r.periods, "", ""],
        ["10-minute periods in flood", r.flood_periods, "", ""],
        ["Standing at the end", r.standing, "", ""],
        *[[f"Now {k.replace('_', ' ')}", v, "", ""] for k, v in sorted(r.counts.items())],
        *[
            [TITLES.get(f.key, f.key), round(f.value, 4) if f.value is not None else None, f.target, f.grade]
            for f in r.figures
        ],
    ]
    _sheet(
        wb,
        "KPIs",
        [("Figure", 46), ("Value", 20), ("Target (ISA-18.2 / EEMUA 191)", 30), ("Grade", 12)],
        rows,
    )
    ws = wb["KPIs"]
    for row in ws.iter_rows(min_row=2):
        if isinstance(row[1].value, type(start)):
            row[1].number_format = "yyyy-mm-dd hh:mm:ss"
    for i, f in enumerate(r.figures):
        if f.key in SHARES:
            ws.cell(row=len(rows) - len(r.figures) + i + 2, column=2).number_format = "0.00%"
    _sheet(
        wb,
        "Top 10",
        [("Alarm", 30), ("Activations", 12), ("Share", 10), ("Message", 50)],
        [[c.tag, c.count, c.share, c.message] for c in r.top10],
    )
    _sheet(
        wb,
        "Chattering",
        [
            ("Alarm", 30),
            ("Activations", 12),
            ("Off-delay that removes repeats, s", 32),
            ("Left with it", 12),
            ("On-delay, s", 12),
            ("Left with it", 12),
        ],
        [
            [s.tag, s.activations, s.off_delay_s, s.kept_with_off_delay, s.on_delay_s, s.kept_with_on_delay]
            for s in r.suggestions
        ],
    )
    _sheet(
        wb,
        "Deadbands",
        [
            ("Alarm", 30),
            ("Deadband that removes repeats (signal unit)", 40),
            ("Activations as configured", 24),
            ("Left with it", 12),
        ],
        [[d.tag, d.deadband, d.activations, d.kept] for d in r.deadbands],
    )
    total = sum(r.priority.values())
    _sheet(
        wb,
        "Priorities",
        [("Priority", 12), ("Activations", 12), ("Share", 10), ("Target", 10)],
        [
            [p, r.priority.get(p, 0), r.priority.get(p, 0) / total if total else None, t]
            for p, t in PRIORITY_TARGETS.items()
        ],
    )
    for name in ("Top 10", "Priorities"):
        for row in wb[name].iter_rows(min_row=2):
            row[2].number_format = "0.00%"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
