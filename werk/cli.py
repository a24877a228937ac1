"""``werk demo | serve | sim | check | aas | <app> ...``: the front door. Apps add their own commands
(``AppSpec.cli``), under ``werk <app name>``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import os
import secrets
import signal
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.tree import Tree

from werk import __version__, event_loop
from werk.config import WerkConfig, demo_config_path, load_config
from werk.config.model import ServerConfig, UserConfig
from werk.core.states import STATE_COLOURS
from werk.errors import WerkError
from werk.i18n import tr
from werk.registry import default_registry
from werk.security.secrets import plant_token_hash

console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _check_ports(config: WerkConfig, *, web: bool, sim: bool) -> None:
    if web and not _port_free(config.server.host, config.server.port):
        raise WerkError(
            f"port {config.server.port} on {config.server.host} is in use: stop what runs there or pass --port"
        )
    if sim:
        from werk.sim.preflight import check_ports

        check_ports(config, _port_free)


def _fmt(value: object, fmt: str) -> str:
    if value is None:
        return "-"
    if fmt == "percent" and isinstance(value, int | float):
        return f"{value:.0%}"
    if fmt == "integer" and isinstance(value, int | float):
        return f"{value:,.0f}"
    if fmt == "state":
        return f"[{STATE_COLOURS.get(str(value), '')}]{value}[/]"
    return f"{value:g}" if isinstance(value, int | float) and not isinstance(value, bool) else str(value)


def _dig(view: Any, key: str) -> Any:
    for part in key.split("."):
        view = view.get(part) if isinstance(view, dict) else None
    return view


def _status_table(platform: object) -> Table:
    """Every asset with the tiles the running apps show on its card, and the connectors' health."""
    from werk.runtime.platform import Platform

    assert isinstance(platform, Platform)
    tiles = [
        (name, t)
        for name in platform.apps
        for t in sorted(platform.registry.app(name).tiles, key=lambda t: t.order)
    ]
    t = Table(title="werk: live plant", expand=False)
    t.add_column("asset")
    for _, tile in tiles:
        t.add_column(
            f"{tile.label} {tile.unit}".strip(), justify="left" if tile.format == "state" else "right"
        )
    for ref in platform.config.assets():
        view = platform.asset_view(ref.name)["apps"]
        t.add_row(ref.name, *(_fmt(_dig(view.get(app, {}), tile.key), tile.format) for app, tile in tiles))
    w = platform.writer
    t.caption = f"samples stored: {w.written if w else 0:,}   connectors: " + ", ".join(
        f"{c.name} {'up' if c.status.connected else 'DOWN'}" for c in platform.connectors
    )
    return t


async def _run(
    config: WerkConfig, *, with_sim: bool, with_platform: bool, live_table: bool, connect: bool = True
) -> int | None:
    """Run until stopped; the signal that stopped the web server, if one did. ``connect=False``: the platform
    reads no machine (``werk api``: the edges do) and takes its live samples from the cluster's log."""
    from werk.api import create_app
    from werk.api.http_server import HttpServer, http_server
    from werk.api.workers import Workers
    from werk.runtime.platform import Platform
    from werk.sim.server import SimServer

    config = _with_tls(config) if with_platform else config
    sim = None
    platform = None
    server: HttpServer | None = None
    workers: Workers | None = None
    try:
        if with_sim:
            with console.status("starting the virtual factory..."):
                sim = SimServer(config)
                await sim.start()
            console.print(f"[green]✓[/] virtual factory: {sim.describe()}")
        if with_platform:
            historian_file = os.path.abspath(config.historian.path)  # noqa: ASYNC240 - once, at start
            with console.status("opening the historian and connecting..."):
                # a werk api replica reads no machine: its live values come from the edges through the log
                platform = Platform(config, default_registry(), live_from_log=not connect)
                if not connect:
                    platform.connectors = []
                await platform.start()
            if config.historian.backend == "postgresql" and config.historian.url:
                from werk.store.pg_connections import redact

                console.print(
                    f"[green]✓[/] historian: {redact(config.historian.url)}; werk file: {historian_file}"
                )
            else:
                console.print(f"[green]✓[/] historian: {historian_file}")
            app = create_app(platform)
            # Everything built so far (config, twin, app, connectors) lives as long as the process. Frozen out of
            # the cyclic GC, a full collection no longer walks it: that took 55 ms in benchmarks/aas_api.py, about
            # once a second under AAS write load, and was the API's p99. What of it later becomes garbage in a
            # cycle (a submodel replaced through the API) is not freed: at most the start-up heap, once.
            gc.collect()
            gc.freeze()
            scheme = "https" if config.server.tls is not None else "http"
            url = f"{scheme}://{config.server.host}:{config.server.port}"
            if config.server.workers > 1:
                workers = Workers.of(platform)
                await workers.start()
                server = http_server(workers.serving(app), config.server)
                serve = asyncio.create_task(server.serve(sockets=workers.sockets))
                console.print(f"[green]✓[/] {config.server.workers} processes answer {url}")
            else:
                server = http_server(app, config.server)
                serve = asyncio.create_task(server.serve())
            console.print(f"[green]✓[/] dashboard: [bold underline]{url}[/]   API docs: {url}/docs")
            console.print("  press Ctrl+C to stop")
            if live_table and console.is_terminal:
                with Live(_status_table(platform), console=console, refresh_per_second=1) as live:
                    while not serve.done():
                        await asyncio.sleep(1)
                        live.update(_status_table(platform))
            await serve
        elif sim is not None:
            console.print("  serving; press Ctrl+C to stop")
            await asyncio.Event().wait()
    finally:
        if server is not None:
            server.should_exit = True
        if workers is not None:
            await workers.stop()
        if platform is not None:
            await platform.stop()
        if sim is not None:
            await sim.stop()
    return server.stopped_by if server is not None else None


