"""The dashboard: static files served by the API, shipped in the wheel (no Node step for users)."""

from importlib import resources
from pathlib import Path


def static_dir() -> Path:
    return Path(str(resources.files("werk.ui").joinpath("static")))
