"""Server-rendered pages: Jinja templates inside one ``base.html`` whose nav comes from the registry.

Each app brings its templates in ``<its package>/templates/<app name>/`` and extends ``base.html``; the overview
is werk's own (``werk/ui/templates``). The renderer knows no app: it is given the template folders and the nav.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates


@dataclass(frozen=True)
class NavItem:
    path: str
    title: str
    order: int = 100


def templates_dir() -> Path:
    return Path(str(resources.files("werk.ui").joinpath("templates")))


def package_dir(package: str, folder: str) -> Path | None:
    """``<package>/<folder>`` when the package has it (an app's templates, static files or translations)."""
    try:
        path = Path(str(resources.files(package).joinpath(folder)))
    except (ModuleNotFoundError, TypeError):
        return None
    return path if path.is_dir() else None


class Pages:
    """Renders a template inside werk's layout. ``dirs``: app template folders, searched after werk's own."""

    def __init__(self, nav: Sequence[NavItem], dirs: Sequence[Path] = ()) -> None:
        self.nav = sorted(nav, key=lambda n: (n.order, n.path))
        loader = jinja2.ChoiceLoader([jinja2.FileSystemLoader([templates_dir(), *dirs])])
        env = jinja2.Environment(loader=loader, autoescape=True)
        self.templates = Jinja2Templates(env=env)

    def render(
        self, request: Request, template: str, context: Mapping[str, Any] | None = None, status: int = 200
    ) -> HTMLResponse:
        active = request.url.path
        title = next((n.title for n in self.nav if n.path == active), "werk")
        ctx = {"nav": self.nav, "active": active, "title": title, "lang": "en", **(context or {})}
        return self.templates.TemplateResponse(request, template, ctx, status_code=status)
