"""Provisioning bundles: loading ``<badge>.json`` files and checking they form one event."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from firmware_sim.errors import BundleError
from protocol.api import ProvisioningBundle
from protocol.encoding import decode_json
from protocol.errors import ProtocolError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BundleSet:
    """The usable bundles of a folder, sorted by badge id, and how many files were refused.

    Attributes:
        bundles: valid bundles, one per badge, sorted by badge id.
        rejected: files that were unreadable, malformed or a second bundle for a badge.
    """

    bundles: list[ProvisioningBundle]
    rejected: int


def check_bundles(bundles: Sequence[ProvisioningBundle]) -> list[ProvisioningBundle]:
    """Return the bundles sorted by badge id after checking they form one event.

    Raises:
        BundleError: no bundles, two events, two sets of detection settings, or a
            badge id that appears twice.
    """
    if not bundles:
        raise BundleError("no provisioning bundles")
    events = sorted({b.event for b in bundles})
    if len(events) > 1:
        raise BundleError(f"bundles belong to {len(events)} events: {', '.join(events[:5])}")
    if len({b.settings for b in bundles}) > 1:
        raise BundleError(f"bundles of event={events[0]} disagree on detection settings")
    ordered = sorted(bundles, key=lambda b: b.badge)
    for before, after in zip(ordered, ordered[1:], strict=False):
        if before.badge == after.badge:
            raise BundleError(f"badge={before.badge} has two bundles")
    return ordered


def load_bundles(directory: Path) -> BundleSet:
    """Load every ``*.json`` bundle of ``directory``.

    Unreadable or malformed files and second bundles for the same badge are logged at
    WARNING, counted in ``rejected`` and skipped; the rest must form one event.

    Raises:
        BundleError: the folder cannot be listed, or the valid bundles do not form one event.
    """
    if not directory.is_dir():
        raise BundleError(f"bundles folder {directory} does not exist")
    try:
        paths = sorted(directory.glob("*.json"))
    except OSError as exc:
        raise BundleError(f"cannot list bundles in {directory}: {exc}") from exc
    by_badge: dict[str, ProvisioningBundle] = {}
    rejected = 0
    for path in paths:
        try:
            bundle = decode_json(path.read_bytes(), ProvisioningBundle)
        except (OSError, ProtocolError) as exc:
            rejected += 1
            logger.warning("rejected bundle file=%s reason=%s", path.name, exc)
            continue
        if bundle.badge in by_badge:
            rejected += 1
            logger.warning(
                "rejected bundle file=%s reason=second bundle of badge=%s", path.name, bundle.badge
            )
            continue
        if path.stem != bundle.badge:
            logger.warning("bundle file=%s holds badge=%s", path.name, bundle.badge)
        by_badge[bundle.badge] = bundle
    logger.info("loaded bundles n=%d rejected=%d dir=%s", len(by_badge), rejected, directory)
    return BundleSet(check_bundles(list(by_badge.values())), rejected)
