"""werk's Asset Administration Shell server, shaped like basyx-python-sdk, on whose model it builds.

- :mod:`werk.aas.model`: helpers around basyx's metamodel classes: the Part 2 serialization modifiers and idShort
  paths (``formats``), setting values from their value-only form (``values``), date and time text basyx cannot hold
  (``xsd_text``), bound Properties (``bound``), registry descriptors (``descriptors``);
- :mod:`werk.aas.adapter`: JSON, XML and AASX of metamodel 3.0 and 3.1 in and out, all or nothing (``io``);
- :mod:`werk.aas.backend`: the twin in memory (``store``), in SQLite (``persistence``) through the group-commit
  writer (``group_commit``, ``table_writer``), followed by other processes (``follow``), and what clients register
  with the registry, discovery and file server (``service_store``);
- :mod:`werk.aas.http`: the Part 2 HTTP API, one router per resource, its read cache and its fast path.

Why not basyx's own server. basyx-python-sdk 2.x, which werk uses, no longer ships ``basyx.aas.adapter.http``;
its last one, in 1.2.1 (the peer of ``benchmarks/aas_api.py``), is a werkzeug ``WSGIApp`` over an
``AbstractObjectStore`` whose module docstring lists what it leaves out: the ``extent`` modifier, the thumbnail,
``/serialization`` and ``/description``, every ``$value``, ``$path`` and PATCH route, and operations. Beyond that
list, werk needs what it has no place for:

- **writes only with a role**: it authorizes nothing, so every client may change a plant's twin;
- **durable, acknowledged writes**: it changes objects in its store and answers; werk answers a write only once it
  is committed to SQLite, many writes per transaction (group commit), shared by several processes on one port;
- **live bound values**: Properties that show a machine's latest sample on every read, and writes of a setpoint
  that go to the machine through its connector, audited;
- **cached reads and a fast path**: it serialises every object on every read (and calls each object's ``update``);
  werk keeps the answers of its busiest reads as bytes until the twin or a value they show changes, and answers
  them before FastAPI's machinery runs, on the event loop werk's connectors share (a WSGI app cannot be on it);
- **registry, discovery and AASX file server** beside the repository, and importing whole environments;
- **metamodel 3.1 and strict input**: it reads and writes 3.0 through basyx's own reader, which accepts invalid
  documents and refuses valid ones; werk checks every document with aas-core (3.0 and 3.1) first and refuses a
  file whole with every finding;
- **bounded input**: it reads each body whole into memory; werk caps bodies, checks credentials before reading
  one, and bounds what an AASX package may inflate to.

So werk uses basyx for the metamodel (its classes, constraints and JSON/XML codecs) and replaces the server.
"""

from werk.aas.backend.follow import TwinFollower, follow
from werk.aas.backend.persistence import TwinPersistence
from werk.aas.backend.service_store import ServiceStore
from werk.aas.backend.store import TwinStore
from werk.aas.model import xsd_text

xsd_text.install()  # before any reader or writer runs (basyx looks both functions up at each call)

__all__ = ["ServiceStore", "TwinFollower", "TwinPersistence", "TwinStore", "follow"]
