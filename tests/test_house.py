"""The house rules that a grep can hold: nothing outside an app's folder names an app, nothing outside
``werk.connect`` (and the virtual factory, which plays the protocols) names a protocol."""

from __future__ import annotations

import re
from pathlib import Path

from werk.registry import default_registry

WERK = Path(__file__).resolve().parents[1] / "werk"
# the parts that assemble what the registry lists, and so must list nothing themselves (the registry's list of
# built-ins is the one place that does; core holds the vocabulary apps share, such as the state "maintenance")
GENERIC = ["runtime", "api", "config", "cli.py", "ui/templates/base.html", "store"]
PROTOCOLS = ["opc.?ua", r"opc\.tcp", "mqtt", "modbus", "mtconnect", "shdr", "sparkplug"]


def _files() -> list[Path]:
    out: list[Path] = []
    for part in GENERIC:
        p = WERK / part
        files = [p] if p.is_file() else sorted(p.rglob("*"))
        out += [f for f in files if f.suffix in (".py", ".html", ".js", ".yaml") and "/api/aas" not in str(f)]
    return out


def test_no_generic_module_names_an_app_or_a_protocol() -> None:
    apps = [re.escape(name).replace("_", "[_ ]") for name in default_registry().apps]
    pattern = re.compile(r"\b(" + "|".join(apps + PROTOCOLS) + r")\b", re.IGNORECASE)
    hits = [
        f"{f.relative_to(WERK)}:{i}: {line.strip()}"
        for f in _files()
        for i, line in enumerate(f.read_text().splitlines(), start=1)
        if pattern.search(line)
    ]
    assert hits == []
