"""What AAS access rules decide for one request: allowed or not, by which rules, and what their FILTERs hide.

Contract (IDTA-01004 "Access Rule Model" and the conformance corpus):

- default deny: a request is allowed only when at least one rule allows it (permit-overrides, EVAL.default.001,
  EVAL.combine.001); rules marked ``ACCESS: DISABLED`` allow nothing;
- a rule allows a request when its ACL names the request's right (:func:`right_of`; ALL is every right, several
  RIGHTS are alternatives: RIGHT.map.004), the caller has every attribute the ACL lists (a CLAIM the caller holds;
  GLOBAL(ANONYMOUS), UTCNOW and LOCALNOW always; CLIENTNOW never, werk's tokens carry no client time), one of its
  OBJECTS matches the request (:meth:`Request.matches`) and its formula is True; a formula that is not applicable
  (NA, :mod:`werk.aas.access.formula`) allows nothing;
- a listing (``GET /submodels``, ``/shells``, ``/shell-descriptors``...) is allowed when some rule could allow one of
  its items (formula True or not applicable without an item); each item is then shown only when a rule allows it
  for that item (:meth:`Decision.shows`);
- FILTERs: if one allowing rule has none, the objects are shown whole; otherwise the FILTERs of the allowing rules
  apply, those over the same fragment combined with OR (EVAL.filter.001), different fragments each by their own
  (EVAL.filter.002).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from werk.aas.access.formula import NA, Subject, Tri, evaluate
from werk.aas.access.rules import Filter, Object, Rule, RuleSet

KINDS = ("aas", "sm", "cd", "aasdesc", "smdesc")
_TYPE_KINDS = {
    "submodel": "sm",
    "assetadministrationshell": "aas",
    "aas": "aas",
    "conceptdescription": "cd",
    "aasdesc": "aasdesc",
    "assetadministrationshelldescriptor": "aasdesc",
    "smdesc": "smdesc",
    "submodeldescriptor": "smdesc",
}


@dataclass(frozen=True)
class Request:
    """An AAS API request as the rules see it.

    ``route``: the path below the API prefix (``/submodels/{id}/...``, identifiers as sent, base64url);
    ``right``: what it needs (:func:`right_of`); ``views``: True when VIEW suffices too (``$reference``, ``$path``);
    ``ids``: the identifiers (decoded) its path names, by kind (aas, sm, cd, aasdesc, smdesc); ``element``: the
    idShortPath of a submodel element it names; ``listing``: the kind of the objects a listing answers.
    """

    method: str
    route: str
    right: str
    views: bool = False
    ids: Mapping[str, str] = field(default_factory=dict)
    element: str | None = None
    listing: str | None = None

    def rights_ok(self, rule: Rule) -> bool:
        return self.right in rule.rights or (self.views and "VIEW" in rule.rights)

    def matches(self, obj: Object, ids: Mapping[str, str] | None = None) -> bool:
        """Whether the request (or, in a listing, its item whose ids are ``ids``) is among what ``obj`` protects."""
        ids = self.ids if ids is None else {**self.ids, **ids}
        if obj.kind == "ROUTE":
            return bool(obj.regex.match(self.route))
        if obj.kind in ("IDENTIFIABLE", "DESCRIPTOR"):
            kind = _TYPE_KINDS.get(obj.type)
            if kind is None:
                return False
            if kind in ids:
                return bool(obj.regex.match(ids[kind]))
            return self.listing == kind  # a listing of that kind: decided per item
        if obj.kind == "REFERABLE":
            sm = ids.get("sm")
            if obj.type != "submodel" or sm is None or not obj.regex.match(sm) or self.element is None:
                return False
            return (
                not obj.path
                or self.element == obj.path
                or self.element.startswith((obj.path + ".", obj.path + "["))
            )
        # FRAGMENT: the fragment's kind of object is the request's
        frag = obj.literal
        if frag.startswith("$sme"):
            if self.element is None:
                return False
            path = frag[5:].split("#")[0] if frag.startswith("$sme.") else ""
            return not path or self.element == path or self.element.startswith((path + ".", path + "["))
        kind = frag[1:].split("#")[0].split(".")[0]
        return kind in ids or self.listing == kind


def right_of(method: str, route: str, exists: bool = True) -> tuple[str, bool]:
    """(the RIGHT a request needs, whether VIEW suffices) by IDTA-01002's operation-to-right mapping: GET READ
    (VIEW for ``$reference`` and ``$path``, which show ids and idShorts alone), POST CREATE (``.../invoke``
    EXECUTE), PUT UPDATE or, when ``exists`` is False, CREATE (RIGHT.map.003), PATCH UPDATE, DELETE DELETE."""
    if method in ("GET", "HEAD"):
        last = route.rstrip("/").rsplit("/", 1)[-1]
        return "READ", last in ("$reference", "$path")
    if method == "POST":
        if route.rstrip("/").endswith(("/invoke", "/invoke-async", "/invoke/$value", "/invoke-async/$value")):
            return "EXECUTE", False
        return "CREATE", False
    if method == "PUT":
        return ("UPDATE" if exists else "CREATE"), False
    if method == "PATCH":
        return "UPDATE", False
    return "DELETE", False


def has_attributes(rule: Rule, subject: Subject) -> bool:
    for attr in rule.attributes:
        if attr.kind == "CLAIM" and not subject.claims.get(attr.value):
            return False
        if attr.kind == "GLOBAL" and attr.value == "CLIENTNOW":
            return False
        if attr.kind == "REFERENCE":
            try:
                subject.reference(attr.value)
            except Exception:
                return False
    return True


@dataclass
class Decision:
    """The outcome for one request: ``allowed``, ``reason`` (for the 403's text), the rules that allow it
    (``granting``), and what a listing or FILTER needs later."""

    allowed: bool
    reason: str
    request: Request
    granting: list[Rule] = field(default_factory=list)
    subject: Subject | None = None

    @property
    def filters(self) -> dict[str, list[Filter]]:
        """The FILTERs that apply, by fragment (none when an allowing rule has no FILTER)."""
        if not self.granting or any(r.filter is None for r in self.granting):
            return {}
        out: dict[str, list[Filter]] = {}
        for rule in self.granting:
            assert rule.filter is not None
            out.setdefault(rule.filter.fragment, []).append(rule.filter)
        return out

    def shows(self, item: Subject, ids: Mapping[str, str]) -> bool:
        """Whether a listing's item (``item``, whose ids are ``ids``) is shown: a rule allows it for that item."""
        return any(_allows(rule, self.request, item, ids) is True for rule in self.granting)

    def visible(self, filters: list[Filter], item: Subject, bindings: dict[str, int] | None = None) -> bool:
        """Whether one of ``filters`` (over one fragment) leaves the part of ``item`` it looks at visible."""
        return any(evaluate(f.condition, item, bindings) is True for f in filters)


def _allows(rule: Rule, request: Request, subject: Subject, ids: Mapping[str, str] | None = None) -> Tri:
    if rule.disabled or not request.rights_ok(rule) or not has_attributes(rule, subject):
        return False
    if not any(request.matches(o, ids) for o in rule.objects):
        return False
    return evaluate(rule.formula, subject)


def decide(rules: RuleSet, request: Request, subject: Subject) -> Decision:
    """What ``rules`` decide for ``request`` by ``subject`` (the caller's attributes and the request's objects)."""
    granting = []
    maybe = []
    for rule in rules.rules:
        outcome = _allows(rule, request, subject)
        if outcome is True:
            granting.append(rule)
        elif outcome is NA and request.listing is not None:
            maybe.append(rule)
    if request.listing is not None:
        granting += maybe
    if granting:
        return Decision(True, "", request, granting, subject)
    return Decision(False, _why(rules, request, subject), request, [], subject)


def _why(rules: RuleSet, request: Request, subject: Subject) -> str:
    """The refusal's text: what the request needed and how far the nearest rule came."""
    need = f"{request.right}{' or VIEW' if request.views else ''}"
    head = f"no AAS access rule allows {request.method} {request.route} ({need})"
    if not rules.rules:
        return head + ": the rule file has no rules (default deny)"
    best = ""
    for rule in rules.rules:
        if rule.disabled:
            reason = "is DISABLED"
        elif not request.rights_ok(rule):
            reason = f"grants {', '.join(sorted(rule.rights))}"
        elif not has_attributes(rule, subject):
            reason = (
                "needs attributes the caller lacks ("
                + ", ".join(f"{a.kind}({a.value})" for a in rule.attributes)
                + ")"
            )
        elif not any(request.matches(o) for o in rule.objects):
            reason = "protects other objects"
        else:
            reason = "has a FORMULA that does not hold (or does not apply) for this request"
            best = f"{rule.name} {reason}"
            break
        best = best or f"{rule.name} {reason}"
    return f"{head}; {best}" if best else head


def listing_ids(kind: str, item: Any) -> dict[str, str]:
    """The ids a listing's item (JSON) gives the rules: its own id under its kind."""
    ident = item.get("id") if isinstance(item, dict) else None
    return {kind: ident} if isinstance(ident, str) else {}
