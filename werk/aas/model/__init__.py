"""Helpers around basyx's metamodel: see :mod:`werk.aas`."""
