"""Decision apps: each one folder with a pure engine and its wiring."""
