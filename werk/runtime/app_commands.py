"""Commands from a ``werk api`` replica to the app instance that runs an asset's app in a cluster.

A served instance (``AppContext.served``) holds no state machine; what a person does there that such a machine must
learn of (an alarm's acknowledge) goes as a command to the ``werk worker`` whose app host holds the asset's
partition (werk.runtime.app_host), which applies it as a local action (:meth:`App.command`) and answers with the
outcome. NATS request/reply, one subject per app and partition: ``werk.apps.<app>.commands.<partition>``; the host
subscribes to the subjects of the partitions whose apps it runs, only while it runs them.

The contract:

- a command carries an id (:func:`uuid.uuid4`): the host answers a command id it has seen (the last
  ``REMEMBERED`` of them) with the answer it gave, and does not apply it again, so the client retries a request
  whose answer it did not get with the same id;
- no host answering within ``TIMEOUT_S`` (no member holds the partition, or it is moving) is
  :class:`~werk.errors.RunsElsewhere` (503, "no worker holds this asset now; try again"), never a silent loss: a
  command the client gave up on may still have been applied once, which the journal shows;
- the app's refusal comes back as :class:`CommandRefused` with the exception's class name and message, for the
  app to raise its own error again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import nats
import nats.errors
from pydantic_core import to_jsonable_python

from werk.errors import CommandRefused, RunsElsewhere, WerkError
from werk.i18n import N_

log = logging.getLogger(__name__)

TIMEOUT_S = 5.0  # how long the client tries in all before it says no worker holds the asset
ATTEMPT_S = 2.0  # one request's wait for its answer
RETRY_S = 0.3
REMEMBERED = 4096  # command ids (and answers) a host keeps, so a retried command is applied once

#: What the API answers (503) when no worker answered a command for an asset's app in time
NO_HOLDER = N_(
    "No worker holds this asset now (its partition is moving, or no worker runs the app): try again in a few "
    "seconds ({what})."
)


def subject(app: str, partition: int) -> str:
    """The subject the holder of ``partition`` answers ``app``'s commands on."""
    return f"werk.apps.{app}.commands.{partition}"


class CommandClient:
    """The replica's side: connects to the broker on first use; :meth:`send` until :meth:`close`."""

    def __init__(self, nats_url: str, partitions: int, partition_of: Callable[[str, int], int]) -> None:
        self.nats_url = nats_url
        self.partitions = partitions
        self.partition_of = partition_of
        self._nc: Any = None
        self._lock = asyncio.Lock()

    async def _connection(self) -> Any:
        async with self._lock:
            if self._nc is None:
                self._nc = await nats.connect(
                    self.nats_url, name="werk-api-commands", connect_timeout=2, max_reconnect_attempts=-1
                )
            return self._nc

    async def send(self, app: str, asset: str, body: Mapping[str, Any], what: str) -> Any:
        """``body`` to the instance of ``app`` running ``asset`` (its UNS path); its answer. Raises RunsElsewhere
        (with ``what``, the asset's name, for the message) when none answered within TIMEOUT_S, CommandRefused
        when it refused."""
        payload = json.dumps({"id": uuid.uuid4().hex, "body": to_jsonable_python(body)}).encode()
        to = subject(app, self.partition_of(asset, self.partitions))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + TIMEOUT_S
        while True:
            try:
                nc = await self._connection()
                msg = await nc.request(to, payload, timeout=min(ATTEMPT_S, max(deadline - loop.time(), 0.1)))
                break
            except (nats.errors.Error, OSError, TimeoutError) as exc:
                if loop.time() + RETRY_S >= deadline:
                    log.warning("apps.command_unanswered subject=%s error=%r", to, exc)
                    raise RunsElsewhere(NO_HOLDER, what=what) from None
                await asyncio.sleep(RETRY_S)
        answer = json.loads(msg.data)
        if "error" in answer:
            raise CommandRefused(answer["error"], answer.get("detail", ""))
        return answer["ok"]

    async def close(self) -> None:
        if self._nc is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._nc.close(), 5)
            self._nc = None


class CommandServer:
    """The host's side: answers the commands of the apps it runs for the partitions it holds (:meth:`serve`),
    each command id once."""

    def __init__(self, nc: Any) -> None:
        self.nc = nc
        self._subs: list[Any] = []
        self._answers: OrderedDict[str, asyncio.Future[bytes]] = OrderedDict()

    async def serve(
        self,
        handlers: Mapping[str, Callable[[Mapping[str, Any]], Awaitable[Any]]],
        partitions: frozenset[int],
    ) -> None:
        """Answer on the subjects of ``partitions`` for each app of ``handlers`` (by name) from now on, instead of
        what it answered before."""
        await self.stop()
        for app, handle in handlers.items():
            for p in sorted(partitions):
                self._subs.append(await self.nc.subscribe(subject(app, p), cb=self._callback(handle)))

    async def stop(self) -> None:
        """Answer nothing more (a command in hand is finished)."""
        subs, self._subs = self._subs, []
        for sub in subs:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    def _callback(self, handle: Callable[[Mapping[str, Any]], Awaitable[Any]]) -> Any:
        async def answer(msg: Any) -> None:
            try:
                command = json.loads(msg.data)
                cid, body = str(command["id"]), command["body"]
            except (ValueError, KeyError, TypeError) as exc:
                await msg.respond(
                    json.dumps({"error": "InputError", "detail": f"bad command: {exc}"}).encode()
                )
                return
            known = self._answers.get(cid)
            if known is None:
                known = self._answers[cid] = asyncio.get_running_loop().create_future()
                while len(self._answers) > REMEMBERED:
                    self._answers.popitem(last=False)
                try:
                    known.set_result(await self._apply(handle, body))
                except BaseException:  # cancelled: not applied, a retry may apply it
                    self._answers.pop(cid, None)
                    known.cancel()
                    raise
            await msg.respond(await asyncio.shield(known))

        return answer

    @staticmethod
    async def _apply(handle: Callable[[Mapping[str, Any]], Awaitable[Any]], body: Mapping[str, Any]) -> bytes:
        try:
            out: dict[str, Any] = {"ok": await handle(body)}
        except WerkError as exc:
            out = {"error": type(exc).__name__, "detail": str(exc)}
        except Exception as exc:
            log.exception("apps.command_failed")
            out = {"error": type(exc).__name__, "detail": f"the command failed: {exc}"}
        return json.dumps(to_jsonable_python(out)).encode()
