"""A plant with local users and tokens, served as ``werk serve`` serves it (no simulator: these tests are about
the door, not the machines; tests/security/test_browser.py and the machine-write test start the simulator)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conftest import bounded, plant_config
from werk.api import create_app
from werk.api.http_server import http_server
from werk.config import WerkConfig
from werk.runtime.platform import Platform
from werk.security.audit import AuditLog
from werk.security.store import SecurityStore
from werk.store.sqlite_file import SQLiteFile

E = "acme/augsburg"
LINE1 = f"{E}/machining/line-1"
LINE2 = f"{E}/assembly/line-2"
PASSWORD = "pw-of-the-test-1"

USERS: dict[str, list[tuple[str, str, tuple[str, ...]]]] = {
    "root": [("admin", "", ())],
    "vera": [("viewer", "", ())],
    "sup1": [("supervisor", LINE1, (f"{LINE1}/+/+/feed_override",))],
    "sup2": [("supervisor", LINE2, ())],
    "eng": [("engineer", "", ())],  # the whole plant, no machine writes
    "view1": [("viewer", LINE1, ())],
}


@dataclass
class SecureStack:
    config: WerkConfig
    platform: Platform
    url: str
    tokens: dict[str, str] = field(default_factory=dict)

    def auth(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[name]}"}


def secure_config(tmp_path: Path, **security: Any) -> WerkConfig:
    config = plant_config(tmp_path, users={"legacy": ("supervisor", "legacy-token")})
    server = config.server.model_copy(
        update={"security": config.server.security.model_copy(update={"max_failures": 10_000, **security})}
    )
    return config.model_copy(update={"server": server})


def add_users(config: WerkConfig) -> dict[str, str]:
    """The local users of :data:`USERS` with password :data:`PASSWORD`, a token each, and an expired token
    (``expired``, of root); returns the tokens by user name."""
    file = SQLiteFile(config.historian.path)
    file.open()
    try:
        store = SecurityStore(file, AuditLog(file))
        tokens = {}
        for name, grants in USERS.items():
            store.add_user(name, password=PASSWORD)
            for role, scope, signals in grants:
                store.grant(name, role, scope, signals)
            tokens[name], _ = store.create_token(name, label="test")
        tokens["expired"], _ = store.create_token("root", expires_in_s=0.001)
        return tokens
    finally:
        file.close()


@asynccontextmanager
async def secure_stack(config: WerkConfig) -> AsyncIterator[SecureStack]:
    tokens = await asyncio.to_thread(add_users, config)
    platform = Platform(config)
    await bounded("platform.start", platform.start())
    server = None
    serve = None
    try:
        server = http_server(create_app(platform), config.server)
        serve = asyncio.create_task(server.serve())
        async with asyncio.timeout(10):
            while not server.started:
                await asyncio.sleep(0.02)
        yield SecureStack(config, platform, f"http://127.0.0.1:{config.server.port}", tokens)
    finally:
        if server is not None and serve is not None:
            server.should_exit = True
            await bounded("uvicorn shutdown", serve)
        await bounded("platform.stop", platform.stop())
