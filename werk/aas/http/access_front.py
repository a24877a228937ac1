"""AAS access rules (IDTA-01004, :mod:`werk.aas.access`) enforced on every request to the AAS API.

:class:`AccessFront` is an ASGI middleware in front of the AAS fast path (:mod:`werk.aas.http.fast`) and so in front
of the routes too: one decision for both, and the fast path never sees a request the rules refuse. It runs only
when ``server.security.aas_access_rules`` is set; werk's role and grant model (``werk.api.security``,
``werk.api.auth``) still decides first, the rules come in addition.

For each request under the API prefix: the caller is identified (401/429 as the grant model answers them), its
claims are made (:func:`claims_of`), the path read into a :class:`~werk.aas.access.decide.Request` and the rules
decide (:func:`werk.aas.access.decide.decide`). A refusal is 403 with a Part 2 Result body saying which right was
missing and how far the nearest rule came. A successful GET's JSON answer is then narrowed: a listing's items no
rule allows are left out, and FILTERs hide their fragments (submodel elements with ``$sme`` fragments, list items such
as ``$aasdesc#specificAssetIds[]``, single attributes). A request that names an element a FILTER hides is refused.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import orjson
from basyx.aas import model
from basyx.aas.model.concept import ConceptDescription
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from werk.aas.access.decide import Decision, Request, decide, listing_ids, right_of
from werk.aas.access.formula import EvalError, FieldPath, list_length, parse_field
from werk.aas.access.rules import Filter, RuleSet, load_rules
from werk.aas.adapter.io import to_jsonable
from werk.aas.http.common import ApiError, Repository, b64url_decode, error_response
from werk.aas.model import formats
from werk.config.model import ServerConfig
from werk.core.access import Caller
from werk.errors import Unauthorized

log = logging.getLogger(__name__)

_KIND_CLASS: dict[str, type[model.Identifiable]] = {
    "aas": model.AssetAdministrationShell,
    "sm": model.Submodel,
    "cd": ConceptDescription,
}
_LISTINGS = {
    "shells": "aas",
    "submodels": "sm",
    "concept-descriptions": "cd",
    "shell-descriptors": "aasdesc",
    "submodel-descriptors": "smdesc",
}
_ENV_KEYS = {"assetAdministrationShells": "aas", "submodels": "sm", "conceptDescriptions": "cd"}


def claims_of(user: Any, extra: Mapping[str, Mapping[str, Any]]) -> dict[str, list[str]]:
    """The CLAIM attributes of a werk user (None: anonymous, no claims): ``sub`` and ``name`` its name, ``role`` its
    highest role, ``roles`` every role its grants hold, ``grants`` each grant as ``role@scope`` (``@`` alone: the
    whole plant), ``auth`` how it signed in (plant-token, token, session), plus the ``claims`` the plant file gives a
    user of ``server.users`` (e.g. ``email``, ``BusinessPartnerNumber``)."""
    if user is None:
        return {}
    grants = tuple(getattr(user, "grants", ()))
    out: dict[str, list[str]] = {
        "sub": [user.name],
        "name": [user.name],
        "role": [user.role],
        "roles": sorted({user.role, *(g.role for g in grants)}),
        "grants": [f"{g.role}@{g.scope}" for g in grants],
        "auth": [user.via] if getattr(user, "via", "") else [],
    }
    for key, value in extra.get(user.name, {}).items():
        out[key] = [str(v) for v in value] if isinstance(value, list) else [str(value)]
    return out


@dataclass
class AccessRules:
    """What the AAS API needs to enforce access rules: the compiled ``rules``, ``identify`` (a
    :class:`~werk.core.access.Caller` to its user, None without credential, :class:`~werk.errors.Unauthorized`
    for a refused one) and the plant file's extra claims by user name."""

    rules: RuleSet
    identify: Callable[[Caller], Any]
    claims: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(eq=False)
