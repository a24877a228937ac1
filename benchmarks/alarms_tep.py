"""The alarm KPI report (EEMUA 191 / ISA-18.2) on the Tennessee Eastman alarm logs, both rationalised variants side
by side, checked against an independent count.

    .venv/bin/python benchmarks/alarms_tep.py [--data ../shared/data/alarms/tep-alarms] [--quick]

Data: Manca 2020 (IEEE DataPort doi 10.21227/326k-qr90, text form in Antonizitron/tep_alarms_text, CC0-1.0): 100
simulated runs of the Tennessee Eastman process, each about 97 h at 10-s resolution, whose alarms were rationalised
two ways, ``filter`` and ``deadband``. Every log is read through the same door as an upload
(:func:`werk.apps.alarms.kpi.read_csv`) and reported with werk's defaults (one operator position, flood above 10 in
10 min, chattering 3 in 60 s, stale after 24 h). Per variant the script prints the sums and the medians over the
runs, how many runs meet each target, and the report's time; the reference beside each figure is an independent
count (csv module, integer seconds, 600-s buckets) of activations, alarms per hour, flood periods and the top-10
share. ``--quick``: the first 20 runs of each.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from werk.apps.alarms.kpi import KpiReport, read_csv, report

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "alarms" / "tep-alarms"


def independent(path: Path) -> tuple[int, float, int, float]:
    with path.open(newline="") as f:
        rows = list(csv.reader(f))[1:]
    secs = [int(datetime.fromisoformat(r[1][:19]).replace(tzinfo=UTC).timestamp()) for r in rows]
    acts = [(s, r[2]) for s, r in zip(secs, rows, strict=True) if r[3] in ("L", "LL", "H", "HH")]
    first, last = min(secs) // 600 * 600, max(secs) // 600 * 600 + 600
    buckets = Counter(s // 600 for s, _ in acts)
    top = sum(c for _, c in Counter(t for _, t in acts).most_common(10))
    n = len(acts)
    return n, n / ((last - first) / 3600), sum(1 for c in buckets.values() if c > 10), top / n if n else 0.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--quick", action="store_true", help="the first 20 runs of each (a check, not a figure)")
    args = ap.parse_args(argv)
    if args.quick:
        print("quick run: the first 20 runs of each variant (a check, not the figure of record)")
    if not args.data.is_dir():
        print(f"no data at {args.data} (see ../shared/data/README.md)")
        print(
            "goal alarm KPIs on the Tennessee Eastman logs agree with an independent count: not met (no data)"
        )
        return 0
    limit = 20 if args.quick else None
    results: dict[str, list[KpiReport]] = {}
    mismatches: list[str] = []
    seconds: dict[str, float] = {}
    for variant in ("filter", "deadband"):
        files = sorted(
            args.data.joinpath(variant).glob("*.csv"), key=lambda p: int(p.stem.rpartition("_")[2])
        )
        files = files[:limit]
        t0 = time.perf_counter()
        reps = [report(read_csv(p.read_text(), source=p.name)) for p in files]
        seconds[variant] = time.perf_counter() - t0
        results[variant] = reps
        for p, rep in zip(files, reps, strict=True):
            n, per_hour, floods, top = independent(p)
            ok = (rep.activations, rep.flood_periods) == (n, floods)
            ok = ok and abs(rep.per_hour - per_hour) < 1e-9 and abs(rep.top10_share - top) < 1e-9
            if not ok:
                mismatches.append(f"{variant}/{p.name}")

    def row(label: str, fn: object, fmt: str = "{:,.2f}") -> None:
        cells = [fmt.format(fn(results[v])) for v in ("filter", "deadband")]  # type: ignore[operator]
        print(f"{label:<46}{cells[0]:>16}{cells[1]:>16}")

    runs = {v: len(r) for v, r in results.items()}
    print(f"Tennessee Eastman alarm logs, {runs['filter']} + {runs['deadband']} runs ({args.data})")
    print(f"{'':<46}{'filter':>16}{'deadband':>16}")
    row("activations, all runs", lambda rs: sum(r.activations for r in rs), "{:,}")
    row("hours, all runs", lambda rs: sum(r.hours for r in rs), "{:,.0f}")
    row("alarms per operator per hour, median run", lambda rs: statistics.median(r.per_hour for r in rs))
    row("alarms per operator per 10 min, median", lambda rs: statistics.median(r.per_10min for r in rs))
    row("peak alarms in 10 min, worst run", lambda rs: max(r.peak_10min for r in rs), "{:,}")
    row("10-min periods in flood, all runs", lambda rs: sum(r.flood_periods for r in rs), "{:,}")
    row(
        "  share of all 10-min periods",
        lambda rs: sum(r.flood_periods for r in rs) / sum(r.periods for r in rs),
        "{:.3%}",
    )
    row("top-10 share, median run", lambda rs: statistics.median(r.top10_share for r in rs), "{:.1%}")
    row("runs with a chattering alarm", lambda rs: sum(1 for r in rs if r.chattering), "{:,}")
    row("stale alarms (> 24 h), all runs", lambda rs: sum(len(r.stale) for r in rs), "{:,}")
    for key in ("per_hour", "per_10min", "peak_10min", "flood_share", "top10_share", "chattering", "stale"):
        row(f"runs meeting {key}", lambda rs, k=key: sum(1 for r in rs if _grade(r, k) == "met"), "{:,}")
    row(
        "report time per run, ms",
        lambda rs: 1000 * seconds["filter" if rs is results["filter"] else "deadband"] / max(1, len(rs)),
        "{:,.1f}",
    )
    checked = sum(runs.values())
    print(
        f"independent count (activations, alarms/h, flood periods, top-10 share): {checked - len(mismatches)} of "
        f"{checked} runs agree"
    )
    what = "alarm KPIs on the Tennessee Eastman logs agree with an independent count"
    if mismatches:
        print(f"goal {what}: not met ({len(mismatches)} runs differ: {', '.join(mismatches[:5])})")
    else:
        print(f"goal {what}: met")
    return 0


def _grade(r: KpiReport, key: str) -> str:
    return next(f.grade for f in r.figures if f.key == key)


if __name__ == "__main__":
    raise SystemExit(main())
