import pytest

from werk.core.uns import TopicMatcher, matches, validate_path, validate_pattern
from werk.errors import UnsPathError

PATH = "acme/augsburg/machining/line-1/milling/cnc-1/load"


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("#", True),
        ("acme/#", True),
        (PATH, True),
        ("+/+/+/+/+/+/load", True),
        ("+/+/+/+/+/+/temperature", False),
        ("acme/augsburg/machining/line-1/milling/+/load", True),
        ("acme/augsburg/assembly/#", False),
        ("+/+/+/+/+/+", False),  # one level short: '+' does not match two levels
        (PATH + "/extra", False),
    ],
)
def test_pattern_semantics_follow_mqtt(pattern: str, expected: bool) -> None:
    assert matches(pattern, PATH) is expected


@pytest.mark.parametrize("bad", ["", "a//b", "a/b c", "a/#/b", "-a/b", "a/b/ä"])
def test_malformed_paths_and_patterns_are_refused(bad: str) -> None:
    with pytest.raises(UnsPathError):
        validate_pattern(bad) if "#" in bad else validate_path(bad)


def test_matcher_caches_and_forgets_removed_patterns() -> None:
    m = TopicMatcher()
    m.add(1, "+/+/+/+/+/+/load")
    m.add(2, "acme/#")
    assert m.lookup(PATH) == (1, 2)
    m.remove(2)
    assert m.lookup(PATH) == (1,)