def _with_tls(config: WerkConfig) -> WerkConfig:
    """``config`` with ``server.tls`` resolved to certificate files (a self-signed pair made at first start, its
    fingerprint printed), or as it is without TLS."""
    tls = config.server.tls
    if tls is None:
        return config
    from werk.security.tls import tls_files

    folder = tls.dir or f"{config.historian.path}.tls"
    files = tls_files(tls.cert, tls.key, folder, config.server.host)
    made = "made now, " if files.made else ""
    console.print(
        f"[green]✓[/] TLS certificate {files.cert} ({made}SHA-256 {files.fingerprint})", highlight=False
    )
    resolved = tls.model_copy(update={"cert": str(files.cert), "key": str(files.key)})
    return config.model_copy(update={"server": config.server.model_copy(update={"tls": resolved})})


def _load(path: str | None) -> WerkConfig:
    return load_config(path) if path else load_config(demo_config_path())


def cmd_check(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    tree = Tree(f"[bold]{config.plant.enterprise}[/] ({config.plant.timezone})")
    n = 0
    for site, s in config.plant.sites.items():
        ts = tree.add(site)
        for area, a in s.areas.items():
            ta = ts.add(area)
            for line, ln in a.lines.items():
                tl = ta.add(line)
                for cell, c in ln.cells.items():
                    tc = tl.add(cell)
                    for name, asset in c.assets.items():
                        n += 1
                        bound = asset.bound_signals()
                        via = tr(" via {connectors}", connectors=", ".join(sorted(set(bound.values()))))
                        signals = tr("{n} signals", n=len(bound))
                        tc.add(f"[bold]{name}[/] {asset.kind}: {signals}{via if bound else ''}")
    console.print(tree)
    valid = tr(
        "valid ({assets} assets, {connectors} connectors)", assets=n, connectors=len(config.connectors)
    )
    console.print(f"[green]✓[/] {args.config}: {valid}")
    from werk.twin.environment import template_gaps

    warning = tr("warning:")
    for gap in template_gaps(config):
        console.print(f"[yellow]{warning}[/] {gap}", highlight=False)
    return 0


def cmd_i18n_update(args: argparse.Namespace) -> int:
    from werk.i18n import update_catalogs
    from werk.ui.catalogs import sources

    for source in sources(default_registry(), args.package):
        for path in update_catalogs(source):
            console.print(f"{path}")
    return 0


WORKERS_HELP = "processes answering the web port (Linux; default: server.workers, 1)"


def _with_server(config: WerkConfig, args: argparse.Namespace) -> WerkConfig:
    """The plant file's server settings with the command line's --port and --workers."""
    update = {k: getattr(args, k) for k in ("port", "workers") if getattr(args, k, None) is not None}
    if not update:
        return config
    server = ServerConfig.model_validate({**config.server.model_dump(), **update})
    return config.model_copy(update={"server": server})


def _stopped(by: int | None) -> int:
    """The exit code once the web server stopped and werk shut down: as the signal that stopped the server says
    (:func:`main`), as when it came before the server served."""
    if by == signal.SIGINT:
        raise KeyboardInterrupt
    if by == signal.SIGTERM:
        raise event_loop.Terminated
    return 0


def _plan_here(config: WerkConfig) -> WerkConfig:
    """The demo's simulator follows the plan of the werk it runs beside: a plan URL on loopback is moved to this
    server's port (the demo file names 8080; ``--port`` moves the server), so the machines never follow another
    werk's plan or none."""
    from werk.sim.spec import sim_of

    sim = sim_of(config)
    if sim is None or sim.follow_plan is None:
        return config
    url = urlsplit(sim.follow_plan)
    if url.hostname not in ("127.0.0.1", "localhost") or url.port == config.server.port:
        return config
    here = url._replace(netloc=f"{url.hostname}:{config.server.port}").geturl()
    return config.model_copy(update={"sim": sim.model_copy(update={"follow_plan": here})})


def cmd_demo(args: argparse.Namespace) -> int:
    config = load_config(demo_config_path())
    token = secrets.token_urlsafe(18)  # lives only in this process and on the screen
    user = UserConfig(name="demo", role="supervisor", token_hash=plant_token_hash(token))
    server = config.server.model_copy(update={"users": [*config.server.users, user]})
    update: dict[str, object] = {"server": server}
    if args.data is not None:  # the apps keep their files beside the werk file
        update["historian"] = config.historian.model_copy(update={"path": str(Path(args.data) / "demo.db")})
    config = _plan_here(_with_server(config.model_copy(update=update), args))
    _check_ports(config, web=True, sim=True)
    console.print(f"  token for the pages' writes, as a supervisor (this run only): [bold]{token}[/]")
    from werk.sim.preflight import notes

    for note in notes(config, _port_free):
        console.print(f"  [yellow]{note}[/]", highlight=False)
    return _stopped(
        event_loop.run(
            _run(config, with_sim=True, with_platform=True, live_table=not args.quiet),
            config.server.event_loop,
        )
    )


def cmd_serve(args: argparse.Namespace) -> int:
    config = _with_server(load_config(args.config), args)
    _check_ports(config, web=True, sim=False)
    return _stopped(
        event_loop.run(
            _run(config, with_sim=False, with_platform=True, live_table=not args.quiet),
            config.server.event_loop,
        )
    )


def cmd_sim(args: argparse.Namespace) -> int:
    config = _load(args.config)
    _check_ports(config, web=False, sim=True)
    event_loop.run(
        _run(config, with_sim=True, with_platform=False, live_table=False), config.server.event_loop
    )
    return 0


def cmd_aas_import(args: argparse.Namespace) -> int:
    from werk.twin.plant import import_file

    config = _load(args.config)
    done = import_file(  # refused while a werk holds this twin (it would overwrite the import)
        config,
        args.file,
        replace=args.replace,
        metamodel=args.metamodel,
        duplicates="keep-first" if args.keep_first else "refuse",
    )
    r = done.report
    counts = ", ".join(f"{n} {k}" for k, n in r.loaded.items() if n)
    console.print(
        f"[green]✓[/] {r.source} ({r.format}, metamodel {r.metamodel}): {counts}, {r.elements} elements"
    )
    for warning in r.warnings[:5]:
        console.print(f"  [yellow]warning:[/] {warning}", highlight=False)
    if len(r.warnings) > 5:
        console.print(f"  [yellow]... {len(r.warnings) - 5} more warnings[/]")
    if r.supplementary_files:
        console.print(f"  {r.supplementary_files} supplementary files (thumbnails, attachments)")
    console.print(
        f"  into the twin in {config.historian.path}: {len(done.added)} added, {len(done.replaced)} replaced"
        " (werk serves them from its next start)"
    )
    return 0


def cmd_aas_export(args: argparse.Namespace) -> int:
    from werk.twin.plant import export, format_of

    config = _load(args.config)
    data = export(config, fmt=format_of(args.output, args.format), metamodel=args.metamodel or "3.0")
    if args.output in (None, "-"):
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        Path(args.output).write_bytes(data)
        err.print(f"[green]✓[/] {args.output} ({len(data):,} bytes)")
    return 0


def cmd_docs_plant_file(args: argparse.Namespace) -> int:
    from werk.config.reference import plant_file_reference
    from werk.registry import build_registry

    text = plant_file_reference(build_registry(plugins=args.plugins))
    if args.output is None:
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text, encoding="utf-8")
        err.print(f"[green]✓[/] {args.output} ({len(text.splitlines()):,} lines)")
    return 0


