"""Alarm notifications: who is told of which alarm and when (pure, :class:`Planner`), and the delivery by e-mail
(SMTP) and webhook (an HTTP POST of JSON) with retries and a log (:class:`Sender`).

A rule applies to an alarm by priority, area and shift (the plant's shifts, in its timezone, at the moment the
alarm was raised). Its first level goes out ``delay_s`` after the alarm was raised, each escalation ``after_s``
after it, and each only while the alarm still waits for an acknowledge (unack, returned unacknowledged, latched):
an acknowledged, shelved or suppressed alarm is not escalated. Each (alarm, activation, rule, level) is sent once,
across restarts too (the app gives the planner what the delivery log holds); a new activation starts over. A failed delivery is tried again ``retries`` times, ``retry_delay_s`` doubling; the
log keeps one row per delivery with its attempts and the last error.
"""

from __future__ import annotations

import asyncio
import os
import smtplib
import ssl
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from werk.apps.alarms.settings import Alarm, NotificationRule, NotificationSettings
from werk.apps.alarms.states import ACKABLE, AlarmState
from werk.config.model import ShiftConfig

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Delivery:
    """One message to one target."""

    alarm: str
    activation: datetime
    rule: str
    level: int  # 0: the rule's own targets; 1, 2, ...: its escalations
    channel: str  # email or webhook
    target: str
    payload: dict[str, Any] = field(hash=False, compare=False)


def in_shift(local: datetime, shift: ShiftConfig) -> bool:
    """Whether a local time falls in the shift (a shift ending at or before its start ends the next day, and
    belongs to the day it starts on)."""
    start, end = time.fromisoformat(shift.start), time.fromisoformat(shift.end)
    t = local.time()
    if start < end:
        return start <= t < end and WEEKDAYS[local.weekday()] in shift.days
    if t >= start:
        return WEEKDAYS[local.weekday()] in shift.days
    if t < end:
        return WEEKDAYS[(local - timedelta(days=1)).weekday()] in shift.days
    return False


class Planner:
    """Decides the deliveries due at a given time; remembers what it decided so nothing is sent twice."""

    def __init__(self, settings: NotificationSettings, shifts: Sequence[ShiftConfig], timezone: str) -> None:
        self.rules = settings.rules
        self.shifts = {s.name: s for s in shifts}
        self.tz = ZoneInfo(timezone)
        self.sent: set[tuple[str, datetime, str, int]] = set()

    def applies(self, rule: NotificationRule, alarm: Alarm, raised: datetime) -> bool:
        if rule.priorities and alarm.priority not in rule.priorities:
            return False
        if rule.areas and alarm.area not in rule.areas:
            return False
        if rule.shifts:
            local = raised.astimezone(self.tz)
            return any(in_shift(local, self.shifts[s]) for s in rule.shifts if s in self.shifts)
        return True

    def plan(self, now: datetime, alarms: Iterable[tuple[Alarm, AlarmState]]) -> list[Delivery]:
        out: list[Delivery] = []
        waiting: set[tuple[str, datetime]] = set()
        for alarm, st in alarms:
            raised = st.raised
            if raised is None or st.state not in ACKABLE:
                continue
            waiting.add((alarm.id, raised))
            for rule in self.rules:
                if not self.applies(rule, alarm, raised):
                    continue
                levels = [(rule.delay_s, rule.email, rule.webhook)]
                levels += [(e.after_s, e.email, e.webhook) for e in rule.escalate]
                for level, (after, emails, hooks) in enumerate(levels):
                    key = (alarm.id, raised, rule.name, level)
                    if key in self.sent or (now - raised).total_seconds() < after:
                        continue
                    self.sent.add(key)
                    payload = self.payload(alarm, st, rule, level, now)
                    out += [Delivery(alarm.id, raised, rule.name, level, "email", a, payload) for a in emails]
                    out += [
                        Delivery(alarm.id, raised, rule.name, level, "webhook", u, payload) for u in hooks
                    ]
        # forget what belongs to activations nobody waits on any more
        self.sent = {k for k in self.sent if (k[0], k[1]) in waiting}
        return out

    @staticmethod
    def payload(
        alarm: Alarm, st: AlarmState, rule: NotificationRule, level: int, now: datetime
    ) -> dict[str, Any]:
        return {
            "kind": "alarm",
            "id": alarm.id,
            "asset": alarm.asset,
            "area": alarm.area,
            "priority": alarm.priority,
            "state": st.state,
            "message": alarm.message(),
            "consequence": alarm.d.consequence,
            "response": alarm.d.response,
            "value": st.value if isinstance(st.value, int | float | str | bool) else None,
            "raised": st.raised.isoformat() if st.raised else None,
            "unacknowledged_s": round((now - st.raised).total_seconds(), 1) if st.raised else None,
            "rule": rule.name,
            "escalation": level,
        }


def email_message(d: Delivery, sender: str) -> EmailMessage:
    p = d.payload
    msg = EmailMessage()
    level = f" (escalation {d.level})" if d.level else ""
    msg["Subject"] = f"[werk alarm] {p['priority'].upper()} {p['asset']}: {p['message']}{level}"
    msg["From"] = sender
    msg["To"] = d.target
    lines = [
        f"{p['message']} on {p['asset']} ({p['area']}), priority {p['priority']}, state {p['state']}.",
        f"Raised {p['raised']}; unacknowledged for {p['unacknowledged_s']} s.",
        f"Value: {p['value']}",
    ]
    if p["consequence"]:
        lines.append(f"Consequence: {p['consequence']}")
    if p["response"]:
        lines.append(f"Response: {p['response']}")
    lines.append(f"Alarm {p['id']}, rule {p['rule']}.")
    msg.set_content("\n".join(lines))
    return msg


class Sender:
    """Delivers with retries; ``log`` receives one row per delivery when it is done (sent or failed)."""

    def __init__(self, settings: NotificationSettings, client: httpx.AsyncClient, log: Any) -> None:
        self.settings = settings
        self.client = client
        self.log = log  # async callable(delivery, status, attempts, error)
        self.sent = 0
        self.failed = 0

    async def deliver(self, d: Delivery) -> bool:
        s = self.settings
        error = ""
        for attempt in range(1, s.retries + 2):
            try:
                if d.channel == "email":
                    await asyncio.to_thread(self._mail, d)
                else:
                    r = await self.client.post(d.target, json=d.payload)
                    r.raise_for_status()
            except (OSError, smtplib.SMTPException, httpx.HTTPError) as exc:
                error = f"{type(exc).__name__}: {exc}"[:500]
                if attempt <= s.retries:
                    await asyncio.sleep(s.retry_delay_s * 2 ** (attempt - 1))
                continue
            self.sent += 1
            await self.log(d, "sent", attempt, "")
            return True
        self.failed += 1
        await self.log(d, "failed", s.retries + 1, error)
        return False

    def _mail(self, d: Delivery) -> None:
        smtp = self.settings.smtp
        if smtp is None:
            raise smtplib.SMTPException("no mail server configured (apps.alarms.notifications.smtp)")
        msg = email_message(d, smtp.sender)
        cls = smtplib.SMTP_SSL if smtp.tls == "tls" else smtplib.SMTP
        with cls(smtp.host, smtp.port, timeout=smtp.timeout_s) as server:
            if smtp.tls == "starttls":
                server.starttls(context=ssl.create_default_context())
            if smtp.username:
                server.login(smtp.username, os.environ.get(smtp.password_env, ""))
            server.send_message(msg)
