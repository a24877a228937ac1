"""The HTTP face of werk: REST API (OpenAPI at /openapi.json, read at /docs and /redoc), a live SSE stream, and
the pages.

Assembled from the registry: werk's own routes (plant, assets, signals, events, the live stream, the overview),
then each enabled app's router and pages (:class:`werk.apps.spec.AppSpec`), then the AAS API. Reads are open (the
server binds to 127.0.0.1 by default); every write needs a bearer token of a user with the right role
(``werk.api.auth``). /docs and /redoc load Swagger UI and ReDoc from werk's own static files, not a CDN: a plant
network often has no way out.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, StreamingResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match, Mount

from werk import __version__
from werk.aas.http import WRITER_ROLE, build_aas_api
from werk.aas.http.access_front import access_rules_of
from werk.aas.http.common import encodable
from werk.api.auth import Authenticator
from werk.api.http_server import add_front, allow_uploads
from werk.api.schemas import (
    AssetOut,
    BucketOut,
    ConnectorOut,
    ErrorOut,
    EventOut,
    HealthOut,
    MeOut,
    NavOut,
    PointOut,
    SeriesOut,
    SeriesSetOut,
    SignalInfoOut,
    SignalOut,
    TileOut,
)
from werk.api.scoped import assets_by_connector, plant_tree_seen, sight_covers_all
from werk.api.security import aas_visible, security_front, security_router, twin_targets
from werk.api.web import WebContext
from werk.bus.base import Overflow
from werk.config.model import AssetRef
from werk.core.model import Sample, User, utcnow
from werk.core.period import Timestamp, period
from werk.core.signals import describe
from werk.core.uns import PATH_PATTERN, validate_path
from werk.errors import InputError, RunsElsewhere, Unauthorized, UnsPathError, WerkError
from werk.i18n import N_, catalog_msgids, locale_dir, werk_locale_dir
from werk.runtime.platform import Platform
from werk.security.audit import AuditLog
from werk.security.store import SecurityStore
from werk.twin.binding import UnsBinding
from werk.ui import static_dir
from werk.ui.overview import live_context
from werk.ui.pages import NavItem, Pages, nav_for, package_dir

AAS = "/api/v3.0"
MAX_POINTS = 20_000
MAX_SERIES = 12  # signals in one request
DOWNSAMPLE_POINTS_PER_BUCKET = 4  # the historian's downsampling keeps up to four points per bucket
GAP_FACTOR = 5.0  # a pause longer than this many usual intervals breaks a sampled signal's line
GAP_QUANTILE, GAP_SPREAD = 0.98, 3.0  # ... and longer than 3 x the pauses of all but the longest 2 %
STREAM_TICK_S = 1.0
EVENT_PAGES = 20  # pages of the newest events a scoped caller's list is filtered from


def series_range(
    start: Timestamp | None = None,
    end: Timestamp | None = None,
    minutes: Annotated[float, Query(gt=0, le=60 * 24 * 366)] = 10,
    bucket_s: Annotated[float | None, Query(gt=0)] = None,
) -> tuple[datetime, datetime, float | None]:
    """The range of a series request (default: the last ``minutes``) and its bucket width."""
    a, z = period(start, end, default_start=lambda z: z - timedelta(minutes=minutes))
    if bucket_s is not None and (z - a).total_seconds() / bucket_s > MAX_POINTS:
        raise InputError(
            f"{bucket_s} s buckets over that range exceed {MAX_POINTS} points", ("query", "bucket_s")
        )
    return a, z, bucket_s


SeriesRange = Annotated[tuple[datetime, datetime, float | None], Depends(series_range)]


def _assets_out(platform: Platform, refs: list[AssetRef]) -> list[AssetOut]:
    return [_asset_out(platform, ref, platform.asset_view(ref.name)) for ref in refs]


def _plant_of(platform: Platform, refs: list[AssetRef]) -> dict[str, Any] | None:
    """The apps' view of the whole plant for a reader who sees every asset; None for one who sees part of it (the
    plant's figures cover assets they may not see)."""
    return platform.plant_view() if len(refs) == sum(1 for _ in platform.config.assets()) else None


