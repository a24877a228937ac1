"""AAS documents in and out (JSON, XML, AASX): see :mod:`werk.aas`."""
