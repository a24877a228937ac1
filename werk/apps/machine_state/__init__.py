"""Machine state app: each asset's current state and time in state, on the Unified Namespace and as events."""
