"""Trace replay without a broker: time mapping, who reports, what they hear, barriers, geometry."""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import pytest

from firmware_sim.badge import Outgoing
from firmware_sim.clock import SimClock
from firmware_sim.errors import BundleError, PublishError
from firmware_sim.frame import face_to_face, facing_angles
from firmware_sim.publisher import PublishStats
from firmware_sim.radio import CALIBRATED_RSSI_THRESHOLD_DBM
from firmware_sim.replay import (
    ReplayPlan,
    TraceIdealRadio,
    TraceRealisticRadio,
    components,
    place_groups,
    plan_replay,
    publish_replay,
    replay_windows,
    trace_bundles,
)
from firmware_sim.trace import Trace, parse_trace
from firmware_sim.window_output import WindowOutput
from protocol.api import DetectionSettings, ProvisioningBundle
from protocol.encoding import open_envelope
from protocol.ids import derive_ephid, epoch_of
from protocol.messages import BadgeStatus, SightingReport
from protocol.topics import parse_badge_topic
from tests.unit.firmware_sim.fakes import make_bundles, verifiers

SETTINGS = DetectionSettings(gap_tolerance_seconds=0, min_meeting_seconds=20)
TRACE_LINES = [
    "1000 1 2",
    "1000 3 4",
    "1020 1 2",
    "1020 2 3",
    "1040 5 1",
    # 2 hours without contacts: skipped in event time
    "8240 4 5",
    "8540 4 5",
]


def _setup(lines: list[str]) -> tuple[Trace, dict[str, ProvisioningBundle], ReplayPlan]:
    trace = parse_trace(lines)
    bundles = make_bundles(len(trace.ids), settings=SETTINGS)
    by_id = {x: b for x, b in zip(trace.ids, bundles, strict=True)}
    return trace, by_id, plan_replay(trace, SETTINGS, 1_780_563_601)


def test_trace_time_maps_onto_the_start_rounded_to_a_window() -> None:
    trace, _, plan = _setup(TRACE_LINES)
    assert plan.window_start(1000) == 1_780_563_620
    assert plan.window_start(8240) - plan.window_start(1000) == 7240
    assert plan.trace_time(plan.window_start(1000)) == 980
    assert plan.tail_windows == math.ceil((0 + 60 + 40) / 20) + 2
    with pytest.raises(BundleError, match="differs"):
        plan_replay(trace, DetectionSettings(window_seconds=30), 0)


def test_only_listed_badges_report_and_hear_exactly_their_partners() -> None:
    trace, by_id, plan = _setup(TRACE_LINES)
    bundles = list(by_id.values())
    id_of = {b.badge: x for x, b in by_id.items()}
    checks = verifiers(bundles)
    keys = {b.badge: bytes.fromhex(b.ephid_key) for b in bundles}
    outputs = list(replay_windows(trace, by_id, plan, TraceIdealRadio()))
    assert len(outputs) == len(trace.windows) + plan.tail_windows
    last_seq: dict[str, int] = defaultdict(int)
    statuses: dict[str, list[int]] = defaultdict(list)
    listed = {plan.window_start(t): set(pairs) for t, pairs in trace.windows.items()}
    for out in outputs:
        owner = {
            derive_ephid(k, bundles[0].event, epoch_of(out.window_start, 900)).hex(): b
            for b, k in keys.items()
        }
        heard: set[tuple[str, str]] = set()
        reporters = []
        for topic, payload in out.messages:
            parsed = parse_badge_topic(topic)
            message = open_envelope(parsed, payload, checks[parsed.badge])
            assert message.seq == last_seq[parsed.badge] + 1
            last_seq[parsed.badge] = message.seq
            if isinstance(message, BadgeStatus):
                statuses[message.badge].append(message.t)
            if isinstance(message, SightingReport):
                assert message.window_start == out.window_start
                reporters.append(id_of[message.badge])
                heard |= {(id_of[message.badge], id_of[owner[h.ephid]]) for h in message.heard}
        pairs = listed.get(out.window_start, set())
        assert heard == pairs | {(b, a) for a, b in pairs}
        if pairs:
            assert sorted(reporters) == sorted({x for p in pairs for x in p})
        else:  # the tail: everyone, hearing nothing
            assert sorted(reporters) == sorted(trace.ids) and heard == set()
    for times in statuses.values():
        assert all(b - a >= 300 for a, b in zip(times, times[1:], strict=False))
    assert statuses[by_id["4"].badge] == [plan.window_start(t) for t in (1000, 8240, 8540)]


