"""The Asset Administration Shell twin of the plant: basyx-python-sdk objects, built from the plant file
(:mod:`~werk.twin.environment`), with Properties bound to UNS signals (:mod:`~werk.twin.live`), read and written as
JSON, XML and AASX (:mod:`~werk.twin.io`), kept in werk's SQLite file (:mod:`~werk.twin.persistence`) and served by
:mod:`werk.api.aas`."""

from werk.twin import xsd_text
from werk.twin.environment import build_environment
from werk.twin.io import Loaded, read_file
from werk.twin.store import TwinStore

xsd_text.install()  # before any reader or writer runs (basyx looks both functions up at each call)

__all__ = ["Loaded", "TwinStore", "build_environment", "read_file"]
