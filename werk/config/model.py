"""The plant file as pydantic models: the ISA-95 tree, signal bindings, storage, bus and server.

Every model forbids unknown keys, so a typo ("retension_days") is an error with its line, not a silent default.
What apps, connectors and the virtual factory add to the file (``apps.<name>``, ``connectors.<name>``, ``sim:``
and their keys on assets) is declared with them and joined in by :mod:`werk.config.schema` from the registry;
here are only their bases (:class:`AppSettings`, :class:`ConnectorSettings`).
"""

from __future__ import annotations

import math
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Literal, Self, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from werk.core.access import ROLE_RANK as ACCESS_ROLE_RANK
from werk.core.access import Role as AccessRole
from werk.core.model import SignalType, Value
from werk.core.uns import validate_segment
from werk.errors import UnsPathError

Name = Annotated[str, Field(min_length=1, max_length=64)]


class StrictModel(BaseModel):
    """Base of every plant-file model, plug-ins' included: unknown keys are errors, values are frozen.

    A field's docstring (the string below it) is its description in the JSON schema and in the generated plant-file
    reference (``docs/plant-file.md``, ``werk docs plant-file``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


def _segment(level: str) -> Callable[[str], str]:
    def check(name: str) -> str:
        try:
            validate_segment(name, level)
        except UnsPathError as exc:
            raise ValueError(str(exc)) from None
        return name

    return check


#: names of the ISA-95 tree's levels and of signals: Unified Namespace path segments (werk.core.uns)
EnterpriseName = Annotated[str, AfterValidator(_segment("enterprise"))]
SiteName = Annotated[str, AfterValidator(_segment("site"))]
AreaName = Annotated[str, AfterValidator(_segment("area"))]
LineName = Annotated[str, AfterValidator(_segment("line"))]
CellName = Annotated[str, AfterValidator(_segment("cell"))]
AssetName = Annotated[str, AfterValidator(_segment("asset"))]
SignalName = Annotated[str, AfterValidator(_segment("signal"))]


class ConnectorSettings(StrictModel):
    """Base of every connector's settings (``connectors.<name>``): ``type`` names the protocol's spec."""

    type: str
    """The protocol: a registered connector type."""


class AppSettings(StrictModel):
    """Base of every app's settings (``apps.<name>``); every app can be switched off."""

    enabled: bool = True
    """false switches the app off."""


