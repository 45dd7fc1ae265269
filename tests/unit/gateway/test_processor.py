"""Processor: messages in, meetings out, counters, and resuming from a checkpoint."""

from __future__ import annotations

import logging

import msgspec
import pytest

from gateway.errors import JournalError
from gateway.processor import COUNTERS, Processor
from gateway.registry import BadgeRegistry
from protocol.api import Meeting
from protocol.ids import meeting_id
from protocol.messages import CheckIn
from tests.unit.gateway.conftest import EVENT
from tests.unit.gateway.support import T0, WINDOW, FakeClock, TestBadge, registry_for, transcript

Message = tuple[str, bytes]


def make(badge_registry: BadgeRegistry, **kwargs: object) -> Processor:
    return Processor(badge_registry, FakeClock(), **kwargs)  # type: ignore[arg-type]


def conversation(members: list[TestBadge], talk: int, tail: int = 10) -> list[Message]:
    """a and b face each other for ``talk`` windows; c is around; then everyone stays apart."""
    a, b, c = members[0], members[1], members[2]
    messages: list[Message] = []
    for i in range(talk + tail):
        w = T0 + i * WINDOW
        near = i < talk
        messages.append(a.report(w, [(b, -58), (c, -90)] if near else []))
        messages.append(b.report(w, [(a, -62)] if near else []))
        messages.append(c.report(w, [(a, -88)] if near else []))
    return messages


def run(processor: Processor, messages: list[Message]) -> list[Meeting]:
    for topic, payload in messages:
        processor.handle(topic, payload)
    return processor.take_meetings()


def test_a_conversation_becomes_one_meeting(
    badge_registry: BadgeRegistry, members: list[TestBadge]
) -> None:
    processor = make(badge_registry)
    meetings = run(processor, conversation(members, talk=6))
    a, b = members[0], members[1]
    assert meetings == [
        Meeting(
            id=meeting_id("proximity", EVENT, a.badge, b.badge, T0),
            event=EVENT,
            kind="proximity",
            badge_a=a.badge,
            badge_b=b.badge,
            first_seen=T0,
            last_seen=T0 + 6 * WINDOW,
            contact_seconds=6 * WINDOW,
            windows=6,
            gateway="gw-test",
            zone="Hall A",
            rssi_median_dbm=-60,
        )
    ]
    counters = processor.counters
    assert counters["received"] == counters["accepted"] == 48
    assert counters["contact_windows"] == 6
    assert counters["meetings"] == 1
    assert counters["heard_below_threshold"] == 12
    assert processor.gauges()["open_pairs"] == 0
    assert processor.take_meetings() == []


def test_too_short_a_conversation_is_no_meeting(
    badge_registry: BadgeRegistry, members: list[TestBadge]
) -> None:
    processor = make(badge_registry)
    assert run(processor, conversation(members, talk=2)) == []
    assert processor.counters["short_contacts"] == 1


def test_open_contact_waits_for_event_time(
    badge_registry: BadgeRegistry, members: list[TestBadge]
) -> None:
    processor = make(badge_registry)
    assert run(processor, conversation(members, talk=6, tail=2)) == []
    assert processor.gauges()["open_pairs"] == 1
    [meeting] = processor.flush()
    assert meeting.windows == 6


def test_taps_checkins_and_status_are_counted(
    badge_registry: BadgeRegistry, members: list[TestBadge]
) -> None:
    seen: list[CheckIn] = []
    processor = Processor(badge_registry, FakeClock(), on_checkin=seen.append)
    a, b = members[0], members[1]
    tap = transcript(a, b, T0 + 3)
    meetings = run(processor, [a.tap(tap), b.tap(tap), a.checkin(T0), a.status(T0)])
    assert [m.kind for m in meetings] == ["tap"]
    assert [c.badge for c in seen] == [a.badge]
    counters = processor.counters
    assert (counters["taps"], counters["accepted_taps"]) == (1, 2)
    assert (counters["accepted_checkins"], counters["accepted_status"]) == (1, 1)
    assert counters["accepted"] == 0  # reports only


