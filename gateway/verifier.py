"""Verification of badge messages: topic, size, registration, signature, schema, freshness, replay.

Pure: no I/O; wall time comes from an injected Clock and only matters in live mode.
``Verifier.check`` never raises for bad input; it returns a ``Verdict`` whose
``outcome`` is "accepted", "duplicate" or a stable rejection reason.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any

from gateway.clock import Clock
from gateway.errors import VerificationError
from gateway.registry import BadgeRegistry
from gateway.watermark import Watermark
from protocol.encoding import decode_body, split_payload
from protocol.errors import ProtocolError
from protocol.messages import BadgeMessage, SightingReport, TapHalf
from protocol.topics import parse_badge_topic

ACCEPTED = "accepted"
DUPLICATE = "duplicate"
REASONS = (
    "malformed",
    "oversized",
    "topic_mismatch",
    "unsupported_version",
    "wrong_event",
    "unknown_badge",
    "revoked_badge",
    "bad_signature",
    "stale",
    "future",
    "replay",
    "wrong_window_len",
)
"""Every rejection reason, each a counter label ``rejected.<reason>``."""

REPLAY_WINDOW = 256
"""Sequence numbers remembered per badge; anything older is a replay."""

_DIGEST_LEN = 8


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of checking one message.

    Attributes:
        outcome: "accepted", "duplicate" or a rejection reason from ``REASONS``.
        badge: the badge named by the topic, when the topic parsed.
        seq: the message's sequence number, when the body parsed.
        message: the decoded message when accepted.
        detail: why it was rejected, for the log.
    """

    outcome: str
    badge: str | None = None
    seq: int | None = None
    message: BadgeMessage | None = None
    detail: str = ""

    @property
    def is_accepted(self) -> bool:
        """True when the message should take effect."""
        return self.outcome == ACCEPTED

    @property
    def is_rejected(self) -> bool:
        """True when the message broke a rule."""
        return self.outcome not in (ACCEPTED, DUPLICATE)


class _ReplayWindow:
    """The highest sequence number of a badge and digests of the last REPLAY_WINDOW seqs."""

    __slots__ = ("highest", "digests")

    def __init__(self, highest: int = -1) -> None:
        self.highest = highest
        self.digests: dict[int, bytes] = {}

    def classify(self, seq: int, digest: bytes) -> str:
        """Return "new", DUPLICATE or "replay"."""
        seen = self.digests.get(seq)
        if seen is not None:
            return DUPLICATE if seen == digest else "replay"
        if self.highest >= 0 and seq <= self.highest - REPLAY_WINDOW:
            return "replay"
        return "new"

    def record(self, seq: int, digest: bytes) -> None:
        if seq > self.highest:
            self.highest = seq
            floor = seq - REPLAY_WINDOW
            for old in [s for s in self.digests if s <= floor]:
                del self.digests[old]
        self.digests[seq] = digest

    def pack(self) -> list[Any]:
        """``[highest, base64(offset byte + digest, ...)]``: small enough to checkpoint often."""
        blob = b"".join(
            (self.highest - seq).to_bytes(1, "big") + digest
            for seq, digest in sorted(self.digests.items())
        )
        return [self.highest, base64.b64encode(blob).decode()]

    @classmethod
    def unpack(cls, packed: list[Any]) -> _ReplayWindow:
        window = cls(int(packed[0]))
        blob = base64.b64decode(str(packed[1]), validate=True)
        step = 1 + _DIGEST_LEN
        if len(blob) % step:
            raise ValueError("replay state has a partial entry")
        for i in range(0, len(blob), step):
            window.digests[window.highest - blob[i]] = blob[i + 1 : i + step]
        return window


