"""The andon app: operators pull the cord (POST), werk counts the calls per asset and keeps them in its table."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from werk.apps.spec import App, AppContext, AppSpec, Page, Tile, Web
from werk.config.model import AppSettings
from werk.core.model import User, to_micros
from werk.i18n import N_
from werk.store.migrations import Migration


class AndonSettings(AppSettings):
    colour: str = "yellow"
    max_calls: int = Field(default=100, ge=1)


class CallIn(BaseModel):
    asset: str
    note: str = ""


class CallsOut(BaseModel):
    asset: str
    calls: int


class AndonApp(App):
    def __init__(self, ctx: AppContext) -> None:
        super().__init__(ctx)
        self.settings: AndonSettings = ctx.settings
        self.calls: dict[str, int] = {}

    async def run(self) -> None:
        await asyncio.Event().wait()

    def call(self, asset: str, who: str, note: str) -> int:
        with self.ctx.db.transaction() as conn:
            conn.execute(
                "INSERT INTO andon_call (asset, ts, who, note) VALUES (?, ?, ?, ?)",
                (asset, to_micros(self.ctx.clock()), who, note),
            )
        self.calls[asset] = self.calls.get(asset, 0) + 1
        return self.calls[asset]

    def asset_view(self, asset: str) -> dict[str, Any]:
        return {"andon_calls": self.calls.get(asset, 0)}


def router(app: AndonApp, web: Web) -> APIRouter:
    r = APIRouter(prefix="/api/andon", tags=["andon"])

    @r.post("/calls", response_model=CallsOut)
    async def call(body: CallIn, user: User = Depends(web.require("operator"))) -> CallsOut:  # noqa: B008
        """Pull the cord at an asset."""
        web.asset(body.asset)
        return CallsOut(asset=body.asset, calls=app.call(body.asset, user.name, body.note))

    return r


SPEC = AppSpec(
    name="andon",
    title=N_("Andon"),
    build=AndonApp,
    settings=AndonSettings,
    package="werk_andon",
    router=router,
    pages=(Page("/andon", N_("Andon"), "andon/andon.html", order=90),),
    tiles=(Tile("andon_calls", N_("Andon calls"), format="integer"),),
    migrations=(
        Migration(1, "andon calls", "CREATE TABLE andon_call (asset TEXT, ts INTEGER, who TEXT, note TEXT)"),
    ),
)
