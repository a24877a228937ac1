"""werk's OPC UA connector against the simulator's secure endpoint: SignAndEncrypt with Basic256Sha256 and
Aes256_Sha256_RsaPss, its own application certificate made in its PKI folder, and a trust list whose refusal names
the folder to trust the server from."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.conftest import plant_config, wait_until
from werk.connect.opcua import OpcUaConnector, OpcUaConnectorConfig
from werk.core.model import Sample
from werk.sim.opcua_server import SimOpcUaServer


def _connector(endpoint: str, policy: str, pki: Path, **extra: object) -> OpcUaConnector:
    cfg = OpcUaConnectorConfig(
        type="opcua",
        endpoint=endpoint,
        publishing_interval_ms=50,
        reconnect_min_s=0.1,
        reconnect_max_s=0.3,
        timeout_s=4.0,
        security_policy=policy,  # type: ignore[arg-type]
        security_mode="SignAndEncrypt",
        pki_dir=str(pki),
        **extra,  # type: ignore[arg-type]
    )
    return OpcUaConnector(
        "sim-secure",
        cfg,
        {"nsu=urn:werk:sim;s=cnc-1/Monitoring/CycleCount": "acme/s/a/l/c/cnc-1/cycle_count"},
    )


async def _samples(conn: OpcUaConnector, timeout: float = 30) -> list[Sample]:
    stream = conn.stream()
    try:
        async with asyncio.timeout(timeout):
            async for batch in stream:
                if batch:
                    return batch
    finally:
        await stream.aclose()  # type: ignore[attr-defined]
    return []


async def test_sign_and_encrypt_with_a_trust_list_against_the_simulator(tmp_path: Path) -> None:
    config = plant_config(tmp_path)
    sim_cfg = config.section("sim").model_copy(update={"pki_dir": str(tmp_path / "sim-pki")})
    config = config.model_copy(update={"sim": sim_cfg})
    sim = SimOpcUaServer(config)
    await sim.start()
    try:
        pki = tmp_path / "werk-pki"
        # nothing trusted yet: refused, the server's certificate saved in rejected/, the message says where to
        conn = _connector(sim_cfg.endpoint, "Basic256Sha256", pki)
        stream = conn.stream()

        async def drive() -> None:
            async for _ in stream:
                pass

        task = asyncio.create_task(drive())
        try:
            await wait_until(lambda: "is not trusted" in conn.status.last_error, timeout=30)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        assert (
            str(pki / "trusted") in conn.status.last_error and str(pki / "rejected") in conn.status.last_error
        )
        rejected = list((pki / "rejected").iterdir())
        assert len(rejected) == 1 and not list((pki / "trusted").iterdir())
        assert (pki / "own" / "cert.der").is_file()  # its own application certificate, made on first use
        # a person moves it to trusted/: both policies now talk SignAndEncrypt
        rejected[0].rename(pki / "trusted" / rejected[0].name)
        for policy in ("Basic256Sha256", "Aes256_Sha256_RsaPss"):
            conn = _connector(sim_cfg.endpoint, policy, pki)
            got = await _samples(conn)
            assert got and got[0].path == "acme/s/a/l/c/cnc-1/cycle_count", policy
            assert conn.status.errors == 0
    finally:
        await sim.stop()


@pytest.mark.parametrize("policy", ["Aes128_Sha256_RsaOaep"])
async def test_trust_on_first_use_only_when_asked(tmp_path: Path, policy: str) -> None:
    config = plant_config(tmp_path)
    sim_cfg = config.section("sim").model_copy(update={"pki_dir": str(tmp_path / "sim-pki")})
    sim = SimOpcUaServer(config.model_copy(update={"sim": sim_cfg}))
    await sim.start()
    try:
        pki = tmp_path / "werk-pki"
        conn = _connector(sim_cfg.endpoint, policy, pki, trust_on_first_use=True)
        assert await _samples(conn)
        assert len(list((pki / "trusted").iterdir())) == 1 and not list((pki / "rejected").iterdir())
    finally:
        await sim.stop()
