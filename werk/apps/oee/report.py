"""KPI reports from the historian: any asset, line or the plant, over any range, split by shift, day or week.

Live KPIs are the same report over the current shift, so "now" and "last month" can never disagree on a definition.
Inputs per asset: its derived state timeline (``<asset>/machine_state``), its good and scrap counters, its stops
(planned ones become PDOT; stops that began with a fault are failure events), and the plant's shift calendar.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from werk.apps.oee.kpi import KpiReport, StateInterval, combine, kpis, time_model_us
from werk.apps.oee.shifts import ALWAYS, WEEKDAYS, ShiftCalendar, ShiftDef, ShiftPeriod
from werk.apps.oee.store import OeeStore
from werk.config.model import AssetRef, PlantConfig, WerkConfig
from werk.core.model import from_micros, to_micros
from werk.core.states import STATE_SIGNAL
from werk.sim.spec import sim_asset, sim_of
from werk.store.base import Historian

PERIODS = ("range", "shift", "day", "week")


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


class ReportBuilder:
    def __init__(self, config: WerkConfig, historian: Historian, stops: OeeStore) -> None:
        self.config = config
        self.historian = historian
        self.stops = stops
        self.calendar = calendar_from(config.plant)
        self.refs = [r for r in config.assets() if r.config.production]  # OEE is for work units

    # --- one asset ---------------------------------------------------------------------------------------------

    def intervals(self, ref: AssetRef, a: datetime, z: datetime, now: datetime) -> list[StateInterval]:
        """The asset's state timeline over [a, min(z, now))."""
        return [
            StateInterval(from_micros(s), from_micros(e), st)
            for s, e, st in self._intervals_us(ref, to_micros(a), to_micros(z), to_micros(now))
        ]

    def _intervals_us(self, ref: AssetRef, a: int, z: int, now: int) -> list[tuple[int, int, str]]:
        points = self.historian.changes(ref.signal_path(STATE_SIGNAL), from_micros(a), from_micros(z))
        end = min(z, now)
        out = []
        for i, (ts, state) in enumerate(points):
            nxt = points[i + 1][0] if i + 1 < len(points) else end
            s = max(ts, a)
            e = min(nxt, end)
            if e > s:
                out.append((s, e, str(state)))
        return out

    def asset(self, ref: AssetRef, a: datetime, z: datetime, now: datetime) -> KpiReport:
        shifts = self.calendar.periods(a, z)
        ua, uz, unow = to_micros(a), to_micros(z), to_micros(now)
        planned_raw, failures = self.stops.stop_facts(ref.name, a, z)
        planned = [(s, e if e is not None else unow) for s, e in planned_raw]
        planned += [(to_micros(p.start), to_micros(p.end)) for p in self.config.plant.planned_downtime]
        tm = time_model_us(self._intervals_us(ref, ua, uz, unow), shifts, (ua, uz), planned)
        good, scrap, ideal = self.quantities(ref, a, min(z, now))
        return kpis(
            ref.name,
            (a, z),
            tm,
            pq=good + scrap,
            gq=good,
            failures=failures,
            pri_s=ideal_cycle(self.config, ref),
            ideal_time_s=ideal,
        )

    def quantities(self, ref: AssetRef, a: datetime, z: datetime) -> tuple[int, int, float | None]:
        """Good and scrap parts made in [a, z), and their ideal time: the sum over products of PRI x PQ.

        Products come from the asset's ``product`` signal (its value is the product code); without one, the whole
        range is the asset's default product. The ideal time is None when parts were made without a known PRI.
        """
        if z <= a:
            return 0, 0, None
        points = self.historian.changes(ref.signal_path("product"), a, z)
        edges: list[tuple[datetime, str | None]] = [
            (max(from_micros(ts), a), str(code)) for ts, code in points
        ]
        if not edges or edges[0][0] > a:
            edges.insert(0, (a, None))
        spans: list[tuple[datetime, datetime, str | None]] = []
        for i, (s, code) in enumerate(edges):
            e = edges[i + 1][0] if i + 1 < len(edges) else z
            if e > s:
                spans.append((s, e, code))
        windows = [(s, e) for s, e, _ in spans]
        good = self.historian.counter_increase(ref.signal_path("good_count"), windows)
        scrap = self.historian.counter_increase(ref.signal_path("scrap_count"), windows)
        ideal, known, any_pri = 0.0, True, False
        for (_, _, code), g, sc in zip(spans, good, scrap, strict=True):
            pri = ideal_cycle(self.config, ref, code)
            if pri is None:
                known = known and g + sc == 0
            else:
                any_pri = True
                ideal += pri * (g + sc)
        return sum(good), sum(scrap), ideal if known and any_pri else None

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
                lines.setdefault(r.path.rsplit("/", 2)[0], []).append(rep)
            rows.extend(Row(key, "line", combine(line, (pa, pz), reps)) for line, reps in lines.items())
            rows.append(Row(key, "plant", combine("plant", (pa, pz), per_asset)))
        return rows

    def current_shift(self, now: datetime) -> ShiftPeriod:
        """The shift going on now, or the last one that ended (outside planned time)."""
        cur = self.calendar.current(now)
        if cur is not None:
            return cur
        past = self.calendar.periods(now - timedelta(days=8), now)
        if past:
            return past[-1]
        return ShiftPeriod("none", now.date(), now - timedelta(hours=8), now)


def _local_midnight(d: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(d, time(0), tzinfo=tz).astimezone(UTC)
