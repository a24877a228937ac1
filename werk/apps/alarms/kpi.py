"""Alarm KPIs as EEMUA 191 and ISA-18.2 (clause 16, table 5) define them, graded against their targets; pure.

Input is a list of :class:`Record` (an alarm raised or cleared at an instant): werk's own journal
(:mod:`werk.apps.alarms.store`) or an imported alarm log (:func:`read_csv`).

Rates and shares of time are over the time the alarms were *observed* within the range, not over the range
itself: werk's journal says nothing of the hours before werk first watched the alarms or while it was stopped, and
dividing by them would report a flood as a quiet day. The journal's caller passes the spans werk watched (the
alarm store keeps them); an imported log is the complete record of its own span, so there the whole range is
observed. A rate (and the flood share) over less than :data:`MIN_OBSERVED_H` of observed time is shown but not
graded ("too short"): a few minutes of alarms do not say what an hour of them would be.

The figures:

- activations: alarms raised (annunciated ones: not under shelving, suppression or out of service);
- alarms per operator position per hour and per 10 minutes (activations / positions / observed hours); ISA-18.2's
  targets: about 6 per hour (1 per 10 min) is very likely acceptable, 12 per hour (2 per 10 min) the most
  manageable;
- 10-minute periods: aligned to the clock (00:00, 00:10, ...) from the range's start, counted where werk observed
  them in whole or in part; a period with more than ``flood_per_10min`` activations is in flood; the target is
  under 1 % of periods, and the peak 10-minute count at most 10;
- top-10 contributors: the ten alarms raised most often and their share of all activations (target: at most 5 %);
- chattering: alarms raised ``count`` times or more within ``window_s`` (target: none);
- stale: alarms active longer than ``stale_after_s`` (24 h) (target: fewer than 5);
- priority distribution against about 80 % low, 15 % medium, 5 % high (met when no share is more than 10
  percentage points off).
"""

from __future__ import annotations

import csv
import io
import itertools
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from werk.apps.alarms.settings import KpiSettings
from werk.apps.bodies import doc
from werk.errors import InputError

TEN_MIN = timedelta(minutes=10)
PRIORITY_TARGETS = {"low": 0.80, "medium": 0.15, "high": 0.05}
Grade = Literal["met", "manageable", "not met", "no data", "too few", "too short"]
MIN_OBSERVED_H = 1.0
"""Observed hours below which the alarm rates and the flood share are not graded ("too short"): 60 alarms in the
first 19 minutes and none after are 60 an hour, not 190; 19 quiet minutes say little of the next 40 either."""
MIN_FOR_SHARES = 10
"""Activations below which shares of them (top-10 share, priority distribution) are not graded: one alarm in a
day is 100 % of the top ten and 100 % of one priority, which says nothing about the alarm system. The top-10 share
is also left ungraded while ten or fewer distinct alarms were raised (it is then 100 % by its definition)."""


@dataclass(frozen=True, slots=True)
class Record:
    """An alarm raised (``active``) or cleared at ``ts``; ``position`` is the operator position that sees it."""

    ts: datetime
    tag: str
    active: bool
    priority: str = ""
    position: str = "plant"
    message: str = ""


@dataclass(frozen=True)
class Figure:
    """One KPI: its value, the standard's target in words, and how it grades."""

    key: str
    value: float | None
    target: str
    grade: Grade = field(
        metadata=doc(
            "met, manageable, not met, no data, too few (too few activations to grade a share), too short (a "
            "rate or the flood share over less than an hour of observed time)"
        )
    )


@dataclass(frozen=True)
class Contributor:
    tag: str
    count: int
    share: float
    message: str = ""


@dataclass(frozen=True)
class Suggestion:
    """A rationalisation aid: delays that would have removed a chattering alarm's repeats, computed on its history
    (activations kept with each, of ``activations``)."""

    tag: str
    activations: int
    off_delay_s: float
    kept_with_off_delay: int
    on_delay_s: float
    kept_with_on_delay: int


@dataclass(frozen=True)
class Span:
    """A stretch of time in which the alarms were observed, [start, end)."""

    start: datetime = field(metadata=doc("from (UTC)"))
    end: datetime = field(metadata=doc("until (UTC), excluded; for the running app: now"))


