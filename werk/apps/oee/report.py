"""KPI reports from the historian: any asset, line or the plant, over any range, split by shift, day or week.

Live KPIs are the same report over the current shift, so "now" and "last month" can never disagree on a definition.
Inputs per asset: its derived state timeline (``<asset>/machine_state``), its good and scrap counters, its stops
(planned ones become PDOT; stops that began with a fault are failure events), and the plant's shift calendar.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from werk.apps.oee.kpi import TIME_CLASS, KpiReport, StateInterval, against, combine, kpis, time_model_us
from werk.apps.oee.settings import OeeSettings
from werk.apps.oee.shifts import ALWAYS, WEEKDAYS, ShiftCalendar, ShiftDef, ShiftPeriod
from werk.apps.oee.store import OeeStore
from werk.config.model import AssetRef, PlantConfig, WerkConfig
from werk.core.model import Quality, from_micros, to_micros
from werk.core.states import STATE_SIGNAL
from werk.sim.spec import sim_asset, sim_of
from werk.store.base import Historian

PERIODS = ("range", "shift", "day", "week")
Run = tuple[int, int, int | None]
"""A stretch werk saw the asset in a known state (microseconds), and where the unseen time before it began
(None when werk saw the asset right up to it)."""


def calendar_from(plant: PlantConfig) -> ShiftCalendar:
    """The plant's shift calendar; around the clock (one 24 h shift per local day) when none is configured."""
    if not plant.shifts:
        return ShiftCalendar(plant.timezone, ALWAYS.shifts, frozenset(plant.holidays))
    defs = []
    for s in plant.shifts:
        defs.append(
            ShiftDef(
                s.name,
                time.fromisoformat(s.start if s.start != "24:00" else "00:00"),
                time.fromisoformat(s.end if s.end != "24:00" else "00:00"),
                frozenset(WEEKDAYS.index(d) for d in s.days),
                tuple((time.fromisoformat(a), time.fromisoformat(b)) for a, b in s.breaks),
            )
        )
    return ShiftCalendar(plant.timezone, tuple(defs), frozenset(plant.holidays))


def ideal_cycle(config: WerkConfig, ref: AssetRef, product: str | None = None) -> float | None:
    """PRI of an asset (for a product, when the plant file gives one) in wall-clock seconds.

    The product's own ideal cycle on this asset wins over the asset's default. A simulated asset runs
    ``acceleration`` times faster than the clock its samples are stamped with, so its ideal cycle (given in
    simulated seconds) shrinks by the same factor.
    """
    pri = ref.config.ideal_cycle_s
    if product is not None and product in config.products:
        pri = config.products[product].ideal_cycle_s.get(ref.name, pri)
    sim = sim_of(config)
    if pri is not None and sim is not None and sim_asset(ref.config) is not None:
        pri /= sim.acceleration
    return pri


@dataclass(frozen=True)
class Row:
    """One line of a report: a scope (asset, line or plant) over one period."""

    period: str  # "2026-11-25/early", "2026-11-25", "2026-W48" or "range"
    level: str  # "asset" | "line" | "plant"
    report: KpiReport


