"""The maintenance app's own tables (in the werk file, or on PostgreSQL): work orders (the whole order as JSON, indexed by asset and
status) and each asset's health state (its healthy baseline and warnings, as JSON), so a restart neither relearns
a baseline nor forgets a raised warning."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Any

from werk.apps.maintenance.orders import WorkOrder
from werk.core.model import to_micros
from werk.store.app_database import AppDatabase, app_database
from werk.store.migrations import Migration
from werk.store.sqlite_file import SQLiteFile

MIGRATIONS = (
    Migration(
        1,
        "maintenance work orders",
        """
        CREATE TABLE work_order (
            id       TEXT PRIMARY KEY,
            asset    TEXT NOT NULL,
            status   TEXT NOT NULL,
            created  INTEGER NOT NULL,
            body     TEXT NOT NULL                -- the whole order as JSON (see werk.core.maintenance)
        );
        CREATE INDEX work_order_asset ON work_order (asset, created);
        CREATE INDEX work_order_status ON work_order (status, created);
        """,
        legacy=4,
    ),
    Migration(
        2,
        "maintenance baselines and warning states per asset",
        """
        CREATE TABLE maintenance_health (
            asset    TEXT PRIMARY KEY,
            updated  INTEGER NOT NULL,            -- microseconds since the epoch
            body     TEXT NOT NULL                -- AssetHealth.to_state() as JSON
        );
        """,
    ),
)


class MaintenanceStore:
    """Work orders, upserted by id; health states, one per asset."""

    def __init__(self, db: AppDatabase | SQLiteFile) -> None:
        self.db = app_database(db)

    def upsert_work_order(self, wo: WorkOrder) -> None:
        body = json.dumps(dataclasses.asdict(wo), default=_iso)
        with self.db.transaction() as tx:
            tx.execute(
                "INSERT INTO work_order VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                "status = excluded.status, body = excluded.body",
                (wo.id, wo.asset, wo.status, to_micros(wo.created), body),
            )

    def get_work_order(self, wo_id: str) -> WorkOrder | None:
        row = self.db.query_one("SELECT body FROM work_order WHERE id = ?", (wo_id,))
        return None if row is None else _work_order(json.loads(row[0]))

    def query_work_orders(
        self, *, asset: str | None = None, status: str | None = None, limit: int = 500
    ) -> list[WorkOrder]:
        where: list[str] = ["1 = 1"]
        args: list[object] = []
        if asset:
            where.append("asset = ?")
            args.append(asset)
        if status:
            where.append("status = ?")
            args.append(status)
        rows = self.db.query(
            f"SELECT body FROM work_order WHERE {' AND '.join(where)} ORDER BY created DESC LIMIT ?",
            (*args, limit),
        )
        return [_work_order(json.loads(body)) for (body,) in rows]

    def open_work_order(self, asset: str, source: str) -> WorkOrder | None:
        """The newest order of ``asset`` raised by ``source`` that is not done yet, if any."""
        rows = self.db.query(
            "SELECT body FROM work_order WHERE asset = ? AND status != 'done' ORDER BY created DESC", (asset,)
        )
        for (body,) in rows:
            wo = _work_order(json.loads(body))
            if wo.source == source:
                return wo
        return None

    def save_health(self, states: dict[str, dict[str, Any]], at: datetime) -> None:
        with self.db.transaction() as tx:
            tx.executemany(
                "INSERT INTO maintenance_health VALUES (?, ?, ?) ON CONFLICT (asset) DO UPDATE SET "
                "updated = excluded.updated, body = excluded.body",
                [(asset, to_micros(at), json.dumps(body)) for asset, body in states.items()],
            )

    def load_health(self) -> dict[str, dict[str, Any]]:
        rows = self.db.query("SELECT asset, body FROM maintenance_health")
        return {asset: json.loads(body) for asset, body in rows}


def _iso(v: object) -> str:
    if isinstance(v, datetime):
        return v.isoformat()
    raise TypeError(f"cannot store {type(v).__name__} in a work order")


def _work_order(d: dict[str, object]) -> WorkOrder:
    for k in ("created", "planned_for", "started", "done", "last_seen", "cleared"):
        if d.get(k) is not None:
            d[k] = datetime.fromisoformat(str(d[k]))
    return WorkOrder(**d)  # type: ignore[arg-type]
