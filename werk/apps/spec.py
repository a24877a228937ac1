"""What an app is to werk: one :class:`AppSpec` per app folder, exported as ``SPEC`` from ``apps/<name>/spec.py``.

werk's own apps load through the same registry as a third party's (:mod:`werk.registry`), so anything that lists
every app (the plant file's ``apps:`` section, the API, the nav, the database, the CLI) is built from these specs
and names none of them. The contract, and what the conformance suite (``tests/apps/test_app_contract.py``) checks
of every registered app:

- ``settings`` validates ``apps.<name>`` of the plant file and forbids unknown keys (an ``enabled`` flag included);
  ``asset_settings`` validates the key ``asset_key`` of each asset that has it (the machine-state mapping under
  ``states:``, say);
- ``build(ctx)`` makes the app from its context without I/O; ``App.run()`` runs it until cancelled, ``App.stop()``
  says goodbye (a last event) before the platform drains the bus;
- ``migrations`` make its tables, numbered per app (:mod:`werk.store.migrations`), in the werk file or, with
  ``historian.backend: postgresql``, on that server: written once in SQLite's words and run through
  :class:`~werk.store.app_database.AppDatabase` (which says what SQL runs on both);
- ``router(app, web)`` gives its HTTP API and its pages; every route documented in OpenAPI with typed bodies;
- ``pages`` are its nav entries; its templates are in ``<package>/templates/<name>/``, its translations in
  ``<package>/locale/<lang>/LC_MESSAGES/messages.po``; every text it shows goes through a translation key;
- ``tiles`` are what it adds to every asset's card on the overview (data, not markup: a key into the app's
  :meth:`App.asset_view`, a label key, a unit, a format); :meth:`App.plant_view` gives the plant-wide figures
  the overview's summary shows (``kpis``: the plant aggregate, as the app's own page computes it);
- ``partitioned``: the app's state is per asset (each asset's samples in, its own rows and events out), so in a
  cluster it runs in ``werk worker``'s app host over the assets that worker holds (docs/cluster.md); a
  plant-wide app (a peak over all meters, a production plan) leaves it False and runs in the one app host that
  holds the plant lease, over the whole plant.
  A ``werk api`` replica builds every enabled app *served* (:attr:`AppContext.served`): its router and pages over
  the shared tables, :meth:`App.serve` instead of ``run``, what only the running instance knows answered from the
  tables or refused with :meth:`App.elsewhere` (503), a person's action its memory must learn of sent to it as a
  command (:attr:`AppContext.command`, :meth:`App.command`; docs/apps.md);
- ``cli`` adds ``werk <name> ...`` commands; ``submodels`` adds submodels to an asset's twin; ``demo`` holds the
  settings ``werk demo`` runs it with; ``check`` finds mistakes that span the plant file (a signal the app needs
  that no asset binds).

An app laid out the usual way declares itself in a few lines with :meth:`AppSpec.from_package` (as Django finds an
``AppConfig`` in ``apps.py`` and Home Assistant a platform in ``sensor.py``): what its package's layout says is
derived, and the spec states only what is particular to the app (its title, tiles, order, a name other than its
folder's). Plain ``AppSpec(...)`` derives nothing, so a third party's explicit spec means what it says; either way
the registry holds complete specs, every hook resolved when the spec is imported.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.util
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

from pydantic import BaseModel

from werk.bus.base import Bus
from werk.config.model import AppSettings, AssetRef, WerkConfig
from werk.core.access import Role as AccessRole
from werk.core.model import Sample, User, Value, utcnow
from werk.core.sight import Sight
from werk.errors import RunsElsewhere, WerkError
from werk.i18n import N_, Translator
from werk.registry import PluginError
from werk.store.app_database import AppDatabase
from werk.store.base import Historian
from werk.store.migrations import Migration

if TYPE_CHECKING:
    from basyx.aas import model as aas
    from fastapi import APIRouter, Request, Response


#: Who runs an app whose instance in this process only serves (AppContext.served)
Served = Literal["workers", "nowhere"]

#: What a served app answers (RunsElsewhere, 503) when only its running instance knows...
IN_WORKERS = N_(
    "This is known only where the app runs, in the cluster's workers, not in this API replica: {what}."
)
#: ... or when an action would change a state only its running instance holds
ACTS_IN_WORKERS = N_(
    "This cannot be done through an API replica yet: the app runs in the cluster's workers, which would not "
    "learn of it ({what})."
)


class SendCommand(Protocol):
    """:attr:`AppContext.command`."""

    def __call__(
        self, asset: str | None, body: Mapping[str, Any], what: str, *, takes_s: float = 0.0
    ) -> Awaitable[Any]: ...


@dataclass(frozen=True)
class AppContext:
    """What an app gets from the platform: the plant, its own settings, the bus, the historian (samples and
    events), the database of its own tables (the werk file, or the plant's PostgreSQL), the latest value of every signal (read-only), a folder for its
    files, and the clock."""

    name: str
    config: WerkConfig
    settings: Any
    bus: Bus
    historian: Historian
    db: AppDatabase
    live: Mapping[str, Sample]
    data_dir: Path
    clock: Callable[[], datetime] = utcnow
    #: write a value back to the machine behind a signal (path, value, who), as the API's writes do: only what the
    #: plant file lists as writable, audited; None where nothing can be written (a replay, a test)
    write: Callable[[str, Value, str], Awaitable[None]] | None = None
    #: the samples come from the cluster's durable log (``werk worker``'s app host, werk.runtime.app_host): each
    #: asset's in order, nothing missed while no instance ran, a batch delivered again after a crash. The instance
    #: is one of a series over the same assets, so it marks no time as unobserved at its start or stop and takes
    #: up each asset where the store says the last one left it
    from_log: bool = False
    #: None: this process runs the app. Otherwise the instance only serves the app's pages and API over its shared
    #: tables, the historian and the live values (a ``werk api`` replica): the platform never calls ``run()`` or
    #: ``stop()`` but ``serve()``, and the instance publishes nothing, sends nothing and holds no state its
    #: processing would own. ``"workers"``: the cluster's workers run the app (``cluster.apps``);
    #: ``"nowhere"``: no process of the cluster does (a plant-wide app without ``cluster.apps``), so the platform
    #: refuses its API with 503 and shows a note for its pages
    served: Served | None = None
    #: where the instance is served by the cluster's workers: send a command to the instance that runs the app
    #: over an asset (its UNS path; a plant-wide app passes None: its one instance, in the worker holding the plant
    #: lease, answers), which applies it with :meth:`App.command` and answers with what that returned (``body`` and
    #: the answer JSON-serialisable; ``what``, the asset's name or what was asked, for the 503 when no worker
    #: answers; ``takes_s``, how long applying it may take there: werk.runtime.app_commands); None elsewhere
    command: SendCommand | None = None


async def reread_every(
    seconds: float, read: Callable[[], Awaitable[None]], failed: str, *, at_once: bool = True
) -> None:
    """A served instance's :meth:`App.serve` loop: ``read`` what the running instance stored (at once, unless
    ``at_once`` is false, then) every ``seconds`` until cancelled. A read that fails is logged as ``failed`` with
    its traceback and tried again at the next round: the pages show the last view read meanwhile."""
    if not at_once:
        await asyncio.sleep(seconds)
    while True:
        try:
            await read()
        except Exception:
            logging.getLogger(__name__).exception(failed)
        await asyncio.sleep(seconds)


class App:
    """Base of every app. ``run`` until cancelled; the rest have harmless defaults."""

    name: str = ""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.name = ctx.name

    async def run(self) -> None:
        """Consume the bus and publish what the app decides, until cancelled."""

    async def stop(self) -> None:
        """Called before the platform drains the bus at shutdown: publish a last word if the app has one."""

    def snapshot(self) -> Any:
        """The app's current view, JSON-serialisable, for its API and pages."""
        return {}

    async def serve(self) -> None:
        """Run instead of :meth:`run` where the instance only serves (``ctx.served``): keep what the pages read
        fresh from the tables and the live values, until cancelled; publish and send nothing."""

    async def command(self, body: Mapping[str, Any], key: str) -> Any:
        """Apply a command a served instance sent through ``ctx.command`` for one of this instance's assets (or,
        plant-wide, for the plant), as the same action done here, and return its outcome (JSON-serialisable).
        ``key`` is the command's id, the same when the sender retries it: the host answers a retry it saw itself,
        an action that must not be applied twice across a takeover keeps the key with what it wrote. An app whose
        served instance sends none keeps this default. A :class:`~werk.errors.WerkError` raised goes back to the
        sender as ``CommandRefused`` with its class name and message (and an ``InputError``'s ``loc``)."""
        raise WerkError(f"app {self.name!r} takes no commands")

    def elsewhere(self, what: str, *, action: bool = False) -> RunsElsewhere:
        """The error (503) for a request only the running instance could answer (or, ``action``, act on), with
        ``what`` saying what was asked: a translation key of the app's catalog (``N_``), translated with it."""
        return RunsElsewhere(ACTS_IN_WORKERS if action else IN_WORKERS, what=what)

    def diagnostics(self) -> Mapping[str, Any]:
        """What the app has to report about the data it is given (values it could not use, and how often), for
        ``/api/health``; JSON-serialisable, empty when all is well."""
        return {}

    def asset_view(self, asset: str) -> Mapping[str, Any]:
        """What the app knows of one asset right now, for the asset list and its card (``state``, ``kpis``,
        ``energy_per_part``, ...). Keys are shared vocabulary across apps: the first app to give a key wins."""
        return {}

    def plant_view(self) -> Mapping[str, Any]:
        """What the app knows of the whole plant right now, for the overview's summary (``kpis``: the plant's
        aggregate, computed as the app's own pages compute it). Same shared vocabulary as :meth:`asset_view`."""
        return {}

    def banners(self, t: Translator) -> Sequence[Mapping[str, str]]:
        """What every page shows at its top right now, in ``t``'s language: ``kind`` (``info`` or the app's
        word, a CSS class), ``text`` and optionally ``href`` (where to act on it). Empty when all is well."""
        return ()


