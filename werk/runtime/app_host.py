"""The apps in a cluster (``cluster.apps``): ``werk worker`` leases partitions of the assets
(werk.runtime.partitions), takes their samples from the durable log in each asset's order
(werk.runtime.partition_feed) and runs the enabled apps whose state is per asset (``AppSpec.partitioned``) over
exactly those assets; and while it holds the plant lease (one more key of the same bucket, the same protocol) it
runs the plant-wide apps over the whole plant, fed every asset's samples by one durable consumer (:class:`AppGroup`).

The apps are the ones ``werk serve`` runs, unchanged: each time the set of held leases changes the host builds
them again, over an in-process bus, with the plant file pruned to the assets held (an app builds its per-asset
state from ``ctx.config.assets()``), their tables on the shared app database (PostgreSQL), and ``ctx.from_log``
set, so an instance takes each asset up where the store says the last one left it instead of starting a new state
machine. While it rebuilds, the feed waits; what the old instances were given is settled first.

The contract per batch of the log:

- it is published to the apps' bus, and acknowledged only once the bus settled (every app handled it and what it
  led to, werk.bus.memory) and the events that caused were committed: a host killed at any instant leaves the
  batch to be delivered again, to whoever holds the partition then, and the events' keys (werk.core.model.
  event_key) store each once however often it is handled;
- samples the apps derive (an asset's derived state, its live KPIs) go back into the log, marked as derived
  (``DERIVED_HEADER``), through the edge's link, each publish retried until the broker acknowledged it: the
  historian's workers store them and every ``werk api`` replica shows them live, as any sample; the apps' feed
  passes them by (the apps that made them had them already). No spool: until the broker has them, the batch that
  caused them is not acknowledged either, so the log keeps the cause;
- the host's own historian writer stores events only: the fed samples are the historian workers' to store;
- the events the per-asset apps publish (a warning of wear, a stop) reach the plant-wide apps (a plan keeps an
  inspection window free on a warned asset) over the broker, as plain messages on ``werk.apps.events.<kind>``
  (:data:`EVENTS_SUBJECT`): at most once, like an event published while a single process restarts; the events
  themselves are stored once by the host that made them, never by the one that hears of them.

What is not carried from one instance to the next is in docs/cluster.md ("Apps in a cluster").
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import time
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import nats
import nats.errors

from werk.apps.spec import App, AppContext
from werk.bus.base import Overflow, Subscription
from werk.bus.jetstream import SUBJECT_PREFIX, connect, encode, ensure_log
from werk.bus.memory import EventSubscriptionQueue, MemoryBus
from werk.config.model import HistorianConfig, WerkConfig
from werk.core.lifecycle import cancel_within, stop_within
from werk.core.model import Event, Sample
from werk.errors import WerkError
from werk.registry import Registry, default_registry
from werk.runtime.app_commands import CommandServer
from werk.runtime.edge import LogLink, LogUnavailable
from werk.runtime.historian_writer import HistorianWriter
from werk.runtime.latest import LatestValues
from werk.runtime.partition_feed import PartitionFeed, asset_subjects, ensure_app_consumers
from werk.runtime.partitions import PLANT_LEASE, PartitionLeases, partition_key, partition_of
from werk.store import AppDatabase, Historian, open_historian

log = logging.getLogger(__name__)

SETTLE_S = 30.0  # a batch the apps have not handled within this is handed back (negative acknowledgement)
RETRY_S = 0.5
MAX_RETRY_S = 5.0
FLUSH_S = 0.02  # the events writer's merge window: short, a batch's acknowledgement waits for it
ASSETS = "assets"  # the group of the per-asset apps, and the mark of the samples they derive
PLANT = "plant"  # the group of the plant-wide apps, and the mark of theirs
PLANT_SUBJECT = f"{SUBJECT_PREFIX}.>"  # every asset's samples: one subject to a consumer's filter
EVENTS_SUBJECT = "werk.apps.events"  # + ".<kind>": the per-asset apps' events, heard by the plant-wide apps


def event_message(event: Event) -> bytes:
    """An event as the plant-wide apps hear it over the broker (:func:`event_of` reads it)."""
    return json.dumps(
        {
            "kind": event.kind,
            "source": event.source,
            "ts": event.ts.isoformat(),
            "data": event.data,
            "key": event.key,
        },
        default=str,
    ).encode()


def event_of(payload: bytes) -> Event:
    """The event of :func:`event_message`; ValueError (or KeyError, TypeError) for anything else."""
    d = json.loads(payload)
    return Event(
        str(d["kind"]), str(d["source"]), datetime.fromisoformat(d["ts"]), dict(d["data"]), d.get("key")
    )


def prune(config: WerkConfig, assets: set[str]) -> WerkConfig:
    """The plant file with only the assets named (by UNS path) in its tree, and the cells, lines, areas and sites
    that still hold one; the rest of the file as it is (not validated again: a part of a valid file)."""
    p = config.plant
    sites = {}
    for site_name, site in p.sites.items():
        areas = {}
        for area_name, area in site.areas.items():
            lines = {}
            for line_name, line in area.lines.items():
                cells = {}
                for cell_name, cell in line.cells.items():
                    base = "/".join((p.enterprise, site_name, area_name, line_name, cell_name))
                    kept = {n: a for n, a in cell.assets.items() if f"{base}/{n}" in assets}
                    if kept:
                        cells[cell_name] = cell.model_copy(update={"assets": kept})
                if cells:
                    lines[line_name] = line.model_copy(update={"cells": cells})
            if lines:
                areas[area_name] = area.model_copy(update={"lines": lines})
        if areas:
            sites[site_name] = site.model_copy(update={"areas": areas})
    return config.model_copy(update={"plant": p.model_copy(update={"sites": sites})})


def _open_app_database(h: HistorianConfig) -> AppDatabase:
    from werk.store.app_postgres import PostgresAppDatabase

    assert h.url is not None  # AppHost refuses a plant file without one
    db = PostgresAppDatabase(h.url)
    db.open()
    return db


class AppsBus:
    """The apps' bus in the host: an in-process bus whose samples also go to the log (derived), before the apps
    on this side see them, so the log has a derived sample before anything acts on it."""

    def __init__(self, inner: MemoryBus, link: LogLink, mark: str, nc: Any = None) -> None:
        self.inner = inner
        self.link = link
        self.mark = mark  # the DERIVED_HEADER value: which feed passes these samples by
        self.nc = nc  # the per-asset apps' events go out on it (EVENTS_SUBJECT); None: they stay here
        self.forwarded = 0  # derived samples the broker acknowledged
        self._event_subs: list[
            EventSubscriptionQueue
        ] = []  # the apps' own, which hear the other groups' events

    async def publish(self, samples: Sequence[Sample]) -> None:
        if not samples:
            return
        sent = time.time_ns() // 1000
        for m in encode(samples):
            delay = RETRY_S
            while True:
                try:
                    await self.link.publish(m.subject, m.payload, sent, derived=self.mark)
                    break
                except (LogUnavailable, nats.errors.Error, OSError, TimeoutError) as exc:
                    log.warning(
                        "apps.derived_publish_failed subject=%s error=%r retry_in=%.1fs",
                        m.subject,
                        exc,
                        delay,
                    )
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, MAX_RETRY_S)
            self.forwarded += m.rows
        await self.inner.publish(samples)

    async def publish_events(self, events: Sequence[Event]) -> None:
        await self.inner.publish_events(events)
        if self.nc is not None and self.mark == ASSETS:
            for e in events:
                try:
                    await self.nc.publish(f"{EVENTS_SUBJECT}.{e.kind}", event_message(e))
                except (nats.errors.Error, OSError) as exc:  # at most once: stored here all the same
                    log.warning("apps.event_not_shared kind=%s source=%s error=%r", e.kind, e.source, exc)

    async def hear(self, events: Sequence[Event]) -> None:
        """Other groups' events, to the apps here that subscribed to their kinds: not to the bus, whose writer
        would store them a second time."""
        self._event_subs = [s for s in self._event_subs if not s.closed]
        for sub in self._event_subs:
            batch = list(events) if sub.kinds is None else [e for e in events if e.kind in sub.kinds]
            if batch:
                await sub.put(batch)

    def subscribe(
        self, pattern: str, *, maxsize: int | None = None, overflow: Overflow = Overflow.BLOCK
    ) -> Subscription:
        return self.inner.subscribe(pattern, maxsize=maxsize, overflow=overflow)

    def subscribe_events(
        self,
        kinds: set[str] | None = None,
        *,
        maxsize: int | None = None,
        overflow: Overflow = Overflow.BLOCK,
    ) -> EventSubscriptionQueue:
        sub = self.inner.subscribe_events(kinds, maxsize=maxsize, overflow=overflow)
        self._event_subs.append(sub)
        return sub


@dataclass
class Instances:
    """One build of a group's apps: over the assets of the leases held when it was made."""

    assets: frozenset[str]
    bus: MemoryBus
    writer: HistorianWriter
    apps: dict[str, App]
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    heard: Any = None  # the plant-wide apps' subscription to the per-asset apps' events (EVENTS_SUBJECT)


