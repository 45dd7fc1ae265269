"""What the check-in readers must not forget: who is inside each zone and the recent tap ids.

Pure: no I/O. With the readers' nonces (``gateway.reader_nonces``) this is their persisted
state: ``snapshot`` goes into the processor's checkpoint (the same object until the state
changes), ``restore`` loads it, ``resume`` moves the tap-id memory past the downtime, and
``replay_records`` applies the journaled records the state does not hold yet.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

from gateway.clock import Clock
from gateway.reader_nonces import NoncePolicy, ReaderNonces
from protocol.api import CheckInRecord

MAX_SEEN = 10_000
"""Most recent tap ids remembered for de-duplication (the oldest are dropped first)."""


class ReaderState:
    """Who is inside each zone and the tap ids remembered (each until its expiry).

    Args:
        nonces: the readers' nonces (part of the snapshot).
        policy: nonce validity and memory (how long a tap id is remembered).
        clock: wall time.
        counters: shared counters (replayed records are counted by outcome).
    """

    def __init__(
        self, nonces: ReaderNonces, policy: NoncePolicy, clock: Clock, counters: Counter[str]
    ) -> None:
        self._nonces = nonces
        self._policy = policy
        self._clock = clock
        self._counters = counters
        self._inside: dict[str, set[str]] = {}
        self._seen: dict[str, float] = {}
        self._snapshot: dict[str, Any] | None = None  # the last one, until the state changes
        self._resumed_from: float | None = None  # see ``resume``; None: not resumed

    # --- who is inside, which taps were seen ----------------------------------------------

    def inside(self, zone: str) -> frozenset[str]:
        """Badges inside ``zone`` (entered through one of its readers and not left)."""
        return frozenset(self._inside.get(zone, ()))

    def is_inside(self, zone: str, badge: str) -> bool:
        """Whether ``badge`` is inside ``zone``."""
        return badge in self._inside.get(zone, ())

    def move(self, zone: str, badge: str, direction: str) -> None:
        """Apply an accepted entry or exit (after ``remember`` of its tap id)."""
        members = self._inside.setdefault(zone, set())
        if direction == "entry":
            members.add(badge)
        else:
            members.discard(badge)

    @property
    def badges_inside(self) -> int:
        """Badges inside, all zones together."""
        return sum(len(m) for m in self._inside.values())

    @property
    def tap_ids(self) -> int:
        """Tap ids remembered."""
        return len(self._seen)

    def is_seen(self, record_id: str) -> bool:
        """Whether a tap id is remembered (its tap was decided already)."""
        return record_id in self._seen

    def remember(self, record_id: str, expiry: float) -> None:
        """Remember a tap id until ``expiry`` (the oldest goes past ``MAX_SEEN``)."""
        # every change of who is inside follows a new tap id: the snapshot is stale
        self._snapshot = None
        self._seen[record_id] = expiry
        if len(self._seen) > MAX_SEEN:
            del self._seen[next(iter(self._seen))]

    def forget_expired(self, now: float) -> None:
        """Forget the tap ids whose memory ran out."""
        self._seen = {i: expiry for i, expiry in self._seen.items() if expiry > now}

    def invalidate(self) -> None:
        """The snapshot is stale (the nonces changed): the next ``snapshot`` is built anew."""
        self._snapshot = None

    # --- checkpoint and recovery -----------------------------------------------------------

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
            "nonces": self._nonces.state(),
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
            self._counters[f"checkins.{record.outcome}"] += 1
            # resumed: remembered for the memory of uptime, at least, like the state's ids
            self.remember(record.id, max(expiry, now + horizon) if resumed else expiry)
            if record.outcome == "accepted" and record.zone:
                self.move(record.zone, record.badge, record.direction)
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
        self._nonces.clear()
        self._snapshot = None
        self._nonces.merge(dict(state["nonces"]))
        self._inside = inside
        self._seen = seen
        self._snapshot = None
