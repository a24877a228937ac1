"""ISO 22400-2:2014 time model and KPIs for a work unit (an asset), a group of them (a line, the plant), any range.

Time elements (seconds), within the window asked for:
  POT   planned operation time     shift time from the calendar
  PDOT  planned down time          planned breaks, stops whose reason is planned, the ``planned_stop`` state
  PBT   planned busy time          POT - PDOT
  APT   actual production time     ``running``
  AUST  actual unit setup time     ``setup``
  ADET  actual unit delay time     ``idle``, ``starved``, ``blocked`` (micro-stops are delays)
  ADOT  actual unit down time      ``fault``, ``maintenance`` (unplanned)
  unknown                          PBT werk did not see: ``disconnected``, a state value the mapping does not
                                    know, and gaps without data
  observed                         PBT werk saw: APT + AUST + ADET + ADOT = PBT - unknown
Quantities: PQ produced, GQ good, SQ scrap; PRI planned run time per item (the ideal cycle time). Parts are
counted over the time werk saw (after a gap, from the first counter value werk got again).
KPIs (clause 5.x of ISO 22400-2), computed over the observed time:
  coverage       = observed / PBT  (how much of the planned busy time werk saw; not an ISO 22400 KPI)
  availability   = APT / observed  (ISO 22400's APT / PBT, with PBT restricted to what werk saw)
  effectiveness  = PRI x PQ / APT
  quality ratio  = GQ / PQ
  OEE index      = availability x effectiveness x quality ratio
  TEEP           = OEE x PBT / calendar time  (not in ISO 22400-2; the common "total effective" extension)
  scrap ratio    = SQ / PQ
  MTBF           = APT / FE,  MTTR = ADOT / FE  (FE: failure events, stops that began with a fault)
Unobserved time is neither loss nor production: a shift werk watched for nine minutes has KPIs over those nine
minutes and a coverage of 2 %, never an availability of 2 %. A report below the coverage threshold is marked
(``low_coverage``). Production outside POT is not in PBT; it is reported as ``outside_s`` so it is visible.
A ratio whose denominator is zero is None ("not defined"), never 0 or 1. A ratio that cannot be above 1 and is
(more parts than the ideal cycle time allows) is kept as computed and flagged with its likely cause.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from werk.apps.bodies import doc
from werk.apps.oee.shifts import ShiftPeriod
from werk.core.model import to_micros
from werk.core.spans import clip, intersect, subtract, union
from werk.i18n import N_

Span = tuple[datetime, datetime]

TIME_CLASS = {
    "running": "apt",
    "setup": "aust",
    "idle": "adet",
    "starved": "adet",
    "blocked": "adet",
    "fault": "adot",
    "maintenance": "adot",
    "planned_stop": "pdot",
}


@dataclass(frozen=True, slots=True)
class StateInterval:
    start: datetime
    end: datetime
    state: str


@dataclass
class TimeModel:
    """ISO 22400-2 time model of a scope over a period, in seconds."""

    pot_s: float = field(default=0.0, metadata=doc("planned operation time"))
    pdot_s: float = field(default=0.0, metadata=doc("planned down time"))
    pbt_s: float = field(default=0.0, metadata=doc("planned busy time (POT - PDOT)"))
    apt_s: float = field(default=0.0, metadata=doc("actual production time (running)"))
    aust_s: float = field(default=0.0, metadata=doc("actual unit setup time"))
    adet_s: float = field(default=0.0, metadata=doc("actual unit delay time (idle, starved, blocked)"))
    adot_s: float = field(default=0.0, metadata=doc("actual unit down time (fault, maintenance)"))
    unknown_s: float = field(
        default=0.0,
        metadata=doc("planned busy time werk did not see (disconnected, unmapped state values, no data)"),
    )
    outside_s: float = field(default=0.0, metadata=doc("production outside planned operation time"))
    calendar_s: float = field(default=0.0, metadata=doc("length of the period"))

    @property
    def observed_s(self) -> float:
        """Planned busy time werk saw the asset in a known state (s)."""
        return max(0.0, self.pbt_s - self.unknown_s)

    def add(self, other: TimeModel) -> None:
        for k, v in asdict(other).items():
            setattr(self, k, getattr(self, k) + v)


@dataclass(frozen=True, slots=True)
class Flag:
    """A figure that cannot be right as computed, with the likely cause.

    ``cause``: ``ideal_cycle_time`` (the plant file's PRI is longer than the machine's real cycle),
    ``counter`` (a part counter counts more than parts, or counts while the asset does not run),
    ``state_mapping`` (the asset's states say it did not run while it made parts)."""

    kpi: str = field(metadata=doc("the KPI concerned"))
    value: float = field(
        metadata=doc("its value as computed (or the parts counted, for parts without running)")
    )
    cause: str = field(metadata=doc("likely cause: ideal_cycle_time, counter or state_mapping"))
    message: str = field(
        metadata=doc("what is wrong and the likely cause, in English")
    )  # for logs, CSV, Excel
    # the message to translate (werk.i18n), its {fields} filled from ``args`` as a locale writes them
    msgid: str = field(default="", metadata=doc("the message's id in werk's catalogs, its fields in args"))
    args: dict[str, Any] = field(default_factory=dict, metadata=doc("the message's values"))


def _flag(kpi: str, value: float, cause: str, msgid: str, /, **args: Any) -> Flag:
    """A flag whose message is ``msgid`` with ``args``: ``value`` a ratio, ``parts`` a count, ``pri_s`` seconds,
    ``kpi`` a KPI's name (each written in the reader's language by the page's API)."""
    english = {
        k: f"{v:.1%}" if k == "value" else f"{v:g} s" if k == "pri_s" else str(v) for k, v in args.items()
    }
    return Flag(kpi, value, cause, msgid.format(**english), msgid, dict(args))


#: KPI names a flag's message may name
KPI_NAMES = {"availability": N_("availability"), "oee": N_("OEE"), "teep": N_("TEEP")}


@dataclass
class KpiReport:
    """ISO 22400-2 KPIs of a scope over a period, computed over the time werk observed (``time.observed_s``);
    ``coverage`` says how much of the planned busy time that was. Ratios 0..1, times in seconds."""

    scope: str = field(metadata=doc("asset name, line path or 'plant'"))
    start: datetime
    end: datetime
    time: TimeModel
    pq: int = field(metadata=doc("produced quantity"))
    gq: int = field(metadata=doc("good quantity"))
    sq: int = field(metadata=doc("scrap quantity"))
    failures: int
    pri_s: float | None = field(metadata=doc("planned run time per item (ideal cycle), s"))
    ideal_s: float | None  # sum of PRI x PQ over what was made (products may differ in PRI)
    availability: float | None
    effectiveness: float | None
    quality_ratio: float | None
    oee: float | None
    teep: float | None
    scrap_ratio: float | None
    mtbf_s: float | None
    mttr_s: float | None
    coverage: float | None = field(
        default=None,
        metadata=doc(
            "share of the planned busy time werk saw (observed_s / pbt_s), 0..1; null without planned busy time"
        ),
    )
    low_coverage: bool = field(
        default=False, metadata=doc("coverage below apps.oee.min_coverage: read the KPIs with care")
    )
    flags: list[Flag] = field(
        default_factory=list, metadata=doc("implausible figures, with their likely cause")
    )
    targets: dict[str, Target] = field(
        default_factory=dict, metadata=doc("targets of this scope against the actual values, by KPI")
    )

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["start"], d["end"] = self.start.isoformat(), self.end.isoformat()
        d["time"]["observed_s"] = self.time.observed_s
        return d


@dataclass(frozen=True, slots=True)
class Target:
    """A KPI's target from the plant file against its actual value; ``met`` is None while the actual is not
    defined. Ratios are met at or above the target, durations (``mttr_s``) at or below it."""

    target: float = field(metadata=doc("the plant file's target (apps.oee.targets)"))
    actual: float | None = field(metadata=doc("the KPI's value over the period; null when not defined"))
    met: bool | None = field(
        metadata=doc(
            "ratios met at or above the target, mttr_s and scrap_ratio at or below; null without an actual"
        )
    )


LOWER_IS_BETTER = frozenset({"mttr_s", "scrap_ratio"})
TARGET_KPIS = (
    "oee",
    "availability",
    "effectiveness",
    "quality_ratio",
    "teep",
    "scrap_ratio",
    "mtbf_s",
    "mttr_s",
)


def against(report: KpiReport, targets: dict[str, float]) -> dict[str, Target]:
    """Each target set for the report's scope against the report's actual value."""
    out: dict[str, Target] = {}
    for kpi, goal in targets.items():
        actual = getattr(report, kpi)
        met = None if actual is None else (actual <= goal if kpi in LOWER_IS_BETTER else actual >= goal)
        out[kpi] = Target(goal, actual, met)
    return out


EPS = 1e-9


def plausibility(r: KpiReport) -> list[Flag]:
    """Flags for figures that cannot be right: a ratio above 1, parts without running time."""
    flags: list[Flag] = []
    if r.effectiveness is not None and r.effectiveness > 1 + EPS:
        if r.pri_s is not None:
            msgid = N_(
                "effectiveness {value}: more parts than the ideal cycle time ({pri_s}) allows in the running "
                "time; the ideal cycle time is too long, or the part counter counts more than parts"
            )
            flags.append(
                _flag(
                    "effectiveness",
                    r.effectiveness,
                    "ideal_cycle_time",
                    msgid,
                    value=r.effectiveness,
                    pri_s=r.pri_s,
                )
            )
        else:
            msgid = N_(
                "effectiveness {value}: more parts than the ideal cycle time allows in the running time; the "
                "ideal cycle time is too long, or the part counter counts more than parts"
            )
            flags.append(
                _flag("effectiveness", r.effectiveness, "ideal_cycle_time", msgid, value=r.effectiveness)
            )
    if r.pq > 0 and r.time.apt_s <= 0 and r.time.observed_s > 0:
        msgid = N_(
            "{parts} parts counted while the asset never ran: its state mapping does not say running when it "
            "produces, or the part counter counts something else"
        )
        flags.append(_flag("effectiveness", float(r.pq), "state_mapping", msgid, parts=r.pq))
    if r.quality_ratio is not None and (r.quality_ratio > 1 + EPS or r.sq < 0):
        msgid = N_(
            "quality ratio {value}: more good parts than parts made; the good or scrap counter is wrong"
        )
        flags.append(_flag("quality_ratio", r.quality_ratio, "counter", msgid, value=r.quality_ratio))
    for kpi in ("availability", "oee", "teep"):
        v = getattr(r, kpi)
        if v is not None and v > 1 + EPS:
            cause = "ideal_cycle_time" if kpi != "availability" else "state_mapping"
            flags.append(_flag(kpi, v, cause, N_("{kpi} {value} is above 100 %"), kpi=kpi, value=v))
    return flags


Us = tuple[int, int]  # a span in integer microseconds: the hot loops run on ints, not datetimes


def _us(spans: Iterable[Span]) -> list[Us]:
    return [(to_micros(a), to_micros(z)) for a, z in spans]


def _dur(spans: Iterable[Us]) -> float:
    return sum(e - s for s, e in spans) / 1e6


def _ratio(num: float, den: float) -> float | None:
    return None if den <= 0 else num / den


def _overlap_by_state(intervals: Sequence[tuple[int, int, str]], spans: Sequence[Us]) -> dict[str, int]:
    """Microseconds of each state inside ``spans`` (both sorted and disjoint): one two-pointer pass."""
    out: dict[str, int] = {}
    i = j = 0
    while i < len(intervals) and j < len(spans):
        s, e, state = intervals[i]
        a, b = spans[j]
        lo, hi = max(s, a), min(e, b)
        if lo < hi:
            out[state] = out.get(state, 0) + hi - lo
        if e < b:
            i += 1
        else:
            j += 1
    return out


def time_model(
    intervals: Sequence[StateInterval],
    shifts: Sequence[ShiftPeriod],
    window: Span,
    planned_stops: Sequence[Span] = (),
) -> TimeModel:
    """Classify every second of ``window`` (sorted, non-overlapping state intervals; gaps count as unknown)."""
    return time_model_us(
        [(to_micros(i.start), to_micros(i.end), i.state) for i in intervals],
        shifts,
        (to_micros(window[0]), to_micros(window[1])),
        _us(planned_stops),
    )


def time_model_us(
    intervals: Sequence[tuple[int, int, str]],
    shifts: Sequence[ShiftPeriod],
    window: Us,
    planned_stops: Sequence[Us] = (),
) -> TimeModel:
    """``time_model`` on integer microseconds (what the report builder reads from the historian)."""
    a, z = window
    pot = union(clip(_us((p.start, p.end) for p in shifts), a, z))  # overlapping shifts count once
    breaks = union(clip(_us(b for p in shifts for b in p.breaks), a, z))
    busy = subtract(pot, breaks)  # shift time where production is planned, before planned stops
    planned = union(clip(planned_stops, a, z))  # a stop inside a plant-wide planned window counts once
    busy_unplanned = subtract(busy, planned)
    tm = TimeModel(calendar_s=(z - a) / 1e6, pot_s=_dur(pot))
    tm.pdot_s = _dur(breaks) + _dur(intersect(busy, planned))
    clipped = [(max(s, a), min(e, z), st) for s, e, st in intervals if min(e, z) > max(s, a)]
    inside = _overlap_by_state(clipped, busy_unplanned)
    in_pot = _overlap_by_state(clipped, pot)
    for state, us in inside.items():
        cls = TIME_CLASS.get(state, "unknown")
        if cls == "pdot":
            tm.pdot_s += us / 1e6
        elif cls != "unknown":
            setattr(tm, f"{cls}_s", getattr(tm, f"{cls}_s") + us / 1e6)
    running_total = sum(e - s for s, e, st in clipped if TIME_CLASS.get(st) == "apt")
    running_in_pot = sum(us for st, us in in_pot.items() if TIME_CLASS.get(st) == "apt")
    tm.outside_s = (running_total - running_in_pot) / 1e6
    tm.pbt_s = tm.pot_s - tm.pdot_s
    tm.unknown_s = max(0.0, tm.pbt_s - tm.apt_s - tm.aust_s - tm.adet_s - tm.adot_s)
    return tm


def kpis(
    scope: str,
    window: Span,
    tm: TimeModel,
    *,
    pq: int,
    gq: int,
    failures: int,
    pri_s: float | None,
    ideal_time_s: float | None = None,
    effectiveness_apt_s: float | None = None,
    min_coverage: float = 0.0,
) -> KpiReport:
    """KPIs from a time model and quantities, over the time werk observed (see the module docstring).

    ``min_coverage`` (0..1): below it the report is marked ``low_coverage``. For a group of assets with different ideal cycle times, ``ideal_time_s`` is the sum of PRI x PQ over the assets
    that have a PRI, and ``effectiveness_apt_s`` the APT of those same assets (an asset without an ideal cycle time,
    like a compressor, must not dilute the group's effectiveness).
    """
    sq = pq - gq
    ideal = ideal_time_s if ideal_time_s is not None else (pri_s * pq if pri_s is not None else None)
    avail = _ratio(tm.apt_s, tm.observed_s)
    coverage = _ratio(tm.observed_s, tm.pbt_s)
    apt_e = tm.apt_s if effectiveness_apt_s is None else effectiveness_apt_s
    eff = _ratio(ideal, apt_e) if ideal is not None else None
    qual = _ratio(gq, pq)
    oee = avail * eff * qual if avail is not None and eff is not None and qual is not None else None
    teep = oee * tm.pbt_s / tm.calendar_s if oee is not None and tm.calendar_s > 0 else None
    report = KpiReport(
        scope=scope,
        start=window[0],
        end=window[1],
        time=tm,
        pq=pq,
        gq=gq,
        sq=sq,
        failures=failures,
        pri_s=pri_s,
        ideal_s=ideal,
        availability=avail,
        effectiveness=eff,
        quality_ratio=qual,
        oee=oee,
        teep=teep,
        scrap_ratio=_ratio(sq, pq),
        mtbf_s=_ratio(tm.apt_s, failures),
        mttr_s=_ratio(tm.adot_s, failures),
        coverage=coverage,
        low_coverage=coverage is not None and coverage < min_coverage,
    )
    report.flags.extend(plausibility(report))
    return report


def combine(scope: str, window: Span, reports: Sequence[KpiReport], min_coverage: float = 0.0) -> KpiReport:
    """A line or plant: time elements and quantities add up; effectiveness weighs each asset's own PRI."""
    tm = TimeModel()
    for r in reports:
        tm.add(r.time)
    tm.calendar_s = sum(r.time.calendar_s for r in reports)
    with_pri = [r for r in reports if r.ideal_s is not None]
    ideal = sum(r.ideal_s for r in with_pri if r.ideal_s is not None)
    return kpis(
        scope,
        window,
        tm,
        pq=sum(r.pq for r in reports),
        gq=sum(r.gq for r in reports),
        failures=sum(r.failures for r in reports),
        pri_s=None,
        ideal_time_s=ideal if with_pri else None,
        effectiveness_apt_s=sum(r.time.apt_s for r in with_pri),
        min_coverage=min_coverage,
    )
