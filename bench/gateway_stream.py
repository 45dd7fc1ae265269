"""The gateway benches' input: badges, their registry, and the streams of signed messages.

Deterministic: the same ``n`` gives the same badges and keys, and ``stream_of`` the same
crowd simulation (seeded), so two runs or two trees (``bench.gateway_equivalence``) see
the same messages.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from firmware_sim.badge import Badge
from firmware_sim.config import SimSettings
from firmware_sim.simulation import simulate
from protocol.api import DetectionSettings, ProvisioningBundle, Registry, RegistryBadge
from protocol.messages import Heard
from protocol.signing import BadgeKey

EVENT = "bench"
GATEWAY = "gw-bench"
Message = tuple[str, bytes]
BENCH_NONCE = hashlib.sha256(b"bench reader nonce").digest()[:16]
"""The nonce the bench's reader issues, and the one the simulated badges quote when they
tap it: the stream is made before the gateway runs, so the badges cannot read the
gateway's announced nonces (``firmware_sim.readers``); with the same fixed nonce on both
sides their check-ins are decided like real taps (accepted, already inside ...)."""


class FixedNonce:
    """The badges' side of ``BENCH_NONCE``: every reader's nonce is it."""

    def nonce_for(self, reader: str) -> str | None:
        return BENCH_NONCE.hex()


def bench_nonce_bytes(n: int) -> bytes:
    """The gateway's side of ``BENCH_NONCE`` (its reader's nonce source)."""
    return BENCH_NONCE[:n]


def bundles_for(n: int, event: str = EVENT) -> list[ProvisioningBundle]:
    def hexseed(kind: str, i: int) -> str:
        return hashlib.sha256(f"{kind}/{event}/{i}".encode()).hexdigest()

    return [
        ProvisioningBundle(
            event=event,
            badge=f"b{i:05d}",
            signing_seed=hexseed("sign", i),
            ephid_key=hexseed("ephid", i),
            settings=DetectionSettings(),
        )
        for i in range(n)
    ]


def registry_of(bundles: Sequence[ProvisioningBundle]) -> Registry:
    return Registry(
        event=bundles[0].event,
        gateway=GATEWAY,
        zone="Bench",
        settings=bundles[0].settings,
        badges=[
            RegistryBadge(
                badge=b.badge,
                public_key=BadgeKey(bytes.fromhex(b.signing_seed)).public_key.hex(),
                ephid_key=b.ephid_key,
            )
            for b in bundles
        ],
    )


def stream_of(bundles: Sequence[ProvisioningBundle], minutes: float, seed: int) -> list[Message]:
    settings = SimSettings(bundles_dir=Path("."), minutes=minutes, seed=seed, radio="realistic")
    windows = simulate(bundles, settings, nonces=FixedNonce())
    return [(m.topic, m.payload) for w in windows for m in w.messages]


def pairs_stream(bundles: Sequence[ProvisioningBundle], windows: int) -> list[Message]:
    """``windows`` windows of reports of every badge, each facing one partner (i ^ 1)."""
    start = 1_780_563_600
    sims = [Badge.from_bundle(b, start_time=start) for b in bundles]
    messages: list[Message] = []
    for w in range(windows):
        ws = start + 20 * w
        ephids = [s.ephid(ws).hex() for s in sims]
        for i, sim in enumerate(sims):
            out = sim.report(ws, [Heard(ephids[(i ^ 1) % len(sims)], -55, -50, 9)])
            messages.append((out.topic, out.payload))
    return messages
