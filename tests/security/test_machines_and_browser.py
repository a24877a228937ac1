"""Machine writes need a grant that names the signal; a person signs in on the page, is refused outside their
part of the plant, and signs out. With the simulator behind OPC UA, as a plant runs it."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import httpx
import pytest

from tests.conftest import chromium_path, running_stack, wait_until
from tests.e2e.test_dashboard_browser import CHROMIUM_ARGS
from tests.security.stack import LINE1, PASSWORD, add_users, secure_config


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _value_url(aas_id: str, element: str) -> str:
    return f"/api/v3.0/submodels/{_b64(aas_id + '/submodels/OperationalData')}/submodel-elements/{element}/$value"


async def test_api6_unrestricted_access_to_sensitive_business_flows(tmp_path: Path) -> None:
    """Changing a machine's feed override is the sensitive flow: an engineer of the whole plant without a signal
    grant may not, a supervisor of line 1 whose grant names feed_override may, and both are in the audit trail
    with the value before and after. A plant-file token of earlier versions still writes (its grant is implied)."""
    config = secure_config(tmp_path)
    tokens = await asyncio.to_thread(add_users, config)
    ref = config.asset("cnc-1")
    url = _value_url(ref.aas_id, "feed_override")
    async with running_stack(config) as stack, httpx.AsyncClient(base_url=stack.url) as http:
        path = ref.signal_path("feed_override")
        await wait_until(lambda: path in stack.platform.live.latest, timeout=20)
        model = stack.sim.factory.assets["cnc-1"].model
        r = await http.patch(url, json=70, headers={"Authorization": f"Bearer {tokens['eng']}"})
        assert r.status_code == 403 and "may not write" in r.text and path in r.text, r.text
        assert model.feed_override == 100.0
        r = await http.patch(url, json=70, headers={"Authorization": f"Bearer {tokens['sup1']}"})
        assert r.status_code == 204, r.text
        await wait_until(lambda: model.feed_override == 70.0, timeout=10)
        r = await http.patch(url, json=90, headers={"Authorization": "Bearer legacy-token"})
        assert r.status_code == 204, r.text
        rows = (await http.get("/api/audit", headers={"Authorization": f"Bearer {tokens['root']}"})).json()
    writes = [r for r in rows if r["action"] == "machine.write"]
    assert [w["who"] for w in writes] == ["sup1", "legacy"]
    assert (
        writes[0]["target"] == path and writes[0]["before"] == "100.0" and '"value": 70' in writes[0]["after"]
    )
    api = [r for r in rows if r["action"] == "api.write" and r["target"].startswith("PATCH")]
    assert [(w["who"], '"status": 403' in w["after"]) for w in api][:2] == [("eng", True), ("sup1", False)]


@pytest.mark.browser
async def test_a_person_signs_in_is_refused_outside_their_line_and_signs_out(tmp_path: Path) -> None:
    exe = chromium_path()
    from playwright.async_api import async_playwright

    config = secure_config(tmp_path)
    await asyncio.to_thread(add_users, config)
    cnc, press = config.asset("cnc-1"), config.asset("press-1")
    async with running_stack(config) as stack, async_playwright() as pw:
        await wait_until(lambda: cnc.signal_path("feed_override") in stack.platform.live.latest, timeout=20)
        browser = await pw.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            await page.goto(stack.url + "/")
            assert page.url.startswith(stack.url + "/signin")  # reads need a sign-in once users exist
            await page.fill("input[name=user]", "sup1")
            await page.fill("input[name=password]", "not it")
            await page.click("#password-signin button[type=submit]")
            assert (
                await page.text_content("#signin-error")
                == "Wrong user name or password, or the user is locked."
            )
            await page.fill("input[name=user]", "sup1")
            await page.fill("input[name=password]", PASSWORD)
            await page.click("#password-signin button[type=submit]")
            await page.wait_for_url(stack.url + "/")
            assert await page.text_content("#session-user") == "sup1"
            cookies = {c["name"]: c for c in await page.context.cookies()}
            assert cookies["werk_session"]["httpOnly"] and cookies["werk_session"]["sameSite"] == "Strict"
            # an action on their line goes through (the page's script sends the session's CSRF token) ...
            ok = await page.evaluate(f"werk.send('PATCH', '{_value_url(cnc.aas_id, 'feed_override')}', 95)")
            assert ok["status"] == 204, ok
            # ... one on line 2 is refused, and so is line 2's asset
            refused = await page.evaluate(
                f"werk.send('PATCH', '{_value_url(press.aas_id, 'feed_override')}', 95)"
            )
            assert refused["status"] == 403 and LINE1 in str(refused["body"]), refused
            outside = await page.goto(stack.url + f"/api/assets/{press.name}")
            assert outside is not None and outside.status == 403
            # a cookie without the CSRF token writes nothing
            bare = await page.evaluate(
                f"fetch('{_value_url(cnc.aas_id, 'feed_override')}', {{method: 'PATCH', headers: "
                "{'Content-Type': 'application/json'}, body: '80'}).then(r => r.status)"
            )
            assert bare == 403
            await page.goto(stack.url + "/")
            await page.click("#session-signout")
            await page.wait_for_url(stack.url + "/signin")
            await page.goto(stack.url + "/oee")
            assert page.url.startswith(stack.url + "/signin")
        finally:
            await browser.close()
