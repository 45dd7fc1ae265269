"""The journal: closed meetings awaiting forwarding, and the checkpointed processing state.

TinyDB rewrites a whole file on every write, so the journal is built to keep every
file small and to write in batches (design.md section 4):

- meetings go to *segment* files by event time (``last_seen // segment_seconds``), and
  a segment is deleted once all its meetings are forwarded and a newer one exists;
- one ``state.json`` holds the compact processing state and the forward cursor;
- ``checkpoint(meetings, state)`` does one write per file it touches, after which the
  caller may acknowledge the MQTT messages the state covers;
- the replay memory and the contact state (pending half-contacts and taps, open windows),
  too large to rewrite at every checkpoint, are each a base file plus an append-only log
  (``gateway.changelog``): ``save_replay(changes)`` and ``save_contacts(changes)`` before
  a checkpoint append what changed, the checkpoint's state write makes it count, and now
  and then (``replay_needs_base()``, ``contacts_needs_base()``) a new base replaces a log.

Writes are atomic (``gateway.storage``: temporary file in the same directory, fsync,
rename, fsync of the directory), so only a stray temporary file or a hand-truncated
file can be corrupt; both are moved aside as ``*.corrupt`` on open and logged at ERROR.

``Journal`` is the seam; ``TinyDBJournal`` and ``gateway.memory_journal.MemoryJournal`` (its
real in-memory twin) implement it. Both are safe to call from one worker thread while
another thread reads ``unforwarded()``.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import msgspec
from tinydb import TinyDB
from tinydb.table import Table

from gateway.changelog import ChangeLog
from gateway.errors import CorruptJournalFile, JournalError
from gateway.ledger import Ledger
from gateway.storage import (
    AtomicJSONStorage,
    InsertOnlyJSONStorage,
    Tables,
    fsync_directory,
    quarantine,
)
from protocol.api import Meeting

logger = logging.getLogger(__name__)

STATE_FILE = "state.json"
_SEGMENT = re.compile(r"^segment-(\d{1,20})\.json$")
_STATE_DOC = 1

REPLAY = "replay"
CONTACTS = "contacts"
LOGS = (REPLAY, CONTACTS)
"""The kinds of state kept as base + log, by file name prefix and state-document field."""

__all__ = [
    "CONTACTS",
    "LOGS",
    "REPLAY",
    "STATE_FILE",
    "AtomicJSONStorage",
    "Journal",
    "TinyDBJournal",
]


class Journal(Protocol):
    """Durable store-and-forward of meetings plus the processing checkpoint."""

    def open(self) -> None:
        """Load what is on disk (recovering from corrupt files). Call before anything else."""
        ...

    def close(self) -> None:
        """Release files."""
        ...

    def load_state(self) -> dict[str, Any] | None:
        """Return the last checkpointed processing state, or None."""
        ...

    def checkpoint(self, meetings: Sequence[Meeting], state: Mapping[str, Any]) -> None:
        """Durably store new meetings (ids already journaled are skipped) and the state.

        Finished segments older than the newest are deleted, as after ``ack``.

        Raises:
            JournalError: nothing is guaranteed durable; retry with the same arguments.
        """
        ...

    def load_replay(self) -> tuple[bytes, bytes]:
        """Return the replay memory of the last checkpoint: (base, changes after it)."""
        ...

    def save_replay(self, changes: bytes, base: bytes | None = None) -> None:
        """Stage the replay changes since the last checkpoint (or a whole new ``base``).

        They count once the next ``checkpoint`` returns; call it right after.

        Raises:
            JournalError: nothing was staged; call again with the same arguments.
        """
        ...

    def replay_needs_base(self) -> bool:
        """True when the next ``save_replay`` should carry a whole base (the log grew long)."""
        ...

    def load_contacts(self) -> tuple[bytes, bytes]:
        """Return the contact state of the last checkpoint: (base, changes after it)."""
        ...

    def save_contacts(self, changes: bytes, base: bytes | None = None) -> None:
        """Stage the contact changes since the last checkpoint (or a whole new ``base``).

        They count once the next ``checkpoint`` returns, like ``save_replay``.

        Raises:
            JournalError: nothing was staged; call again with the same arguments.
        """
        ...

    def contacts_needs_base(self) -> bool:
        """True when the next ``save_contacts`` should carry a whole base."""
        ...

    def peek_batch(self, n: int) -> list[Meeting]:
        """Return up to ``n`` unforwarded meetings, oldest segment first, in journal order."""
        ...

    def ack(self, ids: Iterable[str]) -> int:
        """Mark meetings forwarded; delete segments that are done; return how many were new.

        Raises:
            JournalError: the cursor could not be written (they may be forwarded again).
        """
        ...

    def unforwarded(self) -> int:
        """How many journaled meetings still wait to be forwarded."""
        ...


class TinyDBJournal:
    """The journal on disk: TinyDB files with atomic storage in one directory.

    Args:
        directory: where ``state.json`` and ``segment-<n>.json`` live (created on open).
        segment_seconds: event time covered by one segment file.
    """

    def __init__(self, directory: Path, segment_seconds: int = 300) -> None:
        self._dir = Path(directory)
        self._ledger = Ledger(segment_seconds)
        self._dbs: dict[int, TinyDB] = {}
        self._state_file: AtomicJSONStorage | None = None
        self._doc: dict[str, Any] = {}
        self._state: dict[str, Any] | None = None
        # each part of the processing state as last encoded: (the object, its JSON)
        self._encoded: dict[str, tuple[object, msgspec.Raw]] = {}
        self._logs = {kind: ChangeLog(self._dir, kind) for kind in LOGS}
        self._lock = threading.RLock()

    @property
    def directory(self) -> Path:
        """The journal directory."""
        return self._dir

    def open(self) -> None:
        """Create the directory, recover from corrupt files and load segments and state.

        Raises:
            JournalError: the directory cannot be created or read.
        """
        with self._lock:
            try:
                self._open()
            except OSError as exc:
                raise JournalError(f"cannot open journal {self._dir}: {exc}") from exc
            logger.info(
                "journal opened dir=%s segments=%d unforwarded=%d state=%s",
                self._dir,
                len(self._ledger.segments),
                self._ledger.unforwarded,
                "yes" if self._state is not None else "no",
            )

    def _open(self) -> None:
        self._dir.mkdir(parents=True, exist_ok=True)
        for stray in sorted(self._dir.glob(".*.tmp")):
            quarantine(stray, "a temporary file left by an interrupted write")
        doc = self._load(self._dir / STATE_FILE).get("state", {}).get(str(_STATE_DOC)) or {}
        segment_paths = sorted(
            (int(m.group(1)), p) for p in self._dir.iterdir() if (m := _SEGMENT.match(p.name))
        )
        for index, path in segment_paths:
            self._load_segment(index, path)
        processing = doc.get("processing")
        self._state = dict(processing) if isinstance(processing, dict) else None
        for kind, log in self._logs.items():
            pointer = doc.get(kind)
            try:
                log.open(pointer if isinstance(pointer, dict) else None)
            except JournalError as exc:
                logger.error("journal %s files unusable (%s); starting without them", kind, exc)
                log.open(None)
        try:
            self._ledger.apply_cursor(dict(doc.get("cursor") or {}))
        except (TypeError, ValueError) as exc:
            logger.error("journal cursor unreadable (%s); forwarding everything again", exc)
        self._state_file = AtomicJSONStorage(self._dir / STATE_FILE)
        self._doc = dict(doc)
        if not doc:
            self._write_state({"processing": None, "cursor": self._ledger.cursor()})
        self._drop_finished()

    def _load(self, path: Path) -> Tables:
        try:
            return AtomicJSONStorage(path).read() or {}
        except CorruptJournalFile as exc:
            quarantine(path, str(exc))
            return {}

    def _load_segment(self, index: int, path: Path) -> None:
        rows = self._load(path).get("meetings", {})
        for doc_id in sorted(rows, key=int):
            try:
                meeting = msgspec.convert(rows[doc_id], Meeting)
            except msgspec.ValidationError as exc:
                logger.error("journal %s: document %s is not a meeting (%s)", path, doc_id, exc)
                continue
            self._ledger.add(index, meeting)

    def close(self) -> None:
        """Release the TinyDB handles."""
        with self._lock:
            for db in self._dbs.values():
                db.close()
            self._dbs.clear()
            self._state_file = None

    def load_state(self) -> dict[str, Any] | None:
        """Return the processing state of the last checkpoint, or None."""
        with self._lock:
            return dict(self._state) if self._state is not None else None

    def checkpoint(self, meetings: Sequence[Meeting], state: Mapping[str, Any]) -> None:
        """Write new meetings (one write per segment touched), then the state (one write).

        Raises:
            JournalError: a write failed; call again with the same arguments.
        """
        with self._lock:
            for index, group in self._ledger.fresh(meetings).items():
                rows = [msgspec.to_builtins(meeting) for meeting in group]
                table = self._segment_db(index)
                self._translate(functools.partial(table.insert_multiple, rows))
                for meeting in group:
                    self._ledger.add(index, meeting)
            fields = {
                "processing": dict(state),
                "cursor": self._ledger.cursor(),
                **{kind: log.pointer() for kind, log in self._logs.items()},
            }
            self._translate(lambda: self._write_state(fields))
            for log in self._logs.values():
                log.commit()
            self._state = dict(state)
            self._drop_finished()

    def load_replay(self) -> tuple[bytes, bytes]:
        """Return the replay memory of the last checkpoint: (base, changes after it).

        Raises:
            JournalError: its files cannot be read.
        """
        with self._lock:
            return self._logs[REPLAY].read()

    def save_replay(self, changes: bytes, base: bytes | None = None) -> None:
        """Append replay changes (or write a new base generation) for the next checkpoint.

        Raises:
            JournalError: a write failed; the last checkpoint's replay files are intact.
        """
        with self._lock:
            self._logs[REPLAY].stage(changes, base)

    def replay_needs_base(self) -> bool:
        """True when the replay log outgrew its base (read without the lock)."""
        return self._logs[REPLAY].needs_base()

    def replay_sizes(self) -> tuple[int, int]:
        """Committed (base, log) bytes of the replay memory (for tests and diagnostics)."""
        return self._logs[REPLAY].sizes

    def load_contacts(self) -> tuple[bytes, bytes]:
        """Return the contact state of the last checkpoint: (base, changes after it).

        Raises:
            JournalError: its files cannot be read.
        """
        with self._lock:
            return self._logs[CONTACTS].read()

    def save_contacts(self, changes: bytes, base: bytes | None = None) -> None:
        """Append contact changes (or write a new base generation) for the next checkpoint.

        Raises:
            JournalError: a write failed; the last checkpoint's contact files are intact.
        """
        with self._lock:
            self._logs[CONTACTS].stage(changes, base)

    def contacts_needs_base(self) -> bool:
        """True when the contact log outgrew its base (read without the lock)."""
        return self._logs[CONTACTS].needs_base()

    def contact_sizes(self) -> tuple[int, int]:
        """Committed (base, log) bytes of the contact state (for tests and diagnostics)."""
        return self._logs[CONTACTS].sizes

    def peek_batch(self, n: int) -> list[Meeting]:
        """Return up to ``n`` unforwarded meetings."""
        with self._lock:
            return self._ledger.peek(n)

    def ack(self, ids: Iterable[str]) -> int:
        """Mark meetings forwarded, write the cursor, delete finished segments.

        Raises:
            JournalError: the cursor could not be written.
        """
        with self._lock:
            count = self._ledger.ack(ids)
            if count:
                fields = {"cursor": self._ledger.cursor()}
                self._translate(lambda: self._write_state(fields))
                self._drop_finished()
            return count

    def unforwarded(self) -> int:
        """How many meetings wait to be forwarded (read without the lock)."""
        return self._ledger.unforwarded

    def segments(self) -> list[int]:
        """Indexes of the segment files held (for tests and diagnostics)."""
        return sorted(self._ledger.segments)

    def segment_path(self, index: int) -> Path:
        """The file of segment ``index``."""
        return self._dir / f"segment-{index:012d}.json"

    def _segment_db(self, index: int) -> Table:
        db = self._dbs.get(index)
        if db is None:
            path = self.segment_path(index)
            db = self._dbs[index] = TinyDB(path, storage=InsertOnlyJSONStorage)
        return db.table("meetings")

    def _write_state(self, fields: dict[str, Any]) -> None:
        """Write the one state document with ``fields`` updated (one write, no read).

        The file is a TinyDB database (table "state", document 1) that this journal alone
        writes, so the document it last wrote is kept here instead of read back each time.
        """
        if self._state_file is None:
            raise JournalError("journal is not open")
        doc = {**self._doc, **fields}
        self._state_file.write({"state": {str(_STATE_DOC): self._encodable(doc)}})
        self._doc = doc

    def _encodable(self, doc: dict[str, Any]) -> dict[str, Any]:
        """``doc`` with each part of its processing state that is the very object written
        last time as its JSON of then (``msgspec.Raw``): the file's bytes are the same, but
        a part that did not change (the check-in readers, often) is not encoded again."""
        processing = doc.get("processing")
        if not isinstance(processing, dict):
            return doc
        parts: dict[str, Any] = {}
        for key, value in processing.items():
            if not isinstance(value, dict | list):
                parts[key] = value
                continue
            cached = self._encoded.get(key)
            if cached is None or cached[0] is not value:
                cached = self._encoded[key] = (value, msgspec.Raw(msgspec.json.encode(value)))
            parts[key] = cached[1]
        return {**doc, "processing": parts}

    def _drop_finished(self) -> None:
        for index in self._ledger.removable():
            db = self._dbs.pop(index, None)
            if db is not None:
                db.close()
            try:
                self.segment_path(index).unlink(missing_ok=True)
                fsync_directory(self._dir)
            except OSError as exc:
                logger.warning("cannot delete forwarded segment %d: %s", index, exc)
                continue
            self._ledger.remove(index)
            logger.debug("segment %d forwarded and deleted", index)

    @staticmethod
    def _translate(write: Callable[[], object]) -> None:
        try:
            write()
        except JournalError:
            raise
        except OSError as exc:
            raise JournalError(f"journal write failed: {exc}") from exc
