"""One exception tree, so callers can catch werk's failures without catching everyone else's."""


class WerkError(Exception):
    """Base of every error werk raises on purpose."""


class ConfigError(WerkError):
    """The plant file is unreadable or invalid. The message names the file, the line and the key path."""


class UnsPathError(WerkError, ValueError):
    """A Unified Namespace path or pattern is malformed."""


class StoreError(WerkError):
    """The historian could not do what was asked (schema too new, file unreadable, ...)."""


class ConnectorError(WerkError):
    """A connector cannot reach or understand its source."""