def _asset_out(platform: Platform, ref: AssetRef, view: dict[str, Any]) -> AssetOut:
    live = platform.live.under(ref.path)
    counts: dict[str, Any] = {
        k: live[k].value for k in ("cycle_count", "good_count", "scrap_count") if k in live
    }
    return AssetOut(
        name=ref.name,
        path=ref.path,
        aas_id=ref.aas_id,
        kind=ref.config.kind,
        description=ref.config.description,
        production=ref.config.production,
        state=view.get("state", "unknown") if ref.config.production else "sensor",
        since=view.get("since"),
        kpis=view.get("kpis") or {},
        counts=counts,
        signals={k: SignalOut.of(v) for k, v in sorted(live.items())},
        apps={name: dict(v) for name, v in view["apps"].items()},
    )


async def _validation_error(request: Request, exc: Exception) -> Response:
    """FastAPI's 422, with non-ASCII written as escapes: its body quotes the input, and a lone surrogate a client
    sent (JSON's escapes can carry one) cannot be encoded as UTF-8, which turned the refusal into a 500."""
    assert isinstance(exc, RequestValidationError)
    refused = await _unauthorized_first(request)
    if refused is not None:
        return refused
    body = json.dumps({"detail": jsonable_encoder(exc.errors())}, ensure_ascii=True)
    return Response(body, status_code=422, media_type="application/json")


async def _input_error(request: Request, exc: Exception) -> Response:
    """A parameter the code refused after validation, answered as FastAPI answers one it refused itself."""
    assert isinstance(exc, InputError)
    detail = [{"type": "value_error", "loc": list(exc.loc), "msg": str(exc), "input": None}]
    return Response(json.dumps({"detail": detail}, ensure_ascii=True), 422, media_type="application/json")


BODY_UNREADABLE = "There was an error parsing the body"  # FastAPI's 400 for a body it cannot decode


async def _http_error(request: Request, exc: Exception) -> Response:
    """FastAPI's answer to an HTTPException, its detail made encodable first (it may quote the request's text).

    A body FastAPI cannot decode (bytes that are no text) is refused as every other unusable body, 422 with
    ``detail`` a list; a 405 names every method the path allows (``Allow``), not only those of one route."""
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and exc.detail == BODY_UNREADABLE:
        return await _unauthorized_first(request) or await _input_error(
            request, InputError("the body is not JSON text", ("body",))
        )
    if exc.status_code == 405:
        allowed = _allowed_methods(request)
        if allowed:
            exc.headers = {**(exc.headers or {}), "Allow": ", ".join(allowed)}
    if isinstance(exc.detail, str):
        exc.detail = encodable(exc.detail)
    return await http_exception_handler(request, exc)


def _allowed_methods(request: Request) -> list[str]:
    """Every method the OpenAPI document declares for the request's path (HEAD with GET, as Starlette answers
    it); GET and HEAD under a static mount."""
    path = request.url.path
    methods: set[str] = set()
    for template, operations in request.app.openapi().get("paths", {}).items():
        if _template(template).fullmatch(path):
            methods |= {m.upper() for m in operations}
    for route in request.app.routes:
        static = isinstance(route, Mount) and isinstance(route.app, StaticFiles)
        if static and route.matches(request.scope)[0] is not Match.NONE:
            methods |= {"GET"}
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


@functools.lru_cache(maxsize=512)
def _template(path: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\\\{[^}]*\\\}", "[^/]+", re.escape(path)))


async def _unauthorized_first(request: Request) -> Response | None:
    """The 401/403 a write route's role check gives the request, if it gives one.

    FastAPI decodes and validates a body before it runs any dependency, so a caller without the right token
    would learn that its body is wrong before learning that it may not write: the error handlers ask the
    matched route's role check first."""
    dependant = getattr(request.scope.get("route"), "dependant", None)
    for dep in getattr(dependant, "dependencies", ()):
        if dep.call is not None and hasattr(dep.call, "required_role"):
            try:
                await dep.call(request)
            except StarletteHTTPException as exc:
                return await _http_error(request, exc)
    return None


def _names_something(route: APIRoute) -> bool:
    """Whether a request to the route names something that may not exist: a path parameter, an ``asset`` or
    ``path`` query parameter (the route's own or a dependency's, such as a query model), a body with an
    ``asset``."""
    d = route.dependant
    bodies = [getattr(f.field_info.annotation, "model_fields", {}) for f in d.body_params]
    named = bool(_query_names(d) & {"asset", "path"})
    return bool(d.path_params) or named or any("asset" in fields for fields in bodies)


