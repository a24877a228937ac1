"""OPC UA client connector (asyncua): one session per server, monitored items in one subscription, batched.

Each publish response from the server (OPC UA Part 4 v1.05, 5.14.5 Publish) becomes one batch: the server already groups
the changes of a publishing interval, so the connector adds no latency of its own. Source timestamps are kept (they
identify a sample). Notifications are decoded straight from the ``DataChangeNotification`` (Part 4, 7.25.2) by client
handle, not through asyncua's per-item handler callback, which schedules one task per changed value.

Addresses, per binding:

* a NodeId (Part 6, 5.3.1.10): ``ns=2;s=...``, ``i=...``, or ``nsu=URI;s=...`` resolved to the server's namespace
  index at connect time;
* a browse path: ``browse:`` followed by a RelativePath in the text form of Part 4, Annex A.2, starting at the Root
  folder (``browse:/Objects/2:Machines/2:cnc-1/2:Monitoring/2:Load``; the leading ``/`` may be left out). A
  binding's ``root`` may hold the first part (``root: "browse:/Objects/2:Machines/2:cnc-1"``, signal
  ``/2:Monitoring/2:Load``). Paths are resolved with TranslateBrowsePathsToNodeIds (Part 4, 5.8.4) after every
  connect; one that matches nothing is reported for its binding alone (``status.bad_bindings``).

Alarms and Conditions (Part 9): a binding address ``condition:<notifier>#<ConditionName>`` (the notifier a NodeId
as above, an object whose EventNotifier lets clients subscribe to events, such as the condition's source or the
Server object ``i=2253``) subscribes to the notifier's events with an EventFilter selecting EventId, ConditionId,
ConditionName, Time, Severity, Message, ActiveState/Id and AckedState/Id (Part 9, 5.5 ConditionType, 5.7
AcknowledgeableConditionType, 5.8 AlarmConditionType), and turns each event of that condition into samples at the
event's Time: the signal itself is ActiveState/Id (a boolean), ``<signal>.acked`` AckedState/Id, ``<signal>.severity``
the Severity (1..1000) and ``<signal>.message`` the Message's text. Writing the signal (list it under ``writable``)
acknowledges the condition: Acknowledge (Part 9, 5.7.3) with the last EventId the server sent for it and the written
text as the comment, called on the event's ConditionId, or, when the server does not send one, on the notifier's
child whose browse name is the ConditionName.

Values (:func:`_value`): numbers, booleans and strings as they are; a DateTime is an instant as ISO 8601 UTC text
(``2026-03-04T05:06:07.250000Z``, :func:`werk.core.model.datetime_text`), not a Python object's text; a
ByteString base64; arrays and structures JSON text. A notification without a value (a Bad status carries none) and
a NaN become a BAD sample carrying the signal's last value. Source timestamps are kept.

Thousands of items: CreateMonitoredItems (Part 4, 5.13.2) is called with at most ``monitored_items_per_call`` items,
fewer if the server's ``MaxMonitoredItemsPerCall`` operation limit (Part 5, 6.3.11 OperationLimitsType) says so;
each item asks for ``sampling_interval_ms`` and ``queue_size`` (MonitoringParameters, Part 4, 7.21) and discards the
oldest value when its queue overflows.

Security (Part 4, 5.5.2 OpenSecureChannel; Part 6, 6.1 certificates): ``security_policy: Basic256Sha256`` with
``security_mode`` Sign or SignAndEncrypt, the client's application instance certificate and key, and optionally the
server certificate to trust (without it, the one the endpoint offers in GetEndpoints is used). The client's
ApplicationUri is taken from its certificate's subjectAltName, as Part 4, 5.6.2 requires of CreateSession.
A user name with a password from an environment variable becomes a UserNameIdentityToken (Part 4, 7.36.4).

Reconnect: the connector rebuilds the session and the subscription on any failure, and marks every bound signal BAD
in between. asyncua 2.x can instead re-activate the old session on a new channel (Part 4, 5.6.3) and move its
subscriptions with TransferSubscriptions (Part 4, 5.14.7) plus Republish (5.14.6), in its ``auto_reconnect``
supervisor. We do not use it: after a server restart, the case that matters on a shop floor, the server has lost
its sessions and subscriptions (unless it offers durable subscriptions and keeps them across a restart), so transfer fails
with BadSessionIdInvalid and ends in a rebuild anyway; the supervisor retries hidden from the connector, so the
BAD marking, the error counters and the back-off of this module would all depend on asyncua's internals; and it
keeps requests blocked while it reconnects. For a short network break, which transfer would bridge, the rebuild
costs one CreateMonitoredItems per batch and the values of the gap are re-read as the initial values the server
sends for every new monitored item (Part 4, 5.13.2), so the historian has the current state again at once.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import logging
import math
import os
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from asyncua import Client, ua
from asyncua.common.subscription import Subscription
from asyncua.crypto import security_policies
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pydantic import Field, model_validator

from werk.config.model import ConnectorSettings, WriteLimits
from werk.connect.base import ConnectorStatus, SessionConnector
from werk.connect.opcua_trust import TrustList, own_certificate
from werk.connect.spec import ConnectorSpec, types_of
from werk.core.model import Quality, Sample, Value, datetime_text, utcnow
from werk.errors import ConnectorError


class OpcUaConnectorConfig(ConnectorSettings):
    """An OPC UA server to subscribe to. One client session per connector, shared by every asset bound to it."""

    type: Literal["opcua"]
    endpoint: str = Field(pattern=r"^opc\.tcp://")
    """The server's endpoint URL (``opc.tcp://10.0.0.7:4840``)."""
    publishing_interval_ms: int = Field(default=200, ge=10, le=60_000)
    """How often the server sends the changes of the subscription (Part 4, 5.13.1.1), in milliseconds."""
    sampling_interval_ms: float = Field(default=0.0, ge=-1, le=3_600_000)
    """Requested per monitored item (OPC UA Part 4, 5.13.1.2, 7.21): 0 = the fastest practical, -1 = the publishing
    interval."""
    queue_size: int = Field(default=10, ge=1, le=100_000)
    """Changes a server keeps per monitored item between publish responses (Part 4, 7.21); the oldest go first."""
    monitored_items_per_call: int = Field(default=1000, ge=1, le=100_000)
    """Items per CreateMonitoredItems request; lowered to the server's MaxMonitoredItemsPerCall when it says so."""
    keepalive_s: float = Field(default=5.0, gt=0, le=3600)
    """How often the server is asked to report on a subscription that has no changes (a keep-alive, Part 4,
    5.13.1.1 and 5.13.2 RequestedMaxKeepAliveCount). Three missing in a row, with the server still answering
    reads, mean the subscription is dead: the session is rebuilt, and its signals are BAD meanwhile."""
    reconnect_min_s: float = Field(default=0.5, gt=0)
    """Seconds before the first attempt to reconnect; doubled after each failure."""
    reconnect_max_s: float = Field(default=10.0, gt=0)
    """The most seconds between two attempts to reconnect."""
    timeout_s: float = Field(default=4.0, gt=0)
    """Seconds to wait for the server's answer to a request."""
    security_policy: Literal["None", "Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss"] = (
        "None"
    )
    """The secure channel's policy (Part 7 security profiles); None only on a network you trust."""
    security_mode: Literal["Sign", "SignAndEncrypt"] = "SignAndEncrypt"
    """With a security policy: sign messages, or sign and encrypt them."""
    certificate: str | None = None
    """The client's application instance certificate (DER or PEM); required with a security policy."""
    private_key: str | None = None
    """The certificate's private key (PEM or DER), unencrypted; required with a security policy."""
    server_certificate: str | None = None
    """The server certificate to trust; without it the one the server's endpoint offers is taken (trust on use)."""
    pki_dir: str | None = None
    """The connector's PKI folder (werk.connect.opcua_trust): ``own/`` (its certificate, made when ``certificate``
    is not given), ``trusted/`` (server certificates it accepts), ``rejected/`` (those it refused, to move to
    trusted/). Without it (and without ``server_certificate``) the endpoint's certificate is taken as offered."""
    trust_on_first_use: bool = False
    """With ``pki_dir``: trust the first server certificate seen while ``trusted/`` is empty."""
    username: str | None = None
    """A user name for a UserNameIdentityToken (Part 4, 7.36.4); none: anonymous."""
    password_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    """Environment variable holding the user's password: it never sits in the plant file nor in a log."""

    @model_validator(mode="after")
    def _security(self) -> OpcUaConnectorConfig:
        if (
            self.security_policy != "None"
            and (self.certificate is None or self.private_key is None)
            and self.pki_dir is None
        ):
            raise ValueError(
                f"security_policy {self.security_policy} needs certificate and private_key, or a pki_dir "
                "where werk makes its own"
            )
        if self.password_env is not None and self.username is None:
            raise ValueError("password_env needs a username")
        return self


