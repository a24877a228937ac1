"""What the HTTP layer gives each app's router (:class:`werk.apps.spec.Web`): roles, assets, pages."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import HTTPException, Request, Response

from werk.api.auth import Authenticator
from werk.apps.spec import Role
from werk.config.model import AssetRef, WerkConfig
from werk.core.model import User
from werk.core.sight import Sight
from werk.i18n import Translator
from werk.ui.pages import Pages


class WebContext:
    def __init__(self, config: WerkConfig, auth: Authenticator, pages: Pages) -> None:
        self.config = config
        self.auth = auth
        self.pages = pages
        self._assets = {ref.name: ref for ref in config.assets()}

    def require(self, role: Role) -> Callable[..., Awaitable[User]]:
        return self.auth.require(role)

    def asset(self, name: str) -> AssetRef:
        ref = self._assets.get(name)
        if ref is None:
            raise HTTPException(404, f"no asset named {name!r}; GET /api/assets lists them")
        return ref

    def render(self, request: Request, template: str, context: Mapping[str, Any] | None = None) -> Response:
        return self.pages.render(request, template, context)

    def sees(self, request: Request, asset: str | None) -> bool:
        sight = self.auth.sight(request.scope)
        return sight is None or sight.asset(asset)

    def sight(self, request: Request) -> Sight | None:
        return self.auth.sight(request.scope)

    def translator(self, request: Request) -> Translator:
        return self.pages.translator(self.pages.language(request))