STATUS_EVERY_S = 10.0


async def _run_edge(config: WerkConfig) -> None:
    from werk.runtime.edge import Edge

    edge = Edge(config, default_registry())
    await edge.start()
    console.print(
        f"[green]✓[/] edge: {len(edge.connectors)} connectors -> {config.cluster.nats} "
        f"stream {config.cluster.stream}; press Ctrl+C to stop"
    )
    try:
        while True:
            await asyncio.sleep(STATUS_EVERY_S)
            sent = sum(p.published for p in edge.publishers.values())
            dropped = sum(c.status.dropped for c in edge.connectors)
            console.print(
                f"  edge: {sent:,} samples acknowledged by the broker, {edge.spooled():,} batches spooled, {dropped:,} dropped"
            )
    finally:
        await edge.stop()


async def _run_worker(config: WerkConfig, name: str, idle_exit_s: float | None, stats: str | None) -> None:
    from werk.runtime.worker import Worker

    worker = Worker(config, name)
    host = None
    if config.cluster.apps:
        from werk.runtime.app_host import AppHost

        host = AppHost(config, default_registry(), name)
    task = asyncio.create_task(worker.run(idle_exit_s))
    apps = asyncio.create_task(host.run(), name="apps") if host is not None else None
    try:
        await asyncio.wait(
            [task, asyncio.create_task(worker.ready.wait())], return_when=asyncio.FIRST_COMPLETED
        )
        if task.done():
            task.result()
        console.print(
            f"[green]✓[/] worker {name}: {config.cluster.stream} -> historian; press Ctrl+C to stop"
        )
        while not task.done():
            running = [t for t in (task, apps) if t is not None]
            await asyncio.wait(running, timeout=STATUS_EVERY_S, return_when=asyncio.FIRST_COMPLETED)
            if apps is not None and apps.done():
                apps.result()  # the apps' host ended: so does the worker, with its error
            console.print(
                f"  worker {name}: {worker.samples:,} samples in {worker.messages:,} batches written and "
                f"acknowledged, {worker.write_errors} failed writes, {worker.redelivered} redelivered"
            )
            if host is not None:
                console.print(
                    f"  apps {', '.join(host.app_names())}: partitions {sorted(host.held)}"
                    f"{', the plant-wide apps' if host.holds_plant else ''}, {host.batches:,} batches handled"
                )
        task.result()
    finally:
        for t in (task, apps):
            if t is not None:
                t.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await t
        if stats is not None:
            Path(stats).write_text(json.dumps(worker.stats()), encoding="utf-8")  # noqa: ASYNC240 - once, at exit