POLICIES: dict[str, type[security_policies.SecurityPolicy]] = {
    "Basic256Sha256": security_policies.SecurityPolicyBasic256Sha256,
    "Aes128_Sha256_RsaOaep": security_policies.SecurityPolicyAes128Sha256RsaOaep,
    "Aes256_Sha256_RsaPss": security_policies.SecurityPolicyAes256Sha256RsaPss,
}
"""The secure channel policies werk speaks (Part 7: the first two mandatory in companion profiles)."""

log = logging.getLogger(__name__)

MAX_PENDING = (
    200_000  # samples held while the consumer is slower than the server; beyond that they are counted
)
BROWSE_PREFIX = "browse:"
CONDITION_PREFIX = "condition:"
#: what an event monitored item selects of each condition event, in this order (Part 4, 7.22.3 EventFilter)
_EVENT_FIELDS: tuple[tuple[int, tuple[str, ...], int], ...] = (
    (ua.ObjectIds.BaseEventType, ("EventId",), ua.AttributeIds.Value),
    (ua.ObjectIds.ConditionType, (), ua.AttributeIds.NodeId),  # the ConditionId (Part 9, 5.5.2)
    (ua.ObjectIds.ConditionType, ("ConditionName",), ua.AttributeIds.Value),
    (ua.ObjectIds.BaseEventType, ("Time",), ua.AttributeIds.Value),
    (ua.ObjectIds.BaseEventType, ("Severity",), ua.AttributeIds.Value),
    (ua.ObjectIds.BaseEventType, ("Message",), ua.AttributeIds.Value),
    (ua.ObjectIds.AlarmConditionType, ("ActiveState", "Id"), ua.AttributeIds.Value),
    (ua.ObjectIds.AcknowledgeableConditionType, ("AckedState", "Id"), ua.AttributeIds.Value),
)
_ACKNOWLEDGE = ua.NodeId(ua.ObjectIds.AcknowledgeableConditionType_Acknowledge)


