"""The offline buffer and connection outages: nothing lost unless full, always in order."""

from __future__ import annotations

import random
from collections import defaultdict
from pathlib import Path

import pytest

from firmware_sim.badge import Outgoing
from firmware_sim.buffer import Link, OfflineBuffer
from firmware_sim.config import SimSettings
from firmware_sim.simulation import simulate
from protocol.encoding import open_envelope
from protocol.messages import BadgeStatus, SightingReport
from protocol.topics import parse_badge_topic
from tests.unit.firmware_sim.fakes import make_bundles, verifiers


def _message(k: int) -> Outgoing:
    return Outgoing(f"t{k}", bytes([k]))


def test_buffer_is_fifo_and_drops_the_oldest_when_full() -> None:
    buffer = OfflineBuffer(3)
    for k in range(5):
        buffer.put(_message(k))
    assert buffer.fill == 3 and buffer.drops == 2
    assert buffer.drain() == [_message(2), _message(3), _message(4)]
    assert buffer.fill == 0 and buffer.drain() == []
    with pytest.raises(ValueError):
        OfflineBuffer(0)


def test_link_without_outages_is_always_online_and_outages_last_about_their_mean() -> None:
    rng = random.Random(1)
    assert all(Link(0.0, 9.0).step(rng) for _ in range(1000))
    link = Link(0.05, 9.0)
    states = [link.step(rng) for _ in range(20_000)]
    outages = sum(1 for a, b in zip(states, states[1:], strict=False) if a and not b)
    offline = states.count(False)
    assert 7.0 < offline / outages < 11.0


def _published(**overrides: object) -> list[tuple[int, str, object]]:
    """(window index, badge, message) of a short simulated event with outages."""
    bundles = make_bundles(10)
    checks = verifiers(bundles)
    values: dict[str, object] = {
        "bundles_dir": Path("."),
        "minutes": 10.0,
        "seed": 5,
        "radio": "ideal",
        "outage_rate": 0.1,
        "outage_mean_windows": 4.0,
    }
    values.update(overrides)
    settings = SimSettings(**values)  # type: ignore[arg-type]
    result = []
    for out in simulate(bundles, settings):
        for topic, payload in out.messages:
            parsed = parse_badge_topic(topic)
            message = open_envelope(parsed, payload, checks[parsed.badge])
            result.append((out.index, parsed.badge, message))
    return result


def test_outages_delay_messages_but_lose_none_and_keep_their_order() -> None:
    published = _published()
    seqs: dict[str, list[int]] = defaultdict(list)
    late = 0
    for index, badge, message in published:
        seqs[badge].append(message.seq)  # type: ignore[attr-defined]
        if isinstance(message, SightingReport) and message.window_start < 1780563600 + 20 * index:
            late += 1
    for values in seqs.values():
        assert values == list(range(1, len(values) + 1))
    assert late > 20, "some reports were held back by an outage"
    fills = [m.buffer_fill for _, _, m in published if isinstance(m, BadgeStatus)]
    assert max(fills) > 0


def test_a_full_buffer_drops_the_oldest_and_reports_the_drops() -> None:
    published = _published(buffer_capacity=2, outage_rate=0.2, outage_mean_windows=6.0)
    seqs: dict[str, list[int]] = defaultdict(list)
    drops: dict[str, list[int]] = defaultdict(list)
    for _, badge, message in published:
        seqs[badge].append(message.seq)  # type: ignore[attr-defined]
        if isinstance(message, BadgeStatus):
            drops[badge].append(message.drops)
    missing = 0
    for badge, values in seqs.items():
        assert values == sorted(values), "still in order"
        gaps = values[-1] - len(values)
        missing += gaps
        assert drops[badge] == sorted(drops[badge]) and drops[badge][-1] <= gaps
    assert missing > 0
