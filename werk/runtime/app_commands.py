"""Commands from a ``werk api`` replica to the app instance that runs an app in a cluster.

A served instance (``AppContext.served``) holds no state machine; what a person does there that such a machine must
learn of (an acknowledge, a booking by hand, a release) goes as a command to the ``werk worker``
whose app host runs the app (werk.runtime.app_host), which applies it as a local action (:meth:`App.command`) and
answers with the outcome. NATS request/reply, one subject per app and partition,
``werk.apps.<app>.commands.<partition>``; the host subscribes to the subjects of the partitions whose apps it runs,
only while it runs them.
A per-asset app's command goes to the partition of its asset; a plant-wide app's (no asset) to partition
:data:`PLANT`, the one lease of the plant-wide apps' group, which only the holder of the plant lease serves.

The contract:

- a command carries an id (:func:`uuid.uuid4`): the host answers a command id it has seen (the last
  ``REMEMBERED`` of them) with the answer it gave, and does not apply it again, so the client retries a request
  whose answer it did not get with the same id. The host passes the id to the app (:meth:`App.command`'s
  ``key``): ids are remembered per host, so an app whose action must not be applied twice across a takeover (a
  host that applied it and died before answering; the retry reaches the next holder) keeps the id with what the
  action wrote and answers a known id from there;
- no host answering within ``TIMEOUT_S`` (plus the ``takes_s`` the sender says the action may take where it is
  applied: a solver's time limit) is :class:`~werk.errors.RunsElsewhere` (503, "no worker holds this asset now;
  try again", or for a plant-wide app "no worker runs this app now"), never a silent loss: a command the client
  gave up on may still have been applied once, which the app's tables show;
- a command larger than the broker takes is refused before it is sent (:class:`~werk.errors.InputError`, 422);
- the app's refusal comes back as :class:`CommandRefused` with the exception's class name and message (and an
  :class:`~werk.errors.InputError`'s ``loc``), for the app to raise its own error again.
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

import nats.errors
from pydantic_core import to_jsonable_python

from werk.bus.jetstream import connect
from werk.config.model import ClusterConfig
from werk.errors import CommandRefused, InputError, RunsElsewhere, WerkError
from werk.i18n import N_

log = logging.getLogger(__name__)

TIMEOUT_S = 5.0  # how long the client tries in all before it says no worker holds the asset
ATTEMPT_S = 2.0  # one request's wait for its answer
RETRY_S = 0.3
REMEMBERED = 4096  # command ids (and answers) a host keeps, so a retried command is applied once
PLANT = 0  # the partition whose subject a plant-wide app's commands go to: its group's one lease

#: A command's handler in the host: the command's body and its id (the app's ``key``); its answer
Handler = Callable[[Mapping[str, Any], str], Awaitable[Any]]

#: What the API answers (503) when no worker answered a command for an asset's app in time
NO_HOLDER = N_(
    "No worker holds this asset now (its partition is moving, or no worker runs the app): try again in a few "
    "seconds ({what})."
)
#: ... for a plant-wide app, which one worker runs, the one holding the plant lease
NO_PLANT_HOLDER = N_(
    "No worker runs this app now (the plant lease is moving, or no worker runs the plant-wide apps): try again in "
    "a few seconds ({what})."
)


def subject(app: str, partition: int) -> str:
    """The subject the holder of ``partition`` answers ``app``'s commands on."""
    return f"werk.apps.{app}.commands.{partition}"


class CommandClient:
    """The replica's side: connects to the broker on first use; :meth:`send` until :meth:`close`."""

    def __init__(self, cfg: ClusterConfig, partitions: int, partition_of: Callable[[str, int], int]) -> None:
        self.cfg = cfg
        self.partitions = partitions
        self.partition_of = partition_of
        self._nc: Any = None
        self._lock = asyncio.Lock()

    async def _connection(self) -> Any:
        async with self._lock:
            if self._nc is None:
                self._nc = await connect(self.cfg, "werk-api-commands")
            return self._nc

    async def send(
        self, app: str, asset: str | None, body: Mapping[str, Any], what: str, *, takes_s: float = 0.0
    ) -> Any:
        """``body`` to the instance of ``app`` running ``asset`` (its UNS path; None: ``app`` is plant-wide, its
        one instance answers); its answer. ``takes_s``: how long applying it may take there, waited for beyond
        TIMEOUT_S. Raises RunsElsewhere (with ``what``, the asset's name or what was asked, for the message) when
        none answered in time, CommandRefused when it refused, InputError for a body larger than the broker
        takes."""
        payload = json.dumps({"id": uuid.uuid4().hex, "body": to_jsonable_python(body)}).encode()
        to = subject(app, PLANT if asset is None else self.partition_of(asset, self.partitions))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + TIMEOUT_S + takes_s
        while True:
            try:
                nc = await self._connection()
                if len(payload) > nc.max_payload:
                    raise InputError(
                        f"the request is too large to send to the worker that runs the app: {len(payload)} bytes "
                        f"as a command, the broker takes {nc.max_payload} at most",
                        ("body",),
                    )
                wait = min(ATTEMPT_S + takes_s, max(deadline - loop.time(), 0.1))
                msg = await nc.request(to, payload, timeout=wait)
                break
            except (nats.errors.Error, OSError, TimeoutError) as exc:
                if loop.time() + RETRY_S >= deadline:
                    log.warning("apps.command_unanswered subject=%s error=%r", to, exc)
                    raise RunsElsewhere(
                        NO_HOLDER if asset is not None else NO_PLANT_HOLDER, what=what
                    ) from None
                await asyncio.sleep(RETRY_S)
        answer = json.loads(msg.data)
        if "error" in answer:
            loc = tuple(x if isinstance(x, int) else str(x) for x in answer.get("loc", ()))
            raise CommandRefused(answer["error"], answer.get("detail", ""), loc)
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

    async def serve(self, handlers: Mapping[str, Handler], partitions: frozenset[int]) -> None:
        """Answer on the subjects of ``partitions`` for each app of ``handlers`` (by name) from now on, instead of
        what it answered before (the plant-wide apps' group holds :data:`PLANT` alone)."""
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

    def _callback(self, handle: Handler) -> Any:
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
                    known.set_result(await self._apply(handle, body, cid))
                except BaseException:  # cancelled: not applied, a retry may apply it
                    self._answers.pop(cid, None)
                    known.cancel()
                    raise
            await msg.respond(await asyncio.shield(known))

        return answer

    @staticmethod
    async def _apply(handle: Handler, body: Mapping[str, Any], cid: str) -> bytes:
        try:
            out: dict[str, Any] = {"ok": await handle(body, cid)}
        except InputError as exc:
            out = {"error": type(exc).__name__, "detail": str(exc), "loc": list(exc.loc)}
        except WerkError as exc:
            out = {"error": type(exc).__name__, "detail": str(exc)}
        except Exception as exc:
            log.exception("apps.command_failed")
            out = {"error": type(exc).__name__, "detail": f"the command failed: {exc}"}
        return json.dumps(to_jsonable_python(out)).encode()
