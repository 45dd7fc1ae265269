"""What every gateway batch ingest shares: the sender, retries on a race, one log line per batch."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from typing import NamedTuple, Protocol

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from protocol.api import IngestResult
from server.errors import Unavailable

logger = logging.getLogger(__name__)

ATTEMPTS = 3
"""How often a batch is tried when concurrent requests keep inserting the same ids."""


class Sender(Protocol):
    """What batch ingest needs of the gateway that sent a batch (a ``Gateway`` row is one)."""

    @property
    def event_id(self) -> str:
        """The gateway's event."""
        ...

    @property
    def id(self) -> str:
        """The gateway's id within its event."""
        ...

    @property
    def zone(self) -> str:
        """The zone the gateway stands in (meetings without a zone of their own get it)."""
        ...


class GatewayRef(NamedTuple):
    """A ``Sender`` read without the ORM (``server.services.gateway_tokens``)."""

    event_id: str
    id: str
    zone: str


def store_batch(
    session: Session, gateway: Sender, what: str, attempt: Callable[[], IngestResult]
) -> IngestResult:
    """Run ``attempt`` (one transaction storing a batch of ``what``), retrying lost races.

    Another request may store some of the batch's ids between the attempt's read and its
    insert; the attempt then fails with an integrity error, is rolled back and run again
    (the ids it lost are now duplicates). Logs the result, and the rejections by code.

    Raises:
        Unavailable: every attempt lost a race; nothing was stored.
    """
    for n in range(ATTEMPTS):
        try:
            result = attempt()
        except IntegrityError:
            session.rollback()
            logger.info("%s ingest raced gateway=%s attempt=%d", what, gateway.id, n)
            continue
        logger.info(
            "%s ingested event=%s gateway=%s accepted=%d duplicates=%d rejected=%d",
            what,
            gateway.event_id,
            gateway.id,
            result.accepted,
            result.duplicates,
            len(result.rejected),
        )
        if result.rejected:
            codes = Counter(r.code for r in result.rejected)
            logger.warning(
                "rejected %s event=%s gateway=%s %s first=%s",
                what,
                gateway.event_id,
                gateway.id,
                " ".join(f"{code}={k}" for code, k in sorted(codes.items())),
                result.rejected[0].id,
            )
        return result
    raise Unavailable(f"concurrent ingests of the same {what}; retry", code="ingest_busy")
