"""The Connector interface: a source of Sample batches, with a health record the API and dashboard show.

A connector owns its protocol session and its reconnect policy; it knows nothing of the bus. The runtime iterates
``stream()`` and publishes what comes out, so a protocol plugs in by providing just this.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Protocol, TypeVar, cast, runtime_checkable

from werk.config.model import WriteLimits
from werk.core.model import Quality, Sample, SignalType, Value, coerce, utcnow
from werk.errors import ConnectorError


@dataclass
class ConnectorStatus:
    """Health of one connector. Counters only grow; ``rate`` is samples/s over the last few seconds.

    ``errors``: what the source sent that werk could not use (malformed, of the wrong type), and failed sessions.
    ``dropped``: samples werk received and had to let go (a full buffer). ``collisions``: samples that carried the
    same timestamp as the signal's previous sample but another value; the historian keeps one sample per signal and
    instant, so the later one replaced the earlier (a source that stamps in whole milliseconds or seconds).
    """

    name: str
    type: str
    endpoint: str
    connected: bool = False
    since: datetime | None = None
    last_sample: datetime | None = None
    samples: int = 0
    errors: int = 0
    dropped: int = 0
    collisions: int = 0
    spooled: int = 0  # waiting on disk for the bus (store-and-forward); not a counter: it empties again
    reconnects: int = 0
    last_error: str = ""
    rate: float = 0.0
    bad_bindings: dict[str, str] = field(default_factory=dict)


@runtime_checkable
class Connector(Protocol):
    name: str
    status: ConnectorStatus

    def stream(self) -> AsyncIterator[list[Sample]]:
        """Batches of samples until cancelled. Never ends on a lost connection: it reconnects, and while the source
        is away it yields one batch marking every bound signal BAD."""
        ...


@runtime_checkable
class WritableConnector(Connector, Protocol):
    """A connector that can write a value back to the signal's source (raises ConnectorError when it can't)."""

    async def write(self, path: str, value: Value) -> None: ...


@runtime_checkable
class RangedConnector(Protocol):
    """A writable connector whose source says what values a signal takes (an OPC UA node's EURange, OPC 10000-8,
    5.3.2.2). ``Platform.write_signal`` asks it before a write, besides the plant file's ``limits``."""

    async def write_limits(self, path: str) -> tuple[WriteLimits, str] | None:
        """The limits the source gives for ``path`` and where they come from (for the refusal), or None."""
        ...


class SignalLedger:
    """What a connector has delivered: each signal's last value (to mark it BAD, carrying that value, when the
    source goes away) and the counters and rate in its status. Shared by every protocol so they report alike."""

    RATE_WINDOW_S = 2.0

    def __init__(self, status: ConnectorStatus) -> None:
        self.status = status
        self.last: dict[str, Value] = {}
        self.stamps: dict[str, datetime] = {}
        self._rate_t = time.monotonic()
        self._rate_n = 0

    def account(self, batch: list[Sample]) -> list[Sample]:
        """Count a delivered batch; returns its samples that collided (see ``ConnectorStatus.collisions``)."""
        st = self.status
        st.samples += len(batch)
        st.last_sample = batch[-1].ts
        last, stamps = self.last, self.stamps
        collided: list[Sample] = []
        for s in batch:
            path, ts, value = s.path, s.ts, s.value
            if stamps.get(path) == ts and last[path] != value:
                collided.append(s)
            last[path] = value
            stamps[path] = ts
        st.collisions += len(collided)
        self._rate_n += len(batch)
        now = time.monotonic()
        if now - self._rate_t >= self.RATE_WINDOW_S:
            st.rate = self._rate_n / (now - self._rate_t)
            self._rate_t, self._rate_n = now, 0
        return collided

    def lost(
        self,
        exc: BaseException,
        *,
        was_connected: bool,
        logger: logging.Logger,
        protocol: str,
        description: str | None = None,
        level: int | None = None,
    ) -> None:
        """Count and log a failed session: a warning if it had been up, info while still trying to connect (unless
        ``level`` says otherwise, e.g. an error for a configuration that retrying will not mend)."""
        self.status.errors += 1
        self.status.last_error = description or f"{type(exc).__name__}: {exc}"
        if level is None:
            level = logging.WARNING if was_connected else logging.INFO
        logger.log(level, "%s.lost connector=%s error=%s", protocol, self.status.name, self.status.last_error)

    def mark_bad(self) -> list[Sample]:
        """One BAD sample per signal that had a value, carrying it, so nobody mistakes stale data for live."""
        now = utcnow()
        return [Sample(path, now, value, Quality.BAD) for path, value in self.last.items()]


