"""Check-in readers: the nonces each reader issues, one outcome per tap, who is inside each zone.

Pure: no I/O. Wall time comes from the injected Clock and nonce bytes from an injected
source (``secrets.token_bytes`` in production, a seeded ``random.Random.randbytes`` in
tests). The processor hands every check-in to ``Readers`` (verified or rejected by the
verifier); the service publishes the nonces ``rotate`` issues and journals the records
``take_records`` returns. The whole state (nonces, who is inside, recent tap ids) is
small and goes into the processor's checkpoint.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, get_args

from gateway.clock import Clock
from gateway.ratelog import RateLimitedLog
from protocol.api import CheckInOutcome, CheckInRecord, ReaderNonce
from protocol.encoding import decode_body, split_payload
from protocol.errors import MalformedMessage, ProtocolError
from protocol.ids import checkin_id
from protocol.messages import CheckIn
from protocol.topics import BadgeChannel, check_id, parse_badge_topic

logger = logging.getLogger(__name__)

NONCE_BYTES = 16
MAX_ZONE_LEN = 64
MAX_SEEN = 10_000
"""Most recent tap ids remembered for de-duplication (the oldest are dropped first)."""

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

NonceSource = Callable[[int], bytes]
"""Returns ``n`` random bytes: ``secrets.token_bytes`` or ``random.Random(seed).randbytes``."""

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


@dataclass(slots=True)
class _Issued:
    nonce: str
    issued_at: int


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
        self._nonce_bytes = nonce_bytes
        self._policy = policy
        self.counters = counters
        self.counters.update({name: 0 for name in COUNTERS if name not in counters})
        self._is_authority = is_authority
        self._rejections = RateLimitedLog(logger, clock)
        self._nonces: dict[str, list[_Issued]] = {r.reader: [] for r in readers}
        self._inside: dict[str, set[str]] = {}
        self._seen: dict[str, float] = {}
        self._records: list[CheckInRecord] = []
        self._snapshot: dict[str, Any] | None = None  # the last one, until the state changes
        self._resumed_from: float | None = None  # see ``resume``; None: not resumed

    @property
    def readers(self) -> list[ReaderConfig]:
        """The readers run here."""
        return [ReaderConfig(reader, zone) for reader, zone in self._zones.items()]

    def inside(self, zone: str) -> frozenset[str]:
        """Badges inside ``zone`` (entered through one of its readers and not left)."""
        return frozenset(self._inside.get(zone, ()))

    # --- nonces ----------------------------------------------------------------------

    def rotate(self) -> list[ReaderNonce]:
        """Forget old nonces and tap ids; issue a fresh nonce where the newest is due.

        Returns:
            The nonces issued now (publish them only after they are checkpointed).
        """
        now = self._clock.now()
        horizon = self._policy.valid_s + self._policy.memory_s
        issued: list[ReaderNonce] = []
        sizes = self._sizes()
        for reader, nonces in self._nonces.items():
            nonces[:] = [n for n in nonces if now < n.issued_at + horizon]
            if nonces and now < nonces[-1].issued_at + self._policy.interval_s:
                continue
            fresh = _Issued(self._nonce_bytes(NONCE_BYTES).hex(), int(now))
            nonces.append(fresh)
            self.counters["checkins.nonces_issued"] += 1
            issued.append(self._announce(reader, fresh))
            logger.debug("reader=%s issued a nonce", reader)
        self._seen = {i: expiry for i, expiry in self._seen.items() if expiry > now}
        if issued or self._sizes() != sizes:
            self._snapshot = None
        return issued

    def _sizes(self) -> tuple[int, int]:
        return sum(len(nonces) for nonces in self._nonces.values()), len(self._seen)

    def current(self) -> list[ReaderNonce]:
        """The newest nonce of each reader that is still valid (to publish after a restart)."""
        now = self._clock.now()
        return [
            self._announce(reader, nonces[-1])
            for reader, nonces in self._nonces.items()
            if nonces and now <= nonces[-1].issued_at + self._policy.valid_s
        ]

    def _announce(self, reader: str, issued: _Issued) -> ReaderNonce:
        return ReaderNonce(
            event=self._event,
            reader=reader,
            zone=self._zones[reader],
            nonce=issued.nonce,
            issued_at=issued.issued_at,
            valid_seconds=self._policy.valid_s,
        )

    def _find(self, reader: str, nonce: str) -> _Issued | None:
        return next((n for n in self._nonces.get(reader, ()) if n.nonce == nonce), None)

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
        issued = self._find(message.reader, message.nonce)
        if issued is None:
            self._record(message, "unknown_nonce", "nonce was never issued by this reader")
        elif self._clock.now() > issued.issued_at + self._policy.valid_s:
            self._record(message, "stale_nonce", f"nonce expired after {self._policy.valid_s} s")
        elif message.direction == "entry" and message.badge in self._inside.get(zone, ()):
            self._record(message, "already_inside", f"badge is inside zone {zone!r:.70}")
        else:
            if self._record(message, "accepted"):
                members = self._inside.setdefault(zone, set())
                if message.direction == "entry":
                    members.add(message.badge)
                else:
                    members.discard(message.badge)

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
            or self._find(message.reader, message.nonce) is None
            or is_ours(message.badge)
        ):
            self.counters["checkins.ignored"] += 1
            return
        self._record(message, "not_registered", f"badge of event {message.event}")

    def _record(self, message: CheckIn, outcome: CheckInOutcome, detail: str = "") -> bool:
        """Record one decision unless it repeats a tap; True if recorded."""
        now = self._clock.now()
        record_id = checkin_id(self._event, message.badge, message.reader, message.nonce)
        if record_id in self._seen:
            self.counters["checkins.duplicate"] += 1
            logger.debug("repeated tap badge=%s reader=%s", message.badge, message.reader)
            return False
        self._remember(record_id, now + self._policy.valid_s + self._policy.memory_s)
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

    def _remember(self, record_id: str, expiry: float) -> None:
        # every change of who is inside follows a new tap id: the snapshot is stale
        self._snapshot = None
        self._seen[record_id] = expiry
        if len(self._seen) > MAX_SEEN:
            del self._seen[next(iter(self._seen))]

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
            "reader_nonces": float(sum(len(n) for n in self._nonces.values())),
            "badges_inside": float(sum(len(m) for m in self._inside.values())),
        }

    def nonce_state(self) -> dict[str, list[list[Any]]]:
        """The nonces remembered per reader, JSON-ready (saved at each issue)."""
        return {
            reader: [[n.nonce, n.issued_at] for n in nonces]
            for reader, nonces in self._nonces.items()
        }

    def merge_nonces(self, state: dict[str, Any]) -> None:
        """Add saved nonces not yet known (for configured readers), oldest first.

        Raises:
            TypeError, ValueError: the saved nonces do not fit.
        """
        for reader, entries in state.items():
            known = self._nonces.get(str(reader))
            if known is None:
                continue
            have = {n.nonce for n in known}
            known.extend(_Issued(str(n), int(t)) for n, t in entries if str(n) not in have)
            known.sort(key=lambda n: n.issued_at)
            self._snapshot = None

    def snapshot(self) -> dict[str, Any]:
        """Nonces, who is inside and recent tap ids, JSON-ready (records are taken first).

        While the state does not change this is the same object (not to be mutated): a
        checkpoint neither rebuilds it nor, in ``TinyDBJournal``, encodes it again.
        """
        if self._snapshot is None:
            self._snapshot = self.fresh_snapshot()
        return self._snapshot

    def fresh_snapshot(self) -> dict[str, Any]:
        """``snapshot()`` built anew (what the cached one must equal)."""
        return {
            "nonces": self.nonce_state(),
            "inside": {zone: sorted(members) for zone, members in self._inside.items() if members},
            "seen": [[record_id, expiry] for record_id, expiry in self._seen.items()],
        }

    def replay_records(self, records: Sequence[CheckInRecord]) -> int:
        """Apply journaled records (in journal order) the restored state does not hold.

        The check-in journal is written just before the state: a gateway killed between
        the two restarts with records whose taps the state does not know, the newest in
        the journal. Their ids are remembered (a redelivered tap is then a duplicate, not
        a second record with a later ``received_at``), their outcomes counted (the state's
        counters predate them) and their accepted entries and exits applied, in order.
        Records before the last one the state knows are older than the state; so are
        those whose id memory had run out when the state was saved, if it knows none
        (after ``resume``; without it: those past the memory now). Returns how many were
        applied.
        """
        known = [i for i, record in enumerate(records) if record.id in self._seen]
        now = self._clock.now()
        horizon = self._policy.valid_s + self._policy.memory_s
        # the state forgot only ids that expired before it was saved (``resume``)
        resumed = self._resumed_from is not None
        cutoff = self._resumed_from if self._resumed_from is not None else now
        applied = 0
        for record in records[known[-1] + 1 if known else 0 :]:
            expiry = record.received_at + horizon
            if record.id in self._seen or (not known and expiry <= cutoff):
                continue
            applied += 1
            self.counters[f"checkins.{record.outcome}"] += 1
            # resumed: remembered for the memory of uptime, at least, like the state's ids
            self._remember(record.id, max(expiry, now + horizon) if resumed else expiry)
            if record.outcome == "accepted" and record.zone:
                members = self._inside.setdefault(record.zone, set())
                if record.direction == "entry":
                    members.add(record.badge)
                else:
                    members.discard(record.badge)
        return applied

    def resume(self, saved_at: float | None) -> None:
        """After a restart from a checkpoint of wall time ``saved_at``: downtime is not memory.

        Every remembered tap id's expiry moves on by the time the gateway was down, so the
        memory of tap ids runs in uptime only and a tap redelivered or repeated after any
        downtime is still a duplicate (the broker delivers what waited at once). And
        ``replay_records`` then tells records older than the state by that time instead
        of now, and remembers those it applies for the memory from now at least.
        ``None``: there is no state (a first start, or it was lost): every journaled
        record is newer than it. Call once, before ``replay_records``.
        """
        now = self._clock.now()
        self._resumed_from = saved_at if saved_at is not None else -math.inf
        downtime = max(0.0, now - saved_at) if saved_at is not None else 0.0
        if downtime:
            self._seen = {i: expiry + downtime for i, expiry in self._seen.items()}
            self._snapshot = None

    def restore(self, state: dict[str, Any]) -> None:
        """Load a snapshot; nonces of readers no longer configured are dropped.

        Raises:
            KeyError, TypeError, ValueError: the snapshot does not fit.
        """
        inside = {str(zone): {str(b) for b in members} for zone, members in state["inside"].items()}
        seen = {str(i): float(expiry) for i, expiry in list(state["seen"])}
        self._nonces = {reader: [] for reader in self._zones}
        self.merge_nonces(dict(state["nonces"]))
        self._inside = inside
        self._seen = seen
        self._snapshot = None


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