@dataclass(eq=False)
class ReportBuilder:
    config: WerkConfig
    historian: Historian
    stops: OeeStore
    settings: OeeSettings = field(default_factory=OeeSettings)
    calendar: ShiftCalendar = field(init=False)
    refs: list[AssetRef] = field(init=False)  # the work units: OEE is for them

    def __post_init__(self) -> None:
        self.calendar = calendar_from(self.config.plant)
        self.refs = [r for r in self.config.assets() if r.config.production]

    # --- one asset ---------------------------------------------------------------------------------------------

    def intervals(self, ref: AssetRef, a: datetime, z: datetime, now: datetime) -> list[StateInterval]:
        """The asset's state timeline over [a, min(z, now))."""
        return [
            StateInterval(from_micros(s), from_micros(e), st)
            for s, e, st in self._intervals_us(ref, to_micros(a), to_micros(z), to_micros(now))
        ]

    def _intervals_us(self, ref: AssetRef, a: int, z: int, now: int) -> list[tuple[int, int, str]]:
        return [(max(s, a), e, st) for s, e, st in self._timeline_us(ref, a, z, now) if e > max(s, a)]

    def _timeline_us(self, ref: AssetRef, a: int, z: int, now: int) -> list[tuple[int, int, str]]:
        """The state intervals up to min(z, now), led by the one going on at ``a`` (which may begin before)."""
        points = self.historian.changes(ref.signal_path(STATE_SIGNAL), from_micros(a), from_micros(z))
        end = min(z, now)
        out = []
        for i, (ts, state) in enumerate(points):
            nxt = points[i + 1][0] if i + 1 < len(points) else end
            e = min(nxt, end)
            if e > ts:
                out.append((ts, e, str(state)))
        return out

    def asset(self, ref: AssetRef, a: datetime, z: datetime, now: datetime) -> KpiReport:
        """The KPIs of one asset over [a, z) as of ``now`` (ISO 22400-2, over the time werk observed)."""
        shifts = self.calendar.periods(a, z)
        ua, uz, unow = to_micros(a), to_micros(z), to_micros(now)
        planned_raw, failures = self.stops.stop_facts(ref.name, a, z)
        planned = [(s, e if e is not None else unow) for s, e in planned_raw]
        planned += [(to_micros(p.start), to_micros(p.end)) for p in self.config.plant.planned_downtime]
        timeline = self._timeline_us(ref, ua, uz, unow)
        intervals = [(max(s, ua), e, st) for s, e, st in timeline if e > max(s, ua)]
        tm = time_model_us(intervals, shifts, (ua, uz), planned)
        good, scrap, ideal = self.quantities(ref, a, min(z, now), observed_runs(timeline, ua))
        report = kpis(
            ref.name,
            (a, z),
            tm,
            pq=good + scrap,
            gq=good,
            failures=failures,
            pri_s=ideal_cycle(self.config, ref),
            ideal_time_s=ideal,
            min_coverage=self.settings.min_coverage,
        )
        report.targets = against(report, self.settings.targets.for_asset(ref.name, _line(ref)))
        return report

    def quantities(
        self, ref: AssetRef, a: datetime, z: datetime, runs: Sequence[Run] | None = None
    ) -> tuple[int, int, float | None]:
        """Good and scrap parts made in [a, z), and their ideal time: the sum over products of PRI x PQ.

        Products come from the asset's ``product`` signal (its value is the product code); without one, the whole
        range is the asset's default product. The ideal time is None when parts were made without a known PRI.
        With ``runs`` (what werk observed), parts are counted inside them only, and after unseen time from the
        first counter value werk got again: parts made while werk did not watch are not put on the time it saw.
        """
        if z <= a:
            return 0, 0, None
        points = self.historian.changes(ref.signal_path("product"), a, z)
        edges: list[tuple[datetime, str | None]] = [
            (max(from_micros(ts), a), str(code)) for ts, code in points
        ]
        if not edges or edges[0][0] > a:
            edges.insert(0, (a, None))
        spans: list[tuple[int, int, str | None, int | None]] = []
        for i, (s, code) in enumerate(edges):
            e = edges[i + 1][0] if i + 1 < len(edges) else z
            if e > s:
                spans.append((to_micros(s), to_micros(e), code, None))
        if runs is not None:
            spans = _within(spans, runs)
        counts = [self._increase(ref.signal_path(c), spans) for c in ("good_count", "scrap_count")]
        good, scrap = counts
        ideal, known, any_pri = 0.0, True, False
        for (_, _, code, _), g, sc in zip(spans, good, scrap, strict=True):
            pri = ideal_cycle(self.config, ref, code)
            if pri is None:
                known = known and g + sc == 0
            else:
                any_pri = True
                ideal += pri * (g + sc)
        return sum(good), sum(scrap), ideal if known and any_pri else None

    def _increase(self, path: str, spans: Sequence[tuple[int, int, str | None, int | None]]) -> list[int]:
        """A counter's increase in each span; a span after unseen time counts from the first good value werk got
        at or after the unseen time began (0 when it got none before the span's end)."""
        windows: list[tuple[datetime, datetime]] = []
        for s, e, _, gap in spans:
            if gap is not None:
                first = next(
                    (
                        x
                        for x in self.historian.query_raw(path, from_micros(gap), from_micros(e), 64)
                        if x.quality is not Quality.BAD
                    ),
                    None,
                )
                s = to_micros(first.ts) + 1 if first is not None else e
            windows.append((from_micros(s), from_micros(max(s, e))))
        out = self.historian.counter_increase(path, [w for w in windows if w[1] > w[0]])
        it = iter(out)
        return [next(it) if w[1] > w[0] else 0 for w in windows]

    # --- any scope and period ---------------------------------------------------------------------------------

    def periods(self, a: datetime, z: datetime, period: str) -> list[tuple[str, datetime, datetime]]:
        if period == "range":
            return [("range", a, z)]
        if period == "shift":
            return [(p.key, max(p.start, a), min(p.end, z)) for p in self.calendar.periods(a, z)]
        tz = ZoneInfo(self.config.plant.timezone)
        out = []
        d = a.astimezone(tz).date()
        if period == "week":
            d -= timedelta(days=d.weekday())
        step = timedelta(days=7 if period == "week" else 1)
        while True:
            s = _local_midnight(d, tz)
            e = _local_midnight(d + step, tz)
            if s >= z:
                break
            if e > a:
                iso = d.isocalendar()
                key = f"{iso.year}-W{iso.week:02d}" if period == "week" else d.isoformat()
                out.append((key, max(s, a), min(e, z)))
            d += step
        return out

    def report(
        self,
        a: datetime,
        z: datetime,
        *,
        period: str = "range",
        assets: Sequence[str] | None = None,
        now: datetime | None = None,
    ) -> list[Row]:
        """Rows per period: every asset, then each line, then the plant (lines and plant combine their assets)."""
        if period not in PERIODS:
            raise ValueError(f"period must be one of {', '.join(PERIODS)}, not {period!r}")
        now = now or datetime.now(UTC)
        refs = [r for r in self.refs if assets is None or r.name in assets]
        rows: list[Row] = []
        for key, pa, pz in self.periods(a, z, period):
            per_asset = [self.asset(r, pa, pz, now) for r in refs]
            rows.extend(Row(key, "asset", rep) for rep in per_asset)
            lines: dict[str, list[KpiReport]] = {}
            for r, rep in zip(refs, per_asset, strict=True):
                lines.setdefault(_line(r), []).append(rep)
            targets = self.settings.targets
            for line, reps in lines.items():
                rep = combine(line, (pa, pz), reps, self.settings.min_coverage)
                rep.targets = against(rep, targets.for_line(line))
                rows.append(Row(key, "line", rep))
            plant = combine("plant", (pa, pz), per_asset, self.settings.min_coverage)
            plant.targets = against(plant, targets.default.set())
            rows.append(Row(key, "plant", plant))
        return rows

    def current_shift(self, now: datetime) -> ShiftPeriod | None:
        """The shift going on now; None outside every shift."""
        return self.calendar.current(now)

    def next_shift(self, now: datetime) -> ShiftPeriod | None:
        """The next shift to begin after ``now`` within a fortnight (None if the calendar has none)."""
        return next((p for p in self.calendar.periods(now, now + timedelta(days=14)) if p.start > now), None)

    def previous_shift(self, now: datetime) -> ShiftPeriod | None:
        """The last shift that ended at or before ``now`` within a fortnight."""
        past = [p for p in self.calendar.periods(now - timedelta(days=14), now) if p.end <= now]
        return past[-1] if past else None


