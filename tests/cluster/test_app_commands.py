"""Commands to the instance that runs an asset's app (werk.runtime.app_commands) on a real NATS server: a command
retried with its id is applied once and answered the same; an app's refusal comes back with its class name."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import nats
import pytest

from tests.cluster.conftest import NatsServer
from werk.errors import CommandRefused, WerkError
from werk.runtime.app_commands import CommandClient, CommandServer, subject
from werk.runtime.partitions import partition_of

ASSET = "acme/hall-1/press/line-1/cell-1/press-0"


class Refused(WerkError):
    pass


async def test_a_command_is_applied_once_and_a_refusal_comes_back(nats_server: NatsServer) -> None:
    applied: list[Mapping[str, Any]] = []

    async def handle(body: Mapping[str, Any]) -> Any:
        if body.get("refuse"):
            raise Refused("not in this state")
        applied.append(body)
        return {"n": len(applied)}

    nc = await nats.connect(nats_server.url)
    server = CommandServer(nc)
    client = CommandClient(nats_server.url, 4, partition_of)
    try:
        await server.serve({"demo": handle}, frozenset({partition_of(ASSET, 4)}))
        assert await client.send("demo", ASSET, {"x": 1}, "press-0") == {"n": 1}
        # the same command again (a retry after a lost answer): the first answer, not applied again
        to = subject("demo", partition_of(ASSET, 4))
        command = json.dumps({"id": "c-1", "body": {"x": 2}}).encode()
        answers = [json.loads((await nc.request(to, command, timeout=2)).data) for _ in range(2)]
        assert answers == [{"ok": {"n": 2}}, {"ok": {"n": 2}}]
        assert applied == [{"x": 1}, {"x": 2}]
        with pytest.raises(CommandRefused, match="not in this state") as refused:
            await client.send("demo", ASSET, {"refuse": True}, "press-0")
        assert refused.value.kind == "Refused" and len(applied) == 2
    finally:
        await server.stop()
        await client.close()
        await nc.close()