@dataclass
class KpiReport:
    start: datetime
    end: datetime
    hours: float = field(metadata=doc("the range's length in hours, end - start"))
    positions: int
    activations: int
    per_hour: float | None = field(
        metadata=doc(
            "alarms per operator position per observed hour; null when nothing of the range was observed"
        )
    )
    per_10min: float | None = field(
        metadata=doc("alarms per operator position per 10 observed minutes (per_hour / 6); null as per_hour")
    )
    peak_10min: int
    periods: int = field(metadata=doc("10-minute periods of the range observed in whole or in part"))
    flood_periods: int
    flood_share: float | None = field(
        metadata=doc("flood_periods / periods; null when no period was observed")
    )
    top10: list[Contributor]
    top10_share: float
    chattering: list[Contributor]
    stale: list[str]
    standing: int
    priority: dict[str, int]
    counts: dict[str, int] = field(
        default_factory=dict
    )  # shelved, suppressed, out of service now (live only)
    figures: list[Figure] = field(default_factory=list)
    suggestions: list[Suggestion] = field(
        default_factory=list, metadata=doc("delays that would have removed chattering repeats")
    )
    deadbands: list[DeadbandSuggestion] = field(
        default_factory=list,
        metadata=doc(
            "for chattering limit alarms of the journal: the deadband that would have removed the repeats, "
            "replayed on the signal's history"
        ),
    )
    by_position: dict[str, int] = field(default_factory=dict)
    observed_hours: float = field(
        default=0.0,
        metadata=doc(
            "hours of the range in which the alarms were observed (werk watched them; an imported log: all of "
            "its range): the base of the rates and of the flood share"
        ),
    )
    observed_share: float = field(default=0.0, metadata=doc("observed_hours / hours, 0..1"))
    observed: list[Span] = field(
        default_factory=list, metadata=doc("the stretches of the range observed, oldest first, merged")
    )
    tags: int = 0  # distinct alarms raised


def floor_10min(ts: datetime) -> datetime:
    ts = ts.astimezone(UTC)
    return ts.replace(minute=ts.minute - ts.minute % 10, second=0, microsecond=0)


def _grade_rate(value: float | None, good: float, manageable: float, observed_h: float) -> Grade:
    if value is None:
        return "no data"
    if observed_h < MIN_OBSERVED_H:
        return "too short"
    return "met" if value <= good else "manageable" if value <= manageable else "not met"


def clip(spans: Iterable[tuple[datetime, datetime]], start: datetime, end: datetime) -> list[Span]:
    """``spans`` cut to [start, end), overlapping and touching ones merged, oldest first; empty ones dropped."""
    cut = sorted((max(a, start), min(z, end)) for a, z in spans if min(z, end) > max(a, start))
    out: list[Span] = []
    for a, z in cut:
        if out and a <= out[-1].end:
            if z > out[-1].end:
                out[-1] = Span(out[-1].start, z)
        else:
            out.append(Span(a, z))
    return out


def _periods(spans: Sequence[Span], first: datetime) -> set[int]:
    """The indexes of the 10-minute periods from ``first`` that ``spans`` touch."""
    out: set[int] = set()
    for s in spans:
        out.update(range(int((s.start - first) / TEN_MIN), math.ceil((s.end - first) / TEN_MIN)))
    return out


