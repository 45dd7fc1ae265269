"""The check-in journal: tap records waiting to be forwarded, durable in small TinyDB files.

Same rules as the meeting journal (design.md section 4): atomic fsynced writes
(``gateway.storage``), one write per file touched per call, files kept small. Records go
to segment files by the gateway's receipt time (``received_at // segment_seconds``); a
forwarded record is removed from its segment and an empty segment file is deleted, so
nothing but unforwarded records stays on disk. Records are keyed by their check-in id:
putting an id already waiting is a no-op, which makes a repeated checkpoint harmless.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from itertools import islice
from pathlib import Path
from typing import Any, TypeVar

import msgspec
from tinydb import TinyDB
from tinydb.table import Table

from gateway.errors import CorruptJournalFile, JournalError
from gateway.storage import (
    AtomicJSONStorage,
    InsertOnlyJSONStorage,
    Tables,
    fsync_directory,
    quarantine,
    write_atomic,
)
from protocol.api import CheckInRecord

logger = logging.getLogger(__name__)

T = TypeVar("T")

SUBDIRECTORY = "checkins"
NONCES_FILE = "nonces.json"
_SEGMENT = re.compile(r"^checkins-(\d{1,20})\.json$")
_TABLE = "checkins"


class CheckInJournal:
    """Unforwarded check-in records on disk, peek -> send -> ack like the meeting journal.

    Safe to call from one worker thread while another reads ``unforwarded()``.

    Args:
        directory: where the ``checkins-<n>.json`` segment files live (created on open).
        segment_seconds: receipt time covered by one segment file.
    """

    def __init__(self, directory: Path, segment_seconds: int = 300) -> None:
        if segment_seconds < 1:
            raise ValueError("segment_seconds must be at least 1")
        self._dir = Path(directory)
        self._segment_seconds = segment_seconds
        self._dbs: dict[int, TinyDB] = {}
        self._waiting: dict[str, tuple[int, int, CheckInRecord]] = {}
        self._lock = threading.RLock()
        self._count = 0

    @property
    def directory(self) -> Path:
        """The directory of the segment files."""
        return self._dir

    def open(self) -> None:
        """Create the directory, move corrupt files aside, load the waiting records.

        Raises:
            JournalError: the directory cannot be created or read.
        """
        with self._lock:
            try:
                self._dir.mkdir(parents=True, exist_ok=True)
                for stray in sorted(self._dir.glob(".*.tmp")):
                    quarantine(stray, "a temporary file left by an interrupted write")
                paths = sorted(
                    (int(m.group(1)), p)
                    for p in self._dir.iterdir()
                    if (m := _SEGMENT.match(p.name))
                )
            except OSError as exc:
                raise JournalError(f"cannot open check-in journal {self._dir}: {exc}") from exc
            for index, path in paths:
                self._load(index, path)
            self._count = len(self._waiting)
            logger.info("check-in journal opened dir=%s unforwarded=%d", self._dir, self._count)

    def _load(self, index: int, path: Path) -> None:
        try:
            tables: Tables = AtomicJSONStorage(path).read() or {}
        except CorruptJournalFile as exc:
            quarantine(path, str(exc))
            return
        rows = tables.get(_TABLE, {})
        for doc_id in sorted(rows, key=int):
            try:
                record = msgspec.convert(rows[doc_id], CheckInRecord)
            except msgspec.ValidationError as exc:
                logger.error("check-in journal %s: document %s unreadable (%s)", path, doc_id, exc)
                continue
            self._waiting.setdefault(record.id, (index, int(doc_id), record))

    def close(self) -> None:
        """Release the TinyDB handles (the records stay on disk)."""
        with self._lock:
            for db in self._dbs.values():
                db.close()
            self._dbs.clear()

    def put(self, records: Sequence[CheckInRecord]) -> int:
        """Durably store the records whose id is not waiting yet; return how many were new.

        Raises:
            JournalError: a write failed; call again with the same records.
        """
        with self._lock:
            groups: dict[int, dict[str, CheckInRecord]] = {}
            for record in records:
                if record.id not in self._waiting:
                    index = record.received_at // self._segment_seconds
                    groups.setdefault(index, {}).setdefault(record.id, record)
            for index, group in sorted(groups.items()):
                rows = [msgspec.to_builtins(record) for record in group.values()]
                table = self._table(index)
                doc_ids = _translate(partial(table.insert_multiple, rows))
                for doc_id, record in zip(doc_ids, group.values(), strict=True):
                    self._waiting[record.id] = (index, doc_id, record)
            self._count = len(self._waiting)
            return sum(len(group) for group in groups.values())

    def peek_batch(self, n: int) -> list[CheckInRecord]:
        """Return up to ``n`` waiting records, oldest segment first, in journal order."""
        with self._lock:
            ordered = sorted(self._waiting.values(), key=lambda e: (e[0], e[1]))
            return [record for _, _, record in islice(ordered, n)]

    def ack(self, ids: Iterable[str]) -> int:
        """Remove forwarded records (one write per segment), delete empty segments.

        Raises:
            JournalError: a segment could not be rewritten (the records stay waiting).
        """
        with self._lock:
            by_segment: dict[int, list[str]] = {}
            for record_id in set(ids):
                entry = self._waiting.get(record_id)
                if entry is not None:
                    by_segment.setdefault(entry[0], []).append(record_id)
            for index, record_ids in sorted(by_segment.items()):
                doc_ids = [self._waiting[i][1] for i in record_ids]
                table = self._table(index)
                _translate(partial(table.remove, doc_ids=doc_ids))
                for record_id in record_ids:
                    del self._waiting[record_id]
                if not any(entry[0] == index for entry in self._waiting.values()):
                    self._drop(index)
            self._count = len(self._waiting)
            return sum(len(v) for v in by_segment.values())

    def unforwarded(self) -> int:
        """How many records wait to be forwarded (read without the lock)."""
        return self._count

    def save_nonces(self, nonces: dict[str, list[list[Any]]]) -> None:
        """Durably replace the saved reader nonces (before they are published).

        Raises:
            JournalError: the write failed; do not publish the new nonces.
        """
        with self._lock:
            write_atomic(self._dir / NONCES_FILE, msgspec.json.encode(nonces))

    def load_nonces(self) -> dict[str, Any]:
        """The saved reader nonces; empty if none (or unreadable, then moved aside)."""
        with self._lock:
            path = self._dir / NONCES_FILE
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                return {}
            except OSError as exc:
                raise JournalError(f"cannot read {path}: {exc}") from exc
            try:
                nonces = msgspec.json.decode(data, type=dict[str, list[tuple[str, int]]])
            except msgspec.DecodeError as exc:
                quarantine(path, str(exc))
                return {}
            return {
                reader: [list(entry) for entry in entries] for reader, entries in nonces.items()
            }

    def segment_path(self, index: int) -> Path:
        """The file of segment ``index``."""
        return self._dir / f"checkins-{index:012d}.json"

    def _table(self, index: int) -> Table:
        db = self._dbs.get(index)
        if db is None:
            path = self.segment_path(index)  # insert and remove only: read once
            db = self._dbs[index] = TinyDB(path, storage=InsertOnlyJSONStorage)
        return db.table(_TABLE)

    def _drop(self, index: int) -> None:
        db = self._dbs.pop(index, None)
        if db is not None:
            db.close()
        try:
            self.segment_path(index).unlink(missing_ok=True)
            fsync_directory(self._dir)
        except OSError as exc:
            # Harmless: the file holds no waiting record; the next open drops nothing.
            logger.warning("cannot delete forwarded check-in segment %d: %s", index, exc)


def _translate(write: Callable[[], T]) -> T:
    try:
        return write()
    except JournalError:
        raise
    except OSError as exc:
        raise JournalError(f"check-in journal write failed: {exc}") from exc
