"""The shift report as files people open: CSV and Excel, readable without the API's documentation.

Columns carry a readable title beside the ISO 22400-2 code (``Availability (A)``, ``Actual production time
(APT), s``); times are the plant's local time (Excel cells hold real dates, CSV cells ``YYYY-MM-DD HH:MM:SS``, and
the column title names the timezone); ratios are rounded to 0.01 % and times to 0.1 s, so a float's noise
(``1.42e-14``) never reaches a cell. Coverage and the low-coverage mark stand beside the KPIs, implausible
figures are named, and each target set in the plant file has a column beside its actual. Excel adds a sheet of
the stops and one of the downtime Pareto.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from werk.apps.oee.kpi import TARGET_KPIS
from werk.apps.oee.report import Row
from werk.apps.oee.stops import Stop

Kind = Literal["text", "time", "ratio", "seconds", "count", "flag"]
Cell = str | int | float | datetime | None

RATIO_DIGITS = 4  # 0.01 %
SECONDS_DIGITS = 1


@dataclass(frozen=True)
class Column:
    title: str
    kind: Kind
    get: Callable[[Row], object]
    width: int = 12


REPORT_COLUMNS: tuple[Column, ...] = (
    Column("Period", "text", lambda r: r.period, 18),
    Column("Level", "text", lambda r: r.level, 8),
    Column("Scope", "text", lambda r: r.report.scope, 28),
    Column("Start", "time", lambda r: r.report.start, 18),
    Column("End", "time", lambda r: r.report.end, 18),
    Column("Coverage", "ratio", lambda r: r.report.coverage),
    Column("Low coverage", "flag", lambda r: r.report.low_coverage),
    Column("OEE index (OEE)", "ratio", lambda r: r.report.oee),
    Column("Availability (A)", "ratio", lambda r: r.report.availability),
    Column("Effectiveness (E)", "ratio", lambda r: r.report.effectiveness),
    Column("Quality ratio (QR)", "ratio", lambda r: r.report.quality_ratio),
    Column("TEEP", "ratio", lambda r: r.report.teep),
    Column("Scrap ratio (SR)", "ratio", lambda r: r.report.scrap_ratio),
    Column("Mean time between failures (MTBF), s", "seconds", lambda r: r.report.mtbf_s),
    Column("Mean time to repair (MTTR), s", "seconds", lambda r: r.report.mttr_s),
    Column("Failure events (FE)", "count", lambda r: r.report.failures),
    Column("Produced quantity (PQ)", "count", lambda r: r.report.pq),
    Column("Good quantity (GQ)", "count", lambda r: r.report.gq),
    Column("Scrap quantity (SQ)", "count", lambda r: r.report.sq),
    Column("Planned operation time (POT), s", "seconds", lambda r: r.report.time.pot_s),
    Column("Planned down time (PDOT), s", "seconds", lambda r: r.report.time.pdot_s),
    Column("Planned busy time (PBT), s", "seconds", lambda r: r.report.time.pbt_s),
    Column("Observed busy time, s", "seconds", lambda r: r.report.time.observed_s),
    Column("Unobserved busy time, s", "seconds", lambda r: r.report.time.unknown_s),
    Column("Actual production time (APT), s", "seconds", lambda r: r.report.time.apt_s),
    Column("Actual unit setup time (AUST), s", "seconds", lambda r: r.report.time.aust_s),
    Column("Actual unit delay time (ADET), s", "seconds", lambda r: r.report.time.adet_s),
    Column("Actual unit down time (ADOT), s", "seconds", lambda r: r.report.time.adot_s),
    Column("Production outside POT, s", "seconds", lambda r: r.report.time.outside_s),
    Column("Implausible", "text", lambda r: "; ".join(f.message for f in r.report.flags), 40),
)
TARGET_TITLES = {
    "oee": "OEE target",
    "availability": "Availability target",
    "effectiveness": "Effectiveness target",
    "quality_ratio": "Quality ratio target",
    "teep": "TEEP target",
    "scrap_ratio": "Scrap ratio target",
    "mtbf_s": "MTBF target, s",
    "mttr_s": "MTTR target, s",
}


def report_columns(rows: Sequence[Row]) -> list[Column]:
    """The report's columns, with a target column for every KPI that has a target in any row."""
    present = [k for k in TARGET_KPIS if any(k in r.report.targets for r in rows)]
    targets = [
        Column(
            TARGET_TITLES[k],
            "seconds" if k.endswith("_s") else "ratio",
            lambda r, k=k: r.report.targets[k].target if k in r.report.targets else None,  # type: ignore[misc]
        )
        for k in present
    ]
    return [*REPORT_COLUMNS[:-1], *targets, REPORT_COLUMNS[-1]]


