"""Test twins for the simulator: bundles with random keys, a recording publisher, a fake clock."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

from firmware_sim.publisher import PublishStats, channel_of_topic
from protocol.api import DetectionSettings, ProvisioningBundle
from protocol.encoding import encode_json
from protocol.signing import BadgeKey, Verifier


def make_bundles(
    n: int, event: str = "ev-test", seed: int = 1, settings: DetectionSettings | None = None
) -> list[ProvisioningBundle]:
    """``n`` bundles with random keys, as the server would provision them."""
    rng = random.Random(seed)
    return [
        ProvisioningBundle(
            event=event,
            badge=f"b{k:04d}",
            signing_seed=rng.randbytes(32).hex(),
            ephid_key=rng.randbytes(32).hex(),
            settings=settings or DetectionSettings(),
        )
        for k in range(n)
    ]


def write_bundles(directory: Path, bundles: list[ProvisioningBundle]) -> Path:
    """Write each bundle to ``<badge>.json`` in ``directory``; returns the directory."""
    directory.mkdir(parents=True, exist_ok=True)
    for bundle in bundles:
        (directory / f"{bundle.badge}.json").write_bytes(encode_json(bundle))
    return directory


def verifiers(bundles: list[ProvisioningBundle]) -> dict[str, Verifier]:
    """A signature verifier per badge, from the public key of its seed."""
    return {b.badge: Verifier(BadgeKey(bytes.fromhex(b.signing_seed)).public_key) for b in bundles}


class RecordingPublisher:
    """The ``Publisher`` twin: keeps every message, acknowledges everything."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.started = False
        self.closed = False
        self.barriers = 0

    def start(self) -> None:
        self.started = True

    def publish(self, topic: str, payload: bytes) -> None:
        assert self.started and not self.closed, "publish outside start()..close()"
        self.messages.append((topic, payload))

    def wait_acked(self, timeout: float) -> bool:
        self.barriers += 1
        return True

    def close(self, timeout: float) -> PublishStats:
        self.closed = True
        acked = Counter(channel_of_topic(topic) for topic, _ in self.messages)
        return PublishStats(len(self.messages), dict(acked), 0)


class FakeTime:
    """A monotonic clock that only moves when someone sleeps."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
