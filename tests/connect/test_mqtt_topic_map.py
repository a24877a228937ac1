"""MQTT topics mapped to UNS paths by rules: the template language (pure) and the connector on the real broker."""

from __future__ import annotations

import logging

import pytest
from pydantic import ValidationError

from tests.connect.conftest import Reader, _config, _listen, _publish
from werk.connect.mqtt import MqttConnector, MqttConnectorConfig
from werk.connect.sparkplug import SparkplugConfig
from werk.core.model import Quality
from werk.core.topic_map import TopicMap, TopicRule
from werk.errors import TemplateError, UnsPathError

AREA = "acme/berlin/assembly"


# --- templates (pure) --------------------------------------------------------------------------------------


def test_named_wildcards_become_path_segments() -> None:
    rule = TopicRule.compile("factory/{line}/{device}/{signal}", AREA + "/{line}/cell-1/{device}/{signal}")
    assert rule.filter == "factory/+/+/+" and not rule.fields
    caps = rule.match("factory/line-2/screwer-7/torque")
    assert caps == {"line": "line-2", "device": "screwer-7", "signal": "torque"}
    assert rule.resolve(caps) == AREA + "/line-2/cell-1/screwer-7/torque"
    assert rule.match("factory/line-2/screwer-7") is None  # one level short
    assert rule.match("factory/line-2/screwer-7/torque/raw") is None  # one level too many
    assert rule.match("office/line-2/screwer-7/torque") is None  # literal differs


def test_multi_level_capture_and_anonymous_wildcards() -> None:
    rule = TopicRule.compile("site/+/{rest#}", AREA + "/line-1/cell-1/{rest}")
    assert rule.filter == "site/+/#"
    caps = rule.match("site/x/press-1/force")
    assert caps == {"rest": "press-1/force"}
    assert rule.resolve(caps) == AREA + "/line-1/cell-1/press-1/force"
    assert rule.match("site/x") is None  # '#' matches the parent level, but a named capture needs one
    assert TopicRule.compile("site/#", AREA + "/l/c/a/s").match("site") == {}


def test_a_capture_that_is_no_uns_segment_is_refused_by_name() -> None:
    rule = TopicRule.compile("zigbee/{device}/{signal}", AREA + "/line-1/env/{device}/{signal}")
    with pytest.raises(UnsPathError, match="'Hall Sensor' is not a valid UNS segment"):
        rule.resolve(rule.match("zigbee/Hall Sensor/temp") or {})


@pytest.mark.parametrize(
    ("topic", "path", "reason"),
    [
        ("a/{x}/b", AREA + "/{y}/c/d/e", r"uses \{y\}, which the topic template"),
        ("a/{x#}/b", AREA + "/{x}/c/d/e", "multi-level capture must be the last level"),
        ("a/#/b", AREA + "/l/c/d/e", "multi-level capture must be the last level"),
        ("a/x{y}/b", AREA + "/l/c/d/e", "mixes text with a wildcard"),
        ("a/{x}/{x}", AREA + "/{x}/c/d/e", r"captures \{x\} twice"),
        ("a/{field}", AREA + "/l/c/d/{field}", "reserved"),
        ("$SYS/{x}", AREA + "/{x}/c/d/e", "reserved for the broker"),
        ("a/{x}", AREA + "/{x}/c d/e/f", "not a valid UNS segment"),
        ("a/{x}", AREA + "/{x}}/c/d/e", "brace that is not a"),
        ("", AREA, "empty|at least 1 character"),
    ],
)
def test_bad_templates_say_what_is_wrong(topic: str, path: str, reason: str) -> None:
    with pytest.raises(TemplateError, match=reason):
        TopicRule.compile(topic, path)
    with pytest.raises(ValidationError, match=reason):  # and the plant file refuses them the same way
        _config(1883, map=[{"topic": topic, "path": path}])


def test_first_matching_rule_wins_and_lookups_are_cached() -> None:
    specific = TopicRule.compile("f/press-1/{s}", AREA + "/line-1/cell-1/press-1/{s}")
    general = TopicRule.compile("f/{a}/{s}", AREA + "/line-1/cell-9/{a}/{s}")
    tm = TopicMap([specific, general])
    found = tm.lookup("f/press-1/force")
    assert found is not None and found[0] is specific
    found = tm.lookup("f/robot-1/force")
    assert found is not None and found[0] is general
    assert tm.lookup("g/robot-1/force") is None
    assert "g/robot-1/force" in tm._cache and tm.covers("f/x/y") and not tm.covers("f/x")