def _query_names(d: Dependant) -> set[str]:
    """The query parameters a request to ``d`` reads, its dependencies' too."""
    return {q.name for q in d.query_params}.union(*(_query_names(sub) for sub in d.dependencies))


def _document(routes: Sequence[BaseRoute], errors: Mapping[int, dict[str, Any]]) -> None:
    """A non-AAS API route that names something documents 404 (an asset, signal, stop or work order that does
    not exist); a route that needs a role documents 401 and 403."""
    for route in routes:
        if (
            not isinstance(route, APIRoute)
            or not route.path.startswith("/api/")
            or route.path.startswith(AAS)
        ):
            continue
        if _names_something(route):
            route.responses.setdefault(404, dict(errors[404]))
        if any(d.call is not None and hasattr(d.call, "required_role") for d in route.dependant.dependencies):
            route.responses.setdefault(401, dict(errors[401]))
            route.responses.setdefault(403, dict(errors[403]))


ERRORS: dict[int, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "not found: what the request names does not exist"},
    401: {"model": ErrorOut, "description": "no bearer token, or an unknown one"},
    403: {"model": ErrorOut, "description": "the token's role may not do this, or writes are disabled"},
}
#: every app route may answer it where the app runs elsewhere (a cluster's API replica: AppContext.served)
RUNS_ELSEWHERE: dict[str, Any] = {
    "model": ErrorOut,
    "description": "the app runs elsewhere than this process (a cluster's workers, or no process of the cluster); "
    "the detail says what, in the reader's language",
}


