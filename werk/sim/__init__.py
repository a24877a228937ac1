"""The virtual factory: asset models on a deterministic clock, served over real protocols on loopback."""
