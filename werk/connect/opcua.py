"""OPC UA client connector (asyncua): one session per server, monitored items in one subscription, batched.

Each publish response from the server becomes one batch: the server already groups the changes of a publishing
interval, so the connector adds no latency of its own. Source timestamps are kept (they identify a sample).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from datetime import UTC
from typing import Any

from asyncua import Client, ua

from werk.config.model import OpcUaConnectorConfig
from werk.connect.base import ConnectorStatus, SignalLedger
from werk.core.model import Quality, Sample, Value, utcnow
from werk.errors import ConnectorError

log = logging.getLogger(__name__)

MAX_PENDING = (
    200_000  # samples held while the consumer is slower than the server; beyond that they are counted
)


def resolve_node_id(address: str, namespaces: list[str]) -> ua.NodeId:
    """Turn ``nsu=URI;s=...`` into a NodeId with the server's index for URI; pass other NodeId strings through.

    Namespace indexes may differ between servers and restarts; the URI does not (OPC UA Part 6, 5.3.1.11).
    """
    if address.startswith("nsu="):
        uri, sep, rest = address[4:].partition(";")
        if not sep:
            raise ConnectorError(f"node id {address!r}: expected 'nsu=URI;s=...' or 'nsu=URI;i=...'")
        if uri not in namespaces:
            raise ConnectorError(f"node id {address!r}: the server has no namespace {uri!r}")
        address = f"ns={namespaces.index(uri)};{rest}"
    try:
        return ua.NodeId.from_string(address)
    except Exception as exc:  # asyncua raises several types for a malformed string
        raise ConnectorError(f"node id {address!r} is malformed: {exc}") from None


def _quality(code: Any) -> Quality:
    if code is None or code.is_good():
        return Quality.GOOD
    if code.is_uncertain():
        return Quality.UNCERTAIN
    return Quality.BAD


def _value(v: Any) -> Value | None:
    if isinstance(v, bool | int | float | str):
        return v
    if isinstance(v, ua.LocalizedText):
        return v.Text or ""
    if v is None:
        return None
    return str(v)


class _Handler:
    """asyncua calls this for every notification; it only appends, the stream loop does the rest."""

    def __init__(self, conn: OpcUaConnector, paths: Mapping[ua.NodeId, str]) -> None:
        self.conn = conn
        self.paths = paths
        self.pending: list[Sample] = []
        self.wake = asyncio.Event()
        self.lost: str | None = None

    def datachange_notification(self, node: Any, val: Any, data: Any) -> None:
        path = self.paths.get(node.nodeid)
        value = _value(val)
        if path is None or value is None:
            return
        dv = data.monitored_item.Value
        ts = dv.SourceTimestamp or dv.ServerTimestamp or utcnow()
        if ts.tzinfo is None:
            ts = ts.replace(tzinfo=UTC)
        if len(self.pending) >= MAX_PENDING:
            self.pending.pop(0)
            self.conn.status.dropped += 1
        self.pending.append(Sample(path, ts, value, _quality(dv.StatusCode)))
        self.wake.set()

    def status_change_notification(self, status: Any) -> None:
        self.lost = f"subscription status {status}"
        self.wake.set()


class OpcUaConnector:
    def __init__(self, name: str, config: OpcUaConnectorConfig, bindings: Mapping[str, str]) -> None:
        """``bindings`` maps a node address (NodeId string) to the UNS path it feeds."""
        self.name = name
        self.config = config
        self.bindings = dict(bindings)
        self.status = ConnectorStatus(name=name, type="opcua", endpoint=config.endpoint)
        self._ledger = SignalLedger(self.status)

    async def stream(self) -> AsyncIterator[list[Sample]]:
        delay = self.config.reconnect_min_s
        while True:
            client = Client(self.config.endpoint, timeout=self.config.timeout_s)
            was_connected = False
            try:
                await client.connect()
                handler = await self._subscribe(client)
                was_connected = True
                self.status.connected = True
                self.status.since = utcnow()
                delay = self.config.reconnect_min_s
                log.info("opcua.connected connector=%s endpoint=%s", self.name, self.config.endpoint)
                async for batch in self._batches(client, handler):
                    yield batch
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure of the session leads to the same recovery
                self._ledger.lost(exc, was_connected=was_connected, logger=log, protocol="opcua")
            finally:
                self.status.connected = False
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await asyncio.wait_for(client.disconnect(), 2.0)
            if was_connected:
                bad = self._ledger.mark_bad()
                if bad:
                    yield bad
            self.status.reconnects += 1
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.config.reconnect_max_s)

    async def _subscribe(self, client: Client) -> _Handler:
        namespaces = await client.get_namespace_array()
        paths: dict[ua.NodeId, str] = {}
        for address, path in self.bindings.items():
            try:
                paths[resolve_node_id(address, namespaces)] = path
            except ConnectorError as exc:
                self.status.bad_bindings[path] = str(exc)
                log.error("opcua.binding connector=%s path=%s error=%s", self.name, path, exc)
        handler = _Handler(self, paths)
        sub = await client.create_subscription(self.config.publishing_interval_ms, handler)
        nodes = [client.get_node(nid) for nid in paths]
        results = await sub.subscribe_data_change(nodes, queuesize=10) if nodes else []
        for nid, res in zip(paths, results, strict=True):
            if isinstance(res, ua.StatusCode):
                self.status.bad_bindings[paths[nid]] = f"{nid.to_string()}: {res.name}"
                log.error(
                    "opcua.monitor connector=%s node=%s status=%s", self.name, nid.to_string(), res.name
                )
        return handler

    async def _batches(self, client: Client, handler: _Handler) -> AsyncIterator[list[Sample]]:
        """Yield what the handler collected; probe the server between notifications to notice a dead session."""
        probe_every = max(1.0, self.config.publishing_interval_ms / 1000 * 4)
        while True:
            try:
                await asyncio.wait_for(handler.wake.wait(), probe_every)
            except TimeoutError:
                await asyncio.wait_for(client.nodes.server_state.read_value(), self.config.timeout_s)
            handler.wake.clear()
            if handler.lost:
                raise ConnectorError(handler.lost)
            if handler.pending:
                batch, handler.pending = handler.pending, []
                self._ledger.account(batch)
                yield batch