def event_filter() -> ua.EventFilter:
    flt = ua.EventFilter()
    clauses = []
    for type_id, path, attribute in _EVENT_FIELDS:
        op = ua.SimpleAttributeOperand()
        op.TypeDefinitionId = ua.NodeId(type_id)
        op.BrowsePath = [ua.QualifiedName(p, 0) for p in path]
        op.AttributeId = attribute
        clauses.append(op)
    flt.SelectClauses = clauses
    return flt


def _monitored_item(
    nid: ua.NodeId,
    attribute: int,
    handle: int,
    sampling_ms: float,
    queue_size: int,
    events: ua.EventFilter | None = None,
) -> tuple[ua.NodeId, ua.MonitoredItemCreateRequest]:
    """A reporting monitored item on ``attribute`` of ``nid`` (Part 4, 5.12.2), keeping the newest values when its
    queue overflows; ``events`` selects the fields of an EventNotifier's events."""
    params = ua.MonitoringParameters(
        ClientHandle=handle, SamplingInterval=sampling_ms, QueueSize=queue_size, DiscardOldest=True
    )
    if events is not None:
        params.Filter = events
    return nid, ua.MonitoredItemCreateRequest(
        ItemToMonitor=ua.ReadValueId(NodeId=nid, AttributeId=attribute),
        MonitoringMode=ua.MonitoringMode.Reporting,
        RequestedParameters=params,
    )


@dataclasses.dataclass
class _Condition:
    """A bound condition: where its events come from, its name, the UNS path it feeds, and what the last event
    said that an Acknowledge needs."""

    notifier: ua.NodeId
    name: str
    path: str
    event_id: bytes | None = None
    condition_id: ua.NodeId | None = None


def condition_address(address: str) -> tuple[str, str]:
    """``condition:<notifier>#<ConditionName>`` as (notifier address, condition name)."""
    body = address[len(CONDITION_PREFIX) :]
    notifier, sep, name = body.rpartition("#")
    if not sep or not notifier or not name:
        raise ConnectorError(
            f"{address!r}: a condition is addressed as condition:<notifier NodeId>#<ConditionName>"
        )
    return notifier, name


def _condition_samples(cond: _Condition, fields: list[Any]) -> list[Sample]:
    """The samples of one condition event (fields in the order of ``_EVENT_FIELDS``)."""
    values = [f.Value if isinstance(f, ua.Variant) else f for f in fields]
    event_id, condition_id, _, ts, severity, message, active, acked = (values + [None] * 8)[:8]
    if isinstance(event_id, bytes):
        cond.event_id = event_id
    if isinstance(condition_id, ua.NodeId) and not condition_id.is_null():
        cond.condition_id = condition_id
    if not isinstance(ts, datetime):
        ts = utcnow()
    elif ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    out: list[Sample] = []
    if isinstance(active, bool):
        out.append(Sample(cond.path, ts, active))
    if isinstance(acked, bool):
        out.append(Sample(f"{cond.path}.acked", ts, acked))
    if isinstance(severity, int) and not isinstance(severity, bool):
        out.append(Sample(f"{cond.path}.severity", ts, severity))
    if isinstance(message, ua.LocalizedText) and message.Text is not None:
        out.append(Sample(f"{cond.path}.message", ts, message.Text))
    return out


_MAX_ITEMS_PER_CALL = ua.NodeId(
    ua.ObjectIds.Server_ServerCapabilities_OperationLimits_MaxMonitoredItemsPerCall
)
_MAX_TRANSLATE_PER_CALL = ua.NodeId(
    ua.ObjectIds.Server_ServerCapabilities_OperationLimits_MaxNodesPerTranslateBrowsePathsToNodeIds
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


def browse_path(address: str) -> ua.BrowsePath:
    """A ``browse:`` address as a BrowsePath from the Root folder (RelativePath text form, Part 4, Annex A.2)."""
    text = address.removeprefix(BROWSE_PREFIX).strip()
    if not text:
        raise ConnectorError(f"browse path {address!r} is empty")
    if text[0] not in "/.<":
        text = "/" + text
    try:
        relative = ua.RelativePath.from_string(text)
    except Exception as exc:  # the parser raises ValueError and friends
        raise ConnectorError(f"browse path {address!r} is malformed: {exc}") from None
    return ua.BrowsePath(StartingNode=ua.NodeId(ua.ObjectIds.RootFolder), RelativePath=relative)


def _quality(code: Any) -> Quality:
    if code is None or code.is_good():
        return Quality.GOOD
    if code.is_uncertain():
        return Quality.UNCERTAIN
    return Quality.BAD


def _value(v: Any) -> Value | None:
    """An OPC UA value (Part 6, 5.1.2 built-in types) as a werk Value; None for a null value.

    Numbers, booleans and strings stay what they are; DateTime is ISO 8601 UTC text
    (:func:`~werk.core.model.datetime_text`), ByteString base64 (as Part 6, 5.4.2.8 encodes it in JSON),
    LocalizedText its text, NodeId, ExpandedNodeId and QualifiedName their text forms (Part 6, 5.3.1.10, 5.3.1.11,
    5.3.1.14), a StatusCode its name; an array or a structure is JSON text of its elements or fields.
    """
    if v is None or isinstance(v, bool | int | float | str):
        return v
    if isinstance(v, datetime):
        return datetime_text(v)
    if isinstance(v, bytes):
        return base64.b64encode(v).decode()
    if isinstance(v, ua.LocalizedText):
        return v.Text or ""
    if isinstance(v, ua.NodeId | ua.QualifiedName):
        return str(v.to_string())
    if isinstance(v, ua.StatusCode):
        return str(v.name)
    if isinstance(v, uuid.UUID):
        return str(v)
    return json.dumps(_jsonable(v), separators=(",", ":"), allow_nan=False)


def _jsonable(v: Any) -> Any:
    """An array's or a structure's content for JSON text: scalars as :func:`_value` gives them, nested."""
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return {f.name: _jsonable(getattr(v, f.name)) for f in dataclasses.fields(v)}
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, bool | int | float | str) or v is None:
        return v
    return _value(v)