def observed_runs(timeline: Sequence[tuple[int, int, str]], a: int) -> list[Run]:
    """The stretches of a state timeline in known states, clipped to start at ``a``, with where the unseen time
    before each began. A run going on at ``a`` continues what werk saw (no unseen time before it); a run after an
    unknown state, or the first one when nothing is known before it, follows unseen time."""
    runs: list[Run] = []
    gap: int | None = None
    first = True
    for s, e, state in timeline:
        if state not in TIME_CLASS:
            gap = s if gap is None else gap
        elif runs and runs[-1][1] == s and gap is None:
            runs[-1] = (runs[-1][0], e, runs[-1][2])
        else:
            after = gap if gap is not None else (0 if first and s >= a else None)
            runs.append((s, e, after))
            gap = None
        first = False
    return [(max(s, a), e, None if s < a else g) for s, e, g in runs if e > a]


def _within(
    spans: Sequence[tuple[int, int, str | None, int | None]], runs: Sequence[Run]
) -> list[tuple[int, int, str | None, int | None]]:
    """The parts of ``spans`` inside ``runs`` (both sorted); a piece that begins a run takes the run's gap."""
    out = []
    for s, e, code, _ in spans:
        for rs, re, gap in runs:
            lo, hi = max(s, rs), min(e, re)
            if lo < hi:
                out.append((lo, hi, code, gap if lo == rs else None))
    return out


def _line(ref: AssetRef) -> str:
    return ref.path.rsplit("/", 2)[0]


def _local_midnight(d: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(d, time(0), tzinfo=tz).astimezone(UTC)
