"""Where the twin is kept (memory, SQLite, the group-commit writer): see :mod:`werk.aas`."""