def _readable(what: str, path: str | None, owner: str) -> str:
    if path is None:
        raise ConnectorError(f"connector {owner}: {what} is not set")
    try:
        with open(path, "rb") as f:
            f.read(1)
    except OSError as exc:
        raise ConnectorError(f"connector {owner}: {what} {path!r} cannot be read: {exc.strerror}") from None
    return path


def _application_uri(cert_path: str, owner: str) -> str | None:
    """The URI in the certificate's subjectAltName: the ApplicationUri the client must announce (Part 4, 5.6.2)."""
    data = Path(cert_path).read_bytes()
    try:
        cert = (
            x509.load_pem_x509_certificate(data)
            if data.lstrip().startswith(b"-----")
            else x509.load_der_x509_certificate(data)
        )
    except ValueError as exc:
        raise ConnectorError(
            f"connector {owner}: certificate {cert_path!r} is not X.509 (DER or PEM): {exc}"
        ) from None
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    uris = san.get_values_for_type(x509.UniformResourceIdentifier)
    return uris[0] if uris else None


def _check_private_key(key_path: str, owner: str) -> None:
    data = Path(key_path).read_bytes()
    try:
        if data.lstrip().startswith(b"-----"):
            serialization.load_pem_private_key(data, None)
        else:
            serialization.load_der_private_key(data, None)
    except (ValueError, TypeError) as exc:
        raise ConnectorError(
            f"connector {owner}: private key {key_path!r} is unusable (unencrypted PEM or DER expected): {exc}"
        ) from None


def _describe(exc: BaseException) -> str:
    """What went wrong, with a hint for the security failures a plant engineer can fix."""
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, ua.UaStatusCodeError):
        hints = {
            ua.StatusCodes.BadSecurityChecksFailed: "the server refused the certificate or signature; is the "
            "client certificate in the server's trust list?",
            ua.StatusCodes.BadCertificateUntrusted: "the server does not trust the client certificate",
            ua.StatusCodes.BadCertificateInvalid: "the certificate is invalid (expired, wrong use or URI?)",
            ua.StatusCodes.BadSecurityPolicyRejected: "the server does not offer this security policy",
            ua.StatusCodes.BadIdentityTokenInvalid: "the server does not accept this user identity",
            ua.StatusCodes.BadUserAccessDenied: "user name or password refused",
            ua.StatusCodes.BadIdentityTokenRejected: "user name or password refused",
        }
        hint = hints.get(exc.code)
        if hint:
            text += f" ({hint})"
    return text


class _Inbox:
    """Samples decoded from publish responses, waiting for the stream loop; bounded by ``MAX_PENDING``."""

    def __init__(self, status: ConnectorStatus) -> None:
        self.status = status
        self.pending: list[Sample] = []
        self.wake = asyncio.Event()
        self.lost: str | None = None
        self.heard = time.monotonic()  # the last publish response, with changes or a keep-alive

    def add(self, samples: list[Sample]) -> None:
        self.pending.extend(samples)
        excess = len(self.pending) - MAX_PENDING
        if excess > 0:
            del self.pending[:excess]
            self.status.dropped += excess
        self.wake.set()

    # the asyncua handler protocol; our subscription decodes publish responses itself, so these stay unused
    def datachange_notification(self, node: Any, val: Any, data: Any) -> None:  # pragma: no cover
        pass

    def status_change_notification(self, status: Any) -> None:  # pragma: no cover
        pass


