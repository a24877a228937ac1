"""OPC UA Alarms & Conditions into werk's alarms: an asyncua server raises a condition, werk shows it as an alarm with
the same state, an operator's acknowledge goes back to the server (Acknowledge with the event's EventId and the
comment) and is journaled, and an acknowledge made at the server acknowledges the alarm in werk."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
from asyncua import Server, ua
from asyncua.common.event_objects import AlarmCondition

from tests.conftest import free_port, serving, wait_until
from werk.api.app import create_app
from werk.api.auth import token_digest
from werk.config import parse_config
from werk.runtime.platform import Platform

NS = "urn:test:alarms"
ALARM = "press-1:overpressure"


def plant(tmp_path: Path, port: int) -> str:
    return f"""
plant:
  enterprise: acme
  sites:
    s:
      areas:
        pressing:
          lines:
            l:
              cells:
                c:
                  assets:
                    press-1:
                      kind: press
                      source:
                        connector: plc
                        signals: {{overpressure: "condition:nsu={NS};s=press-1#OverPressure"}}
                        writable: [overpressure]
connectors:
  plc: {{type: opcua, endpoint: "opc.tcp://127.0.0.1:{port}/t", publishing_interval_ms: 50, reconnect_max_s: 1}}
historian: {{path: "{tmp_path / "werk.db"}", flush_interval_ms: 50}}
server:
  port: {free_port()}
  users: [{{name: olga, role: operator, token_sha256: "{token_digest("olga-token")}"}}]
apps:
  alarms:
    assets:
      press-1:
        overpressure: {{signal: overpressure, type: condition, priority: high, message: Hydraulic overpressure}}
  maintenance: {{models_dir: "{tmp_path / "models"}", auto_train: false}}
"""


async def test_a_server_condition_is_raised_acknowledged_back_and_journaled(tmp_path: Path) -> None:
    port = free_port()
    server = Server()
    await server.init()
    server.set_endpoint(f"opc.tcp://127.0.0.1:{port}/t")
    idx = await server.register_namespace(NS)
    press = await server.nodes.objects.add_object(ua.NodeId("press-1", idx), "press-1")
    await press.set_event_notifier([ua.EventNotifier.SubscribeToEvents])
    condition = await press.add_object(ua.NodeId("press-1/OverPressure", idx), "OverPressure")
    gen = await server.get_event_generator(AlarmCondition(), press)
    acks: list[tuple[Any, bytes, str]] = []

    async def fire(active: bool, acked: bool) -> None:
        ev = gen.event
        ev.ConditionName = "OverPressure"
        ev.Message = ua.LocalizedText("Hydraulic pressure above 210 bar")
        ev.Severity = 900
        setattr(ev, "ActiveState/Id", active)
        setattr(ev, "AckedState/Id", acked)
        await gen.trigger()

    async def acknowledge(parent: ua.NodeId, event_id: ua.Variant, comment: ua.Variant) -> list[ua.Variant]:
        acks.append((parent, event_id.Value, comment.Value.Text))
        await fire(True, True)  # the server's condition is acknowledged now, and says so
        return []

    server.link_method(
        server.get_node(ua.NodeId(ua.ObjectIds.AcknowledgeableConditionType_Acknowledge)), acknowledge
    )
    config = parse_config(plant(tmp_path, port), "plant.yaml")
    auth = {"Authorization": "Bearer olga-token"}
    async with server:
        platform = Platform(config)
        await platform.start()
        try:
            async with (
                serving(create_app(platform), config.server) as url,
                httpx.AsyncClient(base_url=url) as http,
            ):
                await wait_until(lambda: platform.connectors[0].status.connected, timeout=15)
                await asyncio.sleep(0.3)  # the event item is created after connect
                await fire(True, False)
                seen: dict[str, Any] = {}

                async def state(want: str) -> None:
                    async with asyncio.timeout(10):
                        while True:
                            alarms = (await http.get("/api/alarms", params={"all": "true"})).json()["alarms"]
                            seen.update(next(a for a in alarms if a["id"] == ALARM))
                            if seen["state"] == want:
                                return
                            await asyncio.sleep(0.05)

                await state("unack")
                assert seen["priority"] == "high" and seen["message"] == "Hydraulic overpressure"
                sev = platform.live.latest[config.asset("press-1").signal_path("overpressure.severity")]
                assert sev.value == 900

                r = await http.post(
                    f"/api/alarms/{ALARM}/acknowledge", json={"comment": "valve opened"}, headers=auth
                )
                assert r.status_code == 200 and r.json()["state"] == "acked"
                ((parent, event_id, comment),) = acks
                assert parent == condition.nodeid and comment == "valve opened" and len(event_id) > 0

                # the condition returns to normal at the server; then it is raised again and acknowledged there
                await fire(False, True)
                await state("normal")
                await fire(True, False)
                await state("unack")
                await fire(True, True)
                await state("acked")

                rows = (await http.get("/api/alarms/journal", params={"alarm": ALARM})).json()
                steps = [(r["action"], r["after"], r["who"]) for r in reversed(rows)]
                assert steps == [
                    ("activate", "unack", ""),
                    ("acknowledge", "acked", "olga"),
                    ("clear", "normal", ""),
                    ("activate", "unack", ""),
                    ("acknowledge", "acked", "source"),
                ]
                audit = platform.historian.query_events(kinds=["audit"], limit=10)  # type: ignore[union-attr]
                assert any(e.data.get("signal", "").endswith("/overpressure") for e in audit)
        finally:
            await platform.stop()
