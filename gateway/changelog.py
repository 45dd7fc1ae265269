"""A base blob plus an append-only log of changes, on disk, made durable by the journal's state.

Used for the replay memory (``gateway.replay``, about 2 KB per badge) and the contact
state (``gateway.pairing``, ``gateway.aggregator``: records of pending half-contacts, taps
and open windows), both too large to rewrite at every checkpoint. Files, by generation
``g``: ``{name}-{g}.base`` (written atomically: temporary file, fsync, rename) and
``{name}-{g}.log`` (appended to, then fsynced). Nothing here is valid by itself: the
journal's state document holds the *pointer* ``{"gen": g, "log": n, "base": b}``, written
atomically after the files, and only the first ``n`` bytes of the log of generation ``g``
count (``b``, the base's size, tells a damaged or missing base from an empty one; pointers
without it are still read). So a crash at any moment leaves either the old pointer (bytes
appended after it are cut off on open, and files of a newer generation are deleted) or the
new one (its files were fsynced before it was written).

Two steps per checkpoint: ``stage(changes, base)`` writes the files (``changes`` are all
changes since the last committed pointer; a ``base`` replaces everything and starts a new
generation), the journal writes its state with ``pointer()``, then ``commit()`` deletes
the files of older generations. A failed step leaves the committed pointer valid; the
next ``stage`` starts again from it.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gateway.errors import JournalError
from gateway.storage import fsync_directory, write_atomic

logger = logging.getLogger(__name__)

MIN_COMPACT_BYTES = 1 << 20
"""A log shorter than this is never worth replacing by a new base."""


class ChangeLog:
    """The base + log files of one kind of state in ``directory``.

    Args:
        directory: the journal directory.
        name: file name prefix (``replay``).
    """

    def __init__(self, directory: Path, name: str) -> None:
        self._dir = directory
        self._name = name
        self._files = re.compile(rf"^{re.escape(name)}-(\d{{1,20}})\.(base|log)$")
        self._gen = 0
        self._log = 0
        self._base = 0
        self._staged: tuple[int, int, int] | None = None

    def path(self, gen: int, kind: str) -> Path:
        """The file of generation ``gen``, ``kind`` "base" or "log"."""
        return self._dir / f"{self._name}-{gen:012d}.{kind}"

    @property
    def sizes(self) -> tuple[int, int]:
        """Committed (base bytes, log bytes)."""
        return self._base, self._log

    def needs_base(self) -> bool:
        """True when the log has grown past the base (and ``MIN_COMPACT_BYTES``)."""
        return self._log > max(self._base, MIN_COMPACT_BYTES)

    def open(self, pointer: Mapping[str, Any] | None) -> None:
        """Adopt the committed ``pointer`` (None: nothing yet); cut off and delete the rest.

        Raises:
            JournalError: the pointer does not parse.
        """
        try:
            self._gen = int(pointer["gen"]) if pointer else 0
            self._log = int(pointer["log"]) if pointer else 0
            committed_base = int(pointer["base"]) if pointer and "base" in pointer else None
        except (KeyError, TypeError, ValueError) as exc:
            raise JournalError(f"{self._name} pointer does not parse: {exc!r:.100}") from exc
        self._staged = None
        for path in sorted(self._dir.iterdir()):
            match = self._files.match(path.name)
            if match and int(match.group(1)) != self._gen:
                logger.info("deleting %s (not the committed generation)", path.name)
                path.unlink(missing_ok=True)
        log = self.path(self._gen, "log")
        size = log.stat().st_size if log.exists() else 0
        if size > self._log:
            logger.info("cutting %s back to its committed %d bytes", log.name, self._log)
            os.truncate(log, self._log)
        elif size < self._log:
            logger.error("%s holds %d bytes, %d were committed", log.name, size, self._log)
            self._log = size
        base = self.path(self._gen, "base")
        self._base = base.stat().st_size if base.exists() else 0
        if committed_base is not None and self._base != committed_base:
            logger.error(
                "%s holds %d bytes, %d were committed", base.name, self._base, committed_base
            )
        fsync_directory(self._dir)

    def read(self) -> tuple[bytes, bytes]:
        """Return the committed (base, log).

        Raises:
            JournalError: a file cannot be read.
        """
        try:
            base_path = self.path(self._gen, "base")
            base = base_path.read_bytes() if base_path.exists() else b""
            log_path = self.path(self._gen, "log")
            log = log_path.read_bytes()[: self._log] if log_path.exists() else b""
        except OSError as exc:
            raise JournalError(f"cannot read the {self._name} files: {exc}") from exc
        return base, log

    def stage(self, changes: bytes, base: bytes | None = None) -> None:
        """Write ``changes`` after the committed log, or ``base`` as a new generation.

        Raises:
            JournalError: a write failed; the committed pointer is still valid.
        """
        self._discard_staged()
        try:
            if base is not None:
                gen = self._gen + 1
                write_atomic(self.path(gen, "base"), base)
                write_atomic(self.path(gen, "log"), b"")
                self._staged = (gen, 0, len(base))
                return
            if not changes:
                self._staged = (self._gen, self._log, self._base)
                return
            log = self.path(self._gen, "log")
            created = not log.exists()
            with open(log, "ab") as handle:
                handle.truncate(self._log)
                handle.write(changes)
                handle.flush()
                os.fsync(handle.fileno())
            if created:
                fsync_directory(self._dir)
        except OSError as exc:
            raise JournalError(f"cannot write the {self._name} log: {exc}") from exc
        self._staged = (self._gen, self._log + len(changes), self._base)

    def pointer(self) -> dict[str, int]:
        """The pointer to write in the state document: the staged one if any."""
        gen, log, base = self._staged or (self._gen, self._log, self._base)
        return {"gen": gen, "log": log, "base": base}

    def commit(self) -> None:
        """The state holding ``pointer()`` is durable: adopt it, delete older generations."""
        if self._staged is None:
            return
        old = self._gen
        self._gen, self._log, self._base = self._staged
        self._staged = None
        if old != self._gen:
            self._delete(old)

    def _discard_staged(self) -> None:
        staged, self._staged = self._staged, None
        if staged is not None and staged[0] != self._gen:
            self._delete(staged[0])

    def _delete(self, gen: int) -> None:
        try:
            for kind in ("base", "log"):
                self.path(gen, kind).unlink(missing_ok=True)
            fsync_directory(self._dir)
        except OSError as exc:
            logger.warning("cannot delete %s generation %d: %s", self._name, gen, exc)
