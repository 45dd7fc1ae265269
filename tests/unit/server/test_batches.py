"""Batch ingest retries: a lost race is rolled back and tried again; endless races give 503."""

from __future__ import annotations

from typing import Any, cast

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from protocol.api import IngestResult
from server.errors import Unavailable
from server.models import Gateway
from server.services.batches import ATTEMPTS, store_batch


class _Session:
    """Counts rollbacks: the only thing ``store_batch`` asks of the session."""

    def __init__(self) -> None:
        self.rollbacks = 0

    def rollback(self) -> None:
        self.rollbacks += 1


def _attempts(races: int, result: IngestResult) -> tuple[list[int], Any]:
    calls: list[int] = []

    def attempt() -> IngestResult:
        calls.append(len(calls))
        if len(calls) <= races:
            raise IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed"))
        return result

    return calls, attempt


GATEWAY = Gateway(event_id="e1", id="gw1", name="gw1", zone="hall")


@pytest.mark.parametrize("races", range(ATTEMPTS))
def test_lost_races_are_rolled_back_and_retried(races: int) -> None:
    session = _Session()
    result = IngestResult(accepted=3, duplicates=1)
    calls, attempt = _attempts(races, result)
    assert store_batch(cast(Session, session), GATEWAY, "meetings", attempt) is result
    assert len(calls) == races + 1
    assert session.rollbacks == races


def test_a_batch_that_always_loses_is_unavailable_not_stored() -> None:
    session = _Session()
    calls, attempt = _attempts(ATTEMPTS, IngestResult(accepted=1, duplicates=0))
    with pytest.raises(Unavailable) as caught:
        store_batch(cast(Session, session), GATEWAY, "check-ins", attempt)
    assert caught.value.code == "ingest_busy"
    assert "check-ins" in caught.value.detail
    assert len(calls) == ATTEMPTS
    assert session.rollbacks == ATTEMPTS
