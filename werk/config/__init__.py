"""The plant file: pydantic models and a loader that reports errors with file, line and key path."""

from werk.config.loader import check_references, demo_config_path, load_config, parse_config
from werk.config.model import AssetRef, WerkConfig

__all__ = ["AssetRef", "WerkConfig", "check_references", "demo_config_path", "load_config", "parse_config"]