def test_a_trace_id_without_a_badge_is_refused() -> None:
    trace, by_id, plan = _setup(TRACE_LINES)
    del by_id["3"]
    with pytest.raises(BundleError, match="no badge"):
        next(replay_windows(trace, by_id, plan, TraceIdealRadio()))
    with pytest.raises(BundleError, match="trace id 3"):
        trace_bundles(trace, list(by_id.values()), {x: b.badge for x, b in by_id.items()})


class BarrierPublisher:
    """Records messages and where the barriers were; ``acks`` False makes a barrier fail."""

    def __init__(self, acks: bool = True) -> None:
        self.log: list[str] = []
        self.acks = acks
        self.closed = False

    def start(self) -> None:
        pass

    def publish(self, topic: str, payload: bytes) -> None:
        self.log.append(topic)

    def wait_acked(self, timeout: float) -> bool:
        self.log.append("BARRIER")
        return self.acks

    def close(self, timeout: float) -> PublishStats:
        self.closed = True
        return PublishStats(len(self.log), {"reports": len(self.log)}, 0)


def _window(index: int, start: int) -> WindowOutput:
    return WindowOutput(index, start, (Outgoing(f"w{start}", b""),), (), ())


def _publish(starts: list[int], publisher: BarrierPublisher) -> PublishStats:
    clock = SimClock(0)
    clock.start(0)
    return publish_replay(
        iter(_window(k, s) for k, s in enumerate(starts)),
        publisher,
        window_seconds=20,
        lateness_seconds=60,
        clock=clock,
        total=len(starts),
    )


def test_barriers_before_the_first_window_every_lateness_and_at_every_jump() -> None:
    publisher = BarrierPublisher()
    _publish([0, 20, 40, 60, 80, 100, 120, 500, 520, 1000], publisher)
    assert publisher.log == [
        "BARRIER", "w0", "w20", "w40",
        "BARRIER", "w60", "w80", "w100",
        "BARRIER", "w120",
        "BARRIER", "w500", "w520",
        "BARRIER", "w1000",
    ]  # fmt: skip
    assert publisher.closed


def test_an_unacknowledged_barrier_fails_and_still_closes() -> None:
    publisher = BarrierPublisher(acks=False)
    with pytest.raises(PublishError, match="acknowledge"):
        _publish([0, 20], publisher)
    assert publisher.closed


def test_components_of_the_contact_graph() -> None:
    pairs = np.array([[0, 1], [1, 2], [5, 4], [7, 8]], dtype=np.int64)
    assert components(pairs) == [[0, 1, 2], [4, 5], [7, 8]]
    assert components(np.zeros((0, 2), dtype=np.int64)) == []


def test_groups_stand_face_to_face_and_apart_from_each_other() -> None:
    rng = np.random.default_rng(4)
    pairs = np.array([[0, 1], [2, 3], [3, 4], [2, 4], [6, 7], [8, 9]], dtype=np.int64)
    frame = place_groups(pairs, 12, rng)
    assert frame.present.tolist() == [True] * 5 + [False] + [True] * 4 + [False] * 2
    i, j = pairs[:, 0], pairs[:, 1]
    angle_i, angle_j, distance = facing_angles(frame, i, j)
    assert np.all(distance < 1.5)
    # Facing the group's centre: nobody has their back to a partner (jitter 15 degrees).
    assert np.all(np.degrees(np.maximum(angle_i, angle_j)) < 100)
    assert np.degrees(np.concatenate([angle_i, angle_j])).mean() < 45
    ti, tj = face_to_face(frame)
    found = set(zip(ti.tolist(), tj.tolist(), strict=True))
    # Face-to-face never spans two groups.
    group_of = {m: k for k, g in enumerate(frame.groups) for m in g}
    assert all(group_of[a] == group_of[b] for a, b in found)


