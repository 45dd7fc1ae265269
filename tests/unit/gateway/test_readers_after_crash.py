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


DOWNTIME = 1200  # longer than valid_s + memory_s (660 s)


def test_after_a_long_downtime_a_repeated_tap_is_still_a_duplicate(
    badge_registry: BadgeRegistry, members: list[TestBadge]
) -> None:
    a = members[0]
    before = Desk(badge_registry)
    nonce = before.nonces["entrance"].nonce
    [decided] = before.send(before.tap(a))
    state, saved_at = before.processor.snapshot(), before.clock.t

    def restarted(resume: bool) -> Desk:
        desk = Desk(badge_registry)
        desk.clock.t = saved_at + DOWNTIME
        desk.processor.restore(state)
        if resume:
            desk.readers.resume(saved_at)
        desk.readers.rotate()  # forgets what expired
        return desk

    after = restarted(resume=True)
    assert after.send(after.tap(a, nonce=nonce)) == []  # the same id: a repeat
    assert after.counters["checkins.duplicate"] == 1
    # the memory still ends, after its time of uptime
    after.clock.t += 661
    after.readers.rotate()
    [again] = after.send(after.tap(a, nonce=nonce))
    assert again.id == decided.id and again.outcome == "unknown_nonce"
    # without resume the downtime used up the memory: the repeat was recorded again
    [recorded] = (legacy := restarted(resume=False)).send(legacy.tap(a, nonce=nonce))
    assert recorded.id == decided.id


def test_without_a_state_every_journaled_record_is_applied_after_any_downtime(
    badge_registry: BadgeRegistry, members: list[TestBadge]
) -> None:
    a, b = members[0], members[1]
    before = Desk(badge_registry)
    taps = [before.tap(a), before.tap(b)]
    journaled = before.send(*taps)  # killed before the first state was written
    after = Desk(badge_registry)
    after.clock.t = before.clock.t + DOWNTIME
    after.readers.resume(None)
    assert after.readers.replay_records(journaled) == 2
    after.readers.rotate()
    assert after.send(*taps) == []  # the broker's redelivery
    assert after.counters["checkins.duplicate"] == 2
    assert after.readers.inside("lobby") == {a.badge, b.badge}


def test_records_forgotten_before_the_state_was_saved_are_not_applied_after_resume(
    badge_registry: BadgeRegistry, members: list[TestBadge]
) -> None:
    a, b = members[0], members[1]
    desk = Desk(badge_registry)
    older = desk.send(desk.tap(a))  # still in the check-in journal (server down)
    desk.clock.t += 700
    [fresh, _] = desk.readers.rotate()  # a's id forgotten
    state, saved_at = desk.processor.snapshot(), desk.clock.t
    newer = desk.send(desk.tap(b, nonce=fresh.nonce))  # journaled, not in the state
    restarted = Desk(badge_registry)
    restarted.clock.t = saved_at + DOWNTIME
    restarted.processor.restore(state)
    restarted.readers.resume(saved_at)
    accepted = restarted.counters["checkins.accepted"]
    assert restarted.readers.replay_records(older + newer) == 1  # b's, past its memory now
    assert restarted.counters["checkins.accepted"] == accepted + 1  # a's counted once
    assert restarted.readers.inside("lobby") == {a.badge, b.badge}
