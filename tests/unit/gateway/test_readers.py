"""Check-in readers: nonces, one test per outcome, repeated taps, checkpoint, bad input."""

from __future__ import annotations

import logging
import random
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.processor import Processor
from gateway.ratelog import PER_PERIOD
from gateway.reader_nonces import NoncePolicy
from gateway.readers import COUNTERS, ReaderConfig, Readers, outcome_counts, parse_readers
from gateway.registry import BadgeRegistry
from protocol.api import CheckInRecord, ReaderNonce
from protocol.ids import checkin_id
from protocol.messages import CheckIn
from protocol.topics import BadgeChannel
from tests.unit.gateway.conftest import EVENT
from tests.unit.gateway.support import GATEWAY, T0, FakeClock, TestBadge

POLICY = NoncePolicy(interval_s=15.0, valid_s=60, memory_s=600.0)
ENTRANCE = ReaderConfig("entrance", "lobby")
HALL = ReaderConfig("hall-a", "hall-a")


class Desk:
    """A processor with readers over the unit event, on a fake clock and a seeded RNG."""

    def __init__(self, badge_registry: BadgeRegistry, *, is_authority: bool = True) -> None:
        self.clock = FakeClock()
        self.counters: Counter[str] = Counter()
        self.readers = Readers(
            EVENT,
            GATEWAY,
            [ENTRANCE, HALL],
            self.clock,
            random.Random(5).randbytes,
            POLICY,
            self.counters,
            is_authority=is_authority,
        )
        self.processor = Processor(
            badge_registry, self.clock, counters=self.counters, readers=self.readers
        )
        self.nonces = {n.reader: n for n in self.readers.rotate()}

    def tap(
        self,
        badge: TestBadge,
        *,
        reader: str = "entrance",
        nonce: str | None = None,
        direction: str = "entry",
    ) -> tuple[str, bytes]:
        message = CheckIn(
            event=badge.event,
            badge=badge.badge,
            seq=badge.next_seq(),
            reader=reader,
            nonce=nonce if nonce is not None else self.nonces[reader].nonce,
            t=T0 + 5,
            direction=direction,  # type: ignore[arg-type]
        )
        return badge.sign(message, BadgeChannel.CHECKINS)

    def send(self, *messages: tuple[str, bytes]) -> list[CheckInRecord]:
        for topic, payload in messages:
            self.processor.handle(topic, payload)
        return self.processor.take_checkins()

    def decided(self) -> dict[str, int]:
        return {k: v for k, v in outcome_counts(self.counters).items() if v}


@pytest.fixture
def desk(badge_registry: BadgeRegistry) -> Desk:
    return Desk(badge_registry)


def test_each_reader_publishes_a_fresh_nonce_and_rotates_at_the_interval(desk: Desk) -> None:
    first = desk.nonces
    assert set(first) == {"entrance", "hall-a"}
    assert first["entrance"] == ReaderNonce(
        event=EVENT,
        reader="entrance",
        zone="lobby",
        nonce=first["entrance"].nonce,
        issued_at=T0,
        valid_seconds=60,
    )
    assert first["entrance"].nonce != first["hall-a"].nonce
    desk.clock.t += 14
    assert desk.readers.rotate() == []
    desk.clock.t += 1
    again = {n.reader: n for n in desk.readers.rotate()}
    assert set(again) == {"entrance", "hall-a"}
    assert again["entrance"].nonce != first["entrance"].nonce
    assert desk.counters["checkins.nonces_issued"] == 4


def test_nonces_are_bounded_by_validity_plus_memory(desk: Desk) -> None:
    for _ in range(200):
        desk.clock.t += 15
        desk.readers.rotate()
    held = desk.readers.gauges()["reader_nonces"]
    # (60 + 600) / 15 = 44 nonces per reader at most, whatever the history
    assert held == 2 * 44