Role = AccessRole


class Web(Protocol):
    """What werk's HTTP layer gives an app's router (``werk.api`` implements it)."""

    config: WerkConfig

    def require(self, role: Role) -> Callable[..., Awaitable[User]]:
        """A FastAPI dependency: the caller holds ``role`` or a higher one (401/403 otherwise)."""
        ...

    def asset(self, name: str) -> AssetRef:
        """The asset of that name, or an HTTP 404 that says where to find the names."""
        ...

    def render(self, request: Request, template: str, context: Mapping[str, Any] | None = None) -> Response:
        """A page from the app's templates inside werk's base layout, in the request's language."""
        ...

    def sees(self, request: Request, asset: str | None) -> bool:
        """Whether the caller may see what belongs to ``asset`` (by name; None: to no asset), by its viewer
        grants: what a list across the plant keeps (every row while reads are open)."""
        ...

    def sight(self, request: Request) -> Sight | None:
        """What the caller may see of the plant by its viewer grants (:class:`~werk.core.sight.Sight`: assets,
        nodes, report rows, aggregates); None when it sees everything (reads are open, or a grant on the whole
        plant), so a list skips filtering."""
        ...

    def translator(self, request: Request) -> Translator:
        """The request's language (``?lang=``, the pages' cookie, ``Accept-Language``) with every app's texts:
        for the human-readable parts of an API answer (a reason, a message) a page shows as they come."""
        ...


