"""The platform: everything a plant file asks for, built from the registry, started in one asyncio loop and stopped
cleanly."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Coroutine, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from werk.aas import ServiceStore, TwinFollower, TwinPersistence, TwinStore, follow
from werk.apps.spec import App, AppContext, Served
from werk.bus.memory import MemoryBus
from werk.config.loader import SHARED_TWIN_ON_SERVER
from werk.config.model import WerkConfig, WriteLimits
from werk.connect import Connector, build_connectors
from werk.connect.base import RangedConnector, WritableConnector
from werk.core.lifecycle import cancel_within, stop_within
from werk.core.model import Event, Value, finite, utcnow
from werk.errors import ConfigError, ConnectorError, WriteRefused
from werk.i18n import tr
from werk.registry import Registry, default_registry
from werk.runtime.app_commands import CommandClient
from werk.runtime.historian_writer import HistorianWriter
from werk.runtime.latest import LatestValues
from werk.runtime.live_feed import LiveFeed
from werk.runtime.partitions import partition_of
from werk.runtime.rollups import keep_rollups_fresh
from werk.runtime.sockets import PrivateSocket, can_share_port, remove_stale
from werk.runtime.spool import Spool
from werk.store import AppDatabase, Historian, SQLiteFile, open_app_database, open_file, open_historian
from werk.twin import open_twin
from werk.twin.plant import Twin

log = logging.getLogger(__name__)

RETENTION_CHECK_S = 3600.0


class Platform:
    """The running plant: connectors, bus, historian, twin and the enabled apps of the registry.

    Apps are built at :meth:`start`, once the werk file is open and their migrations applied; ``apps`` maps each
    enabled app's name to its instance, in the registry's order.

    ``live_from_log``: the samples come from the cluster's log (``cluster.nats``), where the edges publish them and
    the workers store them (a ``werk api`` replica, werk.runtime.live_feed); this process feeds them to its bus for
    its live values and writes none of them. Its apps run elsewhere too (the cluster's workers run the
    partitioned ones, nothing runs the others): each enabled app is built with ``AppContext.served`` to serve its
    pages and API over the shared tables, and :meth:`App.serve` runs instead of :meth:`App.run`.
    """

    def __init__(
        self, config: WerkConfig, registry: Registry | None = None, *, live_from_log: bool = False
    ) -> None:
        self.config = config
        self.live_from_log = live_from_log
        self.registry = registry or default_registry()
        self.bus = MemoryBus(config.bus.queue_batches)
        self.file: SQLiteFile | None = None
        self.historian: Historian | None = None
        self.app_db: AppDatabase | None = None  # the apps' tables: the werk file's, or the historian's server
        self.connectors: list[Connector] = build_connectors(config, self.registry)
        self.apps: dict[str, App] = {}
        self.twin: TwinStore | None = None
        self._twin_db: Twin | None = None
        self.twin_writer: PrivateSocket | None = None  # where worker processes reach the twin's writer
        self.twin_follower: TwinFollower | None = None  # what they commit, applied here
        # what clients register with the AAS registry, discovery and file server (same file as the twin)
        self.aas_services: ServiceStore | None = None
        self.live = LatestValues()
        self.spools: dict[str, Spool] = {}
        # UNS path -> connector name, for the signals the plant file lets werk write back to the machine
        self._writable = {
            ref.signal_path(sig): b.connector
            for ref in config.assets()
            for b in ref.config.bindings()
            for sig in b.writable
        }
        # UNS path -> the values the plant file lets werk write to it
        self._limits = {
            ref.signal_path(sig): lim
            for ref in config.assets()
            for b in ref.config.bindings()
            for sig, lim in b.limits.items()
        }
        self.writer: HistorianWriter | None = None
        self.live_feed: LiveFeed | None = None
        self.commands: CommandClient | None = None  # a replica's commands to the apps the workers run
        self.purged = 0
        self._tasks: list[asyncio.Task[None]] = []

    def enabled_apps(self) -> list[str]:
        """The registered apps the plant file leaves enabled, in the registry's order."""
        return [n for n in self.registry.apps if (s := self.config.app(n)) is not None and s.enabled]

    def _runs_in(self, partitioned: bool) -> Served:
        """Where the cluster runs an app this replica only serves: its workers' app hosts run the per-asset apps
        and, with ``cluster.apps``, the plant-wide ones (in one host at a time); without, no process runs those."""
        return "workers" if partitioned or self.config.cluster.apps else "nowhere"

    def shown_apps(self) -> dict[str, App]:
        """The apps whose views (asset cards, banners, diagnostics) say something current: all but the served
        ones no process runs (``AppContext.served == "nowhere"``), whose memory never moves."""
        return {name: app for name, app in self.apps.items() if app.ctx.served != "nowhere"}

    def asset_view(self, asset: str) -> dict[str, Any]:
        """What the apps know of one asset, merged (the first app to give a key wins), and per app."""
        merged: dict[str, Any] = {}
        per_app: dict[str, Mapping[str, Any]] = {}
        for name, app in self.shown_apps().items():
            view = app.asset_view(asset)
            if view:
                per_app[name] = view
                for k, v in view.items():
                    merged.setdefault(k, v)
        merged["apps"] = per_app
        return merged

    def plant_view(self) -> dict[str, Any]:
        """What the apps know of the whole plant, merged (the first app to give a key wins)."""
        merged: dict[str, Any] = {}
        for app in self.shown_apps().values():
            for k, v in app.plant_view().items():
                merged.setdefault(k, v)
        return merged

    async def start(self) -> None:
        h = self.config.historian
        on_server = (
            h.backend == "postgresql"
        )  # the twin and the AAS services' tables on the historian's server
        if (
            self.config.server.workers > 1 and on_server
        ):  # a plant file says so with its line (check_references)
            raise ConfigError(f"server.workers: {tr(SHARED_TWIN_ON_SERVER)}")
        self.file = await asyncio.to_thread(open_file, h)
        self.historian = await asyncio.to_thread(open_historian, h, self.file)
        # socket directories of werk processes that were killed (a private socket removes them too, but one
        # process makes none)
        await asyncio.to_thread(remove_stale)
        # the twin lives in the same file (its table comes with the historian's migrations), or on the historian's
        # PostgreSQL server, shared with every other werk process pointed at it
        if self.config.server.workers > 1:  # they hand their value writes to this process's writer
            can_share_port()
            self.twin_writer = PrivateSocket("twin-writer.sock")
        share = None if self.twin_writer is None else self.twin_writer.sock
        twin, twin_db = await asyncio.to_thread(open_twin, self.config, share=share)
        self.twin, self._twin_db = twin, twin_db
        if isinstance(twin_db, TwinPersistence) and twin_db.writer is not None:
            twin_db.writer.serve_on(asyncio.get_running_loop())
            if self.twin_writer is not None:  # worker processes write values to the same file
                self.twin_follower = follow(twin_db, twin, writes_structure=True)
        if on_server:
            assert h.url is not None  # HistorianConfig refuses postgresql without one
            self.aas_services = await asyncio.to_thread(ServiceStore.on_server, h.url)
        else:
            self.aas_services = await asyncio.to_thread(ServiceStore, h.path)
        self.writer = HistorianWriter(
            self.bus,
            self.historian,
            batch_max=h.batch_max,
            flush_s=h.flush_interval_ms / 1000,
            samples=not self.live_from_log,
        )
        data_dir = Path(h.path).parent
        self.app_db = app_db = await asyncio.to_thread(open_app_database, h, self.file)
        for name in self.enabled_apps():
            spec = self.registry.app(name)
            await asyncio.to_thread(app_db.migrate, name, spec.migrations)
            served: Served | None = self._runs_in(spec.partitioned) if self.live_from_log else None
            ctx = AppContext(
                name=name,
                config=self.config,
                settings=self.config.app(name),
                bus=self.bus,
                historian=self.historian,
                db=app_db,
                live=self.live.latest,
                data_dir=data_dir,
                write=self.write_signal,
                served=served,
                command=functools.partial(self._command, name, spec.partitioned)
                if served == "workers"
                else None,
            )
            self.apps[name] = spec.build(ctx)
        # consumers first, so the first batches from connectors find their subscribers
        self._spawn("historian-writer", self.writer.run())
        self._spawn("live-values", self.live.run(self.bus))
        for name, app in self.apps.items():
            self._spawn(f"app-{name}", app.serve() if app.ctx.served else app.run())
        await asyncio.sleep(0)  # let the subscribers register before any producer runs
        if self.live_from_log:
            self.live_feed = LiveFeed(self.config.cluster, self.bus, self.live, self.historian)
            self._spawn("live-feed", self.live_feed.run())
        if self.config.spool.enabled:
            spool_dir = Path(self.config.spool.dir or f"{h.path}.spool")
            for c in self.connectors:
                spool = await asyncio.to_thread(
                    Spool, self.bus, spool_dir / f"{c.name}.db", c.status, self.config.spool.max_samples
                )
                self.spools[c.name] = spool
                self._spawn(f"spool-{c.name}", spool.drain())
        for c in self.connectors:
            self._spawn(f"connector-{c.name}", self._pump(c))
        self._spawn("retention", self._retention())
        if not self.live_from_log:  # where samples are written, their rollups are refreshed (PostgreSQL)
            self._spawn("rollups", keep_rollups_fresh(self.historian))

    def _spawn(self, name: str, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro, name=name)
        task.add_done_callback(self._crashed)
        self._tasks.append(task)

    @staticmethod
    def _crashed(task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("task.crashed task=%s error=%r", task.get_name(), task.exception())

    async def _command(
        self,
        app: str,
        partitioned: bool,
        asset: str | None,
        body: Mapping[str, Any],
        what: str,
        *,
        takes_s: float = 0.0,
    ) -> Any:
        """A served app's command to the worker that runs it over ``asset``, or a plant-wide app's to the worker
        holding the plant lease (AppContext.command)."""
        if self.commands is None:
            c = self.config.cluster
            self.commands = CommandClient(c, c.app_partitions, partition_of)
        return await self.commands.send(app, asset if partitioned else None, body, what, takes_s=takes_s)

    async def write_signal(self, path: str, value: Value, user: str) -> None:
        """Write a value back to the machine behind ``path``, if the plant file allows it; every attempt at a
        writable signal is an ``audit`` event (who, what, the value before, the outcome: written, refused, failed).

        Raises WriteRefused, nothing sent: a read-only signal, a connector that cannot write, a number that is not
        finite, a value outside the signal's limits (its binding's ``limits``, and the range the machine's own
        model gives, such as a node's engineering range; the message names the limit and where it comes from), or a
        number for a signal whose range nobody gives. Raises ConnectorError when the connector or the machine
        refused it. The machine's new value comes back through the connector.
        """
        if not finite(value):  # NaN, INF: valid in a twin's xs:double, never a setpoint
            raise WriteRefused(f"{path}: a machine takes a finite number, not {value!r}")
        name = self._writable.get(path)
        if name is None:
            raise WriteRefused(
                f"{path} is read-only: list it under 'writable' in its binding in the plant file"
            )
        conn = next((c for c in self.connectors if c.name == name), None)
        if conn is None:  # a werk api replica: the edges run the connectors
            raise WriteRefused(
                f"{path}: connector {name!r} does not run in this process (werk api); write where it runs"
            )
        if not isinstance(conn, WritableConnector):
            raise WriteRefused(f"connector {name!r} ({conn.status.type}) cannot write to its source")
        before = self.live.latest.get(path)
        data: dict[str, Any] = {
            "action": "write",
            "signal": path,
            "value": value,
            "before": before.value if before is not None else None,
            "user": user,
            "connector": name,
        }
        try:
            refusal = await self._refusal(conn, path, value)
            if refusal is not None:
                data["result"] = f"refused: {refusal}"
                raise WriteRefused(f"{path}: {refusal}")
            await conn.write(path, value)
        except ConnectorError as exc:
            data["result"] = f"failed: {exc}"
            raise
        else:
            data["result"] = "written"
        finally:
            log.info(
                "audit.write user=%s signal=%s value=%r result=%s", user, path, value, data.get("result")
            )
            await self.bus.publish_events([Event("audit", path.rsplit("/", 1)[0], utcnow(), data)])

    async def _refusal(self, conn: WritableConnector, path: str, value: Value) -> str | None:
        """Why ``value`` may not go to ``path`` by its limits, or None: the plant file's first (no I/O), then the
        ones the machine's model gives (the connector raises ConnectorError when it cannot ask)."""
        limits: list[tuple[WriteLimits, str]] = []
        if path in self._limits:
            limits.append((self._limits[path], "limits in the plant file"))
        for lim, source in limits:
            reason = lim.refusal(value, source)
            if reason is not None:
                return reason
        if isinstance(conn, RangedConnector):
            found = await conn.write_limits(path)
            if found is not None:
                reason = found[0].refusal(value, found[1])
                if reason is not None:
                    return reason
                limits.append(found)
        if not limits and isinstance(value, int | float) and not isinstance(value, bool):
            return (
                "no range is known for this signal, so no number goes to the machine: give its binding "
                "limits (min, max, step) in the plant file"
            )
        return None

    async def _pump(self, connector: Connector) -> None:
        spool = self.spools.get(connector.name)
        offer = spool.offer if spool is not None else self.bus.publish
        async for batch in connector.stream():
            await offer(batch)

    async def _retention(self) -> None:
        days = self.config.historian.retention_days
        while True:
            assert self.historian is not None
            cutoff = utcnow() - timedelta(days=days)
            n = await asyncio.to_thread(self.historian.purge, cutoff)
            if n:
                self.purged += n
                log.info("historian.retention removed=%d before=%s", n, cutoff.isoformat())
            await asyncio.sleep(RETENTION_CHECK_S)

    async def stop(self, drain_s: float = 5.0) -> None:
        """Stop the sources first, give the writer time to commit what they already sent, then stop the rest."""
        await cancel_within([t for t in self._tasks if t.get_name().startswith("connector-")])
        try:  # what waits on disk goes to the store now if it can; otherwise it is replayed on the next start
            async with asyncio.timeout(drain_s):
                while any(s.status.spooled for s in self.spools.values()):
                    await asyncio.sleep(0.05)
        except TimeoutError:
            log.warning("platform.stop spooled=%d", sum(s.status.spooled for s in self.spools.values()))
        for name, app in self.apps.items():  # last words (the state timeline says werk stopped watching)
            if not app.ctx.served:
                await stop_within(f"{name}.stop", app.stop())
        if self.writer is not None and self.writer.samples:
            try:
                await self.writer.wait_written(self.bus.published, timeout=drain_s)
            except TimeoutError:
                log.warning("platform.stop unwritten=%d", self.bus.published - self.writer.written)
        await cancel_within(self._tasks)
        self._tasks.clear()
        if self.commands is not None:
            await self.commands.close()
        for spool in self.spools.values():
            await asyncio.to_thread(spool.close)
        self.spools.clear()
        if self._twin_db is not None:
            await asyncio.to_thread(self._twin_db.close)
            self._twin_db = None
        if self.twin_writer is not None:
            self.twin_writer.close()
            self.twin_writer = None
        if self.aas_services is not None:
            await asyncio.to_thread(self.aas_services.close)
            self.aas_services = None
        if self.app_db is not None:
            await asyncio.to_thread(self.app_db.close)
            self.app_db = None
        if self.historian is not None:
            await asyncio.to_thread(self.historian.close)
            self.historian = None
        if self.file is not None:
            await asyncio.to_thread(self.file.close)
            self.file = None
