"""Writing back to a machine through its twin: a supervisor sets a machine's feed override with PATCH $value; the
value travels over OPC UA to the simulator, changes how fast it makes parts, comes back through the subscription,
and the write is audited. Read-only signals, other roles and connectors that cannot write are refused."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import pytest

from tests.conftest import plant_config, running_stack, wait_until
from werk.errors import WriteRefused

TOKENS = {"sam": ("supervisor", "sv-secret"), "olga": ("operator", "op-secret")}


def _auth(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[name][1]}"}


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


async def test_a_supervisor_sets_the_feed_override_and_the_machine_follows(tmp_path: Path) -> None:
    config = plant_config(tmp_path, acceleration=40, users=TOKENS)
    ref = config.asset("cnc-1")
    base = f"/api/v3.0/submodels/{_b64(ref.aas_id + '/submodels/OperationalData')}/submodel-elements"
    async with running_stack(config) as stack, httpx.AsyncClient(base_url=stack.url) as http:
        model = stack.sim.factory.assets["cnc-1"].model
        live = stack.platform.live.latest
        path = ref.signal_path("feed_override")
        await wait_until(lambda: path in live, timeout=20)
        assert live[path].value == 100.0 and model.feed_override == 100.0

        # an operator may not, and nothing reaches the machine
        r = await http.patch(base + "/feed_override/$value", json=80, headers=_auth("olga"))
        assert r.status_code == 403 and "needs 'supervisor'" in r.text
        # a read-only signal is refused by name, whoever asks
        r = await http.patch(base + "/temperature/$value", json=20, headers=_auth("sam"))
        assert r.status_code == 409 and "read-only" in r.text and ref.signal_path("temperature") in r.text
        # energy is not marked writable in the plant file
        r = await http.patch(base + "/energy/$value", json=0, headers=_auth("sam"))
        assert r.status_code == 409 and "read-only" in r.text
        # a value that is not a number for an xs:double
        r = await http.patch(base + "/feed_override/$value", json="fast", headers=_auth("sam"))
        assert r.status_code == 400
        # xs:double has NaN and INF (and 1e400 reads as INF): valid in a twin, never a setpoint
        for bad in ("NaN", "INF", "-INF", "1e400"):
            r = await http.patch(base + "/feed_override/$value", json=bad, headers=_auth("sam"))
            assert r.status_code == 400 and "a machine takes a finite number" in r.text, (bad, r.text)
        assert model.feed_override == 100.0
        # every caller of the platform gets the same refusal, not only the AAS API, and nothing reaches the machine
        for bad_value in (float("nan"), float("inf"), 10**400):
            with pytest.raises(WriteRefused, match="a machine takes a finite number"):
                await stack.platform.write_signal(path, bad_value, "sam")
        assert model.feed_override == 100.0

        r = await http.patch(base + "/feed_override/$value", json=80, headers=_auth("sam"))
        assert r.status_code == 204, r.text
        await wait_until(lambda: model.feed_override == 80.0, timeout=10)  # the simulator took it over OPC UA
        await wait_until(lambda: live[path].value == 80.0, timeout=10)  # and werk sees what the machine holds
        got = (await http.get(base + "/feed_override/$value")).json()
        assert got == {"feed_override": 80.0}

        # what the node's EURange excludes is refused before it is sent, named by its limit, and audited
        eurange = "EURange of ns=2;s=cnc-1/Setpoints/FeedOverride"
        for bad in (400, 1e308, 5):
            r = await http.patch(
                base + "/feed_override/$value", json={"feed_override": bad}, headers=_auth("sam")
            )
            assert r.status_code == 409 and eurange in r.text, r.text
        r = await http.patch(base + "/feed_override/$value", json=150, headers=_auth("sam"))
        assert r.status_code == 204, r.text
        await wait_until(lambda: live[path].value == 150.0, timeout=10)
        assert model.feed_override == 150.0

        db = stack.platform.historian
        assert db is not None
        await wait_until(lambda: len(db.query_events(kinds=["audit"])) >= 5, timeout=10)
        audit = sorted(db.query_events(kinds=["audit"]), key=lambda e: e.ts)
        assert [(e.data["user"], e.data["value"], e.data["before"], e.data["result"]) for e in audit] == [
            ("sam", 80.0, 100.0, "written"),
            ("sam", 400.0, 80.0, f"refused: 400.0 is above the maximum 150 ({eurange})"),
            ("sam", 1e308, 80.0, f"refused: 1e+308 is above the maximum 150 ({eurange})"),
            ("sam", 5.0, 80.0, f"refused: 5.0 is below the minimum 10 ({eurange})"),
            ("sam", 150.0, 80.0, "written"),
        ]
        assert all(e.source == ref.path and e.data["signal"] == path for e in audit)


async def test_a_write_while_the_machine_is_away_is_refused_and_audited(tmp_path: Path) -> None:
    config = plant_config(tmp_path, acceleration=40, users=TOKENS)
    ref = config.asset("cnc-2")
    el = f"/api/v3.0/submodels/{_b64(ref.aas_id + '/submodels/OperationalData')}/submodel-elements/feed_override"
    async with running_stack(config) as stack, httpx.AsyncClient(base_url=stack.url) as http:
        opc = next(c for c in stack.platform.connectors if c.status.type == "opcua")
        await wait_until(lambda: opc.status.connected, timeout=20)
        await stack.sim.server.stop()  # the controller goes away
        await wait_until(lambda: not opc.status.connected, timeout=20)
        r = await http.patch(el + "/$value", json=90, headers=_auth("sam"))
        assert r.status_code == 502 and "not connected" in r.text
        db = stack.platform.historian
        assert db is not None
        await wait_until(lambda: len(db.query_events(kinds=["audit"])) == 1, timeout=10)
        (event,) = db.query_events(kinds=["audit"])
        assert event.data["result"].startswith("failed: ") and event.data["user"] == "sam"
        await stack.sim.server.start()  # so the stack stops as it started


async def test_a_connector_that_cannot_write_is_refused_before_anything_is_sent(tmp_path: Path) -> None:
    from werk.errors import WriteRefused
    from werk.runtime.platform import Platform

    adapter = "                        - connector: lathe-2-adapter\n"
    config = (
        plant_config(  # the plant file lets werk write lathe-2's mode, but an MTConnect adapter only reports
            tmp_path,
            patch=lambda text: text.replace(
                adapter, adapter + "                          writable: [mode]\n", 1
            ),
        )
    )
    ref = config.asset("lathe-2")
    assert any("mode" in b.writable for b in ref.config.bindings())
    platform = Platform(config)
    try:
        await platform.write_signal(ref.signal_path("mode"), "MANUAL", "sam")
    except WriteRefused as exc:
        assert "connector 'lathe-2-adapter' (shdr) cannot write" in str(exc)
    else:
        raise AssertionError("a write through a connector that cannot write was accepted")
