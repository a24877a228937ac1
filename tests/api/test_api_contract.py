"""werk's own HTTP API against its OpenAPI document: schemathesis runs every operation of a real werk (the demo
plant on loopback) with generated requests, valid and invalid, and checks every answer against the contract.

The AAS routes (``/api/v3.0``) are typed by their own suite; ``WERK_CONTRACT_AAS=1`` includes them here too.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from pathlib import Path

import pytest

from tests.conftest import need, plant_config, running_stack, wait_until

TOKEN = "contract-admin-token"
MAX_EXAMPLES = int(os.environ.get("WERK_CONTRACT_EXAMPLES", "20"))
AAS = "^/api/v3\\.0"

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(400)]


def _st() -> str | None:
    exe = Path(sys.executable).with_name("st")
    return str(exe) if exe.exists() else shutil.which("st")


async def test_the_api_answers_as_its_openapi_document_says(tmp_path: Path) -> None:
    st = _st()
    need(st is not None, "schemathesis is not installed (pip install -e '.[dev]')")
    assert st is not None
    config = plant_config(tmp_path, acceleration=20, users={"ada": ("admin", TOKEN)})
    async with running_stack(config) as stack:
        await wait_until(lambda: stack.platform.writer.written > 200, timeout=30)  # type: ignore[union-attr]
        args = [
            st,
            "--config-file",
            str(Path(__file__).with_name("schemathesis.toml")),
            "run",
            f"{stack.url}/openapi.json",
            "--checks",
            "all",
            "--max-examples",
            str(MAX_EXAMPLES),
            "--seed",
            os.environ.get("WERK_CONTRACT_SEED", "22400"),
            "--workers",
            "1",
            "--no-shrink",
            "--generation-database",
            "none",
            "--request-timeout",
            "20",
            "--no-color",
            "-H",
            f"Authorization: Bearer {TOKEN}",
            # a Server-Sent Events stream does not end: each request would last the whole timeout
            "--exclude-path",
            "/api/stream",
        ]
        if os.environ.get("WERK_CONTRACT_AAS") != "1":
            args += ["--exclude-path-regex", AAS]
        proc = await asyncio.create_subprocess_exec(
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=tmp_path,
            env={**os.environ, "SCHEMATHESIS_TELEMETRY": "false"},
        )
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=360)
    text = out.decode(errors="replace")
    log = os.environ.get("WERK_CONTRACT_LOG")
    if log:
        await asyncio.to_thread(Path(log).write_text, text)
    assert proc.returncode == 0, text[-12_000:]
    assert "server error" not in text.lower() or " 0 server error" in text.lower(), text[-12_000:]