async def _hear(bus: AppsBus, msg: Any) -> None:
    try:
        event = event_of(msg.data)
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("apps.event_unreadable subject=%s error=%r", msg.subject, exc)
        return
    await bus.hear([event])


def _crashed(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("task.crashed task=%s error=%r", task.get_name(), task.exception())


class AppGroup:
    """The apps of one kind in the host, with their leases, their feed and their current build:

    - ``assets``: the apps whose state is per asset (``AppSpec.partitioned``), over the partitions leased, each
      asset's consumer bound, the plant file pruned to the assets held;
    - ``plant``: the plant-wide apps, in one host of the cluster at a time (the single lease ``PLANT_LEASE``), fed
      every asset's samples through one durable consumer over all sample subjects (``werk.samples.>`` is one
      subject to JetStream 2.9's filter), the whole plant file. The per-asset apps' derived samples (an asset's
      state, its KPIs) reach them through the log like any sample; their own derived samples they pass by.
    """

    def __init__(self, host: AppHost, kind: str, names: list[str]) -> None:
        self.host = host
        self.kind = kind
        self.names = names
        self.feed: PartitionFeed | None = None
        self.leases: PartitionLeases | None = None
        self.instances: Instances | None = None
        self.commands: CommandServer | None = None  # the served instances' commands to the apps run here
        self._open = asyncio.Event()  # set while the apps take batches (cleared while they are rebuilt)
        self._inflight = 0
        self._quiet = asyncio.Event()
        self._quiet.set()

    @property
    def plant(self) -> bool:
        return self.kind == PLANT

    def subjects(self) -> list[str]:
        return [PLANT_SUBJECT] if self.plant else asset_subjects(self.host.assets)

    def start(self, js: Any) -> asyncio.Task[None]:
        cfg = self.host.cfg
        partitions = 1 if self.plant else cfg.app_partitions
        self.feed = PartitionFeed(js, cfg, self.subjects(), partitions, self._handle, own=self.kind)
        self.leases = PartitionLeases(
            js,
            self.host.member,
            partitions,
            ttl_s=cfg.app_lease_ttl_s,
            on_change=self._assign,
            key=(lambda _: PLANT_LEASE) if self.plant else partition_key,
        )
        return asyncio.create_task(self.leases.run(), name=f"apps-leases-{self.kind}")

    @property
    def held(self) -> frozenset[int]:
        return self.leases.held if self.leases is not None else frozenset()

    @property
    def batches(self) -> int:
        return self.feed.batches if self.feed is not None else 0

    async def close(self) -> None:
        if self.commands is not None:
            await self.commands.stop()
        if self.feed is not None:
            await self.feed.close()
        await self._teardown()

    async def _handle(self, batch: list[Sample]) -> None:
        """One batch of the log to the apps; returns once they handled it and its events are committed (then the
        feed acknowledges it); raises (the batch is handed back) if that took longer than SETTLE_S."""
        await self._open.wait()
        inst = self.instances
        assert inst is not None
        self._inflight += 1
        self._quiet.clear()
        try:
            async with asyncio.timeout(SETTLE_S):
                await inst.bus.publish(batch)
                await inst.bus.settled()
                await inst.writer.flushed(SETTLE_S)
        finally:
            self._inflight -= 1
            if not self._inflight:
                self._quiet.set()

    async def _assign(self, held: frozenset[int]) -> None:
        """The leases' ``on_change``: pause the feed and the commands, let the batches in hand finish, bind the
        held leases' consumers, build the apps over their assets, answer their commands on the held partitions'
        subjects (werk.runtime.app_commands; the plant group's one lease is partition ``PLANT``, 0), go on."""
        self._open.clear()
        if self.commands is not None:
            await self.commands.stop()
        await self._quiet.wait()
        assert self.feed is not None
        await self.feed.assign(held)
        await self._teardown()
        assets = frozenset(path for path, p in self.host.assets.items() if held and (self.plant or p in held))
        if assets:
            self.instances = await self.host.build(self, assets)
            self._open.set()
            takes = {
                n: a.command for n, a in self.instances.apps.items() if type(a).command is not App.command
            }
            if takes and self.commands is not None:
                await self.commands.serve(takes, held)
        log.info(
            "apps.assets member=%s group=%s held=%s assets=%d",
            self.host.member,
            self.kind,
            sorted(held),
            len(assets),
        )

    async def _teardown(self) -> None:
        """Stop the current build: its apps' last words, what they still had settled and its events committed."""
        inst, self.instances = self.instances, None
        if inst is None:
            return
        if inst.heard is not None:
            with contextlib.suppress(Exception):
                await inst.heard.unsubscribe()
        for name, app in inst.apps.items():
            await stop_within(f"{name}.stop", app.stop())
        try:
            async with asyncio.timeout(SETTLE_S):
                await inst.bus.settled()
                await inst.writer.flushed(SETTLE_S)
        except TimeoutError:
            log.warning("apps.teardown_unsettled member=%s group=%s", self.host.member, self.kind)
        await cancel_within(inst.tasks)


class AppHost:
    """:meth:`run` until cancelled. ``groups`` are the per-asset apps and the plant-wide ones (each only if any of
    its apps is enabled); ``batches`` counts the batches handled and acknowledged, ``builds`` the builds."""

    def __init__(
        self, config: WerkConfig, registry: Registry | None = None, member: str = "werk-worker"
    ) -> None:
        if config.historian.backend != "postgresql":
            raise WerkError(
                "cluster.apps: the apps of a cluster keep their tables on the shared PostgreSQL server: set "
                "historian.backend: postgresql (and url)"
            )
        self.config = config
        self.cfg = config.cluster
        self.registry = registry or default_registry()
        self.member = member
        self.historian: Historian | None = None
        self.app_db: AppDatabase | None = None
        self.link = LogLink(self.cfg, name=f"{member}-apps")
        self.nc: Any = None  # the broker connection of the commands and the shared events, once connected
        self.builds = 0
        self.ready = asyncio.Event()  # connected, consumers made, leases running
        # asset UNS path -> partition, from the plant file alone
        self.assets = {ref.path: partition_of(ref.path, self.cfg.app_partitions) for ref in config.assets()}
        enabled = [n for n in self.registry.apps if (s := config.app(n)) is not None and s.enabled]
        kinds = {ASSETS: [n for n in enabled if self.registry.app(n).partitioned]}
        kinds[PLANT] = [n for n in enabled if not self.registry.app(n).partitioned]
        self.groups = {kind: AppGroup(self, kind, names) for kind, names in kinds.items() if names}

    def app_names(self) -> list[str]:
        """The apps this host runs (those of its groups it holds a lease of): every enabled app."""
        return [n for g in self.groups.values() for n in g.names]

    @property
    def batches(self) -> int:
        return sum(g.batches for g in self.groups.values())

    @property
    def held(self) -> frozenset[int]:
        """The partitions of the per-asset apps held."""
        g = self.groups.get(ASSETS)
        return g.held if g is not None else frozenset()

    @property
    def holds_plant(self) -> bool:
        """Whether this host runs the plant-wide apps now."""
        g = self.groups.get(PLANT)
        return g is not None and bool(g.held)

    async def run(self) -> None:
        h = self.config.historian
        self.historian = await self._retry("historian", lambda: asyncio.to_thread(open_historian, h))
        self.app_db = await self._retry("app_database", lambda: asyncio.to_thread(_open_app_database, h))
        for name in self.app_names():  # each app's tables, made or brought up to date (a lock on the server)
            await asyncio.to_thread(self.app_db.migrate, name, self.registry.app(name).migrations)
        nc = self.nc = await self._retry("nats", lambda: connect(self.cfg, f"{self.member}-apps"))
        link = asyncio.create_task(self.link.run(), name="apps-log-link")
        lease_tasks: list[asyncio.Task[None]] = []
        try:
            js = nc.jetstream(timeout=5.0)
            for g in self.groups.values():
                g.commands = CommandServer(nc)
            await ensure_log(js, self.cfg)
            for g in self.groups.values():
                await ensure_app_consumers(js, self.cfg, g.subjects())
            await self.link.ready.wait()
            lease_tasks = [g.start(js) for g in self.groups.values()]
            self.ready.set()
            log.info(
                "apps.ready member=%s apps=%s partitions=%d",
                self.member,
                self.app_names(),
                self.cfg.app_partitions,
            )
            # until cancelled; at their end they give the leases back (and the apps are stopped)
            await asyncio.gather(*lease_tasks) if lease_tasks else asyncio.Event().wait()
        finally:
            for task in lease_tasks:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
            for g in self.groups.values():
                await g.close()
            link.cancel()
            with contextlib.suppress(BaseException):
                await link
            with contextlib.suppress(Exception):
                await self.link.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(nc.close(), 5)
            if self.app_db is not None:
                await asyncio.to_thread(self.app_db.close)
            if self.historian is not None:
                await asyncio.to_thread(self.historian.close)

    @staticmethod
    async def _retry(what: str, make: Any) -> Any:
        delay = RETRY_S
        while True:
            try:
                return await make()
            except Exception as exc:
                log.warning("apps.%s_unavailable error=%r retry_in=%.1fs", what, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_RETRY_S)

    async def build(self, group: AppGroup, assets: frozenset[str]) -> Instances:
        """A group's apps over ``assets`` (the whole plant file for the plant-wide ones)."""
        assert self.historian is not None and self.app_db is not None
        config = self.config if group.plant else prune(self.config, set(assets))
        bus = MemoryBus(config.bus.queue_batches)
        apps_bus = AppsBus(bus, self.link, group.kind, self.nc)
        h = config.historian
        writer = HistorianWriter(bus, self.historian, batch_max=h.batch_max, flush_s=FLUSH_S, samples=False)
        live = LatestValues()
        inst = Instances(assets, bus, writer, {})
        for name in group.names:
            ctx = AppContext(
                name=name,
                config=config,
                settings=config.app(name),
                bus=apps_bus,
                historian=self.historian,
                db=self.app_db,
                live=live.latest,
                data_dir=Path(h.path).parent,
                from_log=True,
            )
            inst.apps[name] = self.registry.app(name).build(ctx)
        self.builds += 1
        spawn: list[tuple[str, Coroutine[Any, Any, None]]] = [
            ("apps-events-writer", writer.run()),
            ("apps-live-values", live.run(bus)),
        ]
        spawn += [(f"app-{name}", app.run()) for name, app in inst.apps.items()]
        for task_name, coro in spawn:
            task = asyncio.create_task(coro, name=task_name)
            task.add_done_callback(_crashed)
            inst.tasks.append(task)
        await asyncio.sleep(0)  # the apps subscribe before their first await: before the first batch comes
        if group.plant and self.nc is not None:
            inst.heard = await self.nc.subscribe(f"{EVENTS_SUBJECT}.>", cb=functools.partial(_hear, apps_bus))
        return inst