class WriteLimits(StrictModel):
    """The values werk may write to a signal: a number from ``min`` to ``max`` (both included) on the grid of
    ``step``, counted from ``min`` (from 0 without one). Anything else is refused before it is sent, and the refusal
    is audited. Give at least one of the three."""

    min: float | None = None
    """The least value, in the signal's own unit."""
    max: float | None = None
    """The greatest value, in the signal's own unit."""
    step: float | None = Field(default=None, gt=0)
    """The resolution: a value must be ``min + k * step`` for a whole ``k`` (``step: 5`` for 80, 85, 90 %)."""

    @model_validator(mode="after")
    def _sensible(self) -> WriteLimits:
        if self.min is None and self.max is None and self.step is None:
            raise ValueError("give min, max or step")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min:g} is above max {self.max:g}")
        return self

    def refusal(self, value: Value, source: str) -> str | None:
        """Why ``value`` is outside these limits, naming the limit and ``source`` (where they come from); None
        when it is within. Only numbers are within: a bool or a text is refused."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"{value!r} is not a number, and the signal takes numbers ({source})"
        try:
            number = float(value)
        except OverflowError:
            number = math.copysign(math.inf, value)
        if self.min is not None and not number >= self.min:
            return f"{value!r} is below the minimum {self.min:g} ({source})"
        if self.max is not None and not number <= self.max:
            return f"{value!r} is above the maximum {self.max:g} ({source})"
        if self.step is not None:
            k = (number - (self.min or 0.0)) / self.step
            if not math.isfinite(k) or abs(k - round(k)) > 1e-9 * max(1.0, abs(k)):
                return f"{value!r} is not on the step {self.step:g} from {self.min or 0:g} ({source})"
        return None


class SourceBinding(StrictModel):
    """Where an asset's signals come from: a connector, and per signal an address in that connector's terms.

    Each connector's spec says how ``root`` applies to its addresses (a prefix, or default tokens), which keeps
    long node names out of every line; the protocols' sections below have each address form.
    """

    connector: Name
    """The name of an entry under ``connectors:``."""
    root: str = ""
    """Put in front of every address of this binding as its protocol says (a node id prefix, a topic prefix,
    default address tokens)."""
    signals: dict[SignalName, str] = Field(min_length=1)
    """Signal name (a UNS path segment) -> its address in the connector's terms."""
    types: dict[SignalName, SignalType] = Field(default_factory=dict)
    """The type of a signal whose source does not say it, or says it wrongly: ``str``, ``int``, ``float``, ``bool``
    or ``datetime`` (ISO 8601 UTC text). Without it a value keeps the type its protocol or the machine's model
    gives it, and text stays text: ``0001`` or ``123456.20`` sent as text is an identifier until a type says it is
    a number (``types: {cycle_count: int, load: float, part_id: str}``). A value that does not fit is counted in
    the connector's ``errors`` and not stored."""
    writable: list[str] = Field(default_factory=list)
    """Signals werk may write back to the machine (a setpoint, an override), by a supervisor through the twin's
    API; every other signal is read-only. Writing needs a connector whose spec says it can write."""
    limits: dict[SignalName, WriteLimits] = Field(default_factory=dict)
    """Per writable signal, the values werk may write (``limits: {feed_override: {min: 10, max: 150, step: 5}}``).
    A writable signal takes a number only where a range is known, here or from the machine's own model (a node's
    engineering range): without one a numeric write is refused, so no setpoint of 1e308 reaches a machine."""

    @model_validator(mode="after")
    def _named_signals_are_bound(self) -> SourceBinding:
        unknown = [w for w in self.writable if w not in self.signals]
        if unknown:
            raise ValueError(f"writable names {unknown}, which this binding's signals do not list")
        untyped = [t for t in self.types if t not in self.signals]
        if untyped:
            raise ValueError(f"types names {untyped}, which this binding's signals do not list")
        unlimited = [w for w in self.limits if w not in self.writable]
        if unlimited:
            raise ValueError(f"limits names {unlimited}, which this binding's writable does not list")
        return self


# --- the ISA-95 tree --------------------------------------------------------------------------------------------


class AddressConfig(StrictModel):
    """The manufacturer's address, as the Digital Nameplate's AddressInformation (IDTA 02006-3-0, 02002) holds it."""

    street: str = ""
    """Street and number."""
    zipcode: str = ""
    """Postal code (quote it in YAML: "86150")."""
    city: str = ""
    """City or town."""
    country_code: str = ""
    """ISO 3166-1 alpha-2 code, e.g. DE."""


class AssetConfig(StrictModel):
    """An asset (ISA-95 work unit): a machine, a station, a meter. Its name (the key) is unique in the plant and is
    the last segment of its signals' UNS paths before the signal."""

    kind: str = Field(min_length=1)
    """What it is, in words (``machining centre``, ``press``): shown on its card and in its twin."""
    description: str = ""
    """A line about it, for people."""
    manufacturer: str = ""
    """Its maker, for the twin's Digital Nameplate (IDTA 02006)."""
    model_name: str = ""
    """The maker's model designation, for the Digital Nameplate."""
    serial_number: str = ""
    """The maker's serial number, for the Digital Nameplate."""
    uri_of_product: str = ""
    """Where the product is described (URIOfTheProduct of the Digital Nameplate, which the template requires)."""
    order_code: str = ""
    """The maker's order code (OrderCodeOfManufacturer, ManufacturerOrderCode; required by the templates)."""
    article_number: str = ""
    """The maker's article number (ManufacturerArticleNumber of Technical Data; required by its template)."""
    address: AddressConfig | None = None
    """The maker's address (AddressInformation of the Digital Nameplate; required by the template)."""
    aas_id: str | None = None
    """The id of its Asset Administration Shell (an IRI); default ``urn:werk:<enterprise>:asset:<name>``."""
    ideal_cycle_s: float | None = Field(default=None, gt=0)
    """Ideal cycle time in seconds (ISO 22400 PRI, planned run time per item), when no product says otherwise."""
    source: SourceBinding | list[SourceBinding] | None = None
    """Where its signals come from: one binding, or a list (a controller and an electricity meter, each over its own
    protocol)."""
    production: bool = True
    """A work unit that produces (ISO 22400): it has states, stops and KPIs. False for sensors and utilities whose
    signals are only recorded (a hall's climate, a gas meter)."""

    def plugin(self, key: str) -> Any:
        """What an app or section declared under its own key on this asset (``states``, ``sim``), or None."""
        return getattr(self, key, None)

    def bindings(self) -> list[SourceBinding]:
        """Where the asset's signals come from: one binding, or several (a machine's controller and its electricity
        meter, each over its own protocol)."""
        if self.source is None:
            return []
        return list(self.source) if isinstance(self.source, list) else [self.source]

    def bound_signals(self) -> dict[str, str]:
        """Signal name -> connector name, over every binding."""
        return {sig: b.connector for b in self.bindings() for sig in b.signals}


