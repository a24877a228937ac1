"""The shift report as CSV and Excel: local dates, readable titles beside ISO 22400 codes, rounded values, stops."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, time, timedelta

from openpyxl import load_workbook

from werk.apps.oee.export import report_csv, report_xlsx
from werk.apps.oee.kpi import against, kpis, time_model
from werk.apps.oee.report import Row
from werk.apps.oee.shifts import ShiftCalendar, ShiftDef
from werk.apps.oee.stops import Stop, pareto

A = datetime(2026, 6, 1, 4, tzinfo=UTC)  # 06:00 in Berlin (summer time)
Z = A + timedelta(hours=8)


def rows() -> list[Row]:
    from werk.apps.oee.kpi import StateInterval

    cal = ShiftCalendar("UTC", (ShiftDef("d", time(0), time(0)),))
    # a running time whose ratio to the window is not a short binary fraction: float noise in the sums
    iv = [
        StateInterval(A, A + timedelta(seconds=10_000.1), "running"),
        StateInterval(A + timedelta(seconds=10_000.1), Z, "idle"),
    ]
    tm = time_model(iv, cal.periods(A, Z), (A, Z))
    tm.unknown_s = 1.42e-14
    r = kpis("cnc-1", (A, Z), tm, pq=300, gq=297, failures=1, pri_s=30.0, min_coverage=0.9)
    r.targets = against(r, {"oee": 0.65, "mttr_s": 600})
    return [Row("2026-06-01/early", "asset", r)]


def test_csv_has_readable_titles_local_times_and_rounded_values() -> None:
    header, line = list(csv.reader(io.StringIO(report_csv(rows(), "Europe/Berlin"))))
    cells = dict(zip(header, line, strict=True))
    assert cells["Start (Europe/Berlin)"] == "2026-06-01 06:00:00"
    assert cells["Availability (A)"] == "0.3472" and cells["Unobserved busy time, s"] == "0.0"
    assert cells["Actual production time (APT), s"] == "10000.1"
    assert cells["OEE target"] == "0.65" and cells["MTTR target, s"] == "600.0"
    assert cells["Coverage"] == "1.0" and cells["Low coverage"] == ""
    assert "e-" not in ",".join(line)


def test_excel_has_dates_widths_percentages_and_sheets_for_stops_and_the_pareto() -> None:
    stop = Stop("cnc-1", A + timedelta(hours=1), "fault", A + timedelta(hours=1, minutes=10), ["fault"])
    now = Z
    body = report_xlsx(rows(), "Europe/Berlin", stops=[stop], pareto=pareto([stop], now, 300), now=now)
    wb = load_workbook(io.BytesIO(body))
    assert wb.sheetnames == ["OEE report", "Stops", "Pareto"]
    ws = wb["OEE report"]
    titles = [c.value for c in ws[1]]
    start = ws.cell(2, titles.index("Start (Europe/Berlin)") + 1)
    assert start.value == datetime(2026, 6, 1, 6, 0) and start.number_format.startswith("yyyy-mm-dd")
    avail = ws.cell(2, titles.index("Availability (A)") + 1)
    assert avail.value == 0.3472 and avail.number_format == "0.00%"
    assert ws.cell(2, titles.index("Unobserved busy time, s") + 1).value == 0
    assert all(ws.column_dimensions[c.column_letter].width >= 8 for c in ws[1])
    stops = wb["Stops"]
    assert stops.cell(2, 2).value == datetime(2026, 6, 1, 7, 0) and stops.cell(2, 4).value == 600
    assert [c.value for c in wb["Pareto"][2]] == ["unqualified", None, 1, 600]
