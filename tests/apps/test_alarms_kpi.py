"""The alarm KPI report (EEMUA 191 / ISA-18.2) on the Tennessee Eastman alarm logs against an independent count, on
synthetic logs whose figures are known, and the plant file's alarm definitions with their line numbers."""

from __future__ import annotations

import csv
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import shared_data
from werk.apps.alarms.kpi import Record, read_csv, report, suggest, suggest_deadband
from werk.apps.alarms.settings import AlarmsSettings, ChatterRule, KpiSettings, expand
from werk.config import demo_config_path, parse_config
from werk.errors import ConfigError, InputError

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def independent(path: Path) -> tuple[int, float, int, float]:
    """Activations, alarms per hour, flood periods and top-10 share of one log, counted without werk: integer
    seconds since the epoch, 600-s buckets, the period from the first record's bucket to the one after the last."""
    with path.open(newline="") as f:
        rows = list(csv.reader(f))[1:]
    secs = [int(datetime.fromisoformat(r[1][:19]).replace(tzinfo=UTC).timestamp()) for r in rows]
    acts = [(s, r[2]) for s, r in zip(secs, rows, strict=True) if r[3] in ("L", "LL", "H", "HH")]
    first, last = min(secs) // 600 * 600, max(secs) // 600 * 600 + 600
    per_bucket = Counter(s // 600 for s, _ in acts)
    tags = Counter(tag for _, tag in acts)
    top10 = sum(c for _, c in tags.most_common(10))
    return (
        len(acts),
        len(acts) / ((last - first) / 3600),
        sum(1 for c in per_bucket.values() if c > 10),
        top10 / len(acts),
    )


@pytest.mark.parametrize("variant", ["filter", "deadband"])
def test_the_report_on_every_tennessee_eastman_run_matches_an_independent_count(variant: str) -> None:
    folder = shared_data("alarms", "tep-alarms", variant)
    files = sorted(folder.glob("*.csv"))
    assert len(files) == 100
    total = 0
    for path in files:
        rep = report(read_csv(path.read_text(), source=path.name))
        n, per_hour, floods, top10 = independent(path)
        assert (rep.activations, rep.flood_periods) == (n, floods), path.name
        assert rep.per_hour == pytest.approx(per_hour, rel=1e-9), path.name
        assert rep.top10_share == pytest.approx(top10, rel=1e-9), path.name
        total += n
    # both variants are rationalised, but differently: their counts are not the same logs
    assert total > 0


def test_the_deadband_variant_raises_fewer_alarms_than_the_filter_variant_of_the_same_run() -> None:
    a = read_csv(shared_data("alarms", "tep-alarms", "filter", "filter_2.csv").read_text())
    b = read_csv(shared_data("alarms", "tep-alarms", "deadband", "deadband_2.csv").read_text())
    ra, rb = report(a), report(b)
    assert ra.activations > 5 * rb.activations
    # the filter run's chattering alarm gets a suggestion that removes most of its repeats
    (s, *_) = ra.suggestions
    assert s.kept_with_off_delay < s.activations / 2


def test_floods_peaks_chattering_and_stale_alarms_on_a_synthetic_log() -> None:
    recs: list[Record] = []
    # 12 alarms in the first ten minutes (a flood), one chattering tag inside them
    for i in range(12):
        recs.append(Record(T0 + timedelta(seconds=20 * i), "C1" if i < 4 else f"F{i}", True, "low"))
        recs.append(Record(T0 + timedelta(seconds=20 * i + 5), "C1" if i < 4 else f"F{i}", False))
    # one alarm that stays active for 30 h: stale and standing
    recs.append(Record(T0 + timedelta(minutes=30), "S1", True, "high"))
    rep = report(recs, KpiSettings(chatter=ChatterRule(count=3, window_s=60)), end=T0 + timedelta(hours=31))
    assert rep.activations == 13 and rep.peak_10min == 12 and rep.flood_periods == 1
    assert rep.periods == 31 * 6
    assert [c.tag for c in rep.chattering] == ["C1"]
    assert rep.stale == ["S1"] and rep.standing == 1
    grades = {f.key: f.grade for f in rep.figures}
    assert grades["peak_10min"] == "not met" and grades["chattering"] == "not met"
    assert grades["flood_share"] == "met"  # 1 of 186 periods is under 1 %
    assert grades["priority"] == "not met"  # 12 low, 1 high: no medium at all
    # ten distinct alarms are always 100 % of the top ten: not graded
    assert rep.tags == 10 and rep.top10_share == 1.0 and grades["top10_share"] == "too few"

    (s,) = rep.suggestions
    # C1 came back 15 s after each return: an off-delay of 16 s makes its four activations one
    assert (s.off_delay_s, s.kept_with_off_delay, s.on_delay_s, s.kept_with_on_delay) == (16.0, 1, 6.0, 0)


def test_shares_of_a_handful_of_alarms_are_not_graded() -> None:
    recs = [Record(T0, "P1", True, "low"), Record(T0 + timedelta(minutes=5), "P1", False)]
    rep = report(recs, end=T0 + timedelta(hours=24))
    grades = {f.key: f.grade for f in rep.figures}
    assert rep.activations == 1 and rep.top10_share == 1.0
    assert grades["top10_share"] == "too few" and grades["priority"] == "too few"
    assert grades["per_hour"] == "met"  # a rate of one alarm a day is graded: it is a rate, not a share


def test_suggest_keeps_activations_separated_by_more_than_the_window() -> None:
    rows = []
    for start in (0, 30, 60, 600):
        rows += [
            Record(T0 + timedelta(seconds=start), "X", True),
            Record(T0 + timedelta(seconds=start + 2), "X", False),
        ]
    s = suggest("X", rows, 60)
    assert (s.activations, s.off_delay_s, s.kept_with_off_delay) == (4, 29.0, 2)


def test_an_alarm_log_with_a_bad_row_is_refused_with_its_row_and_column() -> None:
    with pytest.raises(InputError, match=r"row 2, column timestamp: 'yesterday'"):
        read_csv(",timestamp,tag,type\n0,2026-01-01 00:00:00,A,H\n1,yesterday,A,H NR\n")
    with pytest.raises(InputError, match="no column tag"):
        read_csv("timestamp,type\n2026-01-01 00:00:00,H\n")
    huge = "x" * 200_000  # over the csv module's field limit: refused with its row, not a 500
    with pytest.raises(InputError, match="row 2: field larger than field limit"):
        read_csv(f"timestamp,tag\n2026-01-01 00:00:00,A\n2026-01-01 00:00:01,{huge}\n")
    with pytest.raises(InputError, match="header: field larger"):
        read_csv(f"{huge}\n")
    recs = read_csv(
        "time,alarm,event,priority\n2026-01-01T01:00:00+01:00,A,ALM,High\n2026-01-01 00:05:00,A,RTN,\n"
    )
    assert [(r.ts, r.active, r.priority) for r in recs] == [
        (datetime(2026, 1, 1, tzinfo=UTC), True, "high"),
        (datetime(2026, 1, 1, 0, 5, tzinfo=UTC), False, ""),
    ]


ALARMS = """
  alarms:
    templates:
      machining centre:
        temperature-high: {signal: temperature, type: high, limit: 70, deadband: 2, priority: high}
        faulted: {signal: machine_state, type: discrete, value: fault, priority: low, suppress_in: []}
    assets:
      cnc-2:
        temperature-high: {signal: temperature, type: high, limit: 75}
        faulted: null
"""


def _demo_with(block: str) -> str:
    """The demo plant with ``block`` as its alarms (the demo's own left out)."""
    lines = demo_config_path().read_text().splitlines(keepends=True)
    start = next(i for i, ln in enumerate(lines) if ln.startswith("  alarms:"))
    end = next(
        (
            i
            for i in range(start + 1, len(lines))
            if lines[i].strip() and len(lines[i]) - len(lines[i].lstrip()) <= 2
        ),
        len(lines),
    )
    text = "".join(lines[:start] + lines[end:])
    return text.replace("\napps:\n", "\napps:\n" + block.lstrip("\n"), 1)


def test_templates_give_every_asset_of_a_kind_its_alarms_and_an_asset_overrides_them() -> None:
    config = parse_config(_demo_with(ALARMS), "plant.yaml")
    settings = config.app("alarms")
    assert isinstance(settings, AlarmsSettings)
    alarms = {a.id: a for a in expand(config, settings)}
    kinds = {r.name for r in config.assets() if r.config.kind == "machining centre"}
    assert {a.asset for a in alarms.values()} == kinds
    assert alarms["cnc-1:temperature-high"].d.limit == 70
    assert alarms["cnc-2:temperature-high"].d.limit == 75
    assert "cnc-2:faulted" not in alarms and "cnc-1:faulted" in alarms
    assert alarms["cnc-1:faulted"].suppress_in == frozenset()
    assert alarms["cnc-1:temperature-high"].suppress_in == {"setup", "maintenance"}
    assert alarms["cnc-1:temperature-high"].path.endswith("/milling/cnc-1/temperature")


def test_a_bad_alarm_definition_is_refused_with_its_line_and_key_path() -> None:
    text = _demo_with(ALARMS.replace("limit: 70, ", ""))
    with pytest.raises(ConfigError) as exc:
        parse_config(text, "plant.yaml")
    msg = str(exc.value)
    line = text.splitlines().index(
        "        temperature-high: {signal: temperature, type: high, deadband: 2, priority: high}"
    )
    assert f"plant.yaml:{line + 1}:" in msg
    assert "apps.alarms.templates.machining centre.temperature-high" in msg and "needs a limit" in msg
    with pytest.raises(ConfigError, match=r"apps\.alarms\.templates\.machining centre\.faulted\.priority"):
        parse_config(_demo_with(ALARMS.replace("priority: low", "priority: urgent")), "plant.yaml")


def test_the_deadband_suggestion_keeps_a_wobbling_high_alarm_raised_through_its_short_returns() -> None:
    # a value around a high limit of 80: up, a short dip to 79.2, up, a dip to 79.6, up, then far down for long
    values = [78, 81, 79.2, 81, 79.6, 81.5, 70, 70, 70, 70]
    samples = [(T0 + timedelta(seconds=10 * i), float(v)) for i, v in enumerate(values)]
    s = suggest_deadband("m1:temp", "high", 80.0, samples, window_s=60)
    assert s is not None
    # the deepest short return was 0.8 below the limit: 0.81 keeps the alarm through it, one activation is left
    assert (s.deadband, s.activations, s.kept) == (0.81, 3, 1)
    low = [(t, 160 - v) for t, v in samples]  # the mirror image for a low limit of 80
    s2 = suggest_deadband("m1:level", "low", 80.0, low, window_s=60)
    assert s2 is not None and (s2.deadband, s2.kept) == (0.81, 1)
    # returns longer than the window are real returns: nothing to suggest
    assert suggest_deadband("m1:temp", "high", 80.0, samples, window_s=5) is None
    assert suggest_deadband("m1:x", "discrete", 1.0, samples, window_s=60) is None


def test_rates_and_the_flood_share_are_over_the_minutes_werk_watched_and_not_graded_from_so_few() -> None:
    # the review's case: a 24-hour range of which werk watched 19 minutes (23:31:30 to 23:50:30), with 25 alarms in
    # the 23:30 period and 35 in the 23:40 one
    day = datetime(2026, 3, 1, tzinfo=UTC)
    seen = (
        day + timedelta(hours=23, minutes=31, seconds=30),
        day + timedelta(hours=23, minutes=50, seconds=30),
    )
    recs = [Record(seen[0] + timedelta(seconds=10 * i), f"A{i % 12}", True, "low") for i in range(25)]
    recs += [
        Record(day + timedelta(hours=23, minutes=40, seconds=15 * i), f"B{i % 12}", True, "low")
        for i in range(35)
    ]
    rep = report(recs, start=day, end=day + timedelta(hours=24), positions=1, observed=[seen])
    # by hand: 60 alarms in 19 minutes are 60 / (19 / 60) = 189.47 an hour, 31.58 per 10 minutes; werk saw the
    # periods from 23:30, 23:40 and 23:50 (the last for 30 s), two of them floods
    assert rep.hours == 24.0 and rep.observed_hours == pytest.approx(19 / 60)
    assert rep.observed_share == pytest.approx(19 / 60 / 24)
    assert [(s.start, s.end) for s in rep.observed] == [seen]
    assert rep.activations == 60
    assert rep.per_hour == pytest.approx(60 * 60 / 19) and rep.per_10min == pytest.approx(60 * 10 / 19)
    assert round(rep.per_hour or 0, 2) == 189.47 and round(rep.per_10min or 0, 2) == 31.58
    assert (rep.periods, rep.flood_periods, rep.peak_10min) == (3, 2, 35)
    assert rep.flood_share == pytest.approx(2 / 3)
    grades = {f.key: f.grade for f in rep.figures}
    # a rate from 19 minutes is shown, not graded; the peak is what it is over any time
    assert grades["per_hour"] == grades["per_10min"] == grades["flood_share"] == "too short"
    assert grades["peak_10min"] == "not met"
    # the same alarms over the whole day, as the report divided before: 2.5 an hour, "met"; that was not true
    whole = report(recs, start=day, end=day + timedelta(hours=24), positions=1)
    assert whole.per_hour == pytest.approx(2.5) and whole.observed_hours == 24.0 and whole.periods == 144


def test_observed_spans_are_cut_to_the_range_merged_and_graded_from_an_hour_on() -> None:
    # three runs of werk: one from before the range into it, one overlapping it, one later; 90 minutes in all
    runs = [
        (T0 - timedelta(hours=1), T0 + timedelta(minutes=30)),
        (T0 + timedelta(minutes=20), T0 + timedelta(minutes=50)),
        (T0 + timedelta(hours=2), T0 + timedelta(hours=2, minutes=40)),
    ]
    recs = [Record(T0 + timedelta(minutes=5 * i), f"A{i}", True, "low") for i in range(9)]
    rep = report(recs, start=T0, end=T0 + timedelta(hours=24), positions=1, observed=runs)
    assert [(s.start, s.end) for s in rep.observed] == [
        (T0, T0 + timedelta(minutes=50)),
        (T0 + timedelta(hours=2), T0 + timedelta(hours=2, minutes=40)),
    ]
    # 9 alarms in 1.5 hours: 6 an hour, just met; 5 + 4 periods observed, none in flood
    assert rep.observed_hours == pytest.approx(1.5) and rep.per_hour == pytest.approx(6.0)
    assert (rep.periods, rep.flood_periods, rep.flood_share) == (9, 0, 0.0)
    grades = {f.key: f.grade for f in rep.figures}
    assert grades["per_hour"] == grades["per_10min"] == grades["flood_share"] == "met"
    # nothing observed at all: no rate (not a division by zero, not 0 "met")
    none = report([], start=T0, end=T0 + timedelta(hours=1), observed=[])
    assert none.per_hour is None and none.flood_share is None and none.observed_hours == 0.0
    assert {f.key: f.grade for f in none.figures}["per_hour"] == "no data"