def test_accepted_entry_and_exit_change_who_is_inside(desk: Desk, members: list[TestBadge]) -> None:
    a = members[0]
    [entry] = desk.send(desk.tap(a))
    assert entry.outcome == "accepted" and entry.direction == "entry"
    assert entry.id == checkin_id(EVENT, a.badge, "entrance", desk.nonces["entrance"].nonce)
    assert (entry.zone, entry.gateway, entry.t, entry.received_at) == ("lobby", GATEWAY, T0 + 5, T0)
    assert desk.readers.inside("lobby") == {a.badge}
    desk.clock.t += 15
    desk.nonces = {n.reader: n for n in desk.readers.rotate()}
    [leave] = desk.send(desk.tap(a, direction="exit"))
    assert leave.outcome == "accepted" and leave.direction == "exit"
    assert desk.readers.inside("lobby") == frozenset()
    assert desk.decided() == {"accepted": 2}


def test_already_inside(desk: Desk, members: list[TestBadge]) -> None:
    a = members[0]
    desk.send(desk.tap(a))
    desk.clock.t += 15
    desk.nonces = {n.reader: n for n in desk.readers.rotate()}
    [record] = desk.send(desk.tap(a))
    assert record.outcome == "already_inside"
    # another zone is another matter
    [hall] = desk.send(desk.tap(a, reader="hall-a"))
    assert hall.outcome == "accepted"
    assert desk.decided() == {"accepted": 2, "already_inside": 1}


def test_unknown_badge(desk: Desk) -> None:
    stranger = TestBadge.named("stranger", EVENT)
    [record] = desk.send(desk.tap(stranger))
    assert (record.outcome, record.badge) == ("unknown_badge", "stranger")
    assert desk.readers.inside("lobby") == frozenset()


def test_revoked_badge(desk: Desk, members: list[TestBadge]) -> None:
    [record] = desk.send(desk.tap(members[3]))  # b003 is revoked
    assert record.outcome == "revoked_badge"
    assert desk.readers.inside("lobby") == frozenset()


def test_not_registered_badge_of_another_event_answering_our_nonce(
    desk: Desk, members: list[TestBadge]
) -> None:
    visitor = TestBadge.named("visitor", "other-event")
    [record] = desk.send(desk.tap(visitor))
    assert (record.outcome, record.event, record.badge) == ("not_registered", EVENT, "visitor")
    # the other event's own readers, and badges whose id is also ours, are none of our business
    clash = TestBadge.named(members[0].badge, "other-event")
    assert desk.send(desk.tap(visitor, nonce="cd" * 16), desk.tap(clash)) == []
    assert desk.counters["checkins.ignored"] == 2
    assert desk.decided() == {"not_registered": 1}


def test_unknown_reader(desk: Desk, members: list[TestBadge]) -> None:
    [record] = desk.send(desk.tap(members[0], reader="side-door", nonce="ab" * 16))
    assert (record.outcome, record.zone) == ("unknown_reader", "")


def test_other_readers_are_ignored_when_not_the_authority(
    badge_registry: BadgeRegistry, members: list[TestBadge]
) -> None:
    desk = Desk(badge_registry, is_authority=False)
    assert desk.send(desk.tap(members[0], reader="side-door", nonce="ab" * 16)) == []
    assert desk.counters["checkins.ignored"] == 1 and desk.decided() == {}


def test_unknown_nonce(desk: Desk, members: list[TestBadge]) -> None:
    [record] = desk.send(desk.tap(members[0], nonce="ab" * 16))
    assert record.outcome == "unknown_nonce"


def test_stale_nonce_and_then_forgotten(desk: Desk, members: list[TestBadge]) -> None:
    a, b = members[0], members[1]
    old = desk.nonces["entrance"].nonce
    desk.clock.t += 61
    desk.readers.rotate()
    [record] = desk.send(desk.tap(a, nonce=old))
    assert record.outcome == "stale_nonce" and record.received_at == T0 + 61
    desk.clock.t += 600
    desk.readers.rotate()
    [late] = desk.send(desk.tap(b, nonce=old))
    assert late.outcome == "unknown_nonce"


def test_a_nonce_is_valid_up_to_its_last_second(desk: Desk, members: list[TestBadge]) -> None:
    desk.clock.t += 60
    [record] = desk.send(desk.tap(members[0]))
    assert record.outcome == "accepted"


