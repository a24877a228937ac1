"""Alarm notifications against a real SMTP server (aiosmtpd) and a real HTTP receiver on loopback: the first
message when an alarm is raised, a retried webhook, an escalation while nobody acknowledges, nothing after the
acknowledge, rules by priority and shift, and the delivery log."""

from __future__ import annotations

import asyncio
import email
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from aiosmtpd.controller import Controller
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.apps.test_alarms_states import alarm
from tests.conftest import free_port, serving
from werk.apps.alarms.engine import AlarmEngine
from werk.apps.alarms.notify import Planner, Sender, in_shift
from werk.apps.alarms.settings import NotificationSettings
from werk.apps.alarms.store import MIGRATIONS, AlarmStore
from werk.config.model import ShiftConfig
from werk.core.model import Sample
from werk.store.app_database import AppDatabase

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday, 10:00 in Berlin
P = "acme/s/area/line/cell/m1"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.Message] = []

    async def handle_DATA(
        self, server: Any, session: Any, envelope: Any
    ) -> str:  # aiosmtpd calls it by this name
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


async def test_notifications_arrive_by_mail_and_webhook_escalate_and_stop_when_acknowledged(
    app_db: AppDatabase,
) -> None:
    """The delivery log on each backend (the werk file, PostgreSQL)."""
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    hooks: list[dict[str, Any]] = []
    calls = {"n": 0}

    async def receive(request: Request) -> JSONResponse:
        calls["n"] += 1
        if calls["n"] == 1:  # the receiver fails once: the sender must try again
            return JSONResponse({"error": "busy"}, status_code=503)
        hooks.append(await request.json())
        return JSONResponse({"ok": True})

    receiver = Starlette(routes=[Route("/hook", receive, methods=["POST"])])
    app_db.migrate("alarms", MIGRATIONS)
    store = AlarmStore(app_db)
    try:
        async with serving(receiver) as url, httpx.AsyncClient(timeout=5) as client:
            settings = NotificationSettings.model_validate(
                {
                    "smtp": {"host": "127.0.0.1", "port": smtp.port, "sender": "werk@plant.example"},
                    "retry_delay_s": 0.05,
                    "rules": [
                        {
                            "name": "high-now",
                            "priorities": ["high"],
                            "email": ["shift-lead@plant.example"],
                            "webhook": [f"{url}/hook"],
                            "escalate": [{"after_s": 300, "email": ["manager@plant.example"]}],
                        },
                        {"name": "nights", "shifts": ["night"], "email": ["night@plant.example"]},
                        {"name": "low-only", "priorities": ["low"], "email": ["low@plant.example"]},
                    ],
                }
            )
            shifts = [
                ShiftConfig(name="early", start="06:00", end="14:00"),
                ShiftConfig(name="night", start="22:00", end="06:00"),
            ]
            planner = Planner(settings, shifts, "Europe/Berlin")

            async def log(d: Any, status: str, attempts: int, error: str) -> None:
                store.log_delivery(T0, d, status, attempts, error)

            sender = Sender(settings, client, log)
            eng = AlarmEngine(
                [
                    alarm(
                        "coolant",
                        signal="coolant",
                        type="low",
                        limit=20,
                        priority="high",
                        message="Coolant low",
                        response="Refill coolant",
                    )
                ]
            )
            eng.feed([Sample(f"{P}/coolant", T0, 12.0)])
            entries = lambda: ((e.alarm, e.state) for e in eng.entries.values())  # noqa: E731

            first = planner.plan(T0 + timedelta(seconds=1), entries())
            assert sorted((d.rule, d.level, d.channel, d.target) for d in first) == [
                ("high-now", 0, "email", "shift-lead@plant.example"),
                ("high-now", 0, "webhook", f"{url}/hook"),
            ]  # not "nights" (10:00 is the early shift), not "low-only"
            assert all(await asyncio.gather(*(sender.deliver(d) for d in first)))
            assert planner.plan(T0 + timedelta(seconds=2), entries()) == []  # each level once
            (mail,) = inbox.messages
            assert mail["To"] == "shift-lead@plant.example" and mail["From"] == "werk@plant.example"
            assert mail["Subject"] == "[werk alarm] HIGH m1: Coolant low"
            assert "Response: Refill coolant" in mail.get_payload()
            (hook,) = hooks
            assert (hook["id"], hook["state"], hook["value"], hook["escalation"]) == (
                "m1:coolant",
                "unack",
                12.0,
                0,
            )

            # five minutes without an acknowledge: the manager is told
            (esc,) = planner.plan(T0 + timedelta(seconds=301), entries())
            assert (esc.level, esc.target) == (1, "manager@plant.example")
            assert await sender.deliver(esc)
            assert inbox.messages[-1]["Subject"].endswith("(escalation 1)")

            # acknowledged and raised again: a new activation starts over, and an acknowledge stops it
            eng.acknowledge("m1:coolant", T0 + timedelta(seconds=400), "olga")
            assert planner.plan(T0 + timedelta(seconds=900), entries()) == []
            eng.feed([Sample(f"{P}/coolant", T0 + timedelta(seconds=901), 30.0)])
            eng.feed([Sample(f"{P}/coolant", T0 + timedelta(seconds=902), 10.0)])
            again = planner.plan(T0 + timedelta(seconds=903), entries())
            assert {d.level for d in again} == {0} and len(again) == 2

            log_rows = store.deliveries()
            webhook = next(r for r in log_rows if r["channel"] == "webhook")
            assert (webhook["status"], webhook["attempts"]) == ("sent", 2)
            assert {r["target"] for r in log_rows if r["status"] == "sent"} == {
                "shift-lead@plant.example",
                f"{url}/hook",
                "manager@plant.example",
            }

            # a mail server that is gone: retried, then logged as failed with the reason
            smtp.stop()
            (lost,) = [d for d in again if d.channel == "email"]
            assert not await sender.deliver(lost)
            failed = store.deliveries()[0]
            assert (failed["status"], failed["attempts"]) == ("failed", settings.retries + 1)
            assert "Connection" in failed["error"] or "refused" in failed["error"].lower()
    finally:
        if smtp.loop.is_running():
            smtp.stop()


def test_shifts_over_midnight_belong_to_the_day_they_start() -> None:
    night = ShiftConfig(name="night", start="22:00", end="06:00", days=["fri"])
    assert in_shift(datetime(2026, 3, 6, 23, 0), night)  # Friday night
    assert in_shift(datetime(2026, 3, 7, 5, 0), night)  # Saturday morning, the Friday shift
    assert not in_shift(datetime(2026, 3, 8, 5, 0), night)  # Sunday morning: no Saturday shift
    assert not in_shift(datetime(2026, 3, 6, 12, 0), night)