class CellConfig(StrictModel):
    """A work cell (ISA-95): the assets that work together."""

    assets: dict[AssetName, AssetConfig] = Field(min_length=1)
    """Asset name -> the asset."""


class LineConfig(StrictModel):
    """A production line (ISA-95 work centre)."""

    cells: dict[CellName, CellConfig] = Field(min_length=1)
    """Cell name -> the cell."""


class AreaConfig(StrictModel):
    """An area of a site (ISA-95)."""

    lines: dict[LineName, LineConfig] = Field(min_length=1)
    """Line name -> the line."""


class SiteConfig(StrictModel):
    """A site of the enterprise (ISA-95): a plant's location."""

    areas: dict[AreaName, AreaConfig] = Field(min_length=1)
    """Area name -> the area."""


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAY_NAMES: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _clock(v: object) -> str:
    """'06:00' -> '06:00'. YAML 1.1 reads an unquoted 06:00 as the base-60 integer 360; take that back too."""
    if isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 24 * 60:
        return f"{v // 60:02d}:{v % 60:02d}"
    if isinstance(v, str):
        hh, sep, mm = v.partition(":")
        if sep and hh.isdigit() and mm.isdigit() and int(hh) <= 24 and int(mm) < 60:
            return f"{int(hh):02d}:{int(mm):02d}"
    raise ValueError(f"expected a clock time like '06:00', got {v!r}")


Clock = Annotated[str, BeforeValidator(_clock)]


class ShiftConfig(StrictModel):
    """A recurring shift in the plant's local time; ``end`` at or before ``start`` ends the next day."""

    name: Name
    """The shift's name, as reports show it."""
    start: Clock
    """Local time it starts, ``"06:00"`` (quote it: YAML reads an unquoted 06:00 as a number)."""
    end: Clock
    """Local time it ends; at or before ``start``: the next day."""
    days: list[Weekday] = Field(default_factory=lambda: list(WEEKDAY_NAMES))
    """The days it starts on: ``mon`` ... ``sun``."""
    breaks: list[tuple[Clock, Clock]] = Field(default_factory=list)
    """Planned breaks as ``[start, end]`` local times; counted as planned down time."""