def create_app(platform: Platform) -> FastAPI:
    app = FastAPI(
        title="werk",
        version=__version__,
        description="Industrie 4.0 platform: plant, assets, signals, history and live stream.",
        docs_url=None,
        redoc_url=None,
    )
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(InputError, _input_error)
    refs = {ref.name: ref for ref in platform.config.assets()}
    shown = platform.shown_apps
    auth = _authenticator(platform, refs)
    specs = [platform.registry.app(name) for name in platform.apps]
    nav = [NavItem("/", N_("Overview"), order=0)]
    nav += [NavItem(p.path, p.title, p.order) for spec in specs for p in spec.pages if p.nav]
    nav += [NavItem("/users", N_("Users"), order=1000, role="admin")]
    template_dirs = [d for spec in specs if (d := package_dir(spec.package, "templates")) is not None]
    locales = {spec.name: d for spec in specs if (d := locale_dir(spec.package)) is not None}
    # a page's script gets werk's shared script texts and all of its app's (reason labels, units, states)
    scripts = {"": catalog_msgids(werk_locale_dir(), scripts_only=True)}
    scripts |= {name: catalog_msgids(d) for name, d in locales.items()}
    pages = Pages(
        nav,
        template_dirs,
        locales=list(locales.values()),
        scripts=scripts,
        timezone=platform.config.plant.timezone,
        banners=lambda t: [b for a in shown().values() for b in a.banners(t)],
    )
    web = WebContext(platform.config, auth, pages)

    async def runs_elsewhere(request: Request, exc: Exception) -> Response:
        """503 with the reason in the reader's language (its placeholders' values translated too)."""
        assert isinstance(exc, RunsElsewhere)
        tr = web.translator(request)
        detail = tr(exc.msgid, **{k: tr(v) for k, v in exc.args_.items()})
        return Response(json.dumps({"detail": detail}), 503, media_type="application/json")

    app.add_exception_handler(RunsElsewhere, runs_elsewhere)
    for spec in specs:
        idle = platform.apps[spec.name].ctx.served == "nowhere"
        if spec.router is not None:
            router = spec.router(platform.apps[spec.name], web)
            _document(router.routes, ERRORS)
            for route in router.routes:
                if isinstance(route, APIRoute):
                    route.responses.setdefault(503, dict(RUNS_ELSEWHERE))
            # no process of the cluster runs it: every route says so rather than answer from a memory that
            # never moves
            app.include_router(router, dependencies=[Depends(_runs_nowhere(spec.title))] if idle else None)
        for page in spec.pages:
            route = (
                _page_route(pages, NOT_RUNNING, {"app_title": spec.title})
                if idle
                else _page_route(pages, page.template)
            )
            app.add_api_route(page.path, route, include_in_schema=False, methods=["GET"])
        static = package_dir(spec.package, "static")
        if static is not None:
            app.mount(f"/static/apps/{spec.name}", StaticFiles(directory=static), name=f"static-{spec.name}")
    tiles = [
        TileOut(app=spec.name, key=t.key, label=t.label, unit=t.unit, format=t.format)
        for spec in specs
        for t in sorted(spec.tiles, key=lambda t: t.order)
    ]

    def seen(request: Request) -> list[AssetRef]:
        """The assets the caller may see (its viewer grants, Authenticator.visible)."""
        visible = auth.visible(request.scope)
        return [r for r in refs.values() if visible is None or visible(r.path)]

    def asset_or_404(name: str) -> AssetRef:
        if name not in refs:
            raise HTTPException(404, f"no asset named {name!r}; GET /api/assets lists them")
        return refs[name]

    @app.get("/api/health", response_model=HealthOut, tags=["platform"])
    async def health(request: Request) -> HealthOut:
        """Whether werk runs, for anyone (a load balancer's probe); the figures, connectors and app diagnostics
        only for a caller who may read (once reads need a sign-in, a probe learns no connector's address), and
        for a caller who sees part of the plant the connectors it sees and no app diagnostics (they name assets)."""
        if not auth.reads_open:
            user = auth.user(request)
            if user is None:
                return HealthOut(status="ok")
            request.scope.setdefault("state", {})["user"] = user
        sight = auth.sight(request.scope)
        w = platform.writer
        feed = platform.live_feed
        return HealthOut(
            status="ok",
            version=__version__,
            samples_published=platform.bus.published,
            samples_written=w.written if w else 0,
            write_errors=w.write_errors if w else 0,
            samples_rejected=w.rejected if w else 0,
            last_rejected=w.last_rejected if w else "",
            live_samples=feed.samples if feed else None,
            live_dropped=feed.dropped if feed else None,
            connectors=connectors_seen(request),
            apps={}
            if sight is not None
            else {name: dict(h) for name, app in shown().items() if (h := app.diagnostics())},
        )

    @app.get("/api/plant", tags=["plant"])
    async def plant(request: Request) -> dict[str, Any]:
        """The ISA-95 tree of the plant file, as nested mappings: for a caller whose viewer grants cover parts
        of the plant, the nodes they cover in full and the nodes on the way to them as bare names."""
        p = platform.config.plant
        sites = p.model_dump()["sites"]
        sight = auth.sight(request.scope)
        if sight is not None:
            sites = plant_tree_seen(sight, p.enterprise, sites)
        return {"enterprise": p.enterprise, "timezone": p.timezone, "sites": sites}

    @app.get("/api/assets", response_model=list[AssetOut], tags=["plant"])
    async def assets(request: Request) -> list[AssetOut]:
        """Every asset the caller may see (all of them while reads are open; else those its viewer grants
        cover)."""
        return _assets_out(platform, seen(request))

    @app.get("/api/assets/{name}", response_model=AssetOut, tags=["plant"])
    async def asset(name: str) -> AssetOut:
        return _assets_out(platform, [asset_or_404(name)])[0]

    @app.get("/api/ui", tags=["platform"])
    async def ui(request: Request) -> dict[str, list[NavOut] | list[TileOut]]:
        """What the pages show from the registered apps: the nav (as the caller is shown it), and the tiles of
        every asset card."""
        nav = nav_for(pages.nav, request)
        return {"nav": [NavOut(path=n.path, title=n.title) for n in nav], "tiles": tiles}

    @app.get(
        "/api/me",
        response_model=MeOut,
        tags=["platform"],
        responses={401: {"description": "no or unknown token"}},
    )
    async def me(request: Request) -> MeOut:
        """Who the bearer token (or the sign-in session) belongs to: a page checks a token with it before it
        keeps it."""
        user = auth.user(request)
        if user is None:
            raise HTTPException(
                401, "missing or unknown bearer token", headers={"WWW-Authenticate": "Bearer"}
            )
        return MeOut(name=user.name, role=user.role)

    connector_assets = assets_by_connector(platform.config)

    def connectors_seen(request: Request) -> list[ConnectorOut]:
        """The connectors whose every bound asset the caller sees (a connector's counts are over all of them)."""
        sight = auth.sight(request.scope)
        return [
            ConnectorOut.of(c.status)
            for c in platform.connectors
            if sight is None or sight_covers_all(sight, connector_assets.get(c.status.name, ()))
        ]

    @app.get("/api/connectors", response_model=list[ConnectorOut], tags=["platform"])
    async def connectors(request: Request) -> list[ConnectorOut]:
        """Every connector's health; for a caller whose viewer grants cover parts of the plant, those whose
        bound assets are all among what it sees."""
        return connectors_seen(request)

    @app.get("/api/signals", response_model=list[SignalOut], tags=["signals"])
    async def signals(request: Request, prefix: str = "") -> list[SignalOut]:
        """Latest value of every signal (optionally under a UNS path prefix) the caller may see."""
        visible = auth.visible(request.scope)
        return [
            SignalOut.of(s)
            for p, s in sorted(platform.live.latest.items())
            if p.startswith(prefix) and (visible is None or visible(p))
        ]

    bound = {ref.signal_path(sig): ref.name for ref in refs.values() for sig in ref.config.bound_signals()}
    asset_of_path = {ref.path: ref.name for ref in refs.values()}

    def stored_types() -> dict[str, str]:
        h = platform.historian
        assert h is not None
        return h.signal_types()

    def known_path(path: str, loc: tuple[str | int, ...], types: dict[str, str]) -> None:
        try:
            validate_path(path)
        except UnsPathError as exc:
            raise InputError(str(exc), loc) from None
        if path not in types and path not in bound and path not in platform.live.latest:
            raise HTTPException(404, f"no signal {path!r}; GET /api/signals/catalog lists them")

    def read_series(
        path: str, a: datetime, z: datetime, bucket_s: float | None, limit: int, dtype: str | None
    ) -> SeriesOut:
        h = platform.historian
        assert h is not None
        info = describe(path.rpartition("/")[2], dtype)
        s = h.query_series(path, a, z, limit)
        sampled_gap = GAP_FACTOR * s.interval_s if info.kind == "sampled" and s.interval_s else None
        if sampled_gap is not None and not s.downsampled and len(s.samples) > 2:
            # a source that reports by exception (a subscription with a deadband) sends a measured value
            # again only when it moves: pauses a few times its usual interval are common and are not missing data;
            # what breaks the line is a pause longer than nearly all the others (werk or the source was away)
            steps = sorted(
                (y.ts - x.ts).total_seconds() for x, y in zip(s.samples, s.samples[1:], strict=False)
            )
            common = steps[int(GAP_QUANTILE * (len(steps) - 1))]
            sampled_gap = max(sampled_gap, GAP_SPREAD * common)
        out = SeriesOut(path=path, start=a, end=z, unit=info.unit, kind=info.kind, total=s.total)
        if bucket_s is None:
            out.points = [PointOut.of(x) for x in s.samples]
            out.downsampled = s.downsampled
            if s.downsampled and sampled_gap is not None:
                # a downsampled set keeps a few points per time bucket: neighbours up to two buckets apart are
                # not a gap in the data
                width = (z - a).total_seconds() / max(1, limit // DOWNSAMPLE_POINTS_PER_BUCKET)
                sampled_gap = max(sampled_gap, 2.5 * width)
            out.gap_s = sampled_gap
            return out
        buckets = h.query_buckets(path, a, z, bucket_s)
        out.bucket_s = bucket_s
        out.buckets = [BucketOut.of(b) for b in buckets]
        out.skipped_bad = sum(b.bad for b in buckets)
        out.gap_s = max(1.5 * bucket_s, sampled_gap or 0.0) if info.kind == "sampled" else None
        return out

    @app.get("/api/series", response_model=SeriesOut, tags=["signals"])
    async def series(
        path: Annotated[
            str,
            Query(
                description="the signal's UNS path",
                # in the document, and checked by validate_path, whose refusal names the segment at fault
                json_schema_extra={"pattern": PATH_PATTERN},
            ),
        ],
        window: SeriesRange,
        limit: Annotated[
            int, Query(ge=16, le=MAX_POINTS, description="most points; more are downsampled")
        ] = 5000,
    ) -> SeriesOut:
        """One signal in a time range (default: the last ``minutes``): its samples (downsampled beyond
        ``limit``, always up to the newest), or min/avg/max per bucket of ``bucket_s`` seconds, with its unit,
        kind and gap threshold (see the response schema)."""
        a, z, bucket_s = window
        types = await asyncio.to_thread(stored_types)
        known_path(path, ("query", "path"), types)
        return await asyncio.to_thread(read_series, path, a, z, bucket_s, limit, types.get(path))

    @app.get("/api/series/set", response_model=SeriesSetOut, tags=["signals"])
    async def series_set(
        path: Annotated[
            list[str],
            Query(min_length=1, max_length=MAX_SERIES, description="UNS paths of the signals (up to 12)"),
        ],
        window: SeriesRange,
        limit: Annotated[int, Query(ge=16, le=MAX_POINTS, description="most points per signal")] = 2000,
    ) -> SeriesSetOut:
        """Several signals (``path`` repeated, up to 12) over one range, each as ``/api/series`` gives it."""
        a, z, bucket_s = window
        types = await asyncio.to_thread(stored_types)
        for i, p in enumerate(path):
            known_path(p, ("query", "path", i), types)
        out = [
            await asyncio.to_thread(read_series, p, a, z, bucket_s, limit, types.get(p))
            for p in dict.fromkeys(path)
        ]
        return SeriesSetOut(start=a, end=z, series=out)

    @app.get("/api/signals/catalog", response_model=list[SignalInfoOut], tags=["signals"])
    async def signal_catalog(request: Request, prefix: str = "") -> list[SignalInfoOut]:
        """Every signal of every asset (bound in the plant file or stored, derived ones included), with its unit
        and kind, optionally under a UNS path prefix; only those the caller's viewer grants cover."""
        types = await asyncio.to_thread(stored_types)
        visible = auth.visible(request.scope)
        paths = sorted(
            p for p in {*types, *bound} if p.startswith(prefix) and (visible is None or visible(p))
        )
        out = []
        for p in paths:
            parent, _, name = p.rpartition("/")
            info = describe(name, types.get(p))
            out.append(
                SignalInfoOut(
                    path=p,
                    asset=asset_of_path.get(parent),
                    name=name,
                    unit=info.unit,
                    kind=info.kind,
                    dtype=types.get(p),
                    bound=p in bound,
                    stored=p in types,
                )
            )
        return out

    @app.get("/api/events", response_model=list[EventOut], tags=["events"])
    async def events(
        request: Request,
        kind: str | None = None,
        asset: str | None = None,
        limit: Annotated[int, Query(gt=0, le=10_000)] = 200,
    ) -> list[EventOut]:
        h = platform.historian
        assert h is not None
        source = asset_or_404(asset).path if asset else None
        kinds = [kind] if kind else None
        visible = auth.visible(request.scope) if source is None else None
        if visible is None:
            rows = await asyncio.to_thread(h.query_events, kinds=kinds, source=source, limit=limit)
            return [EventOut.of(e) for e in rows]
        # newest first, page by page, keeping the events of what the caller may see (bounded: a caller whose
        # grants cover few of the plant's events gets the ones among the newest EVENT_PAGES pages)
        kept: list[EventOut] = []
        end: datetime | None = None
        for _ in range(EVENT_PAGES):
            rows = await asyncio.to_thread(h.query_events, kinds=kinds, end=end, limit=limit)
            kept += [EventOut.of(e) for e in rows if visible(e.source)]
            if len(kept) >= limit or len(rows) < limit:
                break
            end = rows[-1].ts
        return kept[:limit]

    @app.get(
        "/api/stream",
        tags=["signals"],
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}, "description": "Server-sent events"}},
    )
    async def stream(request: Request, path: str | None = None) -> StreamingResponse:
        """Server-sent events: ``assets`` (every second, the asset list) and ``samples`` of ``path`` as they come."""
        if path is not None:
            try:
                validate_path(path)
            except UnsPathError as exc:
                raise InputError(str(exc), ("query", "path")) from None
        return StreamingResponse(
            _sse(request, platform, seen(request), path),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    static = static_dir()
    app.mount("/static", StaticFiles(directory=static), name="static")

    plant_name = " · ".join([platform.config.plant.enterprise, ", ".join(platform.config.plant.sites)])

    @app.get("/", include_in_schema=False)
    async def index(request: Request) -> Response:
        t = pages.translator(pages.language(request))
        shown = seen(request)
        live = live_context(t, _assets_out(platform, shown), tiles, utcnow(), _plant_of(platform, shown))
        return pages.render(request, "overview.html", {"plant_name": plant_name, **live})

    @app.get("/ui/banners", include_in_schema=False)
    async def banners(request: Request) -> list[dict[str, str]]:
        """What the banner slot of every page shows now (the apps' App.banners), for werk.js to refresh it."""
        t = pages.translator(pages.language(request))
        return [dict(b) for a in shown().values() for b in a.banners(t)]

    @app.get("/ui/overview/stream", include_in_schema=False)
    async def overview_stream(request: Request) -> StreamingResponse:
        """Server-sent events ``overview``: the overview's summary and asset cards as an HTML fragment in the
        reader's language, every second (the page swaps it in with htmx)."""
        lang = pages.language(request)
        shown = seen(request)

        def fragment() -> str:
            live = live_context(
                pages.translator(lang),
                _assets_out(platform, shown),
                tiles,
                utcnow(),
                _plant_of(platform, shown),
            )
            return pages.fragment("overview_live.html", lang, live)

        return StreamingResponse(
            _html_stream(request, fragment),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    for name, render in _API_PAGES.items():
        app.add_api_route(f"/{name}", _api_page(render), name=name, include_in_schema=False)

    security = security_router(auth, pages, platform.config.server)
    _document(security.routes, ERRORS)
    app.include_router(security)

    # last: the AAS routers end with a catch-all answering unknown /api/v3.0 paths with the spec's error bodies
    assert platform.twin is not None, "start the platform before building its app"
    assert platform.aas_services is not None
    auth.targets = places = twin_targets(platform.twin, {r.aas_id: r.path for r in refs.values()}, AAS)

    async def write_signal(path: str, value: Any, user: str) -> None:
        """A machine write needs a grant that lists the signal (werk.core.access), besides the AAS writer role
        the route asked; it is audited with the value before and the outcome."""
        caller = _current_user.get()
        if caller is None or caller.name != user:
            raise Unauthorized(403, f"{path}: a machine write needs an authorized user")
        auth.may_write_signal(caller, path)  # 403 (the AAS route answers it in its shape)
        before = platform.live.latest.get(path)
        outcome = "written"
        try:
            await platform.write_signal(path, value, user)
        except Exception as exc:
            outcome = f"refused: {exc}"
            raise
        finally:
            if auth.audit is not None:
                await asyncio.to_thread(
                    auth.audit.record, "machine.write", path, who=user,
                    before=before.value if before is not None else None,
                    after={"value": value, "result": outcome},
                )  # fmt: skip

    def authorize(caller: Any) -> Any:
        user = auth.authorize(caller, WRITER_ROLE)
        _current_user.set(user)
        return user

    aas = build_aas_api(
        platform.twin,
        platform.aas_services,
        UnsBinding(platform.live.latest.get),
        authorize=authorize,
        write_signal=write_signal,
        visible=aas_visible(auth, places),
        access=access_rules_of(platform.config.server, auth.identify),
    )
    for router in aas.routers:
        app.include_router(router)
    # the busiest AAS reads and value writes skip FastAPI's per-request machinery (same answers, werk.aas.http.fast)
    add_front(app, aas.fast_path)
    # outermost: host check, rate limit, reads, audit of writes, security headers (werk.api.security)
    add_front(app, security_front(auth, platform.config.server))
    allow_uploads(app, aas.uploads)
    _document(app.router.routes, ERRORS)

    return app


_current_user: contextvars.ContextVar[User | None] = contextvars.ContextVar("werk_aas_user", default=None)
"""The user the AAS route authorized, for its machine write (the route hands on only the name)."""


def _authenticator(platform: Platform, refs: Mapping[str, AssetRef]) -> Authenticator:
    """The server's :class:`Authenticator`: the plant file's users and werk's own (users, tokens, sessions, the
    audit trail), where the apps keep their tables (the werk file, or the PostgreSQL server every replica shares)."""
    assert platform.app_db is not None, "start the platform before building its app"
    sec = platform.config.server.security
    audit = AuditLog(platform.app_db)
    store = SecurityStore(platform.app_db, audit, lockout_after=sec.lockout_after, lockout_s=sec.lockout_s)
    auth = Authenticator(platform.config.server, store, enterprise=platform.config.plant.enterprise)
    auth.asset_paths = {name: ref.path for name, ref in refs.items()}
    # a grant on a part of the plant that does not exist grants nothing: a typo, said at start
    for i, u in enumerate(platform.config.server.users):
        for j, g in enumerate(u.grants or ()):
            scope = auth.scope(g.scope)
            if scope and not any(p == scope or p.startswith(scope + "/") for p in auth.asset_paths.values()):
                raise WerkError(
                    f"server.users[{i}].grants[{j}].scope: {g.scope!r} names no part of the plant "
                    "(site/area/line/cell/asset)"
                )
    return auth


#: the API reference pages (``/docs``, ``/redoc``), from vendored scripts and styles: nothing from another site
_API_PAGES: dict[str, Callable[..., HTMLResponse]] = {
    "docs": functools.partial(
        get_swagger_ui_html,
        swagger_js_url="/static/vendor/swagger-ui-bundle.js",
        swagger_css_url="/static/vendor/swagger-ui.css",
        swagger_favicon_url="/static/favicon.svg",
    ),
    "redoc": functools.partial(
        get_redoc_html,
        redoc_js_url="/static/vendor/redoc.standalone.js",
        redoc_favicon_url="/static/favicon.svg",
        with_google_fonts=False,
    ),
}


def _api_page(render: Callable[..., HTMLResponse]) -> Callable[[], Awaitable[HTMLResponse]]:
    """The endpoint of one of :data:`_API_PAGES`: the page over werk's OpenAPI document."""

    async def page() -> HTMLResponse:
        return render(openapi_url="/openapi.json", title="werk · API")

    return page


def _page_route(pages: Pages, template: str, context: Mapping[str, Any] | None = None) -> Any:
    async def page(request: Request) -> Response:
        return pages.render(request, template, context)

    return page


#: The page an app's pages show where no process of the cluster runs the app (AppContext.served "nowhere")
NOT_RUNNING = "not_running.html"
#: What its API answers there (503)
RUNS_NOWHERE = N_(
    "{app} does not run in a werk cluster yet: it runs in werk serve only, so nothing here is current."
)


def _runs_nowhere(title: str) -> Callable[[], None]:
    """A dependency that refuses every route of an app no process of the cluster runs."""

    def refuse() -> None:
        raise RunsElsewhere(RUNS_NOWHERE, app=title)

    return refuse


def _sse_frame(event: str, data: Any) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, default=str, separators=(',', ':'))}\n\n".encode()


