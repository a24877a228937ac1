"""One exception tree, so callers can catch werk's failures without catching everyone else's."""


class WerkError(Exception):
    """Base of every error werk raises on purpose."""


class ConfigError(WerkError):
    """The plant file is unreadable or invalid. The message names the file, the line and the key path."""


class UnsPathError(WerkError, ValueError):
    """A Unified Namespace path or pattern is malformed."""


class StoreError(WerkError):
    """The historian could not do what was asked (schema too new, file unreadable, ...)."""


class TwinConflict(StoreError):
    """A change of the twin's structure that another werk process sharing the twin (PostgreSQL) overtook: nothing
    of it was stored and the twin was loaded again as the other left it; send the request again (409)."""


class ConnectorError(WerkError):
    """A connector cannot reach or understand its source."""


class AasError(WerkError):
    """An Asset Administration Shell document or request is invalid or cannot be represented; nothing was loaded.

    ``problems`` lists every finding (path and cause), so a plant engineer can fix the file in one pass.
    """

    def __init__(self, message: str, problems: tuple[str, ...] = ()) -> None:
        super().__init__(message if not problems else f"{message}: {'; '.join(problems[:10])}")
        self.problems = problems


class PayloadError(WerkError, ValueError):
    """A message from a source that does not follow its protocol's payload format (the connector module's docstring
    says which); the message names the part. Counted in the connector's errors, the rest of the batch is kept."""


class ObservationError(PayloadError):
    """An MTConnect observation or SHDR line that does not follow the rules in ``werk.connect.mtconnect``."""


class TemplateError(WerkError, ValueError):
    """A topic-map rule whose topic or path template is not well formed; the message says which part and why."""


class ModelFileError(WerkError):
    """A model file is unreadable, corrupt, truncated or for another feature set; the message names the file."""


class WriteRefused(WerkError):
    """A write to a machine that the plant file does not allow (a read-only signal, a connector that cannot
    write); nothing was sent."""


class InputError(WerkError, ValueError):
    """A request's parameter or body that cannot be used as given. ``loc`` says where (``("query", "start")``);
    the API answers 422 with it, in the shape of every other validation error."""

    def __init__(self, message: str, loc: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        self.loc = loc


class RunsElsewhere(WerkError):
    """What a request asks of an app is known only to the instance that runs it, and this process only serves the
    app's pages and API over its tables (a ``werk api`` replica; docs/cluster.md): the API answers 503 with the
    message in the reader's language. ``msgid`` is a translation key (the app's catalog or werk's) with ``{name}``
    placeholders filled from ``args``."""

    def __init__(self, msgid: str, **args: str) -> None:
        super().__init__(msgid.format(**args))
        self.msgid = msgid
        self.args_ = args


class CommandRefused(WerkError):
    """The app instance that runs an asset in a cluster refused a command a served instance sent it
    (werk.runtime.app_commands): ``kind`` is the class name of the error it raised, the message its message,
    ``loc`` an :class:`InputError`'s ``loc`` (empty for any other)."""

    def __init__(self, kind: str, detail: str, loc: tuple[str | int, ...] = ()) -> None:
        super().__init__(detail)
        self.kind = kind
        self.loc = loc

    def again(self) -> WerkError:
        """The error to raise where the command was sent from: an :class:`InputError` the running instance
        raised as one raised here (422 with its ``loc``), any other refusal as this one."""
        return InputError(str(self), self.loc) if self.kind == "InputError" else self


class Unauthorized(WerkError):
    """A request may not do what it asks: no valid bearer token (``status`` 401), or a user whose role is too low
    or no users at all (403). ``headers`` go with the answer (a 401's ``WWW-Authenticate`` challenge)."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers
