"""Fixtures shared by the integration tests of the gateway."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from inperson.broker import Broker
from protocol.topics import gateway_status_topic
from tests.unit.gateway.support import GATEWAY, StatusWatcher


@pytest.fixture
def watcher(broker: Broker, event_id: str) -> Iterator[StatusWatcher]:
    """Watches the retained status of gateway ``GATEWAY`` of the test's event."""
    status = StatusWatcher(broker.host, broker.port, gateway_status_topic(event_id, GATEWAY))
    yield status
    status.close()
