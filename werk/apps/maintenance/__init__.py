"""Predictive maintenance: healthy baselines and anomaly scores per asset, remaining useful life from model
files, and work orders when an asset looks like it will fail."""