def report(
    records: Sequence[Record],
    settings: KpiSettings | None = None,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    positions: int | None = None,
    counts: dict[str, int] | None = None,
    observed: Iterable[tuple[datetime, datetime]] | None = None,
) -> KpiReport:
    """The KPIs of ``records`` over [start, end): by default from the 10-minute boundary at or before the first
    record to the one after the last. ``positions``: operator positions (default: those the records name).
    ``observed``: the spans in which the alarms were watched (clipped to the range; default the whole range);
    rates and the flood share are over them (see the module docstring)."""
    k = settings or KpiSettings()
    recs = sorted(records, key=lambda r: r.ts)
    if start is None:
        start = floor_10min(recs[0].ts) if recs else datetime.now(UTC)
    if end is None:
        end = floor_10min(recs[-1].ts) + TEN_MIN if recs else start + TEN_MIN
    recs = [r for r in recs if start <= r.ts < end]
    acts = [r for r in recs if r.active]
    hours = max((end - start).total_seconds() / 3600.0, 1e-9)
    spans = clip([(start, end)] if observed is None else observed, start, end)
    seen_h = sum((s.end - s.start).total_seconds() for s in spans) / 3600.0
    n_pos = positions or max(1, len({r.position for r in acts}))
    n = len(acts)
    per_hour = n / n_pos / seen_h if seen_h > 0 else None
    # 10-minute periods aligned to the clock, those observed; one with an activation was observed by definition
    first = floor_10min(start)
    buckets: Counter[int] = Counter(int((r.ts - first) / TEN_MIN) for r in acts)
    periods = len(_periods(spans, first) | set(buckets))
    floods = sum(1 for c in buckets.values() if c > k.flood_per_10min)
    peak = max(buckets.values(), default=0)
    tags = Counter(r.tag for r in acts)
    messages = {r.tag: r.message for r in acts if r.message}
    top = [Contributor(t, c, c / n, messages.get(t, "")) for t, c in tags.most_common(10)] if n else []
    top_share = sum(c.count for c in top) / n if n else 0.0
    chattering, suggestions = _chattering(recs, k, n)
    stale, standing = _stale(recs, end, k.stale_after_s)
    prio = Counter(r.priority for r in acts if r.priority)
    rep = KpiReport(
        start=start,
        end=end,
        hours=hours,
        positions=n_pos,
        activations=n,
        per_hour=per_hour,
        per_10min=None if per_hour is None else per_hour / 6,
        peak_10min=peak,
        periods=periods,
        flood_periods=floods,
        flood_share=floods / periods if periods else None,
        top10=top,
        top10_share=top_share,
        chattering=chattering,
        stale=stale,
        standing=standing,
        priority=dict(prio),
        counts=dict(counts or {}),
        suggestions=suggestions,
        by_position=dict(Counter(r.position for r in acts)),
        observed_hours=seen_h,
        observed_share=min(1.0, seen_h / hours),
        observed=spans,
        tags=len(tags),
    )
    rep.figures = grade(rep)
    return rep


def grade(r: KpiReport) -> list[Figure]:
    """Each figure against the ISA-18.2 / EEMUA 191 target."""
    seen = r.observed_hours
    flood: Grade = (
        "no data"
        if r.flood_share is None
        else "too short"
        if seen < MIN_OBSERVED_H
        else "met"
        if r.flood_share < 0.01
        else "not met"
    )
    figs = [
        Figure("per_hour", r.per_hour, "≤ 6 (≤ 12 manageable)", _grade_rate(r.per_hour, 6, 12, seen)),
        Figure("per_10min", r.per_10min, "≤ 1 (≤ 2 manageable)", _grade_rate(r.per_10min, 1, 2, seen)),
        Figure("peak_10min", float(r.peak_10min), "≤ 10", "met" if r.peak_10min <= 10 else "not met"),
        Figure("flood_share", r.flood_share, "< 1 %", flood),
        Figure(
            "top10_share",
            r.top10_share,
            "≤ 5 %",
            "too few"
            if r.activations < MIN_FOR_SHARES or r.tags <= 10
            else "met"
            if r.top10_share <= 0.05
            else "not met",
        ),
        Figure("chattering", float(len(r.chattering)), "0", "met" if not r.chattering else "not met"),
        Figure("stale", float(len(r.stale)), "< 5", "met" if len(r.stale) < 5 else "not met"),
    ]
    total = sum(r.priority.values())
    if total:
        off = max(abs(r.priority.get(p, 0) / total - share) for p, share in PRIORITY_TARGETS.items())
        ok: Grade = "met" if off <= 0.10 else "not met"
        figs.append(
            Figure(
                "priority", off, "80 / 15 / 5 % (± 10 points)", "too few" if total < MIN_FOR_SHARES else ok
            )
        )
    else:
        figs.append(Figure("priority", None, "80 / 15 / 5 % (± 10 points)", "no data"))
    if r.activations == 0:
        figs = [
            f
            if f.key in ("chattering", "stale") or f.grade == "too short"
            else Figure(f.key, f.value, f.target, "no data")
            for f in figs
        ]
    return figs


def _chattering(recs: Sequence[Record], k: KpiSettings, n: int) -> tuple[list[Contributor], list[Suggestion]]:
    by_tag: dict[str, list[Record]] = defaultdict(list)
    for r in recs:
        by_tag[r.tag].append(r)
    out: list[Contributor] = []
    suggestions: list[Suggestion] = []
    window = timedelta(seconds=k.chatter.window_s)
    for tag, rows in by_tag.items():
        times = [r.ts for r in rows if r.active]
        if any(
            times[i + k.chatter.count - 1] - times[i] <= window
            for i in range(len(times) - k.chatter.count + 1)
        ):
            out.append(Contributor(tag, len(times), len(times) / n if n else 0.0))
            suggestions.append(suggest(tag, rows, k.chatter.window_s))
    out.sort(key=lambda c: -c.count)
    suggestions.sort(key=lambda s: -s.activations)
    return out, suggestions


