"""The processing stage: verify each message, pair halves, aggregate contacts, count everything.

Pure: no I/O; wall time comes from the injected Clock (live mode only). The service
feeds it MQTT messages one by one, takes the meetings it closes at each checkpoint,
and journals ``snapshot()`` so that a restart resumes where the checkpoint left off.

Two parts of the state grow with the crowd and are journaled incrementally instead, each
as a base plus an append-only log of changes: the verifier's replay memory (``replay``)
and the *contact state* (the pairing's pending half-contacts and taps, the aggregator's
open windows: ``take_contact_changes``, ``dump_contacts``, ``load_contacts``). So
``snapshot()`` holds only what stays small: counters, watermark, check-in readers.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from typing import Any

from gateway import aggregator, pairing
from gateway.aggregator import Aggregator
from gateway.clock import Clock
from gateway.errors import JournalError
from gateway.pairing import Pairing
from gateway.ratelog import RateLimitedLog
from gateway.readers import COUNTERS as READER_COUNTERS
from gateway.readers import Readers, is_checkin_topic
from gateway.record import RecordReader
from gateway.registry import BadgeRegistry
from gateway.replay import ReplayMemory
from gateway.verifier import ACCEPTED, DUPLICATE, REASONS, Verdict, Verifier
from gateway.watermark import Watermark
from protocol.api import CheckInRecord, Meeting, Registry
from protocol.messages import BadgeStatus, CheckIn, SightingReport, TapHalf

logger = logging.getLogger(__name__)

STATE_VERSION = 2
"""2: the contact state is journaled apart (``load_contacts``); 1 carried it (still read)."""

COUNTERS = (
    "received",
    "accepted",
    "duplicate",
    *(f"rejected.{reason}" for reason in REASONS),
    "contact_windows",
    "meetings",
    "taps",
    "accepted_taps",
    "accepted_checkins",
    "accepted_status",
    "forwarded",
    "forward_rejected",
    "forward_retries",
    "single_sided",
    "single_sided_taps",
    "short_contacts",
    "heard_below_threshold",
    "unresolved_ephid",
    "self_sighting",
)
"""Counters reported in the gateway status (all present, from zero)."""

CheckInHandler = Callable[[CheckIn], None]


class Processor:
    """Verifier -> pairing -> aggregator, with shared counters and a checkpointable state.

    Args:
        registry: the event's badges and settings.
        clock: wall time for the live-mode freshness policy.
        live_clock: reject messages too far from the wall clock too.
        quorum: the watermark quorum.
        counters: the counters to share (e.g. with the forwarder); a new one if None.
        on_checkin: called with each accepted check-in.
        readers: the check-in readers run here; they decide every check-in (verified or
            rejected) and their state is part of ``snapshot()``.
    """

    def __init__(
        self,
        registry: BadgeRegistry,
        clock: Clock,
        *,
        live_clock: bool = False,
        quorum: int = 2,
        counters: Counter[str] | None = None,
        on_checkin: CheckInHandler | None = None,
        readers: Readers | None = None,
    ) -> None:
        self._registry = registry
        self.counters: Counter[str] = counters if counters is not None else Counter()
        self.counters.update({name: 0 for name in COUNTERS if name not in self.counters})
        self._verifier = Verifier(registry, clock, Watermark(quorum), live_clock=live_clock)
        self._pairing = Pairing(registry, self.counters)
        self._aggregator = Aggregator(
            registry.settings,
            event=registry.event,
            gateway=registry.gateway,
            zone=registry.zone,
            counters=self.counters,
        )
        self._on_checkin = on_checkin
        self._readers = readers
        self._rejections = RateLimitedLog(logger, clock)
        self._closed: list[Meeting] = []

    @property
    def registry(self) -> BadgeRegistry:
        """The registry in use."""
        return self._registry

    @property
    def readers(self) -> Readers | None:
        """The check-in readers, if this gateway runs any."""
        return self._readers

    @property
    def watermark(self) -> int | None:
        """Current event-time watermark, None until enough badges reported."""
        return self._verifier.watermark.value

    @property
    def replay(self) -> ReplayMemory:
        """The verifier's replay memory: journaled apart from ``snapshot()``, incrementally."""
        return self._verifier.replay

    def handle(self, topic: str, payload: bytes) -> Verdict:
        """Process one MQTT message; never raises for bad input.

        Returns:
            The verifier's verdict (the effect, if any, is already applied).
        """
        counters = self.counters
        counters["received"] += 1
        verdict = self._verifier.check(topic, payload)
        outcome = verdict.outcome
        if outcome is ACCEPTED:  # the verifier returns the constant itself
            self._apply(verdict)
            return verdict
        if outcome == DUPLICATE:
            counters["duplicate"] += 1
            logger.debug("duplicate badge=%s seq=%s", verdict.badge, verdict.seq)
            return verdict
        if verdict.is_rejected:
            counters[f"rejected.{outcome}"] += 1
            self._rejections.log(
                logging.WARNING,
                f"rejected {verdict.outcome}",
                "rejected reason=%s badge=%s seq=%s topic=%.120r: %.200s",
                verdict.outcome,
                verdict.badge,
                verdict.seq,
                topic,
                verdict.detail,
            )
            if self._readers is not None and is_checkin_topic(topic):
                if verdict.outcome == "wrong_event":
                    self._readers.foreign(topic, payload, self._is_registered)
                else:
                    self._readers.reject(topic, payload, verdict.outcome, verdict.detail)
            return verdict
        self._apply(verdict)
        return verdict

    def flush_logs(self) -> None:
        """Write the summary lines of rejection logs suppressed so far (at shutdown)."""
        self._rejections.flush()
        if self._readers is not None:
            self._readers.flush_logs()

    def handle_foreign_checkin(self, topic: str, payload: bytes) -> None:
        """Let the readers decide a check-in published under another event (never raises)."""
        if self._readers is not None:
            self._readers.foreign(topic, payload, self._is_registered)

    def _is_registered(self, badge: str) -> bool:
        return self._registry.lookup(badge) is not None

    def _apply(self, verdict: Verdict) -> None:
        """Let an accepted message take effect."""
        message = verdict.message
        logger.debug("accepted badge=%s seq=%s", verdict.badge, verdict.seq)
        if isinstance(message, SightingReport):
            counters = self.counters
            counters["accepted"] += 1
            contacts = self._pairing.add_report(message)
            if contacts:
                add = self._aggregator.add
                for contact in contacts:
                    add(contact)
                counters["contact_windows"] += len(contacts)
            if self._verifier.watermark_moved:
                after = self._verifier.watermark.value
                if after is not None:
                    self._advance(after)
        elif isinstance(message, TapHalf):
            self.counters["accepted_taps"] += 1
            tap = self._pairing.add_tap(message)
            if tap is not None:
                self.counters["taps"] += 1
                self._closed.append(tap)
        elif isinstance(message, CheckIn):
            self.counters["accepted_checkins"] += 1
            if self._on_checkin is not None:
                self._on_checkin(message)
            if self._readers is not None:
                self._readers.accept(message)
        elif isinstance(message, BadgeStatus):
            self.counters["accepted_status"] += 1

    def _advance(self, watermark: int) -> None:
        self._pairing.expire(watermark)
        meetings = self._aggregator.advance(watermark)
        self.counters["meetings"] += len(meetings)
        self._closed.extend(meetings)

    @property
    def untaken(self) -> int:
        """Meetings closed but not yet taken for the journal."""
        return len(self._closed)

    def take_meetings(self) -> list[Meeting]:
        """Return the meetings closed since the last call, and forget them."""
        closed, self._closed = self._closed, []
        return closed

    def take_checkins(self) -> list[CheckInRecord]:
        """Return the check-in records decided since the last call, and forget them."""
        return self._readers.take_records() if self._readers is not None else []

    def flush(self) -> list[Meeting]:
        """Close every open run (clean end of an event); return all untaken meetings."""
        meetings = self._aggregator.flush()
        self.counters["meetings"] += len(meetings)
        self._closed.extend(meetings)
        return self.take_meetings()

    def update_registry(self, registry: Registry) -> None:
        """Apply a refreshed registry.

        Raises:
            RegistryError: it is for another event or gateway.
        """
        self._registry.update(registry)
        self._aggregator.zone = registry.zone

    def gauges(self) -> dict[str, float]:
        """Point-in-time sizes for the status message."""
        watermark = self.watermark
        return {
            "pending_half_contacts": float(self._pairing.pending_halves),
            "pending_taps": float(self._pairing.pending_taps),
            "open_pairs": float(self._aggregator.open_pairs),
            "open_windows": float(self._aggregator.open_windows),
            "watermark": float(watermark if watermark is not None else 0),
            **(self._readers.gauges() if self._readers is not None else {}),
        }

    def snapshot(self) -> dict[str, Any]:
        """Return the compact processing state, JSON-ready, for a checkpoint.

        Meetings not yet taken are not part of it: take them first. Neither are the replay
        memory and the contact state (journaled apart, incrementally).
        """
        return {
            "version": STATE_VERSION,
            "event": self._registry.event,
            "counters": {name: value for name, value in self.counters.items() if value},
            "verifier": self._verifier.snapshot(),
            **({"readers": self._readers.snapshot()} if self._readers is not None else {}),
        }

    def contact_snapshot(self) -> dict[str, Any]:
        """The contact state as JSON-ready lists (the form of state version 1; for tests)."""
        return {"pairing": self._pairing.snapshot(), "aggregator": self._aggregator.snapshot()}

    @property
    def pending_contact_changes(self) -> int:
        """Bytes of contact change records not yet taken."""
        return self._pairing.pending_changes + self._aggregator.pending_changes

    def take_contact_changes(self) -> bytes:
        """Return the contact state's change records since the last call, and forget them."""
        return self._pairing.take_changes() + self._aggregator.take_changes()

    def dump_contacts(self) -> bytes:
        """The records of the whole contact state (a base); take pending changes first."""
        return self._pairing.dump() + self._aggregator.dump()

    def freeze_contacts(self) -> Callable[[], bytes]:
        """Copy the contact state; return what dumps the copy as a base, in any thread.

        The copy costs a fraction of ``dump_contacts`` on the caller's thread (the records
        are built by the returned function); take pending changes first.
        """
        pairing, aggregator = self._pairing.frozen(), self._aggregator.frozen()
        return lambda: pairing.dump() + aggregator.dump()

    def load_contacts(self, base: bytes, log: bytes) -> None:
        """Replace the contact state with ``base`` plus the changes in ``log``.

        Raises:
            ValueError: a record is cut off, does not parse or has an unknown tag (the
                contact state is then empty).
        """
        self._pairing.clear()
        self._aggregator.clear()
        try:
            for blob, what in ((base, "contact base"), (log, "contact log")):
                reader = RecordReader(blob, what)
                while not reader.is_done:
                    tag = reader.tag()
                    if tag in _PAIRING_TAGS:
                        self._pairing.apply(tag, reader)
                    elif tag in _AGGREGATOR_TAGS:
                        self._aggregator.apply(tag, reader)
                    else:
                        raise ValueError(f"{what}: unknown record tag {tag!r}")
        except ValueError:
            self._pairing.clear()
            self._aggregator.clear()
            raise

    def restore(self, state: dict[str, Any]) -> None:
        """Resume from a checkpointed snapshot (then ``load_contacts``, unless version 1).

        Raises:
            JournalError: the snapshot is for another event or does not fit.
        """
        if state.get("event") != self._registry.event:
            raise JournalError(
                f"journal state is for event {state.get('event')!r:.80}, not {self._registry.event}"
            )
        if state.get("version") not in (1, STATE_VERSION):
            raise JournalError(f"journal state version {state.get('version')!r:.20} unknown")
        try:
            self._verifier.restore(dict(state["verifier"]))
            if state["version"] == 1:  # it carried the contact state
                self._pairing.restore(dict(state["pairing"]))
                self._aggregator.restore(dict(state["aggregator"]))
            else:
                self._pairing.clear()
                self._aggregator.clear()
            if self._readers is not None and "readers" in state:
                self._readers.restore(dict(state["readers"]))
            counters = {str(k): int(v) for k, v in dict(state["counters"]).items()}
        except (KeyError, TypeError, ValueError) as exc:
            raise JournalError(f"journal state does not fit: {exc!r:.200}") from exc
        self.counters.clear()
        self.counters.update({name: 0 for name in COUNTERS})
        if self._readers is not None:
            self.counters.update({name: 0 for name in READER_COUNTERS})
        self.counters.update(counters)


_PAIRING_TAGS = frozenset(pairing.RECORD_TAGS)
_AGGREGATOR_TAGS = frozenset(aggregator.RECORD_TAGS)