def _sse_html(event: str, html: str) -> bytes:
    """An HTML fragment as one SSE event: every line of it a ``data:`` line (the client joins them with
    newlines)."""
    lines = "".join(f"data: {line}\n" for line in html.splitlines() or [""])
    return f"event: {event}\n{lines}\n".encode()


async def _html_stream(request: Request, fragment: Callable[[], str]) -> AsyncIterator[bytes]:
    yield b"retry: 2000\n\n"
    while not await request.is_disconnected():
        yield _sse_html("overview", fragment())
        await asyncio.sleep(STREAM_TICK_S)


async def _sse(
    request: Request, platform: Platform, refs: list[AssetRef], path: str | None
) -> AsyncIterator[bytes]:
    # A browser must never slow the plant down: its queue drops the oldest batches when it falls behind.
    sub = platform.bus.subscribe(path, maxsize=64, overflow=Overflow.DROP_OLDEST) if path else None
    try:
        yield b"retry: 2000\n\n"
        while not await request.is_disconnected():
            assets = [a.model_dump(mode="json") for a in _assets_out(platform, refs)]
            yield _sse_frame("assets", assets)
            if sub is None:
                await asyncio.sleep(STREAM_TICK_S)
                continue
            pending: list[Sample] = []
            deadline = asyncio.get_running_loop().time() + STREAM_TICK_S
            while (left := deadline - asyncio.get_running_loop().time()) > 0:
                try:
                    pending.extend(await asyncio.wait_for(sub.get(), left))
                except TimeoutError:
                    break
            if pending:
                yield _sse_frame("samples", [PointOut.of(s).model_dump(mode="json") for s in pending])
    finally:
        if sub is not None:
            sub.close()
