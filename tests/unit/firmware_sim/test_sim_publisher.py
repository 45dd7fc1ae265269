"""MqttPublisher without a broker: clear errors; topic helpers."""

from __future__ import annotations

import pytest

from firmware_sim.errors import PublishError
from firmware_sim.publisher import MqttPublisher, PublishStats, badge_of_topic, channel_of_topic
from inperson.broker import free_port


def test_unreachable_broker_is_a_publish_error() -> None:
    publisher = MqttPublisher("127.0.0.1", free_port(), connections=2, connect_timeout=2.0)
    with pytest.raises(PublishError, match="cannot connect"):
        publisher.start()


def test_publish_before_start_is_refused() -> None:
    publisher = MqttPublisher("127.0.0.1", 1883)
    with pytest.raises(PublishError, match="before start"):
        publisher.publish("inperson/v1/ev/badges/b1/reports", b"x")


def test_topic_helpers() -> None:
    topic = "inperson/v1/ev/badges/b1/reports"
    assert channel_of_topic(topic) == "reports"
    assert badge_of_topic(topic) == "b1"
    assert badge_of_topic("not/a/badge/topic") == "not/a/badge/topic"


def test_stats_total() -> None:
    assert PublishStats(5, {"reports": 3, "taps": 1}, 1).acked_total == 4
    with pytest.raises(ValueError):
        MqttPublisher("127.0.0.1", 1883, connections=0)
