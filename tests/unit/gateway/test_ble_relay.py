"""The BLE relay (docs/protocol.md section 3.2) against a fake badge at bleak's client boundary.

Advertisements are bleak's own ``BLEDevice``/``AdvertisementData``; the badge's messages
are really signed; publishing is recorded (the real broker is in
tests/integration/test_ble_relay_broker.py).
"""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.registry import BadgeRegistry
from gateway.relay import (
    FRAME_HEADER,
    MAX_PER_VISIT,
    MAX_QUEUED,
    PUBLISHED,
    REFUSED,
    REVISIT_S,
    BleRelay,
    Reassembly,
    RelayError,
)
from protocol.api import Registry
from protocol.signing import BadgeKey
from protocol.topics import BadgeChannel
from tests.unit.gateway.fake_gatt import DEVICE, FakeBadgeGatt, frames_of, offering_ad
from tests.unit.gateway.support import (
    T0,
    WINDOW,
    FakeClock,
    TestBadge,
    registry_for,
    transcript,
)


class Recorder:
    """The MQTT boundary: what was published, in order; can refuse (broker away)."""

    def __init__(self) -> None:
        self.published: list[tuple[str, bytes]] = []
        self.is_down = False

    async def __call__(self, topic: str, payload: bytes) -> None:
        if self.is_down:
            raise RelayError("the broker did not acknowledge")
        self.published.append((topic, payload))


def relay_for(
    registry: BadgeRegistry, clock: FakeClock, gatt: FakeBadgeGatt
) -> tuple[BleRelay, Recorder, Counter[str]]:
    recorder, counters = Recorder(), Counter[str]()
    relay = BleRelay(registry, recorder, counters, clock, connect=gatt.connect)
    return relay, recorder, counters


def buffered(member: TestBadge, other: TestBadge) -> list[tuple[str, bytes]]:
    tap = transcript(member, other, T0 + 7)
    heard = [(other, -50)] * 60  # a long report: many frames
    return [
        member.report(T0, heard),
        member.tap(tap),
        member.status(T0 + 10),
        member.checkin(T0 + 12),
        member.report(T0 + WINDOW, [(other, -55)]),
    ]


async def test_a_visit_publishes_every_message_unchanged_and_empties_the_badge(
    badge_registry: BadgeRegistry, clock: FakeClock, members: list[TestBadge]
) -> None:
    a, b = members[0], members[1]
    messages = buffered(a, b)
    gatt = FakeBadgeGatt(list(messages), chunk=97)
    relay, recorder, counters = relay_for(badge_registry, clock, gatt)
    assert await relay.visit(a.badge, DEVICE) == len(messages)
    assert recorder.published == messages  # same topics, same bytes, same order
    assert gatt.pending == 0 and [s for _, s in gatt.acks] == [PUBLISHED] * len(messages)
    assert counters["ble_relay_published"] == len(messages)
    assert counters["ble_relay_visits"] == 1 and counters["ble_relay_failed"] == 0
    assert await relay.visit(a.badge, DEVICE) == 0  # nothing left: one empty read


async def test_a_lost_link_loses_nothing_and_a_lost_ack_doubles_nothing(
    badge_registry: BadgeRegistry, clock: FakeClock, members: list[TestBadge]
) -> None:
    a, b = members[0], members[1]
    messages = buffered(a, b)
    gatt = FakeBadgeGatt(list(messages), chunk=60, drop_link_after_reads=5, lose_next_acks=0)
    relay, recorder, counters = relay_for(badge_registry, clock, gatt)
    assert await relay.visit(a.badge, DEVICE) == 0  # cut off inside the first message
    assert counters["ble_relay_failed"] == 1 and gatt.pending == len(messages)
    gatt.lose_next_acks = 1  # the first ACK of the next visit never arrives
    assert await relay.visit(a.badge, DEVICE) == 1
    assert gatt.pending == len(messages)  # the badge still holds it
    assert await relay.visit(a.badge, DEVICE) == len(messages) - 1
    assert recorder.published == messages  # once each
    assert counters["ble_relay_duplicates"] == 1 and gatt.pending == 0


async def test_nothing_is_acknowledged_before_the_broker_has_it(
    badge_registry: BadgeRegistry, clock: FakeClock, members: list[TestBadge]
) -> None:
    a, b = members[0], members[1]
    gatt = FakeBadgeGatt(buffered(a, b))
    relay, recorder, counters = relay_for(badge_registry, clock, gatt)
    recorder.is_down = True
    assert await relay.visit(a.badge, DEVICE) == 0
    assert gatt.acks == [] and gatt.pending == 5 and counters["ble_relay_failed"] == 1