class _BatchSubscription(Subscription):  # type: ignore[misc]  # asyncua is untyped for mypy here
    """A subscription that turns each PublishResult into one list of Samples, keyed by client handle.

    A notification without a value (a Bad status such as BadCommunicationError carries none, Part 4, 7.7.1; or a
    null Variant) is no value of the signal: it becomes a BAD sample carrying the signal's last value (``last``,
    the connector's), so the signal does not go on looking good; a signal that never had a value gets none.
    """

    def __init__(
        self,
        session: Any,
        params: ua.CreateSubscriptionParameters,
        inbox: _Inbox,
        paths: dict[int, str],
        last: Mapping[str, Value],
        conditions: Mapping[int, Mapping[str, _Condition]] | None = None,
    ) -> None:
        super().__init__(session, params, inbox)
        self.inbox = inbox
        self.paths = paths  # client handle -> UNS path
        self.last = last
        self.conditions = (
            conditions if conditions is not None else {}
        )  # event item's client handle -> condition name -> condition

    async def publish_callback(self, publish_result: ua.PublishResult) -> None:
        self.inbox.heard = time.monotonic()
        message = publish_result.NotificationMessage
        if message.NotificationData is None:  # a keep-alive message (Part 4, 5.14.1)
            return
        self.last_sequence_number = int(message.SequenceNumber)
        paths = self.paths
        out: list[Sample] = []
        for notif in message.NotificationData:
            if isinstance(notif, ua.DataChangeNotification):
                for item in notif.MonitoredItems:
                    path = paths.get(item.ClientHandle)
                    dv = item.Value
                    if path is None or dv is None:
                        continue
                    ts = dv.SourceTimestamp or dv.ServerTimestamp or utcnow()
                    if ts.tzinfo is None:
                        ts = ts.replace(tzinfo=UTC)
                    code = dv.StatusCode
                    value = _value(dv.Value.Value) if dv.Value is not None else None
                    if value is None:
                        if path in self.last:
                            out.append(Sample(path, ts, self.last[path], Quality.BAD))
                        continue
                    out.append(Sample(path, ts, value, Quality.GOOD if code is None else _quality(code)))
            elif isinstance(notif, ua.EventNotificationList):  # Part 4, 7.25.3: condition events
                for fields in notif.Events:
                    named = self.conditions.get(fields.ClientHandle, {})
                    values = fields.EventFields or []
                    name = values[2].Value if len(values) > 2 and isinstance(values[2], ua.Variant) else None
                    cond = named.get(str(name)) if name is not None else None
                    if cond is not None:
                        out += _condition_samples(cond, values)
            elif isinstance(notif, ua.StatusChangeNotification):  # Part 4, 7.25.4: the subscription ended
                self.inbox.lost = f"subscription status {notif.Status}"
                self.inbox.wake.set()
        if out:
            self.inbox.add(out)


