"""Keeps a historian's rollups fresh (werk.store.postgres_rollup): every few seconds, the minutes written since the
last refresh that have settled are rolled up. Runs in every process that writes samples (``werk worker``, ``werk
serve`` on PostgreSQL); the store lets one of them refresh at a time and the others skip, so N workers refresh no
more than one would. A historian without rollups (SQLite) makes this return at once."""

from __future__ import annotations

import asyncio
import logging

from werk.store.base import Historian

log = logging.getLogger(__name__)

REFRESH_EVERY_S = 5.0


async def keep_rollups_fresh(historian: Historian, every_s: float = REFRESH_EVERY_S) -> None:
    """Refresh until cancelled; a failed refresh (the database away) is logged and tried again next time (a
    reader meanwhile reads the minutes not yet rolled up from the raw samples: slower, never wrong)."""
    from werk.store.postgres_rollup import RollupHistorian, refresh_budget

    if not isinstance(historian, RollupHistorian):
        return
    while True:
        try:
            n = await asyncio.to_thread(refresh_budget, historian, every_s)
            if n:
                log.debug("rollup.refreshed minutes=%d", n)
        except Exception as exc:
            log.warning("rollup.refresh_failed error=%s", " ".join(str(exc).split()))
        await asyncio.sleep(every_s)