async def test_messages_that_do_not_verify_are_refused_not_published(
    badge_registry: BadgeRegistry, clock: FakeClock, members: list[TestBadge]
) -> None:
    a, b, revoked = members[0], members[1], members[3]
    forger = TestBadge(a.badge, a.event, BadgeKey(b"\x07" * 32), a.ephid_key)
    other_badge = b.report(T0)  # signed by b: on a's topic it does not verify
    gatt = FakeBadgeGatt([forger.report(T0), other_badge, a.report(T0)])
    relay, recorder, counters = relay_for(badge_registry, clock, gatt)
    assert await relay.visit(a.badge, DEVICE) == 1
    assert [s for _, s in gatt.acks] == [REFUSED, REFUSED, PUBLISHED]
    assert len(recorder.published) == 1 and counters["ble_relay_refused"] == 2
    revoked_gatt = FakeBadgeGatt([revoked.report(T0)])
    relay, recorder, counters = relay_for(badge_registry, clock, revoked_gatt)
    assert await relay.visit(revoked.badge, DEVICE) == 0
    assert revoked_gatt.acks == [(100, REFUSED)] and recorder.published == []


async def test_one_visit_relays_at_most_max_per_visit(
    badge_registry: BadgeRegistry, clock: FakeClock, members: list[TestBadge]
) -> None:
    a = members[0]
    messages = [a.status(T0 + i) for i in range(MAX_PER_VISIT + 3)]
    gatt = FakeBadgeGatt(list(messages))
    relay, recorder, _ = relay_for(badge_registry, clock, gatt)
    assert await relay.visit(a.badge, DEVICE) == MAX_PER_VISIT
    assert gatt.pending == 3


async def test_advertisements_queue_bounded_visits_and_run_drains_them(
    badge_registry: BadgeRegistry, clock: FakeClock, members: list[TestBadge]
) -> None:
    a, b = members[0], members[1]
    gatt = FakeBadgeGatt(buffered(a, b))
    relay, recorder, counters = relay_for(badge_registry, clock, gatt)
    relay.on_advertisement(DEVICE, offering_ad(a, T0, offering=False))  # nothing to offer
    relay.on_advertisement(DEVICE, offering_ad(members[3], T0))  # revoked: never resolves
    assert relay.queued == 0
    relay.on_advertisement(DEVICE, offering_ad(a, T0))
    relay.on_advertisement(DEVICE, offering_ad(a, T0))  # already queued
    assert relay.queued == 1
    runner = asyncio.create_task(relay.run())
    for _ in range(100):
        if gatt.pending == 0:
            break
        await asyncio.sleep(0)
    assert gatt.pending == 0 and len(recorder.published) == 5
    relay.on_advertisement(DEVICE, offering_ad(a, T0))  # visited just now
    assert relay.queued == 0
    clock.t += REVISIT_S
    relay.on_advertisement(DEVICE, offering_ad(a, T0))
    await asyncio.sleep(0)
    runner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await runner
    assert counters["ble_relay_visits"] == 2
    # the queue is bounded: a crowd of offering badges does not grow it
    crowd = FakeBadgeGatt([])
    relay, _, counters = relay_for(
        BadgeRegistry(_registry_of_many(badge_registry, MAX_QUEUED + 4)), clock, crowd
    )
    for member in _members_of_many(badge_registry, MAX_QUEUED + 4):
        relay.on_advertisement(DEVICE, offering_ad(member, int(clock.t)))
    assert relay.queued == MAX_QUEUED and counters["ble_relay_visits_dropped"] == 4


def _members_of_many(registry: BadgeRegistry, n: int) -> list[TestBadge]:
    return [TestBadge.named(f"m{i:03d}", registry.event) for i in range(n)]


def _registry_of_many(registry: BadgeRegistry, n: int) -> Registry:
    return registry_for(registry.event, _members_of_many(registry, n))


def test_reassembly_takes_frames_in_order(members: list[TestBadge]) -> None:
    topic, payload = members[0].report(T0, [(members[1], -50)] * 30)
    frames = frames_of(7, topic, payload, 50)
    message = Reassembly()
    results = [message.add(frame) for frame in frames]
    assert results[:-1] == [None] * (len(frames) - 1) and results[-1] == payload
    assert message.channel == BadgeChannel.REPORTS and message.number == 7


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_broken_frames_raise_relay_error_and_nothing_else(
    members: list[TestBadge], data: st.DataObject
) -> None:
    topic, payload = members[0].report(T0, [(members[1], -50)] * 10)
    frames = frames_of(7, topic, payload, 40)
    kind = data.draw(st.sampled_from(["bytes", "flip", "skip", "swap", "cut", "extend"]))
    if kind == "bytes":
        frames = data.draw(st.lists(st.binary(max_size=600), min_size=1, max_size=5))
    elif kind == "flip":
        i = data.draw(st.integers(0, len(frames) - 1))
        at = data.draw(st.integers(0, FRAME_HEADER.size - 1))
        bit = 1 << data.draw(st.integers(0, 7))
        frame = bytearray(frames[i])
        frame[at] ^= bit
        frames[i] = bytes(frame)
    elif kind == "skip":
        del frames[data.draw(st.integers(0, len(frames) - 2))]
    elif kind == "swap":
        frames[0], frames[1] = frames[1], frames[0]
    elif kind == "cut":
        frames[0] = frames[0][: data.draw(st.integers(0, FRAME_HEADER.size))]
    else:
        frames[-1] = frames[-1] + b"x"
    message = Reassembly()
    try:
        for frame in frames:
            result = message.add(frame)
            if result is not None:
                # a flip in a length field may still yield a consistent, shorter message
                assert len(result) == message.total
                return
    except RelayError:
        return