def test_bad_messages_are_counted_by_reason_and_logged(
    badge_registry: BadgeRegistry, members: list[TestBadge], caplog: pytest.LogCaptureFixture
) -> None:
    processor = make(badge_registry)
    a = members[0]
    good = a.report(T0)
    topic, payload = good
    with caplog.at_level(logging.WARNING, logger="gateway.processor"):
        forged = payload[:70] + bytes([payload[70] ^ 1]) + payload[71:]
        run(processor, [good, good, (topic, b"junk"), (topic, forged)])
    counters = processor.counters
    assert counters["accepted"] == 1 and counters["duplicate"] == 1
    assert counters["rejected.malformed"] == 1 and counters["rejected.bad_signature"] == 1
    assert counters["received"] == 4
    messages = [r.getMessage() for r in caplog.records]
    assert any("reason=malformed" in m and f"badge={a.badge}" in m for m in messages)
    assert all(a.key.seed.hex() not in m for m in messages)
    assert set(COUNTERS) <= set(counters)


@pytest.mark.parametrize("split", [1, 7, 20, 31, 40])
@pytest.mark.parametrize("overlap", [0, 5])
def test_resuming_from_a_checkpoint_gives_the_same_meetings(
    badge_registry: BadgeRegistry, members: list[TestBadge], split: int, overlap: int
) -> None:
    """A crash after a checkpoint: the messages after it are redelivered (and some before)."""
    messages = conversation(members, talk=6, tail=8)
    a, b = members[0], members[1]
    tap = transcript(a, b, T0 + 50)
    messages[10:10] = [a.tap(tap)]
    messages[30:30] = [b.tap(tap)]
    uninterrupted = make(badge_registry)
    expected = run(uninterrupted, messages) + uninterrupted.flush()

    before = make(badge_registry)
    taken = run(before, messages[: split // 2])
    # the journal keeps the replay memory and the contact state apart, as base + log
    before.take_contact_changes()
    contacts_base = before.dump_contacts()
    taken += run(before, messages[split // 2 : split])
    contacts_log = before.take_contact_changes()
    state = msgspec.json.decode(msgspec.json.encode(before.snapshot()))
    replay = before.replay.dump()
    after = make(badge_registry)
    after.restore(state)
    after.replay.load(replay, b"")
    after.load_contacts(contacts_base, contacts_log)
    assert after.contact_snapshot() == before.contact_snapshot()
    taken += run(after, messages[max(0, split - overlap) :]) + after.flush()
    assert sorted(taken, key=lambda m: m.id) == sorted(expected, key=lambda m: m.id)
    assert after.counters["accepted"] == uninterrupted.counters["accepted"]
    assert after.counters["duplicate"] == min(overlap, split)


def test_restore_refuses_another_events_state(
    badge_registry: BadgeRegistry, members: list[TestBadge]
) -> None:
    processor = make(badge_registry)
    run(processor, conversation(members, talk=1, tail=0))
    state = processor.snapshot()
    other = make(BadgeRegistry(registry_for("ev-other", [])))
    with pytest.raises(JournalError):
        other.restore(state)
    with pytest.raises(JournalError):
        make(badge_registry).restore({**state, "version": 1, "pairing": {"halves": [[1, 2]]}})
    with pytest.raises(JournalError):
        make(badge_registry).restore({**state, "version": 3})


def test_registry_refresh_admits_new_badges(members: list[TestBadge]) -> None:
    processor = make(BadgeRegistry(registry_for(EVENT, members[:2])))
    newcomer = members[2]
    assert processor.handle(*newcomer.report(T0)).outcome == "unknown_badge"
    processor.update_registry(registry_for(EVENT, members[:3], zone="Expo"))
    assert processor.handle(*newcomer.report(T0 + WINDOW)).is_accepted
    assert processor.registry.zone == "Expo"
