"""The event registry as the gateway uses it: badge verifiers and EphID resolution.

Built from ``protocol.api.Registry``. Each badge's signature verifier is built once.
EphIDs are resolved with one table per epoch (EphID -> badge), computed lazily for the
epochs that reports need and evicted least-recently-used, since an epoch table costs
one HMAC per badge.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass

from gateway.errors import RegistryError
from protocol.api import DetectionSettings, Registry
from protocol.ids import derive_ephid, epoch_of
from protocol.signing import Verifier as SignatureVerifier

logger = logging.getLogger(__name__)

MAX_EPOCH_TABLES = 8
"""Epoch tables kept; a window needs three (its epoch and one either side)."""


@dataclass(frozen=True, slots=True)
class BadgeEntry:
    """What the gateway knows about one registered badge."""

    badge: str
    public_key: bytes
    ephid_key: bytes
    revoked: bool
    verifier: SignatureVerifier


class BadgeRegistry:
    """Looks up badges and resolves EphIDs for one event.

    Args:
        registry: the registry fetched from the server.
    """

    def __init__(self, registry: Registry) -> None:
        self._registry = registry
        self._entries = _entries(registry, {})
        self._tables: OrderedDict[int, dict[bytes, str]] = OrderedDict()

    @property
    def registry(self) -> Registry:
        """The registry this was built from."""
        return self._registry

    @property
    def event(self) -> str:
        """The event id."""
        return self._registry.event

    @property
    def gateway(self) -> str:
        """This gateway's id, as the server knows it."""
        return self._registry.gateway

    @property
    def zone(self) -> str:
        """The zone this gateway covers."""
        return self._registry.zone

    @property
    def settings(self) -> DetectionSettings:
        """The event's detection settings."""
        return self._registry.settings

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, badge: str) -> BadgeEntry | None:
        """Return the badge's entry, or None if it is not registered for this event."""
        return self._entries.get(badge)

    def resolve(self, ephid: bytes, window_start: int) -> str | None:
        """Return the badge that broadcast ``ephid`` during the window, or None.

        Tries the window's epoch first, then one epoch either side (clock skew).
        Revoked badges never resolve.
        """
        epoch = epoch_of(window_start, self.settings.ephid_rotation_seconds)
        for candidate in (epoch, epoch - 1, epoch + 1):
            if candidate < 0:
                continue
            badge = self._table(candidate).get(ephid)
            if badge is not None:
                return badge
        return None

    def update(self, registry: Registry) -> None:
        """Apply a refreshed registry (new, changed or revoked badges).

        Raises:
            RegistryError: the registry is for another event or another gateway.
        """
        if registry.event != self.event or registry.gateway != self.gateway:
            raise RegistryError(
                f"refreshed registry is for event={registry.event} gateway={registry.gateway}, "
                f"this gateway serves event={self.event} gateway={self.gateway}; restart it"
            )
        if registry.settings != self.settings:
            logger.warning("event detection settings changed; restart the gateway to apply them")
            registry = Registry(
                event=registry.event,
                gateway=registry.gateway,
                zone=registry.zone,
                settings=self.settings,
                badges=registry.badges,
            )
        self._entries = _entries(registry, self._entries)
        self._registry = registry
        self._tables.clear()

    def _table(self, epoch: int) -> dict[bytes, str]:
        table = self._tables.get(epoch)
        if table is not None:
            self._tables.move_to_end(epoch)
            return table
        table = {
            derive_ephid(entry.ephid_key, self.event, epoch): entry.badge
            for entry in self._entries.values()
            if not entry.revoked
        }
        self._tables[epoch] = table
        while len(self._tables) > MAX_EPOCH_TABLES:
            self._tables.popitem(last=False)
        return table


def _entries(registry: Registry, previous: dict[str, BadgeEntry]) -> dict[str, BadgeEntry]:
    """Build entries, reusing verifiers whose public key did not change."""
    entries: dict[str, BadgeEntry] = {}
    for badge in registry.badges:
        public_key = bytes.fromhex(badge.public_key)
        old = previous.get(badge.badge)
        verifier = (
            old.verifier
            if old is not None and old.public_key == public_key
            else SignatureVerifier(public_key)
        )
        entries[badge.badge] = BadgeEntry(
            badge=badge.badge,
            public_key=public_key,
            ephid_key=bytes.fromhex(badge.ephid_key),
            revoked=badge.revoked,
            verifier=verifier,
        )
    return entries
