"""Server-rendered pages: Jinja templates inside one ``base.html`` whose nav comes from the registry, in the
reader's language.

Each app brings its templates in ``<its package>/templates/<app name>/`` and extends ``base.html``; the overview
is werk's own (``werk/ui/templates``). The renderer knows no app: it is given the template folders, the catalog
folders and the nav. The language is the one the switch chose (``?lang=`` sets the cookie ``werk-lang``), else
the browser's ``Accept-Language`` (:func:`werk.i18n.negotiate`). Templates translate with ``_()`` and
``pgettext()`` and format with ``fmt`` (:class:`werk.i18n.Formatter`); a page's script gets the translations it
needs as a JSON blob in the page (``werk.js`` reads it), never as texts of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from werk.core.access import permits
from werk.i18n import DEFAULT, LANGUAGE_NAMES, LANGUAGES, Translator, negotiate
from werk.ui.labels import LEGEND, role_labels, state_label, state_labels
from werk.ui.overview import signal_labels

LANG_COOKIE = "werk-lang"
LANG_COOKIE_AGE_S = 365 * 24 * 3600

# the translator of the template being rendered: Jinja's gettext callables are installed once per environment,
# the language changes with every request
_current: ContextVar[Translator] = ContextVar("werk_page_translator")


@dataclass(frozen=True)
class NavItem:
    """A nav entry; ``role``: shown only to a caller holding that role on the whole plant ("" to everyone)."""

    path: str
    title: str
    order: int = 100
    role: str = ""


def nav_for(nav: Sequence[NavItem], conn: HTTPConnection) -> list[NavItem]:
    """The entries of ``nav`` the caller of ``conn`` is shown (its user as the front door identified it)."""
    user = conn.scope.get("state", {}).get("user")
    grants = getattr(user, "grants", ())
    return [n for n in nav if not n.role or permits(grants, n.role, None)]


def templates_dir() -> Path:
    return Path(str(resources.files("werk.ui").joinpath("templates")))


def package_dir(package: str, folder: str) -> Path | None:
    """``<package>/<folder>`` when the package has it (an app's templates, static files or translations)."""
    try:
        path = Path(str(resources.files(package).joinpath(folder)))
    except (ModuleNotFoundError, TypeError):
        return None
    return path if path.is_dir() else None


def _gettext(message: str, **params: Any) -> str:
    return _current.get().gettext(message, **params)


def _ngettext(singular: str, plural: str, n: int, **params: Any) -> str:
    return _current.get().ngettext(singular, plural, n, **params)


def _pgettext(context: str, message: str, **params: Any) -> str:
    return _current.get().pgettext(context, message, **params)


class Pages:
    """Renders a template inside werk's layout.

    ``dirs``: app template folders, searched after werk's own; ``locales``: app catalog folders (werk's own is
    always there); ``scripts``: per app name (``""`` for werk's own), the msgids its page scripts translate;
    ``timezone``: the plant's IANA zone, in which the pages write every time of day (a shift that starts at 06:00
    in the plant reads 06:00 wherever the reader's browser is).
    """

    def __init__(
        self,
        nav: Sequence[NavItem],
        dirs: Sequence[Path] = (),
        *,
        locales: Sequence[Path] = (),
        scripts: Mapping[str, Collection[str]] | None = None,
        timezone: str = "UTC",
        banners: Callable[[Translator], Sequence[Mapping[str, str]]] | None = None,
    ) -> None:
        self.timezone = timezone
        self.nav = sorted(nav, key=lambda n: (n.order, n.path))
        loader = jinja2.ChoiceLoader([jinja2.FileSystemLoader([templates_dir(), *dirs])])
        env = jinja2.Environment(loader=loader, autoescape=True, extensions=["jinja2.ext.i18n"])
        env.install_gettext_callables(  # type: ignore[attr-defined]
            gettext=_gettext, ngettext=_ngettext, newstyle=False, pgettext=_pgettext
        )
        env.globals["state_label"] = lambda code: state_label(_current.get(), code)
        self.templates = Jinja2Templates(env=env)
        self.locales = tuple(locales)
        self.scripts = {k: tuple(sorted(v)) for k, v in (scripts or {}).items()}
        self._translators = {lang: Translator(lang, self.locales) for lang in LANGUAGES}
        self.banners = banners  # what every page shows at its top (the apps' App.banners)

    def translator(self, lang: str) -> Translator:
        return self._translators.get(lang) or self._translators[DEFAULT]

    def language(self, conn: HTTPConnection) -> str:
        """The request's language: ``?lang=``, the switch's cookie, then ``Accept-Language``."""
        chosen = conn.query_params.get("lang") or conn.cookies.get(LANG_COOKIE)
        return negotiate(conn.headers.get("accept-language"), chosen)

    @contextmanager
    def speaking(self, lang: str) -> Iterator[Translator]:
        """Templates rendered inside translate to ``lang``."""
        t = self.translator(lang)
        token = _current.set(t)
        try:
            yield t
        finally:
            _current.reset(token)

    def script_strings(self, t: Translator, template: str) -> dict[str, Any]:
        """What a page's scripts translate: werk's shared script's texts and the texts of the app whose
        template it is, the state and role names, and the locale for ``Intl``."""
        app = template.split("/", 1)[0] if "/" in template else ""
        msgids = {*self.scripts.get("", ()), *self.scripts.get(app, ())}
        return {
            "lang": t.lang,
            "timezone": self.timezone,
            "messages": t.messages(sorted(msgids)),
            "states": state_labels(t),
            "roles": role_labels(t),
            "signals": signal_labels(t),
        }

    def render(
        self, request: Request, template: str, context: Mapping[str, Any] | None = None, status: int = 200
    ) -> HTMLResponse:
        lang = self.language(request)
        active = request.url.path
        title = next((n.title for n in self.nav if n.path == active), "werk")
        with self.speaking(lang) as t:
            ctx = {
                "nav": nav_for(self.nav, request),
                "active": active,
                "title": title,
                "lang": lang,
                "languages": [(code, LANGUAGE_NAMES[code]) for code in LANGUAGES],
                "t": t,
                "fmt": t.fmt,
                "legend": LEGEND,
                "timezone": self.timezone,
                "script_strings": self.script_strings(t, template),
                "banners": list(self.banners(t)) if self.banners else [],
                **(context or {}),
            }
            response = self.templates.TemplateResponse(request, template, ctx, status_code=status)
        response.headers["Content-Language"] = lang
        response.headers["Vary"] = "Accept-Language, Cookie"
        if request.query_params.get("lang") in LANGUAGES:
            response.set_cookie(LANG_COOKIE, lang, max_age=LANG_COOKIE_AGE_S, samesite="lax")
        return response

    def fragment(self, template: str, lang: str, context: Mapping[str, Any]) -> str:
        """A partial template (no layout) in ``lang``, for a live update of part of a page."""
        with self.speaking(lang) as t:
            tmpl = self.templates.get_template(template)
            return tmpl.render({"t": t, "fmt": t.fmt, "lang": lang, **context})
