"""The alarm KPI report as an Excel workbook: the graded figures, the top-10 contributors, chattering alarms with
the delays and deadbands that would have removed their repeats, and the priority distribution. Shares are ratios formatted as
percent; times are UTC (the column titles say so)."""

from __future__ import annotations

import io
from dataclasses import asdict
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


def _sheet(wb: Workbook, title: str, header: list[str], rows: list[list[object]], widths: list[int]) -> None:
    ws = wb.create_sheet(title)
    ws.append(header)
    for c in ws[1]:
        c.font = Font(bold=True)
    for row in rows:
        ws.append(row)
    for i, w in enumerate(widths):
        ws.column_dimensions[chr(ord("A") + i)].width = w


def kpi_xlsx(r: KpiReport) -> bytes:
    wb = Workbook()
    wb.remove(wb.active)  # type: ignore[arg-type]
    start, end = r.start.replace(tzinfo=None), r.end.replace(tzinfo=None)
    rows: list[list[Any]] = [
        ["Start (UTC)", start, "", ""],
        ["End (UTC)", end, "", ""],
        ["Hours", round(r.hours, 3), "", ""],
        ["Operator positions", r.positions, "", ""],
        ["Activations", r.activations, "", ""],
        ["10-minute periods", r.periods, "", ""],
        ["10-minute periods in flood", r.flood_periods, "", ""],
        ["Standing at the end", r.standing, "", ""],
        *[[f"Now {k.replace('_', ' ')}", v, "", ""] for k, v in sorted(r.counts.items())],
        *[
            [TITLES.get(f.key, f.key), round(f.value, 4) if f.value is not None else None, f.target, f.grade]
            for f in r.figures
        ],
    ]
    _sheet(wb, "KPIs", ["Figure", "Value", "Target (ISA-18.2 / EEMUA 191)", "Grade"], rows, [46, 20, 30, 12])
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
        ["Alarm", "Activations", "Share", "Message"],
        [[c.tag, c.count, c.share, c.message] for c in r.top10],
        [30, 12, 10, 50],
    )
    _sheet(
        wb,
        "Chattering",
        [
            "Alarm",
            "Activations",
            "Off-delay that removes repeats, s",
            "Left with it",
            "On-delay, s",
            "Left with it",
        ],
        [
            [
                s["tag"],
                s["activations"],
                s["off_delay_s"],
                s["kept_with_off_delay"],
                s["on_delay_s"],
                s["kept_with_on_delay"],
            ]
            for s in map(asdict, r.suggestions)
        ],
        [30, 12, 32, 12, 12, 12],
    )
    _sheet(
        wb,
        "Deadbands",
        ["Alarm", "Deadband that removes repeats (signal unit)", "Activations as configured", "Left with it"],
        [[d.tag, d.deadband, d.activations, d.kept] for d in r.deadbands],
        [30, 40, 24, 12],
    )
    total = sum(r.priority.values())
    _sheet(
        wb,
        "Priorities",
        ["Priority", "Activations", "Share", "Target"],
        [
            [p, r.priority.get(p, 0), r.priority.get(p, 0) / total if total else None, t]
            for p, t in PRIORITY_TARGETS.items()
        ],
        [12, 12, 10, 10],
    )
    for name in ("Top 10", "Priorities"):
        for row in wb[name].iter_rows(min_row=2):
            row[2].number_format = "0.00%"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
