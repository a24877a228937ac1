"""The vocabulary every layer shares: samples, events, UNS paths. No I/O, no imports from the rest of werk."""

from werk.core.model import Event, Quality, Sample, Value
from werk.core.uns import UNS_LEVELS, TopicMatcher, matches, validate_path, validate_pattern

__all__ = [
    "UNS_LEVELS",
    "Event",
    "Quality",
    "Sample",
    "TopicMatcher",
    "Value",
    "matches",
    "validate_path",
    "validate_pattern",
]
