"""Test helpers for the gateway: badges that sign real messages, registries, a fake clock."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

import nacl.signing
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from inperson import watcher
from protocol.api import DetectionSettings, GatewayStatus, Registry, RegistryBadge
from protocol.encoding import seal
from protocol.ids import derive_ephid, epoch_of
from protocol.messages import (
    BadgeMessage,
    BadgeStatus,
    CheckIn,
    Heard,
    SightingReport,
    TapHalf,
    TapTranscript,
)
from protocol.signing import BadgeKey
from protocol.topics import BadgeChannel, badge_topic

GATEWAY = "gw-test"
ZONE = "Hall A"
WINDOW = 20
T0 = 1_780_563_600  # a multiple of 900 and of 20


class FakeClock:
    """A wall clock that moves only when told."""

    def __init__(self, now: float = float(T0)) -> None:
        self.t = now

    def now(self) -> float:
        return self.t


def _seed(name: str, purpose: str) -> bytes:
    return hashlib.sha256(f"{purpose}/{name}".encode()).digest()


@dataclass
class TestBadge:
    """A badge with real keys that builds signed MQTT messages like the firmware would."""

    __test__ = False  # not a pytest class

    badge: str
    event: str
    key: BadgeKey
    ephid_key: bytes
    rotation: int = 900
    seq: int = 0

    @classmethod
    def named(cls, badge: str, event: str) -> TestBadge:
        return cls(badge, event, BadgeKey(_seed(badge, "sign")), _seed(badge, "ephid"))

    def ephid(self, t: int) -> str:
        return derive_ephid(self.ephid_key, self.event, epoch_of(t, self.rotation)).hex()

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    @cached_property
    def signer(self) -> nacl.signing.SigningKey:
        return self.key.signer()

    def sign(self, message: BadgeMessage, channel: BadgeChannel) -> tuple[str, bytes]:
        topic = badge_topic(self.event, self.badge, channel)
        return topic, seal(message, topic, self.signer)

    def report(
        self,
        window_start: int,
        heard: Iterable[tuple[TestBadge, int]] = (),
        *,
        window_len: int = WINDOW,
        seq: int | None = None,
        extra: Sequence[Heard] = (),
    ) -> tuple[str, bytes]:
        entries = [
            Heard(ephid=other.ephid(window_start), rssi_median=rssi, rssi_max=rssi + 3, count=9)
            for other, rssi in heard
        ]
        message = SightingReport(
            event=self.event,
            badge=self.badge,
            seq=self.next_seq() if seq is None else seq,
            window_start=window_start,
            window_len=window_len,
            heard=entries + list(extra),
        )
        return self.sign(message, BadgeChannel.REPORTS)

    def tap(self, transcript: TapTranscript, *, seq: int | None = None) -> tuple[str, bytes]:
        message = TapHalf(
            event=self.event,
            badge=self.badge,
            seq=self.next_seq() if seq is None else seq,
            transcript=transcript,
        )
        return self.sign(message, BadgeChannel.TAPS)

    def checkin(self, t: int) -> tuple[str, bytes]:
        message = CheckIn(
            event=self.event,
            badge=self.badge,
            seq=self.next_seq(),
            reader=GATEWAY,
            nonce="ab" * 16,
            t=t,
            direction="entry",
        )
        return self.sign(message, BadgeChannel.CHECKINS)

    def status(self, t: int) -> tuple[str, bytes]:
        message = BadgeStatus(
            event=self.event,
            badge=self.badge,
            seq=self.next_seq(),
            t=t,
            battery=90,
            buffer_fill=0,
            boot_count=1,
            drops=0,
        )
        return self.sign(message, BadgeChannel.STATUS)


def transcript(a: TestBadge, b: TestBadge, t: int) -> TapTranscript:
    first, second = sorted((a.badge, b.badge))
    return TapTranscript(badge_a=first, badge_b=second, nonce_a="11" * 16, nonce_b="22" * 16, t=t)


def badges(event: str, n: int, prefix: str = "b") -> list[TestBadge]:
    return [TestBadge.named(f"{prefix}{i:03d}", event) for i in range(n)]


def registry_for(
    event: str,
    members: Iterable[TestBadge],
    *,
    settings: DetectionSettings | None = None,
    revoked: Iterable[str] = (),
    zone: str = ZONE,
) -> Registry:
    revoked_ids = set(revoked)
    return Registry(
        event=event,
        gateway=GATEWAY,
        zone=zone,
        settings=settings or DetectionSettings(),
        badges=[
            RegistryBadge(
                badge=m.badge,
                public_key=m.key.public_key.hex(),
                ephid_key=m.ephid_key.hex(),
                revoked=m.badge in revoked_ids,
            )
            for m in members
        ],
    )


# --- MQTT helpers for integration tests -------------------------------------------------

HANG_GUARD_S = 60.0
"""How long a test waits for something before failing: a hang guard, not a timing assertion."""


def publish_all(host: str, port: int, messages: Sequence[tuple[str, bytes]]) -> None:
    """Publish at QoS 1 from one connection; return once the broker acknowledged all."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:10]}")
    client.max_inflight_messages_set(1000)
    client.connect(host, port)
    client.loop_start()
    try:
        infos = [client.publish(topic, payload, qos=1) for topic, payload in messages]
        for info in infos:
            info.wait_for_publish(HANG_GUARD_S)
            if not info.is_published():
                raise AssertionError(f"broker did not acknowledge message {info.mid}")
    finally:
        client.disconnect()
        client.loop_stop()


class StatusWatcher(watcher.StatusWatcher):
    """The demo's status watcher, connected at once, with async waiting for tests."""

    def __init__(self, host: str, port: int, topic: str) -> None:
        super().__init__(host, port, topic)
        self.start()

    @property
    def latest(self) -> GatewayStatus | None:
        return self.snapshot()

    def counters(self) -> dict[str, int]:
        latest = self.snapshot()
        return dict(latest.counters) if latest is not None else {}

    def gauges(self) -> dict[str, float]:
        latest = self.snapshot()
        return dict(latest.gauges) if latest is not None else {}

    async def wait_for(
        self, predicate: Callable[[GatewayStatus], bool], what: str
    ) -> GatewayStatus:
        """Wait until the latest status satisfies ``predicate``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + HANG_GUARD_S
        while loop.time() < deadline:
            status = self.snapshot()
            if status is not None and predicate(status):
                return status
            await asyncio.sleep(0.05)
        raise AssertionError(f"gateway status never showed {what}; last: {self.snapshot()}")

    def close(self) -> None:
        self.stop()