#: the Python type of each declared signal type whose values need no conversion (datetime text is always checked)
_PYTHON_TYPE: dict[str, type] = {"str": str, "int": int, "float": float, "bool": bool}
#: the integers the historian stores exactly (SQLite INTEGER: 64-bit signed)
_INT64 = (-(2**63), 2**63 - 1)


def _storable(value: object) -> tuple[Value, str | None]:
    """``value`` as a plain bool, int, float or str, or why it is none (see ``SessionConnector``)."""
    if isinstance(value, bool):
        return bool(value), None
    if isinstance(value, int):
        if not _INT64[0] <= value <= _INT64[1]:
            return 0, f"{value} is beyond a 64-bit integer; declare the signal float or str to keep it"
        return int(value), None
    if isinstance(value, float):
        return (float(value), None) if math.isfinite(value) else (0.0, f"{value} is not a number werk stores")
    if isinstance(value, str):
        return str(value), None
    return "", f"{type(value).__name__} is not a value (a number, a boolean or text)"


class RateLimitedLog:
    """Log a recurring problem once per key per ``every_s``, with how many were not logged in between."""

    def __init__(self, logger: logging.Logger, every_s: float = 60.0) -> None:
        self.logger = logger
        self.every_s = every_s
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def warning(self, key: str, msg: str, *args: object) -> None:
        now = time.monotonic()
        if now - self._last.get(key, -math.inf) < self.every_s:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return
        self._last[key] = now
        self.logger.warning(msg + " suppressed=%d", *args, self._suppressed.pop(key, 0))


_A = TypeVar("_A")


