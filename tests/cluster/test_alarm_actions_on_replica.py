"""An operator's actions on an alarm through a ``werk api`` replica, end to end on a real NATS server and
PostgreSQL: a ``werk worker`` with ``cluster.apps`` runs the alarms app over a press whose temperature samples are
published to the log as an edge does; the replica sends each action as a command to that worker
(werk.runtime.app_commands), whose state machine applies it.

An alarm the worker raised is acknowledged through the replica (200): the journal on the server has the acknowledge
by that user, and the replica's list shows the alarm acknowledged; shelved and unshelved likewise; with no worker
holding the asset the replica answers 503 saying so, in the reader's language."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import httpx
import nats
import psycopg
import pytest

from tests.cluster.conftest import NatsServer
from tests.cluster.plants import APPS, cluster_plant
from tests.cluster.test_api_replicas_twin import Replica
from tests.cluster.test_app_pages_on_replica import eventually
from tests.cluster.test_faults import Workers
from tests.conftest import free_port
from werk.bus.jetstream import encode
from werk.core.model import Sample, utcnow

TOKEN = "alarm-actions-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PRESS = "acme/hall-1/press/line-1/cell-1/press-0"
HOT = "press-0:hot"


def plant_file(tmp_path: Path, name: str, pg_url: str, nats_url: str, port: int) -> Path:
    return cluster_plant(
        tmp_path,
        pg_url,
        nats_url,
        name=name,
        cluster=APPS,
        port=port,
        users=[("olga", "operator", "WERK_ALARM_ACTIONS_TOKEN")],
        more="""\
apps:
  oee: {enabled: false}
  maintenance: {enabled: false}
  alarms:
    templates:
      press:
        hot: {signal: temperature, type: high, limit: 80, priority: high}
""",
    )


def journal(pg_url: str) -> list[tuple[str, str, str]]:
    """(action, state after, who) of the alarm's journal rows, oldest first."""
    with psycopg.connect(pg_url) as c:
        rows = c.execute(
            "SELECT action, after, who FROM alarm_journal WHERE alarm = %s ORDER BY id", (HOT,)
        ).fetchall()
    return [(a, s, w) for a, s, w in rows]


@pytest.mark.timeout(90)
async def test_an_operator_acts_on_an_alarm_through_a_replica(
    tmp_path: Path, pg_url: str, nats_server: NatsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    workers = Workers(plant_file(tmp_path, "worker", pg_url, nats_server.url, free_port()), tmp_path)
    monkeypatch.setenv("WERK_ALARM_ACTIONS_TOKEN", TOKEN)
    replica = Replica(plant_file(tmp_path, "api", pg_url, nats_server.url, port))
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=15)

    def alarm() -> dict:  # type: ignore[type-arg]
        return next(a for a in listed["alarms"] if a["id"] == HOT)

    try:
        workers.start("w1")
        replica.start()
        await workers.ready("w1", timeout=60)
        await asyncio.to_thread(replica.ready)
        t0 = utcnow() - timedelta(seconds=5)
        for offset, value in ((0, 60.0), (1, 95.0)):
            for m in encode([Sample(f"{PRESS}/temperature", t0 + timedelta(seconds=offset), value)]):
                await js.publish(m.subject, m.payload)

        def all_alarms() -> asyncio.Future[httpx.Response]:
            return asyncio.ensure_future(http.get("/api/alarms", params={"all": "true"}))

        listed = await eventually(all_alarms, lambda x: any(a["state"] == "unack" for a in x["alarms"]), 40)
        assert alarm()["state"] == "unack"

        r = await http.post(f"/api/alarms/{HOT}/acknowledge", json={"comment": "seen"}, headers=AUTH)
        assert r.status_code == 200, r.text
        assert (r.json()["state"], r.json()["acknowledged"]) == ("acked", True)
        assert ("acknowledge", "acked", "olga") in await asyncio.to_thread(journal, pg_url)
        listed = (await all_alarms()).json()
        assert (alarm()["state"], alarm()["acknowledged"]) == ("acked", True)
        # the same state machine refuses a second acknowledge, as it would where the app runs
        r = await http.post(f"/api/alarms/{HOT}/acknowledge", json={}, headers=AUTH)
        assert r.status_code == 409, r.text

        r = await http.post(
            f"/api/alarms/{HOT}/shelve", json={"why": "probe swapped", "duration_s": 600}, headers=AUTH
        )
        assert r.status_code == 200, r.text
        assert (r.json()["state"], r.json()["shelved_by"]) == ("shelved", "olga")
        listed = (await all_alarms()).json()
        assert (alarm()["state"], alarm()["shelved_why"]) == ("shelved", "probe swapped")
        r = await http.post(f"/api/alarms/{HOT}/unshelve", json={"why": "probe fixed"}, headers=AUTH)
        # still active: back in the operator's list, annunciated again (ISA-18.2)
        assert r.status_code == 200 and r.json()["state"] == "unack", r.text
        rows = await asyncio.to_thread(journal, pg_url)
        assert [(a, w) for a, _, w in rows if w == "olga"] == [
            ("acknowledge", "olga"),
            ("shelve", "olga"),
            ("unshelve", "olga"),
        ]

        # nobody reads without a role: the role check stays on the replica, nothing is sent
        r = await http.post(f"/api/alarms/{HOT}/acknowledge", json={})
        assert r.status_code == 401, r.text
        # no worker holds the asset: said so, in the reader's language
        workers.stop()
        r = await http.post(
            f"/api/alarms/{HOT}/shelve",
            json={"why": "x", "one_shot": True},
            headers={**AUTH, "Accept-Language": "de"},
        )
        assert r.status_code == 503 and "press-0" in r.json()["detail"], r.text
        assert "Worker" in r.json()["detail"] and "No worker" not in r.json()["detail"], r.text
        assert len(await asyncio.to_thread(journal, pg_url)) == len(rows)
    finally:
        await http.aclose()
        await nc.close()
        replica.stop()
        workers.stop()