class OpcUaConnector(SessionConnector):
    protocol = "opcua"
    logger = log

    def __init__(self, name: str, config: OpcUaConnectorConfig, bindings: Mapping[str, str]) -> None:
        """``bindings`` maps a node address (NodeId string or ``browse:`` path) to the UNS path it feeds."""
        super().__init__(
            ConnectorStatus(name=name, type=self.protocol, endpoint=config.endpoint), types_of(bindings)
        )
        self.config = config
        self.bindings = dict(bindings)
        self.monitored = 0  # items the server accepted in the current session
        self._client: Client | None = None  # the current session, for writes
        self._node_of: dict[str, ua.NodeId] = {}  # UNS path -> NodeId in the current session
        self.monitor_calls = 0  # CreateMonitoredItems requests sent in the current session
        self.keepalive_s = config.keepalive_s  # the keep-alive period the server granted, in seconds
        self._conditions: dict[str, _Condition] = {}  # UNS path -> bound condition, in the current session

    def _reconnect_settings(self) -> tuple[float, float]:
        return self.config.reconnect_min_s, self.config.reconnect_max_s

    def _describe_loss(self, exc: Exception) -> str | None:
        return _describe(exc)

    def _loss_level(self, exc: Exception, was_connected: bool) -> int | None:
        if isinstance(exc, ConnectorError) or "Security" in type(exc).__name__:
            return logging.ERROR  # configuration or trust: retrying alone will not help
        return None

    async def _session(self) -> AsyncIterator[list[Sample]]:
        client = Client(self.config.endpoint, timeout=self.config.timeout_s)
        await self._configure(client)
        try:
            await client.connect()
        except BaseException:
            # only the socket: a failed connect has no channel or session to close, and disconnect() logged a
            # traceback at ERROR ("close_secure_channel raised during disconnect") at every retry while a machine
            # was off; asyncua closes that socket itself on an error, not when the connect is cancelled
            client.disconnect_socket()
            raise
        try:
            inbox = await self._subscribe(client)
            self._client = client
            self._up(security=self.config.security_policy, items=self.monitored)
            async for batch in self._batches(client, inbox):
                yield batch
        finally:
            self._client = None
            await self._disconnect(client)

    async def write(self, path: str, value: Value) -> None:
        """Write ``value`` to the node that feeds ``path``, as the node's own data type (Part 4, 5.10.4 Write).

        The plant file decides which signals may be written; this only says whether the server took it. The new
        value comes back through the subscription like any other change, so werk shows what the machine holds.
        """
        client, nid = self._client, self._node_of.get(path)
        if client is None:
            raise ConnectorError(f"{self.name}: not connected to {self.config.endpoint}; nothing was written")
        if path in self._conditions:
            await self._acknowledge(client, self._conditions[path], str(value))
            return
        if nid is None:
            raise ConnectorError(f"{self.name}: {path} is not a signal of this server")
        node = client.get_node(nid)
        try:
            vtype = await node.read_data_type_as_variant_type()
            await node.write_value(ua.DataValue(ua.Variant(_as_variant(value, vtype), vtype)))
        except ua.UaStatusCodeError as exc:
            raise ConnectorError(
                f"{self.name}: the server refused the write to {nid.to_string()}: {exc}"
            ) from None
        except (ValueError, TypeError, ua.UaError) as exc:  # UaError: asyncua could not encode it
            raise ConnectorError(f"{self.name}: {value!r} does not fit {vtype.name}: {exc}") from None
        log.info("opcua.write connector=%s node=%s path=%s value=%r", self.name, nid.to_string(), path, value)

    async def _acknowledge(self, client: Client, cond: _Condition, comment: str) -> None:
        """Acknowledge (Part 9, 5.7.3) the condition's last event, with ``comment``."""
        if cond.event_id is None:
            raise ConnectorError(
                f"{self.name}: no event of condition {cond.name!r} yet; nothing to acknowledge"
            )
        target = cond.condition_id
        try:
            if target is None:  # the server sends no ConditionId: the notifier's child of that name
                for child in await client.get_node(cond.notifier).get_children():
                    if (await child.read_browse_name()).Name == cond.name:
                        target = child.nodeid
                        break
            if target is None:
                raise ConnectorError(
                    f"{self.name}: the server names no ConditionId for {cond.name!r} and {cond.notifier.to_string()} "
                    "has no child of that name; cannot acknowledge"
                )
            request = ua.CallMethodRequest(
                ObjectId=target,
                MethodId=_ACKNOWLEDGE,
                InputArguments=[
                    ua.Variant(cond.event_id, ua.VariantType.ByteString),
                    ua.Variant(ua.LocalizedText(comment), ua.VariantType.LocalizedText),
                ],
            )
            (result,) = await client.uaclient.call([request])
        except (ua.UaError, TimeoutError) as exc:
            raise ConnectorError(f"{self.name}: acknowledging {cond.name!r} failed: {exc}") from None
        if not result.StatusCode.is_good():
            raise ConnectorError(
                f"{self.name}: the server refused to acknowledge {cond.name!r}: {result.StatusCode.name}"
            )
        log.info("opcua.acknowledge connector=%s condition=%s path=%s", self.name, cond.name, cond.path)

    async def write_limits(self, path: str) -> tuple[WriteLimits, str] | None:
        """The range the server gives the node that feeds ``path``: its EURange property (OPC 10000-8, 5.3.2.2
        BaseAnalogType, mandatory for an AnalogItemType, 5.3.2.3: the range of values in normal operation), or
        None when the node has none. ConnectorError when the server cannot be asked (not connected, no answer).

        Part 8 leaves what a server does with a value outside EURange to the server (accept, clamp, refuse); werk
        refuses it before sending, as it does the plant file's ``limits``.
        """
        client, nid = self._client, self._node_of.get(path)
        if client is None:
            raise ConnectorError(f"{self.name}: not connected to {self.config.endpoint}; nothing was written")
        if path in self._conditions:
            return None  # an acknowledge's comment is text: no range
        if nid is None:
            raise ConnectorError(f"{self.name}: {path} is not a signal of this server")
        relative = ua.RelativePath.from_string("/0:EURange")
        try:
            (found,) = await client.uaclient.translate_browsepaths_to_nodeids(
                [ua.BrowsePath(StartingNode=nid, RelativePath=relative)]
            )
            if not found.StatusCode.is_good() or not found.Targets:
                return None
            rng = await client.get_node(found.Targets[0].TargetId).read_value()
        except (ua.UaError, TimeoutError) as exc:
            raise ConnectorError(
                f"{self.name}: cannot read the EURange of {nid.to_string()}: {exc}"
            ) from None
        low, high = (float(rng.Low), float(rng.High)) if isinstance(rng, ua.Range) else (math.nan, math.nan)
        if not low <= high:  # no Range, NaN, or Low above High: no range werk can hold a value to
            log.warning("opcua.eurange connector=%s node=%s value=%r: not a range", self.name, nid, rng)
            return None
        return WriteLimits(min=low, max=high), f"EURange of {nid.to_string()}"

    @staticmethod
    async def _disconnect(client: Client) -> None:
        """Close the session, giving up after 2 s; a cancellation of the stream itself is never swallowed."""
        try:
            await asyncio.wait_for(client.disconnect(), 2.0)
        except asyncio.CancelledError:
            pass  # decided below: only the stream's own cancellation counts
        except Exception:  # the session is gone either way
            log.debug("opcua.disconnect_failed", exc_info=True)
        task = asyncio.current_task()
        if (
            task is not None and task.cancelling()
        ):  # asyncua may have swallowed the CancelledError meant for us
            raise asyncio.CancelledError

    async def _configure(self, client: Client) -> None:
        """Security and identity, before connect. Files are checked here so a missing one names itself."""
        cfg = self.config
        if cfg.username is not None:
            client.set_user(cfg.username)
            if cfg.password_env is not None:
                password = os.environ.get(cfg.password_env)
                if password is None:
                    raise ConnectorError(
                        f"connector {self.name}: environment variable {cfg.password_env} (its password_env) "
                        "is not set"
                    )
                client.set_password(password)
        if cfg.security_policy == "None":
            return
        pki = Path(cfg.pki_dir) if cfg.pki_dir is not None else None
        if cfg.certificate is None and pki is not None:
            own_cert, own_key = await own_certificate(pki, f"urn:werk:connector:{self.name}")
            cert, key = str(own_cert), str(own_key)
        else:
            cert = _readable("certificate", cfg.certificate, self.name)
            key = _readable("private_key", cfg.private_key, self.name)
        server_cert = (
            _readable("server_certificate", cfg.server_certificate, self.name)
            if cfg.server_certificate is not None
            else None
        )
        policy = POLICIES[cfg.security_policy]
        mode = getattr(ua.MessageSecurityMode, cfg.security_mode)
        if server_cert is None and pki is not None:
            trust = TrustList(pki, trust_on_first_use=cfg.trust_on_first_use)
            offered = await self._offered_certificate(policy.URI, mode)
            server_cert = str(trust.check(offered, self.name, cfg.endpoint))
        uri = _application_uri(cert, self.name)
        _check_private_key(key, self.name)
        if uri is not None:
            client.application_uri = uri
        await client.set_security(policy, cert, key, server_certificate=server_cert, mode=mode)

    async def _offered_certificate(self, policy_uri: str, mode: ua.MessageSecurityMode) -> bytes:
        """The certificate the server offers for ``policy_uri`` and ``mode`` (GetEndpoints, Part 4, 5.4.4)."""
        probe = Client(self.config.endpoint, timeout=self.config.timeout_s)
        endpoints = await probe.connect_and_get_server_endpoints()
        for ep in endpoints:
            if ep.SecurityPolicyUri == policy_uri and ep.SecurityMode == mode and ep.ServerCertificate:
                return bytes(ep.ServerCertificate)
        raise ConnectorError(
            f"connector {self.name}: {self.config.endpoint} offers no endpoint with "
            f"{self.config.security_policy} {self.config.security_mode}"
        )

    async def _operation_limit(self, client: Client, node: ua.NodeId, default: int) -> int:
        """An OperationLimits value (Part 5, 6.3.11); 0 or absent means the server sets no limit."""
        try:
            value = await client.get_node(node).read_value()
        except Exception:  # not every server exposes OperationLimits
            return default
        return min(default, int(value)) if isinstance(value, int) and value > 0 else default

    async def _resolve(self, client: Client) -> dict[ua.NodeId, str]:
        """Every binding's NodeId; bad ones are reported per binding and left out."""
        namespaces = await client.get_namespace_array()
        nodes: dict[ua.NodeId, str] = {}
        browse: list[tuple[str, str, ua.BrowsePath]] = []
        self._conditions = {}
        for address, path in self.bindings.items():
            try:
                if address.startswith(CONDITION_PREFIX):
                    notifier, name = condition_address(address)
                    self._conditions[path] = _Condition(resolve_node_id(notifier, namespaces), name, path)
                elif address.startswith(BROWSE_PREFIX):
                    browse.append((address, path, browse_path(address)))
                else:
                    nodes[resolve_node_id(address, namespaces)] = path
            except ConnectorError as exc:
                self._bad_binding(path, str(exc))
        if browse:
            per_call = await self._operation_limit(
                client, _MAX_TRANSLATE_PER_CALL, self.config.monitored_items_per_call
            )
            for i in range(0, len(browse), per_call):
                chunk = browse[i : i + per_call]
                results = await client.uaclient.translate_browsepaths_to_nodeids([b for _, _, b in chunk])
                for (address, path, _), res in zip(chunk, results, strict=True):
                    if not res.StatusCode.is_good() or not res.Targets:
                        reason = res.StatusCode.name if not res.StatusCode.is_good() else "no target"
                        self._bad_binding(path, f"browse path {address!r}: {reason} (no node at that path)")
                    else:
                        nodes[res.Targets[0].TargetId] = path
        return nodes

    async def _subscribe(self, client: Client) -> _Inbox:
        self.status.bad_bindings.clear()
        nodes = await self._resolve(client)
        self._node_of = {path: nid for nid, path in nodes.items()}
        cfg = self.config
        inbox = _Inbox(self.status)
        keepalive_count = max(1, math.ceil(cfg.keepalive_s * 1000 / cfg.publishing_interval_ms))
        params = ua.CreateSubscriptionParameters(
            RequestedPublishingInterval=cfg.publishing_interval_ms,
            # the lifetime is at least three keep-alives (Part 4, 5.13.2)
            RequestedLifetimeCount=max(10_000, 3 * keepalive_count),
            RequestedMaxKeepAliveCount=keepalive_count,
            MaxNotificationsPerPublish=0,  # no limit (Part 4, 5.14.2): one publish carries an interval's changes
            PublishingEnabled=True,
            Priority=0,
        )
        handles: dict[int, str] = {}
        events: dict[int, dict[str, _Condition]] = {}
        sub = _BatchSubscription(client.uaclient.session, params, inbox, handles, self._ledger.last, events)
        created = await sub.init()
        # what the server granted (Part 4, 5.13.2): it may revise both
        self.keepalive_s = created.RevisedPublishingInterval * created.RevisedMaxKeepAliveCount / 1000
        sampling = (
            float(cfg.publishing_interval_ms) if cfg.sampling_interval_ms < 0 else cfg.sampling_interval_ms
        )
        requests: list[tuple[ua.NodeId, ua.MonitoredItemCreateRequest]] = []
        for handle, (nid, path) in enumerate(nodes.items(), start=1):
            handles[handle] = path
            requests.append(_monitored_item(nid, ua.AttributeIds.Value, handle, sampling, cfg.queue_size))
        notifiers: dict[ua.NodeId, dict[str, _Condition]] = {}
        for cond in self._conditions.values():
            notifiers.setdefault(cond.notifier, {})[cond.name] = cond
        for handle, (nid, named) in enumerate(notifiers.items(), start=len(nodes) + 1):
            events[handle] = named
            requests.append(
                _monitored_item(nid, ua.AttributeIds.EventNotifier, handle, 0, cfg.queue_size, event_filter())
            )
        per_call = await self._operation_limit(client, _MAX_ITEMS_PER_CALL, cfg.monitored_items_per_call)
        self.monitored = self.monitor_calls = 0
        for i in range(0, len(requests), per_call):
            chunk = requests[i : i + per_call]
            results = await sub.create_monitored_items([r for _, r in chunk])
            self.monitor_calls += 1
            for (nid, req), res in zip(chunk, results, strict=True):
                if isinstance(res, ua.StatusCode):
                    handle = req.RequestedParameters.ClientHandle
                    if handle in events:
                        for cond in events.pop(handle).values():
                            self._bad_binding(cond.path, f"events of {nid.to_string()}: {res.name}")
                        continue
                    path = handles.pop(handle)
                    self._bad_binding(path, f"{nid.to_string()}: {res.name}")
                else:
                    self.monitored += 1
        log.info(
            "opcua.subscribed connector=%s items=%d per_call=%d bad=%d",
            self.name,
            self.monitored,
            per_call,
            len(self.status.bad_bindings),
        )
        return inbox

    async def _batches(self, client: Client, inbox: _Inbox) -> AsyncIterator[list[Sample]]:
        """Yield what the subscription collected; probe the server between notifications to notice a dead session."""
        probe_every = max(1.0, self.config.publishing_interval_ms / 1000 * 4)
        while True:
            try:
                await asyncio.wait_for(inbox.wake.wait(), min(probe_every, self.keepalive_s))
            except TimeoutError:
                await asyncio.wait_for(client.nodes.server_state.read_value(), self.config.timeout_s)
                silent = time.monotonic() - inbox.heard
                if silent > 3 * self.keepalive_s:
                    raise ConnectorError(
                        f"the subscription sent nothing for {silent:.1f} s, not even a keep-alive (expected "
                        f"every {self.keepalive_s:g} s); the server answers, its subscription is gone"
                    ) from None
            inbox.wake.clear()
            if inbox.lost:
                raise ConnectorError(inbox.lost)
            if inbox.pending:
                batch, inbox.pending = inbox.pending, []
                yield batch