def suggest(tag: str, rows: Sequence[Record], window_s: float) -> Suggestion:
    """The off-delay that would have merged every return-and-raise-again within ``window_s`` into one alarm,
    and the on-delay that would have dropped every activation shorter than ``window_s``; each with the
    activations that would have been left, replayed on the alarm's history."""
    spans: list[tuple[datetime, datetime | None]] = []  # (raised, cleared)
    for r in sorted(rows, key=lambda r: r.ts):
        if r.active and (not spans or spans[-1][1] is not None):
            spans.append((r.ts, None))
        elif not r.active and spans and spans[-1][1] is None:
            spans[-1] = (spans[-1][0], r.ts)
    gaps = [(b[0] - a[1]).total_seconds() for a, b in itertools.pairwise(spans) if a[1] is not None]
    short_gaps = [g for g in gaps if g <= window_s]
    off = math.ceil(max(short_gaps)) + 1 if short_gaps else 0.0
    kept_off = len(spans) - sum(1 for g in gaps if g < off)
    durations = [(c - a).total_seconds() for a, c in spans if c is not None]
    short = [d for d in durations if d <= window_s]
    on = math.ceil(max(short)) + 1 if short else 0.0
    kept_on = sum(1 for a, c in spans if c is None or (c - a).total_seconds() >= on)
    return Suggestion(tag, len(spans), float(off), kept_off, float(on), kept_on)


@dataclass(frozen=True)
class DeadbandSuggestion:
    """The deadband that would have kept a limit alarm raised through its short returns, replayed on the
    signal's samples: ``activations`` without it (with the deadband configured now), ``kept`` with it."""

    tag: str
    deadband: float = field(metadata=doc("in the signal's unit"))
    activations: int = field(metadata=doc("activations replayed on the signal's samples as configured now"))
    kept: int = field(metadata=doc("activations replayed with the suggested deadband"))


def _replay(kind: str, limit: float, deadband: float, values: Sequence[float]) -> list[tuple[int, int]]:
    """(raised at, cleared at) sample indexes of a limit alarm with this deadband (as ``Condition`` tests it)."""
    up = kind in ("high", "high_high")
    raw, start = False, 0
    spans: list[tuple[int, int]] = []
    for i, v in enumerate(values):
        band = deadband if raw else 0.0
        now = v > limit - band if up else v < limit + band
        if now and not raw:
            start = i
        elif raw and not now:
            spans.append((start, i))
        raw = now
    if raw:
        spans.append((start, len(values)))
    return spans


def _nice_up(x: float) -> float:
    """``x`` rounded up to two significant digits (0.0437 -> 0.044, 1.31 -> 1.4)."""
    if x <= 0:
        return 0.0
    step = 10.0 ** (math.floor(math.log10(x)) - 1)
    return round(math.ceil(x / step - 1e-9) * step, 12)


def suggest_deadband(
    tag: str,
    kind: str,
    limit: float,
    samples: Sequence[tuple[datetime, float]],
    window_s: float,
    deadband: float = 0.0,
) -> DeadbandSuggestion | None:
    """For a high or low alarm: the smallest deadband (two significant digits, above the deepest return) that
    keeps it raised through every return shorter than ``window_s``, with the activations replayed on the signal's
    ``samples`` (time order) before and after. None for other kinds, or when there is nothing to remove."""
    if kind not in ("high", "high_high", "low", "low_low") or not samples:
        return None
    values = [v for _, v in samples]
    spans = _replay(kind, limit, deadband, values)
    up = kind in ("high", "high_high")
    depths = []
    for (_, cleared), (raised, _) in itertools.pairwise(spans):
        if (samples[raised][0] - samples[cleared][0]).total_seconds() <= window_s:
            between = values[cleared:raised]
            depths.append(limit - min(between) if up else max(between) - limit)
    if not depths:
        return None
    d = _nice_up(max(depths) * 1.000001)
    while d <= max(depths):  # exactly the depth would still clear
        d = _nice_up(d * 1.01)
    return DeadbandSuggestion(tag, d, len(spans), len(_replay(kind, limit, d, values)))