def _cluster_config(path: str) -> WerkConfig:
    """The plant file of a cluster's process, its sign-in to the broker read at once (werk.bus.jetstream.sign_in):
    an unset secret or unusable TLS file stops the process here, naming it, rather than a task later."""
    from werk.bus.jetstream import sign_in

    config = load_config(path)
    sign_in(config.cluster)
    return config


def cmd_edge(args: argparse.Namespace) -> int:
    config = _cluster_config(args.config)
    event_loop.run(_run_edge(config), config.server.event_loop)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    config = _cluster_config(args.config)
    name = args.name or f"werk-worker-{os.getpid()}"
    event_loop.run(_run_worker(config, name, args.until_idle, args.stats), config.server.event_loop)
    return 0


def cmd_api(args: argparse.Namespace) -> int:
    config = _with_server(_cluster_config(args.config), args)
    if config.historian.backend != "postgresql":
        raise WerkError(
            f"{args.config}: werk api serves a shared historian: set historian.backend: postgresql (and url)"
        )
    # the replica serves the apps' pages over their shared tables; the workers run them (Platform, live_from_log)
    _check_ports(config, web=True, sim=False)
    return _stopped(
        event_loop.run(
            _run(config, with_sim=False, with_platform=True, live_table=False, connect=False),
            config.server.event_loop,
        )
    )