class _Subject:
    """The caller's attributes and the request's objects in their Part 2 JSON form, made when a formula asks."""

    repo: Repository
    claims: Mapping[str, list[str]]
    anonymous: bool
    now: datetime
    ids: Mapping[str, str]
    element_path: str | None = None
    # by kind, in JSON form: those given, and those made so far
    objects: dict[str, Any] = field(default_factory=dict)

    def with_objects(
        self, ids: Mapping[str, str], objects: Mapping[str, Any], element: str | None = None
    ) -> _Subject:
        return replace(self, ids=ids, element_path=element, objects=dict(objects))

    def model(self, kind: str) -> Any:
        ident = self.ids.get(kind)
        cls = _KIND_CLASS.get(kind)
        return None if ident is None or cls is None else self.repo.store.get(ident, cls)

    def object(self, kind: str) -> Any:
        if kind in self.objects:
            return self.objects[kind]
        value = None
        if kind == "sme":
            if self.element_path is not None:
                value = self.element(self.element_path)
        else:
            obj = self.model(kind)
            value = None if obj is None else to_jsonable(obj)
        self.objects[kind] = value
        return value

    def element(self, path: str) -> Any:
        sm = self.model("sm")
        if sm is None:
            return None
        try:
            return to_jsonable(self.repo.cache.element(sm, path))
        except (KeyError, ValueError):
            return None

    def reference(self, text: str) -> list[Any]:
        keys = [k.strip() for k in text.split(",")]
        if not keys or not keys[0].startswith("(Submodel)") or len(keys) < 2:
            raise EvalError(
                f"REFERENCE {text!r}: werk reads references of the form (Submodel)id, (Type)idShort"
            )
        sm = self.repo.store.get(keys[0][len("(Submodel)") :], model.Submodel)
        path = ".".join(k.split(")", 1)[-1] for k in keys[1:])
        if sm is None:
            raise EvalError(f"REFERENCE {text!r}: no such submodel")
        try:
            el = self.repo.cache.element(sm, path)
        except (KeyError, ValueError):
            raise EvalError(f"REFERENCE {text!r}: no such element") from None
        return [getattr(el, "value", None)]


def request_of(method: str, route: str, repo: Repository) -> Request:
    """The :class:`Request` a method and a path below the API prefix are; :class:`ApiError` 400 for an identifier
    that is not base64url (the route would say the same)."""
    parts = [p for p in route.strip("/").split("/")]
    ids: dict[str, str] = {}
    element: str | None = None
    listing: str | None = None
    i = 0
    while i < len(parts):
        seg = parts[i]
        nxt = parts[i + 1] if i + 1 < len(parts) else None
        if seg in (
            "shells",
            "submodels",
            "concept-descriptions",
            "shell-descriptors",
            "submodel-descriptors",
        ):
            kind = _LISTINGS[seg]
            if nxt is None or nxt.startswith("$"):
                listing = kind
                if "aas" in ids and kind == "sm":  # a shell's submodels: the shell's, decided per item
                    listing = kind
                i += 1
                continue
            if parts[i - 1 : i] == ["lookup"]:
                break
            ids[kind] = b64url_decode(nxt)
            i += 2
            continue
        if seg == "submodel-elements":
            if nxt is not None and not nxt.startswith("$"):
                element = nxt
            i += 2
            continue
        if seg == "serialization":
            listing = "env"
        i += 1
    exists = True
    if method == "PUT":
        exists = _exists(repo, ids, element)
    right, views = right_of(method, route, exists)
    return Request(method, route, right, views, ids, element, listing)


def _exists(repo: Repository, ids: Mapping[str, str], element: str | None) -> bool:
    for kind in ("sm", "aas", "cd"):
        if kind in ids:
            obj = repo.store.get(ids[kind], _KIND_CLASS[kind])
            if obj is None:
                return False
            if kind == "sm" and element is not None:
                try:
                    repo.cache.element(obj, element)  # type: ignore[arg-type]
                except (KeyError, ValueError):
                    return False
            return True
    return True