def test_sparkplug_hosts_take_no_map_rules() -> None:
    rule = {"topic": "a/{x}", "path": AREA + "/l/c/{x}/s"}
    assert MqttConnectorConfig.model_validate({"type": "mqtt", "map": [rule]}).map[0].topic == "a/{x}"
    with pytest.raises(ValidationError, match="map rules are for JSON topics"):
        SparkplugConfig.model_validate({"type": "sparkplug", "host_id": "h", "map": [rule]})


# --- against the machine's broker --------------------------------------------------------------------------


async def test_rules_feed_every_matching_topic_and_bindings_win(
    system_broker: int,
    prefix: str,
    readers: list[Reader],
    caplog: pytest.LogCaptureFixture,
) -> None:
    rules = [
        {"topic": prefix + "/{line}/{device}/{signal}", "path": AREA + "/{line}/cell-1/{device}/{signal}"}
    ]
    exact = {f"{prefix}/line-1/press-1/force": AREA + "/line-1/cell-1/press-1/force_kn"}
    conn = MqttConnector("broker", _config(system_broker, map=rules), exact)
    # the bound topic is under the rule's filter: one subscription delivers it, never twice
    assert conn.subscriptions() == [prefix + "/+/+/+"]
    caplog.set_level(logging.WARNING, logger="werk.connect.mqtt")
    reader = await _listen(readers, conn)
    await _publish(
        system_broker,
        (f"{prefix}/line-1/press-1/force", b"12.5"),
        (
            f"{prefix}/line-2/screwer-7/torque",
            b'[{"value": 4.1, "ts": 1772600767250}, {"value": 4.3, "ts": 1772600768250}]',
        ),
        (f"{prefix}/line-2/Bad Name/torque", b"1"),
        (f"{prefix}/line-2/screwer-7/angle", b"{broken"),
        (f"{prefix}/line-1/robot-1/payload", b'{"value": 3, "quality": "uncertain"}'),
    )
    got = await reader.until(lambda g: len(g) >= 4)
    assert [(s.path, s.value) for s in got] == [
        (AREA + "/line-1/cell-1/press-1/force_kn", 12.5),
        (AREA + "/line-2/cell-1/screwer-7/torque", 4.1),
        (AREA + "/line-2/cell-1/screwer-7/torque", 4.3),
        (AREA + "/line-1/cell-1/robot-1/payload", 3),
    ]
    assert got[-1].quality is Quality.UNCERTAIN
    st = conn.status
    assert (
        st.errors == 2 and st.connected
    )  # the bad level and the broken JSON, counted; the connector goes on
    assert conn.mapped_paths == {
        AREA + "/line-2/cell-1/screwer-7/torque",
        AREA + "/line-1/cell-1/robot-1/payload",
    }
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert f"topic={prefix}/line-2/Bad Name/torque error=map rule" in logged and "'Bad Name'" in logged
    assert f"topic={prefix}/line-2/screwer-7/angle error=not JSON" in logged


async def test_field_rules_split_an_object_into_signals(
    system_broker: int, prefix: str, readers: list[Reader]
) -> None:
    """A gateway sends one object per device (Zigbee2MQTT style); each scalar member is a signal."""
    rules = [{"topic": prefix + "/zigbee/{device}", "path": AREA + "/hall/env/{device}/{field}"}]
    conn = MqttConnector("broker", _config(system_broker, map=rules), {})
    reader = await _listen(readers, conn)
    await _publish(
        system_broker,
        (
            f"{prefix}/zigbee/sensor-3",
            b'{"temperature": 21.5, "humidity": 40, "occupied": false, "ts": 1772600767250,'
            b' "update": {"state": "idle"}, "note": null, "bad key": 1}',
        ),
        (f"{prefix}/zigbee/sensor-4", b"21.5"),  # not an object: refused, counted
        (
            f"{prefix}/zigbee/sensor-4",
            b'[{"temperature": 19.0, "ts": 1772600767250}, {"temperature": 19.5}, {"temperature": 20.0, "ts": 1772600769250}]',
        ),
    )
    got = await reader.until(lambda g: len(g) >= 5)
    s3 = {s.path.rsplit("/", 1)[1]: s.value for s in got if "/sensor-3/" in s.path}
    assert s3 == {"temperature": 21.5, "humidity": 40, "occupied": False}
    assert all(s.ts.timestamp() == 1772600767.25 for s in got if "/sensor-3/" in s.path)
    s4 = [(s.path, s.value) for s in got if "/sensor-4/" in s.path]
    assert s4 == [
        (AREA + "/hall/env/sensor-4/temperature", 19.0),
        (AREA + "/hall/env/sensor-4/temperature", 20.0),
    ]
    assert conn.status.errors == 3  # 'bad key', the bare number, the batch item without ts
    assert "batch item 1: has no 'ts'" in conn.status.last_error
