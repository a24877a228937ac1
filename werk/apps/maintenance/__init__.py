"""Predictive maintenance: remaining useful life and live anomaly detection, with their model files.

Engines only so far (``rul``, ``anomaly``: data in, data out); ``model_file`` is the one module that touches disk.
The app wiring (bus, historian, per-asset serving) comes later and will import these.
"""
