"""One MQTT connection per badge (``FleetPublisher``) on a real Mosquitto, thousands at once."""

from __future__ import annotations

import logging
import resource
from pathlib import Path

import pytest

from firmware_sim.config import SimSettings
from firmware_sim.errors import PublishError
from firmware_sim.fleet import FleetPublisher, ensure_fd_limit
from firmware_sim.runner import run_simulation
from firmware_sim.simulation import plan_timeline
from inperson.broker import Broker, free_port
from protocol.api import DetectionSettings
from protocol.encoding import open_envelope
from protocol.topics import parse_badge_topic
from tests.unit.firmware_sim.fakes import make_bundles, verifiers, write_bundles
from tests.unit.firmware_sim.subscriber import Subscriber

pytestmark = pytest.mark.integration


def established_to(port: int) -> int:
    """TCP connections of this machine in state ESTABLISHED whose remote port is ``port``."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            if remote_port == port and fields[3] == "01":
                count += 1
    return count


def test_two_thousand_badges_hold_their_own_connections_at_once(
    broker: Broker, event_id: str
) -> None:
    badges = [f"b{k:05d}" for k in range(2000)]
    before = established_to(broker.port)
    subscriber = Subscriber(broker, event_id)
    fleet = FleetPublisher(broker.host, broker.port, badges)
    try:
        fleet.start()
        assert fleet.connections == 2000
        assert fleet.connected_count() == 2000
        # The kernel agrees: 2,000 more sockets are connected to the broker right now
        # (the subscriber is one more).
        assert established_to(broker.port) - before >= 2001
        for badge in badges:
            fleet.publish(f"inperson/v1/{event_id}/badges/{badge}/reports", badge.encode())
        for badge in badges[:500]:
            fleet.publish(f"inperson/v1/{event_id}/badges/{badge}/status", badge.encode())
        assert fleet.wait_acked(60)
        stats = fleet.close(timeout=30)
        received = subscriber.wait_for(2500)
    finally:
        subscriber.close()
    assert stats.published == 2500
    assert stats.acked == {"reports": 2000, "status": 500}
    assert stats.failures == 0
    assert len(received) == 2500
    assert sorted(t for t, _ in received if t.endswith("/reports")) == sorted(
        f"inperson/v1/{event_id}/badges/{b}/reports" for b in badges
    )
    assert all(parse_badge_topic(t).badge == p.decode() for t, p in received)
    assert established_to(broker.port) <= before + 1  # every badge disconnected


def test_simulation_in_per_badge_mode_delivers_every_message_in_order(
    broker: Broker, event_id: str, tmp_path: Path
) -> None:
    bundles = make_bundles(25, event=event_id)
    write_bundles(tmp_path / "bundles", bundles)
    settings = SimSettings(
        bundles_dir=tmp_path / "bundles",
        broker_host=broker.host,
        broker_port=broker.port,
        minutes=4.0,
        speed=0,
        publish_mode="per-badge",
    )
    subscriber = Subscriber(broker, event_id)
    try:
        result = run_simulation(settings)
        received = subscriber.wait_for(result.summary["messages_sent"])
    finally:
        subscriber.close()
    summary = result.summary
    assert summary["publish_failures"] == 0
    assert summary["reports_sent"] == 25 * (
        12 + plan_timeline(DetectionSettings(), 1, 0).tail_windows
    )
    assert len(received) == summary["messages_sent"]
    checks = verifiers(bundles)
    last_seq: dict[str, int] = {}
    for topic, payload in received:
        parsed = parse_badge_topic(topic)
        message = open_envelope(parsed, payload, checks[parsed.badge])
        assert message.seq == last_seq.get(parsed.badge, 0) + 1  # each badge's order kept
        last_seq[parsed.badge] = message.seq
    assert len(last_seq) == 25


def test_a_topic_of_an_unknown_badge_is_counted_not_sent(broker: Broker, event_id: str) -> None:
    fleet = FleetPublisher(broker.host, broker.port, ["b1", "b2"])
    fleet.start()
    fleet.publish(f"inperson/v1/{event_id}/badges/b1/reports", b"ok")
    fleet.publish(f"inperson/v1/{event_id}/badges/b9/reports", b"nobody")
    fleet.publish("not/a/badge/topic", b"nobody")
    stats = fleet.close(timeout=30)
    assert stats.published == 3
    assert stats.acked == {"reports": 1}
    assert stats.failures == 2


def test_every_badge_reconnects_after_a_broker_restart(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="firmware_sim.fleet")
    badges = [f"b{k}" for k in range(40)]
    with Broker(tmp_path / "own-broker") as own:
        fleet = FleetPublisher(own.host, own.port, badges, shards=3)
        fleet.start()
        for k in range(400):
            fleet.publish(f"inperson/v1/ev-restart/badges/{badges[k % 40]}/reports", b"x" * 200)
        assert fleet.wait_acked(30)
        own.restart()
        for k in range(400):
            fleet.publish(f"inperson/v1/ev-restart/badges/{badges[k % 40]}/status", b"y" * 200)
        assert fleet.wait_acked(60)
        assert fleet.connected_count() == 40
        stats = fleet.close(timeout=30)
    assert stats.acked == {"reports": 400, "status": 400}
    assert stats.failures == 0
    lost = [r for r in caplog.records if "connection lost" in r.getMessage()]
    back = [r for r in caplog.records if "reconnected" in r.getMessage()]
    assert len(lost) == 40 and len(back) == 40


def test_unreachable_broker_raises_publish_error() -> None:
    fleet = FleetPublisher("127.0.0.1", free_port(), ["b1", "b2", "b3"])
    with pytest.raises(PublishError):
        fleet.start()


def test_fd_limit_is_raised_only_when_needed_and_refused_beyond_the_hard_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert ensure_fd_limit(16) == soft
    with pytest.raises(PublishError, match="hard limit"):  # Linux never allows an infinite one
        ensure_fd_limit(hard + 1)
    assert resource.getrlimit(resource.RLIMIT_NOFILE) == (soft, hard)


def test_constructor_refuses_bad_arguments() -> None:
    with pytest.raises(ValueError):
        FleetPublisher("127.0.0.1", 1883, [])
    with pytest.raises(ValueError):
        FleetPublisher("127.0.0.1", 1883, ["b1", "b1"])
    with pytest.raises(ValueError):
        FleetPublisher("127.0.0.1", 1883, ["b1"], shards=0)
