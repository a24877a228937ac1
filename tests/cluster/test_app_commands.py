"""Commands to the instance that runs an app (werk.runtime.app_commands) on a real NATS server: a command retried
with its id is applied once and answered the same, the app given the id; an app's refusal comes back with its class
name (and an InputError's place); a plant-wide app's command reaches the holder of partition 0."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import nats
import pytest

from tests.cluster.conftest import NatsServer
from werk.config.model import ClusterConfig
from werk.errors import CommandRefused, InputError, RunsElsewhere, WerkError
from werk.runtime import app_commands
from werk.runtime.app_commands import PLANT, CommandClient, CommandServer, subject
from werk.runtime.partitions import partition_of

ASSET = "acme/hall-1/press/line-1/cell-1/press-0"


class Refused(WerkError):
    pass


async def test_a_command_is_applied_once_and_a_refusal_comes_back(nats_server: NatsServer) -> None:
    applied: list[Mapping[str, Any]] = []
    keys: list[str] = []

    async def handle(body: Mapping[str, Any], key: str) -> Any:
        if body.get("refuse"):
            raise Refused("not in this state")
        applied.append(body)
        keys.append(key)
        return {"n": len(applied)}

    nc = await nats.connect(nats_server.url)
    server = CommandServer(nc)
    client = CommandClient(ClusterConfig(nats=nats_server.url), 4, partition_of)
    try:
        await server.serve({"demo": handle}, frozenset({partition_of(ASSET, 4)}))
        assert await client.send("demo", ASSET, {"x": 1}, "press-0") == {"n": 1}
        # the same command again (a retry after a lost answer): the first answer, not applied again
        to = subject("demo", partition_of(ASSET, 4))
        command = json.dumps({"id": "c-1", "body": {"x": 2}}).encode()
        answers = [json.loads((await nc.request(to, command, timeout=2)).data) for _ in range(2)]
        assert answers == [{"ok": {"n": 2}}, {"ok": {"n": 2}}]
        assert applied == [{"x": 1}, {"x": 2}]
        assert len(keys[0]) == 32 and keys[1] == "c-1"  # the app is given the command's id
        with pytest.raises(CommandRefused, match="not in this state") as refused:
            await client.send("demo", ASSET, {"refuse": True}, "press-0")
        assert refused.value.kind == "Refused" and len(applied) == 2
    finally:
        await server.stop()
        await client.close()
        await nc.close()


async def test_a_plant_wide_apps_command_goes_to_the_plant_partition(
    nats_server: NatsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app_commands, "TIMEOUT_S", 1.0)  # the 503 within a second, not five

    async def handle(body: Mapping[str, Any], key: str) -> Any:
        if body["quantity"] <= 0:
            raise InputError("must be more than 0", ("body", "quantity"))
        return {"booked": body["quantity"]}

    nc = await nats.connect(nats_server.url)
    server = CommandServer(nc)
    client = CommandClient(ClusterConfig(nats=nats_server.url), 4, partition_of)
    try:
        # the holder of an asset's partition other than 0 does not answer a plant-wide command
        other = next(p for p in range(4) if p != PLANT)
        await server.serve({"stock": handle}, frozenset({other}))
        with pytest.raises(RunsElsewhere, match="No worker runs this app now") as nobody:
            await client.send("stock", None, {"quantity": 1}, "a booking of stock")
        assert nobody.value.args_ == {"what": "a booking of stock"}
        await server.serve({"stock": handle}, frozenset({PLANT}))  # the plant lease's holder
        assert await client.send("stock", None, {"quantity": 2}, "a booking of stock") == {"booked": 2}
        with pytest.raises(CommandRefused, match="must be more than 0") as refused:
            await client.send("stock", None, {"quantity": 0}, "a booking of stock")
        assert refused.value.kind == "InputError" and refused.value.loc == ("body", "quantity")
        again = refused.value.again()
        assert isinstance(again, InputError) and again.loc == ("body", "quantity")
        with pytest.raises(InputError, match="too large"):  # refused before it is sent, not a 503 after 5 s
            await client.send("stock", None, {"quantity": 1, "pad": "x" * (2 << 20)}, "a booking of stock")
    finally:
        await server.stop()
        await client.close()
        await nc.close()
