"""The simulator publishes through a real Mosquitto: every message arrives and verifies."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from firmware_sim.config import SimSettings
from firmware_sim.errors import PublishError
from firmware_sim.publisher import MqttPublisher
from firmware_sim.runner import run_simulation
from firmware_sim.simulation import plan_timeline
from inperson.broker import Broker, free_port
from protocol.api import DetectionSettings
from protocol.encoding import open_envelope
from protocol.messages import SightingReport
from protocol.topics import BadgeChannel, parse_badge_topic
from tests.unit.firmware_sim.fakes import make_bundles, verifiers, write_bundles
from tests.unit.firmware_sim.subscriber import Subscriber

pytestmark = pytest.mark.integration

TAIL = plan_timeline(DetectionSettings(), 1, 0).tail_windows
"""Windows after the agenda with the default settings."""


def test_every_published_message_arrives_and_verifies(
    broker: Broker, event_id: str, tmp_path: Path
) -> None:
    bundles = make_bundles(12, event=event_id)
    write_bundles(tmp_path / "bundles", bundles)
    settings = SimSettings(
        bundles_dir=tmp_path / "bundles",
        broker_host=broker.host,
        broker_port=broker.port,
        minutes=4.0,
        speed=0,
        connections=3,
        summary_path=tmp_path / "summary.json",
    )
    subscriber = Subscriber(broker, event_id)
    try:
        result = run_simulation(settings)
        received = subscriber.wait_for(result.summary["messages_sent"])
    finally:
        subscriber.close()

    summary = result.summary
    windows = 12 + TAIL
    assert summary["publish_failures"] == 0
    assert summary["reports_sent"] == 12 * windows
    assert summary["messages_sent"] == (
        summary["reports_sent"]
        + summary["status_sent"]
        + summary["taps_sent"]
        + summary["checkins_sent"]
    )
    assert summary["checkins_sent"] == 2 * 12  # each badge enters once and leaves once
    assert len(received) == summary["messages_sent"]
    assert len(set(received)) == len(received)

    checks = verifiers(bundles)
    channels: Counter[BadgeChannel] = Counter()
    last_seq: dict[str, int] = {}
    for topic, payload in received:
        parsed = parse_badge_topic(topic)
        message = open_envelope(parsed, payload, checks[parsed.badge])
        channels[parsed.channel] += 1
        # one connection per badge keeps each badge's messages in order
        assert message.seq == last_seq.get(parsed.badge, 0) + 1
        last_seq[parsed.badge] = message.seq
        if isinstance(message, SightingReport):
            assert message.event == event_id
    assert channels[BadgeChannel.REPORTS] == summary["reports_sent"]
    assert channels[BadgeChannel.STATUS] == summary["status_sent"]
    assert json.loads((tmp_path / "summary.json").read_text()) == summary


def test_publisher_counts_acknowledgements_per_channel(broker: Broker, event_id: str) -> None:
    publisher = MqttPublisher(broker.host, broker.port, connections=2)
    publisher.start()
    for k in range(500):
        publisher.publish(f"inperson/v1/{event_id}/badges/b{k % 7}/reports", b"r" * 100)
    for k in range(30):
        publisher.publish(f"inperson/v1/{event_id}/badges/b{k % 7}/status", b"s" * 100)
    stats = publisher.close(timeout=30)
    assert stats.published == 530
    assert stats.acked == {"reports": 500, "status": 30}
    assert stats.failures == 0


def test_module_entry_point_runs_from_the_environment(
    broker: Broker, event_id: str, tmp_path: Path
) -> None:
    write_bundles(tmp_path / "bundles", make_bundles(4, event=event_id))
    env = dict(os.environ)
    env.update(
        {
            "BADGE_BUNDLES_DIR": str(tmp_path / "bundles"),
            "BADGE_BROKER_HOST": broker.host,
            "BADGE_BROKER_PORT": str(broker.port),
            "BADGE_MINUTES": "2",
            "BADGE_SPEED": "0",
            "BADGE_GROUND_TRUTH_PATH": str(tmp_path / "truth.json"),
            "BADGE_SUMMARY_PATH": str(tmp_path / "summary.json"),
        }
    )
    done = subprocess.run(
        [sys.executable, "-m", "firmware_sim"],
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["reports_sent"] == 4 * (6 + TAIL) and summary["publish_failures"] == 0
    truth = json.loads((tmp_path / "truth.json").read_text())
    assert truth["event"] == event_id and truth["windows"] == 6 + TAIL
    assert "simulation done" in done.stderr


def test_entry_point_without_a_broker_fails_cleanly(tmp_path: Path) -> None:
    write_bundles(tmp_path / "bundles", make_bundles(2))
    env = dict(os.environ)
    env.update(
        {"BADGE_BUNDLES_DIR": str(tmp_path / "bundles"), "BADGE_BROKER_PORT": str(free_port())}
    )
    done = subprocess.run(
        [sys.executable, "-m", "firmware_sim"],
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "simulation failed (publish_failed)" in done.stderr
    assert "Traceback" not in done.stderr


def test_unreachable_broker_raises_publish_error(tmp_path: Path) -> None:
    write_bundles(tmp_path / "bundles", make_bundles(2))
    settings = SimSettings(bundles_dir=tmp_path / "bundles", broker_port=free_port(), speed=0)
    with pytest.raises(PublishError):
        run_simulation(settings)


def test_publisher_survives_a_broker_restart(tmp_path: Path) -> None:
    with Broker(tmp_path / "own-broker") as own:
        publisher = MqttPublisher(own.host, own.port, connections=2)
        publisher.start()
        for k in range(1000):
            publisher.publish(f"inperson/v1/ev-restart/badges/b{k % 5}/reports", b"x" * 200)
        own.restart()
        for k in range(1000):
            publisher.publish(f"inperson/v1/ev-restart/badges/b{k % 5}/reports", b"x" * 200)
        stats = publisher.close(timeout=30)
    assert stats.published == 2000
    assert stats.acked == {"reports": 2000}
    assert stats.failures == 0
