"""The energy report as files people open: CSV and Excel (rows per scope and period, the site's peaks, what was
held back). Times are the plant's local time; figures rounded so a float's noise never reaches a cell."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("Period", "period", 18),
    ("Level", "level", 8),
    ("Scope", "scope", 36),
    ("Energy", "energy", 12),
    ("Unit", "unit", 6),
    ("Cost", "cost", 12),
    ("CO2e, kg", "co2_kg", 12),
    ("15-min peak, kW", "peak_kw", 14),
    ("Peak at", "peak_at", 18),
    ("Coverage", "coverage", 10),
    ("Good parts", "parts", 10),
    ("kWh per part", "kwh_per_part", 12),
    ("Target kWh per part", "target_kwh_per_part", 12),
    ("Cost per part", "cost_per_part", 12),
    ("CO2e per part, kg", "co2_kg_per_part", 12),
    ("Idle energy", "idle", 12),
)
DIGITS = {
    "energy": 3,
    "cost": 2,
    "co2_kg": 3,
    "peak_kw": 3,
    "coverage": 4,
    "kwh_per_part": 4,
    "target_kwh_per_part": 4,
    "cost_per_part": 4,
    "co2_kg_per_part": 4,
    "idle": 3,
}
IDLE = ("idle", "starved", "blocked")


def _cell(row: Mapping[str, Any], key: str, tz: ZoneInfo) -> object:
    if key == "idle":
        states = row.get("states")
        v: Any = sum(x for k, x in states.items() if k in IDLE) if states else None
    else:
        v = row.get(key)
    if v is None:
        return None
    if key == "peak_at":
        return datetime.fromisoformat(str(v)).astimezone(tz).replace(tzinfo=None)
    if key in DIGITS and isinstance(v, float):
        return round(v, DIGITS[key])
    return v


def report_csv(report: Mapping[str, Any]) -> str:
    tz = ZoneInfo(report["timezone"])
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow([t if k != "peak_at" else f"{t} ({report['timezone']})" for t, k, _ in COLUMNS])
    for r in report["rows"]:
        w.writerow(
            [
                ""
                if (c := _cell(r, k, tz)) is None
                else (c.strftime("%Y-%m-%d %H:%M") if isinstance(c, datetime) else c)
                for _, k, _ in COLUMNS
            ]
        )
    return out.getvalue()


def report_xlsx(report: Mapping[str, Any]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    tz = ZoneInfo(report["timezone"])
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Energy"
    ws.append([t if k != "peak_at" else f"{t} ({report['timezone']})" for t, k, _ in COLUMNS])
    for r in report["rows"]:
        ws.append([_cell(r, k, tz) for _, k, _ in COLUMNS])
    for i, (_, k, width) in enumerate(COLUMNS, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
        ws.cell(1, i).font = Font(bold=True)
        if k == "peak_at":
            for row in ws.iter_rows(min_row=2, min_col=i, max_col=i):
                row[0].number_format = "yyyy-mm-dd hh:mm"
    ws.freeze_panes = "A2"
    peaks = wb.create_sheet("Site peaks")
    peaks.append(["Period", "15-min peak, kW", f"Peak at ({report['timezone']})", "Peak limit, kW"])
    for p in report["peaks"]:
        at = (
            datetime.fromisoformat(p["peak_at"]).astimezone(tz).replace(tzinfo=None) if p["peak_at"] else None
        )
        peaks.append([p["period"], round(p["peak_kw"], 3), at, report.get("peak_limit_kw")])
    held = wb.create_sheet("Held back")
    held.append(["Asset", "Kind", "Start", "End", "Reading", "Step"])
    for a in _anomalies(report["anomalies"], tz):
        held.append(a)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _anomalies(items: Sequence[Mapping[str, Any]], tz: ZoneInfo) -> list[list[object]]:
    def local(s: str) -> datetime:
        return datetime.fromisoformat(s).astimezone(tz).replace(tzinfo=None)

    return [
        [a["asset"], a["kind"], local(a["start"]), local(a["end"]), a["value"], a["amount"]] for a in items
    ]
