"""Fixtures for gateway unit tests: an event with real badge keys, its registry, a fake clock."""

from __future__ import annotations

import pytest

from gateway.registry import BadgeRegistry
from protocol.api import Registry
from tests.unit.gateway.support import FakeClock, TestBadge, badges, registry_for

EVENT = "ev-unit"


@pytest.fixture
def members() -> list[TestBadge]:
    """Four registered badges: b000..b003."""
    return badges(EVENT, 4)


@pytest.fixture
def registry(members: list[TestBadge]) -> Registry:
    """The event's registry (b003 is revoked)."""
    return registry_for(EVENT, members, revoked=["b003"])


@pytest.fixture
def badge_registry(registry: Registry) -> BadgeRegistry:
    return BadgeRegistry(registry)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
