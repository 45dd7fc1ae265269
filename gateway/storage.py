"""Atomic, durable TinyDB storage, and moving corrupt journal files aside.

TinyDB writes its file in place; a crash mid-write would leave half a document. This
storage writes a temporary file in the same directory, fsyncs it, renames it over the
old file and fsyncs the directory, so a reader sees the old or the new file, never a mix.
"""

from __future__ import annotations

import logging
import os
import tempfile
from contextlib import suppress
from pathlib import Path
from typing import Any

import msgspec
from tinydb.storages import Storage

from gateway.errors import CorruptJournalFile, JournalError

logger = logging.getLogger(__name__)

Tables = dict[str, dict[str, Any]]


class AtomicJSONStorage(Storage):
    """A TinyDB storage that replaces its file atomically and durably on every write.

    write: temporary file in the same directory, write, flush, fsync, ``os.replace``,
    fsync the directory. read: a missing file is an empty database; an empty or
    unparsable file raises ``CorruptJournalFile`` (we never write one).
    """

    def __init__(self, path: str | Path) -> None:
        self._path = Path(path)

    def read(self) -> Tables | None:
        """Return the file's tables, or None if it does not exist.

        Raises:
            CorruptJournalFile: the file is empty or not a TinyDB JSON document.
            JournalError: the file cannot be read.
        """
        try:
            data = self._path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise JournalError(f"cannot read {self._path}: {exc}") from exc
        try:
            tables: Tables = msgspec.json.decode(data, type=Tables)
        except msgspec.DecodeError as exc:
            raise CorruptJournalFile(
                f"{self._path} is not a TinyDB JSON document ({len(data)} bytes): {exc}",
                path=self._path,
            ) from exc
        return tables

    def write(self, data: Tables) -> None:
        """Atomically replace the file with ``data``.

        Raises:
            JournalError: the write failed; the previous file is intact.
        """
        write_atomic(self._path, msgspec.json.encode(data))

    def close(self) -> None:
        """Nothing to release: files are open only during a read or write."""


class InsertOnlyJSONStorage(AtomicJSONStorage):
    """``AtomicJSONStorage`` for a file that only this object writes and whose documents
    are never changed in place (TinyDB ``insert``/``insert_multiple``, ``remove``): the
    journal's meeting segments.

    TinyDB reads the whole file before every write; this storage reads it once and then
    answers from what its last successful ``write`` wrote (a shallow copy: TinyDB replaces
    a table, it does not change it). A failed write forgets that, so the next read goes
    to the file again.
    """

    def __init__(self, path: str | Path) -> None:
        super().__init__(path)
        self._tables: Tables | None = None
        self._known = False

    def read(self) -> Tables | None:
        """The tables of the last successful write (the file's, the first time)."""
        if not self._known:
            self._tables = super().read()
            self._known = True
        return dict(self._tables) if self._tables is not None else None

    def write(self, data: Tables) -> None:
        """Atomically replace the file with ``data`` and remember it.

        Raises:
            JournalError: the write failed; the previous file is intact.
        """
        self._known = False
        super().write(data)
        self._tables = data
        self._known = True


def write_atomic(path: Path, payload: bytes) -> None:
    """Replace ``path`` with ``payload``: temporary file, fsync, rename, fsync the directory.

    Raises:
        JournalError: the write failed; the previous file is intact.
    """
    directory = path.parent
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise JournalError(f"cannot create a temporary file in {directory}: {exc}") from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        fsync_directory(directory)
    except OSError as exc:
        with suppress(OSError):
            os.unlink(tmp)
        raise JournalError(f"cannot write {path}: {exc}") from exc


def fsync_directory(directory: Path) -> None:
    """Make a rename or unlink in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def quarantine(path: Path, why: str) -> Path:
    """Move a corrupt file aside as ``<name>.corrupt`` (never overwriting one) and log it."""
    target = path.with_name(path.name + ".corrupt")
    n = 1
    while target.exists():
        target = path.with_name(f"{path.name}.{n}.corrupt")
        n += 1
    os.replace(path, target)
    logger.error("journal file %s is corrupt (%s); moved aside to %s", path, why, target.name)
    return target
