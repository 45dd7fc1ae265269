"""Property tests of trace replay: any trace comes back out of the signed reports, exactly."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_sim.replay import TraceIdealRadio, place_groups, plan_replay, replay_windows
from firmware_sim.trace import ordered, parse_trace
from protocol.api import DetectionSettings
from protocol.encoding import open_envelope
from protocol.ids import derive_ephid, epoch_of
from protocol.messages import SightingReport
from protocol.topics import parse_badge_topic
from tests.unit.firmware_sim.fakes import make_bundles, verifiers

IDS = [str(k) for k in range(1, 9)] + ["x", "y-2"]
BUNDLES = make_bundles(len(IDS), settings=DetectionSettings(gap_tolerance_seconds=0))
CHECKS = verifiers(BUNDLES)
KEYS = {b.badge: bytes.fromhex(b.ephid_key) for b in BUNDLES}

contact = st.tuples(
    st.integers(min_value=1, max_value=400).map(lambda k: 20 * k),
    st.sampled_from(IDS),
    st.sampled_from(IDS),
).filter(lambda c: c[1] != c[2])


@pytest.mark.parametrize("presence_gap", [0, 300])
@settings(max_examples=40, deadline=None)
@given(st.lists(contact, min_size=1, max_size=40))
def test_the_reports_carry_exactly_the_trace(
    presence_gap: int, contacts: list[tuple[int, str, str]]
) -> None:
    """Bystanders (with a presence gap) report too, hearing nothing, and change nothing."""
    trace = parse_trace([f"{t} {i} {j}" for t, i, j in contacts])
    by_id = {x: BUNDLES[IDS.index(x)] for x in trace.ids}
    id_of = {b.badge: x for x, b in by_id.items()}
    plan = plan_replay(trace, BUNDLES[0].settings, 1_780_563_600)
    heard: set[tuple[int, str, str]] = set()
    radio = TraceIdealRadio(presence_gap_seconds=presence_gap)
    for out in replay_windows(trace, by_id, plan, radio):
        epoch = epoch_of(out.window_start, 900)
        owner = {derive_ephid(k, BUNDLES[0].event, epoch).hex(): b for b, k in KEYS.items()}
        for topic, payload in out.messages:
            parsed = parse_badge_topic(topic)
            message = open_envelope(parsed, payload, CHECKS[parsed.badge])
            if isinstance(message, SightingReport):
                t = plan.trace_time(message.window_start) + trace.window_seconds
                heard |= {(t, id_of[message.badge], id_of[owner[h.ephid]]) for h in message.heard}
    mutual = {(t, *ordered(a, b)) for t, a, b in heard if (t, b, a) in heard}
    assert mutual == {(t, *ordered(i, j)) for t, i, j in contacts}
    assert all((t, b, a) in heard for t, a, b in heard), "every hearing is mutual"


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 30), st.integers(0, 30)), max_size=30),
    st.integers(0, 2**32 - 1),
)
def test_group_placement_is_deterministic_and_keeps_listed_pairs_close(
    edges: list[tuple[int, int]], seed: int
) -> None:
    pairs = np.array([(a, b) for a, b in edges if a != b], dtype=np.int64).reshape(-1, 2)
    first = place_groups(pairs, 31, np.random.default_rng(seed))
    again = place_groups(pairs, 31, np.random.default_rng(seed))
    assert np.array_equal(first.positions, again.positions)
    assert np.array_equal(first.headings, again.headings)
    listed = {int(x) for x in pairs.ravel()}
    assert set(np.flatnonzero(first.present).tolist()) == listed
    for a, b in pairs.tolist():
        # Same group circle: at most its diameter (31 people: radius 3.5 m) plus jitter.
        assert np.hypot(*(first.positions[a] - first.positions[b])) < 2 * 3.5 + 1.0


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 39), unique=True, max_size=40),
    st.integers(0, 20),
    st.integers(0, 2**32 - 1),
)
def test_bystanders_stand_alone_apart_from_everyone(
    people: list[int], talking: int, seed: int
) -> None:
    # The first ``talking`` pairs of ``people`` are in contact, the rest stand alone.
    k = min(talking, len(people) // 2)
    pairs = np.array(people[: 2 * k], dtype=np.int64).reshape(-1, 2)
    alone = np.array(people[2 * k :], dtype=np.int64)
    frame = place_groups(pairs, 40, np.random.default_rng(seed), bystanders=alone)
    again = place_groups(pairs, 40, np.random.default_rng(seed), bystanders=alone)
    assert np.array_equal(frame.positions, again.positions)
    assert np.array_equal(frame.headings, again.headings)
    assert sorted(np.flatnonzero(frame.present).tolist()) == sorted(people)
    assert not set(alone.tolist()) & {m for g in frame.groups for m in g}
    for x in alone.tolist():
        others = [y for y in people if y != x]
        if others:
            gaps = np.hypot(*(frame.positions[others] - frame.positions[x]).T)
            # Slots are 3 m apart; a pair's circle has a 0.45 m radius; jitter 0.1 m.
            assert gaps.min() > 1.0