class Verifier:
    """Checks badge messages for one event, in the order of docs/protocol.md section 5.

    Duplicates are recognised right after the schema check, before freshness: a
    redelivered message is acknowledged as a duplicate even after the watermark
    has moved past it (it is no error, whatever its age).

    Args:
        registry: the event's badges and settings.
        clock: wall time, used only when ``live_clock`` is on.
        watermark: event time; advanced by every accepted report.
        live_clock: also reject messages too far from the wall clock.
    """

    def __init__(
        self,
        registry: BadgeRegistry,
        clock: Clock,
        watermark: Watermark,
        *,
        live_clock: bool = False,
    ) -> None:
        self._registry = registry
        self._clock = clock
        self._watermark = watermark
        self._live_clock = live_clock
        self._replay: dict[str, _ReplayWindow] = {}

    @property
    def watermark(self) -> Watermark:
        """The event-time watermark this verifier maintains."""
        return self._watermark

    def check(self, topic: str, payload: bytes) -> Verdict:
        """Verify one MQTT message; on acceptance, record it (replay state, watermark).

        Args:
            topic: the topic it arrived on.
            payload: the exact bytes received.

        Returns:
            The verdict; never raises for bad input.
        """
        facts: dict[str, Any] = {}
        try:
            return self._verify(topic, payload, facts)
        except (ProtocolError, VerificationError) as exc:
            return Verdict(exc.code, facts.get("badge"), facts.get("seq"), detail=exc.detail)

    def _verify(self, topic: str, payload: bytes, facts: dict[str, Any]) -> Verdict:
        parsed = parse_badge_topic(topic)
        facts["badge"] = parsed.badge
        if parsed.event != self._registry.event:
            raise VerificationError("wrong_event", f"event {parsed.event} is not ours")
        signature, body = split_payload(payload, parsed.channel)
        entry = self._registry.lookup(parsed.badge)
        if entry is None:
            raise VerificationError("unknown_badge", "badge is not registered for the event")
        if entry.revoked:
            raise VerificationError("revoked_badge", "badge was revoked")
        entry.verifier.verify(topic, body, signature)
        message = decode_body(body, parsed.channel)
        message.check_topic(parsed.event, parsed.badge)
        facts["seq"] = message.seq
        self._check_schema(message)
        digest = hashlib.blake2b(payload, digest_size=_DIGEST_LEN).digest()
        window = self._replay.get(parsed.badge)
        state = window.classify(message.seq, digest) if window is not None else "new"
        if state == DUPLICATE:
            return Verdict(DUPLICATE, parsed.badge, message.seq)
        self._check_freshness(message)
        if state == "replay":
            raise VerificationError("replay", "sequence number already used or too old")
        if window is None:
            window = self._replay[parsed.badge] = _ReplayWindow()
        window.record(message.seq, digest)
        if isinstance(message, SightingReport):
            self._watermark.observe(parsed.badge, message.window_start)
        return Verdict(ACCEPTED, parsed.badge, message.seq, message)

    def _check_schema(self, message: BadgeMessage) -> None:
        settings = self._registry.settings
        if isinstance(message, SightingReport):
            if message.window_len != settings.window_seconds:
                raise VerificationError(
                    "wrong_window_len",
                    f"window_len {message.window_len} != event's {settings.window_seconds}",
                )
            if message.window_start % settings.window_seconds:
                raise VerificationError("malformed", "window_start is not on a window boundary")
        elif isinstance(message, TapHalf):
            transcript = message.transcript
            if not transcript.badge_a < transcript.badge_b:
                raise VerificationError("malformed", "tap transcript badges are not sorted")
            if message.badge not in (transcript.badge_a, transcript.badge_b):
                raise VerificationError("malformed", "tap sender is not in the transcript")

    def _check_freshness(self, message: BadgeMessage) -> None:
        settings = self._registry.settings
        lateness = settings.allowed_lateness_seconds
        if isinstance(message, SightingReport):
            start, end = message.window_start, message.window_start + message.window_len
            w = self._watermark.value
            if w is not None and end <= w - lateness:
                raise VerificationError("stale", f"window {start} closed (watermark {w})")
        elif isinstance(message, TapHalf):
            start = end = message.transcript.t
        else:
            start = end = message.t
        if self._live_clock:
            now = self._clock.now()
            skew = settings.max_clock_skew_seconds
            if start > now + skew:
                raise VerificationError("future", f"time {start} is ahead of the gateway clock")
            if end <= now - lateness - skew:
                raise VerificationError("stale", f"time {end} is behind the gateway clock")

    def snapshot(self) -> dict[str, Any]:
        """Return replay state and watermark, JSON-ready."""
        return {
            "replay": {badge: window.pack() for badge, window in self._replay.items()},
            "watermark": self._watermark.snapshot(),
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Load a snapshot.

        Raises:
            KeyError, TypeError, ValueError: the snapshot does not fit.
        """
        self._replay = {
            str(badge): _ReplayWindow.unpack(list(packed))
            for badge, packed in dict(state["replay"]).items()
        }
        self._watermark.restore(dict(state["watermark"]))