def cmd_store_migrate(args: argparse.Namespace) -> int:
    """Copy a werk file's samples, events, apps' tables, users, audit trail, twin and AAS services' tables to
    PostgreSQL, with progress bars; counts checked at the end."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from werk.security.store import OWNERS as SECURITY_OWNERS
    from werk.store.app_postgres import PostgresAppDatabase
    from werk.store.pg_connections import redact
    from werk.store.postgres import PostgresHistorian
    from werk.store.transfer import totals, transfer
    from werk.store.transfer_apps import transfer_apps
    from werk.store.transfer_twin import transfer_twin

    path = Path(args.file) if args.file else Path(_load(args.config).historian.path)
    n_samples, n_events = totals(path)
    pg = PostgresHistorian(args.to)
    pg.open()
    try:
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, console=err, disable=args.quiet) as bar:
            tasks = {
                "samples": bar.add_task("samples", total=n_samples),
                "events": bar.add_task("events", total=n_events),
            }
            report = transfer(path, pg, lambda what, n: bar.advance(tasks[what], n))
    finally:
        pg.close()
    apps_db = PostgresAppDatabase(args.to)
    apps_db.open()
    try:
        owners = {name: spec.migrations for name, spec in default_registry().apps.items()}
        apps = transfer_apps(path, apps_db, {**owners, **SECURITY_OWNERS})
    finally:
        apps_db.close()
    twin_db = PostgresAppDatabase(args.to, "the twin")
    twin_db.open()
    try:
        twin = transfer_twin(path, twin_db)
    finally:
        twin_db.close()
    if not report.ok or not apps.ok or not twin.ok:
        for m in (*report.mismatches, *apps.mismatches, *twin.mismatches):
            err.print(f"[red]✗[/] {m}", highlight=False)
        raise WerkError(f"{path} -> {redact(args.to)}: counts differ after the copy; run it again to resume")
    console.print(
        f"[green]✓[/] {path} -> {redact(args.to)}: {report.signals} signals, {report.samples:,} samples, "
        f"{report.events:,} events, counts equal ({report.copied_samples:,} samples and "
        f"{report.copied_events:,} events copied in this run)"
    )
    console.print(
        f"[green]✓[/] the apps' tables, users and audit trail: {len(apps.tables)} tables, {sum(apps.tables.values()):,} rows, counts "
        f"equal ({sum(apps.copied.values()):,} rows copied in this run)"
    )
    console.print(
        f"[green]✓[/] the twin and the AAS services: {len(twin.tables)} tables, {sum(twin.tables.values()):,} rows, "
        f"counts equal ({sum(twin.copied.values()):,} rows copied in this run)"
    )
    console.print(
        f"  set historian.backend: postgresql and historian.url: {redact(args.to)} in the plant file"
    )
    return 0


def _group(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, text: str
) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    """``werk <name> <command>``, a command of commands, described by ``text``; the command given is
    ``args.<name>_command``."""
    return sub.add_parser(name, help=text).add_subparsers(dest=f"{name}_command", required=True)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="werk", description="Industrie 4.0 for small and medium manufacturers.")
    p.add_argument("--version", action="version", version=f"werk {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="virtual factory + platform + dashboard on 127.0.0.1:8080")
    d.add_argument("--port", type=int, help="web port (default 8080)")
    d.add_argument("--workers", type=int, help=WORKERS_HELP)
    d.add_argument("--data", help="folder for the demo historian (default ./werk-data)")
    d.add_argument("-q", "--quiet", action="store_true", help="no live status table")
    d.set_defaults(func=cmd_demo)
    s = sub.add_parser("serve", help="run the platform and dashboard for a plant file")
    s.add_argument("-c", "--config", required=True)
    s.add_argument("--port", type=int)
    s.add_argument("--workers", type=int, help=WORKERS_HELP)
    s.add_argument("-q", "--quiet", action="store_true")
    s.set_defaults(func=cmd_serve)
    m = sub.add_parser("sim", help="run only the virtual factory (its protocol servers)")
    m.add_argument("-c", "--config", help="plant file with a 'sim' section (default: the demo plant)")
    m.set_defaults(func=cmd_sim)
    asub = _group(sub, "aas", "the twin's Asset Administration Shells to and from AAS files")
    ai = asub.add_parser(
        "import", help="store a .json, .xml or .aasx environment in the twin, all or nothing (3.0 or 3.1)"
    )
    ai.add_argument("file")
    ai.add_argument("-c", "--config", help="plant file whose twin to import into (default: the demo plant)")
    ai.add_argument("--replace", action="store_true", help="replace objects whose id the twin holds already")
    ai.add_argument(
        "--metamodel", choices=["3.0", "3.1"], help="of a JSON or AASX file (default: from its name)"
    )
    ai.add_argument(
        "--keep-first", action="store_true", help="keep the first of two different objects with one id"
    )
    ai.set_defaults(func=cmd_aas_import)
    ae = asub.add_parser("export", help="write the twin as one AAS environment (JSON, XML or AASX)")
    ae.add_argument("-c", "--config", help="plant file whose twin to export (default: the demo plant)")
    ae.add_argument("-o", "--output", help="file to write (default: standard output)")
    ae.add_argument(
        "--format", choices=["json", "xml", "aasx"], help="default: from --output's suffix, else json"
    )
    ae.add_argument("--metamodel", choices=["3.0", "3.1"], help="default 3.0")
    ae.set_defaults(func=cmd_aas_export)
    c = sub.add_parser("check", help="validate a plant file without starting anything")
    c.add_argument("config")
    c.set_defaults(func=cmd_check)
    isub = _group(sub, "i18n", "translation catalogs")
    iu = isub.add_parser(
        "update",
        help="extract the texts of werk and every app into their catalogs (en, de, zh), keeping translations",
    )
    iu.add_argument("--package", action="append", help="only this package's catalog ('werk' for werk's own)")
    iu.set_defaults(func=cmd_i18n_update)
    dsub = _group(sub, "docs", "documents werk writes from its own code")
    pf = dsub.add_parser(
        "plant-file", help="the plant-file reference (docs/plant-file.md) from the settings models"
    )
    pf.add_argument("-o", "--output", help="file to write (default: standard output)")
    pf.add_argument(
        "--plugins", action="store_true", help="include installed plug-ins (default: werk's built-ins only)"
    )
    pf.set_defaults(func=cmd_docs_plant_file)
    ed = sub.add_parser(
        "edge", help="run the connectors and publish their batches to NATS JetStream (cluster:)"
    )
    ed.add_argument("-c", "--config", required=True)
    ed.set_defaults(func=cmd_edge)
    wk = sub.add_parser(
        "worker",
        help="write batches from NATS JetStream to the historian, acknowledged after commit (and, with "
        "cluster.apps, run the per-asset apps over the assets it leases)",
    )
    wk.add_argument("-c", "--config", required=True)
    wk.add_argument("--name", help="how the broker and the logs call this worker (default werk-worker-<pid>)")
    wk.add_argument(
        "--until-idle", type=float, metavar="S", help="exit once the stream had nothing for S seconds"
    )
    wk.add_argument("--stats", metavar="FILE", help="write the counters and lags as JSON at exit")
    wk.set_defaults(func=cmd_worker)
    ap = sub.add_parser(
        "api", help="serve the API and pages over a shared PostgreSQL historian (no connectors)"
    )
    ap.add_argument("-c", "--config", required=True)
    ap.add_argument("--port", type=int)
    ap.set_defaults(func=cmd_api)
    stsub = _group(sub, "store", "the historian's samples and events")
    sm = stsub.add_parser(
        "migrate",
        help="copy a werk file's samples, events, apps' tables and twin to PostgreSQL (resumable; counts checked)",
    )
    sm.add_argument("--to", required=True, help="postgresql://user@host:5432/database")
    src = sm.add_mutually_exclusive_group(required=True)
    src.add_argument("-c", "--config", help="plant file whose historian.path to copy")
    src.add_argument("--file", help="the werk file to copy")
    sm.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    sm.set_defaults(func=cmd_store_migrate)
    from werk.security.cli import add_commands

    add_commands(sub)
    for name, spec in default_registry().apps.items():
        if spec.cli is not None:
            spec.cli(sub.add_parser(name, help=f"{spec.title}: the app's own commands"))
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    if not args.verbose:
        logging.getLogger("asyncua").setLevel(logging.ERROR)
    try:
        rc: int = args.func(args)
        return rc
    except WerkError as exc:
        label = tr("error:")
        err.print(f"[red]{label}[/] {exc}", highlight=False)
        return 2
    except KeyboardInterrupt:
        console.print("stopped")
        return 130
    except event_loop.Terminated:
        console.print("stopped (SIGTERM)")
        return 0  # asked to stop, and stopped cleanly: a service manager counts 0 as a clean stop, 143 as a failure


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
