"""The AAS API in a FastAPI app of its own, as werk's create_app mounts it: its routers included, its fast path in
front (assembled by werk.api.http_server when served), writes authorized by werk's Authenticator."""

from __future__ import annotations

from collections.abc import Collection
from functools import partial

from fastapi import FastAPI

from werk.aas.backend.service_store import ServiceStore
from werk.aas.backend.store import TwinStore
from werk.aas.http import WRITER_ROLE, AasApi, build_aas_api
from werk.aas.http.common import Authorize
from werk.aas.http.submodels import WriteSignal
from werk.aas.model.bound import LiveValue
from werk.api.auth import Authenticator, token_digest
from werk.api.http_server import add_front, allow_uploads
from werk.config.model import ServerConfig, UserConfig
from werk.twin.binding import UnsBinding

TOKEN = "t0ken"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def authenticator(tokens: Collection[str] = (TOKEN,), role: str = "admin") -> Authenticator:
    """werk's Authenticator with one user of ``role`` per token (none: writes are disabled)."""
    users = [
        UserConfig(name=f"user{i}", role=role, token_sha256=token_digest(t))  # type: ignore[arg-type]
        for i, t in enumerate(tokens)
    ]
    return Authenticator(ServerConfig(users=users))


def writer(tokens: Collection[str] = (TOKEN,)) -> Authorize:
    return partial(authenticator(tokens).authorize, role=WRITER_ROLE)


def aas_api(
    store: TwinStore,
    latest: LiveValue | None = None,
    *,
    tokens: Collection[str] = (TOKEN,),
    authorize: Authorize | None = None,
    services: ServiceStore | None = None,
    write_signal: WriteSignal | None = None,
) -> AasApi:
    return build_aas_api(
        store,
        services,
        UnsBinding(latest or (lambda _: None)),
        authorize=authorize or writer(tokens),
        write_signal=write_signal,
    )


def mount(app: FastAPI, api: AasApi) -> FastAPI:
    """``api`` in ``app`` as werk's create_app puts it there."""
    for router in api.routers:
        app.include_router(router)
    add_front(app, api.fast_path)
    allow_uploads(app, api.uploads)
    return app


def aas_app(store: TwinStore, latest: LiveValue | None = None, **kwargs: object) -> FastAPI:
    """A FastAPI app serving only the AAS API over ``store`` (``kwargs`` as :func:`aas_api`)."""
    return mount(FastAPI(), aas_api(store, latest, **kwargs))  # type: ignore[arg-type]