#: the values of OPC UA's integer types (Part 6, 5.2.2.2 to 5.2.2.5)
_INTEGER_RANGES = {
    ua.VariantType.SByte: (-(2**7), 2**7 - 1),
    ua.VariantType.Byte: (0, 2**8 - 1),
    ua.VariantType.Int16: (-(2**15), 2**15 - 1),
    ua.VariantType.UInt16: (0, 2**16 - 1),
    ua.VariantType.Int32: (-(2**31), 2**31 - 1),
    ua.VariantType.UInt32: (0, 2**32 - 1),
    ua.VariantType.Int64: (-(2**63), 2**63 - 1),
    ua.VariantType.UInt64: (0, 2**64 - 1),
}
_FLOAT_MAX = 3.4028234663852886e38  # the largest finite IEEE 754 single (Part 6, 5.2.2.3 Float)


def _as_variant(value: Value, vtype: ua.VariantType) -> Value:
    """A JSON-ish value as the Python type asyncua encodes for ``vtype``; ValueError when it does not fit (of
    another kind, not finite, outside the type's range)."""
    if vtype == ua.VariantType.Boolean:
        if not isinstance(value, bool):
            raise ValueError("not a boolean")
        return value
    if vtype in (ua.VariantType.Float, ua.VariantType.Double):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError("not a number")
        try:
            number = float(value)
        except OverflowError:
            raise ValueError("beyond a double") from None
        if not math.isfinite(number) or (vtype == ua.VariantType.Float and abs(number) > _FLOAT_MAX):
            raise ValueError(f"outside {vtype.name}'s range")
        return number
    if vtype in _INTEGER_RANGES:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError("not a whole number")
        if isinstance(value, float) and not value.is_integer():
            raise ValueError("not a whole number")
        low, high = _INTEGER_RANGES[vtype]
        if not low <= int(value) <= high:
            raise ValueError(f"outside {vtype.name}'s range {low}..{high}")
        return int(value)
    if vtype == ua.VariantType.String:
        return str(value)
    raise ValueError(f"werk does not write {vtype.name} values")


_NODE_ID_PREFIXES = ("ns=", "nsu=", "i=", "s=", "g=", "b=", "browse:", CONDITION_PREFIX)


def _address(root: str, address: str) -> str:
    """A binding's ``root`` is the prefix of a NodeId, unless the address is a full NodeId already."""
    return address if address.startswith(_NODE_ID_PREFIXES) else root + address


SPEC = ConnectorSpec.of(OpcUaConnectorConfig, OpcUaConnector, title="OPC UA", address=_address)