@dataclass(frozen=True)
class Page:
    """A page of an app: its path, the translation key of its title, its template (in the app's
    ``templates/``, extending ``base.html``) and its place in the nav."""

    path: str
    title: str
    template: str
    order: int = 100
    nav: bool = True


TileFormat = Literal["percent", "number", "integer", "text", "state"]


@dataclass(frozen=True)
class Tile:
    """One figure an app adds to every asset's card: ``key`` into the app's ``asset_view``, a translation key
    for its label, its unit and how to format it. Assets for which the view lacks the key show no tile."""

    key: str
    label: str
    unit: str = ""
    format: TileFormat = "number"
    order: int = 100


@dataclass(frozen=True)
class AppSpec:
    """An app as werk loads it (see the module docstring for the contract)."""

    name: str
    title: str
    build: Callable[[AppContext], App]
    settings: type[AppSettings] = AppSettings
    package: str = ""  # the app's Python package: its templates/ and locale/ are found in it
    asset_key: str | None = None
    asset_settings: type[BaseModel] | None = None
    router: Callable[[Any, Web], APIRouter] | None = None
    pages: tuple[Page, ...] = ()
    tiles: tuple[Tile, ...] = ()
    migrations: tuple[Migration, ...] = ()
    cli: Callable[[argparse.ArgumentParser], None] | None = None
    submodels: Callable[[AssetRef, WerkConfig, Any], Sequence[aas.Submodel]] | None = None
    check: Callable[[WerkConfig, Any], list[tuple[tuple[str | int, ...], str]]] | None = None
    demo: Mapping[str, Any] = field(default_factory=dict)
    order: int = 100  # where it starts among the apps, and where its entries sit in lists
    partitioned: bool = False  # per-asset state: runs in a cluster's app host, over the assets a worker holds

    @classmethod
    def from_package(
        cls,
        package: str | None,
        *,
        title: str,
        name: str | None = None,
        page: str | None = None,
        tiles: tuple[Tile, ...] = (),
        asset_key: str | None = None,
        asset_settings: type[BaseModel] | None = None,
        order: int = 100,
        partitioned: bool = False,
    ) -> AppSpec:
        """The spec of the app in ``package`` (pass ``__package__`` from its ``spec.py``), derived from its layout:

        - ``name``: the package's last part, unless given (the key of ``apps.<name>`` in the plant file);
        - ``build``: the one :class:`App` subclass defined in ``<package>.app``;
        - ``settings``: the one :class:`AppSettings` subclass defined in ``<package>.settings`` (none: the base);
        - the hooks of :data:`HOOKS` (router, migrations, check, cli, submodels), each by its name in its module;
        - ``pages``: the page at ``/<page>`` (``page`` is the name unless given) from the template
          ``templates/<name>/<page>.html``, when there is one, in the nav under the app's title at its ``order``.

        A layout the convention cannot read (two App subclasses, an ``api`` module without ``build_router``) is
        refused with what to rename; an app that wants something else builds its ``AppSpec`` by hand."""
        if not package:
            raise PluginError(f"AppSpec.from_package({title!r}) needs the app's package: pass __package__")
        name = name or package.rpartition(".")[2]
        hooks: dict[str, Any] = {}
        for hook, module_name, attr, required in HOOKS:
            module = _module(package, module_name)
            value = getattr(module, attr, None)
            if module is not None and value is None and required:
                raise PluginError(
                    f"{module.__name__} has no {attr}: name the app's {hook} so, or drop the module"
                )
            if value is not None:
                hooks[hook] = value
        build = _the_one(_module(package, "app"), App)
        if build is None:
            raise PluginError(
                f"{package}.app defines no App subclass: werk would not know how to build the app"
            )
        template = f"{name}/{page or name}.html"
        has_page = resources.files(package).joinpath("templates", template).is_file()
        if page and not has_page:
            raise PluginError(f"{package} has no templates/{template} for its page {page!r}")
        return cls(
            name=name,
            title=title,
            build=build,
            settings=_the_one(_module(package, "settings"), AppSettings) or AppSettings,
            package=package,
            asset_key=asset_key,
            asset_settings=asset_settings,
            pages=(Page(f"/{page or name}", title, template, order=order),) if has_page else (),
            tiles=tiles,
            order=order,
            partitioned=partitioned,
            **hooks,
        )


