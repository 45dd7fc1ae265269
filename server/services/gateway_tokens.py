"""The gateway token check of the batch-ingest hot path: one plain SQL query, no ORM.

``server.services.auth.require_gateway`` loads the ``Gateway`` row through the ORM
(statement compilation, identity map, an object of seven columns); a batch needs only the
gateway's event, id and zone. Nothing is cached: every request reads the token's row, so
a rotated token stops working at once in every process. A token that names no gateway
is then judged by ``require_gateway`` (organizer token: 403, unknown: 401), so errors
are the same as on every other gateway route.
"""

from __future__ import annotations

import hmac

from sqlalchemy.orm import Session

from server.models import Gateway
from server.services.auth import hash_token
from server.services.batches import GatewayRef

_TABLE = Gateway.__tablename__


def find_sender(session: Session, token: str) -> GatewayRef | None:
    """Return the gateway whose token this is, or None (the session's transaction reads it)."""
    digest = hash_token(token)
    connection = session.connection()
    mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    cursor = connection.connection.cursor()
    try:
        cursor.execute(
            f"SELECT event_id, id, zone, token_sha256 FROM {_TABLE} WHERE token_sha256 = {mark}",
            (digest,),
        )
        row = cursor.fetchone()
    finally:
        cursor.close()
    if row is None or not hmac.compare_digest(str(row[3]), digest):
        return None
    return GatewayRef(event_id=str(row[0]), id=str(row[1]), zone=str(row[2]))
