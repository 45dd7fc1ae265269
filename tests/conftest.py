"""Shared fixtures: a real Mosquitto broker, unique topic prefixes, paths to the real data sets."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from inperson.broker import Broker, find_mosquitto

ROOT = Path(__file__).resolve().parent.parent
DATASETS = ROOT.parent / "shared" / "datasets"


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """A real Mosquitto on a free port for the whole session."""
    if find_mosquitto() is None:
        pytest.fail("mosquitto is not installed; run `make test`, which installs it")
    with Broker(tmp_path_factory.mktemp("mosquitto")) as running:
        yield running


@pytest.fixture
def event_id() -> str:
    """A unique event id, so tests sharing the broker never see each other's topics."""
    return f"ev-{uuid.uuid4().hex[:12]}"
