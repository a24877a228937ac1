"""Texts werk shows for codes that come from data: machine states and roles.

They are translated where they are shown (a card's badge, the sign-in line, a page script's timeline); the
codes stay English in the API and the database. Marked with a context, since "maintenance" the state and
Maintenance the app may read differently.
"""

from __future__ import annotations

from werk.i18n import NC_, Translator

STATES: dict[str, str] = {
    "running": NC_("state", "running"),
    "idle": NC_("state", "idle"),
    "setup": NC_("state", "setup"),
    "blocked": NC_("state", "blocked"),
    "starved": NC_("state", "starved"),
    "planned_stop": NC_("state", "planned stop"),
    "fault": NC_("state", "fault"),
    "maintenance": NC_("state", "maintenance"),
    "disconnected": NC_("state", "disconnected"),
    "unknown": NC_("state", "unknown"),
    "sensor": NC_("state", "sensor"),
}
#: the states of the overview's legend, in the order of ISO 22400's time model
LEGEND = (
    "running",
    "idle",
    "setup",
    "blocked",
    "starved",
    "planned_stop",
    "fault",
    "maintenance",
    "disconnected",
)

ROLES: dict[str, str] = {
    "viewer": NC_("role", "viewer"),
    "operator": NC_("role", "operator"),
    "maintenance": NC_("role", "maintenance"),
    "supervisor": NC_("role", "supervisor"),
    "engineer": NC_("role", "engineer"),
    "admin": NC_("role", "admin"),
}


def state_label(t: Translator, state: str) -> str:
    """A state as the page's language names it; an unknown code shows as itself."""
    return t.pgettext("state", STATES[state]) if state in STATES else state


def state_labels(t: Translator) -> dict[str, str]:
    return {code: t.pgettext("state", text) for code, text in STATES.items()}


def role_labels(t: Translator) -> dict[str, str]:
    return {code: t.pgettext("role", text) for code, text in ROLES.items()}