def test_realistic_replay_radio_is_deterministic_and_hears_most_listed_pairs() -> None:
    n = 60
    pairs = np.array([(k, k + 1) for k in range(0, n, 2)], dtype=np.int64)
    first = TraceRealisticRadio.create(n, 11).hear(pairs, n)
    again = TraceRealisticRadio.create(n, 11).hear(pairs, n)
    assert first.receiver.tolist() == again.receiver.tolist()
    assert first.median.tolist() == again.median.tolist()
    strong = first.median >= CALIBRATED_RSSI_THRESHOLD_DBM
    heard = set(zip(first.receiver[strong].tolist(), first.sender[strong].tolist(), strict=True))
    listed = {(int(a), int(b)) for a, b in pairs} | {(int(b), int(a)) for a, b in pairs}
    assert len(heard & listed) / len(listed) > 0.6


def test_realistic_replay_bystanders_report_and_only_listed_pairs_are_contacts() -> None:
    # 1 and 2 talk at 1000 and 1040; at 1020 they stand in the hall while 3 and 4 talk.
    trace, by_id, plan = _setup(["1000 1 2", "1020 3 4", "1040 1 2", "9000 3 4"])
    id_of = {b.badge: x for x, b in by_id.items()}
    checks = verifiers(list(by_id.values()))
    radio = TraceRealisticRadio.create(len(trace.ids), 3, presence_gap_seconds=300)
    reporters: dict[int, set[str]] = {}
    for out in replay_windows(trace, by_id, plan, radio):
        if not out.contacts:
            continue
        t = plan.trace_time(out.window_start) + 20
        for topic, payload in out.messages:
            parsed = parse_badge_topic(topic)
            message = open_envelope(parsed, payload, checks[parsed.badge])
            if isinstance(message, SightingReport):
                reporters.setdefault(t, set()).add(id_of[message.badge])
        listed = {frozenset(p) for p in trace.windows[t]}
        assert {frozenset((id_of[a], id_of[b])) for a, b in out.contacts} == listed
    # 3 and 4 are silent for 7,960 s between their contacts: away, not bystanders.
    assert reporters == {
        1000: {"1", "2"},
        1020: {"1", "2", "3", "4"},
        1040: {"1", "2"},
        9000: {"3", "4"},
    }
    ideal = replay_windows(trace, by_id, plan, TraceIdealRadio())
    assert sum(len(out.messages) for out in ideal) < sum(
        len(out.messages) for out in replay_windows(trace, by_id, plan, radio)
    )


def test_bystanders_stand_alone_and_may_not_be_in_a_pair() -> None:
    pairs = np.array([[0, 1], [2, 3]], dtype=np.int64)
    alone = np.array([5, 7], dtype=np.int64)
    plain = place_groups(pairs, 9, np.random.default_rng(2))
    frame = place_groups(pairs, 9, np.random.default_rng(2), bystanders=alone)
    assert np.flatnonzero(frame.present).tolist() == [0, 1, 2, 3, 5, 7]
    assert frame.groups == plain.groups == ((0, 1), (2, 3))
    empty = place_groups(pairs, 9, np.random.default_rng(2), bystanders=alone[:0])
    assert np.array_equal(empty.positions, plain.positions)
    with pytest.raises(ValueError, match="bystanders"):
        place_groups(pairs, 9, np.random.default_rng(2), bystanders=np.array([1, 5]))
    with pytest.raises(ValueError, match="bystanders"):
        place_groups(pairs, 9, np.random.default_rng(2), bystanders=np.array([5, 5]))
