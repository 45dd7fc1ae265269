"""Reader nonces: the ones each check-in reader issued and still remembers, and their policy.

Pure: no I/O. Wall time is passed in by ``Readers`` (from its injected Clock) and nonce
bytes come from an injected source (``secrets.token_bytes`` in production, a seeded
``random.Random.randbytes`` in tests). A reader issues a fresh nonce every
``interval_s``; an answer quoting one older than ``valid_s`` is stale, and a nonce is
remembered ``memory_s`` past its validity (later answers to it: ``unknown_nonce``).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from protocol.api import ReaderNonce

logger = logging.getLogger(__name__)

NONCE_BYTES = 16

NonceSource = Callable[[int], bytes]
"""Returns ``n`` random bytes: ``secrets.token_bytes`` or ``random.Random(seed).randbytes``."""


@dataclass(frozen=True, slots=True)
class NoncePolicy:
    """How nonces rotate.

    Attributes:
        interval_s: a new nonce is issued this often (wall seconds).
        valid_s: an answer quoting a nonce older than this is ``stale_nonce``.
        memory_s: how long past its validity a nonce is remembered (later: ``unknown_nonce``);
            also how long a tap id is remembered to recognise repeated taps (in the
            gateway's uptime: ``Readers.resume``).
    """

    interval_s: float = 15.0
    valid_s: int = 60
    memory_s: float = 600.0

    def __post_init__(self) -> None:
        if not (self.interval_s > 0 and self.valid_s >= 1 and self.memory_s >= 0):
            raise ValueError("nonce interval and validity must be positive, memory >= 0")


@dataclass(slots=True)
class IssuedNonce:
    """One nonce a reader issued (hex) and when (wall seconds)."""

    nonce: str
    issued_at: int


class ReaderNonces:
    """The nonces each reader issued and still remembers, oldest first.

    Args:
        event: the event id (goes into every announced nonce).
        zones: the zone of each reader run here.
        nonce_bytes: the random source of nonces.
        policy: rotation interval, validity and memory.
        counters: shared counters (``checkins.nonces_issued`` counts issued nonces).
    """

    def __init__(
        self,
        event: str,
        zones: Mapping[str, str],
        nonce_bytes: NonceSource,
        policy: NoncePolicy,
        counters: Counter[str],
    ) -> None:
        self._event = event
        self._zones = zones
        self._nonce_bytes = nonce_bytes
        self._policy = policy
        self._counters = counters
        self._issued: dict[str, list[IssuedNonce]] = {reader: [] for reader in zones}

    def __len__(self) -> int:
        """How many nonces are remembered, all readers together."""
        return sum(len(nonces) for nonces in self._issued.values())

    def rotate(self, now: float) -> list[ReaderNonce]:
        """Forget old nonces; issue a fresh nonce where the newest is due.

        Returns:
            The nonces issued now.
        """
        horizon = self._policy.valid_s + self._policy.memory_s
        issued: list[ReaderNonce] = []
        for reader, nonces in self._issued.items():
            nonces[:] = [n for n in nonces if now < n.issued_at + horizon]
            if nonces and now < nonces[-1].issued_at + self._policy.interval_s:
                continue
            fresh = IssuedNonce(self._nonce_bytes(NONCE_BYTES).hex(), int(now))
            nonces.append(fresh)
            self._counters["checkins.nonces_issued"] += 1
            issued.append(self._announce(reader, fresh))
            logger.debug("reader=%s issued a nonce", reader)
        return issued

    def current(self, now: float) -> list[ReaderNonce]:
        """The newest nonce of each reader that is still valid (to publish after a restart)."""
        return [
            self._announce(reader, nonces[-1])
            for reader, nonces in self._issued.items()
            if nonces and now <= nonces[-1].issued_at + self._policy.valid_s
        ]

    def _announce(self, reader: str, issued: IssuedNonce) -> ReaderNonce:
        return ReaderNonce(
            event=self._event,
            reader=reader,
            zone=self._zones[reader],
            nonce=issued.nonce,
            issued_at=issued.issued_at,
            valid_seconds=self._policy.valid_s,
        )

    def find(self, reader: str, nonce: str) -> IssuedNonce | None:
        """The remembered nonce ``nonce`` of ``reader``, if any."""
        return next((n for n in self._issued.get(reader, ()) if n.nonce == nonce), None)

    def state(self) -> dict[str, list[list[Any]]]:
        """The nonces remembered per reader, JSON-ready."""
        return {
            reader: [[n.nonce, n.issued_at] for n in nonces]
            for reader, nonces in self._issued.items()
        }

    def merge(self, state: dict[str, Any]) -> None:
        """Add saved nonces not yet known (for configured readers), oldest first.

        Raises:
            TypeError, ValueError: the saved nonces do not fit.
        """
        for reader, entries in state.items():
            known = self._issued.get(str(reader))
            if known is None:
                continue
            have = {n.nonce for n in known}
            known.extend(IssuedNonce(str(n), int(t)) for n, t in entries if str(n) not in have)
            known.sort(key=lambda n: n.issued_at)

    def clear(self) -> None:
        """Forget every nonce."""
        self._issued = {reader: [] for reader in self._zones}
