"""Before the virtual factory starts: are its ports free, and is what it talks to there?"""

from __future__ import annotations

from collections.abc import Callable

from werk.config.model import WerkConfig
from werk.errors import WerkError
from werk.sim.spec import sim_of

PortFree = Callable[[str, int], bool]


def endpoint_port(endpoint: str) -> tuple[str, int]:
    """Host and port of an ``opc.tcp://host:port/path`` endpoint (4840 when none is given)."""
    hostport = endpoint.split("://", 1)[1].split("/", 1)[0]
    host, _, port = hostport.rpartition(":")
    return host or "127.0.0.1", int(port or 4840)


def check_ports(config: WerkConfig, free: PortFree) -> None:
    """Refuse to start when the simulator's OPC UA port is taken (WerkError says which and what to do)."""
    sim = sim_of(config)
    if sim is None:
        return
    host, port = endpoint_port(sim.endpoint)
    if not free(host, port):
        raise WerkError(
            f"OPC UA port {port} on {host} is in use: stop the other server or change sim.endpoint"
        )


def notes(config: WerkConfig, free: PortFree) -> list[str]:
    """What the demo will lack on this machine, said once at start."""
    sim = sim_of(config)
    sp = sim.sparkplug if sim is not None else None
    if sp is not None and sp.host in ("127.0.0.1", "localhost") and free(sp.host, sp.port):
        return [
            f"no MQTT broker on {sp.host}:{sp.port}: the building sensors (Sparkplug B) stay offline;"
            " install one (apt-get install mosquitto) to see them"
        ]
    return []