def test_bad_signature_is_counted_not_recorded(desk: Desk, members: list[TestBadge]) -> None:
    topic, payload = desk.tap(members[0])
    forged = bytes([payload[0] ^ 1]) + payload[1:]
    assert desk.send((topic, forged)) == []
    assert desk.decided() == {"bad_signature": 1}
    assert desk.counters["checkins.unrecorded"] == 1
    # the forgery did not spend the badge's tap
    [record] = desk.send((topic, payload))
    assert record.outcome == "accepted"


def test_malformed_is_counted_not_recorded(desk: Desk, members: list[TestBadge]) -> None:
    topic, payload = desk.tap(members[0])
    assert desk.send((topic, payload[:40]), (topic, payload + b" " * 2000)) == []
    assert desk.decided() == {"malformed": 2}
    assert desk.counters["checkins.unrecorded"] == 2


def test_a_repeated_tap_is_a_duplicate_recorded_once(desk: Desk, members: list[TestBadge]) -> None:
    a = members[0]
    first = desk.tap(a)
    records = desk.send(first, desk.tap(a), desk.tap(a))  # new seq, same nonce
    assert [r.outcome for r in records] == ["accepted"]
    assert desk.counters["checkins.duplicate"] == 2
    # the very same message delivered again is an MQTT duplicate: no record either
    assert desk.send(first) == []
    assert desk.counters["duplicate"] == 1
    # failed taps repeat too
    stranger = TestBadge.named("stranger", EVENT)
    assert len(desk.send(desk.tap(stranger), desk.tap(stranger))) == 1
    assert desk.counters["checkins.duplicate"] == 3


def test_state_survives_a_checkpoint(
    desk: Desk, badge_registry: BadgeRegistry, members: list[TestBadge]
) -> None:
    a, b = members[0], members[1]
    desk.send(desk.tap(a))
    state = desk.processor.snapshot()
    restarted = Desk(badge_registry)
    restarted.clock.t = desk.clock.t
    restarted.processor.restore(state)
    # b answers the nonce issued before the restart: still known, still valid
    [record] = restarted.send(desk.tap(b))
    assert record.outcome == "accepted"
    assert restarted.readers.inside("lobby") == {a.badge, b.badge}
    assert restarted.send(desk.tap(a)) == []  # a's repeated tap, remembered
    assert restarted.counters["checkins.duplicate"] == 1
    assert all(restarted.counters[name] >= 0 for name in COUNTERS)


def test_restore_drops_nonces_of_readers_no_longer_configured(
    desk: Desk, members: list[TestBadge]
) -> None:
    state = desk.readers.snapshot()
    state["nonces"]["gone"] = [["ab" * 16, T0]]
    desk.readers.restore(state)
    assert {n.reader for n in desk.readers.current()} == {"entrance", "hall-a"}


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(payload=st.binary(max_size=1200), badge=st.sampled_from(["b000", "nobody", "b003"]))
def test_garbage_on_a_checkin_topic_never_raises_or_admits(
    badge_registry: BadgeRegistry, payload: bytes, badge: str
) -> None:
    desk = Desk(badge_registry)
    topic = f"inperson/v1/{EVENT}/badges/{badge}/checkins"
    records = desk.send((topic, payload))
    assert all(r.outcome != "accepted" for r in records)
    assert desk.readers.inside("lobby") == frozenset()
    assert sum(desk.decided().values()) == 1


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    taps=st.lists(
        st.tuples(st.integers(0, 2), st.sampled_from(["entry", "exit"]), st.integers(0, 3)),
        max_size=25,
    )
)
def test_one_record_per_badge_reader_nonce(
    badge_registry: BadgeRegistry, members: list[TestBadge], taps: list[tuple[int, str, int]]
) -> None:
    desk = Desk(badge_registry)
    nonces = [desk.nonces["entrance"].nonce]
    for _ in range(3):
        desk.clock.t += 15
        nonces += [n.nonce for n in desk.readers.rotate() if n.reader == "entrance"]
    records = desk.send(*(desk.tap(members[k], nonce=nonces[i], direction=d) for k, d, i in taps))
    ids = [r.id for r in records]
    assert len(ids) == len(set(ids)) == len({(k, i) for k, _, i in taps})
    assert desk.counters["checkins.duplicate"] == len(taps) - len(ids)