class PlannedDowntimeConfig(StrictModel):
    """Planned non-production for the whole plant (inventory day, works meeting): counted as PDOT."""

    start: datetime
    """When it starts, with a UTC offset (``2026-12-24T12:00:00+01:00``)."""
    end: datetime
    """When it ends, with a UTC offset."""
    reason: str = "planned-stop"
    """The downtime reason code it is booked to."""

    @model_validator(mode="after")
    def _order(self) -> PlannedDowntimeConfig:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("start and end need a timezone offset, e.g. 2026-12-24T12:00:00+01:00")
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class PlantConfig(StrictModel):
    """The plant as an ISA-95 tree (enterprise, sites, areas, lines, cells, assets) and its calendar."""

    enterprise: Annotated[EnterpriseName, Field(min_length=1, max_length=64)]
    """The enterprise: the first segment of every UNS path (``acme/augsburg/...``)."""
    timezone: str = "UTC"
    """The plant's IANA time zone (``Europe/Berlin``): shifts, calendars and report buckets use it; werk stores
    UTC."""
    sites: dict[SiteName, SiteConfig] = Field(min_length=1)
    """Site name -> the site."""
    shifts: list[ShiftConfig] = Field(default_factory=list)
    """The shift calendar; none: one shift all day."""
    holidays: list[date] = Field(default_factory=list)
    """Days without production (``2026-12-25``): not planned time."""
    planned_downtime: list[PlannedDowntimeConfig] = Field(default_factory=list)
    """Planned stops of the whole plant, counted as planned down time (PDOT)."""
    grid_co2_kg_per_kwh: float = Field(default=0.38, ge=0)
    """Emission factor of the electricity the plant draws, kg CO2e per kWh, for the use-phase carbon footprint in
    the twin (IDTA 02023). Default: Germany's grid mix, about 0.38 kg CO2e/kWh in 2023/2024 (Umweltbundesamt,
    "Entwicklung der spezifischen Treibhausgas-Emissionen des deutschen Strommix"); set your supplier's figure."""

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA timezone {v!r} (e.g. 'Europe/Berlin', 'UTC')") from None
        return v


# --- platform services ------------------------------------------------------------------------------------------


class HistorianConfig(StrictModel):
    """Where samples and events are kept. Retention is on by default: a historian that grows forever fills disks."""

    backend: Literal["sqlite", "postgresql"] = "sqlite"
    """The store of samples, events, the apps' tables, users, the audit trail and the AAS twin: ``sqlite`` (in the
    werk file) or ``postgresql`` (on the server ``url`` names, shared by every werk process of the plant; see
    docs/cluster.md)."""
    url: str | None = None
    """With ``backend: postgresql``: the server, ``postgresql://user@host:5432/database`` (a password is better
    in ``PGPASSWORD`` or ``~/.pgpass`` than here)."""
    path: str = "werk-data/werk.db"
    """The werk file: with ``backend: sqlite`` samples, events, the apps' tables, users, the audit trail and the AAS
    twin."""
    synchronous: Literal["NORMAL", "FULL"] = "NORMAL"
    """NORMAL: a crash of werk loses no committed batch, a power cut may lose the last ones (up to the last
    checkpoint); FULL: a power cut loses nothing committed either, at the cost of an fsync per batch
    (werk.store.sqlite_file)."""
    retention_days: float = Field(default=30.0, gt=0)
    """Samples and events older than this many days are deleted (checked hourly)."""
    batch_max: int = Field(default=5000, ge=1, le=1_000_000)
    """The most samples written in one transaction."""
    flush_interval_ms: int = Field(default=200, ge=1, le=60_000)
    """The longest a sample waits for its batch to fill before it is written, in milliseconds."""

    @model_validator(mode="after")
    def _url_for_postgresql(self) -> Self:
        if self.backend == "postgresql" and not (self.url or "").startswith(("postgresql://", "postgres://")):
            raise ValueError("backend postgresql needs url: postgresql://user@host:5432/database")
        if self.backend == "sqlite" and self.url is not None:
            raise ValueError("url is for backend postgresql; the sqlite historian is the file at path")
        return self


class SpoolConfig(StrictModel):
    """Store-and-forward between each connector and the bus (``werk.runtime.spool``): what the bus cannot take yet
    waits on disk, per connector, up to ``max_samples`` (then the oldest go, counted). ``dir`` defaults to a folder
    beside the historian file."""

    enabled: bool = True
    """false: a connector waits for the bus, and its source's buffers take the strain."""
    dir: str | None = None
    """Where the spool files are; default ``<historian path>.spool``."""
    max_samples: int = Field(default=1_000_000, ge=1000, le=1_000_000_000)
    """The most samples waiting on disk per connector; beyond it the oldest go, counted in its ``dropped``."""


class BusConfig(StrictModel):
    """The bus between connectors and everything that reads signals."""

    backend: Literal["memory"] = "memory"
    """In the werk process."""
    queue_batches: int = Field(default=256, ge=1, le=1_000_000)
    """Batches each subscriber may have waiting; the historian and the apps then hold the publisher up (nothing
    is lost), a browser's stream drops its oldest."""


ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


