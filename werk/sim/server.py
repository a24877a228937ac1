"""The virtual factory as ``werk demo`` and ``werk sim`` run it: its OPC UA server, which starts the other
protocol servers the ``sim:`` section asks for (energy meters, an MTConnect adapter, a Sparkplug edge node)."""

from werk.sim.opcua_server import SimOpcUaServer as SimServer

__all__ = ["SimServer"]