def _stale(recs: Sequence[Record], end: datetime, stale_after_s: float) -> tuple[list[str], int]:
    """Alarms active longer than ``stale_after_s`` within the period, and how many stand (active) at its end."""
    since: dict[str, datetime] = {}
    stale: set[str] = set()
    limit = timedelta(seconds=stale_after_s)
    for r in recs:
        if r.active:
            since.setdefault(r.tag, r.ts)
        elif r.tag in since and r.ts - since.pop(r.tag) > limit:
            stale.add(r.tag)
    stale |= {t for t, s in since.items() if end - s > limit}
    return sorted(stale), len(since)


# -- imported alarm logs ------------------------------------------------------------------------------------------
RETURN_WORDS = frozenset({"nr", "rtn", "clear", "cleared", "normal", "return"})


def _is_return(kind: str) -> bool:
    words = kind.strip().lower().split()
    return bool(words) and words[-1] in RETURN_WORDS


def _rows(reader: csv.DictReader[str], source: str) -> Iterator[tuple[int, dict[str, str]]]:
    """The rows, numbered from 1 after the header; a row the csv module cannot read is refused with its number."""
    i = 0
    try:
        for i, row in enumerate(reader, start=1):
            yield i, row
    except csv.Error as exc:
        raise InputError(f"{source}, row {i + 1}: {exc}", ("body", i + 1)) from None


def read_csv(text: str, *, timezone: str = "UTC", source: str = "alarm log") -> list[Record]:
    """An alarm log as records. Columns (by header): ``timestamp`` and ``tag`` are required; ``type`` (or
    ``event``) says what happened: a word ending in ``NR``, ``RTN`` or ``clear`` (``H NR``, ``LL NR``) is a
    return to normal, anything else (``H``, ``LL``, ``ALM``) an activation; optional ``priority``, ``position``
    (or ``area``) and ``description`` (or ``message``). Times without an offset are in ``timezone``. A bad row is
    refused with its row and column (rows counted from 1 after the header)."""
    tz = ZoneInfo(timezone)
    reader = csv.DictReader(io.StringIO(text))
    try:
        fields = {(f or "").strip().lower(): f for f in reader.fieldnames or []}
    except csv.Error as exc:  # a field over the csv module's limit, a NUL byte
        raise InputError(f"{source}, header: {exc}", ("body", "header")) from None

    def col(*names: str) -> str | None:
        return next((fields[n] for n in names if n in fields), None)

    ts_col, tag_col = col("timestamp", "time", "ts"), col("tag", "alarm", "source")
    kind_col, prio_col = col("type", "event", "state"), col("priority")
    pos_col, msg_col = col("position", "area"), col("description", "message")
    missing = [n for n, c in (("timestamp", ts_col), ("tag", tag_col)) if c is None]
    if missing:
        raise InputError(f"{source}: no column {' or '.join(missing)} in the header", ("body", "header"))
    assert ts_col is not None and tag_col is not None
    out: list[Record] = []
    for i, row in _rows(reader, source):
        raw = (row.get(ts_col) or "").strip()
        try:
            ts = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            # nanosecond stamps (pandas writes 9 digits): cut to microseconds
            head, dot, frac = raw.partition(".")
            try:
                ts = datetime.fromisoformat(f"{head}.{frac[:6]}" if dot else head)
            except ValueError:
                raise InputError(
                    f"{source}, row {i}, column {ts_col}: {raw!r} is not a date and time", ("body", i, ts_col)
                ) from None
        ts = ts.replace(tzinfo=tz) if ts.tzinfo is None else ts
        tag = (row.get(tag_col) or "").strip()
        if not tag:
            raise InputError(f"{source}, row {i}, column {tag_col}: the tag is empty", ("body", i, tag_col))
        kind = (row.get(kind_col) or "") if kind_col else ""
        out.append(
            Record(
                ts=ts.astimezone(UTC),
                tag=tag,
                active=not _is_return(kind),
                priority=((row.get(prio_col) or "") if prio_col else "").strip().lower(),
                position=((row.get(pos_col) or "") if pos_col else "").strip() or "plant",
                message=((row.get(msg_col) or "") if msg_col else "").strip(),
            )
        )
    return out


def merge_positions(records: Iterable[Record], positions: dict[str, list[str]]) -> list[Record]:
    """Records with their area replaced by the operator position that watches it (``kpi.positions``)."""
    if not positions:
        return [r if r.position == "plant" else _with(r, "plant") for r in records]
    of = {a: p for p, areas in positions.items() for a in areas}
    return [_with(r, of.get(r.position, r.position)) for r in records]


def _with(r: Record, position: str) -> Record:
    return Record(r.ts, r.tag, r.active, r.priority, position, r.message)