class BrokerTlsConfig(StrictModel):
    """TLS towards a broker (a connector's, the cluster's): its certificate checked against ``ca_file`` (none:
    the system's trust store) and its host name; a client certificate for a broker that asks for one."""

    ca_file: str | None = None
    """The CA certificates (PEM) that signed the broker's certificate."""
    cert_file: str | None = None
    """werk's client certificate (PEM), for a broker that asks for one."""
    key_file: str | None = None
    """The client certificate's private key (PEM)."""

    @model_validator(mode="after")
    def _cert_and_key(self) -> BrokerTlsConfig:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("a client certificate needs both cert_file and key_file")
        return self

    def context(self) -> ssl.SSLContext:
        """The client side's TLS context of these files (the broker's certificate and host name checked); raises
        OSError or ssl.SSLError for a file that is missing or not what it should be."""
        ctx = ssl.create_default_context(cafile=self.ca_file)
        if self.cert_file is not None:
            ctx.load_cert_chain(self.cert_file, self.key_file)
        return ctx


class ClusterConfig(StrictModel):
    """werk as a cluster (docs/cluster.md): ``werk edge`` publishes the connectors' batches to NATS JetStream,
    ``werk worker`` processes write them to the historian (``historian.backend: postgresql``) and acknowledge
    each message only after its commit (werk.runtime.edge, werk.runtime.worker)."""

    nats: str = "nats://127.0.0.1:4222"
    """The NATS server (with JetStream enabled); ``tls://host:4222`` for TLS (or give ``nats_tls``). No user or
    password in it: the address is logged; credentials go in ``nats_user`` and ``nats_password_env``,
    ``nats_token_env`` or ``nats_credentials``."""
    nats_tls: BrokerTlsConfig | None = None
    """TLS towards the broker; none: plain TCP (a broker on loopback or on a closed network)."""
    nats_user: str | None = None
    """The user werk's processes connect as (the broker's ``authorization`` block); with ``nats_password_env``."""
    nats_password_env: str | None = Field(default=None, pattern=ENV_NAME)
    """An environment variable holding ``nats_user``'s password, read when a process connects; never logged."""
    nats_token_env: str | None = Field(default=None, pattern=ENV_NAME)
    """Or: an environment variable holding the broker's token."""
    nats_credentials: str | None = None
    """Or: a credentials file (a user JWT and its NKey seed, as ``nsc`` writes it) for a broker with accounts and
    JWTs; readable only by werk's user."""
    stream: str = Field(default="WERK_SAMPLES", pattern=r"^[A-Za-z0-9_-]+$")
    """The JetStream stream of sample batches; subjects ``werk.samples.<site>.<area>.<asset>``."""
    consumer: str = Field(default="werk-historian", pattern=r"^[A-Za-z0-9_-]+$")
    """The durable pull consumer the workers share (each message goes to one of them)."""
    max_bytes: int = Field(default=8 * 1024**3, ge=1024 * 1024)
    """The most the stream keeps unacknowledged, in bytes; at the limit the broker refuses new batches and the
    edges keep them in their spools (nothing is discarded)."""
    max_age_h: float = Field(default=72.0, gt=0)
    """A batch no worker acknowledged within this many hours is dropped by the broker (workers down that long)."""
    ack_wait_s: float = Field(default=30.0, gt=0, le=3600)
    """A batch a worker took but did not acknowledge within this time goes to another worker."""
    fetch_messages: int = Field(default=64, ge=1, le=10_000)
    """Messages a worker takes at once and writes in one transaction."""
    max_ack_pending: int = Field(default=4096, ge=1)
    """Messages out with the workers at most, unacknowledged."""
    edge_spool_messages: int = Field(default=1_000_000, ge=100)
    """Batches an edge keeps on disk per connector while the broker is away; beyond, the oldest go, counted."""
    apps: bool = False
    """``werk worker`` also runs the plant file's enabled apps: those whose state is per asset over the assets of
    the partitions it leases, fed from the log in each asset's order, and the plant-wide ones while it holds the
    plant lease (one worker at a time), fed every asset's samples (werk.runtime.app_host; docs/cluster.md)."""
    app_partitions: int = Field(default=16, ge=1, le=4096)
    """Partitions the assets are spread over for the apps; every process of the cluster must use the same number."""
    app_lease_ttl_s: float = Field(default=10.0, ge=1, le=600)
    """How long a worker's lease on a partition lasts unrenewed: a worker killed without a goodbye has its assets
    taken over by another after at most this (renewed every third of it)."""

    @field_validator("nats")
    @classmethod
    def _no_secret_in_address(cls, v: str) -> str:
        if "@" in v.partition("://")[2]:
            raise ValueError(
                "no user or password in the broker's address (it is logged): give nats_user and "
                "nats_password_env, nats_token_env or nats_credentials"
            )
        return v

    @model_validator(mode="after")
    def _one_way_to_sign_in(self) -> ClusterConfig:
        ways = [
            k for k in ("nats_user", "nats_token_env", "nats_credentials") if getattr(self, k) is not None
        ]
        if len(ways) > 1:
            raise ValueError(f"give one way to sign in to the broker, not {' and '.join(ways)}")
        if (self.nats_user is None) != (self.nats_password_env is None):
            raise ValueError("nats_user and nats_password_env go together")
        return self


