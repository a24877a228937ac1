"""The HTTP face of werk: REST API (OpenAPI at /docs and /openapi.json), a live SSE stream, and the pages.

Assembled from the registry: werk's own routes (plant, assets, signals, events, the live stream, the overview),
then each enabled app's router and pages (:class:`werk.apps.spec.AppSpec`), then the AAS API. Reads are open (the
server binds to 127.0.0.1 by default); every write needs a bearer token of a user with the right role
(``werk.api.auth``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from werk import __version__
from werk.api.aas import PROFILES as REPOSITORY_PROFILES
from werk.api.aas import WRITER_ROLE, build_aas_router, encodable
from werk.api.aas_discovery import build_discovery_router
from werk.api.aas_fast import FastPathApp
from werk.api.aas_fast import mount as mount_aas_api
from werk.api.aas_packages import build_package_router
from werk.api.aas_registry import build_registry_router
from werk.api.aas_services import PROFILES as SERVICE_PROFILES
from werk.api.auth import Authenticator
from werk.api.schemas import (
    AssetOut,
    BucketOut,
    ConnectorOut,
    EventOut,
    HealthOut,
    NavOut,
    PointOut,
    SeriesOut,
    SignalOut,
    TileOut,
)
from werk.api.web import WebContext
from werk.bus.base import Overflow
from werk.config.model import AssetRef
from werk.core.model import Sample
from werk.core.period import period
from werk.core.uns import validate_path
from werk.errors import InputError, UnsPathError
from werk.runtime.platform import Platform
from werk.ui import static_dir
from werk.ui.pages import NavItem, Pages, package_dir

MAX_POINTS = 20_000
STREAM_TICK_S = 1.0


def _assets_out(platform: Platform, refs: list[AssetRef]) -> list[AssetOut]:
    return [_asset_out(platform, ref, platform.asset_view(ref.name)) for ref in refs]


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
    body = json.dumps({"detail": jsonable_encoder(exc.errors())}, ensure_ascii=True)
    return Response(body, status_code=422, media_type="application/json")


async def _input_error(request: Request, exc: Exception) -> Response:
    """A parameter the code refused after validation, answered as FastAPI answers one it refused itself."""
    assert isinstance(exc, InputError)
    detail = [{"type": "value_error", "loc": list(exc.loc), "msg": str(exc), "input": None}]
    return Response(json.dumps({"detail": detail}, ensure_ascii=True), 422, media_type="application/json")


async def _http_error(request: Request, exc: Exception) -> Response:
    """FastAPI's answer to an HTTPException, its detail made encodable first (it may quote the request's text)."""
    assert isinstance(exc, StarletteHTTPException)
    if isinstance(exc.detail, str):
        exc.detail = encodable(exc.detail)
    return await http_exception_handler(request, exc)


def create_app(platform: Platform) -> FastAPI:
    app = FastPathApp(
        title="werk",
        version=__version__,
        description="Industrie 4.0 platform: plant, assets, signals, history and live stream.",
    )
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(InputError, _input_error)
    refs = {ref.name: ref for ref in platform.config.assets()}
    auth = Authenticator(platform.config.server)
    specs = [platform.registry.app(name) for name in platform.apps]
    nav = [NavItem("/", "Overview", order=0)]
    nav += [NavItem(p.path, p.title, p.order) for spec in specs for p in spec.pages if p.nav]
    template_dirs = [d for spec in specs if (d := package_dir(spec.package, "templates")) is not None]
    pages = Pages(nav, template_dirs)
    web = WebContext(platform.config, auth, pages)
    for spec in specs:
        if spec.router is not None:
            app.include_router(spec.router(platform.apps[spec.name], web))
        for page in spec.pages:
            app.add_api_route(
                page.path, _page_route(pages, page.template), include_in_schema=False, methods=["GET"]
            )
        static = package_dir(spec.package, "static")
        if static is not None:
            app.mount(f"/static/apps/{spec.name}", StaticFiles(directory=static), name=f"static-{spec.name}")
    tiles = [
        TileOut(app=spec.name, key=t.key, label=t.label, unit=t.unit, format=t.format)
        for spec in specs
        for t in sorted(spec.tiles, key=lambda t: t.order)
    ]

    def asset_or_404(name: str) -> AssetRef:
        if name not in refs:
            raise HTTPException(404, f"no asset named {name!r}; GET /api/assets lists them")
        return refs[name]

    @app.get("/api/health", response_model=HealthOut, tags=["platform"])
    async def health() -> HealthOut:
        w = platform.writer
        return HealthOut(
            status="ok",
            version=__version__,
            samples_published=platform.bus.published,
            samples_written=w.written if w else 0,
            write_errors=w.write_errors if w else 0,
            connectors=[ConnectorOut.of(c.status) for c in platform.connectors],
            apps={name: dict(h) for name, app in platform.apps.items() if (h := app.diagnostics())},
        )

    @app.get("/api/plant", tags=["plant"])
    async def plant() -> dict[str, Any]:
        """The ISA-95 tree of the plant file, as nested mappings."""
        p = platform.config.plant
        return {"enterprise": p.enterprise, "timezone": p.timezone, "sites": p.model_dump()["sites"]}

    @app.get("/api/assets", response_model=list[AssetOut], tags=["plant"])
    async def assets() -> list[AssetOut]:
        return _assets_out(platform, list(refs.values()))

    @app.get("/api/assets/{name}", response_model=AssetOut, tags=["plant"])
    async def asset(name: str) -> AssetOut:
        return _assets_out(platform, [asset_or_404(name)])[0]

    @app.get("/api/ui", tags=["platform"])
    async def ui() -> dict[str, list[NavOut] | list[TileOut]]:
        """What the pages show from the registered apps: the nav, and the tiles of every asset card."""
        return {"nav": [NavOut(path=n.path, title=n.title) for n in pages.nav], "tiles": tiles}

    @app.get("/api/connectors", response_model=list[ConnectorOut], tags=["platform"])
    async def connectors() -> list[ConnectorOut]:
        return [ConnectorOut.of(c.status) for c in platform.connectors]

    @app.get("/api/signals", response_model=list[SignalOut], tags=["signals"])
    async def signals(prefix: str = "") -> list[SignalOut]:
        """Latest value of every signal (optionally under a UNS path prefix)."""
        return [SignalOut.of(s) for p, s in sorted(platform.live.latest.items()) if p.startswith(prefix)]

    @app.get("/api/series", response_model=SeriesOut, tags=["signals"])
    async def series(
        path: str,
        start: datetime | None = None,
        end: datetime | None = None,
        minutes: Annotated[float, Query(gt=0, le=60 * 24 * 366)] = 10,
        bucket_s: Annotated[float | None, Query(gt=0)] = None,
        limit: Annotated[int, Query(gt=0, le=MAX_POINTS)] = 5000,
    ) -> SeriesOut:
        """Raw samples, or min/avg/max per bucket of ``bucket_s`` seconds, of one signal in a time range."""
        try:
            validate_path(path)
        except UnsPathError as exc:
            raise InputError(str(exc), ("query", "path")) from None
        a, z = period(start, end, default_start=lambda z: z - timedelta(minutes=minutes))
        if (z - a).total_seconds() / (bucket_s or 1) > MAX_POINTS and bucket_s is not None:
            raise InputError(
                f"{bucket_s} s buckets over that range exceed {MAX_POINTS} points", ("query", "bucket_s")
            )
        h = platform.historian
        assert h is not None
        if bucket_s is None:
            raw = await asyncio.to_thread(h.query_raw, path, a, z, limit)
            return SeriesOut(path=path, start=a, end=z, points=[PointOut.of(s) for s in raw])
        buckets = await asyncio.to_thread(h.query_buckets, path, a, z, bucket_s)
        return SeriesOut(
            path=path, start=a, end=z, bucket_s=bucket_s, buckets=[BucketOut.of(b) for b in buckets]
        )

    @app.get("/api/events", response_model=list[EventOut], tags=["events"])
    async def events(
        kind: str | None = None,
        asset: str | None = None,
        limit: Annotated[int, Query(gt=0, le=10_000)] = 200,
    ) -> list[EventOut]:
        h = platform.historian
        assert h is not None
        source = asset_or_404(asset).path if asset else None
        rows = await asyncio.to_thread(
            h.query_events, kinds=[kind] if kind else None, source=source, limit=limit
        )
        return [EventOut.of(e) for e in rows]

    @app.get("/api/stream", tags=["signals"])
    async def stream(request: Request, path: str | None = None) -> StreamingResponse:
        """Server-sent events: ``assets`` (every second, the asset list) and ``samples`` of ``path`` as they come."""
        if path is not None:
            try:
                validate_path(path)
            except UnsPathError as exc:
                raise InputError(str(exc), ("query", "path")) from None
        return StreamingResponse(
            _sse(request, platform, list(refs.values()), path),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    static = static_dir()
    app.mount("/static", StaticFiles(directory=static), name="static")

    @app.get("/", include_in_schema=False)
    async def index(request: Request) -> Response:
        return pages.render(request, "overview.html")

    # last: the AAS router ends with a catch-all answering unknown /api/v3.0 paths with the spec's error bodies
    assert platform.twin is not None, "start the platform before building its app"
    assert platform.aas_services is not None
    supervisor = auth.require(WRITER_ROLE)
    for build in (build_registry_router, build_discovery_router, build_package_router):
        app.include_router(build(platform.twin, platform.aas_services, require_writer=supervisor))
    aas = build_aas_router(
        platform.twin,
        platform.live.latest.get,
        require_writer=supervisor,
        profiles=[*REPOSITORY_PROFILES, *SERVICE_PROFILES],
        write_signal=platform.write_signal,
    )
    # the busiest AAS reads and value writes skip FastAPI's per-request machinery (same answers, werk.api.aas_fast)
    mount_aas_api(app, aas)

    return app


def _page_route(pages: Pages, template: str) -> Any:
    async def page(request: Request) -> Response:
        return pages.render(request, template)

    return page


def _sse_frame(event: str, data: Any) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, default=str, separators=(',', ':'))}\n\n".encode()


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
