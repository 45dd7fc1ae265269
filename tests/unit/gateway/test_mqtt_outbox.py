"""gateway.mqtt_outbox: packet ids, the bound, resending with DUP, waiting for a PUBACK."""

from __future__ import annotations

import asyncio

from gateway.mqtt_client import Received
from gateway.mqtt_codec import PacketDecoder
from gateway.mqtt_outbox import PublishOutbox


def decode(packet: bytes) -> Received:
    out: list[Received] = []
    PacketDecoder().feed(packet, 0, out)
    return out[0]


def test_ids_skip_publishes_still_waiting_and_the_reserved_one_and_wrap() -> None:
    outbox = PublishOutbox()
    first = outbox.add("t/a", b"1", retain=False)
    assert first is not None and first[0] == 1
    assert outbox.allocate_id(reserved=2) == 3
    for _ in range(0xFFFF - 3):
        outbox.allocate_id()
    assert outbox.allocate_id() == 2  # wrapped past 65,535, and 1 is still waiting
    outbox.acknowledged(1)
    assert len(outbox) == 0


def test_a_full_outbox_refuses_and_counts() -> None:
    outbox = PublishOutbox(limit=2)
    assert outbox.add("t/a", b"1", retain=False) is not None
    assert outbox.add("t/b", b"2", retain=True) is not None
    assert outbox.add("t/c", b"3", retain=False) is None
    assert (len(outbox), outbox.dropped) == (2, 1)


def test_resend_gives_every_waiting_publish_in_order_with_dup() -> None:
    outbox = PublishOutbox()
    ids = [added[0] for t in ("t/a", "t/b", "t/c") if (added := outbox.add(t, b"p", retain=True))]
    outbox.acknowledged(ids[1])
    resent = list(outbox.resend())
    assert [decode(p).topic for p in resent] == ["t/a", "t/c"]
    assert [decode(p).mid for p in resent] == [ids[0], ids[2]]
    assert all(p[0] == 0x3B for p in resent)  # PUBLISH, DUP, QoS 1, retain


async def test_wait_ends_with_the_puback_or_the_timeout() -> None:
    outbox = PublishOutbox()
    added = outbox.add("t/a", b"1", retain=False)
    other = outbox.add("t/b", b"2", retain=False)
    assert added is not None and other is not None
    waiting = asyncio.create_task(outbox.wait(added[0], 10))
    await asyncio.sleep(0)
    outbox.acknowledged(added[0])
    assert await waiting
    assert await outbox.wait(added[0], 0.01)  # already acknowledged
    assert not await outbox.wait(other[0], 0.01)
    assert len(outbox) == 1  # still kept, sent again on the next connection