# the role names are werk's vocabulary, kept in core (werk.core.access)
Role = AccessRole
ROLE_RANK = dict(ACCESS_ROLE_RANK)


class GrantConfig(StrictModel):
    """A role on a part of the plant (werk.core.access)."""

    role: Role
    """What the holder may there."""
    scope: str = ""
    """A UNS path prefix (``enterprise/site/area/line``, down to one asset); empty: the whole plant."""
    signals: list[str] = Field(default_factory=list)
    """UNS patterns (``+``, a final ``#``) of the signals under the scope the holder may write to the machine;
    none: no machine writes."""


class UserConfig(StrictModel):
    """A person or system allowed to write. The token itself is never in the file: only its SHA-256 (hex), or the
    name of an environment variable that holds it."""

    name: Name
    """Who it is, as audit events name them."""
    role: Role
    """``viewer``, ``operator``, ``supervisor``, ``admin``: each may what the ones before it may, and more (a
    supervisor writes to machines)."""
    token_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    """Deprecated: the unsalted SHA-256 of the bearer token, in hex (read with a warning; use ``token_hash``)."""
    token_hash: str | None = Field(default=None, pattern=r"^sha256:[0-9a-f]{8,64}:[0-9a-f]{64}$")
    """The salted hash of the bearer token, ``sha256:<salt>:<digest>`` (``werk tokens hash`` writes it)."""
    token_env: str | None = None
    """Or: an environment variable holding the token."""
    grants: list[GrantConfig] | None = None
    """Where the role holds; absent: ``role`` on the whole plant, with machine writes to every writable signal
    (as plant files before grants meant it)."""
    claims: dict[str, str | list[str]] = Field(default_factory=dict)
    """Further CLAIM attributes of this user for AAS access rules (e.g. ``email``, ``BusinessPartnerNumber``)."""


class TlsConfig(StrictModel):
    """HTTPS for the server (werk.security.tls): certificate files, or a self-signed certificate made at first
    start (its SHA-256 fingerprint printed, to compare in the browser)."""

    cert: str | None = None
    """PEM certificate (chain) file; with ``key``. Absent: self-signed, kept in ``dir``."""
    key: str | None = None
    """PEM private key file of ``cert``."""
    dir: str | None = None
    """Where the self-signed certificate is kept; default ``<historian path>.tls``."""
    hsts_max_age_s: int = Field(default=31_536_000, ge=0)
    """Strict-Transport-Security max-age sent with every answer (0: none)."""


