"""Readers after a crash between the check-in journal's write and the state's."""

from __future__ import annotations

from gateway.registry import BadgeRegistry
from tests.unit.gateway.support import TestBadge
from tests.unit.gateway.test_readers import Desk


def test_journaled_records_newer_than_the_state_make_redelivered_taps_duplicates(
    badge_registry: BadgeRegistry, members: list[TestBadge]
) -> None:
    a, b = members[0], members[1]
    before = Desk(badge_registry)
    state = before.processor.snapshot()  # the last state that became durable
    saved = before.readers.nonce_state()
    taps = [before.tap(a), before.tap(b)]
    journaled = before.send(*taps)  # the check-in journal got these, the state did not
    assert [r.outcome for r in journaled] == ["accepted", "accepted"]

    after = Desk(badge_registry)
    after.clock.t = before.clock.t + 1
    after.processor.restore(state)
    after.readers.merge_nonces(saved)
    assert after.readers.replay_records(journaled) == 2
    assert after.readers.replay_records(journaled) == 0  # idempotent
    assert after.readers.inside("lobby") == {a.badge, b.badge}
    assert after.counters["checkins.accepted"] == 2  # counted once, as before the crash
    assert after.send(*taps) == []  # the broker's redelivery: no second record
    assert after.counters["checkins.duplicate"] == 2
    exit_b = after.send(after.tap(b, nonce=before.nonces["entrance"].nonce, direction="exit"))
    assert exit_b == []  # same nonce as its entry: the same check-in id, a repeat


def test_replayed_exits_and_rejections_apply_in_order(
    badge_registry: BadgeRegistry, members: list[TestBadge]
) -> None:
    a = members[0]
    first = Desk(badge_registry)
    entry = first.send(first.tap(a))
    first.clock.t += 16
    [fresh, _] = first.readers.rotate()
    exit_a = first.send(first.tap(a, nonce=fresh.nonce, direction="exit"))
    again = first.send(first.tap(a, nonce="00" * 16))  # never issued: unknown_nonce
    assert [r.outcome for r in entry + exit_a + again] == ["accepted", "accepted", "unknown_nonce"]

    restarted = Desk(badge_registry)
    assert restarted.readers.replay_records(entry + exit_a + again) == 3
    assert restarted.readers.inside("lobby") == frozenset()
    assert restarted.counters["checkins.accepted"] == 2
    assert restarted.counters["checkins.unknown_nonce"] == 1


def test_records_the_state_already_holds_are_not_applied_again(
    badge_registry: BadgeRegistry, members: list[TestBadge]
) -> None:
    a, b = members[0], members[1]
    desk = Desk(badge_registry)
    older = desk.send(desk.tap(a))
    desk.clock.t += 700  # past the tap-id memory: a's id is pruned at the next rotation
    [fresh, _] = desk.readers.rotate()
    known = desk.send(desk.tap(b, nonce=fresh.nonce))
    state = desk.processor.snapshot()  # holds both decisions, remembers only b's id
    newer = desk.send(desk.tap(a, nonce=fresh.nonce, direction="exit"))
    restarted = Desk(badge_registry)
    restarted.clock.t = desk.clock.t
    restarted.processor.restore(state)
    accepted = restarted.counters["checkins.accepted"]
    assert restarted.readers.replay_records(older + known + newer) == 1  # a's exit only
    assert restarted.counters["checkins.accepted"] == accepted + 1
    assert restarted.readers.inside("lobby") == {b.badge}


def test_without_a_known_record_only_those_within_the_memory_are_applied(
    badge_registry: BadgeRegistry, members: list[TestBadge]
) -> None:
    desk = Desk(badge_registry)
    records = desk.send(desk.tap(members[0]))
    restarted = Desk(badge_registry)
    restarted.clock.t = desk.clock.t + 661  # valid_s + memory_s later
    assert restarted.readers.replay_records(records) == 0