class AccessFront:
    """ASGI middleware enforcing :class:`AccessRules` on the AAS API under ``repo.prefix`` (module docstring)."""

    def __init__(self, app: ASGIApp, repo: Repository, access: AccessRules) -> None:
        self.app = app
        self.repo = repo
        self.access = access
        self.prefix = repo.prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path: str = scope["path"]
        if not (path.startswith(self.prefix + "/") or path == self.prefix):
            return await self.app(scope, receive, send)
        route = path[len(self.prefix) :] or "/"
        if route in ("/description",):  # what the server is: the one route a client reads before anything
            return await self.app(scope, receive, send)
        try:
            user = self.access.identify(Caller.of(scope))
        except Unauthorized as exc:
            return await error_response(exc.status, str(exc), headers=exc.headers)(scope, receive, send)
        try:
            decision = await self.repo.read(lambda: self._decide(scope["method"], route, user))
        except ApiError as exc:
            return await error_response(exc.status, exc.text, headers=exc.headers)(scope, receive, send)
        if not decision.allowed:
            log.info(
                "aas.access.refused method=%s route=%s user=%s",
                scope["method"],
                route,
                getattr(user, "name", "-"),
            )
            return await error_response(403, decision.reason)(scope, receive, send)
        if scope["method"] != "GET" or not self._narrows(decision):
            return await self.app(scope, receive, send)
        return await self._narrowed(scope, receive, send, decision)

    def _decide(self, method: str, route: str, user: Any) -> Decision:
        request = request_of(method, route, self.repo)
        subject = _Subject(
            self.repo,
            claims_of(user, self.access.claims),
            user is None,
            datetime.now(UTC),
            request.ids,
            request.element,
        )
        if method == "GET" and ("aasdesc" in request.ids or "smdesc" in request.ids):
            # a descriptor is known from the answer: decided per item, as a listing's are
            kind = "smdesc" if "smdesc" in request.ids else "aasdesc"
            request = Request(method, route, request.right, request.views, request.ids, None, kind)
        decision = decide(self.access.rules, request, subject)
        if decision.allowed and request.element is not None:
            hidden = self._hidden_elements(decision, subject)
            if any(_at_or_below(request.element, h) for h in hidden):
                decision.allowed = False
                decision.reason = (
                    f"a FILTER of the AAS access rules hides {request.element!r} from this caller"
                )
        return decision

    def _narrows(self, decision: Decision) -> bool:
        return decision.request.listing is not None or bool(decision.filters)

    async def _narrowed(self, scope: Scope, receive: Receive, send: Send, decision: Decision) -> None:
        start: Message | None = None
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                assert start is not None
                body = b"".join(chunks)
                status = start["status"]
                headers = list(start.get("headers", []))
                if status == 200 and _is_json(headers):
                    try:
                        data = orjson.loads(body)
                        narrowed = await self.repo.read(lambda: self._narrow(decision, data))
                    except orjson.JSONDecodeError:
                        narrowed = data = None
                    if narrowed is _REFUSED:
                        refusal = error_response(403, _no_rule(decision))
                        status, body = 403, bytes(refusal.body)
                        headers = [(k, v) for k, v in headers if k.lower() != b"content-type"]
                        headers.append((b"content-type", b"application/json"))
                    elif data is not None:
                        body = orjson.dumps(narrowed)
                headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
                headers.append((b"content-length", str(len(body)).encode()))
                await send({**start, "status": status, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
            await send(message)

        await self.app(scope, receive, capture)

    # --- narrowing answers ----------------------------------------------------------------------------------------

    def _narrow(self, decision: Decision, data: Any) -> Any:
        request = decision.request
        subject = decision.subject
        assert isinstance(subject, _Subject)
        filters = decision.filters
        kind = request.listing
        if kind == "env" and isinstance(data, dict):
            for key, k in _ENV_KEYS.items():
                if isinstance(data.get(key), list):
                    data[key] = [self._item(decision, subject, k, it, filters) for it in data[key]]
                    data[key] = [it for it in data[key] if it is not _REFUSED]
            return data
        if kind is not None:
            single = bool(request.ids.get(kind)) and kind in ("aasdesc", "smdesc")
            if single:
                return self._item(decision, subject, kind, data, filters)
            items = data.get("result") if isinstance(data, dict) else data
            if isinstance(items, list):
                kept = [self._item(decision, subject, kind, it, filters) for it in items]
                kept = [it for it in kept if it is not _REFUSED]
                if isinstance(data, dict):
                    data["result"] = kept
                else:
                    data = kept
            return data
        # one object (a shell, a submodel, an element, a concept description): its fragments
        return self._fragments(filters, subject, data, request)

    def _item(
        self, decision: Decision, subject: _Subject, kind: str, item: Any, filters: dict[str, list[Filter]]
    ) -> Any:
        ident = listing_ids(kind, item)
        if not ident and isinstance(item, dict) and item.get("keys"):  # a $reference listing
            ident = {kind: str(item["keys"][0].get("value"))}
        objects = {kind: item} if kind in ("aasdesc", "smdesc") else {}
        item_subject = subject.with_objects({**subject.ids, **ident}, objects)
        if not decision.shows(item_subject, ident):
            return _REFUSED
        if not filters:
            return item
        return self._fragments(filters, item_subject, item, Request("GET", "", "READ", ids=item_subject.ids))

    def _fragments(
        self, filters: dict[str, list[Filter]], subject: _Subject, data: Any, request: Request
    ) -> Any:
        for fragment, group in filters.items():
            if fragment == "$sme" or fragment.startswith("$sme."):
                hidden = self._hidden_for(group, fragment, subject)
                if hidden:
                    data = _prune(data, hidden, request)
                continue
            path = parse_field(fragment)
            target = _object_in(data, path.kind, request)
            if target is None:
                continue
            item_subject = subject.with_objects(subject.ids, {path.kind: target})
            _filter_fragment(target, path, group, item_subject)
        return data

    def _hidden_elements(self, decision: Decision, subject: _Subject) -> list[str]:
        hidden: list[str] = []
        for fragment, group in decision.filters.items():
            if fragment == "$sme" or fragment.startswith("$sme."):
                hidden += self._hidden_for(group, fragment, subject)
        return hidden

    def _hidden_for(self, group: list[Filter], fragment: str, subject: _Subject) -> list[str]:
        """The idShortPaths of the request's submodel that ``group`` (FILTERs over ``fragment``) hides."""
        sm = subject.model("sm")
        if sm is None:
            return []
        base = fragment[5:] if fragment.startswith("$sme.") else ""
        paths = [base] if base else list(formats.id_short_paths(sm))
        hidden: list[str] = []
        sm_json = subject.object("sm")
        for p in paths:
            if any(_at_or_below(p, h) for h in hidden):
                continue
            try:
                el = self.repo.cache.element(sm, p)
            except (KeyError, ValueError):
                continue
            item = subject.with_objects(subject.ids, {"sm": sm_json, "sme": to_jsonable(el)}, p)
            if not any(_true(f, item) for f in group):
                hidden.append(p)
        return hidden


class _Refused:
    pass


_REFUSED: Any = _Refused()


def _true(f: Filter, subject: Any, bindings: dict[str, int] | None = None) -> bool:
    from werk.aas.access.formula import evaluate

    return evaluate(f.condition, subject, bindings) is True


def _no_rule(decision: Decision) -> str:
    r = decision.request
    return f"no AAS access rule allows {r.method} {r.route} ({r.right}) for this object"


def _is_json(headers: list[tuple[bytes, bytes]]) -> bool:
    return any(k.lower() == b"content-type" and b"json" in v for k, v in headers)


def _at_or_below(path: str, top: str) -> bool:
    return path == top or path.startswith((top + ".", top + "["))


def _object_in(data: Any, kind: str, request: Request) -> Any:
    """The object of ``kind`` an answer is (a descriptor, a shell, a submodel), or None."""
    if not isinstance(data, dict):
        return None
    if kind in request.ids or request.listing == kind or (kind in ("aasdesc", "smdesc") and "id" in data):
        return data
    return None


def _filter_fragment(target: dict[str, Any], path: FieldPath, group: list[Filter], subject: Any) -> None:
    """Hide what of ``target`` the FILTERs over ``path`` leave invisible: list items one by one (``...[]``), or
    the attribute as a whole."""
    *head, (name, indices, prefix) = path.steps
    holder: Any = target
    for step, _, _ in head:
        holder = holder.get(step) if isinstance(holder, dict) else None
    if not isinstance(holder, dict) or name not in holder:
        return
    if indices == ("[]",) and isinstance(holder[name], list):
        from werk.aas.access.formula import Env

        n = list_length(prefix, Env(subject))
        keep = [
            i
            for i in range(n if isinstance(n, int) else 0)
            if any(_true(f, subject, {prefix: i}) for f in group)
        ]
        holder[name] = [holder[name][i] for i in keep]
        if not holder[name]:
            del holder[name]
        return
    if not any(_true(f, subject) for f in group):
        del holder[name]


def _prune(data: Any, hidden: list[str], request: Request) -> Any:
    """``data`` (a submodel, an element, their ``$value`` or ``$path``, or a listing of elements) without the
    elements at ``hidden`` paths."""
    base = request.element or ""
    route = request.route.rstrip("/")
    value_only = route.endswith("/$value")
    path_only = route.endswith("/$path")

    def join(prefix: str, name: str) -> str:
        return f"{prefix}.{name}" if prefix else name

    def hide(p: str) -> bool:
        return any(_at_or_below(p, h) for h in hidden)

    def normal(obj: Any, prefix: str) -> Any:
        if not isinstance(obj, dict):
            return obj
        is_list = obj.get("modelType") == "SubmodelElementList"
        for key in ("submodelElements", "value", "statements", "annotations"):
            children = obj.get(key)
            if not isinstance(children, list) or not all(
                isinstance(c, dict) and "modelType" in c for c in children
            ):
                continue
            kept = []
            for i, child in enumerate(children):
                p = f"{prefix}[{i}]" if is_list else join(prefix, str(child.get("idShort", "")))
                if not hide(p):
                    kept.append(normal(child, p))
            obj[key] = kept
        return obj

    def values(obj: Any, prefix: str) -> Any:
        if isinstance(obj, dict):
            return {k: values(v, join(prefix, k)) for k, v in obj.items() if not hide(join(prefix, k))}
        if isinstance(obj, list):
            return [values(v, f"{prefix}[{i}]") for i, v in enumerate(obj) if not hide(f"{prefix}[{i}]")]
        return obj

    if path_only:
        items = data.get("result") if isinstance(data, dict) else data
        if isinstance(items, list):
            kept = [p for p in items if not (isinstance(p, str) and hide(p))]
            if isinstance(data, dict):
                data["result"] = kept
                return data
            return kept
        return data
    if isinstance(data, dict) and isinstance(data.get("result"), list) and "paging_metadata" in data:
        # a listing of a submodel's top-level elements
        out = []
        for item in data["result"]:
            if value_only and isinstance(item, dict):
                pruned = values(item, base)
                if pruned:
                    out.append(pruned)
            elif isinstance(item, dict) and "modelType" in item:
                p = join(base, str(item.get("idShort", "")))
                if not hide(p):
                    out.append(normal(item, p))
            else:
                out.append(item)
        data["result"] = out
        return data
    if value_only:
        if request.element is not None and isinstance(data, dict) and len(data) == 1:
            ((name, value),) = data.items()
            return {name: values(value, base)}
        return values(data, base)
    if isinstance(data, dict) and data.get("modelType") == "Submodel":
        return normal(data, "")
    return normal(data, base)


def access_rules_of(server: ServerConfig, identify: Callable[[Caller], Any]) -> AccessRules | None:
    """The :class:`AccessRules` of ``server.security.aas_access_rules`` (None when unset), loaded and compiled
    once; :class:`~werk.aas.access.rules.RuleError` when they do not load, so the server does not start with
    rules it cannot enforce."""
    source = server.security.aas_access_rules
    if source is None:
        return None
    rules = load_rules(source, where="server.security.aas_access_rules" if "\n" in source else "")
    claims = {u.name: dict(u.claims) for u in server.users if u.claims}
    log.info("aas.access.loaded rules=%d", len(rules.rules))
    return AccessRules(rules, identify, claims)