def test_parse_readers() -> None:
    assert parse_readers("") == []
    assert parse_readers(" entrance=lobby , hall-a ") == [
        ReaderConfig("entrance", "lobby"),
        ReaderConfig("hall-a", "hall-a"),
    ]
    for bad in ("bad reader=x", "a=x,a=y", "a=" + "z" * 65):
        with pytest.raises(ValueError):
            parse_readers(bad)


def test_a_gateway_setting_with_bad_readers_fails_at_start() -> None:
    from pydantic import ValidationError

    from gateway.config import GatewaySettings

    with pytest.raises(ValidationError, match="reader"):
        GatewaySettings(token="real-token", readers="door/1=x")
    assert GatewaySettings(token="real-token", readers="entrance=lobby").readers


def test_policy_and_readers_refuse_nonsense(desk: Desk) -> None:
    with pytest.raises(ValueError):
        NoncePolicy(interval_s=0)
    with pytest.raises(ValueError):
        Readers(EVENT, GATEWAY, [], FakeClock(), random.Random(1).randbytes, POLICY, Counter())


def test_saved_nonces_merge_into_a_restored_state(
    desk: Desk, badge_registry: BadgeRegistry
) -> None:
    state = desk.processor.snapshot()  # taken before the next nonce was issued
    desk.clock.t += 15
    [newer, _] = desk.readers.rotate()
    saved = desk.readers.nonce_state()
    restarted = Desk(badge_registry)
    restarted.clock.t = desk.clock.t
    restarted.processor.restore(state)
    restarted.readers.merge_nonces(saved)
    restarted.readers.merge_nonces(saved)  # idempotent
    assert restarted.readers.nonce_state() == saved
    assert newer in restarted.readers.current()


def test_metrics_have_one_series_per_outcome(desk: Desk, members: list[TestBadge]) -> None:
    from gateway.metrics import families
    from protocol.api import GatewayStatus

    desk.send(desk.tap(members[0]), desk.tap(members[3]))
    status = GatewayStatus(gateway=GATEWAY, state="online", counters=dict(desk.counters))
    [checkins] = [f for f in families(status) if f.name == "inperson_gateway_checkins"]
    values = {s.labels["outcome"]: s.value for s in checkins.samples}
    assert values["accepted"] == 1 and values["revoked_badge"] == 1
    assert len(values) == 10 and sum(values.values()) == 2


def test_tap_id_memory_is_capped(desk: Desk) -> None:
    from gateway.reader_state import MAX_SEEN

    for i in range(MAX_SEEN + 5):
        desk.readers.accept(
            CheckIn(
                event=EVENT,
                badge=f"x{i}",
                seq=1,
                reader="entrance",
                nonce="ab" * 16,
                t=T0,
                direction="entry",
            )
        )
    assert len(desk.readers.take_records()) == MAX_SEEN + 5
    assert len(desk.readers.snapshot()["seen"]) == MAX_SEEN


def test_a_flood_of_unknown_reader_taps_is_counted_whole_and_logged_rate_limited(
    desk: Desk, members: list[TestBadge], caplog: pytest.LogCaptureFixture
) -> None:
    taps = [
        desk.tap(badge, reader="side-door", nonce=f"{i:032x}")
        for i in range(6)
        for badge in members[:3]  # the fourth is revoked
    ]
    with caplog.at_level(logging.WARNING, logger="gateway.readers"):
        records = desk.send(*taps)
        assert desk.decided() == {"unknown_reader": len(taps)} and len(records) == len(taps)
        lines = [r.getMessage() for r in caplog.records if r.name == "gateway.readers"]
        assert len(lines) == min(PER_PERIOD, len(taps))
        desk.clock.t += 60
        desk.send(desk.tap(members[0], reader="side-door", nonce="ff" * 16))
    lines = [r.getMessage() for r in caplog.records if r.name == "gateway.readers"]
    suppressed = len(taps) - PER_PERIOD
    assert lines[PER_PERIOD:] == [
        f"suppressed {suppressed} more check-in unknown_reader in the last 60 s",
        f"check-in unknown_reader badge={members[0].badge} reader=side-door",
    ]
