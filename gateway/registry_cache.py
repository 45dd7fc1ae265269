"""The last registry fetched, kept in the journal directory so a restart can go on offline.

A gateway restarted while the server is unreachable would otherwise wait for the server
before verifying a single message. The cache is written atomically after every fetch;
an unreadable cache is moved aside like a corrupt journal file and ignored.
"""

from __future__ import annotations

import logging
from pathlib import Path

from gateway.errors import JournalError
from gateway.storage import quarantine, write_atomic
from protocol.api import Registry
from protocol.encoding import decode_json, encode_json
from protocol.errors import MalformedMessage

logger = logging.getLogger(__name__)

REGISTRY_FILE = "registry.json"


class RegistryCache:
    """One file holding the last registry this gateway fetched.

    Args:
        directory: the journal directory (created on save).
    """

    def __init__(self, directory: Path) -> None:
        self._path = Path(directory) / REGISTRY_FILE

    @property
    def path(self) -> Path:
        """The cache file."""
        return self._path

    def load(self) -> Registry | None:
        """Return the cached registry, or None if there is none or it is unreadable."""
        try:
            data = self._path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            logger.error("cannot read the cached registry %s: %s", self._path, exc)
            return None
        try:
            return decode_json(data, Registry)
        except MalformedMessage as exc:
            try:
                quarantine(self._path, f"not a registry: {exc.detail}")
            except OSError as move:
                logger.error("cannot move the corrupt registry cache aside: %s", move)
            return None

    def save(self, registry: Registry) -> None:
        """Replace the cache with ``registry``; a failure is logged, never raised."""
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(self._path, encode_json(registry))
        except (OSError, JournalError) as exc:
            logger.warning("cannot cache the registry in %s: %s", self._path, exc)
