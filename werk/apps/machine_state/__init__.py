"""Machine state app: each asset's current state, time in state and a live OEE."""

from werk.apps.machine_state.app import MachineStateApp

__all__ = ["MachineStateApp"]
