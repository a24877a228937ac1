"""What clients register with the registry, discovery and file server survives a restart of werk (the tables of
migration 5 in the historian's file, or on its PostgreSQL server), while werk's own descriptors follow the server as it runs now."""

from __future__ import annotations

from pathlib import Path

import pytest
from basyx.aas import model

from tests.aas.http.aas_stack import SUPERVISOR, aas_stack, aasx, asset_id, b64, every_page
from tests.app_databases import PlantStore
from werk.store.migrations import AAS_MIGRATIONS

pytestmark = pytest.mark.e2e

FOREIGN = "https://other.example/aas/pump-7"
SUB = FOREIGN + "/sm/nameplate"


def endpoint(interface: str, href: str) -> dict[str, object]:
    return {"interface": interface, "protocolInformation": {"href": href}}


async def test_registered_descriptors_links_and_packages_survive_a_restart(
    tmp_path: Path, plant_store: PlantStore
) -> None:
    sub = {"id": SUB, "endpoints": [endpoint("SUBMODEL-3.0", "https://other.example/sm")]}
    shell = {
        "id": FOREIGN,
        "endpoints": [endpoint("AAS-3.0", "https://other.example/aas")],
        "submodelDescriptors": [sub],
    }
    standalone = {"id": SUB + "-2", "endpoints": [endpoint("SUBMODEL-3.0", "https://other.example/sm2")]}
    link = {"name": "serialNumber", "value": "P7-0042"}
    package = aasx(FOREIGN)
    async with aas_stack(tmp_path, plant_store) as (stack, client):
        first_url = stack.url
        for path, body in [("/shell-descriptors", shell), ("/submodel-descriptors", standalone)]:
            assert (await client.post(path, json=body, headers=SUPERVISOR)).status_code == 201
        assert (
            await client.post(f"/lookup/shells/{b64(FOREIGN)}", json=[link], headers=SUPERVISOR)
        ).status_code == 201
        r = await client.post(
            "/packages",
            files={"file": ("pump.aasx", package)},
            data={"fileName": "pump.aasx"},
            headers=SUPERVISOR,
        )
        assert r.status_code == 201
        package_id = r.json()["packageId"]
        shells_before = await every_page(client, "/shell-descriptors", limit=50)
        own_id = shells_before[0]["id"]

    async with aas_stack(tmp_path, plant_store) as (stack, client):
        assert stack.url != first_url  # a new port: werk's own endpoints must follow it
        if stack.config.historian.backend == "sqlite":
            assert stack.platform.file is not None
            assert stack.platform.file.schema_version("aas") == AAS_MIGRATIONS[-1].version
        assert (await client.get(f"/shell-descriptors/{b64(FOREIGN)}")).json() == shell
        assert (
            await client.get(f"/shell-descriptors/{b64(FOREIGN)}/submodel-descriptors/{b64(SUB)}")
        ).json() == sub
        assert (await client.get(f"/submodel-descriptors/{b64(SUB + '-2')}")).json() == standalone
        shells_after = await every_page(client, "/shell-descriptors", limit=50)
        assert [d["id"] for d in shells_after] == [d["id"] for d in shells_before]
        own = (await client.get(f"/shell-descriptors/{b64(own_id)}")).json()
        assert own["endpoints"][0]["protocolInformation"]["href"].startswith(stack.url)
        assert (await client.get(f"/lookup/shells/{b64(FOREIGN)}")).json() == [link]
        found = await every_page(client, "/lookup/shells", assetIds=asset_id(link["name"], link["value"]))
        assert found == [FOREIGN]
        assert (await client.get("/packages")).json()["result"] == [
            {"packageId": package_id, "aasIds": [FOREIGN]}
        ]
        assert (await client.get(f"/packages/{b64(package_id)}")).content == package
        # and the repository did not take the package's shell in on the way
        assert stack.platform.twin is not None
        assert stack.platform.twin.get(FOREIGN, model.AssetAdministrationShell) is None
