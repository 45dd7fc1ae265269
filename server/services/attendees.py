"""Attendees: row-level imports (JSON rows or CSV), lookup and search.

An import is not all-or-nothing: every good row is created, every bad row is
reported with its number, a code and a reason.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.errors import BadRequest, Conflict, NotFound, PayloadTooLarge
from server.models import Attendee, Badge
from server.schemas import MAX_IMPORT_ROWS, AttendeeIn, ImportResult, ImportRowError

logger = logging.getLogger(__name__)

CSV_COLUMNS = (
    "name",
    "company",
    "email",
    "phone",
    "title",
    "external_id",
    "share_level",
    "share_with",
)
"""Columns an import CSV may have; ``name`` is required, unknown columns are ignored."""


def _row_error(row: int, exc: ValidationError) -> ImportRowError:
    first = exc.errors()[0]
    field = str(first["loc"][0]) if first["loc"] else "row"
    if first["type"] == "missing":
        code = f"missing_{field}"
    elif field in AttendeeIn.model_fields:
        code = f"invalid_{field}"
    else:
        code = "invalid_row"
    detail = "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'row'}: {e['msg']}" for e in exc.errors()
    )
    return ImportRowError(row=row, code=code, detail=detail[:500])


def _existing_keys(session: Session, event_id: str) -> tuple[set[str], set[str]]:
    emails: set[str] = set()
    external_ids: set[str] = set()
    query = select(Attendee.email, Attendee.external_id).where(Attendee.event_id == event_id)
    for email, external_id in session.execute(query):
        if email is not None:
            emails.add(email)
        if external_id is not None:
            external_ids.add(external_id)
    return emails, external_ids


def _validate_rows(
    session: Session, event_id: str, rows: Sequence[tuple[int, Any]]
) -> tuple[list[AttendeeIn], list[ImportRowError]]:
    emails, external_ids = _existing_keys(session, event_id)
    good: list[AttendeeIn] = []
    errors: list[ImportRowError] = []
    for number, raw in rows:
        if not isinstance(raw, dict):
            errors.append(
                ImportRowError(row=number, code="invalid_row", detail="a row must be an object")
            )
            continue
        try:
            attendee = AttendeeIn.model_validate(raw)
        except ValidationError as exc:
            errors.append(_row_error(number, exc))
            continue
        if attendee.email is not None and attendee.email in emails:
            errors.append(
                ImportRowError(
                    row=number,
                    code="duplicate_email",
                    detail=f"email {attendee.email} is already registered for this event",
                )
            )
            continue
        if attendee.external_id is not None and attendee.external_id in external_ids:
            errors.append(
                ImportRowError(
                    row=number,
                    code="duplicate_external_id",
                    detail=f"external_id {attendee.external_id} is already used in this event",
                )
            )
            continue
        if attendee.email is not None:
            emails.add(attendee.email)
        if attendee.external_id is not None:
            external_ids.add(attendee.external_id)
        good.append(attendee)
    return good, errors


def import_attendees(
    session: Session, event_id: str, rows: Iterable[tuple[int, Any]], now: datetime
) -> ImportResult:
    """Create the valid rows as attendees of ``event_id``; report the others.

    Args:
        rows: ``(row number, raw row)`` pairs; raw rows should be mappings of field to value.
        now: creation time.

    Returns:
        How many were created and one error per rejected row, in row order.
    """
    rows = list(rows)
    for attempt in range(3):
        good, errors = _validate_rows(session, event_id, rows)
        values = [{**a.model_dump(), "event_id": event_id, "created_at": now} for a in good]
        try:
            if values:
                session.execute(insert(Attendee), values)
            session.commit()
        except IntegrityError:
            # a concurrent import took an email or external id meanwhile: validate again
            session.rollback()
            logger.info("attendee import raced event=%s attempt=%d", event_id, attempt)
            continue
        logger.info(
            "attendees imported event=%s created=%d rejected=%d", event_id, len(values), len(errors)
        )
        return ImportResult(created=len(values), errors=errors)
    raise BadRequest(
        "the import kept clashing with concurrent imports; retry", code="import_conflict"
    )


def parse_csv(body: bytes) -> list[tuple[int, dict[str, str]]]:
    """Parse an attendee CSV into ``(line number, row)`` pairs; the header is line 1.

    Header names are matched case-insensitively; unknown columns are ignored.

    Raises:
        BadRequest: not UTF-8, not CSV, or no ``name`` column.
        PayloadTooLarge: more than ``MAX_IMPORT_ROWS`` data rows.
    """
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadRequest(
            f"the CSV is not UTF-8: {exc.reason} at byte {exc.start}", code="invalid_encoding"
        ) from exc
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise BadRequest("the CSV is empty; it needs a header row", code="missing_column")
        columns = [name.strip().lower() for name in header]
        if "name" not in columns:
            raise BadRequest("the CSV has no 'name' column", code="missing_column")
        wanted = [(i, c) for i, c in enumerate(columns) if c in CSV_COLUMNS]
        rows: list[tuple[int, dict[str, str]]] = []
        while True:
            first_line = reader.line_num + 1  # a quoted cell may span several lines
            cells = next(reader, None)
            if cells is None:
                break
            if not any(cell.strip() for cell in cells):
                continue  # blank line
            if len(rows) >= MAX_IMPORT_ROWS:
                raise PayloadTooLarge(f"more than {MAX_IMPORT_ROWS} rows", code="too_many_rows")
            rows.append((first_line, {c: cells[i] for i, c in wanted if i < len(cells)}))
    except csv.Error as exc:
        raise BadRequest(
            f"not valid CSV (line {reader.line_num}): {exc}", code="malformed_csv"
        ) from exc
    return rows


def get_attendee(session: Session, event_id: str, attendee_id: int) -> Attendee:
    """Return an attendee of the event.

    Raises:
        NotFound: no such attendee in this event (code ``attendee_not_found``).
    """
    attendee = session.get(Attendee, attendee_id)
    if attendee is None or attendee.event_id != event_id:
        raise NotFound(f"no attendee {attendee_id} in event {event_id}", code="attendee_not_found")
    return attendee


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def list_attendees(
    session: Session, event_id: str, *, q: str | None, limit: int, offset: int
) -> list[tuple[Attendee, str | None]]:
    """Return attendees with their active badge id, optionally filtered by a search term.

    Args:
        q: case-insensitive substring of name, company or email.
    """
    query = select(Attendee, Badge.id).outerjoin(
        Badge, (Badge.attendee_id == Attendee.id) & ~Badge.revoked
    )
    query = query.where(Attendee.event_id == event_id)
    if q and q.strip():
        pattern = _like(q.strip())
        query = query.where(
            or_(
                Attendee.name.ilike(pattern, escape="\\"),
                Attendee.company.ilike(pattern, escape="\\"),
                Attendee.email.ilike(pattern, escape="\\"),
            )
        )
    query = query.order_by(Attendee.id).limit(limit).offset(offset)
    return [(attendee, badge) for attendee, badge in session.execute(query)]


def update_attendee(session: Session, attendee: Attendee, changes: dict[str, Any]) -> Attendee:
    """Apply ``changes`` (validated field values) to an attendee.

    Raises:
        Conflict: the attendee was erased (``attendee_erased``), or the new email or
            external id belongs to another attendee of the event (``duplicate_attendee``).
    """
    if attendee.erased_at is not None:
        raise Conflict(f"attendee {attendee.id} was erased", code="attendee_erased")
    for field, value in changes.items():
        setattr(attendee, field, value)
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict(
            "another attendee of this event has this email or external_id",
            code="duplicate_attendee",
        ) from exc
    logger.info("attendee updated event=%s attendee=%s", attendee.event_id, attendee.id)
    return attendee


def active_badge(session: Session, attendee_id: int) -> str | None:
    """Return the id of the attendee's badge that is not revoked, if any."""
    query = select(Badge.id).where(Badge.attendee_id == attendee_id, ~Badge.revoked)
    return session.scalars(query).first()
