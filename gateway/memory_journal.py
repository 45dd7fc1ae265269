"""``MemoryJournal``: the in-memory twin of ``gateway.journal.TinyDBJournal`` (tests, benchmarks).

Same ``Journal`` semantics, nothing on disk: meetings in a ``Ledger`` of segments, the
state as its JSON round trip, the replay memory and the contact state as base + log
pairs that a checkpoint makes count.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import msgspec

from gateway.changelog import MIN_COMPACT_BYTES
from gateway.errors import JournalError
from gateway.journal import CONTACTS, LOGS, REPLAY
from gateway.ledger import Ledger
from protocol.api import Meeting


class MemoryJournal:
    """The in-memory twin of ``TinyDBJournal``: same semantics, nothing on disk.

    Data survives ``close()``/``open()`` on the same object, like files would.
    The state is stored as its JSON round trip, so what is not JSON-ready fails here too.
    """

    def __init__(self, segment_seconds: int = 300) -> None:
        self._ledger = Ledger(segment_seconds)
        self._state: bytes | None = None
        self._logs = {kind: (b"", b"") for kind in LOGS}
        self._staged: dict[str, tuple[bytes, bytes]] = {}
        self._lock = threading.Lock()
        self._is_open = False

    def open(self) -> None:
        """Mark the journal usable."""
        self._is_open = True

    def close(self) -> None:
        """Mark the journal closed (data is kept)."""
        self._is_open = False

    def _check_open(self) -> None:
        if not self._is_open:
            raise JournalError("journal is not open")

    def load_state(self) -> dict[str, Any] | None:
        """Return the last checkpointed state, or None."""
        with self._lock:
            self._check_open()
            if self._state is None:
                return None
            state: dict[str, Any] = msgspec.json.decode(self._state)
            return state

    def checkpoint(self, meetings: Sequence[Meeting], state: Mapping[str, Any]) -> None:
        """Store new meetings and the state."""
        with self._lock:
            self._check_open()
            try:
                encoded = msgspec.json.encode(state)
            except (TypeError, ValueError) as exc:
                raise JournalError(f"state is not JSON-ready: {exc}") from exc
            for index, group in self._ledger.fresh(meetings).items():
                for meeting in group:
                    self._ledger.add(index, meeting)
            self._state = encoded
            self._logs.update(self._staged)
            self._staged.clear()
            for index in self._ledger.removable():
                self._ledger.remove(index)

    def load_replay(self) -> tuple[bytes, bytes]:
        """Return the replay memory of the last checkpoint."""
        return self._load_log(REPLAY)

    def save_replay(self, changes: bytes, base: bytes | None = None) -> None:
        """Stage replay changes (or a new base) for the next checkpoint."""
        self._save_log(REPLAY, changes, base)

    def replay_needs_base(self) -> bool:
        """True when the changes outgrew the base."""
        return self._needs_base(REPLAY)

    def load_contacts(self) -> tuple[bytes, bytes]:
        """Return the contact state of the last checkpoint."""
        return self._load_log(CONTACTS)

    def save_contacts(self, changes: bytes, base: bytes | None = None) -> None:
        """Stage contact changes (or a new base) for the next checkpoint."""
        self._save_log(CONTACTS, changes, base)

    def contacts_needs_base(self) -> bool:
        """True when the changes outgrew the base."""
        return self._needs_base(CONTACTS)

    def _load_log(self, kind: str) -> tuple[bytes, bytes]:
        with self._lock:
            self._check_open()
            return self._logs[kind]

    def _save_log(self, kind: str, changes: bytes, base: bytes | None) -> None:
        with self._lock:
            self._check_open()
            old_base, old_log = self._logs[kind]
            self._staged[kind] = (base, b"") if base is not None else (old_base, old_log + changes)

    def _needs_base(self, kind: str) -> bool:
        base, log = self._logs[kind]
        return len(log) > max(len(base), MIN_COMPACT_BYTES)

    def peek_batch(self, n: int) -> list[Meeting]:
        """Return up to ``n`` unforwarded meetings."""
        with self._lock:
            self._check_open()
            return self._ledger.peek(n)

    def ack(self, ids: Iterable[str]) -> int:
        """Mark meetings forwarded and drop finished segments."""
        with self._lock:
            self._check_open()
            count = self._ledger.ack(ids)
            for index in self._ledger.removable():
                self._ledger.remove(index)
            return count

    def unforwarded(self) -> int:
        """How many meetings wait to be forwarded."""
        return self._ledger.unforwarded

    def segments(self) -> list[int]:
        """Indexes of the segments held (for tests and diagnostics)."""
        return sorted(self._ledger.segments)
