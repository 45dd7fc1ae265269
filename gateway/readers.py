"""Check-in readers: the nonces each reader issues, one outcome per tap, who is inside each zone.

Pure: no I/O. Wall time comes from the injected Clock and nonce bytes from an injected
source (``secrets.token_bytes`` in production, a seeded ``random.Random.randbytes`` in
tests). The processor hands every check-in to ``Readers`` (verified or rejected by the
verifier); the service publishes the nonces ``rotate`` issues and journals the records
``take_records`` returns. The whole state (nonces, who is inside, recent tap ids) is
small and goes into the processor's checkpoint.

``Readers`` decides the taps; the nonces live in ``gateway.reader_nonces``, who is inside
and the tap ids (the persisted state) in ``gateway.reader_state``.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, get_args

from gateway.clock import Clock
from gateway.ratelog import RateLimitedLog
from gateway.reader_nonces import NoncePolicy, NonceSource, ReaderNonces
from gateway.reader_state import ReaderState
from protocol.api import CheckInOutcome, CheckInRecord, ReaderNonce
from protocol.encoding import decode_body, split_payload
from protocol.errors import MalformedMessage, ProtocolError
from protocol.ids import checkin_id
from protocol.messages import CheckIn
from protocol.topics import BadgeChannel, check_id, parse_badge_topic

logger = logging.getLogger(__name__)

MAX_ZONE_LEN = 64

OUTCOMES: tuple[str, ...] = get_args(CheckInOutcome)
COUNTERS = (
    *(f"checkins.{outcome}" for outcome in OUTCOMES),
    "checkins.duplicate",
    "checkins.unrecorded",
    "checkins.ignored",
    "checkins.nonces_issued",
    "checkins.forwarded",
    "checkins.forward_rejected",
    "checkins.forward_retries",
)
"""Counters of the readers (all present, from zero). ``checkins.<outcome>`` counts decisions;
``unrecorded`` the decisions without a record (bad_signature, malformed: not attributable
to the badge); ``ignored`` check-ins for readers or nonces that are not this gateway's;
the forwarding counters are the check-in forwarder's."""

_UNATTRIBUTABLE = {"bad_signature"}
_VERIFIER_TO_OUTCOME: dict[str, CheckInOutcome] = {
    "unknown_badge": "unknown_badge",
    "revoked_badge": "revoked_badge",
    "bad_signature": "bad_signature",
    "stale": "stale_nonce",
}
"""Verifier rejections that keep their meaning for a tap; every other reason is ``malformed``."""


@dataclass(frozen=True, slots=True)
class ReaderConfig:
    """One check-in reader this gateway runs: its id and the zone it guards."""

    reader: str
    zone: str


def parse_readers(spec: str) -> list[ReaderConfig]:
    """Parse ``"reader=zone,reader2=zone2"`` (a bare ``reader`` guards the zone of that name).

    Raises:
        ValueError: a reader id is not a valid id, a zone is too long, or a reader repeats.
    """
    readers: list[ReaderConfig] = []
    for entry in (part.strip() for part in spec.split(",")):
        if not entry:
            continue
        reader, _, zone = (x.strip() for x in entry.partition("="))
        zone = zone or reader
        try:
            check_id(reader, "reader")
        except MalformedMessage as exc:
            raise ValueError(exc.detail) from None
        if len(zone) > MAX_ZONE_LEN:
            raise ValueError(f"zone of reader {reader} is longer than {MAX_ZONE_LEN} characters")
        if any(r.reader == reader for r in readers):
            raise ValueError(f"reader {reader} is configured twice")
        readers.append(ReaderConfig(reader, zone))
    return readers