#: The hooks :meth:`AppSpec.from_package` finds in an app's package: (field, module, name, required). A module the
#: package lacks is a hook the app does not have; one it has must hold the name, except ``settings``, which is there
#: for the settings model and may have no ``check``.
HOOKS: tuple[tuple[str, str, str, bool], ...] = (
    ("router", "api", "build_router", True),
    ("migrations", "store", "MIGRATIONS", True),
    ("check", "settings", "check", False),
    ("cli", "cli", "add_commands", True),
    ("submodels", "twin", "submodels", True),
)

T = TypeVar("T")


def _module(package: str, name: str) -> ModuleType | None:
    """``<package>.<name>`` imported, or None when the package has no such module (an error inside it is raised)."""
    qualified = f"{package}.{name}"
    return importlib.import_module(qualified) if importlib.util.find_spec(qualified) is not None else None


def _the_one(module: ModuleType | None, base: type[T]) -> type[T] | None:
    """The one subclass of ``base`` that ``module`` defines (not imports), None when it defines none."""
    if module is None:
        return None
    found = [
        v
        for v in vars(module).values()
        if isinstance(v, type) and issubclass(v, base) and v is not base and v.__module__ == module.__name__
    ]
    if len(found) > 1:
        names = ", ".join(sorted(c.__name__ for c in found))
        raise PluginError(
            f"{module.__name__} defines {len(found)} {base.__name__} subclasses ({names}): keep one there, "
            "or build the AppSpec by hand"
        )
    return found[0] if found else None