class SessionConnector(ABC):
    """The session loop every protocol shares: run a session, count what it delivers, and when it fails mark the
    signals it had BAD, wait (doubling up to a limit) and start again. A protocol provides ``_session`` (connect,
    call ``_up``, yield batches until it fails by raising) and its reconnect limits.

    ``types`` (UNS path -> the type its binding declares) applies to what the session yields: a value of another
    type is converted (:func:`werk.core.model.coerce`), or, when it does not convert, counted in ``errors``, logged
    once per signal a minute and left out. A protocol that has the source's own text converts from that itself.

    Then every value is made one the historian stores as it is: a subclass of bool, int, float or str (an enum)
    becomes its base type; a NaN or infinity is no value: a BAD sample carrying the signal's last value, counted in
    ``errors``; an integer beyond 64 bits (an OPC UA or Sparkplug UInt64 past 2**63 - 1) is counted in ``errors``
    and left out, with the advice to declare the signal ``float`` or ``str``. Nothing else is a value.

    A protocol's ``__init__`` calls this one first, with the connector's ``status`` (whose ``name`` is the
    connector's): refusing a binding (:meth:`_bad_binding`, :meth:`_parsed`) records it there.
    """

    name: str
    status: ConnectorStatus
    protocol: str
    logger: logging.Logger

    def __init__(self, status: ConnectorStatus, types: Mapping[str, SignalType] | None = None) -> None:
        self.name = status.name
        self.status = status
        self._ledger = SignalLedger(status)
        self.types: dict[str, SignalType] = dict(types or {})
        self._signal_log = RateLimitedLog(self.logger)

    def _typed(self, batch: list[Sample]) -> list[Sample]:
        """``batch`` with every declared type applied (see the class docstring)."""
        out: list[Sample] = []
        for s in batch:
            kind = self.types.get(s.path)
            if kind is None or type(s.value) is _PYTHON_TYPE.get(kind):
                out.append(s)
                continue
            try:
                out.append(replace(s, value=coerce(s.value, kind)))
            except ValueError as exc:
                self.status.errors += 1
                self.status.last_error = f"{s.path}: {exc} (its binding declares {kind})"
                self._signal_log.warning(
                    s.path,
                    "%s.type connector=%s path=%s type=%s error=%s",
                    self.protocol,
                    self.name,
                    s.path,
                    kind,
                    exc,
                )
        return out

    def _bad_binding(self, path: str, reason: str) -> None:
        """Refuse one binding: ``status.bad_bindings`` names it with ``reason``; the others still work."""
        self.status.bad_bindings[path] = reason
        self.logger.error("%s.binding connector=%s path=%s error=%s", self.protocol, self.name, path, reason)

    def _parsed(self, bindings: Mapping[str, str], parse: Callable[[str], _A]) -> Iterator[tuple[_A, str]]:
        """Each binding as (its address read by ``parse``, the UNS path it feeds); one whose address ``parse``
        refuses with a ConnectorError is a bad binding (:meth:`_bad_binding`), left out."""
        for address, path in bindings.items():
            try:
                parsed = parse(address)
            except ConnectorError as exc:
                self._bad_binding(path, str(exc))
                continue
            yield parsed, path

    def _storable(self, batch: list[Sample]) -> list[Sample]:
        """``batch`` with every value as the historian stores it (see the class docstring)."""
        low, high = _INT64
        for v in [s.value for s in batch]:
            t = type(v)
            if t is float:
                # finite: inf - inf and NaN - NaN are NaN, which equals nothing
                if v - v != 0.0:  # type: ignore[operator]
                    break
            elif t is int:
                if not low <= v <= high:  # type: ignore[operator]
                    break
            elif t is not str and t is not bool:
                break
        else:
            return batch
        out: list[Sample] = []
        for s in batch:
            value, reason = _storable(s.value)
            if reason is None:
                out.append(s if value is s.value else replace(s, value=value))
                continue
            self.status.errors += 1
            self.status.last_error = f"{s.path}: {reason}"
            self._signal_log.warning(
                s.path, "%s.value connector=%s path=%s error=%s", self.protocol, self.name, s.path, reason
            )
            if isinstance(s.value, float) and s.path in self._ledger.last:
                out.append(Sample(s.path, s.ts, self._ledger.last[s.path], Quality.BAD))
        return out

    def _delivered(self, batch: list[Sample]) -> None:
        """Count a batch on its way out and log its collisions (once per signal a minute)."""
        for s in self._ledger.account(batch):
            self._signal_log.warning(
                s.path,
                "%s.collision connector=%s path=%s ts=%s value=%r: same timestamp as the previous sample",
                self.protocol,
                self.name,
                s.path,
                s.ts.isoformat(),
                s.value,
            )

    @abstractmethod
    def _session(self) -> AsyncIterator[list[Sample]]: ...

    @abstractmethod
    def _reconnect_settings(self) -> tuple[float, float]:
        """The least and the most seconds between two attempts to connect."""

    def _after_loss(self) -> None:
        """Forget session state that does not survive a reconnect (nothing, unless a protocol says so)."""
        return None

    def _describe_loss(self, exc: Exception) -> str | None:
        return None

    def _loss_level(self, exc: Exception, was_connected: bool) -> int | None:
        return None

    def _up(self, **details: object) -> None:
        self.status.connected = True
        self.status.since = utcnow()
        extra = " ".join(f"{k}={v}" for k, v in details.items())
        self.logger.info(
            "%s.connected connector=%s endpoint=%s %s", self.protocol, self.name, self.status.endpoint, extra
        )

    async def stream(self) -> AsyncIterator[list[Sample]]:
        low, high = self._reconnect_settings()
        delay = low
        while True:
            try:
                # aclosing: a stream closed by its consumer closes the session (and its client) at once
                session = cast(AsyncGenerator[list[Sample], None], self._session())
                async with contextlib.aclosing(session):
                    async for batch in session:
                        if batch and self.types:
                            batch = self._typed(batch)
                        if batch:
                            batch = self._storable(batch)
                        if batch:
                            self._delivered(batch)
                            yield batch
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure of the session leads to the same recovery
                up = self.status.connected
                self._ledger.lost(
                    exc,
                    was_connected=up,
                    logger=self.logger,
                    protocol=self.protocol,
                    description=self._describe_loss(exc),
                    level=self._loss_level(exc, up),
                )
            finally:
                was_connected = self.status.connected
                self.status.connected = False
            if was_connected:
                delay = low
                self._after_loss()
                bad = self._ledger.mark_bad()
                if bad:
                    yield bad
            self.status.reconnects += 1
            await asyncio.sleep(delay)
            delay = min(delay * 2, high)