class Readers:
    """The check-in desk of one gateway: decides every tap at its readers.

    Args:
        event: the event id.
        gateway: this gateway's id (goes into every record).
        readers: the readers run here (at least one).
        clock: wall time (nonce issue and receipt times).
        nonce_bytes: the random source of nonces.
        policy: rotation interval, validity and memory.
        counters: shared counters (``COUNTERS`` are added from zero).
        is_authority: decide taps at readers not run here as ``unknown_reader``; when several
            gateways share an event, set it False and each ignores the others' readers.
    """

    def __init__(
        self,
        event: str,
        gateway: str,
        readers: Sequence[ReaderConfig],
        clock: Clock,
        nonce_bytes: NonceSource,
        policy: NoncePolicy,
        counters: Counter[str],
        *,
        is_authority: bool = True,
    ) -> None:
        if not readers:
            raise ValueError("at least one reader is needed")
        self._event = event
        self._gateway = gateway
        self._zones = {r.reader: r.zone for r in readers}
        self._clock = clock
        self._policy = policy
        self.counters = counters
        self.counters.update({name: 0 for name in COUNTERS if name not in counters})
        self._is_authority = is_authority
        self._rejections = RateLimitedLog(logger, clock)
        self._nonces = ReaderNonces(event, self._zones, nonce_bytes, policy, counters)
        self._state = ReaderState(self._nonces, policy, clock, counters)
        self._records: list[CheckInRecord] = []

    @property
    def readers(self) -> list[ReaderConfig]:
        """The readers run here."""
        return [ReaderConfig(reader, zone) for reader, zone in self._zones.items()]

    def inside(self, zone: str) -> frozenset[str]:
        """Badges inside ``zone`` (entered through one of its readers and not left)."""
        return self._state.inside(zone)

    # --- nonces ----------------------------------------------------------------------

    def rotate(self) -> list[ReaderNonce]:
        """Forget old nonces and tap ids; issue a fresh nonce where the newest is due.

        Returns:
            The nonces issued now (publish them only after they are checkpointed).
        """
        now = self._clock.now()
        sizes = self._sizes()
        issued = self._nonces.rotate(now)
        self._state.forget_expired(now)
        if issued or self._sizes() != sizes:
            self._state.invalidate()
        return issued

    def _sizes(self) -> tuple[int, int]:
        return len(self._nonces), self._state.tap_ids

    def current(self) -> list[ReaderNonce]:
        """The newest nonce of each reader that is still valid (to publish after a restart)."""
        return self._nonces.current(self._clock.now())

    # --- taps --------------------------------------------------------------------------

    def accept(self, message: CheckIn) -> None:
        """Decide a check-in whose signature verified."""
        zone = self._zones.get(message.reader)
        if zone is None:
            if self._is_authority:
                self._record(message, "unknown_reader", "reader is not run by this gateway")
            else:
                self.counters["checkins.ignored"] += 1
            return
        issued = self._nonces.find(message.reader, message.nonce)
        if issued is None:
            self._record(message, "unknown_nonce", "nonce was never issued by this reader")
        elif self._clock.now() > issued.issued_at + self._policy.valid_s:
            self._record(message, "stale_nonce", f"nonce expired after {self._policy.valid_s} s")
        elif message.direction == "entry" and self._state.is_inside(zone, message.badge):
            self._record(message, "already_inside", f"badge is inside zone {zone!r:.70}")
        elif self._record(message, "accepted"):
            self._state.move(zone, message.badge, message.direction)

    def flush_logs(self) -> None:
        """Write the summary lines of outcome logs suppressed so far (at shutdown)."""
        self._rejections.flush()

    def reject(self, topic: str, payload: bytes, reason: str, detail: str) -> None:
        """Decide a check-in the verifier rejected (``reason`` is its rejection reason).

        Unknown and revoked badges get a record built from the (unverified) body; a bad
        signature or a malformed body is counted and logged but not recorded: it is not
        attributable to the badge, and a record would take the id of the badge's real tap.
        (``wrong_event`` rejections go to ``foreign`` instead.)
        """
        outcome = _VERIFIER_TO_OUTCOME.get(reason, "malformed")
        message = _unverified(topic, payload) if outcome not in _UNATTRIBUTABLE else None
        if message is None or message.event != self._event or outcome == "malformed":
            self.counters[f"checkins.{outcome}"] += 1
            self.counters["checkins.unrecorded"] += 1
            self._rejections.log(
                logging.WARNING,
                f"check-in {outcome} (not recorded)",
                "check-in not recorded outcome=%s topic=%.120r",
                outcome,
                topic,
            )
            return
        if message.reader not in self._zones and not self._is_authority:
            self.counters["checkins.ignored"] += 1
            return
        self._record(message, outcome, f"{reason}: {detail}")

    def foreign(self, topic: str, payload: bytes, is_ours: Callable[[str], bool]) -> None:
        """Decide a check-in published under another event: ``not_registered`` if it answers
        a nonce one of our readers issued (its signature cannot be checked here).

        Args:
            topic: the other event's check-in topic.
            payload: the bytes received.
            is_ours: whether a badge id is registered for our event; such a badge is
                ignored so that an unverifiable answer never takes the id of its real tap.
        """
        message = _unverified(topic, payload)
        if (
            message is None
            or message.reader not in self._zones
            or self._nonces.find(message.reader, message.nonce) is None
            or is_ours(message.badge)
        ):
            self.counters["checkins.ignored"] += 1
            return
        self._record(message, "not_registered", f"badge of event {message.event}")

    def _record(self, message: CheckIn, outcome: CheckInOutcome, detail: str = "") -> bool:
        """Record one decision unless it repeats a tap; True if recorded."""
        now = self._clock.now()
        record_id = checkin_id(self._event, message.badge, message.reader, message.nonce)
        if self._state.is_seen(record_id):
            self.counters["checkins.duplicate"] += 1
            logger.debug("repeated tap badge=%s reader=%s", message.badge, message.reader)
            return False
        self._state.remember(record_id, now + self._policy.valid_s + self._policy.memory_s)
        self.counters[f"checkins.{outcome}"] += 1
        if outcome == "accepted":
            logger.info("check-in accepted badge=%s reader=%s", message.badge, message.reader)
        else:
            self._rejections.log(
                logging.WARNING,
                f"check-in {outcome}",
                "check-in %s badge=%s reader=%s",
                outcome,
                message.badge,
                message.reader,
            )
        self._records.append(
            CheckInRecord(
                id=record_id,
                event=self._event,
                badge=message.badge,
                reader=message.reader,
                zone=self._zones.get(message.reader, ""),
                direction=message.direction,
                t=message.t,
                received_at=int(now),
                outcome=outcome,
                detail=detail[:200],
                gateway=self._gateway,
            )
        )
        return True

    # --- output and checkpoint ------------------------------------------------------------

    @property
    def untaken(self) -> int:
        """Records decided but not yet taken for the journal."""
        return len(self._records)

    def take_records(self) -> list[CheckInRecord]:
        """Return the records decided since the last call, and forget them."""
        records, self._records = self._records, []
        return records

    def gauges(self) -> dict[str, float]:
        """Point-in-time sizes for the status message."""
        return {
            "reader_nonces": float(len(self._nonces)),
            "badges_inside": float(self._state.badges_inside),
        }

    def nonce_state(self) -> dict[str, list[list[Any]]]:
        """The nonces remembered per reader, JSON-ready (saved at each issue)."""
        return self._nonces.state()

    def merge_nonces(self, state: dict[str, Any]) -> None:
        """Add saved nonces not yet known (for configured readers), oldest first.

        Raises:
            TypeError, ValueError: the saved nonces do not fit.
        """
        self._state.invalidate()
        self._nonces.merge(state)

    def snapshot(self) -> dict[str, Any]:
        """Nonces, who is inside and recent tap ids (``ReaderState.snapshot``)."""
        return self._state.snapshot()

    def fresh_snapshot(self) -> dict[str, Any]:
        """``snapshot()`` built anew (what the cached one must equal)."""
        return self._state.fresh_snapshot()

    def replay_records(self, records: Sequence[CheckInRecord]) -> int:
        """Apply journaled records the restored state does not hold (``ReaderState``)."""
        return self._state.replay_records(records)

    def resume(self, saved_at: float | None) -> None:
        """After a restart from a checkpoint of wall time ``saved_at`` (``ReaderState``)."""
        self._state.resume(saved_at)

    def restore(self, state: dict[str, Any]) -> None:
        """Load a snapshot; nonces of readers no longer configured are dropped.

        Raises:
            KeyError, TypeError, ValueError: the snapshot does not fit.
        """
        self._state.restore(state)


def _unverified(topic: str, payload: bytes) -> CheckIn | None:
    """Decode a check-in without checking its signature; None if it does not parse."""
    try:
        parsed = parse_badge_topic(topic)
        if parsed.channel is not BadgeChannel.CHECKINS:
            return None
        _, body = split_payload(payload, parsed.channel)
        message = decode_body(body, parsed.channel)
        message.check_topic(parsed.event, parsed.badge)
    except ProtocolError:
        return None
    return message if isinstance(message, CheckIn) else None


def outcome_counts(counters: Counter[str] | dict[str, int]) -> dict[str, int]:
    """Decisions by outcome, from a counters mapping (for summaries)."""
    return {outcome: int(counters.get(f"checkins.{outcome}", 0)) for outcome in OUTCOMES}


def is_checkin_topic(topic: str) -> bool:
    """Whether a topic is a badge's check-in channel (cheap suffix test)."""
    return topic.endswith("/" + BadgeChannel.CHECKINS.value)
