"""Verification of badge messages: topic, size, registration, signature, schema, freshness, replay.

Pure: no I/O; wall time comes from an injected Clock and only matters in live mode.
``Verifier.check`` never raises for bad input; it returns a ``Verdict`` whose
``outcome`` is "accepted", "duplicate" or a stable rejection reason.
"""

from __future__ import annotations

from hashlib import blake2b
from typing import Any, NamedTuple

from gateway.clock import Clock
from gateway.errors import VerificationError
from gateway.registry import BadgeRegistry
from gateway.replay import DIGEST_LEN, REPLAY, WINDOW, ReplayMemory
from gateway.report_decoder import ReportDecoder
from gateway.watermark import Watermark
from protocol.api import DetectionSettings
from protocol.encoding import MAX_PAYLOAD, decode_body, split_payload
from protocol.errors import ProtocolError
from protocol.messages import BadgeMessage, SightingReport, TapHalf
from protocol.signing import SIGNATURE_LEN
from protocol.topics import BadgeChannel, BadgeTopic, parse_badge_topic

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

REPLAY_WINDOW = WINDOW
"""Sequence numbers remembered per badge; anything older is a replay."""

_DIGEST_LEN = DIGEST_LEN
_MIN_PAYLOAD = SIGNATURE_LEN + 2
_REPORTS = BadgeChannel.REPORTS


class Verdict(NamedTuple):
    """The outcome of checking one message.

    Immutable: a named tuple, built once per message at a third of a frozen dataclass's cost.

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
        self._replay = ReplayMemory()
        # topic -> parsed, only for topics of registered badges (bounded by the registry);
        # the badge's entry is still looked up for every message (revocation, refresh)
        self._topics: dict[str, tuple[BadgeTopic, int]] = {}  # with its payload size limit
        self._reports = ReportDecoder()
        # fixed for the registry's lifetime (its update refuses another event, keeps settings)
        self._settings = registry.settings
        self._event = registry.event
        self._window = self._settings.window_seconds
        self.watermark_moved = False
        """True when the last ``check`` accepted a report that moved the watermark."""

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
        self.watermark_moved = False
        badge: str | None = None
        seq: int | None = None
        try:
            known = self._topics.get(topic)
            if known is None:
                parsed = parse_badge_topic(topic)
                limit = MAX_PAYLOAD[parsed.channel]
            else:
                parsed, limit = known
            badge = parsed.badge
            if parsed.event != self._event:
                raise VerificationError("wrong_event", f"event {parsed.event} is not ours")
            channel = parsed.channel
            if _MIN_PAYLOAD <= len(payload) <= limit:  # split_payload's checks, inlined
                signature, body = payload[:SIGNATURE_LEN], payload[SIGNATURE_LEN:]
            else:
                signature, body = split_payload(payload, channel)  # raises the error
            entry = self._registry.lookup(badge)
            if entry is None:
                raise VerificationError("unknown_badge", "badge is not registered for the event")
            if known is None:
                self._topics[topic] = (parsed, limit)
            if entry.revoked:
                raise VerificationError("revoked_badge", "badge was revoked")
            entry.verifier.verify(topic, body, signature)
            if channel is _REPORTS:
                report = self._reports.decode(body, parsed)
                seq = report.seq
                if report.window_len != self._window or report.window_start % self._window:
                    self._check_report(report, self._settings)  # raises the error
                message: BadgeMessage = report
            else:
                report = None
                message = decode_body(body, channel)
                message.check_topic(parsed.event, badge)
                seq = message.seq
                self._check_schema(message)
            digest = blake2b(payload, digest_size=_DIGEST_LEN).digest()
            replay = self._replay
            state = replay.classify(badge, seq, digest)
            if state == DUPLICATE:
                return Verdict(DUPLICATE, badge, seq)
            if report is not None and not self._live_clock:
                # _check_freshness for a report, without the clock (the common case)
                w = self._watermark.value
                end = report.window_start + report.window_len
                if w is not None and end <= w - self._settings.allowed_lateness_seconds:
                    raise VerificationError(
                        "stale", f"window {report.window_start} closed (watermark {w})"
                    )
            else:
                self._check_freshness(message)
            if state == REPLAY:
                raise VerificationError("replay", "sequence number already used or too old")
            replay.record(badge, seq, digest)
            if report is not None:
                self.watermark_moved = self._watermark.observe(badge, report.window_start)
            return Verdict(ACCEPTED, badge, seq, message)
        except (ProtocolError, VerificationError) as exc:
            return Verdict(exc.code, badge, seq, detail=exc.detail)

    @staticmethod
    def _check_report(report: SightingReport, settings: DetectionSettings) -> None:
        window = settings.window_seconds
        if report.window_len != window:
            raise VerificationError(
                "wrong_window_len", f"window_len {report.window_len} != event's {window}"
            )
        if report.window_start % window:
            raise VerificationError("malformed", "window_start is not on a window boundary")

    def _check_schema(self, message: BadgeMessage) -> None:
        settings = self._registry.settings
        if isinstance(message, SightingReport):
            self._check_report(message, settings)
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

    @property
    def replay(self) -> ReplayMemory:
        """The replay memory; the journal persists it apart from ``snapshot()`` (incrementally)."""
        return self._replay

    def snapshot(self) -> dict[str, Any]:
        """Return the watermark, JSON-ready (the replay memory is saved through ``replay``)."""
        return {"watermark": self._watermark.snapshot()}

    def restore(self, state: dict[str, Any]) -> None:
        """Load a snapshot (one of an older journal may still carry the replay memory).

        Raises:
            KeyError, TypeError, ValueError: the snapshot does not fit.
        """
        if "replay" in state:
            self._replay.load_packed(dict(state["replay"]))
        self._watermark.restore(dict(state["watermark"]))