class OidcConfig(StrictModel):
    """Sign-in through an OpenID Connect provider (werk.security.oidc): the authorization-code flow with PKCE,
    the ID token's signature checked against the provider's JWKS and its ``iss``, ``aud``, ``exp`` and ``nonce``
    checked; the person then holds a werk session with the grants its claims map to."""

    issuer: str = Field(pattern=r"^https?://[^\s]+$")
    """The provider's issuer URL, as its discovery document (``/.well-known/openid-configuration``) names it;
    ``https``, or ``http`` on a loopback address only."""
    client_id: str = Field(min_length=1)
    """werk's client id at the provider."""
    client_secret_env: str | None = None
    """The environment variable holding the client secret (never the secret itself in the file); none: a public
    client (PKCE alone)."""
    scopes: list[str] = Field(default_factory=lambda: ["openid", "profile", "email"])
    """The scopes werk asks for (``openid`` is always asked)."""
    name: str = "OpenID Connect"
    """The provider's name on the sign-in button."""
    redirect_uri: str | None = None
    """The callback the provider sends the browser back to (register it there); none: this server's
    ``/signin/oidc/callback`` as the browser reached it."""
    username_claim: str = "preferred_username"
    """The ID token claim that names the werk user (``sub`` where it is missing)."""
    role_claim: str = "groups"
    """The ID token claim (a string or a list) whose values ``grants`` maps."""
    grants: dict[str, list[GrantConfig]] = Field(default_factory=dict)
    """A value of ``role_claim`` (a group, a role) -> the werk grants it gives. A person whose claims map to no
    grant is refused."""
    timeout_s: float = Field(default=10.0, gt=0, le=120)
    """How long werk waits for the provider (discovery, keys, token)."""


class SecurityConfig(StrictModel):
    """Sign-in, sessions, limits and the front door of the HTTP server (werk.api.security, docs/security.md)."""

    allowed_hosts: list[str] = Field(default_factory=list)
    """Host header values the server answers (DNS rebinding); besides localhost, 127.0.0.1, ::1 and the bind
    address, which are always allowed. ``*`` allows any."""
    cors_origins: list[str] = Field(default_factory=list)
    """Origins another site's script may call the API from; none by default."""
    anonymous_read: bool = False
    """Once local users exist (``werk users add``) every read needs a viewer grant; true keeps reads open."""
    session_ttl_s: float = Field(default=8 * 3600, gt=0)
    """How long a sign-in lasts."""
    lockout_after: int = Field(default=5, ge=1)
    """Wrong passwords in a row that lock a user ..."""
    lockout_s: float = Field(default=900, gt=0)
    """... for this many seconds."""
    max_failures: int = Field(default=20, ge=1)
    """Refused credentials a client address may send in ``failure_window_s`` before it is answered 429."""
    failure_window_s: float = Field(default=60, gt=0)
    """The window of ``max_failures``, in seconds."""
    oidc: OidcConfig | None = None
    """Sign-in through an OpenID Connect provider besides werk's own users; none: werk's users only."""
    aas_access_rules: str | None = None
    """AAS access rules (IDTA-01004) checked on every AAS API request besides the grants: a path to a file of
    them (JSON or the text grammar; relative to the working directory) or the rules themselves. Off when absent
    (docs/security.md, "AAS access rules")."""


class ServerConfig(StrictModel):
    """The HTTP server: the dashboard, the REST and AAS APIs, who may write."""

    host: str = "127.0.0.1"
    """The address it listens on; 127.0.0.1 keeps it on this machine."""
    port: int = Field(default=8080, ge=0, le=65535)
    """The port it listens on."""
    users: list[UserConfig] = Field(default_factory=list)
    """Who may write; with none, every write is refused."""
    event_loop: Literal["auto", "asyncio", "uvloop"] = "auto"
    """The event loop everything runs on (werk.runtime.event_loop): auto = uvloop where installed, else
    asyncio's."""
    forwarded_allow_ips: list[str] = Field(default_factory=list)
    """Addresses whose X-Forwarded-For/-Proto werk believes: a reverse proxy's (``127.0.0.1`` when it runs on this
    box, ``*`` for any). None by default: the client's own address and scheme count (werk.api.http_server)."""
    workers: int = Field(default=1, ge=1, le=64)
    """Processes answering the port (Linux): the primary runs the platform; each further one answers the AAS
    API's busiest reads and value writes from its own copy of the twin and hands everything else to the primary
    (werk.api.workers). 1: the primary alone."""
    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    """The largest request body werk reads, in bytes; a larger one is answered 413 before it is read through."""
    max_upload_bytes: int = Field(default=128 * 1024 * 1024, ge=1024)
    """The same for the routes that take files (AASX packages, attachments, AAS environment imports)."""
    body_timeout_s: float = Field(default=30.0, gt=0, le=3600)
    """How long werk waits for the next part of a request body that has begun; a body that stops arriving is
    answered 408 and its connection closed, so a stalled or malicious client cannot hold a request open for ever."""
    security: SecurityConfig = SecurityConfig()
    """Sign-in, sessions, lock-out, rate limits, allowed hosts, CORS."""
    tls: TlsConfig | None = None
    """HTTPS; absent: plain HTTP (keep it on 127.0.0.1 then)."""


