"""The hot path's caches (round 8): they never outlive a registry refresh.

The verifier caches parsed topics of registered badges, the pairing caches EphID
resolutions per EphID epoch, the aggregator solves the "final run" rule once per watermark.
Each must give exactly what the uncached code gave, before and after a refresh.
"""

from __future__ import annotations

from collections import Counter

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.aggregator import Aggregator
from gateway.pairing import RESOLVED_EPOCHS, Contact, Pairing
from gateway.registry import BadgeRegistry
from gateway.verifier import ACCEPTED, Verifier
from gateway.watermark import Watermark
from protocol.api import DetectionSettings
from protocol.ids import epoch_of
from protocol.messages import SightingReport
from tests.unit.gateway.conftest import EVENT
from tests.unit.gateway.support import T0, WINDOW, FakeClock, TestBadge, registry_for


def report(member: TestBadge, w: int, heard: list[tuple[TestBadge, int]]) -> SightingReport:
    return msgspec.json.decode(member.report(w, heard)[1][64:], type=SightingReport)


def test_a_badge_revoked_by_a_refresh_is_rejected_on_a_topic_seen_before(
    members: list[TestBadge],
) -> None:
    registry = BadgeRegistry(registry_for(EVENT, members))
    verifier = Verifier(registry, FakeClock(), Watermark(2))
    a, b = members[0], members[1]
    assert verifier.check(*a.report(T0)).outcome == ACCEPTED
    assert verifier.check(*b.report(T0)).outcome == ACCEPTED
    registry.update(registry_for(EVENT, members, revoked=[a.badge]))
    assert verifier.check(*a.report(T0 + WINDOW)).outcome == "revoked_badge"
    registry.update(registry_for(EVENT, members[1:]))  # a is gone from the event
    assert verifier.check(*a.report(T0 + 2 * WINDOW)).outcome == "unknown_badge"
    assert verifier.check(*b.report(T0 + WINDOW)).outcome == ACCEPTED
    registry.update(registry_for(EVENT, members))  # and back
    assert verifier.check(*a.report(T0 + 3 * WINDOW)).outcome == ACCEPTED


def test_the_watermark_moved_flag_follows_each_check(members: list[TestBadge]) -> None:
    registry = BadgeRegistry(registry_for(EVENT, members))
    verifier = Verifier(registry, FakeClock(), Watermark(2))
    a, b = members[0], members[1]
    assert verifier.check(*a.report(T0)).outcome == ACCEPTED
    assert not verifier.watermark_moved  # one badge is not a quorum
    assert verifier.check(*b.report(T0)).outcome == ACCEPTED
    assert verifier.watermark_moved and verifier.watermark.value == T0
    assert verifier.check(*a.report(T0 + WINDOW)).outcome == ACCEPTED
    assert not verifier.watermark_moved
    assert verifier.check(*a.status(T0)).outcome == ACCEPTED
    assert not verifier.watermark_moved
    assert verifier.check(*b.report(T0 + WINDOW)).outcome == ACCEPTED
    assert verifier.watermark_moved and verifier.watermark.value == T0 + WINDOW


def test_an_ephid_resolved_before_a_refresh_stops_resolving_once_its_badge_is_revoked(
    members: list[TestBadge],
) -> None:
    registry = BadgeRegistry(registry_for(EVENT, members))
    counters: Counter[str] = Counter()
    pairing = Pairing(registry, counters)
    a, b, c = members[0], members[1], members[2]
    # a and c hear b in window T0: b's EphID is resolved (and cached) for T0
    pairing.add_report(report(a, T0, [(b, -50)]))
    registry.update(registry_for(EVENT, members, revoked=[b.badge]))
    pairing.add_report(report(c, T0, [(b, -50)]))
    assert counters["unresolved_ephid"] == 1
    # b's own report still names a, but a's half was written before the refresh: the
    # pairing keeps what it has; only new resolutions see the revocation
    registry.update(registry_for(EVENT, members))
    assert pairing.add_report(report(c, T0, [(b, -50)])) == []
    assert counters["unresolved_ephid"] == 1  # resolves again after the un-revoking refresh
    assert pairing.add_report(report(b, T0, [(c, -52)])) == [
        Contact(b.badge, c.badge, T0, -52, -50)
    ]


def test_the_resolution_cache_keeps_a_few_epochs_and_resolves_like_the_registry(
    members: list[TestBadge],
) -> None:
    registry = BadgeRegistry(registry_for(EVENT, members, revoked=["b003"]))
    rotation = registry.settings.ephid_rotation_seconds
    counters: Counter[str] = Counter()
    pairing = Pairing(registry, counters)
    a = members[0]
    n = 0
    for i in range(RESOLVED_EPOCHS * 3):
        # two windows of each epoch (its first and last): the second is served from the cache
        for w in (T0 + i * rotation, T0 + (i + 1) * rotation - WINDOW):
            pairing.add_report(report(a, w, [(members[1], -50), (members[3], -50), (a, -50)]))
            n += 1
            assert len(pairing._resolved) <= RESOLVED_EPOCHS
            assert pairing._resolved[epoch_of(w, rotation)] == {
                member.ephid(w): registry.resolve(bytes.fromhex(member.ephid(w)), w)
                for member in (members[1], members[3], a)
            }
    assert counters["unresolved_ephid"] == n and counters["self_sighting"] == n


@settings(max_examples=200, deadline=None)
@given(
    starts=st.lists(st.integers(0, 40), min_size=1, max_size=12),
    pairs=st.lists(st.sampled_from([("a", "b"), ("a", "c"), ("b", "c")]), min_size=1),
    watermark=st.integers(0, 50),
)
def test_advance_closes_exactly_the_runs_is_final_allows(
    starts: list[int], pairs: list[tuple[str, str]], watermark: int
) -> None:
    detection = DetectionSettings()
    window = detection.window_seconds
    agg = Aggregator(detection, event=EVENT, gateway="gw", zone="z", counters=Counter())
    for i, start in enumerate(starts):
        a, b = pairs[i % len(pairs)]
        agg.add(Contact(a, b, T0 + start * window, -50, -50))
    before = agg.snapshot()["pairs"]
    closed = agg.advance(T0 + watermark * window)
    after = {(a, b): [s for s, _, _ in windows] for a, b, windows in agg.snapshot()["pairs"]}
    for a, b, windows in before:
        starts_of_pair = [s for s, _, _ in windows]
        runs = agg._runs(starts_of_pair)
        final = [run for run in runs if agg.is_final(run[-1], T0 + watermark * window)]
        # runs are closed oldest first, up to the first one that is not final
        expected_closed: list[list[int]] = []
        for run in runs:
            if run not in final:
                break
            expected_closed.append(run)
        left = [s for run in runs[len(expected_closed) :] for s in run]
        assert after.get((a, b), []) == left
    assert all(m.last_seen - m.first_seen >= detection.min_meeting_seconds for m in closed)
