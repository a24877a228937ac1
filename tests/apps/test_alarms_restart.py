"""An alarm that is active when its instance stops (a restart of ``werk serve``, a takeover by another worker) is
active in the next instance too: the condition still holding raises nothing again, an acknowledged alarm stays
acknowledged, nobody is told twice, and the condition clearing later is a plain clear. Each instance runs the code
``werk serve`` runs at start (``restore``) and its bus consumer, over one werk file."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest

from tests.apps.test_alarms_app import COOLANT, alarm_config
from tests.apps.test_event_keys import at, consumed, context
from werk.apps.alarms.app import AlarmsApp
from werk.apps.alarms.notify import Delivery
from werk.apps.alarms.settings import NotificationSettings
from werk.apps.alarms.store import MIGRATIONS
from werk.config.model import WerkConfig
from werk.core.model import Event, Sample
from werk.store.app_database import SQLiteAppDatabase
from werk.store.sqlite_file import SQLiteFile

RULES = {
    "smtp": {"host": "127.0.0.1", "port": 2525, "sender": "werk@plant.example"},
    "rules": [
        {
            "name": "high-now",
            "priorities": ["high"],
            "email": ["shift-lead@plant.example"],
            "escalate": [{"after_s": 300, "email": ["manager@plant.example"]}],
        }
    ],
}


@pytest.fixture
def werk_file(tmp_path: Path) -> Iterator[SQLiteFile]:
    file = SQLiteFile(tmp_path / "werk.db")
    file.open()
    SQLiteAppDatabase(file).migrate("alarms", MIGRATIONS)
    yield file
    file.close()


class Instance:
    """One instance of the alarm app over the shared werk file, started as ``werk serve`` starts it."""

    def __init__(self, config: WerkConfig, file: SQLiteFile, tmp_path: Path, now: datetime) -> None:
        self.now = now
        self.ctx = replace(context("alarms", config, file, tmp_path), clock=lambda: self.now)
        self.app = AlarmsApp(self.ctx)
        self.app.restore()
        self.app.engine.start(now)

    async def feed(self, *batches: list[Sample]) -> list[Event]:
        """The coolant alarm's events from these batches, its journal rows written."""
        self.now = batches[-1][-1].ts
        events = await consumed(self.ctx, self.app._consume, list(batches))
        await self.app._flush()
        return [e for e in events if e.data["id"] == COOLANT]

    def state(self) -> str:
        return self.app.engine.entry(COOLANT).state.state

    def due(self, now: datetime) -> list[Delivery]:
        """The notifications the instance would send at ``now``."""
        return self.app.planner.plan(now, [(e.alarm, e.state) for e in self.app.engine.entries.values()])


async def coolant_low(config: WerkConfig, file: SQLiteFile, tmp_path: Path) -> tuple[Instance, list[Event]]:
    """A first instance that sees the coolant drop below its limit at minute 2; its events."""
    first = Instance(config, file, tmp_path, at(0))
    path = config.asset("cnc-1").signal_path("coolant_level")
    return first, await first.feed([Sample(path, at(1), 50.0), Sample(path, at(2), 10.0)])


def config_with_rules(tmp_path: Path) -> WerkConfig:
    config = alarm_config(tmp_path)
    settings = config.app("alarms")
    notifications = NotificationSettings.model_validate(RULES)
    return config.model_copy(
        update={
            "apps": config.apps.model_copy(
                update={"alarms": settings.model_copy(update={"notifications": notifications})}
            )
        }
    )


async def test_an_acknowledged_alarm_stays_acknowledged_and_is_not_raised_again_after_a_restart(
    werk_file: SQLiteFile, tmp_path: Path
) -> None:
    config = alarm_config(tmp_path)
    path = config.asset("cnc-1").signal_path("coolant_level")
    first, raised = await coolant_low(config, werk_file, tmp_path)
    assert [(e.data["action"], e.data["to"]) for e in raised] == [("activate", "unack")]
    first.now = at(3)
    await first.app.act("acknowledge", COOLANT, "olga", "refill ordered")
    assert first.state() == "acked"

    second = Instance(config, werk_file, tmp_path, at(4))  # the restart
    assert second.state() == "acked"
    row = second.app.row(second.app.engine.entry(COOLANT), at(4))
    assert row["active_since"] == at(2) and row["value"] == 10.0
    # the condition still holds (within the deadband, too): nothing happens
    assert await second.feed([Sample(path, at(5), 12.0)], [Sample(path, at(6), 21.0)]) == []
    assert second.state() == "acked"
    # it clears above limit + deadband: one clear, to normal (it was acknowledged before the restart)
    (cleared,) = await second.feed([Sample(path, at(7), 30.0)])
    assert (cleared.data["action"], cleared.data["from"], cleared.data["to"]) == ("clear", "acked", "normal")
    actions = [r["action"] for r in second.app.store.journal(limit=100) if r["alarm"] == COOLANT]
    assert sorted(actions) == ["acknowledge", "activate", "clear"]


async def test_an_unacknowledged_alarm_is_not_notified_twice_after_a_restart_and_escalates_on_time(
    werk_file: SQLiteFile, tmp_path: Path
) -> None:
    config = config_with_rules(tmp_path)
    path = config.asset("cnc-1").signal_path("coolant_level")
    first, _ = await coolant_low(config, werk_file, tmp_path)
    (mail,) = first.due(at(2.1))
    assert (mail.alarm, mail.activation, mail.level) == (COOLANT, at(2), 0)
    first.app.store.log_delivery(at(2.1), mail, "sent", 1, "")

    second = Instance(config, werk_file, tmp_path, at(3))  # the restart, before anyone acknowledged
    assert second.state() == "unack"
    assert second.due(at(3)) == []  # the shift lead was told already
    assert await second.feed([Sample(path, at(4), 11.0)]) == []  # still low: not raised again
    # five minutes after it was raised (not after the restart) the manager is told, once
    assert second.due(at(6.9)) == []
    (escalation,) = second.due(at(7.1))
    assert (escalation.activation, escalation.level, escalation.target) == (at(2), 1, "manager@plant.example")
    assert second.due(at(8)) == []