class AppsSettings(StrictModel):
    """``apps:``: one key per registered app (werk.config.schema adds them), each its settings."""

    def get(self, name: str) -> AppSettings | None:
        value = getattr(self, name, None)
        return value if isinstance(value, AppSettings) else None


class ProductConfig(StrictModel):
    """A product: its ideal cycle time (ISO 22400 PRI, planned run time per item) on each asset that makes it."""

    description: str = ""
    """What it is, in words."""
    ideal_cycle_s: dict[str, Annotated[float, Field(gt=0)]] = Field(default_factory=dict)
    """Asset name -> ideal cycle time in seconds for this product on that asset."""


class WerkConfig(StrictModel):
    """A plant file: the plant, where its data comes from, where it goes, and what runs on it."""

    plant: PlantConfig
    """The plant's tree and calendar."""
    products: dict[str, ProductConfig] = Field(default_factory=dict)
    """Product code -> the product."""
    connectors: dict[Name, ConnectorSettings] = Field(default_factory=dict)
    """Connector name -> its settings; ``type`` picks the protocol."""
    historian: HistorianConfig = HistorianConfig()
    """Where samples and events are kept."""
    bus: BusConfig = BusConfig()
    """How samples travel inside werk."""
    spool: SpoolConfig = SpoolConfig()
    """Store-and-forward between connectors and the bus."""
    server: ServerConfig = ServerConfig()
    """The HTTP server and its users."""
    cluster: ClusterConfig = ClusterConfig()
    """The durable log between ``werk edge`` and ``werk worker`` processes (unused by ``werk serve``)."""
    apps: AppsSettings = AppsSettings()
    """App name -> its settings."""

    @classmethod
    def model_validate(cls, obj: Any, **kwargs: Any) -> Self:
        """Validate against the whole schema (every registered app, connector and section) when asked of this
        base class; a plant file validated against werk's own models alone would refuse every connector."""
        if cls is WerkConfig:
            from werk.config.schema import default_schema

            return cast(Self, default_schema().model_validate(obj, **kwargs))
        return super().model_validate(obj, **kwargs)

    def app(self, name: str) -> Any:
        """The settings of the app ``name`` (its own model), or None when no such app is registered."""
        return self.apps.get(name)

    def section(self, key: str) -> Any:
        """A plug-in section of the file (``sim``), or None when absent."""
        return getattr(self, key, None)

    def assets(self) -> Iterator[AssetRef]:
        p = self.plant
        for site_name, site in p.sites.items():
            for area_name, area in site.areas.items():
                for line_name, line in area.lines.items():
                    for cell_name, cell in line.cells.items():
                        for name, asset in cell.assets.items():
                            path = "/".join((p.enterprise, site_name, area_name, line_name, cell_name, name))
                            loc: tuple[str, ...] = ("plant", "sites", site_name, "areas", area_name)
                            loc += ("lines", line_name, "cells", cell_name, "assets", name)
                            yield AssetRef(
                                name=name,
                                path=path,
                                aas_id=asset.aas_id or f"urn:werk:{p.enterprise}:asset:{name}",
                                config=asset,
                                loc=loc,
                            )

    def asset(self, name: str) -> AssetRef:
        for ref in self.assets():
            if ref.name == name:
                return ref
        raise KeyError(name)


@dataclass(frozen=True, slots=True)
class AssetRef:
    """An asset as the rest of werk sees it: its short name (unique in the plant), its UNS path and its AAS id."""

    name: str
    path: str
    aas_id: str
    config: AssetConfig
    loc: tuple[str, ...]

    def signal_path(self, signal: str) -> str:
        return f"{self.path}/{signal}"
