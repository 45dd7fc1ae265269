"""BadgeRegistry: lookups, EphID resolution with one epoch of skew, refresh."""

from __future__ import annotations

import pytest

from gateway.errors import RegistryError
from gateway.registry import BadgeRegistry
from protocol.api import DetectionSettings, Registry
from tests.unit.gateway.conftest import EVENT
from tests.unit.gateway.support import T0, TestBadge, badges, registry_for

ROTATION = 900


def ephid_at(member: TestBadge, t: int) -> bytes:
    return bytes.fromhex(member.ephid(t))


def test_lookup_knows_registered_and_revoked_badges(
    badge_registry: BadgeRegistry, members: list[TestBadge]
) -> None:
    entry = badge_registry.lookup(members[0].badge)
    assert entry is not None and not entry.revoked
    assert entry.public_key == members[0].key.public_key
    revoked = badge_registry.lookup(members[3].badge)
    assert revoked is not None and revoked.revoked
    assert badge_registry.lookup("b999") is None
    assert len(badge_registry) == 4


def test_resolve_tolerates_one_epoch_of_skew_but_not_two(
    badge_registry: BadgeRegistry, members: list[TestBadge]
) -> None:
    b = members[1]
    for offset in (-1, 0, 1):
        assert badge_registry.resolve(ephid_at(b, T0 + offset * ROTATION), T0) == b.badge
    for offset in (-2, 2):
        assert badge_registry.resolve(ephid_at(b, T0 + offset * ROTATION), T0) is None


def test_resolve_ignores_revoked_and_unknown_ephids(
    badge_registry: BadgeRegistry, members: list[TestBadge]
) -> None:
    assert badge_registry.resolve(ephid_at(members[3], T0), T0) is None
    assert badge_registry.resolve(b"\x00" * 16, T0) is None
    stranger = TestBadge.named("b000", "ev-other")  # same badge id, other event
    assert badge_registry.resolve(ephid_at(stranger, T0), T0) is None


def test_resolve_stays_right_across_many_epochs(
    badge_registry: BadgeRegistry, members: list[TestBadge]
) -> None:
    # far more epochs than the table cache holds, visited back and forth
    for step in list(range(30)) + list(range(30, 0, -3)):
        t = T0 + step * ROTATION
        for member in members[:3]:
            assert badge_registry.resolve(ephid_at(member, t), t) == member.badge


def test_update_applies_new_and_revoked_badges(members: list[TestBadge]) -> None:
    registry = BadgeRegistry(registry_for(EVENT, members[:2]))
    newcomer = members[2]
    assert registry.resolve(ephid_at(newcomer, T0), T0) is None
    registry.update(registry_for(EVENT, members[:3], revoked=[members[0].badge]))
    assert registry.resolve(ephid_at(newcomer, T0), T0) == newcomer.badge
    assert registry.resolve(ephid_at(members[0], T0), T0) is None
    entry = registry.lookup(members[0].badge)
    assert entry is not None and entry.revoked


def test_update_refuses_another_event_and_keeps_settings(members: list[TestBadge]) -> None:
    registry = BadgeRegistry(registry_for(EVENT, members))
    with pytest.raises(RegistryError):
        registry.update(registry_for("ev-other", badges("ev-other", 2)))
    changed = registry_for(EVENT, members, settings=DetectionSettings(window_seconds=30))
    registry.update(changed)
    assert registry.settings.window_seconds == 20


def test_update_changes_zone(members: list[TestBadge]) -> None:
    registry = BadgeRegistry(registry_for(EVENT, members))
    moved: Registry = registry_for(EVENT, members, zone="Expo")
    registry.update(moved)
    assert registry.zone == "Expo"