def _value(kind: Kind, v: object, tz: ZoneInfo) -> Cell:
    if v is None:
        return None
    if kind == "time":
        assert isinstance(v, datetime)
        return v.astimezone(tz).replace(tzinfo=None, microsecond=0)
    if kind == "ratio":
        return round(float(v), RATIO_DIGITS)  # type: ignore[arg-type]
    if kind == "seconds":
        return round(float(v), SECONDS_DIGITS)  # type: ignore[arg-type]
    if kind == "count":
        return int(v)  # type: ignore[call-overload, no-any-return]
    if kind == "flag":
        return "yes" if v else ""
    return str(v)


def _title(c: Column, tz: ZoneInfo) -> str:
    return f"{c.title} ({tz.key})" if c.kind == "time" else c.title


def report_csv(rows: Sequence[Row], timezone: str) -> str:
    tz = ZoneInfo(timezone)
    cols = report_columns(rows)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow([_title(c, tz) for c in cols])
    for row in rows:
        cells = [_value(c.kind, c.get(row), tz) for c in cols]
        w.writerow(
            ["" if v is None else v.isoformat(sep=" ") if isinstance(v, datetime) else v for v in cells]
        )
    return buf.getvalue()


STOP_COLUMNS: tuple[tuple[str, Kind, Callable[[Stop, datetime], object], int], ...] = (
    ("Asset", "text", lambda s, now: s.asset, 14),
    ("Start", "time", lambda s, now: s.start, 18),
    ("End", "time", lambda s, now: s.end, 18),
    ("Duration, s", "seconds", lambda s, now: s.duration_s(now), 12),
    ("First state", "text", lambda s, now: s.first_state, 12),
    ("States", "text", lambda s, now: " > ".join(s.states), 30),
    ("Reason", "text", lambda s, now: s.reason or "", 16),
    ("Reason from", "text", lambda s, now: s.reason_source, 10),
    ("Planned", "flag", lambda s, now: s.planned, 8),
    ("Micro-stop", "flag", lambda s, now: s.micro, 10),
)


def report_xlsx(
    rows: Sequence[Row],
    timezone: str,
    *,
    stops: Sequence[Stop] = (),
    pareto: Sequence[dict[str, object]] = (),
    now: datetime,
    status: Callable[[Stop], str] = lambda s: "",
) -> bytes:
    """The report, its stops and the downtime Pareto as an Excel workbook (dates in the plant's local time)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.worksheet import Worksheet

    tz = ZoneInfo(timezone)
    formats = {"time": "yyyy-mm-dd hh:mm:ss", "ratio": "0.00%", "seconds": "#,##0.0", "count": "#,##0"}

    def sheet(
        ws: Worksheet, titles: list[str], kinds: list[Kind], widths: list[int], data: list[list[Cell]]
    ) -> None:
        ws.append(titles)
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for values in data:
            ws.append(values)
        for i, (kind, width) in enumerate(zip(kinds, widths, strict=True), start=1):
            letter = get_column_letter(i)
            ws.column_dimensions[letter].width = max(width, min(60, len(titles[i - 1]) + 2))
            fmt = formats.get(kind)
            if fmt:
                for (cell,) in ws.iter_rows(min_row=2, min_col=i, max_col=i):
                    cell.number_format = fmt
        ws.freeze_panes = "A2"

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "OEE report"
    cols = report_columns(rows)
    sheet(
        ws,
        [_title(c, tz) for c in cols],
        [c.kind for c in cols],
        [c.width for c in cols],
        [[_value(c.kind, c.get(r), tz) for c in cols] for r in rows],
    )
    sheet(
        wb.create_sheet("Stops"),
        [f"{t} ({tz.key})" if k == "time" else t for t, k, _, _ in STOP_COLUMNS] + ["Status"],
        [k for _, k, _, _ in STOP_COLUMNS] + ["text"],
        [w for *_, w in STOP_COLUMNS] + [12],
        [[_value(k, get(s, now), tz) for _, k, get, _ in STOP_COLUMNS] + [status(s)] for s in stops],
    )
    sheet(
        wb.create_sheet("Pareto"),
        ["Reason", "Label", "Stops", "Duration, s"],
        ["text", "text", "count", "seconds"],
        [18, 34, 8, 12],
        [
            [
                str(p["reason"]),
                str(p.get("label", "")),
                _value("count", p["count"], tz),
                _value("seconds", p["duration_s"], tz),
            ]
            for p in pareto
        ],
    )
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
