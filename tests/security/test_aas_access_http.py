"""AAS access rules from the plant file enforced over loopback HTTP on the real server: routes and the fast path
(GET and PATCH ``$value``), listings, FILTERs, and refusals as Part 2 Result bodies."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import pytest

from tests.security.stack import secure_config, secure_stack
from werk.config.model import UserConfig

RULES = """
ACCESSRULE:
  ATTRIBUTES: GLOBAL(ANONYMOUS)
  RIGHTS: READ
  ACCESS: ALLOW
  OBJECTS: ROUTE "/shells*"
  FORMULA: true

ACCESSRULE:
  ATTRIBUTES: CLAIM("email")
  RIGHTS: READ UPDATE CREATE
  ACCESS: ALLOW
  OBJECTS: IDENTIFIABLE "(Submodel)*"
  FORMULA: $regex(CLAIM("email"), "^[a-z]+@plant\\.example$")
  FILTER: FRAGMENT "$sme" CONDITION: $not($sme#idShort $eq "spindle_speed")
"""


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


async def test_rules_in_the_plant_file_allow_deny_and_filter_real_requests(tmp_path: Path) -> None:
    rules_file = tmp_path / "access.rules"
    rules_file.write_text(RULES)
    config = secure_config(tmp_path, anonymous_read=True, aas_access_rules=str(rules_file))
    legacy = config.server.users[0]
    assert legacy.name == "legacy"
    users = [legacy.model_copy(update={"claims": {"email": "sup@plant.example"}})]
    server = config.server.model_copy(
        update={"users": [UserConfig.model_validate(u.model_dump()) for u in users]}
    )
    config = config.model_copy(update={"server": server})
    sm = b64(config.asset("cnc-1").aas_id + "/submodels/OperationalData")
    base = f"/api/v3.0/submodels/{sm}"
    sup = {"Authorization": "Bearer legacy-token"}
    async with secure_stack(config) as stack, httpx.AsyncClient(base_url=stack.url, timeout=10) as http:
        # anonymous: shells yes (first rule), submodels no (default deny), fast path and routes alike
        assert (await http.get("/api/v3.0/shells")).status_code == 200
        for url in (
            base,
            f"{base}/submodel-elements/feed_override/$value",
            f"{base}/$value",
            "/api/v3.0/submodels",
        ):
            r = await http.get(url)
            assert r.status_code == 403, (url, r.text)
            assert "no AAS access rule allows GET" in r.json()["messages"][0]["text"]
        # the user with the email claim reads the submodel, without the element the FILTER hides
        r = await http.get(base, headers=sup)
        assert r.status_code == 200, r.text
        shown = {e["idShort"] for e in r.json()["submodelElements"]}
        assert "feed_override" in shown and "spindle_speed" not in shown
        r = await http.get(f"{base}/$value", headers=sup)
        assert r.status_code == 200 and "feed_override" in r.json() and "spindle_speed" not in r.json()
        r = await http.get(f"{base}/submodel-elements/spindle_speed/$value", headers=sup)
        assert r.status_code == 403 and "FILTER" in r.json()["messages"][0]["text"]
        r = await http.get(f"{base}/$path", headers=sup)
        assert r.status_code == 200 and "spindle_speed" not in r.json() and "feed_override" in r.json()
        listing = await http.get("/api/v3.0/submodels", headers=sup)
        assert listing.status_code == 200 and listing.json()["result"]
        for item in listing.json()["result"]:
            assert "spindle_speed" not in {e.get("idShort") for e in item.get("submodelElements", [])}
        # an unbound Property (CREATE), then the fast path's PATCH $value: allowed (UPDATE) for the claim
        # holder, refused for a local supervisor whose grant allows it but who has no email claim
        note = {"modelType": "Property", "idShort": "note", "valueType": "xs:int", "value": "1"}
        r = await http.post(f"{base}/submodel-elements", json=note, headers=sup)
        assert r.status_code == 201, r.text
        value = f"{base}/submodel-elements/note/$value"
        r = await http.patch(value, json=77, headers=sup)
        assert r.status_code == 204, r.text
        r = await http.get(value, headers=sup)
        assert r.status_code == 200 and r.json() == {"note": 77}
        r = await http.patch(value, json=55, headers=stack.auth("sup1"))
        assert r.status_code == 403 and "UPDATE" in r.json()["messages"][0]["text"], r.text
        assert (await http.get(value, headers=sup)).json() == {"note": 77}
        # a write the FILTER hides, and a bad token (401 before the rules)
        r = await http.patch(f"{base}/submodel-elements/spindle_speed/$value", json=1, headers=sup)
        assert r.status_code == 403
        assert (await http.get(base, headers={"Authorization": "Bearer nope"})).status_code == 401


def test_rules_that_do_not_load_stop_the_server_from_starting(tmp_path: Path) -> None:
    from werk.aas.access.rules import RuleError
    from werk.aas.http.access_front import access_rules_of

    bad = tmp_path / "bad.json"
    bad.write_text('{"AllAccessPermissionRules": {"rules": [{"ACL": {}}]}}')
    config = secure_config(tmp_path, aas_access_rules=str(bad))
    with pytest.raises(RuleError, match=r"bad.json: rule 1"):
        access_rules_of(config.server, lambda caller: None)
